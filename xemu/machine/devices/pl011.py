"""Arm's PL011 UART, as QEMU's virt board has it at 0x09000000: bytes
written to DR go to xemu's stdout; FR says the transmit FIFO is empty and
the receive FIFO too, so polling loops go on."""
from __future__ import annotations

import os

DR, FR = 0x000, 0x018
FR_RXFE, FR_TXFE = 1 << 4, 1 << 7
PERIPHERAL_ID = {0xFE0: 0x11, 0xFE4: 0x10, 0xFE8: 0x14, 0xFEC: 0x00,     # PL011 r1p4
                 0xFF0: 0x0D, 0xFF4: 0xF0, 0xFF8: 0x05, 0xFFC: 0xB1}


class Pl011:
    size = 0x1000

    def __init__(self, out_fd: int = 1):
        self.out_fd = out_fd
        self.registers: dict[int, int] = {}

    def read(self, offset: int, size: int) -> int:
        if offset == FR:
            return FR_RXFE | FR_TXFE
        if offset in PERIPHERAL_ID:
            return PERIPHERAL_ID[offset]
        return self.registers.get(offset, 0) if offset != DR else 0

    def write(self, offset: int, size: int, value: int) -> None:
        if offset == DR:
            os.write(self.out_fd, bytes([value & 0xFF]))
        else:
            self.registers[offset] = value
        return None
