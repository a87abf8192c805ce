"""Driving an accelerator for one run: --timeout, --gdb, --trace and
--stats set up around it, and the report a run ends with."""
from __future__ import annotations

import contextlib
import os
import resource
import signal
import sys
import time
from typing import NoReturn

from ..debug.stats import RunStats
from ..debug.trace import disassemble_one
from ..errors import EXIT_TIMEOUT, GuestTimeout, one_line
from ..machine.accel.base import Exit, Fault, Killed, Stop, Timeout
from ..machine.memory import Memory
from .request import RunRequest


class Driver:
    """Runs a guest's threads for one run: --timeout (one deadline for the
    whole run, and for every process it forks), --gdb, --trace, --stats."""

    def __init__(self, request: RunRequest, stats: RunStats | None = None):
        self.request, self.stats = request, stats
        self.timeout = request.timeout
        # one deadline from when xemu was asked: loading counts too
        self.deadline = request.started + self.timeout if self.timeout else None
        self.trace = self.stub = self.server = None
        self.forked_child = False             # True in a process the guest forked
        if request.trace:
            from ..debug.trace import Trace
            self.trace = Trace(None, None, None, request.trace, request.trace_mode)
        if request.gdb is not None:
            from ..debug.gdbstub import listen
            self.server = listen(request.gdb)

    def attach(self, accel) -> None:
        """Trace, count and debug this accelerator (a run's first, or the one
        exec or fork made)."""
        if self.trace is not None:
            self.trace.follow(accel.spec, accel.memory, accel.regs)
            accel.observe_code(self.trace, per_instruction=self.request.trace_mode == "insn")
        if self.stats is not None:
            self.stats.watch(accel)
        if self.server is not None and self.stub is None:
            from ..debug.gdbstub import GdbStub
            self.stub = GdbStub(accel, self.server)
        elif self.stub is not None:
            self.stub.follow(accel)

    def resume(self, accel) -> Stop:
        """Run the guest from its current registers to its next Stop."""
        left = max(self.deadline - time.monotonic(), 1e-3) if self.deadline else None
        try:
            stop = self.stub.serve(left) if self.stub is not None else accel.run(left)
        except GuestTimeout:
            stop = Timeout(self.timeout)
        return Timeout(self.timeout) if isinstance(stop, Timeout) else stop

    def end(self, stop: Stop) -> None:
        """The run's last Stop: gdb hears of it if it has not."""
        if self.stub is not None:
            self.stub.finish(stop)

    def in_forked_child(self) -> None:
        """fork does not pass on the timer, and gdb debugs the parent."""
        self.forked_child = True
        if self.deadline is not None:
            signal.setitimer(signal.ITIMER_REAL, max(self.deadline - time.monotonic(), 1e-3))
        if self.stub is not None:
            self.stub.leave()
            self.stub = None
        if self.server is not None:
            self.server.close()
            self.server = None

    def __enter__(self) -> Driver:
        self._alarm = alarm(max(self.deadline - time.monotonic(), 1e-3) if self.deadline else None)
        self._alarm.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        try:
            self._alarm.__exit__(*exc)
        finally:
            sys.stdout.flush()
            if self.stats is not None:
                self.stats.stop()
            if self.trace is not None:
                self.trace.close()
            if self.stub is not None:
                self.stub.leave()
            if self.server is not None:
                self.server.close()


def report(stop: Stop, accel, memory: Memory, quiet_signals: bool = False) -> int:
    """The status a run ends with, and its one line on stderr if it did not
    simply exit. quiet_signals: no line for a signal the guest sent (a
    forked child killed by its parent, as Linux says nothing then)."""
    if isinstance(stop, Exit):
        status = stop.status
    elif isinstance(stop, Fault):
        if not (quiet_signals and stop.raised):
            print(one_line(describe_fault(stop, accel, memory)), file=sys.stderr, flush=True)
        status = 128 + stop.signal
    elif isinstance(stop, Killed):
        print(f"xemu: guest killed by SIGKILL (from {stop.by})", file=sys.stderr, flush=True)
        status = 128 + signal.SIGKILL
    elif isinstance(stop, Timeout):
        print(f"xemu: guest stopped: --timeout of {stop.seconds:g} s reached",
              file=sys.stderr, flush=True)
        status = EXIT_TIMEOUT
    else:
        raise RuntimeError(f"unexpected stop {stop!r}")
    return status


def end_forked_child(status: int) -> NoReturn:
    """A process the guest forked ends as a C program's fork child does:
    output flushed, no interpreter shutdown (that is the parent's to do)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def end_by_signal(number: int) -> None:
    """End this process by the guest's fatal signal, so whoever waits for it
    sees WIFSIGNALED with that number (no core dump of xemu itself)."""
    sys.stdout.flush()
    sys.stderr.flush()
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if number not in (signal.SIGKILL, signal.SIGSTOP):     # these need no help
        signal.signal(number, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [number])
    os.kill(os.getpid(), number)


@contextlib.contextmanager
def alarm(seconds: float | None):
    """SIGALRM after seconds, raised as GuestTimeout where Python next runs:
    in a blocking system call, or when KVM_RUN returns EINTR."""
    if not seconds:
        yield
        return

    def expired(signum, frame):
        raise GuestTimeout()
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def describe_fault(fault: Fault, accel, memory: Memory) -> str:
    """One line: the signal, where, what was touched, and the instruction."""
    name = signal.Signals(fault.signal).name
    words = [f"xemu: guest killed by {name} ({signal.strsignal(fault.signal)})"]
    if fault.raised:
        return words[0] + ", raised by the guest itself"
    if fault.reason:
        words.append(f": {fault.reason}")
    if fault.address is not None and fault.access != "execute":
        words.append(f" {fault.access} at" if fault.access else " at")
        words.append(f" {fault.address:#x}")
    words.append(f", pc {fault.pc:#x}")
    region = memory.region_at(fault.pc)
    code = memory.read(fault.pc, min(16, region.end - fault.pc)) if region else b""
    text = disassemble_one(accel.spec, code, fault.pc, accel.regs) if code else None
    if text:
        words.append(f": {text}")
    elif fault.access == "execute":
        words.append(" (not mapped as code)")
    return "".join(words)
