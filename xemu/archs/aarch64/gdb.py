"""The registers gdb knows AArch64 by (gdb's aarch64-core and aarch64-fpu
features): x0-x30, sp, pc, cpsr (PSTATE), then v0-v31, fpsr, fpcr."""
from ..base import GdbRegister, GdbTarget, gdb_bank

TARGET = GdbTarget(
    architecture="aarch64",
    features=(
        ("org.gnu.gdb.aarch64.core", gdb_bank("x", 31, 64) + (
            GdbRegister("sp", 64, "data_ptr"), GdbRegister("pc", 64, "code_ptr"),
            GdbRegister("cpsr", 32, source="pstate"))),
        ("org.gnu.gdb.aarch64.fpu", gdb_bank("v", 32, 128, "uint128", group="vector") + (
            GdbRegister("fpsr", 32), GdbRegister("fpcr", 32))),
    ),
)
