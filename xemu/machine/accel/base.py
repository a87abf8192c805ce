"""What every accelerator provides, and the Stop events a run ends with.

An accelerator runs guest code until something needs the host. System calls
are served through `syscall_handler` while the guest runs (no stop and
restart per call, which would cost more than the call itself); everything
else ends `run()` with one Stop, and the next `run()` resumes from the
registers as they are then.
"""
from __future__ import annotations

import array
import signal
from dataclasses import dataclass
from typing import Callable, Mapping, Protocol, Union

from ...archs.base import ArchSpec, Registers


@dataclass(frozen=True)
class Exit:
    """The guest asked to exit (exit, exit_group)."""
    status: int


BUS_ADRERR = 2           # si_code of a SIGBUS at an address with nothing behind it


@dataclass(frozen=True)
class Fault:
    """The guest would be killed by a signal."""
    signal: int
    pc: int
    address: int | None = None     # the faulting data address, if any
    access: str = ""               # "read", "write", "execute", or ""
    reason: str = ""               # e.g. "unmapped", "protection", "illegal instruction"
    raised: bool = False           # sent by the guest to itself (kill, tgkill, abort)
    code: int | None = None        # the si_code where the kind of fault needs one
                                   # (SIGBUS past a file's end: BUS_ADRERR at address)


@dataclass(frozen=True)
class Breakpoint:
    """A debugger's breakpoint: the instruction at pc has not run yet."""
    pc: int


@dataclass(frozen=True)
class Watchpoint:
    """A debugger's watchpoint: the guest touched address (access "write",
    "read" or "access"); pc is before or after that instruction, as the
    arch's gdb expects (GdbTarget.watch_stops_before_access)."""
    pc: int
    address: int
    access: str


@dataclass(frozen=True)
class Interrupted:
    """A debugger asked the running guest to stop (gdb's Ctrl-C)."""
    pc: int


@dataclass(frozen=True)
class Woken:
    """Something outside the guest needs the OS loop (a host signal, a
    timer): the accelerator stopped the guest between two instructions."""


@dataclass(frozen=True)
class Killed:
    """A debugger ended the guest."""
    by: str


@dataclass(frozen=True)
class Timeout:
    seconds: float


Stop = Union[Exit, Fault, Breakpoint, Watchpoint, Interrupted, Woken, Killed, Timeout]

FAULT_REASONS = {signal.SIGILL: "illegal instruction", signal.SIGFPE: "arithmetic exception",
                 signal.SIGTRAP: "trap", signal.SIGBUS: "misaligned access"}


def cpu_exception(sig: int, pc: int, number: int) -> Fault:
    """A fault raised by a CPU exception that touched no data address."""
    return Fault(sig, pc, None, "", FAULT_REASONS.get(sig, f"CPU exception {number}"))

# The signal that ends a run of the vCPU thread early (KVM_RUN returns
# EINTR) when a debugger or a timer interrupts the guest from another
# thread. (It is taken back by that thread and never reaches a handler, so a
# SIGUSR1 sent to xemu from outside still reaches the guest: kvm/kick.py.)
KICK_SIGNAL = signal.SIGUSR1



class RegistersSet:
    """A system call's answer when its handler has set the registers itself:
    the accelerator writes no result. (Unicorn still moves the pc and, on
    x86-64, writes rcx and r11 after a `syscall` trap: a call that restores
    a whole context, as sigreturn, returns a Stop and the OS loop does it.)"""

    def __repr__(self) -> str:
        return "REGISTERS_SET"


REGISTERS_SET = RegistersSet()

# Serves one system call: (number, six raw argument words) -> raw result,
# REGISTERS_SET, or a Stop to end the run (exit_group, a fatal signal).
SyscallHandler = Callable[[int, tuple], "int | RegistersSet | Stop"]


@dataclass(frozen=True)
class MachineCall:
    """A system call an accelerator may answer in machine code, without
    calling `syscall_handler` (TCG's compiled part; a system call in Python
    costs microseconds). The Linux layer says which calls and how, as data;
    the accelerator serves only the plain case and gives the handler
    anything else (a clock it does not know, a pointer into memory that is
    not plainly writable, a time zone to fill).

    kind "host": the host's own call of host_number, no arguments (getpid);
    an answer above limit (when not 0) is overflow instead (16-bit ids).
    "clock": clock_gettime of a clock in `clocks` (a bit per id) into a
    struct of two fields of `word` bytes. "timeofday": gettimeofday into
    the same shape, with no time zone. "time": time(NULL). "write":
    write(2) of a buffer in one region to the host descriptor that
    `descriptors` (an array('i') by guest descriptor, which the caller
    keeps true and in place) names, -1 where the handler must."""
    kind: str
    host_number: int = 0
    limit: int = 0
    overflow: int = 0
    word: int = 0
    clocks: int = 0
    descriptors: array.array | None = None


MACHINE_CALL_KINDS = ("python", "host", "clock", "timeofday", "time", "write")   # XS_*


class Accelerator(Protocol):
    name: str
    # True if CPUs of this kind may run guest code at the same time (KVM's
    # vCPUs); False if one at a time keeps guest atomics atomic (TCG)
    parallel: bool
    spec: ArchSpec
    regs: Registers
    syscall_handler: SyscallHandler | None

    def run(self, timeout: float | None = None) -> Stop:
        """Run from the current registers to the next Stop."""

    def twin(self) -> Accelerator:
        """A CPU for another thread of the same program: same memory (and
        VM), a copy of these registers."""

    def wake(self) -> None:
        """Any thread: end the run soon with Woken (a signal, a timer or
        another thread's time slice needs the OS loop)."""

    def serve_in_machine(self, calls: Mapping[int, MachineCall]) -> None:
        """These calls (by number) may be answered without the handler,
        from now on; every other call reaches it. An accelerator without
        machine code for it ignores this."""

    @property
    def in_machine(self) -> dict[int, MachineCall]:
        """The calls answered without the handler (empty where none are)."""

    def forget_code(self, start: int, end: int) -> None:
        """Guest code in [start, end) may have changed behind the CPU's back
        (a cache flush the guest asked for): drop what was made of it."""
