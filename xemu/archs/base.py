"""The data every guest architecture fills in.

An arch package holds one `SPEC = ArchSpec(...)`. Everything outside
`xemu/archs/` asks the spec instead of asking which arch it runs: register
names for the syscall ABI, how errors are returned, struct alignment, flag
values that differ from the host's, the auxv entries, the CPU set-up.
Registers are named as the arch's manuals name them ("r3", "x8", "rax");
each accelerator maps the names to its own identifiers.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Mapping, NamedTuple, Protocol

from .ioctls import GENERIC as GENERIC_TERMBITS, GENERIC_IOCTLS, Termbits


# The page size of every arch here: Linux's 4 KiB (xemu sets Unicorn's Arm
# targets to it too). Memory, loader and the Linux layer all use this one.
PAGE = 0x1000
# The gap Linux keeps between the stack and the highest mapping below it.
STACK_GAP = 16 << 20
# Linux's mmap_min_addr as distributions set it (vm.mmap_min_addr = 65536):
# no mapping a program asks for may start below it.
MMAP_MIN_ADDR = 0x10000


class KernelPage(NamedTuple):
    """Memory Linux maps into every process of an arch, beyond the user
    range where no guest call reaches it: i386's and x86-64's GDTs as xemu
    lays them out (filled by the CPU set-up), ARM's kuser helpers page."""
    start: int
    size: int
    perms: int = 3                  # PROT_READ | PROT_WRITE
    data: bytes = b""               # written at start when the page is mapped
    name: str = "[kernel]"          # as /proc/self/maps shows it


class Registers(Protocol):
    """What arch set-up code may do to a CPU, whatever the accelerator.
    A register the accelerator does not keep raises KeyError."""

    def read(self, name: str) -> int: ...

    def write(self, name: str, value: int) -> None: ...

    def save(self) -> object:
        """The whole CPU context (all registers, FPU and vector state)."""

    def restore(self, context: object) -> None:
        """Put back a context save() returned."""


@dataclass(frozen=True)
class SyscallABI:
    """Where a Linux system call finds its number and arguments.

    error_flag: PowerPC reports failure with a bit (CR0.SO) and a positive
    errno; every other arch here returns -errno in the result register.
    """

    number: str
    args: tuple[str, ...]
    result: str
    error_flag: tuple[str, int] | None = None
    # Bytes of the syscall instruction: a restarted call (SA_RESTART) goes
    # back this far.
    instruction_size: int = 4


@dataclass(frozen=True)
class Trap:
    """How a syscall instruction reaches xemu under translation.

    kind "interrupt": Unicorn's interrupt hook with this interrupt number;
    kind "instruction": Unicorn's instruction hook (x86-64 `syscall`).
    """

    kind: str
    number: int


@dataclass(frozen=True)
class GdbRegister:
    """One register as gdb numbers and names it. Its place in the list is
    its place in the 'g' packet; regnum is given where gdb's numbering skips."""

    name: str
    bits: int
    type: str = "int"              # a gdb target-description type
    source: str | None = None      # the accelerator's name for it, where it differs
    group: str | None = None
    regnum: int | None = None
    # The bits a debugger may change, as ptrace lets it: a user program's own
    # (flags, not the privilege level or mode, which keep the CPU's value).
    # None: all of them.
    user_bits: int | None = None


@dataclass(frozen=True)
class GdbTarget:
    """What gdb needs to know of the CPU: target.xml's architecture and
    features, and whether a watchpoint stops before the access (gdb steps it
    itself, as on Arm and PowerPC) or after it (x86)."""

    architecture: str
    features: tuple[tuple[str, tuple[GdbRegister, ...]], ...]
    watch_stops_before_access: bool = True
    # Type definitions (target-description XML) a feature's registers use,
    # by feature name: the vector unions gdb shows as {v4_float = ...}.
    types: Mapping[str, str] = field(default_factory=dict)

    @cached_property
    def registers(self) -> dict[int, GdbRegister]:
        """gdb's register number -> register, in 'g' packet order."""
        numbered, number = {}, 0
        for _, registers in self.features:
            for register in registers:
                number = register.regnum if register.regnum is not None else number
                numbered[number] = register
                number += 1
        return numbered


