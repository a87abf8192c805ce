"""The registers gdb knows AArch64 by (gdb's aarch64-core and aarch64-fpu
features): x0-x30, sp, pc, cpsr (PSTATE), then v0-v31, fpsr, fpcr."""
from ..base import GdbRegister, GdbTarget, gdb_bank
from .signal import NZCV

# gdb's own aarch64v union (features/aarch64-fpu.xml): p $v0 shows every view.
AARCH64V = """
    <vector id="v2d" type="ieee_double" count="2"/>
    <vector id="v2u" type="uint64" count="2"/>
    <vector id="v2i" type="int64" count="2"/>
    <vector id="v4f" type="ieee_single" count="4"/>
    <vector id="v4u" type="uint32" count="4"/>
    <vector id="v4i" type="int32" count="4"/>
    <vector id="v8u" type="uint16" count="8"/>
    <vector id="v8i" type="int16" count="8"/>
    <vector id="v16u" type="uint8" count="16"/>
    <vector id="v16i" type="int8" count="16"/>
    <vector id="v1u" type="uint128" count="1"/>
    <vector id="v1i" type="int128" count="1"/>
    <union id="vnd"><field name="f" type="v2d"/><field name="u" type="v2u"/>
      <field name="s" type="v2i"/></union>
    <union id="vns"><field name="f" type="v4f"/><field name="u" type="v4u"/>
      <field name="s" type="v4i"/></union>
    <union id="vnh"><field name="u" type="v8u"/><field name="s" type="v8i"/></union>
    <union id="vnb"><field name="u" type="v16u"/><field name="s" type="v16i"/></union>
    <union id="vnq"><field name="u" type="v1u"/><field name="s" type="v1i"/></union>
    <union id="aarch64v">
      <field name="d" type="vnd"/><field name="s" type="vns"/><field name="h" type="vnh"/>
      <field name="b" type="vnb"/><field name="q" type="vnq"/>
    </union>"""

TARGET = GdbTarget(
    architecture="aarch64",
    features=(
        ("org.gnu.gdb.aarch64.core", gdb_bank("x", 31, 64) + (
            GdbRegister("sp", 64, "data_ptr"), GdbRegister("pc", 64, "code_ptr"),
            GdbRegister("cpsr", 32, source="pstate", user_bits=NZCV))),
        ("org.gnu.gdb.aarch64.fpu", gdb_bank("v", 32, 128, "aarch64v", group="vector") + (
            GdbRegister("fpsr", 32), GdbRegister("fpcr", 32))),
    ),
    types={"org.gnu.gdb.aarch64.fpu": AARCH64V},
)
