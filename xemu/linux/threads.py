"""New threads (clone with CLONE_VM, as pthread_create), and a process's
end when it has several.

A guest thread is a host thread with a CPU of its own (a Unicorn engine
over the same guest memory buffers, or a vCPU in the same VM: the
composition root's Machine.cpu_for_thread makes it). Its tid is its host
thread's, so /proc and a tgkill from outside name the same task. It
starts as the kernel starts a clone child: the parent's registers, the
stack and TLS clone was given, 0 in the result register; the parent gets
the tid.

A process ends when its last thread exits, or at once when one thread
calls exit_group or is killed: `end_process` records that Stop, and every
other thread meets it before it runs guest code again (its wait ends, its
CPU is stopped).
"""
from __future__ import annotations

import os
import threading
import time

from ..machine.accel.base import Stop
from .fork import (CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID, CLONE_PARENT_SETTID,
                   CLONE_SETTLS, Clone, put_tid, set_tls)
from .futex import clear_child_tid, release_robust_list
from .sched import running_threads
from .signals import interrupt, recalc
from .thread import Thread


def start_thread(thread: Thread, stop: Clone, run) -> None:
    """The OS loop's half of a thread clone: the child thread made and
    started (run(child) is its OS loop), the parent's result its tid."""
    process = thread.process
    try:
        accel = process.machine.cpu_for_thread(thread.accel)
    except (OSError, MemoryError) as e:
        thread.accel.set_syscall_result(-(getattr(e, "errno", None) or 11))   # EAGAIN
        return
    # The mask is inherited; the alternate stack is not (a new stack).
    child = Thread(process, tid=0, accel=accel, blocked=thread.blocked)
    spec = process.spec
    if stop.stack:
        accel.regs.write(spec.sp, stop.stack)
    if stop.flags & CLONE_SETTLS:
        set_tls(child, stop.tls)
    accel.set_syscall_result(0)
    started = threading.Event()

    def body() -> None:
        child.tid = threading.get_native_id()
        started.set()
        run(child)

    process.machine.start_thread(child, body)
    started.wait()
    process.threads[child.tid] = child
    process.machine.bind(child)
    if stop.flags & CLONE_CHILD_CLEARTID:
        child.clear_child_tid = stop.child_tid
    if stop.flags & CLONE_CHILD_SETTID:
        put_tid(child, stop.child_tid, child.tid)
    if stop.flags & CLONE_PARENT_SETTID:
        put_tid(thread, stop.parent_tid, child.tid)
    recalc(child)
    thread.accel.set_syscall_result(child.tid)


def thread_gone(thread: Thread) -> bool:
    """A thread's exit (exit(2), or its process's end): its tid word
    cleared and its joiner woken, its robust mutexes released, its CPU
    closed. True if it was the process's last."""
    process = thread.process
    release_robust_list(thread)
    clear_child_tid(thread)
    process.threads.pop(thread.tid, None)
    return not process.threads


def end_other_threads(thread: Thread, seconds: float = 5.0) -> None:
    """exec in one thread of several: the others end first, as the kernel's
    de_thread kills them, and this one becomes the leader (its tid the
    pid). Waits, the CPU lock let go, until they have left guest code."""
    process = thread.process
    others = [other for other in process.threads.values() if other is not thread]
    if not others:
        return
    running = running_threads(process)
    for other in others:
        other.killed = True
        interrupt(other, running)
    deadline = time.monotonic() + seconds
    with process.cpu.unlocked(thread):
        while any(other.tid in process.threads for other in others) \
                and time.monotonic() < deadline:
            time.sleep(0.001)
    process.threads = {os.getpid(): thread}
    thread.tid = os.getpid()


def end_process(process, stop: Stop, by: Thread | None = None) -> None:
    """The process ends (exit_group, a fatal signal, the last exit, a
    timeout), as `by` found: every other thread stops before its next guest
    instruction (its wait ends, a CPU running guest code is stopped)."""
    if process.ending is None:
        process.ending = stop
    running = running_threads(process)
    for other in list(process.threads.values()):
        if other is not by:
            interrupt(other, running)
    process.ended.set()
