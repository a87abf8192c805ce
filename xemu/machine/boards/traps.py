"""How a board serves the instructions that call it rather than fault:
Arm semihosting and PSCI, and x86 real mode for the pc board."""
from __future__ import annotations

import dataclasses

from unicorn import UC_ARCH_X86, UC_MODE_16

from ...errors import GuestMemoryError
from ..accel.base import Exit
from ..devices.semihosting import psci, semihosting
from ..memory import Memory
from . import Board


def board_spec(spec, board: Board):
    """The arch as the board starts it: x86 pc boots in 16-bit real mode."""
    if board.real_mode:
        return dataclasses.replace(
            spec, tcg=dataclasses.replace(spec.tcg, engine=(UC_ARCH_X86, UC_MODE_16, None)),
            capstone=("X86", ("16",)), pc="eip", sp="esp")
    return spec


class Traps:
    """Serves the board's trapping instructions (semihosting, PSCI)."""

    def __init__(self, board: Board, spec, accel, memory: Memory):
        self.board, self.spec, self.accel, self.memory = board, spec, accel, memory

    def __call__(self, interrupt: int | None, pc: int):
        for trap in self.board.traps:
            if trap.interrupt != interrupt:
                continue
            at = pc - len(trap.encoding) if trap.pc_after else pc
            try:
                if self.memory.read(at, len(trap.encoding)) != trap.encoding:
                    continue
            except GuestMemoryError:
                continue
            regs = self.accel.regs
            operation_register, argument_register = self.board.call_registers
            operation = regs.read(operation_register)
            if trap.service == "semihosting":
                result = semihosting(operation, regs.read(argument_register), self.memory,
                                     self.spec.word_size, self.spec.endian)
            else:
                result = psci(operation)
            if isinstance(result, Exit):
                return result
            regs.write(operation_register, result & ((1 << self.spec.bits) - 1))
            if not trap.pc_after:
                regs.write(self.spec.pc, pc + len(trap.encoding))
            return True
        return None
