"""32-bit x86 (i686), Linux's `int 0x80` ABI.

Thread-local storage on i386 is a segment: glibc asks set_thread_area for a
GDT entry and loads its selector into %gs. xemu keeps a GDT in a page of
the guest's kernel half (above stack_top) for that.
"""
import ctypes
import errno
import signal as host_signal   # the name `signal` is this package's signal.py
import struct

from unicorn import UC_ARCH_X86, UC_MODE_32

from ..base import (CLONE_BACKWARDS, UID16_ENTRY_POINTS, ArchSpec, CloneABI, ElfInfo,
                    KernelPage, LinuxABI, Registers, SyscallABI, TcgInfo, Trap)
from . import gdb, structs
from .signal import FRAMES as SIGNAL_FRAMES
from .syscalls import NUMBERS

GDT_BASE = 0xFFFFE000            # one page, beyond the user address space
GDT_ENTRIES = 32
# The user code and data segments where an i386 kernel has them (and xemu's
# KVM compat mode: 14, 15): selectors 0x73 and 0x7b, RPL 3.
GDT_ENTRY_USER_CS, GDT_ENTRY_USER_DS = 14, 15
USER_CS, USER_DS = GDT_ENTRY_USER_CS << 3 | 3, GDT_ENTRY_USER_DS << 3 | 3
EFLAGS_IF, EFLAGS_VM = 1 << 9, 1 << 17
FLAT_LIMIT = 0xFFFFF             # 4 GiB in pages
# user_desc flag bits, as set_thread_area receives them
SEG_32BIT, SEG_CODE, LIMIT_IN_PAGES, USEABLE = 1 << 0, 2 << 1, 1 << 4, 1 << 6
GDT_ENTRY_TLS_MIN = 6            # i386's three TLS slots: 6, 7, 8
GDT_ENTRY_TLS_COUNT = 3
HWCAP_CPUID_EDX = 0x078BFBFF     # fpu..sse2, as a Pentium 4-class CPU reports
EXCP_GP = 13                     # general protection: SIGSEGV
X86_INTERRUPT_SIGNALS = {0: host_signal.SIGFPE, 1: host_signal.SIGTRAP, 3: host_signal.SIGTRAP,
                         4: host_signal.SIGSEGV, 5: host_signal.SIGSEGV, 6: host_signal.SIGILL,
                         13: host_signal.SIGSEGV, 14: host_signal.SIGSEGV, 16: host_signal.SIGFPE,
                         17: host_signal.SIGBUS, 19: host_signal.SIGFPE}


FPU_CONTROL_DEFAULT = 0x37F       # what `finit` (and Linux) give: 64-bit mantissa
MXCSR_DEFAULT = 0x1F80            # SSE exceptions masked, round to nearest


def reset_fpu(regs: Registers) -> None:
    """The x87 and SSE state Linux starts a process with. Unicorn's reset
    leaves the x87 control word at 0: single precision, which silently
    rounds every double computed on the x87 stack."""
    regs.write("fpcw", FPU_CONTROL_DEFAULT)
    regs.write("mxcsr", MXCSR_DEFAULT)


def setup_cpu(regs: Registers, memory) -> None:
    """Flat 32-bit user code and data segments (DPL 3), and CPL 3 as Linux
    runs a program: hlt, cli, in/out, moves to and from control and debug
    registers raise #GP there (SIGSEGV). Unicorn starts at CPL 0, and a
    segment write there cannot load SS with a DPL-3 segment, whose DPL is
    what sets the CPL; in virtual-8086 mode every segment load is DPL 3, so
    SS is loaded once that way, then again from the GDT at CPL 3 (which
    also makes the stack 32-bit)."""
    flat = SEG_32BIT | LIMIT_IN_PAGES
    memory.write(GDT_BASE + GDT_ENTRY_USER_CS * 8,
                 segment_descriptor(0, FLAT_LIMIT, flat | SEG_CODE))
    memory.write(GDT_BASE + GDT_ENTRY_USER_DS * 8, segment_descriptor(0, FLAT_LIMIT, flat))
    regs.write("gdtr", (0, GDT_BASE, GDT_ENTRIES * 8 - 1, 0))
    regs.write("eflags", regs.read("eflags") | EFLAGS_VM)
    regs.write("ss", USER_DS)
    regs.write("eflags", EFLAGS_IF)             # as start_thread leaves it
    for segment in ("ss", "ds", "es"):
        regs.write(segment, USER_DS)
    regs.write("cs", USER_CS)
    reset_fpu(regs)


# QEMU's x86 keeps the exception being delivered ("in flight") to turn a
# second contributory fault during its delivery into a double fault. It
# forgets it when the delivery ends, and Unicorn's interrupt hook takes the
# place of the delivery: the next #GP of the program would be a #DF, the one
# after a triple fault. The field is not a register Unicorn offers; in its
# CPU context (QEMU's CPUX86State) it follows dr[8] and four breakpoint
# pointers, so it is found by writing known values into dr0-dr3.
DR_MARKS = struct.pack("<4Q", 0x58454D30, 0x58454D31, 0x58454D32, 0x58454D33)
IN_FLIGHT_AFTER_DR = 8 * 8 + 4 * ctypes.sizeof(ctypes.c_void_p)
_in_flight_offset: list[int] = []       # found once per xemu process


