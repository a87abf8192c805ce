"""32-bit big-endian PowerPC (a G4-class 7457: FPU and AltiVec)."""
# First: importing the submodule .signal binds the name `signal` here, and
# the standard library's module must be the one that stays bound.
from .signal import PpcSignalFrames  # noqa: I001
import signal

from unicorn import UC_ARCH_PPC, UC_MODE_32, UC_MODE_BIG_ENDIAN
from unicorn.ppc_const import UC_CPU_PPC32_7457_V1_2

from ..base import (CLONE_BACKWARDS, ArchSpec, CloneABI, ElfInfo, LinuxABI, Registers,
                    SyscallABI, TcgInfo, Trap)
from . import gdb, ioctls, structs
from .syscalls import NUMBERS

MSR_PR = 1 << 14      # problem state: user mode, where supervisor instructions trap
MSR_FP = 1 << 13      # floating point available
MSR_VEC = 1 << 25     # AltiVec available
CR0_SO = 1 << 28      # summary overflow bit of CR field 0: "syscall failed"

# The 7457's cache lines are 32 bytes. glibc's memset zeroes whole lines with
# dcbz using AT_DCACHEBSIZE, so a wrong value here corrupts memory silently.
CACHE_LINE = 32

AT_DCACHEBSIZE, AT_ICACHEBSIZE, AT_UCACHEBSIZE, AT_IGNOREPPC = 19, 20, 21, 22
PPC_FEATURE_32 = 0x80000000
PPC_FEATURE_HAS_ALTIVEC = 0x10000000
PPC_FEATURE_HAS_FPU = 0x08000000
PPC_FEATURE_HAS_MMU = 0x04000000

# POWERPC_EXCP_* numbers as Unicorn's interrupt hook reports them (HV_EMU:
# what QEMU raises for an instruction it does not know, turned into a
# program check on real hardware).
EXCP_ALIGN, EXCP_PROGRAM, EXCP_FPU, EXCP_SYSCALL, EXCP_TRACE = 5, 6, 7, 8, 0x11
EXCP_HV_EMU = 96


TW_MASK, TW = 0xFC0007FE, 0x7C000008       # tw TO, rA, rB (`trap` is tw 31,0,0)
TWI_MASK, TWI = 0xFC000000, 0x0C000000      # twi TO, rA, SI
# mfspr rD, PVR: supervisor-only, but Linux emulates it for user code
# (arch/powerpc/kernel/traps.c emulate_instruction), and glibc reads it at
# start-up. The value is the CPU model's: a 7457 v1.2.
MFPVR_MASK, MFPVR = 0xFC1FFFFF, 0x7C1F42A6
PVR = 0x80020102


def classify_exception(number: int, pc: int, memory) -> tuple[int, int] | None:
    """Unicorn reports these exceptions with the pc past the instruction that
    raised them. An alignment interrupt is SIGBUS there. A program check is
    SIGTRAP when a trap instruction raised it (Linux looks at SRR1; Unicorn
    gives only the interrupt), SIGILL otherwise: a privileged instruction in
    problem state, or one the CPU does not have."""
    if number == EXCP_ALIGN:
        return signal.SIGBUS, pc - 4
    if number == EXCP_HV_EMU:
        return signal.SIGILL, pc - 4
    if number != EXCP_PROGRAM:
        return None
    try:
        word = int.from_bytes(memory.read(pc - 4, 4), "big")
    except Exception:
        return signal.SIGILL, pc - 4
    if word & TW_MASK == TW or word & TWI_MASK == TWI:
        return signal.SIGTRAP, pc - 4
    return signal.SIGILL, pc - 4


def emulate(regs: Registers, memory, pc: int) -> bool:
    """A program check Linux serves itself: mfpvr."""
    try:
        word = int.from_bytes(memory.read(pc, 4), "big")
    except Exception:
        return False
    if word & MFPVR_MASK != MFPVR:
        return False
    regs.write(f"r{word >> 21 & 31}", PVR)
    regs.write("pc", pc + 4)
    return True


