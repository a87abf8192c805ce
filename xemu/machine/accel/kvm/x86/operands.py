"""The data addresses an x86 instruction touches, from its bytes and the
registers: where KVM says only that a guest access failed (KVM_RUN's
EFAULT, which names no address), xemu reads the faulting instruction's
memory operands itself."""
from __future__ import annotations

from typing import Callable

SEGMENT_BASES = {"fs": "fs_base", "gs": "gs_base"}


def memory_operands(code: bytes, pc: int, bits: int,
                    read: Callable[[str], int]) -> list[int]:
    """Each memory operand's effective address in the first instruction of
    code (at pc), read(name) giving a register; operands naming a register
    read cannot give are left out."""
    import capstone
    from capstone import x86_const
    engine = capstone.Cs(capstone.CS_ARCH_X86,
                         capstone.CS_MODE_64 if bits == 64 else capstone.CS_MODE_32)
    engine.detail = True
    instruction = next(engine.disasm(code, pc, 1), None)
    if instruction is None:
        return []
    mask = (1 << bits) - 1
    addresses = []
    for operand in instruction.operands:
        if operand.type != x86_const.X86_OP_MEM:
            continue
        memory = operand.mem
        try:
            address = memory.disp
            if memory.base == x86_const.X86_REG_RIP:
                address += pc + instruction.size
            elif memory.base:
                address += read(instruction.reg_name(memory.base))
            if memory.index:
                address += read(instruction.reg_name(memory.index)) * memory.scale
            segment = instruction.reg_name(memory.segment) if memory.segment else None
            if segment in SEGMENT_BASES:
                address += read(SEGMENT_BASES[segment])
        except (KeyError, ValueError, AttributeError):
            continue
        addresses.append(address & mask)
    return addresses