def forget_exception(regs: Registers) -> None:
    """After a CPU exception the interrupt hook took: none is in flight.
    (regs is Unicorn's: save() gives a UcContext, whose bytes these are.)"""
    context = regs.save()
    address = ctypes.cast(context.context, ctypes.c_void_p).value
    if not _in_flight_offset:
        for i in range(4):
            regs.write(f"dr{i}", struct.unpack_from("<Q", DR_MARKS, 8 * i)[0])
        marked = regs.save()
        raw = ctypes.string_at(ctypes.cast(marked.context, ctypes.c_void_p).value, marked.size)
        _in_flight_offset.append(raw.find(DR_MARKS))
    if _in_flight_offset[0] >= 0:       # else not found: a double fault may follow
        field = ctypes.c_int32.from_address(address + _in_flight_offset[0] + IN_FLIGHT_AFTER_DR)
        if -1 <= field.value < 32:      # an exception number: the layout is as read
            field.value = -1
    regs.restore(context)


def segment_descriptor(base: int, limit: int, flags: int, dpl: int = 3) -> bytes:
    """An 8-byte GDT descriptor from a struct user_desc's fields.

    flags is user_desc's bitfield word: seg_32bit, contents (2 bits),
    read_exec_only, limit_in_pages, seg_not_present, useable.
    """
    seg_32bit = flags & 1
    contents = (flags >> 1) & 3
    read_exec_only = (flags >> 3) & 1
    limit_in_pages = (flags >> 4) & 1
    not_present = (flags >> 5) & 1
    useable = (flags >> 6) & 1
    access = (0x10 | (contents << 2) | ((read_exec_only ^ 1) << 1)
              | (dpl << 5) | ((not_present ^ 1) << 7))
    granularity = (limit_in_pages << 3) | (seg_32bit << 2) | useable
    low = (limit & 0xFFFF) | ((base & 0xFFFF) << 16)
    high = (((base >> 16) & 0xFF) | (access << 8) | (limit & 0xF0000)
            | (granularity << 20) | (base & 0xFF000000))
    return struct.pack("<II", low, high)


def set_thread_area(process, u_info: int) -> int:
    """set_thread_area(struct user_desc *): install a TLS segment in the GDT."""
    entry, base, limit, flags = struct.unpack("<iIII", process.mem.read(u_info, 16))
    if entry == -1:
        entry = GDT_ENTRY_TLS_MIN
        process.mem.write(u_info, struct.pack("<i", entry))
    if not GDT_ENTRY_TLS_MIN <= entry < GDT_ENTRY_TLS_MIN + GDT_ENTRY_TLS_COUNT:
        return -errno.EINVAL
    process.mem.raw.write(GDT_BASE + entry * 8, segment_descriptor(base, limit, flags))
    return 0


def set_clone_tls(process, regs: Registers, u_info: int) -> None:
    """clone's CLONE_SETTLS: the GDT entry as set_thread_area makes it, and
    %gs loaded again so the new thread's segment has its base. (The GDT is
    one for the process: a thread that reloads %gs later, as sigreturn
    does, reads the entry the latest thread set.)"""
    if set_thread_area(process, u_info) == 0:
        regs.write("gs", regs.read("gs"))


SPEC = ArchSpec(
    name="i386",
    aliases=("x86", "i686", "i486", "i586", "ia32"),
    bits=32,
    big_endian=False,
    pc="eip",
    sp="esp",
    elf=ElfInfo(machine=3, triplet="i686-linux-gnu", debian="i386",
                cpp_defines=("-D__i386__",)),
    linux=LinuxABI(
        syscall=SyscallABI(number="eax", args=("ebx", "ecx", "edx", "esi", "edi", "ebp"),
                           result="eax", instruction_size=2),       # int 0x80
        syscall_numbers=NUMBERS,
        uname_machine="i686",
        platform="i686",
        hwcap=HWCAP_CPUID_EDX,
        stack_top=0xbf000000,
        task_size=GDT_BASE,             # IA32_PAGE_OFFSET: an x86-64 kernel runs i386
        mmap_base=0x40000000,
        int64_align=4,
        structs=structs.LAYOUTS,
        clone=CloneABI(args=CLONE_BACKWARDS, tls="user_desc", set_tls=set_clone_tls),
        syscall_handlers={"set_thread_area": set_thread_area},
        # syscall 90 takes a pointer to its six arguments (glibc uses mmap2,
        # older code and hand-written assembly still call it)
        syscall_entry_points={"mmap": "old_mmap", "select": "old_select",
                              **UID16_ENTRY_POINTS},
        exception_signals=X86_INTERRUPT_SIGNALS,
        reserved=(KernelPage(GDT_BASE, 0x1000),),
    ),
    tcg=TcgInfo(
        engine=(UC_ARCH_X86, UC_MODE_32, None),
        trap=Trap("interrupt", 0x80),
        setup_cpu=setup_cpu,
        after_exception=forget_exception,
        port_io_fault=EXCP_GP,
    ),
    capstone=("X86", ("32",)),
    gdb=gdb.TARGET,
    kvm_mode="compat",
    signal_frames=SIGNAL_FRAMES,
)