def setup_cpu(regs: Registers, memory) -> None:
    """FPU and AltiVec on, in problem state (MSR[PR]) as Linux runs user
    code: mfmsr, mtmsr, supervisor SPRs raise a program check (SIGILL).
    Translation stays off: Unicorn's memory is the guest's address space."""
    regs.write("msr", regs.read("msr") | MSR_PR | MSR_FP | MSR_VEC)


SPEC = ArchSpec(
    name="ppc",
    aliases=("powerpc", "ppc32"),
    bits=32,
    big_endian=True,
    pc="pc",
    sp="r1",
    elf=ElfInfo(machine=20, triplet="powerpc-linux-gnu", debian="powerpc",
                cpp_defines=("-D__powerpc__",)),
    linux=LinuxABI(
        syscall=SyscallABI(number="r0", args=("r3", "r4", "r5", "r6", "r7", "r8"),
                           result="r3", error_flag=("cr", CR0_SO)),
        syscall_numbers=NUMBERS,
        uname_machine="ppc",
        platform="ppc7450",
        hwcap=PPC_FEATURE_32 | PPC_FEATURE_HAS_FPU | PPC_FEATURE_HAS_MMU
        | PPC_FEATURE_HAS_ALTIVEC,
        stack_top=0xbf000000,
        task_size=0xc0000000,           # CONFIG_TASK_SIZE
        mmap_base=0x40000000,
        # Linux puts these first (arch/powerpc/include/asm/elf.h, ARCH_DLINFO).
        auxv_extra=((AT_IGNOREPPC, AT_IGNOREPPC), (AT_IGNOREPPC, AT_IGNOREPPC),
                    (AT_DCACHEBSIZE, CACHE_LINE), (AT_ICACHEBSIZE, CACHE_LINE),
                    (AT_UCACHEBSIZE, 0)),
        align_64bit_args=True,
        structs=structs.LAYOUTS,
        open_flags={"O_DIRECTORY": 0o40000, "O_NOFOLLOW": 0o100000,
                    "O_LARGEFILE": 0o200000, "O_DIRECT": 0o400000},
        ioctls=ioctls.IOCTLS,
        termbits=ioctls.TERMBITS,
        tls_register="r2",
        # arch/powerpc/include/uapi/asm/socket.h moves these six SOL_SOCKET
        # options: RCVLOWAT, SNDLOWAT, RCVTIMEO_OLD, SNDTIMEO_OLD, PASSCRED,
        # PEERCRED (guest -> asm-generic's numbers)
        socket_options={16: 18, 17: 19, 18: 20, 19: 21, 20: 16, 21: 17},
        clone=CloneABI(args=CLONE_BACKWARDS),
        exception_signals={EXCP_ALIGN: signal.SIGBUS, EXCP_PROGRAM: signal.SIGILL,
                           EXCP_FPU: signal.SIGILL, EXCP_TRACE: signal.SIGTRAP,
                           EXCP_HV_EMU: signal.SIGILL},
        classify_exception=classify_exception,
    ),
    tcg=TcgInfo(
        engine=(UC_ARCH_PPC, UC_MODE_32 | UC_MODE_BIG_ENDIAN, UC_CPU_PPC32_7457_V1_2),
        trap=Trap("interrupt", EXCP_SYSCALL),
        register_names={f"r{i}": str(i) for i in range(32)},
        setup_cpu=setup_cpu,
        emulate=emulate,
        qemu_cpu="7457",
        thread_registers=tuple(register.source or register.name
                               for _, bank in gdb.TARGET.features for register in bank),
    ),
    capstone=("PPC", ("32", "BIG_ENDIAN")),
    gdb=gdb.TARGET,
    signal_frames=PpcSignalFrames(),
)
