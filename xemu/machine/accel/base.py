"""What every accelerator provides, and the Stop events a run ends with.

An accelerator runs guest code until something needs the host. System calls
are served through `syscall_handler` while the guest runs (no stop and
restart per call, which would cost more than the call itself); everything
else ends `run()` with one Stop, and the next `run()` resumes from the
registers as they are then.
"""
from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Callable, Protocol, Union

from ...archs.base import ArchSpec, Registers


@dataclass(frozen=True)
class Exit:
    """The guest asked to exit (exit, exit_group)."""
    status: int


@dataclass(frozen=True)
class Fault:
    """The guest would be killed by a signal."""
    signal: int
    pc: int
    address: int | None = None     # the faulting data address, if any
    access: str = ""               # "read", "write", "execute", or ""
    reason: str = ""               # e.g. "unmapped", "protection", "illegal instruction"
    raised: bool = False           # sent by the guest to itself (kill, tgkill, abort)


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

    def forget_code(self, start: int, end: int) -> None:
        """Guest code in [start, end) may have changed behind the CPU's back
        (a cache flush the guest asked for): drop what was made of it."""
