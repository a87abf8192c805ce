"""32-bit ARM, EABI hard-float (armhf): a Cortex-A15 with VFPv4 and NEON.
Programs may start in Thumb state (entry address with bit 0 set)."""
import struct
from errno import EINVAL
from signal import SIGBUS, SIGILL, SIGSEGV, SIGTRAP

from unicorn import UC_ARCH_ARM, UC_MODE_ARM
from unicorn.arm_const import UC_CPU_ARM_CORTEX_A15

from ..base import (CLONE_BACKWARDS, PAGE, UID16_ENTRY_POINTS, ArchSpec, CloneABI, ElfInfo,
                    IsaSwitch, KernelPage, LinuxABI, Registers, SyscallABI, TcgInfo, Trap)
from ...errors import GuestMemoryError
from . import gdb, structs
from .signal import ArmSignalFrames
from .syscalls import NUMBERS

PROT_READ, PROT_EXEC = 1, 4
CPACR_CP10_CP11_FULL = 0xF << 20     # let user code use VFP/NEON
FPEXC_EN = 1 << 30                   # VFP unit on
CPSR_T = 1 << 5                      # executing Thumb instructions
CPSR_IT = 0x3F << 10 | 0x3 << 25     # the IT block's state (Thumb-2 conditional execution)
USR_MODE = 0x10                      # CPSR.M of user mode: what Linux starts a program in

HWCAP = {"swp": 1 << 0, "half": 1 << 1, "thumb": 1 << 2, "fast_mult": 1 << 4,
         "vfp": 1 << 6, "edsp": 1 << 7, "neon": 1 << 12, "vfpv3": 1 << 13,
         "tls": 1 << 15, "vfpv4": 1 << 16, "idiva": 1 << 17, "idivt": 1 << 18,
         "vfpd32": 1 << 19, "lpae": 1 << 20}

# ARM exception numbers (EXCP_*) as Unicorn's interrupt hook reports them.
# A data abort reaches the interrupt hook only for alignment: unmapped and
# protected memory are reported through the memory hooks instead.
EXCP_UDEF, EXCP_SWI, EXCP_PREFETCH_ABORT, EXCP_DATA_ABORT, EXCP_BKPT = 1, 2, 3, 4, 7


# yield and wfe: QEMU's system mode raises EXCP_YIELD / EXCP_HLT for them,
# which Unicorn reports as an invalid instruction with the pc past it.
# (cond bits masked in ARM state; Thumb's 16-bit and Thumb-2's 32-bit forms)
ARM_HINTS = {0x0320F001, 0x0320F002}
THUMB_HINTS = {0xBF10, 0xBF20}
THUMB2_HINTS = {0xF3AF8001, 0xF3AF8002}


def after_yield_hint(regs: Registers, memory) -> bool:
    """The instruction before the pc is yield or wfe. (The pc alone cannot
    tell a hint from an undefined instruction right after one: both stop
    with the pc there. The accelerator tells them apart by a step.)"""
    pc = regs.read("pc")
    try:
        if not regs.read("cpsr") & CPSR_T:
            return struct.unpack("<I", memory.read(pc - 4, 4))[0] & 0x0FFFFFFF in ARM_HINTS
        if struct.unpack("<H", memory.read(pc - 2, 2))[0] in THUMB_HINTS:
            return True
        high, low = struct.unpack("<HH", memory.read(pc - 4, 4))
        return (high << 16 | low) in THUMB2_HINTS
    except GuestMemoryError:
        return False


def setup_cpu(regs: Registers, memory) -> None:
    """VFP and NEON on, then user mode as Linux's start_thread leaves it
    (CPSR 0x10: USR, ARM state, interrupts unmasked): privileged coprocessor
    registers, SPSR, FPEXC are undefined there (SIGILL), cps does nothing,
    TPIDRURO stays readable. Unicorn banks SP with the mode, so this comes
    before the stack pointer is set."""
    regs.write("c1_c0_2", regs.read("c1_c0_2") | CPACR_CP10_CP11_FULL)
    regs.write("fpexc", FPEXC_EN)
    regs.write("cpsr", USR_MODE)


