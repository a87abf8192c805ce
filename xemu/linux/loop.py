"""The OS loop, as QEMU's cpu_loop: run a thread's guest code until
something needs the operating system, handle it, and resume.

System calls do not come through here: they are served inside the trap,
while the accelerator runs (the fast path). What does come here is every
Stop: a thread's exit, a fault, and whatever a handler returns to leave the
accelerator. Each kind of Stop has one handler below, which answers None
(resume the guest) or the Stop that ends this thread's run.
"""
from __future__ import annotations

from typing import Callable

from ..errors import GuestMemoryError
from ..machine.accel.base import Exit, Fault, Stop, Woken
from .exec import Exec, commit_exec
from .fork import Clone, clone, in_vfork_child, leave_vfork_child
from .signals import SignalReturn, SignalsPending, deliver, fault_signal, sigreturn
from .thread import Thread, ThreadExit


def run_thread(thread: Thread, resume: Callable[[], Stop]) -> Stop:
    """Run thread to the Stop that ends it: resume() runs its guest code from
    its current registers to the next Stop. Signals due are delivered
    before each resume, as the kernel does on its way back to user mode."""
    while True:
        if thread.signals_due:
            final = deliver(thread)
            if final is not None:
                return process_end(thread, final)
            continue
        stop = resume()
        handler = STOP_HANDLERS.get(type(stop))
        final = stop if handler is None else handler(thread, stop)
        if final is not None:
            return final


def thread_exit(thread: Thread, stop: ThreadExit) -> Stop | None:
    """exit(2): the kernel clears the thread's clear_child_tid word (the
    futex its joiner waits on); the process ends with its last thread."""
    process = thread.process
    if in_vfork_child(thread):
        return process_end(thread, Exit(stop.status))
    if thread.clear_child_tid:
        try:
            process.mem.write(thread.clear_child_tid, bytes(4))
        except GuestMemoryError:
            pass                        # Linux ignores a bad address here too
    process.threads.pop(thread.tid, None)
    return Exit(stop.status) if not process.threads else stop


def fault(thread: Thread, stop: Fault) -> Stop | None:
    """A CPU fault: the guest's handler for its signal runs, or (no handler,
    or the signal blocked) the process ends."""
    final = fault_signal(thread, stop)
    return None if final is None else process_end(thread, final)


def signals_pending(thread: Thread, stop: SignalsPending) -> Stop | None:
    """A system call found signals due: its result (or its restart), then
    the signals."""
    final = deliver(thread, stop)
    return None if final is None else process_end(thread, final)


def signal_return(thread: Thread, stop: SignalReturn) -> Stop | None:
    """(rt_)sigreturn: back to where the signal interrupted the thread."""
    final = sigreturn(thread, stop.rt)
    return None if final is None else process_end(thread, final)


def woken(thread: Thread, stop: Woken) -> Stop | None:
    """A host signal or a timer stopped the guest: resume, delivering."""
    thread.signals_due = True
    return None


def process_end(thread: Thread, stop: Stop) -> Stop | None:
    """The process ends (exit_group, a fatal signal). A vfork child ending
    becomes a host process that ends so, for its parent to wait for."""
    if in_vfork_child(thread):
        return leave_vfork_child(thread, lambda child: stop)
    return stop


def execute(thread: Thread, stop: Exec) -> Stop | None:
    """execve found a program: start it in this process (a vfork child's
    exec is where its own host process begins)."""
    if in_vfork_child(thread):
        return leave_vfork_child(thread, lambda child: commit_exec(child, stop))
    return commit_exec(thread, stop)


# Stop type -> its handler; any other Stop (a timeout, a debugger's) ends
# the run as it is.
STOP_HANDLERS: dict[type, Callable[[Thread, Stop], Stop | None]] = {
    ThreadExit: thread_exit,
    Exit: process_end,
    Fault: fault,
    Clone: clone,
    Exec: execute,
    SignalsPending: signals_pending,
    SignalReturn: signal_return,
    Woken: woken,
}
