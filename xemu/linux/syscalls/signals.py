"""Signal system calls: dispositions, masks, sending, waiting, sigreturn,
and the timers that send SIGALRM. The state and delivery are in
linux/signals.py; the frames in each arch's signal.py."""
from __future__ import annotations

import ctypes
import errno
import math
import os
import signal as host_signal
import struct
import time

from ... import archs
from ..process import Process
from ..signals import (ERESTARTNOHAND, NSIG, SI_QUEUE, SI_TKILL, SI_USER, SIGINFO_SIZE,
                       SIGKILL, SIGSTOP, SS_DISABLE, SS_ONSTACK, UNBLOCKABLE, RealTimer,
                       SigAction, Siginfo, SignalFd, SignalReturn, bit, change_altstack, ignored,
                       lowest, on_altstack, recalc, send, set_blocked, sigset_bytes,
                       sigset_value, take_incoming, valid, wait_for)
from ..thread import Thread
from .hostlibc import host_syscall
from .registry import syscall
from .time import read_timeout

SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK = 0, 1, 2
SIGSET_SIZE = 8


@syscall("rt_sigaction")
def rt_sigaction(p: Process, signum: int, act: int, oldact: int, setsize: int) -> int:
    signum = p.int32(signum)
    if setsize != SIGSET_SIZE or not valid(signum) or signum in (SIGKILL, SIGSTOP) and act:
        return -errno.EINVAL
    new = SigAction.unpack(p.spec, p.mem.read(act, SigAction.size(p.spec))) if act else None
    if oldact:
        p.mem.write(oldact, p.sigactions.get(signum, SigAction()).pack(p.spec))
    if new is not None:
        p.sigactions[signum] = new
        if ignored(p, signum):
            p.pending.discard(signum)       # now ignored: what was pending goes
            for thread in p.threads.values():
                thread.pending.discard(signum)
    return 0


@syscall("rt_sigprocmask")
def rt_sigprocmask(thread: Thread, how: int, new: int, old: int, setsize: int) -> int:
    """The calling thread's signal mask."""
    p = thread.process
    if setsize != SIGSET_SIZE:
        return -errno.EINVAL
    given = sigset_value(p.spec, p.mem.read(new, SIGSET_SIZE)) if new else None
    how = p.int32(how)
    if given is not None and how not in (SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK):
        return -errno.EINVAL
    if old:
        p.mem.write(old, sigset_bytes(p.spec, thread.blocked))
    if given is not None:
        mask = {SIG_BLOCK: thread.blocked | given, SIG_UNBLOCK: thread.blocked & ~given,
                SIG_SETMASK: given}[how]
        set_blocked(thread, mask)
    return 0


@syscall("sigaltstack")
def sigaltstack(thread: Thread, new: int, old: int) -> int:
    """The calling thread's alternate signal stack."""
    p = thread.process
    layout = p.layout("stack_t")
    sp = thread.regs.read(p.spec.sp)
    current = thread.sigaltstack or (0, SS_DISABLE, 0)
    reported = current[1] | SS_ONSTACK if on_altstack(thread, sp) else current[1]
    if new:
        fields = layout.unpack(p.mem.read(new, layout.size))
        error = change_altstack(thread, sp, fields["ss_sp"], fields["ss_flags"] & 0xFFFFFFFF,
                                fields["ss_size"])
        if error:
            return error                    # and the old one is not written
    if old:
        p.mem.write(old, layout.pack(ss_sp=current[0], ss_flags=reported, ss_size=current[2]))
    return 0


@syscall("rt_sigpending")
def rt_sigpending(thread: Thread, address: int, setsize: int) -> int:
    p = thread.process
    if setsize > SIGSET_SIZE:
        return -errno.EINVAL
    take_incoming(p)
    pending = (thread.pending.mask | p.pending.mask) & thread.blocked
    p.mem.write(address, sigset_bytes(p.spec, pending)[:setsize])
    return 0


