"""x86-64, Linux's `syscall` ABI. TLS is the FS base, set by arch_prctl."""
import errno
import struct

from unicorn import UC_ARCH_X86, UC_MODE_64
from unicorn.x86_const import UC_X86_INS_SYSCALL

from ..base import PAGE, ArchSpec, ElfInfo, LinuxABI, Registers, SyscallABI, TcgInfo, Trap
from ..i386 import HWCAP_CPUID_EDX, X86_INTERRUPT_SIGNALS, reset_fpu
from . import gdb, signal, structs
from .syscalls import NUMBERS

ARCH_SET_GS, ARCH_SET_FS, ARCH_GET_FS, ARCH_GET_GS = 0x1001, 0x1002, 0x1003, 0x1004
CR0_MP, CR0_EM = 1 << 1, 1 << 2
CR4_OSFXSR, CR4_OSXMMEXCPT = 1 << 9, 1 << 10


def setup_cpu(regs: Registers, memory) -> None:
    """SSE on, as Linux leaves it for user code."""
    regs.write("cr0", (regs.read("cr0") | CR0_MP) & ~CR0_EM)
    regs.write("cr4", regs.read("cr4") | CR4_OSFXSR | CR4_OSXMMEXCPT)
    reset_fpu(regs)


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
    elf=ElfInfo(machine="EM_X86_64", triplet="x86_64-linux-gnu", debian="amd64",
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
    ),
    tcg=TcgInfo(
        engine=(UC_ARCH_X86, UC_MODE_64, None),
        trap=Trap("instruction", UC_X86_INS_SYSCALL),
        setup_cpu=setup_cpu,
    ),
    capstone=("X86", ("64",)),
    gdb=gdb.TARGET,
    kvm_mode="long",
    signal_frames=signal.FRAMES,
)
