"""x86-64 under KVM: the 64-bit long-mode machine xemu builds around a Linux
program, in the style of a tiny kernel.

The program runs at CPL 3 with 4-level paging. A "kernel" area of
guest-physical memory (from address 0) holds the GDT, IDT, the stubs, the
page tables and one page per vCPU, mapped at KERNEL_VIRTUAL in the top half
of the address space.

What the CPU writes is per vCPU, as a kernel keeps it per CPU: vCPU i's page
(`cpu_page_offset(i)`) holds its TSS at the bottom and its exception stack
above it. The TSS's RSP0 is the page's end, where the CPU pushes the frame
of an exception (and of i386's `int 0x80`) that xemu reads back
(`fault_frame`), so vCPUs of one VM trapping at once never share a stack or
a frame. Each vCPU's task register is set to its own TSS directly
(KVM_SET_SREGS); the GDT's one TSS descriptor (vCPU 0's) is what an `ltr`
would read, and no instruction the guest can run reads it again. The rest
(GDT, IDT, stubs, page tables) is read-only to the CPU and shared. The
syscall path keeps nothing in memory: `syscall` switches no stack, its stub
is `out` then `sysretq`, and where the host leaves it at CPL 3 xemu does
sysret's work on the vCPU's own registers (`return_to_user`).

- `syscall` enters the syscall stub (LSTAR): `out SYSCALL_PORT` (one VM
  exit, served by xemu's Linux layer), then `sysretq`.
- Every CPU exception V enters a stub doing `out EXCEPTION_PORT + V`, so
  xemu reports the fault with the vector; no register is touched.

Some hosts run system-call instructions wrongly. Under the PVM flavour of
KVM these were built on (kvm_pvm: the guest runs in host ring 3, without
VT-x or AMD-V), `syscall` jumps to LSTAR but stays at CPL 3 (ignoring
EFER.SCE), and `int 0x80` in compatibility mode raises #UD. So:
the stub page is user-executable and the TSS I/O bitmap lets CPL 3 use
SYSCALL_PORT, and xemu checks CS once, at the first call, to know whether to
return through `sysretq` or itself; and the #UD stub resumes with `iretq`,
so a #UD raised by the syscall instruction is served as the system call and
the saved RIP moved past it. Any other #UD is a real illegal instruction.
"""
from __future__ import annotations

import struct

from .....archs.base import PAGE
from ..structs import kvm_segment, kvm_sregs

CR0_PE, CR0_MP, CR0_ET, CR0_NE, CR0_WP, CR0_AM, CR0_PG = \
    1, 2, 0x10, 0x20, 1 << 16, 1 << 18, 1 << 31
CR4_PAE, CR4_OSFXSR, CR4_OSXMMEXCPT, CR4_OSXSAVE = 1 << 5, 1 << 9, 1 << 10, 1 << 18
EFER_SCE, EFER_LME, EFER_LMA, EFER_NXE = 1, 1 << 8, 1 << 10, 1 << 11
MSR_STAR, MSR_LSTAR, MSR_SYSCALL_MASK = 0xC0000081, 0xC0000082, 0xC0000084
SYSCALL_MASK = 0x47700            # TF, DF, IF, IOPL, NT, AC cleared on entry
RFLAGS_TF = 0x100                 # trap flag: KVM's single step sets it

# Descriptor words for the GDT (base 0, flat)
KERNEL_CODE64 = 0x00AF9A000000FFFF
KERNEL_DATA = 0x00CF92000000FFFF
USER_CODE32 = 0x00CFFA000000FFFF
USER_DATA = 0x00CFF2000000FFFF
USER_CODE64 = 0x00AFFA000000FFFF


