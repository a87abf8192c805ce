"""x86-64 under KVM: the 64-bit long-mode machine xemu builds around a
Linux program, in the style of a tiny kernel.

The program runs at CPL 3 with 4-level paging. A "kernel" area of
guest-physical memory holds the page tables, GDT, TSS, IDT, a kernel stack
and the stubs, mapped in the top of the address space.

- `syscall` enters SYSCALL_STUB (LSTAR): `out SYSCALL_PORT` (one VM exit,
  served by xemu's Linux layer), then `sysretq`.
- Every CPU exception V enters a stub doing `out EXCEPTION_PORT + V`, so
  xemu reports the fault with the vector; no register is touched.

Some hosts run `syscall` wrongly: under a nested AMD hypervisor it jumps to
LSTAR but stays at CPL 3 (and ignores EFER.SCE). So the stub page is user-
executable and the TSS I/O bitmap lets CPL 3 use SYSCALL_PORT: the exit
happens either way. xemu checks CS once, at the first system call; where the
CPU stayed in user mode, xemu returns to RCX itself instead of `sysretq`.
"""
from __future__ import annotations

import struct

from ...machine.accel.kvm.structs import kvm_segment, kvm_sregs

# -- layout: offsets in the kernel area, which is guest-physical 0 ----------
KERNEL_VIRTUAL = 0xFFFF_FF80_0000_0000     # PML4 slot 511
KERNEL_SIZE = 16 << 20
GDT_OFFSET = 0x0000
TSS_OFFSET = 0x1000
IDT_OFFSET = 0x2000
STUBS_OFFSET = 0x3000                       # the only user-executable kernel page
SYSCALL_STUB_OFFSET = STUBS_OFFSET
EXCEPTION_STUBS_OFFSET = STUBS_OFFSET + 0x100   # 16 bytes per vector
KERNEL_STACK_OFFSET = 0x4000                # 4 pages, grows down from 0x8000
KERNEL_STACK_TOP = 0x8000
PAGE_TABLES_OFFSET = 0x10000                # the rest is the page-table pool
FIXED_PAGES = KERNEL_STACK_TOP // 0x1000    # pages mapped into the kernel half

SYSCALL_PORT = 0xF0
EXCEPTION_PORT = 0xC0                       # vector V exits on port 0xC0 + V
EXCEPTIONS = 32
VECTORS_WITH_ERROR_CODE = {8, 10, 11, 12, 13, 14, 17, 21, 29, 30}

# -- segments (Linux's order, so sysret's fixed offsets work) ---------------
KERNEL_CS, KERNEL_DS, USER_CS32, USER_DS, USER_CS, TSS_SELECTOR = \
    0x08, 0x10, 0x18, 0x20 | 3, 0x28 | 3, 0x30
GDT_ENTRIES = (
    0,
    0x00AF9A000000FFFF,       # kernel code, 64-bit
    0x00CF92000000FFFF,       # kernel data
    0x00CFFA000000FFFF,       # user code, 32-bit (unused; keeps sysret's order)
    0x00CFF2000000FFFF,       # user data
    0x00AFFA000000FFFF,       # user code, 64-bit
)
TSS_SIZE = 104
IO_BITMAP_BYTES = SYSCALL_PORT // 8 + 2      # up to SYSCALL_PORT, then the 0xFF end

# -- control registers and MSRs ---------------------------------------------
CR0_PE, CR0_MP, CR0_ET, CR0_NE, CR0_WP, CR0_AM, CR0_PG = \
    1, 2, 0x10, 0x20, 1 << 16, 1 << 18, 1 << 31
CR4_PAE, CR4_OSFXSR, CR4_OSXMMEXCPT, CR4_OSXSAVE = 1 << 5, 1 << 9, 1 << 10, 1 << 18
EFER_SCE, EFER_LME, EFER_LMA, EFER_NXE = 1, 1 << 8, 1 << 10, 1 << 11
MSR_STAR, MSR_LSTAR, MSR_SYSCALL_MASK = 0xC0000081, 0xC0000082, 0xC0000084
SYSCALL_MASK = 0x47700            # TF, DF, IF, IOPL, NT, AC cleared on entry


def virtual(offset: int) -> int:
    return KERNEL_VIRTUAL + offset


