"""One guest thread: what Linux keeps per task rather than per process.

A Process (process.py) holds what every thread of it shares: memory, file
descriptors, cwd, the program break, signal dispositions, the root. A
Thread holds its CPU (an accelerator), its id, its signal mask and
alternate stack, and the address the kernel clears when it exits
(CLONE_CHILD_CLEARTID, set_tid_address).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Protocol

from ..archs.base import ArchSpec, Registers
from ..machine.memory import Memory
from .process import Process
from .sched import RINGING
from .signals import SignalQueue


@dataclass
class Thread:
    process: Process
    tid: int
    accel: object | None = None      # the accelerator running this thread's CPU
    blocked: int = 0                 # the signal mask (bit n-1: signal n)
    pending: SignalQueue = field(default_factory=SignalQueue)   # sent to this thread
    # (ss_sp, ss_flags, ss_size), or None: never set
    sigaltstack: tuple[int, int, int] | None = None
    clear_child_tid: int = 0        # guest address zeroed (and woken) at exit
    # True when a signal may be deliverable: tested after every system call
    signals_due: bool = False
    # The mask sigsuspend replaced, which the handler's frame saves
    saved_mask: int | None = None
    # What signal frames could not hold, by frame address (SignalFrames)
    kept_frames: dict = field(default_factory=dict)
    robust_list: int = 0             # set_robust_list's head: released at death
    killed: bool = False             # another thread's exec ends this one
    name: bytes | None = None        # prctl(PR_SET_NAME); None: the program's name
    # Rung to end the thread's wait (a signal, a futex wake, the process's
    # end): an eventfd that every blocking call polls
    wake_fd: int = field(default_factory=lambda: os.eventfd(
        0, os.EFD_NONBLOCK | os.EFD_CLOEXEC))

    def ring(self) -> None:
        """From any thread: end this thread's wait (signals.wait_for)."""
        with RINGING:
            if self.wake_fd >= 0:
                os.eventfd_write(self.wake_fd, 1)

    def drain(self) -> None:
        try:
            os.eventfd_read(self.wake_fd)
        except OSError:
            pass

    def renew(self) -> None:
        """In a forked child: a wake descriptor of its own (the inherited
        one is the parent's too, which would take this one's rings)."""
        self.close()
        with RINGING:
            self.wake_fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)

    def close(self) -> None:
        """The thread is gone: its wake descriptor closes."""
        with RINGING:
            if self.wake_fd >= 0:
                os.close(self.wake_fd)
                self.wake_fd = -1

    @property
    def regs(self) -> Registers | None:
        return self.accel.regs if self.accel is not None else None


@dataclass(frozen=True)
class ThreadExit:
    """A Stop: this thread called exit(2). The process ends with it only when
    it is the last thread (exit_group ends them all: machine's Exit)."""
    status: int


class Machine(Protocol):
    """What the Linux layer asks of the composition root, which alone
    decides how CPUs are made (which accelerator, what is traced)."""

    def new_cpu(self, spec: ArchSpec, memory: Memory, argv: list[bytes]) -> object:
        """A CPU for a program exec starts (its arch may differ)."""

    def bind(self, thread: Thread) -> None:
        """Serve the thread's system calls from its accelerator."""

    def cpu_for_thread(self, accel: object) -> object:
        """A CPU for a new thread of the same process, over the same memory,
        its registers a copy of accel's (the parent thread's)."""

    def run_thread(self, thread: Thread, body) -> None:
        """Start a host thread running body(thread), the guest thread's OS
        loop, with what the run needs around it (its host signal mask)."""

    def cpu_in_child(self, accel: object, context: object) -> object:
        """After a host fork, in the child: the CPU to go on with (a KVM VM
        belongs to the process that made it), holding context."""

    def forked(self, child: bool) -> None:
        """After a host fork, on each side: what the run itself must redo
        (in the child: --timeout's timer, which fork does not inherit, and
        leaving gdb to the parent)."""
