"""Disassembly with capstone, in the guest's own syntax."""
from __future__ import annotations

from ..archs.base import ArchSpec, Registers


def disassemble_one(spec: ArchSpec, code: bytes, address: int,
                    regs: Registers | None = None) -> str | None:
    """The first instruction in code as 'mnemonic operands', or None.
    (capstone is imported here: only a fault report needs it, and it costs
    a fifth of xemu's start-up.)"""
    import capstone
    arch, modes = spec.capstone
    if spec.alternate_isa and regs is not None:
        register, bit, alternate_modes = spec.alternate_isa
        if regs.read(register) & bit:
            modes = alternate_modes
    mode = 0
    for name in modes:
        mode |= getattr(capstone, f"CS_MODE_{name}")
    try:
        for insn in capstone.Cs(getattr(capstone, f"CS_ARCH_{arch}"), mode).disasm(
                code, address, 1):
            return f"{insn.mnemonic} {insn.op_str}".strip()
    except capstone.CsError:
        pass
    return None