def kernel_image() -> dict[int, bytes]:
    """The bytes of the fixed kernel structures, by offset."""
    tss_base = virtual(TSS_OFFSET)
    tss_limit = TSS_SIZE + IO_BITMAP_BYTES - 1
    tss_low = (tss_limit & 0xFFFF) | ((tss_base & 0xFFFFFF) << 16) \
        | (0x89 << 40) | (((tss_base >> 24) & 0xFF) << 56)    # present, 64-bit TSS
    gdt = struct.pack(f"<{len(GDT_ENTRIES)}Q", *GDT_ENTRIES) \
        + struct.pack("<QQ", tss_low, tss_base >> 32)
    tss = bytearray(TSS_SIZE + IO_BITMAP_BYTES)
    struct.pack_into("<Q", tss, 4, virtual(KERNEL_STACK_TOP))   # RSP0
    struct.pack_into("<H", tss, 102, TSS_SIZE)                   # I/O bitmap follows
    tss[TSS_SIZE:] = b"\xFF" * IO_BITMAP_BYTES                   # every port denied...
    tss[TSS_SIZE + SYSCALL_PORT // 8] &= ~(1 << SYSCALL_PORT % 8) & 0xFF   # ...but this
    idt = b"".join(_interrupt_gate(virtual(EXCEPTION_STUBS_OFFSET + 16 * v))
                   for v in range(EXCEPTIONS))
    syscall_stub = bytes([0xE6, SYSCALL_PORT,           # out SYSCALL_PORT, al
                          0x48, 0x0F, 0x07])            # sysretq
    exception_stubs = b"".join(bytes([0xE6, EXCEPTION_PORT + v,   # out port, al
                                      0xF4, 0xEB, 0xFD])          # hlt; jmp to hlt
                               .ljust(16, b"\xCC") for v in range(EXCEPTIONS))
    return {GDT_OFFSET: gdt, TSS_OFFSET: bytes(tss), IDT_OFFSET: idt,
            SYSCALL_STUB_OFFSET: syscall_stub, EXCEPTION_STUBS_OFFSET: exception_stubs}


def _interrupt_gate(handler: int) -> bytes:
    return struct.pack("<HHBBHII", handler & 0xFFFF, KERNEL_CS, 0, 0x8E,
                       (handler >> 16) & 0xFFFF, handler >> 32, 0)


def _segment(selector: int, code: bool = False, long: bool = False) -> kvm_segment:
    return kvm_segment(base=0, limit=0xFFFFFFFF, selector=selector,
                       type=0xB if code else 0x3, present=1, dpl=selector & 3,
                       db=0 if long else 1, s=1, l=1 if long else 0, g=1)


def initial_sregs(sregs: kvm_sregs, page_table_root: int, xsave: bool) -> None:
    """User mode in long mode, as Linux leaves a process at its first instruction."""
    sregs.cs = _segment(USER_CS, code=True, long=True)
    for name in ("ds", "es", "ss", "fs", "gs"):
        setattr(sregs, name, _segment(USER_DS))
    sregs.tr = kvm_segment(base=virtual(TSS_OFFSET), limit=TSS_SIZE + IO_BITMAP_BYTES - 1,
                           selector=TSS_SELECTOR, type=0xB, present=1)
    sregs.ldt = kvm_segment(unusable=1, type=0x2, present=1)
    sregs.gdt.base, sregs.gdt.limit = virtual(GDT_OFFSET), 8 * (len(GDT_ENTRIES) + 2) - 1
    sregs.idt.base, sregs.idt.limit = virtual(IDT_OFFSET), 16 * EXCEPTIONS - 1
    sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_AM | CR0_PG
    sregs.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | (CR4_OSXSAVE if xsave else 0)
    sregs.cr3 = page_table_root
    sregs.efer = EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE


def syscall_msrs() -> list[tuple[int, int]]:
    return [(MSR_STAR, (USER_CS32 << 48) | (KERNEL_CS << 32)),
            (MSR_LSTAR, virtual(SYSCALL_STUB_OFFSET)),
            (MSR_SYSCALL_MASK, SYSCALL_MASK)]


def user_pages() -> list[int]:
    """Kernel-area offsets user code may execute (the syscall stub's page)."""
    return [STUBS_OFFSET]


# The frame the CPU pushes on RSP0 (16-byte aligned) when user code traps:
# SS, RSP, RFLAGS, CS, RIP from the top down, then the error code if any.
FRAME_RIP = KERNEL_STACK_TOP - 40
FRAME_RFLAGS = KERNEL_STACK_TOP - 24
FRAME_ERROR = KERNEL_STACK_TOP - 48


def fault_frame(kernel: memoryview, vector: int) -> tuple[int, int]:
    """(error code, faulting rip) from the frame the CPU pushed on RSP0."""
    rip = struct.unpack_from("<Q", kernel, FRAME_RIP)[0]
    error = struct.unpack_from("<Q", kernel, FRAME_ERROR)[0] \
        if vector in VECTORS_WITH_ERROR_CODE else 0
    return error, rip


def return_to_user(regs) -> None:
    """Where `syscall` stayed at CPL 3: do sysret's work from outside."""
    regs.rip = regs.rcx
    regs.rflags = regs.r11
