"""The registers gdb knows a 32-bit PowerPC by (gdb's power-core and
power-fpu features): r0-r31, then pc at 64 after the FPRs' numbers."""
from ..base import GdbRegister, GdbTarget, gdb_bank

TARGET = GdbTarget(
    architecture="powerpc:common",
    features=(
        ("org.gnu.gdb.power.core", gdb_bank("r", 32, 32) + (
            GdbRegister("pc", 32, "code_ptr", regnum=64), GdbRegister("msr", 32, user_bits=0),
            GdbRegister("cr", 32), GdbRegister("lr", 32, "code_ptr"),
            GdbRegister("ctr", 32), GdbRegister("xer", 32))),
        ("org.gnu.gdb.power.fpu",
         (GdbRegister("f0", 64, "ieee_double", "fpr0", regnum=32),)
         + gdb_bank("f", 32, 64, "ieee_double", "fpr")[1:]
         + (GdbRegister("fpscr", 32, group="float", regnum=70),)),
    ),
)