# The kuser helpers page (arch/arm/kernel/entry-armv.S, Documentation/arm/
# kernel_user_helpers.rst): code the kernel maps at 0xffff0000 in every
# process, at fixed addresses programs call (Go's runtime on GOARM<7 for
# every atomic, old glibc and Android for TLS and barriers). xemu's copy,
# assembled from the ARMv7 forms the kernel uses on SMP:
KUSER_PAGE = 0xFFFF0000
KUSER_HELPERS = {
    # __kuser_cmpxchg64(r0 &old, r1 &new, r2 ptr): r0 = 0 and C set if stored
    0xF60: (0xE92D00F0,     # push    {r4, r5, r6, r7}
            0xE1C040D0,     # ldrd    r4, r5, [r0]
            0xE1C160D0,     # ldrd    r6, r7, [r1]
            0xE1B20F9F,     # 1: ldrexd r0, r1, [r2]
            0xE0303004,     # eors    r3, r0, r4
            0x00313005,     # eorseq  r3, r1, r5
            0x01A23F96,     # strexdeq r3, r6, r7, [r2]
            0x03330001,     # teqeq   r3, #1
            0x0AFFFFF9,     # beq     1b
            0xE2730000,     # rsbs    r0, r3, #0
            0xE8BD00F0,     # pop     {r4, r5, r6, r7}
            0xE12FFF1E),    # bx      lr
    # __kuser_memory_barrier
    0xFA0: (0xF57FF05B,     # dmb     ish
            0xE12FFF1E),    # bx      lr
    # __kuser_cmpxchg(r0 old, r1 new, r2 ptr): r0 = 0 and C set if stored
    0xFC0: (0xE1923F9F,     # 1: ldrex r3, [r2]
            0xE0533000,     # subs    r3, r3, r0
            0x01823F91,     # strexeq r3, r1, [r2]
            0x03330001,     # teqeq   r3, #1
            0x0AFFFFFA,     # beq     1b
            0xE2730000,     # rsbs    r0, r3, #0
            0xE12FFF1E),    # bx      lr
    # __kuser_get_tls: TPIDRURO, where set_tls put it
    0xFE0: (0xEE1D0F70,     # mrc     p15, 0, r0, c13, c0, 3
            0xE12FFF1E),    # bx      lr
    # __kuser_helper_version: how many 32-byte helper slots there are
    0xFFC: (5,),
}


def kuser_page() -> bytes:
    page = bytearray(PAGE)
    for offset, words in KUSER_HELPERS.items():
        page[offset:offset + 4 * len(words)] = struct.pack(f"<{len(words)}I", *words)
    return bytes(page)


def set_tls(thread, value: int) -> int:
    """ARM's private set_tls call: the thread pointer lives in TPIDRURO."""
    thread.regs.write("c13_c0_3", value)
    return 0


def cacheflush(thread, start: int, end: int, flags: int) -> int:
    """ARM's private cacheflush (arch/arm/kernel/traps.c do_cache_op): code
    written to [start, end) is to run; EINVAL for flags, a reversed range
    or a start in no mapping. The range is cut at the end of its mapping."""
    region = thread.process.mem.region_at(start)
    if flags or end < start or region is None:
        return -EINVAL
    thread.accel.forget_code(start, min(end, region.end))
    return 0


SPEC = ArchSpec(
    name="arm",
    aliases=("armhf", "armv7", "armv7l", "arm32"),
    bits=32,
    big_endian=False,
    pc="pc",
    sp="sp",
    elf=ElfInfo(machine=40, triplet="arm-linux-gnueabihf", debian="armhf",
                cpp_defines=("-D__arm__", "-D__ARM_EABI__")),
    linux=LinuxABI(
        syscall=SyscallABI(number="r7", args=("r0", "r1", "r2", "r3", "r4", "r5"),
                           result="r0"),
        syscall_numbers=NUMBERS,
        uname_machine="armv7l",
        shmlba=4 * PAGE,                # asm/shmparam.h: VIPT caches may alias
        platform="v7l",
        hwcap=sum(HWCAP.values()),
        stack_top=0xbf000000,
        task_size=0xbf000000,           # PAGE_OFFSET (3G/1G) less 16 MiB of modules
        mmap_base=0x40000000,
        align_64bit_args=True,
        structs=structs.LAYOUTS,
        open_flags={"O_DIRECTORY": 0o40000, "O_NOFOLLOW": 0o100000,
                    "O_DIRECT": 0o200000, "O_LARGEFILE": 0o400000},
        tls_register="c13_c0_3",     # TPIDRURO, read by `mrc p15, 0, rX, c13, c0, 3`
        clone=CloneABI(args=CLONE_BACKWARDS),
        syscall_handlers={"ARM_set_tls": set_tls, "ARM_cacheflush": cacheflush},
        syscall_entry_points=UID16_ENTRY_POINTS,
        reserved=(KernelPage(KUSER_PAGE, PAGE, PROT_READ | PROT_EXEC, kuser_page(),
                             "[vectors]"),),
        exception_signals={EXCP_UDEF: SIGILL, EXCP_PREFETCH_ABORT: SIGSEGV,
                           EXCP_DATA_ABORT: SIGBUS, EXCP_BKPT: SIGTRAP},
    ),
    tcg=TcgInfo(
        engine=(UC_ARCH_ARM, UC_MODE_ARM, UC_CPU_ARM_CORTEX_A15),
        trap=Trap("interrupt", EXCP_SWI),
        setup_cpu=setup_cpu,
        after_yield_hint=after_yield_hint,
        fill_clears=("cpsr", CPSR_IT),
    ),
    capstone=("ARM", ("ARM",)),
    isa_switch=IsaSwitch("cpsr", CPSR_T, ("THUMB",)),
    gdb=gdb.TARGET,
    signal_frames=ArmSignalFrames(),
)
