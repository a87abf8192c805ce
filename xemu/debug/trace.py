"""Disassembly with capstone, in the guest's own syntax."""
from __future__ import annotations

from capstone import Cs, CsError

from ..archs.base import ArchSpec, Registers


def disassemble_one(spec: ArchSpec, code: bytes, address: int,
                    regs: Registers | None = None) -> str | None:
    """The first instruction in code as 'mnemonic operands', or None."""
    arch, mode = spec.capstone
    if spec.alternate_isa and regs is not None:
        register, bit, alternate_mode = spec.alternate_isa
        if regs.read(register) & bit:
            mode = alternate_mode
    try:
        for insn in Cs(arch, mode).disasm(code, address, 1):
            return f"{insn.mnemonic} {insn.op_str}".strip()
    except CsError:
        pass
    return None
