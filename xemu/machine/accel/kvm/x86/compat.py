"""i386 under KVM, the way an x86-64 Linux kernel runs i386 programs: the
CPU is in long mode and the program's code segment is a 32-bit
compatibility-mode one, at CPL 3. (Classic 32-bit paging was the first
plan; KVM on the PVM host here silently drops CR0.PG for it.)

The kernel area sits in the top half of the 64-bit address space, which
32-bit code cannot even name. The GDT is the guest-memory page (i386's
GDT_BASE, reserved in its spec) that
set_thread_area writes (GDT_BASE, shared with the translator), so TLS
segments work the same under both accelerators; this mode adds the kernel
and user segments and the TSS at entries 12-17, clear of the TLS slots 6-8.
(That descriptor is vCPU 0's TSS, as for x86-64: each vCPU's task register
names its own TSS and exception stack, where `int 0x80` pushes its frame.)
`int 0x80` is a DPL-3 gate into a stub doing `out SYSCALL_PORT` (one VM
exit, served by xemu) and `iretq`; where the host raises #UD for it instead
(the PVM host here does), the #UD path of LongMode serves it.
"""
from __future__ import annotations

import struct

from .....archs.i386 import GDT_BASE, GDT_ENTRIES
from .longmode import (KERNEL_CODE64, KERNEL_DATA, USER_CODE32, USER_DATA, LongMode,
                       flat_segment, interrupt_gate)

SYSCALL_VECTOR = 0x80
ENTRY_KERNEL_CS, ENTRY_KERNEL_DS, ENTRY_USER_CS, ENTRY_USER_DS, ENTRY_TSS = 12, 13, 14, 15, 16


class CompatMode(LongMode):
    KERNEL_CS, KERNEL_DS = ENTRY_KERNEL_CS << 3, ENTRY_KERNEL_DS << 3
    USER_CS, USER_DS = ENTRY_USER_CS << 3 | 3, ENTRY_USER_DS << 3 | 3
    USER_CS32 = USER_CS
    TSS_SELECTOR = ENTRY_TSS << 3
    PHYSICAL_LIMIT = 1 << 32
    SYSCALL_INSTRUCTION = b"\xcd\x80"         # int 0x80

    def syscall_stub(self) -> bytes:
        return bytes([0xE6, self.SYSCALL_PORT,        # out SYSCALL_PORT, al
                      0x48, 0xCF])                    # iretq

    def gate(self, vector: int) -> bytes:
        if vector == SYSCALL_VECTOR:                  # user code may `int 0x80`
            return interrupt_gate(self.virtual(self.SYSCALL_STUB_OFFSET),
                                  self.KERNEL_CS, dpl=3)
        return super().gate(vector)

    def gdt_in_kernel(self) -> dict[int, bytes]:
        return {}

    def guest_tables(self) -> dict[int, bytes]:
        words = {ENTRY_KERNEL_CS: KERNEL_CODE64, ENTRY_KERNEL_DS: KERNEL_DATA,
                 ENTRY_USER_CS: USER_CODE32, ENTRY_USER_DS: USER_DATA}
        tables = {GDT_BASE + 8 * entry: struct.pack("<Q", word) for entry, word in words.items()}
        tables[GDT_BASE + 8 * ENTRY_TSS] = self.tss_descriptor()
        return tables

    def gdt_address(self) -> tuple[int, int]:
        return GDT_BASE, GDT_ENTRIES * 8 - 1

    def user_pages(self) -> list[int]:
        return []

    def user_code_segment(self):
        return flat_segment(self.USER_CS, code=True)

    def syscall_msrs(self) -> list[tuple[int, int]]:
        return []

    def return_to_user(self, regs) -> None:
        raise AssertionError("int 0x80 always enters the kernel through the IDT")

    def skip_syscall_instruction(self, page: memoryview, regs) -> None:
        self._advance_frame(page)


