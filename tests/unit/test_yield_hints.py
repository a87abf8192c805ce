"""ARM's yield and wfe are hints a spinning thread gives: QEMU's system mode
ends the block on them to let other CPUs run, and Unicorn reports that as an
invalid instruction. xemu goes on after them (another thread first), in ARM,
Thumb and Thumb-2 code; a real undefined instruction is still SIGILL, even
right after a hint (where the pc alone cannot tell them apart). (Go's
runtime spins on yield in its locks: every Go program on arm died of it.)"""
import signal

import pytest

from xemu.archs import by_name
from xemu.machine.accel.base import Fault, Woken
from xemu.machine.accel.tcg import TcgAccelerator
from xemu.machine.memory import PROT_EXEC, PROT_READ, Memory

CODE = 0x10000
ARM_YIELD, ARM_WFE, ARM_UDF = "01f020e3", "02f020e3", "f000f0e7"
THUMB_YIELD, THUMB_WFE, THUMB2_YIELD, THUMB_UDF = "10bf", "20bf", "aff30180", "00de"


def cpu(code: bytes) -> TcgAccelerator:
    memory = Memory()
    memory.map(CODE, 0x1000, PROT_READ | PROT_EXEC)
    memory.write(CODE, code)
    return TcgAccelerator(by_name("arm"), memory)


@pytest.mark.parametrize("hints,udf,thumb", [
    ((ARM_YIELD, ARM_WFE), ARM_UDF, False),
    ((THUMB_YIELD, THUMB_WFE, THUMB2_YIELD), THUMB_UDF, True),
])
def test_hints_let_others_run_and_the_guest_goes_on(hints, udf, thumb):
    accel = cpu(bytes.fromhex("".join(hints) + udf))
    accel.regs.write("pc", CODE | thumb)
    if thumb:
        accel.regs.write("cpsr", accel.regs.read("cpsr") | 0x20)
    stops = [accel.run()]
    while stops[-1] == Woken() and len(stops) <= len(hints):
        stops.append(accel.run())
    assert stops[0] == Woken()
    stop = stops[-1]
    assert isinstance(stop, Fault) and stop.signal == signal.SIGILL
    assert stop.pc == CODE + sum(len(bytes.fromhex(h)) for h in hints)
