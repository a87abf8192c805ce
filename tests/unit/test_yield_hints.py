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


def test_a_step_that_came_round_a_spin_loop_to_its_yield_went_on(monkeypatch):
    """Unicorn's one-instruction step can run a whole turn of a spin loop
    (Go's procyield: yield; cmp; bne; sub; b) and stop after the yield at
    the same pc: the loop's counter changed, so the guest went on. Seen as
    a real undefined instruction, Go died of SIGILL in about 1 run in 60
    on a loaded machine."""
    accel = cpu(bytes.fromhex(ARM_YIELD + ARM_UDF))
    accel.regs.write("pc", CODE + 4)
    accel.regs.write("r1", 30)
    turns = []

    def step_runs_a_turn(start, deadline, count=0):
        assert count == 1
        turns.append(start)
        accel.regs.write("r1", accel.regs.read("r1") - 1)
        return Fault(signal.SIGILL, CODE + 4, None, "", "illegal instruction")
    monkeypatch.setattr(accel, "_emulate", step_runs_a_turn)
    assert accel._went_on_after_hint(CODE, 0) is None
    assert len(turns) == 1


def test_an_undefined_instruction_after_a_hint_changes_nothing_and_is_sigill():
    accel = cpu(bytes.fromhex(ARM_YIELD + ARM_UDF))
    accel.regs.write("pc", CODE + 4)
    assert accel._went_on_after_hint(CODE, 0) is False
