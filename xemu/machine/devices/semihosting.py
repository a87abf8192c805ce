"""Arm semihosting and PSCI: how a bare-metal Arm program prints and stops
without any device. The operation is in r0/x0 and its argument in r1/x1
(Arm's "Semihosting for AArch32 and AArch64"; PSCI's SYSTEM_OFF)."""
from __future__ import annotations

import os
import struct

from ..accel.base import Exit

SYS_WRITEC, SYS_WRITE0, SYS_WRITE, SYS_EXIT, SYS_EXIT_EXTENDED = 0x03, 0x04, 0x05, 0x18, 0x20
ADP_STOPPED_APPLICATION_EXIT = 0x20026
PSCI_VERSION, PSCI_SYSTEM_OFF, PSCI_SYSTEM_RESET = 0x84000000, 0x84000008, 0x84000009
PSCI_NOT_SUPPORTED = -1
HANDLES = {1: 1, 2: 2}           # semihosting handle -> xemu's stdout, stderr


def semihosting(operation: int, argument: int, memory, word: int, endian: str) -> int | Exit:
    letter = "Q" if word == 8 else "I"
    if operation == SYS_WRITEC:
        os.write(1, memory.read(argument, 1))
        return 0
    if operation == SYS_WRITE0:
        os.write(1, memory.read_cstring(argument, 1 << 20))
        return 0
    if operation == SYS_WRITE:
        handle, address, length = struct.unpack(endian + letter * 3,
                                                memory.read(argument, 3 * word))
        if handle not in HANDLES:
            return -1
        os.write(HANDLES[handle], memory.read(address, length))
        return 0                 # bytes not written
    if operation == SYS_EXIT and word == 4:
        return Exit(0 if argument == ADP_STOPPED_APPLICATION_EXIT else 1)
    if operation in (SYS_EXIT, SYS_EXIT_EXTENDED):
        reason, status = struct.unpack(endian + letter * 2, memory.read(argument, 2 * word))
        return Exit(status & 0xFF if reason == ADP_STOPPED_APPLICATION_EXIT else 1)
    return -1


def psci(function: int) -> int | Exit:
    if function in (PSCI_SYSTEM_OFF, PSCI_SYSTEM_RESET):
        return Exit(0)
    if function == PSCI_VERSION:
        return 0x10000           # 1.0
    return PSCI_NOT_SUPPORTED
