"""Futexes: the wait queues glibc builds every lock, condition variable,
join and once on (futex(2), kernel/futex/).

A guest futex is a 32-bit word of guest memory; its waiters queue here,
by guest address, per process. Every operation runs under the process's
CpuLock (sched.py), so reading the word and queueing are one step, as the
kernel's hash-bucket lock makes them; a waiter waits in signals.wait_for
(the lock let go), and a wake rings its thread's wake descriptor.

Not served: priority-inheritance futexes (LOCK_PI and kin: ENOSYS, glibc
uses them only for PTHREAD_PRIO_INHERIT mutexes), and futexes shared with
another process (a MAP_SHARED word waited on from two guest processes):
each process has its own table.
"""
from __future__ import annotations

import errno
import struct
import time
from dataclasses import dataclass

from ..errors import GuestMemoryError
from .signals import ERESTART_RESTARTBLOCK, ERESTARTSYS, wait_for

FUTEX_WAIT, FUTEX_WAKE, FUTEX_FD, FUTEX_REQUEUE, FUTEX_CMP_REQUEUE = 0, 1, 2, 3, 4
FUTEX_WAKE_OP, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET = 5, 9, 10
FUTEX_PRIVATE_FLAG, FUTEX_CLOCK_REALTIME = 128, 256
FUTEX_COMMAND_MASK = 0x7F
FUTEX_BITSET_MATCH_ANY = 0xFFFFFFFF

# FUTEX_WAKE_OP's operation word: op (4 bits), cmp (4), oparg (12), cmparg (12)
FUTEX_OP_ARG_SHIFT = 8         # op flag: oparg is a shift count (1 << oparg)
WAKE_OPS = {
    0: lambda old, arg: arg,              # FUTEX_OP_SET
    1: lambda old, arg: old + arg,        # FUTEX_OP_ADD
    2: lambda old, arg: old | arg,        # FUTEX_OP_OR
    3: lambda old, arg: old & ~arg,       # FUTEX_OP_ANDN
    4: lambda old, arg: old ^ arg,        # FUTEX_OP_XOR
}
WAKE_COMPARISONS = {
    0: lambda old, arg: old == arg, 1: lambda old, arg: old != arg,
    2: lambda old, arg: old < arg, 3: lambda old, arg: old <= arg,
    4: lambda old, arg: old > arg, 5: lambda old, arg: old >= arg,
}


@dataclass(eq=False)
class Waiter:
    thread: object
    address: int
    bitset: int
    woken: bool = False


class FutexTable:
    """Waiters by futex address, oldest first (the kernel wakes in order)."""

    def __init__(self) -> None:
        self.queues: dict[int, list[Waiter]] = {}

    def add(self, waiter: Waiter) -> None:
        self.queues.setdefault(waiter.address, []).append(waiter)

    def remove(self, waiter: Waiter) -> None:
        queue = self.queues.get(waiter.address)
        if queue is not None and waiter in queue:
            queue.remove(waiter)
            if not queue:
                del self.queues[waiter.address]

    def wake(self, address: int, count: int, bitset: int = FUTEX_BITSET_MATCH_ANY) -> int:
        """Wake up to count waiters on address whose bitset meets bitset."""
        woken = 0
        for waiter in list(self.queues.get(address, ())):
            if woken >= count:
                break
            if waiter.bitset & bitset:
                self.remove(waiter)
                waiter.woken = True
                waiter.thread.ring()
                woken += 1
        return woken

    def requeue(self, address: int, wake: int, move: int, target: int) -> int:
        """Wake some waiters on address and move up to `move` more to target;
        returns how many were woken and moved."""
        done = self.wake(address, wake)
        moved = 0
        for waiter in list(self.queues.get(address, ())):
            if moved >= move:
                break
            self.remove(waiter)
            waiter.address = target
            self.add(waiter)
            moved += 1
        return done + moved


def load(process, address: int) -> int:
    """The futex word (EINVAL if misaligned, EFAULT if unmapped)."""
    if address % 4:
        raise OSError(errno.EINVAL, "misaligned futex")
    return struct.unpack(process.spec.endian + "I", process.mem.read(address, 4))[0]


