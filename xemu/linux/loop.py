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

from ..machine.accel.base import Exit, Fault, Stop, Woken
from .exec import Exec, commit_exec
from .fork import Clone, clone, in_vfork_child, is_thread, leave_vfork_child
from .signals import (SignalReturn, SignalsPending, ThreadKilled, deliver, fault_signal,
                      sigreturn)
from .thread import Thread, ThreadExit
from .threads import end_other_threads, end_process, start_thread, thread_gone


def run_thread(thread: Thread, resume: Callable[[], Stop]) -> Stop:
    """Run thread to the Stop that ends it: resume() runs its guest code from
    its current registers to the next Stop. Signals due are delivered
    before each resume, as the kernel does on its way back to user mode.
    The thread holds its process's CPU lock throughout (sched.py), but
    while it waits, and while a vCPU that runs in parallel runs it. A Stop
    other than its own exit ends the whole process (threads.end_process)."""
    process = thread.process
    process.cpu.acquire(thread)
    try:
        stop = _run(thread, resume)
        if isinstance(stop, ThreadKilled):
            thread_gone(thread)
        elif not isinstance(stop, ThreadExit):
            end_process(process, stop, by=thread)
        return stop
    finally:
        process.cpu.release(thread)


def _run(thread: Thread, resume: Callable[[], Stop]) -> Stop:
    while True:
        if thread.signals_due:
            final = deliver(thread)
            if final is not None:
                return process_end(thread, final)
            continue
        if getattr(thread.accel, "parallel", False):    # (exec may change the kind of CPU)
            with thread.process.cpu.unlocked(thread):
                stop = resume()
        else:
            stop = resume()
        handler = STOP_HANDLERS.get(type(stop))
        final = stop if handler is None else handler(thread, stop)
        if final is not None:
            return final


def thread_exit(thread: Thread, stop: ThreadExit) -> Stop | None:
    """exit(2): the kernel clears the thread's clear_child_tid word (the
    futex its joiner waits on) and releases its robust mutexes; the
    process ends with its last thread."""
    if in_vfork_child(thread):
        return process_end(thread, Exit(stop.status))
    last = thread_gone(thread)
    return Exit(stop.status) if last else stop


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
    """A host signal, a timer, or the end of a time slice stopped the guest:
    another thread that waited for the CPU runs first; then resume,
    delivering what came."""
    thread.signals_due = True
    thread.process.cpu.hand_over(thread)
    return None


def process_end(thread: Thread, stop: Stop) -> Stop | None:
    """The process ends (exit_group, a fatal signal). A vfork child ending
    becomes a host process that ends so, for its parent to wait for."""
    if in_vfork_child(thread):
        return leave_vfork_child(thread, lambda child: stop)
    return stop


def clone_thread_or_process(thread: Thread, stop: Clone) -> Stop | None:
    """clone: a new thread, or a new process (fork.py)."""
    if is_thread(stop):
        start_thread(thread, stop, lambda child: run_thread(child, lambda: child.accel.run()))
        return None
    return clone(thread, stop)


def execute(thread: Thread, stop: Exec) -> Stop | None:
    """execve found a program: start it in this process (a vfork child's
    exec is where its own host process begins)."""
    if in_vfork_child(thread):
        return leave_vfork_child(thread, lambda child: commit_exec(child, stop))
    end_other_threads(thread)
    return commit_exec(thread, stop)


# Stop type -> its handler; any other Stop (a timeout, a debugger's) ends
# the run as it is.
STOP_HANDLERS: dict[type, Callable[[Thread, Stop], Stop | None]] = {
    ThreadExit: thread_exit,
    Exit: process_end,
    Fault: fault,
    Clone: clone_thread_or_process,
    Exec: execute,
    SignalsPending: signals_pending,
    SignalReturn: signal_return,
    Woken: woken,
}