def gdb_bank(prefix: str, count: int, bits: int, type: str = "int",
             source: str | None = None, **extra) -> tuple[GdbRegister, ...]:
    """prefix0..prefixN-1 (r0..r31, xmm0..xmm15), from source0.. if named."""
    return tuple(GdbRegister(f"{prefix}{i}", bits, type,
                             f"{source}{i}" if source else None, **extra)
                 for i in range(count))


@dataclass(frozen=True)
class CloneABI:
    """How clone(2) takes its arguments on this arch, and where a new
    thread's TLS goes (CLONE_SETTLS).

    args: the five arguments in the order the kernel reads them. x86-64 has
    the generic order; i386, ARM, AArch64 and PowerPC select the kernel's
    CONFIG_CLONE_BACKWARDS (the TLS before the child's tid pointer).
    tls: "register" (the value goes into LinuxABI.tls_register) or
    "user_desc" (i386: a pointer to a struct user_desc, as set_thread_area).
    set_tls: for "user_desc", (process, registers, value) -> None installs
    it for the thread whose registers these are.
    """

    args: tuple[str, ...] = ("flags", "stack", "parent_tid", "child_tid", "tls")
    tls: str = "register"
    set_tls: Callable | None = None


CLONE_BACKWARDS = ("flags", "stack", "parent_tid", "tls", "child_tid")


# sigaction flags: the same values on every arch here
SA_SIGINFO, SA_ONSTACK, SA_RESTART = 0x4, 0x08000000, 0x10000000
SA_NODEFER, SA_RESETHAND, SA_RESTORER = 0x40000000, 0x80000000, 0x04000000


@dataclass(frozen=True)
class SignalDelivery:
    """One signal going to a guest handler, as the Linux layer decided it;
    the arch's SignalFrames lay it out as its kernel would."""

    signum: int
    handler: int                  # guest address of the handler
    flags: int                    # the sigaction's sa_flags (SA_SIGINFO, SA_RESTORER...)
    restorer: int                 # sa_restorer, meaningful with SA_RESTORER
    siginfo: bytes                # siginfo_t (128 bytes), already packed for the arch
    blocked: int                  # the mask sigreturn restores (bit n-1: signal n)
    sp: int                       # build the frame below this: the thread's stack
                                  # pointer, or the top of its alternate stack
    altstack: tuple[int, int, int]    # (ss_sp, ss_flags, ss_size) for uc_stack
    trampoline: int               # where SignalFrames.trampoline is mapped (the
                                  # return path when there is no SA_RESTORER)
    switched: bool = False        # sp is the top of the alternate stack (x86-64
                                  # keeps its 128-byte red zone only when it is not)


# Where in SignalFrames.trampoline the old (non-rt) sigreturn code starts
OLD_SIGRETURN_OFFSET = 0x20


class Restored(NamedTuple):
    """What (rt_)sigreturn takes back from a frame besides the registers."""

    blocked: int                                   # the signal mask it saved
    # An rt frame's uc_stack (ss_sp, ss_flags, ss_size), which the kernel
    # makes the thread's alternate stack again (restore_altstack): what
    # SS_AUTODISARM took away at delivery, or what the handler put there.
    altstack: tuple[int, int, int] | None = None


def stack_t(endian: str, word: str, data: bytes, offset: int) -> tuple[int, int, int]:
    """(ss_sp, ss_flags, ss_size) of a stack_t: a pointer, an int (read as
    unsigned: SS_AUTODISARM is bit 31) and a size_t, each aligned."""
    code = endian + (f"{word}I4x{word}" if word == "Q" else f"{word}I{word}")
    return struct.unpack_from(code, data, offset)


