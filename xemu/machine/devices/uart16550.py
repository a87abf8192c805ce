"""The 16550 UART, as much of it as polling software uses: bytes written to
THR go to xemu's stdout, and LSR always says the transmitter is empty, so a
loop waiting for it goes on. Reads of other registers return their last
write (the scratch, line control... registers keep what was written)."""
from __future__ import annotations

import os

THR, IER, IIR, LCR, MCR, LSR, MSR, SCR = range(8)
LSR_THR_EMPTY, LSR_TRANSMITTER_EMPTY = 0x20, 0x40
DLAB = 0x80                      # LCR bit: offsets 0 and 1 are the divisor


class Uart16550:
    size = 8

    def __init__(self, out_fd: int = 1):
        self.out_fd = out_fd
        self.registers = bytearray(8)
        self.divisor = bytearray(2)

    def read(self, offset: int, size: int) -> int:
        if offset == LSR:
            return LSR_THR_EMPTY | LSR_TRANSMITTER_EMPTY
        if offset == IIR:
            return 0x01                              # no interrupt pending
        if offset < 2 and self.registers[LCR] & DLAB:
            return self.divisor[offset]
        return self.registers[offset] if offset != THR else 0

    def write(self, offset: int, size: int, value: int) -> None:
        value &= 0xFF
        if offset < 2 and self.registers[LCR] & DLAB:
            self.divisor[offset] = value
        elif offset == THR:
            os.write(self.out_fd, bytes([value]))
        elif offset < 8:
            self.registers[offset] = value
        return None
