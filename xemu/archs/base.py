"""The data every guest architecture fills in.

An arch package holds one `SPEC = ArchSpec(...)`. Everything outside
`xemu/archs/` asks the spec instead of asking which arch it runs: register
names for the syscall ABI, how errors are returned, struct alignment, flag
values that differ from the host's, the auxv entries, the CPU set-up.
Registers are named as the arch's manuals name them ("r3", "x8", "rax");
each accelerator maps the names to its own identifiers.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Mapping, Protocol


class Registers(Protocol):
    """What arch set-up code may do to a CPU, whatever the accelerator.
    A register the accelerator does not keep raises KeyError."""

    def read(self, name: str) -> int: ...

    def write(self, name: str, value: int) -> None: ...


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
class ArchSpec:
    name: str
    aliases: tuple[str, ...]
    bits: int
    big_endian: bool
    elf_machine: str                    # pyelftools' e_machine name
    uname_machine: str                  # what uname(2) reports to the guest
    platform: str                       # AT_PLATFORM
    hwcap: int
    hwcap2: int
    unicorn: tuple[int, int, int | None]    # (arch, mode, cpu model or None)
    capstone: tuple[str, tuple[str, ...]]   # capstone's CS_ARCH_* and CS_MODE_* names
    pc: str
    sp: str
    syscall: SyscallABI
    trap: Trap
    syscall_numbers: Mapping[str, int]
    # Layout of the user address space (page aligned).
    stack_top: int
    mmap_base: int
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
    # Terminal ioctl numbers (PowerPC's differ).
    ioctls: Mapping[str, int] = field(default_factory=lambda: {
        "TCGETS": 0x5401, "TIOCGWINSZ": 0x5413})
    # Register names the accelerator should know beyond the ABI's, mapped to
    # the Unicorn constant suffix where it differs (ppc "r3" is UC_PPC_REG_3).
    unicorn_register_names: Mapping[str, str] = field(default_factory=dict)
    # The register the thread pointer lives in (set by set_tls, arch_prctl...).
    tls_register: str | None = None
    # Syscalls only this arch has (i386 set_thread_area, x86-64 arch_prctl):
    # name -> handler with the generic handler signature.
    syscall_handlers: Mapping[str, Callable] = field(default_factory=dict)
    # CPU state Linux sets up before a program runs (FPU on, segments...):
    # (registers, memory) -> None. Memory is there for tables such as a GDT.
    setup_cpu: Callable[[Registers, object], None] = lambda regs, memory: None
    # Interrupt numbers (Unicorn) that mean a guest fault, and their signal.
    fault_interrupts: Mapping[int, int] = field(default_factory=dict)
    # Refines a CPU exception the accelerator reports coarsely:
    # (interrupt number, pc, memory) -> (signal, pc of the instruction) or None.
    classify_exception: Callable[[int, int, object], tuple[int, int] | None] | None = None
    # (register, bit, capstone mode names) when a state bit switches the
    # instruction set, as ARM's CPSR.T selects Thumb.
    alternate_isa: tuple[str, int, tuple[str, ...]] | None = None
    # (address, size) ranges the arch's set-up maps for itself (i386's GDT).
    reserved: tuple[tuple[int, int], ...] = ()
    # The registers and target description the GDB stub offers (archs/<arch>/gdb.py).
    gdb: GdbTarget | None = None

    @property
    def word_size(self) -> int:
        return self.bits // 8

    @property
    def endian(self) -> str:
        """struct-module byte order character."""
        return ">" if self.big_endian else "<"

    @cached_property
    def syscall_names(self) -> dict[int, str]:
        return {number: name for name, number in self.syscall_numbers.items()}
