"""The registers gdb knows 32-bit ARM by (gdb's arm-core and arm-vfpv3
features): r0-r12, sp, lr, pc, cpsr at 25 (after the old FPA's numbers),
then the VFP's d0-d31 and fpscr."""
from ..base import GdbRegister, GdbTarget, gdb_bank
from .signal import PSR_USER

TARGET = GdbTarget(
    architecture="arm",
    features=(
        ("org.gnu.gdb.arm.core", gdb_bank("r", 13, 32) + (
            GdbRegister("sp", 32, "data_ptr"), GdbRegister("lr", 32),
            GdbRegister("pc", 32, "code_ptr"),
            GdbRegister("cpsr", 32, regnum=25, user_bits=PSR_USER))),
        ("org.gnu.gdb.arm.vfp",
         gdb_bank("d", 32, 64, "ieee_double") + (GdbRegister("fpscr", 32, group="float"),)),
    ),
)