@syscall("rt_sigreturn")
def rt_sigreturn(thread: Thread) -> SignalReturn:
    """Done by the OS loop (the registers are set outside the accelerator's
    trap, where Unicorn would still move the pc or write registers after)."""
    return SignalReturn(rt=True)


@syscall("sigreturn")
def old_sigreturn(thread: Thread) -> SignalReturn:
    return SignalReturn(rt=False)


# -- sending --------------------------------------------------------------------

def _sender(signum: int, code: int = SI_USER) -> Siginfo:
    return Siginfo(signum, code, os.getpid(), os.getuid())


PIDFD_NONBLOCK = os.O_NONBLOCK


@syscall("pidfd_open")
def pidfd_open(p: Process, pid: int, flags: int) -> int:
    """A descriptor for a process (guest pids are the host's): readable once
    it ends, so poll and epoll wait for it."""
    pid, flags = p.int32(pid), p.int32(flags)
    if flags & ~PIDFD_NONBLOCK or pid <= 0:
        return -errno.EINVAL
    fd = p.fds.add(os.pidfd_open(pid, flags), cloexec=True)
    p.fds.get(fd).pidfd_pid = pid
    return fd


@syscall("pidfd_send_signal")
def pidfd_send_signal(thread: Thread, pidfd: int, signum: int, info: int, flags: int) -> int:
    """kill(2) through a pidfd. A siginfo of the caller's own is not carried
    (as sigqueue to another process, it goes as a plain signal)."""
    p = thread.process
    pid = p.fds.get(p.int32(pidfd)).pidfd_pid
    if pid is None or flags:
        return -errno.EINVAL if flags else -errno.EBADF
    return kill(thread, pid, signum)


@syscall("pidfd_getfd")
def pidfd_getfd(p: Process, pidfd: int, target: int, flags: int) -> int:
    """Would take a host descriptor of another xemu, not of its guest."""
    return -errno.EPERM


@syscall("kill")
def kill(thread: Thread, pid: int, signum: int) -> int:
    """Guest processes are host processes with the same pids and (on these
    arches) the same signal numbers: a signal for another process or a group
    is the host's kill; one for this process is queued here."""
    p = thread.process
    pid, signum = p.int32(pid), p.int32(signum)
    if not 0 <= signum <= NSIG:
        return -errno.EINVAL
    if pid == os.getpid() or pid in p.threads:      # a thread's tid names its process
        if signum:
            send(p, _sender(signum))
        return 0
    if pid > 0 and _xemus_own_thread(pid):
        return -errno.ESRCH
    os.kill(pid, signum)
    return 0


@syscall("tgkill")
def tgkill(thread: Thread, tgid: int, tid: int, signum: int) -> int:
    p = thread.process
    tgid, tid, signum = p.int32(tgid), p.int32(tid), p.int32(signum)
    if not 0 <= signum <= NSIG or tid <= 0:
        return -errno.EINVAL
    target = p.threads.get(tid)
    if target is None or tgid not in (-1, os.getpid()):
        if _xemus_own_thread(tid):
            return -errno.ESRCH              # a helper of xemu's: not the guest's to see
        if tgid == -1 or tgid == tid:            # another single-threaded process
            os.kill(tid, signum)
            return 0
        return -errno.ESRCH
    if signum:
        send(p, _sender(signum, SI_TKILL), target)
    return 0


def _xemus_own_thread(tid: int) -> bool:
    """A host thread of this xemu process that is no guest thread (the
    signal watcher, timers): the host's kill on it would signal xemu."""
    return os.path.exists(f"/proc/self/task/{tid}")


@syscall("tkill")
def tkill(thread: Thread, tid: int, signum: int) -> int:
    return tgkill(thread, -1, tid, signum)


@syscall("rt_sigqueueinfo")
def rt_sigqueueinfo(thread: Thread, pid: int, signum: int, info: int) -> int:
    return rt_tgsigqueueinfo(thread, pid, pid, signum, info)


