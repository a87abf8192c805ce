"""Bare-metal boards: RAM, devices and the instructions that trap to the
board, as data. Memory maps follow QEMU's where QEMU has one, so an image
written for qemu-system runs unchanged (the table is in DESIGN.md)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ...errors import XemuError
from ..devices.exits import IsaDebugExit, TestDevice
from ..devices.pl011 import Pl011
from ..devices.uart16550 import Uart16550

MIB = 1 << 20


@dataclass(frozen=True)
class Attached:
    bus: str                      # "io" (x86 ports) or "mmio"
    base: int
    make: Callable[[], object]    # a Device


@dataclass(frozen=True)
class BoardTrap:
    """An instruction that calls the board rather than faulting.

    interrupt: Unicorn's interrupt number for it, or None when Unicorn ends
    the run with "invalid instruction" instead. pc_after: whether Unicorn
    reports the pc past the instruction. service: "semihosting" or "psci".
    """
    encoding: bytes
    interrupt: int | None
    pc_after: bool
    service: str


@dataclass(frozen=True)
class Board:
    name: str
    ram_base: int
    default_memory: int
    default_load: int
    devices: tuple[Attached, ...]
    traps: tuple[BoardTrap, ...] = ()
    call_registers: tuple[str, str] = ("", "")  # (operation, argument) for traps
    real_mode: bool = False       # x86: start in 16-bit real mode
    hlt_stops: bool = False       # x86: `hlt` ends the run with status 0


def a64(word: int) -> bytes:
    return word.to_bytes(4, "little")


ARM_VIRT_DEVICES = (Attached("mmio", 0x09000000, Pl011),)

BOARDS: dict[tuple[str, str], Board] = {
    ("x86_64", "pc"): Board(
        "pc", ram_base=0, default_memory=32 * MIB, default_load=0x7C00,
        devices=(Attached("io", 0x3F8, Uart16550), Attached("io", 0x501, IsaDebugExit)),
        real_mode=True, hlt_stops=True),
    ("aarch64", "virt"): Board(
        "virt", ram_base=0x40000000, default_memory=128 * MIB, default_load=0x40000000,
        devices=ARM_VIRT_DEVICES, call_registers=("x0", "x1"),
        traps=(BoardTrap(a64(0xD45E0000), 1, False, "semihosting"),     # hlt #0xf000
               BoardTrap(a64(0xD4000002), 1, False, "psci"),            # hvc #0
               BoardTrap(a64(0xD4000003), 13, True, "psci"))),          # smc #0
    ("arm", "virt"): Board(
        "virt", ram_base=0x40000000, default_memory=128 * MIB, default_load=0x40000000,
        devices=ARM_VIRT_DEVICES, call_registers=("r0", "r1"),
        traps=(BoardTrap(a64(0xEF123456), 2, True, "semihosting"),      # svc 0x123456
               BoardTrap(b"\xab\xdf", 2, True, "semihosting"),          # T32 svc 0xab
               BoardTrap(a64(0xE10F0070), None, False, "semihosting"),  # hlt 0xf000
               BoardTrap(a64(0xE1400070), None, False, "psci"),         # hvc #0
               BoardTrap(a64(0xE1600070), 13, True, "psci"))),          # smc #0
    ("ppc", "virt"): Board(
        "virt", ram_base=0, default_memory=128 * MIB, default_load=0,
        devices=(Attached("mmio", 0x10000000, Uart16550), Attached("mmio", 0x100000, TestDevice))),
}
BOARDS[("i386", "pc")] = BOARDS[("x86_64", "pc")]


def board_for(arch: str, machine: str) -> Board:
    board = BOARDS.get((arch, machine))
    if board is None:
        known = ", ".join(sorted(m for a, m in BOARDS if a == arch)) or "none"
        raise XemuError(f"no '{machine}' board for {arch} guests (boards for {arch}: {known})")
    return board


def default_machine(arch: str) -> str:
    """The board a raw image of this arch runs on when --machine is not given."""
    for board_arch, machine in BOARDS:
        if board_arch == arch:
            return machine
    raise XemuError(f"xemu has no bare-metal board for {arch} guests "
                    f"(boards exist for {', '.join(sorted({a for a, _ in BOARDS}))})")
