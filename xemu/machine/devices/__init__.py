"""Devices of the bare-metal boards. One interface serves port I/O and MMIO,
so a device never knows its bus: offsets are from the device's base."""
from __future__ import annotations

from typing import Protocol

from ..accel.base import Stop


class Device(Protocol):
    size: int                       # bytes (or ports) the device decodes

    def read(self, offset: int, size: int) -> int: ...

    def write(self, offset: int, size: int, value: int) -> Stop | None: ...
