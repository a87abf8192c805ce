"""New processes: fork and vfork.

A guest process is a host process. fork is the host's fork, made from the
OS loop (the system call has completed, so both sides resume after it): the
child gets copy-on-write copies of guest memory and of Unicorn's engine,
and MAP_SHARED guest memory stays shared. A KVM VM belongs to the process
that made it, so a KVM child builds its own over its copies of the buffers
and resumes the vCPU context the parent saved (Machine.cpu_in_child).

vfork (and clone with CLONE_VM | CLONE_VFORK, as glibc's posix_spawn does)
runs the child in place of its parent, on the parent's memory, until it
execs or exits: what it writes before that (posix_spawn's error code for a
failed exec) is the parent's to read, as on Linux. Only then does a host
process begin for it; the parent gets its pid and goes on. The child has
its own copy of the descriptor table, signal mask and cwd meanwhile, as it
has without CLONE_FILES and CLONE_FS.
"""
from __future__ import annotations

import errno
import os
import struct
import sys
from dataclasses import dataclass

from ..errors import GuestMemoryError
from ..machine.accel.base import Stop
from .futex import FutexTable
from .process import FdTable
from .signals import host_fork
from .thread import Thread

CLONE_VM, CLONE_FS, CLONE_FILES, CLONE_SIGHAND = 0x100, 0x200, 0x400, 0x800
CLONE_VFORK, CLONE_PARENT, CLONE_THREAD = 0x4000, 0x8000, 0x10000
CLONE_SETTLS, CLONE_PARENT_SETTID = 0x80000, 0x100000
CLONE_CHILD_CLEARTID, CLONE_CHILD_SETTID = 0x200000, 0x1000000
EXIT_SIGNAL_MASK = 0xFF


@dataclass(frozen=True)
class Clone:
    """A Stop: a clone (or fork, vfork) the OS loop makes, the call done."""
    flags: int
    stack: int = 0
    parent_tid: int = 0
    child_tid: int = 0
    tls: int = 0


@dataclass
class VforkParent:
    """A parent a vfork child runs in place of: what it gets back."""
    context: object               # its CPU, as the vfork call left it
    fds: FdTable
    blocked: int
    cwd: bytes                    # the host's cwd, or the guest's under --rootfs
    in_machine: dict              # the calls its CPU answered without Python


def clone_request(thread: Thread, flags: int, stack: int, parent_tid: int, child_tid: int,
                  tls: int) -> Clone | int:
    """Check a clone's flags in the trap; the loop makes it (clone())."""
    if flags & CLONE_THREAD and not flags & CLONE_SIGHAND \
            or flags & CLONE_SIGHAND and not flags & CLONE_VM:
        return -errno.EINVAL
    if flags & CLONE_VM and not flags & CLONE_VFORK and not stack:
        return -errno.EINVAL      # a second thread on the caller's own stack
    return Clone(flags, stack, parent_tid, child_tid, tls)


def is_thread(stop: Clone) -> bool:
    """A clone sharing memory that is not vfork's: a new thread (threads.py)."""
    return stop.flags & (CLONE_VM | CLONE_VFORK) == CLONE_VM


def clone(thread: Thread, stop: Clone) -> Stop | None:
    """The OS loop's handler for a new process, by fork or by vfork."""
    if stop.flags & CLONE_VFORK:
        return _start_vfork_child(thread, stop)
    return _fork(thread, stop)


def _fork(thread: Thread, stop: Clone) -> Stop | None:
    process = thread.process
    context = thread.regs.save()
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        pid = host_fork(process)
    except OSError as e:
        thread.accel.set_syscall_result(-(e.errno or errno.EAGAIN))
        return None
    process.machine.forked(child=not pid)
    if pid:
        if stop.flags & CLONE_PARENT_SETTID:
            put_tid(thread, stop.parent_tid, pid)
        thread.accel.set_syscall_result(pid)
        return None
    forget_vfork_parents(process)
    become_child(thread, context)
    _child_side(thread, stop)
    return None


def forget_vfork_parents(process) -> None:
    """In a new host process made from a vfork child (its fork, or the
    process it becomes at exec or exit): the parents waiting for that child
    stay in the old one, with their descriptors."""
    for waiting in process.vfork_parents:
        waiting.fds.close_all()
    process.vfork_parents = []