class SignalFrames(Protocol):
    """An arch's signal frames (archs/<arch>/signal.py), as the kernel's
    arch/<arch>/kernel/signal*.c builds them. Registers are read and written
    by the arch's names, through whichever accelerator runs the thread."""

    # AT_MINSIGSTKSZ: the most stack a signal frame of this arch takes (with
    # its alignment), which the kernel tells a program in its auxiliary
    # vector; None where the arch's kernel does not (32-bit ARM).
    min_stack: int | None

    # Code the Linux layer maps (read and execute) in every process at
    # SignalDelivery.trampoline: rt_sigreturn at offset 0 and, on arches
    # with old frames, sigreturn at OLD_SIGRETURN_OFFSET (the arch's kernel
    # keeps the same in its vDSO or sigpage).
    trampoline: bytes

    def setup(self, regs: Registers, memory, delivery: SignalDelivery) -> tuple[int, object]:
        """Save the interrupted context (every register, FP and vector
        state, the mask) in a frame below delivery.sp, and set the registers
        to enter the handler: its arguments, stack, return address. An rt
        frame when delivery.flags has SA_SIGINFO or the arch has only rt
        frames, else the old one. Returns the frame's address and what the
        frame could not hold (state the accelerator cannot name, such as
        PowerPC's AltiVec registers under Unicorn: None if nothing), which
        restore gets back."""

    def restore(self, regs: Registers, memory, rt: bool,
                kept: Mapping[int, object]) -> Restored:
        """(rt_)sigreturn: find the frame from the stack pointer as the
        kernel does, put back every register it saved (the handler may have
        changed them in the frame), and return the blocked mask it saved
        and, from an rt frame, its uc_stack.
        kept: what setup returned, by frame address. Raises
        GuestMemoryError for a frame in unmapped memory."""


@dataclass(frozen=True)
class ElfInfo:
    """How the arch's programs are recognised and built."""

    machine: int                        # e_machine (the EM_* number)
    triplet: str                        # the GNU target triplet of Debian's cross tools
    debian: str                         # Debian's name for the arch (armhf, arm64...)
    # What the arch's C compiler predefines that its uapi headers test
    # (tools/gen_syscalls.py expands asm/unistd.h with them).
    cpp_defines: tuple[str, ...] = ()


# Linux's first uid_t had 16 bits. Arches that kept those calls (ARM and
# i386: CONFIG_HAVE_UID16) give them the plain names and the 32-bit ones
# names ending in 32; their tables map to the kernel's entry points so.
UID16_CALLS = ("chown", "lchown", "fchown", "setuid", "getuid", "setgid", "getgid",
               "geteuid", "getegid", "setreuid", "setregid", "getgroups", "setgroups",
               "setresuid", "getresuid", "setresgid", "getresgid", "setfsuid", "setfsgid")
UID16_ENTRY_POINTS = {**{name: name + "16" for name in UID16_CALLS},
                      **{name + "32": name for name in UID16_CALLS}}