class LongMode:
    """Layout and set-up of the x86-64 machine; i386 derives from it."""

    KERNEL_VIRTUAL = 0xFFFF_FF80_0000_0000     # PML4 slot 511
    USER_LIMIT = 1 << 47                       # the canonical lower half: guest regions end below
    GDT_OFFSET = 0x0000                        # (page 1 unused)
    IDT_OFFSET = 0x2000                        # 256 gates of 16 bytes: 2 pages
    STUBS_OFFSET = 0x4000                      # the only user-executable kernel page
    SYSCALL_STUB_OFFSET = STUBS_OFFSET
    EXCEPTION_STUBS_OFFSET = STUBS_OFFSET + 0x100   # 16 bytes per vector
    FIXED_PAGES = 5                            # GDT to the stubs, mapped when the VM is made
    PAGE_TABLES_OFFSET = 0x10000               # the page-table pool, up to the vCPU pages
    CPU_PAGES_OFFSET = 16 << 20                # one page per vCPU: its TSS and exception stack
    MAX_VCPUS = 1024                           # KVM's usual KVM_CAP_MAX_VCPUS
    KERNEL_SIZE = CPU_PAGES_OFFSET + MAX_VCPUS * PAGE
    STACK_TOP = PAGE                           # in a vCPU's page: RSP0 is the page's end
    PHYSICAL_LIMIT = 1 << 39                   # within any x86-64 CPU's MAXPHYADDR

    SYSCALL_PORT = 0xF0
    EXCEPTION_PORT = 0xC0                      # vector V exits on port 0xC0 + V
    EXCEPTIONS = 32
    INVALID_OPCODE = 6
    DEBUG, BREAKPOINT, PAGE_FAULT = 1, 3, 14
    SYSCALL_INSTRUCTION = b"\x0f\x05"         # syscall
    SSE_INSTRUCTION = b"\x66\x0f\x6e\xc0"     # movd xmm0, eax: what glibc needs
    VECTORS_WITH_ERROR_CODE = frozenset({8, 10, 11, 12, 13, 14, 17, 21, 29, 30})

    # GDT in Linux's order, so sysret's fixed selector offsets work
    KERNEL_CS, KERNEL_DS, USER_CS32, USER_DS, USER_CS = 0x08, 0x10, 0x18 | 3, 0x20 | 3, 0x28 | 3
    TSS_SELECTOR = 0x30
    TSS_SIZE = 104
    IO_BITMAP_BYTES = SYSCALL_PORT // 8 + 2    # up to SYSCALL_PORT, then the 0xFF end

    def virtual(self, offset: int) -> int:
        return self.KERNEL_VIRTUAL + offset

    # -- what goes in memory ----------------------------------------------

    def kernel_image(self) -> dict[int, bytes]:
        """Bytes of the kernel area shared by every vCPU, by offset."""
        idt = b"".join(self.gate(v) for v in range(256))
        exception_stubs = b"".join(
            (bytes([0xE6, self.EXCEPTION_PORT + v])      # out port, al
             + (b"\x48\xCF" if v == self.INVALID_OPCODE  # iretq: may be a syscall
                else b"\xF4\xEB\xFD")).ljust(16, b"\xCC")  # hlt; jmp back to hlt
            for v in range(self.EXCEPTIONS))
        image = {self.IDT_OFFSET: idt,
                 self.SYSCALL_STUB_OFFSET: self.syscall_stub(),
                 self.EXCEPTION_STUBS_OFFSET: exception_stubs}
        image.update(self.gdt_in_kernel())
        return image

    def cpu_page_offset(self, index: int) -> int:
        """Where vCPU index's own page is in the kernel area."""
        if not 0 <= index < self.MAX_VCPUS:
            raise ValueError(f"no vCPU page for vCPU {index} (at most {self.MAX_VCPUS})")
        return self.CPU_PAGES_OFFSET + index * PAGE

    def tss_address(self, index: int) -> int:
        """The virtual address of vCPU index's TSS (at its page's start)."""
        return self.virtual(self.cpu_page_offset(index))

    def cpu_image(self, index: int) -> bytes:
        """The start of vCPU index's page: its TSS, whose RSP0 is the page's
        end (its exception stack), and the I/O bitmap that lets CPL 3 use
        SYSCALL_PORT alone."""
        tss = bytearray(self.TSS_SIZE + self.IO_BITMAP_BYTES)
        struct.pack_into("<Q", tss, 4, self.virtual(self.cpu_page_offset(index) + self.STACK_TOP))
        struct.pack_into("<H", tss, 102, self.TSS_SIZE)                       # I/O bitmap
        tss[self.TSS_SIZE:] = b"\xFF" * self.IO_BITMAP_BYTES          # every port denied,
        tss[self.TSS_SIZE + self.SYSCALL_PORT // 8] &= ~(1 << self.SYSCALL_PORT % 8) & 0xFF
        return bytes(tss)

    def syscall_stub(self) -> bytes:
        return bytes([0xE6, self.SYSCALL_PORT,        # out SYSCALL_PORT, al
                      0x48, 0x0F, 0x07])              # sysretq

    def gate(self, vector: int) -> bytes:
        """The IDT entry for a vector: exceptions go to their stubs."""
        if vector < self.EXCEPTIONS:
            return interrupt_gate(self.virtual(self.EXCEPTION_STUBS_OFFSET + 16 * vector),
                                  self.KERNEL_CS, dpl=0)
        return bytes(16)

    def gdt_entries(self) -> list[int]:
        return [0, KERNEL_CODE64, KERNEL_DATA, USER_CODE32, USER_DATA, USER_CODE64]

    def tss_descriptor(self) -> bytes:
        """vCPU 0's TSS, as `ltr` would load it (each vCPU's task register is
        set to its own TSS directly)."""
        base = self.tss_address(0)
        limit = self.TSS_SIZE + self.IO_BITMAP_BYTES - 1
        low = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89 << 40) \
            | (((base >> 24) & 0xFF) << 56)            # present, available 64-bit TSS
        return struct.pack("<QQ", low, base >> 32)

    def gdt_in_kernel(self) -> dict[int, bytes]:
        entries = self.gdt_entries()
        return {self.GDT_OFFSET: struct.pack(f"<{len(entries)}Q", *entries)
                + self.tss_descriptor()}

    def gdt_address(self) -> tuple[int, int]:
        """(base, limit) for GDTR."""
        return self.virtual(self.GDT_OFFSET), 8 * (len(self.gdt_entries()) + 2) - 1

    def guest_tables(self) -> dict[int, bytes]:
        """Bytes this mode writes into guest memory, by guest address."""
        return {}

    def user_pages(self) -> list[int]:
        """Kernel-area offsets user code may execute (the syscall stub's page)."""
        return [self.STUBS_OFFSET]

    # -- CPU state --------------------------------------------------------

    def user_code_segment(self) -> kvm_segment:
        return flat_segment(self.USER_CS, code=True, long=True)

    def initial_sregs(self, sregs: kvm_sregs, page_table_root: int, xsave: bool,
                      index: int = 0) -> None:
        """User mode in long mode, as Linux leaves a process at its first
        instruction, on vCPU index (its task register names its own TSS)."""
        sregs.cs = self.user_code_segment()
        for name in ("ds", "es", "ss", "fs", "gs"):
            setattr(sregs, name, flat_segment(self.USER_DS))
        sregs.tr = kvm_segment(base=self.tss_address(index),
                               limit=self.TSS_SIZE + self.IO_BITMAP_BYTES - 1,
                               selector=self.TSS_SELECTOR, type=0xB, present=1)
        sregs.ldt = kvm_segment(unusable=1, type=0x2, present=1)
        sregs.gdt.base, sregs.gdt.limit = self.gdt_address()
        sregs.idt.base, sregs.idt.limit = self.virtual(self.IDT_OFFSET), 256 * 16 - 1
        sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG
        sregs.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | (CR4_OSXSAVE if xsave else 0)
        sregs.cr3 = page_table_root
        sregs.efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE

    def syscall_msrs(self) -> list[tuple[int, int]]:
        return [(MSR_STAR, ((self.USER_CS32 & ~3) << 48) | (self.KERNEL_CS << 32)),
                (MSR_LSTAR, self.virtual(self.SYSCALL_STUB_OFFSET)),
                (MSR_SYSCALL_MASK, SYSCALL_MASK)]

    # -- after an exit ----------------------------------------------------
    # `page` is the vCPU's own page (its TSS and exception stack), as the
    # accelerator holds it: the frame the CPU pushed is at its top.

    def fault_frame(self, page: memoryview, vector: int) -> tuple[int, int]:
        """(error code, faulting rip) from the frame the CPU pushed on RSP0:
        SS, RSP, RFLAGS, CS, RIP from the top down, then the error code."""
        rip = struct.unpack_from("<Q", page, self.STACK_TOP - 40)[0]
        error = struct.unpack_from("<Q", page, self.STACK_TOP - 48)[0] \
            if vector in self.VECTORS_WITH_ERROR_CODE else 0
        return error, rip

    def return_to_user(self, regs) -> None:
        """Where `syscall` stayed at CPL 3: do sysret's work from outside."""
        regs.rip = regs.rcx
        regs.rflags = regs.r11

    def skip_syscall_instruction(self, page: memoryview, regs) -> None:
        """After serving a syscall that arrived as #UD: resume past it, with
        RCX and R11 as `syscall` leaves them."""
        rip = self._advance_frame(page)
        regs.rcx = rip
        regs.r11 = struct.unpack_from("<Q", page, self.STACK_TOP - 24)[0]

    def return_from_exception(self, page: memoryview, regs, sregs, rip: int) -> None:
        """Do iretq's work from outside, so the user's state is the vCPU's
        again (a debugger reads it there): RSP and RFLAGS from the frame the
        CPU pushed on RSP0, user segments, and rip (the faulting instruction,
        or a breakpoint's address before its int3)."""
        regs.rip = rip
        regs.rsp = struct.unpack_from("<Q", page, self.STACK_TOP - 16)[0]
        regs.rflags = struct.unpack_from("<Q", page, self.STACK_TOP - 24)[0] \
            & ~RFLAGS_TF
        sregs.cs = self.user_code_segment()
        sregs.ss = flat_segment(self.USER_DS)

    def _advance_frame(self, page: memoryview) -> int:
        offset = self.STACK_TOP - 40
        rip = struct.unpack_from("<Q", page, offset)[0] + len(self.SYSCALL_INSTRUCTION)
        struct.pack_into("<Q", page, offset, rip)
        return rip


def interrupt_gate(handler: int, selector: int, dpl: int) -> bytes:
    """A 64-bit interrupt gate."""
    return struct.pack("<HHBBHII", handler & 0xFFFF, selector, 0, 0x8E | dpl << 5,
                       (handler >> 16) & 0xFFFF, handler >> 32, 0)


def flat_segment(selector: int, code: bool = False, long: bool = False) -> kvm_segment:
    return kvm_segment(base=0, limit=0xFFFFFFFF, selector=selector,
                       type=0xB if code else 0x3, present=1, dpl=selector & 3,
                       db=0 if long else 1, s=1, l=1 if long else 0, g=1)


