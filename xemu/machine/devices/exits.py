"""Devices a guest writes to in order to end the run with a status."""
from __future__ import annotations

from ..accel.base import Exit

TEST_PASS, TEST_FAIL = 0x5555, 0x3333


class IsaDebugExit:
    """QEMU's isa-debug-exit: writing v exits with status (v << 1) | 1."""
    size = 4

    def read(self, offset: int, size: int) -> int:
        return 0

    def write(self, offset: int, size: int, value: int) -> Exit:
        return Exit(((value << 1) | 1) & 0xFF)


class TestDevice:
    """The test device at 0x100000 on the ppc board: 0x5555 exits 0;
    (code << 16) | 0x3333 exits with code."""
    size = 0x1000

    def read(self, offset: int, size: int) -> int:
        return 0

    def write(self, offset: int, size: int, value: int) -> Exit | None:
        if offset != 0:
            return None
        if value & 0xFFFF == TEST_PASS:
            return Exit(0)
        if value & 0xFFFF == TEST_FAIL:
            return Exit((value >> 16) & 0xFF)
        return None
