"""x86-64, Linux's `syscall` ABI. TLS is the FS base, set by arch_prctl."""
import errno
import struct

from unicorn import UC_ARCH_X86, UC_MODE_64
from unicorn.x86_const import UC_X86_INS_SYSCALL

from ..base import (PAGE, ArchSpec, ElfInfo, KernelPage, LinuxABI, Registers, SyscallABI,
                    TcgInfo, Trap)
from ..i386 import (EFLAGS_IF, EXCP_GP, HWCAP_CPUID_EDX, X86_INTERRUPT_SIGNALS,
                    forget_exception, reset_fpu)
from . import gdb, signal, structs
from .syscalls import NUMBERS

ARCH_SET_GS, ARCH_SET_FS, ARCH_GET_FS, ARCH_GET_GS = 0x1001, 0x1002, 0x1003, 0x1004
CR0_MP, CR0_EM = 1 << 1, 1 << 2
CR4_OSFXSR, CR4_OSXMMEXCPT = 1 << 9, 1 << 10
PROT_READ, PROT_EXEC = 1, 4


# The page Linux leaves unmapped at the top of the user half (TASK_SIZE_MAX
# ends a page short of it): xemu's GDT for the translator, in Linux's order
# (__USER32_CS 0x23, __USER_DS 0x2b, __USER_CS 0x33, all DPL 3, accessed
# already, so the page can stay read-only), the iretq that takes Unicorn's
# CPU from CPL 0 to CPL 3 and the frame it pops, as the kernel's own return
# to a new program does.
USER_GDT = (1 << 47) - PAGE
GDT_ENTRIES = 16
USER_CS, USER_DS = signal.USER_CS, signal.USER_DS     # what signal frames show
GDT_ENTRY_USER32_CS, GDT_ENTRY_USER_DS, GDT_ENTRY_USER_CS = 4, USER_DS >> 3, USER_CS >> 3
# flat 4 GiB, present, DPL 3, code (readable) or data (writable), accessed;
# 32-bit code and data have D/B, 64-bit code has L
USER_CODE32, USER_DATA, USER_CODE64 = 0x00CFFB000000FFFF, 0x00CFF3000000FFFF, 0x00AFFB000000FFFF
IRETQ_AT, FRAME_AT = 0x100, 0x200
IRETQ = b"\x48\xcf"


def user_gdt_page() -> bytes:
    page = bytearray(PAGE)
    for entry, word in ((GDT_ENTRY_USER32_CS, USER_CODE32), (GDT_ENTRY_USER_DS, USER_DATA),
                        (GDT_ENTRY_USER_CS, USER_CODE64)):
        struct.pack_into("<Q", page, 8 * entry, word)
    page[IRETQ_AT:IRETQ_AT + len(IRETQ)] = IRETQ
    # rip, cs, rflags, rsp, ss: the program's pc and sp are set after
    struct.pack_into("<5Q", page, FRAME_AT, 0, USER_CS, EFLAGS_IF, 0, USER_DS)
    return bytes(page)


def setup_cpu(regs: Registers, memory) -> None:
    """SSE on, as Linux leaves it for user code; the GDT page (the arch's
    reserved page, mapped by exec), and the stack at the frame the iretq of
    enter_user takes to CPL 3, where hlt, cli, in and out, moves to and from
    control and debug registers raise #GP (SIGSEGV)."""
    regs.write("cr0", (regs.read("cr0") | CR0_MP) & ~CR0_EM)
    regs.write("cr4", regs.read("cr4") | CR4_OSFXSR | CR4_OSXMMEXCPT)
    reset_fpu(regs)
    memory.write(USER_GDT, user_gdt_page())
    regs.write("gdtr", (0, USER_GDT, GDT_ENTRIES * 8 - 1, 0))
    regs.write("rsp", USER_GDT + FRAME_AT)


def arch_prctl(thread, code: int, addr: int) -> int:
    """The calling thread's FS or GS base (its TLS)."""
    if code in (ARCH_SET_FS, ARCH_SET_GS):
        thread.regs.write("fs_base" if code == ARCH_SET_FS else "gs_base", addr)
        return 0
    if code in (ARCH_GET_FS, ARCH_GET_GS):
        value = thread.regs.read("fs_base" if code == ARCH_GET_FS else "gs_base")
        thread.process.mem.write(addr, struct.pack("<Q", value))
        return 0
    return -errno.EINVAL


SPEC = ArchSpec(
    name="x86_64",
    aliases=("amd64", "x64", "x86-64"),
    bits=64,
    big_endian=False,
    pc="rip",
    sp="rsp",
    elf=ElfInfo(machine=62, triplet="x86_64-linux-gnu", debian="amd64",
                cpp_defines=("-D__x86_64__", "-D__LP64__")),
    linux=LinuxABI(
        syscall=SyscallABI(number="rax", args=("rdi", "rsi", "rdx", "r10", "r8", "r9"),
                           result="rax", instruction_size=2),       # syscall
        syscall_numbers=NUMBERS,
        uname_machine="x86_64",
        platform="x86_64",
        hwcap=HWCAP_CPUID_EDX,
        stack_top=0x7ffff0000000,
        task_size=(1 << 47) - PAGE,     # TASK_SIZE_MAX (4-level paging)
        mmap_base=0x4000000000,
        structs=structs.LAYOUTS,
        tls_register="fs_base",
        syscall_handlers={"arch_prctl": arch_prctl},
        exception_signals=X86_INTERRUPT_SIGNALS,
        reserved=(KernelPage(USER_GDT, PAGE, PROT_READ | PROT_EXEC),),
    ),
    tcg=TcgInfo(
        engine=(UC_ARCH_X86, UC_MODE_64, None),
        trap=Trap("instruction", UC_X86_INS_SYSCALL),
        setup_cpu=setup_cpu,
        enter_user=USER_GDT + IRETQ_AT,
        after_exception=forget_exception,
        port_io_fault=EXCP_GP,
    ),
    capstone=("X86", ("64",)),
    gdb=gdb.TARGET,
    kvm_mode="long",
    signal_frames=signal.FRAMES,
)
