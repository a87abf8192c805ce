"""Disassembly with capstone, in the guest's own syntax: the instruction a
fault report names, and --trace's executed blocks or instructions.

capstone is imported only here, when something is disassembled: it costs a
fifth of xemu's start-up, and most runs never need it.
"""
from __future__ import annotations

import sys
from typing import TextIO

from ..archs.base import ArchSpec, Registers
from ..errors import GuestMemoryError, XemuError


class Disassembler:
    """capstone for one arch, both instruction sets where it has two (ARM
    and Thumb), with each decoded piece of code remembered."""

    def __init__(self, spec: ArchSpec):
        import capstone
        self.spec = spec
        arch, modes = spec.capstone
        alternate = spec.isa_switch.capstone_modes if spec.isa_switch else modes
        self._engines = [self._engine(capstone, arch, m) for m in (modes, alternate)]
        self._decoded: dict[tuple[int, bool, bytes], list[tuple[int, int, str]]] = {}

    @staticmethod
    def _engine(capstone, arch: str, modes: tuple[str, ...]):
        mode = 0
        for name in modes:
            mode |= getattr(capstone, f"CS_MODE_{name}")
        return capstone.Cs(getattr(capstone, f"CS_ARCH_{arch}"), mode)

    def alternate(self, regs: Registers | None) -> bool:
        """Is the CPU in its other instruction set (ARM's Thumb) now?"""
        if self.spec.isa_switch is None or regs is None:
            return False
        register, bit = self.spec.isa_switch.register, self.spec.isa_switch.bit
        return bool(regs.read(register) & bit)

    def decode(self, code: bytes, address: int, alternate: bool = False,
               count: int = 0) -> list[tuple[int, int, str]]:
        """(address, size, 'mnemonic operands') for each instruction."""
        key = (address, alternate, code)
        found = self._decoded.get(key)
        if found is None:
            found = [(insn.address, insn.size, f"{insn.mnemonic} {insn.op_str}".strip())
                     for insn in self._engines[alternate].disasm(code, address, count)]
            self._decoded[key] = found
        return found


def disassemble_one(spec: ArchSpec, code: bytes, address: int,
                    regs: Registers | None = None) -> str | None:
    """The first instruction in code as 'mnemonic operands', or None."""
    disassembler = Disassembler(spec)
    decoded = disassembler.decode(code, address, disassembler.alternate(regs), count=1)
    return decoded[0][2] if decoded else None


class Trace:
    """--trace: a line per executed translation block ("block": its address,
    instruction count and instructions) or per instruction ("insn"). Only
    TCG translates blocks; the observer is the accelerator's code hook."""

    MODES = ("block", "insn")

    def __init__(self, spec: ArchSpec | None, memory, regs: Registers | None,
                 destination: str, mode: str = "block"):
        """spec, memory, regs: the CPU traced (None: follow() names it later)."""
        if mode not in self.MODES:
            raise XemuError(f"--trace-mode {mode}: use block or insn")
        self.mode = mode
        self.out: TextIO = sys.stderr if destination == "-" else self._open(destination)
        if spec is not None:
            self.follow(spec, memory, regs)

    def follow(self, spec: ArchSpec, memory, regs: Registers) -> None:
        """Trace this CPU from now on (a new program after exec)."""
        self.memory, self.regs = memory, regs
        self.disassembler = Disassembler(spec)
        self.width = spec.bits // 4

    @staticmethod
    def _open(path: str) -> TextIO:
        try:
            return open(path, "w", buffering=1 << 20)
        except OSError as e:
            raise XemuError(f"--trace {path}: {e.strerror}") from None

    def __call__(self, address: int, size: int) -> None:
        """The accelerator's observer: one executed block or instruction."""
        try:
            code = self.memory.read(address, size)
        except GuestMemoryError:
            self.out.write(f"{address:#0{self.width + 2}x}: (not readable)\n")
            return
        decoded = self.disassembler.decode(code, address, self.disassembler.alternate(self.regs))
        if self.mode == "insn":
            text = decoded[0][2] if decoded else f"(.byte {code.hex()})"
            self.out.write(f"{address:#0{self.width + 2}x}: {text}\n")
        else:
            self.out.write(f"{address:#0{self.width + 2}x} [{len(decoded)}] "
                           + "; ".join(text for _, _, text in decoded) + "\n")

    def close(self) -> None:
        self.out.flush()
        if self.out is not sys.stderr:
            self.out.close()