@syscall("rt_tgsigqueueinfo")
def rt_tgsigqueueinfo(thread: Thread, tgid: int, tid: int, signum: int, info: int) -> int:
    """sigqueue: the guest's own siginfo (its value) goes with the signal,
    to this process or, through the host's call, to another (whose xemu
    reads it back from its host handler's siginfo)."""
    p = thread.process
    tgid, tid, signum = p.int32(tgid), p.int32(tid), p.int32(signum)
    if not valid(signum):
        return -errno.EINVAL
    raw = p.mem.read(info, SIGINFO_SIZE)
    code = struct.unpack_from(p.spec.endian + "i", raw, 8)[0]
    if tgid != os.getpid():
        if code >= 0 or code == SI_TKILL:        # the kernel's, or kill's and tgkill's own
            return -errno.EPERM
        value = Siginfo(signum, code, raw=raw).sender(p.spec)[2]
        host = Siginfo(signum, code, os.getpid(), os.getuid(), value=value).pack(archs.host())
        buffer = ctypes.create_string_buffer(host, len(host))
        if tid == tgid:
            host_syscall("rt_sigqueueinfo", ctypes.c_int(tgid), ctypes.c_int(signum), buffer)
        else:
            host_syscall("rt_tgsigqueueinfo", ctypes.c_int(tgid), ctypes.c_int(tid),
                         ctypes.c_int(signum), buffer)
        return 0
    if code >= 0 and code != SI_QUEUE:           # only the kernel may claim those
        return -errno.EPERM
    target = p.threads.get(tid) if tid != tgid else None
    send(p, Siginfo(signum, code, raw=raw), target)
    return 0


# -- waiting --------------------------------------------------------------------

@syscall("pause")
def pause(thread: Thread) -> int:
    while wait_for(thread, [], None) is not None:
        pass
    return -ERESTARTNOHAND


@syscall("rt_sigsuspend")
def rt_sigsuspend(thread: Thread, mask: int, setsize: int) -> int:
    """Wait with a temporary mask; the handler's frame saves the old one,
    which sigreturn puts back."""
    p = thread.process
    if setsize != SIGSET_SIZE:
        return -errno.EINVAL
    temporary = sigset_value(p.spec, p.mem.read(mask, SIGSET_SIZE))
    thread.saved_mask = thread.blocked
    set_blocked(thread, temporary)
    while wait_for(thread, [], None) is not None:
        pass
    return -ERESTARTNOHAND


@syscall("rt_sigtimedwait")
def rt_sigtimedwait(thread: Thread, wanted: int, info: int, timeout: int, setsize: int) -> int:
    return _sigtimedwait(thread, wanted, info, timeout, setsize, "timespec")


@syscall("rt_sigtimedwait_time64")
def rt_sigtimedwait_time64(thread: Thread, wanted: int, info: int, timeout: int,
                           setsize: int) -> int:
    return _sigtimedwait(thread, wanted, info, timeout, setsize, "timespec64")


def _sigtimedwait(thread: Thread, wanted: int, info: int, timeout: int, setsize: int,
                  layout: str) -> int:
    p = thread.process
    if setsize != SIGSET_SIZE:
        return -errno.EINVAL
    waited = sigset_value(p.spec, p.mem.read(wanted, SIGSET_SIZE)) & ~(bit(SIGKILL) | bit(SIGSTOP))
    seconds = read_timeout(p, timeout, layout)
    # The waited-for signals count as unblocked while we wait (so one that
    # arrives wakes us), and are taken here instead of by a handler.
    saved = thread.blocked
    thread.blocked = saved | waited
    try:
        deadline = None if seconds is None else time.monotonic() + seconds
        while True:
            take_incoming(p)
            ready = (thread.pending.mask | p.pending.mask) & waited
            if ready:
                signum = lowest(ready)
                queue = thread.pending if thread.pending.mask & bit(signum) else p.pending
                found = queue.take(signum)
                if info:
                    p.mem.write(info, found.pack(p.spec))
                return signum
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return -errno.EAGAIN
            # (woken by any ring: a waited-for signal is blocked, so it is
            # not one wait_for returns for by itself)
            if wait_for(thread, [], left, wake_returns=True) is None:
                return -errno.EINTR
    finally:
        thread.blocked = saved
        recalc(thread)


