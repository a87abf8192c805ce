"""The registers gdb knows i386 by (gdb's i386 32bit-core and 32bit-sse
features). The x87 and SSE parts are shared with x86-64."""
from ..base import GdbRegister, GdbTarget, gdb_bank
from .signal import FIX_EFLAGS

# eflags as ptrace lets a debugger set it: not IOPL, IF or VM
EFLAGS = GdbRegister("eflags", 32, user_bits=FIX_EFLAGS)
# cs and ss carry the privilege level: a debugger may not change them
SEGMENTS = tuple(GdbRegister(name, 32, user_bits=0 if name in ("cs", "ss") else None)
                 for name in ("cs", "ss", "ds", "es", "fs", "gs"))
# The x87 unit as gdb lays it out; Unicorn's names where they differ. gdb's
# instruction and operand pointers (fiseg...fop) are not kept by Unicorn:
# they read as unavailable.
X87 = gdb_bank("st", 8, 80, "i387_ext", "fp") + tuple(
    GdbRegister(name, 32, source=source, group="float") for name, source in (
        ("fctrl", "fpcw"), ("fstat", "fpsw"), ("ftag", "fptag"), ("fiseg", None),
        ("fioff", None), ("foseg", None), ("fooff", None), ("fop", None)))


# gdb's own vec128 (features/i386/64bit-sse.xml): p $xmm0 shows every view.
VEC128 = """
    <vector id="v4f" type="ieee_single" count="4"/>
    <vector id="v2d" type="ieee_double" count="2"/>
    <vector id="v16i8" type="int8" count="16"/>
    <vector id="v8i16" type="int16" count="8"/>
    <vector id="v4i32" type="int32" count="4"/>
    <vector id="v2i64" type="int64" count="2"/>
    <union id="vec128">
      <field name="v4_float" type="v4f"/>
      <field name="v2_double" type="v2d"/>
      <field name="v16_int8" type="v16i8"/>
      <field name="v8_int16" type="v8i16"/>
      <field name="v4_int32" type="v4i32"/>
      <field name="v2_int64" type="v2i64"/>
      <field name="uint128" type="uint128"/>
    </union>"""


def sse(count: int) -> tuple[GdbRegister, ...]:
    return gdb_bank("xmm", count, 128, "vec128", group="vector") + (
        GdbRegister("mxcsr", 32, group="vector"),)


TARGET = GdbTarget(
    architecture="i386",
    features=(
        ("org.gnu.gdb.i386.core", tuple(
            GdbRegister(name, 32, type) for name, type in (
                ("eax", "int"), ("ecx", "int"), ("edx", "int"), ("ebx", "int"),
                ("esp", "data_ptr"), ("ebp", "data_ptr"), ("esi", "int"), ("edi", "int"),
                ("eip", "code_ptr"))) + (EFLAGS,) + SEGMENTS + X87),
        ("org.gnu.gdb.i386.sse", sse(8)),
    ),
    watch_stops_before_access=False,
    types={"org.gnu.gdb.i386.sse": VEC128},
)