def wait(thread, address: int, expected: int, deadline: float | None,
         bitset: int = FUTEX_BITSET_MATCH_ANY, clock=time.monotonic) -> int:
    """Sleep while the word at address holds expected, until a wake, the
    deadline (on clock) or a signal: 0, -EAGAIN, -ETIMEDOUT, or a restart."""
    process = thread.process
    if not bitset:
        return -errno.EINVAL
    if load(process, address) != expected & 0xFFFFFFFF:
        return -errno.EAGAIN
    waiter = Waiter(thread, address, bitset)
    table = process.futexes
    table.add(waiter)
    try:
        while not waiter.woken:
            left = None if deadline is None else deadline - clock()
            if left is not None and left <= 0:
                return -errno.ETIMEDOUT
            if wait_for(thread, [], left, wake_returns=True) is None and not waiter.woken:
                return -(ERESTARTSYS if deadline is None else ERESTART_RESTARTBLOCK)
        return 0
    finally:
        table.remove(waiter)


def wake_op(process, address: int, count: int, address2: int, count2: int,
            operation: int) -> int:
    """FUTEX_WAKE_OP: change the word at address2, wake on address, and wake
    on address2 too if the old value met the comparison."""
    op, cmp = operation >> 28 & 0x7, operation >> 24 & 0xF
    oparg = sign_extend_12(operation >> 12 & 0xFFF)
    cmparg = sign_extend_12(operation & 0xFFF)
    if operation >> 28 & FUTEX_OP_ARG_SHIFT:
        oparg = 1 << (oparg & 31)            # the kernel masks a bad shift, warning
    change, compare = WAKE_OPS.get(op), WAKE_COMPARISONS.get(cmp)
    if change is None or compare is None:
        return -errno.ENOSYS
    old = load(process, address2)
    new = change(old, oparg) & 0xFFFFFFFF
    process.mem.write(address2, struct.pack(process.spec.endian + "I", new))
    signed = old - (1 << 32) if old >> 31 else old
    woken = process.futexes.wake(address, count)
    if compare(signed, cmparg):
        woken += process.futexes.wake(address2, count2)
    return woken


def sign_extend_12(value: int) -> int:
    return value - (1 << 12) if value & 0x800 else value


# -- thread exit: CLONE_CHILD_CLEARTID and robust mutexes ---------------------

FUTEX_WAITERS, FUTEX_OWNER_DIED, FUTEX_TID_MASK = 0x80000000, 0x40000000, 0x3FFFFFFF
ROBUST_LIST_LIMIT = 2048           # the kernel's bound on a robust list's walk


def clear_child_tid(thread) -> None:
    """At a thread's exit: zero its clear_child_tid word and wake one waiter
    (pthread_join waits on it)."""
    address = thread.clear_child_tid
    if not address:
        return
    thread.clear_child_tid = 0
    process = thread.process
    try:
        process.mem.write(address, bytes(4))
    except GuestMemoryError:
        return                          # Linux ignores a bad address here too
    process.futexes.wake(address, 1)


def release_robust_list(thread) -> None:
    """At a thread's death: every robust mutex it still holds gets
    FUTEX_OWNER_DIED and one waiter is woken (kernel/futex/core.c's
    exit_robust_list), so the next locker sees EOWNERDEAD."""
    head = thread.robust_list
    if not head:
        return
    thread.robust_list = 0
    process = thread.process
    word = process.spec.word_size
    unpack = struct.Struct(process.spec.endian + ("I" if word == 4 else "Q")).unpack
    signed = (lambda v: v - (1 << 32) if v >> 31 else v) if word == 4 \
        else (lambda v: v - (1 << 64) if v >> 63 else v)
    try:
        entry, offset, pending = (unpack(process.mem.read(head + i * word, word))[0]
                                  for i in range(3))
        offset = signed(offset)
        seen = 0
        while entry != head and seen < ROBUST_LIST_LIMIT:
            following = unpack(process.mem.read(entry & ~1, word))[0]
            if entry != pending:
                _owner_died(thread, (entry & ~1) + offset)
            entry, seen = following, seen + 1
        if pending:
            _owner_died(thread, (pending & ~1) + offset)
    except GuestMemoryError:
        pass                            # the kernel stops at a bad pointer too


def _owner_died(thread, address: int) -> None:
    process = thread.process
    try:
        value = load(process, address)
    except (OSError, GuestMemoryError):
        return
    if value & FUTEX_TID_MASK != thread.tid:
        return
    new = (value & FUTEX_WAITERS) | FUTEX_OWNER_DIED
    process.mem.write(address, struct.pack(process.spec.endian + "I", new))
    if value & FUTEX_WAITERS:
        process.futexes.wake(address, 1)
