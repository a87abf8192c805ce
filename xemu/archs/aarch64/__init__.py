"""64-bit ARM (AArch64), little-endian: a Cortex-A72 with FP and Advanced SIMD."""
from signal import SIGBUS, SIGILL, SIGSEGV, SIGTRAP

from unicorn import UC_ARCH_ARM64, UC_MODE_ARM
from unicorn.arm64_const import UC_CPU_ARM64_A72

from ..base import (CLONE_BACKWARDS, ArchSpec, CloneABI, ElfInfo, LinuxABI, Registers,
                    SyscallABI, TcgInfo, Trap)
from . import gdb, structs
from .signal import Aarch64SignalFrames
from .syscalls import NUMBERS

CPACR_FPEN = 3 << 20           # FP and SIMD usable at EL0 and EL1
HWCAP_FP, HWCAP_ASIMD = 1 << 0, 1 << 1

# A data abort reaches the interrupt hook only for alignment: unmapped and
# protected memory are reported through the memory hooks instead.
EXCP_UDEF, EXCP_SWI, EXCP_PREFETCH_ABORT, EXCP_DATA_ABORT, EXCP_BKPT = 1, 2, 3, 4, 7


def setup_cpu(regs: Registers, memory) -> None:
    regs.write("cpacr_el1", regs.read("cpacr_el1") | CPACR_FPEN)


SPEC = ArchSpec(
    name="aarch64",
    aliases=("arm64", "armv8"),
    bits=64,
    big_endian=False,
    pc="pc",
    sp="sp",
    elf=ElfInfo(machine="EM_AARCH64", triplet="aarch64-linux-gnu", debian="arm64",
                cpp_defines=("-D__aarch64__",)),
    linux=LinuxABI(
        syscall=SyscallABI(number="x8", args=("x0", "x1", "x2", "x3", "x4", "x5"),
                           result="x0"),
        syscall_numbers=NUMBERS,
        uname_machine="aarch64",
        platform="aarch64",
        hwcap=HWCAP_FP | HWCAP_ASIMD,
        stack_top=0x7ffff0000000,
        task_size=1 << 48,              # TASK_SIZE_64 with VA_BITS 48
        mmap_base=0x4000000000,
        structs=structs.LAYOUTS,
        open_flags={"O_DIRECTORY": 0o40000, "O_NOFOLLOW": 0o100000,
                    "O_DIRECT": 0o200000, "O_LARGEFILE": 0o400000},
        tls_register="tpidr_el0",
        clone=CloneABI(args=CLONE_BACKWARDS),
        exception_signals={EXCP_UDEF: SIGILL, EXCP_PREFETCH_ABORT: SIGSEGV,
                           EXCP_DATA_ABORT: SIGBUS, EXCP_BKPT: SIGTRAP},
    ),
    tcg=TcgInfo(
        engine=(UC_ARCH_ARM64, UC_MODE_ARM, UC_CPU_ARM64_A72),
        trap=Trap("interrupt", EXCP_SWI),
        setup_cpu=setup_cpu,
    ),
    capstone=("ARM64", ("ARM",)),
    gdb=gdb.TARGET,
    signal_frames=Aarch64SignalFrames(),
)
