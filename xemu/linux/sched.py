"""Who runs: the one lock a guest process's threads take turns at.

Unicorn is built without QEMU's parallel TCG, so a guest's atomic
instructions (ldrex/strex, lwarx/stwcx., lock cmpxchg) are atomic only
while no other engine runs on the same memory. So, under TCG, a thread
holds its process's CpuLock while its guest code runs, as threads share
one CPU: the atomics stay atomic, and a time slice (SLICE) ends when
another thread has waited that long, which stops the holder's engine
between two translated blocks and hands the lock over.

The same lock also makes the Linux layer's work one call at a time (the
big kernel lock of early Linux): the process's tables (memory map,
descriptors, futexes, signals) change under it. A call that blocks (a
read of a pipe, a futex wait, a sleep) lets go of it while it waits, so a
blocked thread never stops the others (`unlocked`).

Under KVM guest code runs truly in parallel, one vCPU per thread: the lock
is let go while the vCPU runs and taken for each exit the Linux layer
serves (`accel.parallel`).
"""
from __future__ import annotations

import contextlib
import threading
from typing import Iterator

# Held to ring or close a thread's wake descriptor (thread.py), and across a
# host fork (signals.host_fork): a closed descriptor's number may be reused
# at once, and a late ring must not write into another file.
RINGING = threading.Lock()

SLICE = 0.005         # seconds a thread waits for the CPU before the holder is stopped


class CpuLock:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._turns = threading.Condition(threading.Lock())
        self.holder = None            # the Thread holding it
        self.waiting = 0              # threads waiting for it
        self.handovers = 0            # times it was taken after a wait

    def acquire(self, thread) -> None:
        """Take the CPU for thread; while waiting, stop a holder that runs
        translated code after each SLICE, so it hands over."""
        if not self._lock.acquire(blocking=False):
            with self._turns:
                self.waiting += 1
            try:
                while not self._lock.acquire(timeout=SLICE):
                    holder = self.holder
                    accel = getattr(holder, "accel", None)
                    if accel is not None and not accel.parallel:
                        accel.wake()
            finally:
                with self._turns:
                    self.waiting -= 1
                    self.handovers += 1
                    self._turns.notify_all()
        self.holder = thread

    def after_fork(self, thread) -> None:
        """In a host fork's child, where thread (which held the lock across
        the fork) is the only one: nobody else waits, and the condition's
        lock may have been held by a thread that is not here."""
        assert self.holder is thread, "a fork is made holding the CPU lock"
        self._turns = threading.Condition(threading.Lock())
        self.waiting = 0

    def release(self, thread) -> None:
        if self.holder is thread:
            self.holder = None
            self._lock.release()

    def held_by(self, thread) -> bool:
        return self.holder is thread

    def hand_over(self, thread) -> None:
        """The end of a time slice: if another thread waits, let it run
        (wait until it has taken the lock, a few ms at most), then queue up
        again."""
        if not self.waiting or self.holder is not thread:
            return
        with self._turns:
            seen = self.handovers
        self.release(thread)
        with self._turns:
            self._turns.wait_for(lambda: self.handovers != seen or not self.waiting,
                                 timeout=SLICE)
        self.acquire(thread)

    @contextlib.contextmanager
    def unlocked(self, thread) -> Iterator[None]:
        """Around a wait: other threads run meanwhile. (A thread that does
        not hold the lock, as a vfork child's helper, waits as it is.)"""
        held = self.holder is thread
        if held:
            self.release(thread)
        try:
            yield
        finally:
            if held:
                self.acquire(thread)


def running_threads(process) -> list:
    """The threads that may be running guest code now: under TCG only the
    lock's holder can; under KVM any of them."""
    threads = list(process.threads.values())
    if threads and getattr(threads[0].accel, "parallel", False):
        return threads
    holder = process.cpu.holder
    return [holder] if holder is not None else []
