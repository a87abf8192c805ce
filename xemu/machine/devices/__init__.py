"""Devices of the bare-metal boards. One interface serves port I/O and MMIO,
so a device never knows its bus: offsets are from the device's base."""
from __future__ import annotations

from typing import Protocol

from ..accel.base import Stop


class Device(Protocol):
    size: int                       # bytes (or ports) the device decodes

    def read(self, offset: int, size: int) -> int: ...

    def write(self, offset: int, size: int, value: int) -> Stop | None: ...


class PortBus:
    """x86 I/O ports: devices by base port, for either accelerator."""

    def __init__(self):
        self._devices: list[tuple[int, Device]] = []

    def __bool__(self) -> bool:
        return bool(self._devices)

    def add(self, base: int, device: Device) -> None:
        self._devices.append((base, device))

    def read(self, port: int, size: int) -> int:
        """A port with no device reads all ones, as a floating bus does."""
        for base, device in self._devices:
            if base <= port < base + device.size:
                return device.read(port - base, size)
        return (1 << (8 * size)) - 1

    def write(self, port: int, size: int, value: int) -> Stop | None:
        for base, device in self._devices:
            if base <= port < base + device.size:
                return device.write(port - base, size, value)
        return None
