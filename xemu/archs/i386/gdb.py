"""The registers gdb knows i386 by (gdb's i386 32bit-core and 32bit-sse
features). The x87 and SSE parts are shared with x86-64."""
from ..base import GdbRegister, GdbTarget, gdb_bank

SEGMENTS = tuple(GdbRegister(name, 32) for name in ("cs", "ss", "ds", "es", "fs", "gs"))
# The x87 unit as gdb lays it out; Unicorn's names where they differ. gdb's
# instruction and operand pointers (fiseg...fop) are not kept by Unicorn:
# they read as unavailable.
X87 = gdb_bank("st", 8, 80, "i387_ext", "fp") + tuple(
    GdbRegister(name, 32, source=source, group="float") for name, source in (
        ("fctrl", "fpcw"), ("fstat", "fpsw"), ("ftag", "fptag"), ("fiseg", None),
        ("fioff", None), ("foseg", None), ("fooff", None), ("fop", None)))


def sse(count: int) -> tuple[GdbRegister, ...]:
    return gdb_bank("xmm", count, 128, "uint128", group="vector") + (
        GdbRegister("mxcsr", 32, group="vector"),)


TARGET = GdbTarget(
    architecture="i386",
    features=(
        ("org.gnu.gdb.i386.core", tuple(
            GdbRegister(name, 32, type) for name, type in (
                ("eax", "int"), ("ecx", "int"), ("edx", "int"), ("ebx", "int"),
                ("esp", "data_ptr"), ("ebp", "data_ptr"), ("esi", "int"), ("edi", "int"),
                ("eip", "code_ptr"), ("eflags", "int"))) + SEGMENTS + X87),
        ("org.gnu.gdb.i386.sse", sse(8)),
    ),
    watch_stops_before_access=False,
)