# -- timers ------------------------------------------------------------------------

ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF = 0, 1, 2
HOST_ITIMERS = {ITIMER_VIRTUAL: host_signal.ITIMER_VIRTUAL, ITIMER_PROF: host_signal.ITIMER_PROF}


def _real_timer(p: Process) -> RealTimer:
    if p.real_timer is None:
        p.real_timer = RealTimer(p)
    return p.real_timer


@syscall("alarm")
def alarm(p: Process, seconds: int) -> int:
    left, _ = _real_timer(p).set(float(seconds & 0xFFFFFFFF), 0.0)
    return math.ceil(left) if left else 0


@syscall("setitimer")
def setitimer(p: Process, which: int, new: int, old: int) -> int:
    which = p.int32(which)
    if which not in (ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF):
        return -errno.EINVAL
    value = interval = 0.0
    if new:
        fields = p.read_struct(new, "itimerval")
        for prefix in ("it_value", "it_interval"):
            if not 0 <= fields[f"{prefix}_usec"] < 1_000_000 or fields[f"{prefix}_sec"] < 0:
                return -errno.EINVAL
        value = fields["it_value_sec"] + fields["it_value_usec"] / 1e6
        interval = fields["it_interval_sec"] + fields["it_interval_usec"] / 1e6
    if which == ITIMER_REAL:
        if new:
            previous = _real_timer(p).set(value, interval)
        else:
            timer = _real_timer(p)
            previous = timer.left(), timer.interval
    else:
        # Virtual and profiling time: the host's timers on xemu's own CPU
        # time, whose SIGVTALRM and SIGPROF are forwarded to the guest.
        previous = host_signal.setitimer(HOST_ITIMERS[which], value, interval) if new \
            else host_signal.getitimer(HOST_ITIMERS[which])
    if old:
        _write_itimerval(p, old, *previous)
    return 0


@syscall("getitimer")
def getitimer(p: Process, which: int, address: int) -> int:
    return setitimer(p, which, 0, address)


def _write_itimerval(p: Process, address: int, value: float, interval: float) -> None:
    def split(seconds: float) -> tuple[int, int]:
        whole = int(seconds)
        micro = int(round((seconds - whole) * 1e6))
        if value and not whole and not micro:
            micro = 1                 # still armed: Linux never reports 0 then
        return whole, min(micro, 999_999)
    (value_s, value_us), (interval_s, interval_us) = split(value), split(interval)
    p.write_struct(address, "itimerval", it_interval_sec=interval_s,
                   it_interval_usec=interval_us, it_value_sec=value_s, it_value_usec=value_us)


SFD_NONBLOCK, SFD_CLOEXEC = os.O_NONBLOCK, 0o2000000


@syscall("signalfd4")
def signalfd4(thread: Thread, fd: int, mask: int, size: int, flags: int) -> int:
    """A descriptor to read signals from (linux/signals.py SignalFd); with
    an existing signalfd, its set changes."""
    p = thread.process
    flags = p.int32(flags)
    if flags & ~(SFD_NONBLOCK | SFD_CLOEXEC) or size != SIGSET_SIZE:
        return -errno.EINVAL
    wanted = sigset_value(p.spec, p.mem.read(mask, SIGSET_SIZE)) & ~UNBLOCKABLE
    fd = p.int32(fd)
    if fd != -1:
        entry = p.fds.get(fd)
        if entry.signalfd is None:
            return -errno.EINVAL
        entry.signalfd.mask = wanted
    else:
        host = os.eventfd(0, os.EFD_CLOEXEC | (os.EFD_NONBLOCK if flags & SFD_NONBLOCK else 0))
        fd = p.fds.add(host, cloexec=bool(flags & SFD_CLOEXEC))
        p.fds.get(fd).signalfd = SignalFd(wanted)
        p.signalfds_made = True
    recalc(thread)
    return fd


@syscall("signalfd")
def signalfd(thread: Thread, fd: int, mask: int, size: int) -> int:
    return signalfd4(thread, fd, mask, size, 0)
