"""Driving an accelerator for one run: --timeout, --gdb, --trace and
--stats set up around it, and the report a run ends with."""
from __future__ import annotations

import contextlib
import signal
import sys
import time
from typing import Callable, Iterator

from ..debug.stats import RunStats
from ..debug.trace import disassemble_one
from ..errors import EXIT_TIMEOUT, GuestTimeout
from ..machine.accel.base import Exit, Fault, Killed, Stop, Timeout
from ..machine.memory import Memory
from .request import RunRequest


@contextlib.contextmanager
def driving(accel, request: RunRequest,
            stats: RunStats | None = None) -> Iterator[Callable[[], Stop]]:
    """Yield resume(): run the guest from its current registers to its next
    Stop, within --timeout (measured from here), under gdb's control with
    --gdb, traced and counted with --trace and --stats. (With --gdb, the
    first resume is gdb's session; a later one, after the OS loop handled
    a Stop, runs on undebugged.)"""
    timeout = request.timeout
    deadline = time.monotonic() + timeout if timeout else None
    server = trace = stub = None
    if request.trace:
        from ..debug.trace import Trace
        trace = Trace(accel.spec, accel.memory, accel.regs, request.trace, request.trace_mode)
        accel.observe_code(trace, per_instruction=request.trace_mode == "insn")
    if stats is not None:
        stats.watch(accel)
    if request.gdb is not None:
        from ..debug.gdbstub import GdbStub, listen
        server = listen(request.gdb)
        stub = GdbStub(accel, server)

    def resume() -> Stop:
        nonlocal stub
        left = max(deadline - time.monotonic(), 1e-3) if deadline else None
        try:
            if stub is not None:
                session, stub = stub, None
                stop = session.serve(left)
            else:
                stop = accel.run(left)
        except GuestTimeout:
            stop = Timeout(timeout)
        return Timeout(timeout) if isinstance(stop, Timeout) else stop

    try:
        with alarm(timeout):
            yield resume
    finally:
        sys.stdout.flush()
        if stats is not None:
            stats.stop()
        if trace is not None:
            trace.close()
        if server is not None:
            server.close()


def report(stop: Stop, accel, memory: Memory) -> int:
    """The status a run ends with, and its one line on stderr if it did not
    simply exit."""
    if isinstance(stop, Exit):
        status = stop.status
    elif isinstance(stop, Fault):
        print(describe_fault(stop, accel, memory), file=sys.stderr, flush=True)
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
        words.append(f" {fault.access} at {fault.address:#x}")
    words.append(f", pc {fault.pc:#x}")
    region = memory.region_at(fault.pc)
    code = memory.read(fault.pc, min(16, region.end - fault.pc)) if region else b""
    text = disassemble_one(accel.spec, code, fault.pc, accel.regs) if code else None
    if text:
        words.append(f": {text}")
    elif fault.access == "execute":
        words.append(" (not mapped as code)")
    return "".join(words)
