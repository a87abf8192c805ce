"""64-bit ARM (AArch64), little-endian: a Cortex-A72 with FP and Advanced SIMD."""
from signal import SIGBUS, SIGILL, SIGSEGV, SIGTRAP

from unicorn import UC_ARCH_ARM64, UC_MODE_ARM
from unicorn.arm64_const import UC_CPU_ARM64_A72

from ...errors import GuestMemoryError
from ..base import (CLONE_BACKWARDS, ArchSpec, CloneABI, ElfInfo, LinuxABI, Registers,
                    SyscallABI, TcgInfo, Trap)
from . import gdb, structs
from .signal import Aarch64SignalFrames
from .syscalls import NUMBERS

CPACR_FPEN = 3 << 20           # FP and SIMD usable at EL0 and EL1
HWCAP_FP, HWCAP_ASIMD = 1 << 0, 1 << 1
PSTATE_EL0T = 0                # EL0 on SP_EL0, DAIF clear: Linux's start_thread

# What EL0 may do is SCTLR_EL1's and CNTKCTL_EL1's to say. The bits Linux
# sets that concern EL0 (arch/arm64 INIT_SCTLR_EL1_MMU_ON; the MMU stays off
# under Unicorn): SP alignment checks (SA0), no SETEND (SED), DC ZVA (DZE),
# CTR_EL0 (UCT) and cache maintenance (UCI) allowed, WFE not trapped (nTWE).
# Linux traps WFI at EL0 and skips it (wfi_handler); nTWI lets it through
# instead, to the same end. UMA stays clear: msr daifset is undefined (SIGILL).
SCTLR_SA0, SCTLR_SED, SCTLR_DZE, SCTLR_UCT = 1 << 4, 1 << 8, 1 << 14, 1 << 15
SCTLR_NTWI, SCTLR_NTWE, SCTLR_UCI = 1 << 16, 1 << 18, 1 << 26
SCTLR_EL0 = SCTLR_SA0 | SCTLR_SED | SCTLR_DZE | SCTLR_UCT | SCTLR_NTWI | SCTLR_NTWE | SCTLR_UCI
CNTKCTL_EL0VCTEN = 1 << 1      # the virtual counter (arch_counter_set_user_access)
# (CRn, CRm, op0, op1, op2), as Unicorn's CP_REG names them
SYSTEM_REGISTERS = {"sctlr_el1": (1, 0, 3, 0, 0), "cntkctl_el1": (14, 1, 3, 0, 0),
                    # the ID register space: id_CRm_op2
                    **{f"id_{crm}_{op2}": (0, crm, 3, 0, op2)
                       for crm in (0, *range(2, 8)) for op2 in range(8)}}

# A data abort reaches the interrupt hook only for alignment: unmapped and
# protected memory are reported through the memory hooks instead.
EXCP_UDEF, EXCP_SWI, EXCP_PREFETCH_ABORT, EXCP_DATA_ABORT, EXCP_BKPT = 1, 2, 3, 4, 7


# Linux emulates, for user code, reads of the ID register space (MRS with
# op0 3, op1 0, CRn 0, CRm 0 or 2-7: arch/arm64/kernel/cpufeature.c
# emulate_sys_reg): MIDR_EL1 as the CPU's, MPIDR_EL1 and REVIDR_EL1 as fixed
# values, the others as their sanitised user view: the fields it shows
# (below, by (CRm, op2): the mask of them, and the value of the fields it
# hides), 0 for registers it shows nothing of.
MRS_MASK, MRS = 0xFFF00000, 0xD5300000
MIDR, MPIDR, REVIDR = (0, 0), (0, 5), (0, 6)
MPIDR_USER = 1 << 31
ID_USER_VIEW = {
    (4, 0): (0x000F_000F_00FF_0000, 0x11),     # ID_AA64PFR0_EL1: FP, AdvSIMD, SVE, DIT; EL0/EL1 AArch64
    (4, 1): (0x0000_0000_0000_0FFF, 0),        # ID_AA64PFR1_EL1: BT, SSBS, MTE
    (6, 0): (0xF0FF_FFFF_F0FF_FFF0, 0),        # ID_AA64ISAR0_EL1: AES .. RNDR, not TME or TLB
    (6, 1): (0xF0FF_F0FF_000F_FFF0, 0),        # ID_AA64ISAR1_EL1: all but pointer auth, SPECRES, XS
}


def emulate(regs: Registers, memory, pc: int) -> bool:
    """An MRS of the ID register space, done as Linux's do_emulate_mrs:
    the CPU refuses it at EL0, the kernel answers it (glibc reads MIDR_EL1
    where AT_HWCAP has HWCAP_CPUID; programs read the ISA registers)."""
    try:
        word = int.from_bytes(memory.read(pc, 4), "little")
    except GuestMemoryError:
        return False
    op0, op1, crn = word >> 19 & 3, word >> 16 & 7, word >> 12 & 15
    crm, op2, rt = word >> 8 & 15, word >> 5 & 7, word & 31
    if word & MRS_MASK != MRS or (op0, op1, crn) != (3, 0, 0) or crm == 1 or crm > 7:
        return False
    if crm == 0:
        if (crm, op2) not in (MIDR, MPIDR, REVIDR):
            return False
        value = {MIDR: None, MPIDR: MPIDR_USER, REVIDR: 0}[(crm, op2)]
    else:
        value = 0
    if value is None or (crm, op2) in ID_USER_VIEW:
        try:
            model = regs.read(f"id_{crm}_{op2}")
        except KeyError:
            model = 0
        shown, hidden = ID_USER_VIEW.get((crm, op2), (-1, 0))
        value = model & shown | hidden
    if rt != 31:
        regs.write(f"x{rt}", value)
    regs.write("pc", pc + 4)
    return True


def setup_cpu(regs: Registers, memory) -> None:
    """FP and SIMD on, EL0 as Linux leaves it: system registers of EL1 are
    undefined there (SIGILL); the counters, CTR_EL0, DC ZVA, TPIDR_EL0 and
    cache maintenance stay allowed. PSTATE first: Unicorn takes its EL into
    the translation flags only when a system register is written next."""
    regs.write("cpacr_el1", regs.read("cpacr_el1") | CPACR_FPEN)
    regs.write("pstate", PSTATE_EL0T)
    regs.write("sctlr_el1", regs.read("sctlr_el1") | SCTLR_EL0)
    regs.write("cntkctl_el1", regs.read("cntkctl_el1") | CNTKCTL_EL0VCTEN)


SPEC = ArchSpec(
    name="aarch64",
    aliases=("arm64", "armv8"),
    bits=64,
    big_endian=False,
    pc="pc",
    sp="sp",
    elf=ElfInfo(machine=183, triplet="aarch64-linux-gnu", debian="arm64",
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
        min_sigstksz=5120,              # arch/arm64/include/uapi/asm/signal.h
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
        system_registers=SYSTEM_REGISTERS,
        emulate=emulate,
    ),
    capstone=("ARM64", ("ARM",)),
    gdb=gdb.TARGET,
    signal_frames=Aarch64SignalFrames(),
)
