"""Signals: dispositions and masks are recorded so the guest reads back what
it set; signals it raises at itself end it as the default action would.
(Delivering a signal to a guest handler needs per-arch signal frames, which
xemu does not build yet: such a signal is reported, not delivered.)"""
from __future__ import annotations

import errno
import os
import signal as host_signal
import struct

from ...machine.accel.base import Fault
from ..process import Process
from ..thread import Thread
from .registry import syscall

SIG_DFL, SIG_IGN = 0, 1
IGNORED_BY_DEFAULT = {host_signal.SIGCHLD, host_signal.SIGURG, host_signal.SIGWINCH,
                      host_signal.SIGCONT}
SS_DISABLE = 2
NSIG = 64


@syscall("rt_sigaction")
def rt_sigaction(p: Process, signum: int, act: int, oldact: int, setsize: int) -> int:
    signum = p.int32(signum)
    if not 1 <= signum <= NSIG or signum in (host_signal.SIGKILL, host_signal.SIGSTOP) and act:
        return -errno.EINVAL
    size = 3 * p.spec.word_size + setsize      # handler, flags, restorer, mask
    if oldact:
        p.mem.write(oldact, p.sigactions.get(signum, bytes(size)))
    if act:
        p.sigactions[signum] = p.mem.read(act, size)
    return 0


@syscall("rt_sigprocmask")
def rt_sigprocmask(thread: Thread, how: int, new: int, old: int, setsize: int) -> int:
    """The calling thread's signal mask."""
    p = thread.process
    if setsize != 8:
        return -errno.EINVAL
    if old:
        p.mem.write(old, thread.sigmask)
    if new:
        current = int.from_bytes(thread.sigmask, "little")
        given = int.from_bytes(p.mem.read(new, 8), "little")
        how = p.int32(how)
        if how == 0:
            current |= given
        elif how == 1:
            current &= ~given
        elif how == 2:
            current = given
        else:
            return -errno.EINVAL
        thread.sigmask = current.to_bytes(8, "little")
    return 0


@syscall("sigaltstack")
def sigaltstack(thread: Thread, new: int, old: int) -> int:
    """The calling thread's alternate signal stack."""
    p = thread.process
    layout = p.layout("stack_t")
    if old:
        p.mem.write(old, thread.sigaltstack or layout.pack(ss_flags=SS_DISABLE))
    if new:
        thread.sigaltstack = p.mem.read(new, layout.size)
    return 0


def _handler(p: Process, signum: int) -> int:
    raw = p.sigactions.get(signum)
    if not raw:
        return SIG_DFL
    code = "Q" if p.spec.bits == 64 else "I"
    return struct.unpack(p.spec.endian + code, raw[:p.spec.word_size])[0]


def _raise(thread: Thread, signum: int) -> int | Fault:
    p = thread.process
    if signum == 0:
        return 0
    handler = _handler(p, signum)
    if handler == SIG_IGN or handler == SIG_DFL and signum in IGNORED_BY_DEFAULT:
        return 0
    if handler != SIG_DFL:
        p.warn(f"signal {signum} has a guest handler; xemu does not deliver signals "
               "to guest handlers yet, so it takes the default action")
    pc = thread.regs.read(p.spec.pc) if thread.regs else 0
    return Fault(signum, pc, None, "", "raised by the guest", raised=True)


@syscall("kill")
def kill(thread: Thread, pid: int, signum: int) -> int | Fault:
    """Guest processes are host processes, with the same pids and signal
    numbers: a signal for another process (or process group) is the host's
    kill. One for this process itself takes its action here."""
    p = thread.process
    pid, signum = p.int32(pid), p.int32(signum)
    if not 0 <= signum <= NSIG:
        return -errno.EINVAL
    if pid == os.getpid():
        return _raise(thread, signum)
    os.kill(pid, signum)
    return 0


@syscall("tgkill")
def tgkill(thread: Thread, tgid: int, tid: int, signum: int) -> int | Fault:
    p = thread.process
    if p.int32(tid) != thread.tid:
        return -errno.ESRCH
    return _raise(thread, p.int32(signum))


@syscall("tkill")
def tkill(thread: Thread, tid: int, signum: int) -> int | Fault:
    return tgkill(thread, tid, tid, signum)