@dataclass(frozen=True)
class LinuxABI:
    """What Linux looks like to a program of this arch: the system call
    convention and numbers, struct layouts and flag values that differ from
    the generic ones, the address-space layout, the auxiliary vector."""

    syscall: SyscallABI
    syscall_numbers: Mapping[str, int]
    uname_machine: str                  # what uname(2) reports to the guest
    platform: str                       # AT_PLATFORM
    hwcap: int
    hwcap2: int = 0
    # Layout of the user address space (page aligned).
    stack_top: int = 0
    mmap_base: int = 0
    # The kernel's TASK_SIZE: the end of the user address range. Every call
    # that maps or protects memory stays below it (and mappings at or above
    # mmap_min_addr), so a guest never reaches what lies beyond: the kernel
    # half, xemu's own pages there (i386's GDT, KVM's kernel area).
    # 0: stack_top.
    task_size: int = 0
    mmap_min_addr: int = MMAP_MIN_ADDR
    # The alignment shmat asks of an address (SHMLBA): 4 pages on ARM, whose
    # caches could alias, one elsewhere.
    shmlba: int = PAGE
    # The smallest alternate signal stack sigaltstack takes (the uapi's
    # MINSIGSTKSZ): 2048, but 5120 on AArch64, whose frames are larger.
    min_sigstksz: int = 2048
    # Entries an arch adds to the auxiliary vector, before the generic ones.
    auxv_extra: tuple[tuple[int, int], ...] = ()
    # 64-bit syscall arguments on a 32-bit arch take a register pair; ARM EABI
    # and PowerPC start the pair at an even register (pread64's offset skips one).
    align_64bit_args: bool = False
    # C alignment of 8-byte integers in structs: 4 on i386, 8 elsewhere.
    int64_align: int = 8
    # Kernel struct layouts that differ from the generic ones (linux/structs.py).
    structs: Mapping[str, tuple] = field(default_factory=dict)
    # Guest open(2) flag bits whose values differ from the host's (x86-64).
    open_flags: Mapping[str, int] = field(default_factory=dict)
    # Terminal and file ioctl numbers, and struct termios's bit values
    # (PowerPC's differ: archs/ppc/ioctls.py).
    ioctls: Mapping[str, int] = field(default_factory=lambda: GENERIC_IOCTLS)
    termbits: Termbits = GENERIC_TERMBITS
    # SOL_SOCKET option numbers that differ from asm-generic's: guest -> host
    # (PowerPC's six; linux/syscalls/sockets.py).
    socket_options: Mapping[int, int] = field(default_factory=dict)
    # Host errno -> the guest's, where the arch numbers errors differently
    # from the generic asm-generic/errno.h (MIPS, SPARC, Alpha would; the
    # five arches here do not, so their maps are empty).
    errno_map: Mapping[int, int] = field(default_factory=dict)
    # The register the thread pointer lives in (set by set_tls, arch_prctl,
    # clone's CLONE_SETTLS).
    tls_register: str | None = None
    clone: CloneABI = CloneABI()
    # Syscalls only this arch has (i386 set_thread_area, x86-64 arch_prctl):
    # name -> handler with the generic handler signature.
    syscall_handlers: Mapping[str, Callable] = field(default_factory=dict)
    # Where this arch's table names a call whose kernel entry point is
    # another generic one: i386's `mmap` (90) is the kernel's sys_old_mmap.
    syscall_entry_points: Mapping[str, str] = field(default_factory=dict)
    # CPU exception numbers (x86 vectors; QEMU's EXCP_* for the others) ->
    # the signal the kernel sends for them.
    exception_signals: Mapping[int, int] = field(default_factory=dict)
    # Refines a CPU exception the accelerator reports coarsely:
    # (exception number, pc, memory) -> (signal, pc of the instruction) or None.
    classify_exception: Callable[[int, int, object], tuple[int, int] | None] | None = None
    # Pages every process has beyond the user range (the x86 GDTs, ARM's
    # kuser helpers).
    reserved: tuple[KernelPage, ...] = ()

    @property
    def mmap_top(self) -> int:
        """The highest address a mapping or program segment may reach."""
        return self.stack_top - STACK_GAP

    @property
    def user_top(self) -> int:
        """The end of the user address range (TASK_SIZE)."""
        return self.task_size or self.stack_top

    @cached_property
    def ioctl_names(self) -> dict[int, str]:
        """Request number -> name, for the ioctl dispatcher."""
        return {number: name for name, number in self.ioctls.items()}