def become_child(thread: Thread, context: object) -> None:
    """In a freshly forked host process: this thread is the process's only
    one, with its own tid and a CPU of its own."""
    process = thread.process
    _only_thread(thread)
    thread.accel = process.machine.cpu_in_child(thread.accel, context)
    process.machine.bind(thread)


def _only_thread(thread: Thread) -> None:
    """In a new host process, this thread is all there is of the guest
    process (fork copies only the calling thread): the others' wake
    descriptors and futex waits go, and the CPU lock is this thread's."""
    process = thread.process
    for other in process.threads.values():
        if other is not thread:
            other.close()
    thread.renew()
    thread.tid = os.getpid()
    process.threads = {thread.tid: thread}
    process.futexes = FutexTable()
    process.cpu.after_fork(thread)


def _child_side(thread: Thread, stop: Clone) -> None:
    """The child's half of clone: its tid words, stack and TLS, result 0."""
    spec = thread.process.spec
    if stop.flags & CLONE_CHILD_SETTID:
        put_tid(thread, stop.child_tid, thread.tid)
    if stop.flags & CLONE_CHILD_CLEARTID:
        thread.clear_child_tid = stop.child_tid
    if stop.stack:
        thread.regs.write(spec.sp, stop.stack)
    if stop.flags & CLONE_SETTLS:
        set_tls(thread, stop.tls)
    thread.accel.set_syscall_result(0)


def set_tls(thread: Thread, value: int) -> None:
    """CLONE_SETTLS: the thread pointer, where and as the arch keeps it."""
    process = thread.process
    clone_abi = process.spec.linux.clone
    if clone_abi.set_tls is not None:
        clone_abi.set_tls(process, thread.regs, value)
    elif process.spec.linux.tls_register:
        thread.regs.write(process.spec.linux.tls_register, value)


def put_tid(thread: Thread, address: int, tid: int) -> None:
    try:
        thread.process.mem.write(address, struct.pack(thread.process.spec.endian + "i", tid))
    except GuestMemoryError:
        pass                        # Linux ignores a bad address here too


# -- vfork ------------------------------------------------------------------

def _start_vfork_child(thread: Thread, stop: Clone) -> None:
    process = thread.process
    process.vfork_parents.append(VforkParent(
        thread.regs.save(), process.fds, thread.blocked, _cwd(process),
        thread.accel.in_machine))
    # The child's getppid is its parent's host process, which the host's
    # call does not answer: every call goes through the dispatcher
    thread.accel.serve_in_machine({})
    process.fds = process.fds.copy()
    _child_side(thread, stop)
    return None


def in_vfork_child(thread: Thread) -> bool:
    return bool(thread.process.vfork_parents)


def leave_vfork_child(thread: Thread, child_goes_on) -> Stop | None:
    """The vfork child execs or ends (child_goes_on(thread): what the new
    host process does, returning its first Stop or None to run on). The
    parent gets the child's pid and resumes where it called vfork."""
    process = thread.process
    parent = process.vfork_parents[-1]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        pid = host_fork(process)
    except OSError as e:
        _resume_parent(thread, parent, -(e.errno or errno.EAGAIN))
        return None
    process.machine.forked(child=not pid)
    if pid == 0:
        forget_vfork_parents(process)
        _only_thread(thread)                     # no CPU of its own: it execs or ends
        return child_goes_on(thread)
    _resume_parent(thread, parent, pid)
    return None


def _resume_parent(thread: Thread, parent: VforkParent, result: int) -> None:
    process = thread.process
    process.vfork_parents.pop()
    process.fds.close_all()                       # the child's copy
    process.fds = parent.fds
    thread.blocked = parent.blocked
    _set_cwd(process, parent.cwd)
    thread.regs.restore(parent.context)
    thread.accel.serve_in_machine(parent.in_machine)
    thread.accel.set_syscall_result(result)


def _cwd(process) -> bytes:
    return process.rootfs.cwd if process.rootfs is not None else os.getcwdb()


def _set_cwd(process, cwd: bytes) -> None:
    if process.rootfs is not None:
        process.rootfs.cwd = cwd
    else:
        try:
            os.chdir(cwd)
        except OSError:
            pass                    # removed meanwhile: as Linux, the process keeps it
