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
from ..machine.accel.base import Exit, Fault, Stop
from .exec import Exec, commit_exec
from .fork import Clone, clone, in_vfork_child, leave_vfork_child
from .thread import Thread, ThreadExit


def run_thread(thread: Thread, resume: Callable[[], Stop]) -> Stop:
    """Run thread to the Stop that ends it: resume() runs its guest code from
    its current registers to the next Stop."""
    while True:
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
    """A fault's signal takes its default action, which for every fault
    signal ends the process. (Delivering it to a guest handler needs the
    arch's signal frame: ArchSpec.signal_frames.)"""
    return process_end(thread, stop)


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
}