@dataclass(frozen=True)
class TcgInfo:
    """How Unicorn (TCG) runs the arch."""

    engine: tuple[int, int, int | None]    # Unicorn (arch, mode, cpu model or None)
    trap: Trap                              # how a syscall instruction reaches xemu
    # Register names beyond the ABI's, mapped to the Unicorn constant suffix
    # where it differs (ppc "r3" is UC_PPC_REG_3).
    register_names: Mapping[str, str] = field(default_factory=dict)
    # CPU state Linux sets up before a program runs (FPU on, segments...):
    # (registers, memory) -> None. Memory is there for tables such as a GDT.
    # It leaves the CPU in the arch's user mode (Unicorn starts it privileged),
    # so privileged instructions trap as under Linux.
    setup_cpu: Callable[[Registers, object], None] = lambda regs, memory: None
    # Where the CPU set-up left one instruction for the CPU to run, once, to
    # reach user mode (x86-64: Unicorn's 64-bit mode loads no CS or SS from a
    # register write, so an iretq does it, as the kernel leaves for a program).
    enter_user: int | None = None
    # System registers Unicorn reaches only as coprocessor registers, by the
    # arch's name: name -> the encoding Unicorn's CP_REG takes (without the value).
    system_registers: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    # (registers) -> None, after a CPU exception reached the interrupt hook,
    # which stands in for QEMU's delivery of it: what the delivery would have
    # reset (x86: the exception "in flight", else the next fault would be a
    # double fault).
    after_exception: Callable[[Registers], None] | None = None
    # (registers, memory, pc) -> True when the instruction at pc, which the
    # CPU refused at user level, is one the arch's Linux emulates for user
    # code (AArch64's reads of ID registers): done, its result written and
    # the pc past it. False: the signal, as for any other.
    emulate: Callable[[Registers, object, int], bool] | None = None
    # The exception an I/O port instruction raises in user mode (x86: #GP,
    # as Linux grants no port; Unicorn checks no I/O permission), or None.
    port_io_fault: int | None = None
    # (register, mask): state bits the compiled TLB fill clears at each data
    # fill, because Unicorn 2.1.x's fill leaves the faulting instruction's
    # copy of them behind while its block goes on (ARM's IT-block bits of
    # CPSR, which QEMU keeps 0 while a block runs; _tcgfast.c says more).
    fill_clears: tuple[str, int] | None = None
    # QEMU's -cpu name for the same model, so a reference run matches.
    qemu_cpu: str | None = None
    # How a new thread's engine gets its parent's registers: None, as a
    # Unicorn context (a copy of the CPU state); or these registers by name,
    # where the context holds pointers its engine frees (PowerPC's: moved
    # to another engine, both free them).
    thread_registers: tuple[str, ...] | None = None
    # (registers, memory) -> True when Unicorn's "invalid instruction" is a
    # hint QEMU ends a block on to let other CPUs run (ARM's yield and wfe),
    # the pc already past it: the guest goes on (another thread first).
    after_yield_hint: Callable[[Registers, object], bool] | None = None


class IsaSwitch(NamedTuple):
    """A state bit that switches the instruction set, as ARM's CPSR.T
    selects Thumb: (register, bit, capstone mode names while it is set)."""

    register: str
    bit: int
    capstone_modes: tuple[str, ...]
    syscall_size: int = 2          # the syscall instruction's bytes while it is set


@dataclass(frozen=True)
class ArchSpec:
    """One guest architecture, as data; the records group what each layer asks."""

    name: str
    aliases: tuple[str, ...]
    bits: int
    big_endian: bool
    pc: str
    sp: str
    elf: ElfInfo
    linux: LinuxABI
    tcg: TcgInfo
    capstone: tuple[str, tuple[str, ...]]   # capstone's CS_ARCH_* and CS_MODE_* names
    gdb: GdbTarget                           # registers and target description (gdb.py)
    isa_switch: IsaSwitch | None = None
    # The x86 CPU mode xemu's KVM accelerator builds for this arch's Linux
    # programs ("long", "compat"), or None where KVM cannot run them.
    kvm_mode: str | None = None
    # The arch's signal frames (archs/<arch>/signal.py, laid out as the
    # kernel's arch/<arch>/kernel/signal*.c), used to deliver a signal to a
    # guest handler; None until the arch has them.
    signal_frames: SignalFrames | None = None

    @property
    def word_size(self) -> int:
        return self.bits // 8

    @property
    def endian(self) -> str:
        """struct-module byte order character."""
        return ">" if self.big_endian else "<"

    @cached_property
    def syscall_names(self) -> dict[int, str]:
        return {number: name for name, number in self.linux.syscall_numbers.items()}
