"""POSIX per-process timers: timer_create, timer_settime, timer_gettime,
timer_getoverrun, timer_delete (and the time64 forms).

Each armed timer is a host thread that sleeps to the next expiry and hands
the signal to the guest as the host's signals come (HostSignals.record):
SI_TIMER with the timer's id, overrun count and sigev_value, to the process
or, for SIGEV_THREAD_ID (glibc's SIGEV_THREAD helper), to one thread. A
signal still pending when the timer fires again counts an overrun instead.
CPU-time clocks are timed on the monotonic clock: a program that spins
sees them fire on time, one that sleeps sees them fire early.
"""
from __future__ import annotations

import errno
import signal as host_signal
import struct
import threading
import time
from dataclasses import dataclass, field

from ..process import Process
from ..signals import NSIG, Siginfo, bit, drop_queued, host_signals
from ..thread import Thread
from .registry import syscall

SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD, SIGEV_THREAD_ID = 0, 1, 2, 4
SI_TIMER = -2
TIMER_ABSTIME = 1
CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME, CLOCK_THREAD_CPUTIME = 0, 1, 2, 3
CLOCKS = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11}       # those clock_gettime knows
CLOCK_REALTIME_ALARM = 8
# what an absolute expiry is measured against, by clock (else monotonic)
NOW = {CLOCK_REALTIME: time.time, CLOCK_REALTIME_ALARM: time.time,
       CLOCK_PROCESS_CPUTIME: time.process_time, CLOCK_THREAD_CPUTIME: time.thread_time}
MAX_TIMERS = 4096
DELAYTIMER_MAX = 0x7FFFFFFF
LONGEST_SLEEP = 86400.0         # seconds a timer's thread sleeps before looking again


@dataclass
class PosixTimer:
    timer_id: int
    clock: int
    signo: int                  # 0 with SIGEV_NONE
    value: int                  # sigev_value, the siginfo's si_value
    thread_id: int = 0          # SIGEV_THREAD_ID's target
    process: object = None
    deadline: float | None = None      # on the monotonic clock
    interval: float = 0.0
    overrun: int = 0            # expiries while the last signal was pending
    last_overrun: int = 0       # those of the signal before it
    generation: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(self, first: float | None, interval: float) -> None:
        """first: seconds from now (None disarms). A signal of the old
        setting still queued is taken back, as Linux does."""
        if self.signo:
            drop_queued(self.process, self.signo,
                        lambda info: info.code == SI_TIMER and info.pid == self.timer_id)
        with self.lock:
            self.generation += 1
            self.deadline = None if first is None else time.monotonic() + max(first, 0.0)
            self.interval = interval if first is not None else 0.0
            self.overrun = 0
            if self.deadline is not None and self.signo:
                threading.Thread(target=self._run, args=(self.generation,),
                                 name="xemu-posix-timer", daemon=True).start()

    def left(self) -> tuple[float, float]:
        """(seconds to the next expiry, interval), as timer_gettime."""
        with self.lock:
            if self.deadline is None:
                return 0.0, self.interval
            return max(0.0, self.deadline - time.monotonic()), self.interval

    def _run(self, generation: int) -> None:
        host_signal.pthread_sigmask(host_signal.SIG_BLOCK, host_signal.valid_signals())
        while True:
            with self.lock:
                if generation != self.generation or self.deadline is None:
                    return
                wait = self.deadline - time.monotonic()
                if wait <= 0:
                    self._expire()
                    if not self.interval:
                        self.deadline = None
                        return
                    self.deadline += self.interval
                    behind = time.monotonic() - self.deadline
                    if behind > 0:              # expiries missed while asleep: overruns
                        missed = int(behind // self.interval) + 1
                        self.overrun = min(DELAYTIMER_MAX, self.overrun + missed)
                        self.deadline += missed * self.interval
                    continue
            # a guest may ask for centuries, past what time.sleep takes: in steps
            time.sleep(min(wait, LONGEST_SLEEP))

    def _expire(self) -> None:
        process = self.process
        pending = process.pending.mask
        target = process.threads.get(self.thread_id) if self.thread_id else None
        if target is not None:
            pending |= target.pending.mask
        if pending & bit(self.signo):
            self.overrun = min(DELAYTIMER_MAX, self.overrun + 1)
            return
        # the last signal was taken: its overruns are counted; a new one goes
        self.last_overrun, self.overrun = self.overrun, 0
        forwarding = host_signals()
        if forwarding is not None:
            forwarding.record(Siginfo(self.signo, SI_TIMER, pid=self.timer_id,
                                      uid=self.last_overrun, value=self.value,
                                      thread_id=self.thread_id))


def _timer(p: Process, timer_id: int) -> PosixTimer:
    found = p.posix_timers.get(p.int32(timer_id))
    if found is None:
        raise OSError(errno.EINVAL, "no such timer")
    return found


@syscall("timer_create")
def timer_create(thread: Thread, clock: int, event: int, created: int) -> int:
    p = thread.process
    clock = p.int32(clock)
    if clock not in CLOCKS and clock >= 0:
        return -errno.EINVAL
    word = p.spec.word_size
    if event:
        value_code = "Q" if word == 8 else "I"
        raw = p.mem.read(event, word + 12)
        value = struct.unpack(p.spec.endian + value_code, raw[:word])[0]
        signo, notify, tid = struct.unpack(p.spec.endian + "iii", raw[word:word + 12])
    else:
        value, signo, notify, tid = 0, host_signal.SIGALRM, SIGEV_SIGNAL, 0
    if notify not in (SIGEV_SIGNAL, SIGEV_NONE, SIGEV_THREAD_ID):
        return -errno.EINVAL
    if notify != SIGEV_NONE and not 1 <= signo <= NSIG:
        return -errno.EINVAL
    if notify == SIGEV_THREAD_ID and tid not in p.threads:
        return -errno.EINVAL
    if len(p.posix_timers) >= MAX_TIMERS:
        return -errno.EAGAIN
    timer_id = next(i for i in range(MAX_TIMERS + 1) if i not in p.posix_timers)
    if not event:
        value = timer_id                    # the kernel's default sigev_value
    p.posix_timers[timer_id] = PosixTimer(
        timer_id, clock, 0 if notify == SIGEV_NONE else signo, value,
        tid if notify == SIGEV_THREAD_ID else 0, p)
    p.mem.write(created, struct.pack(p.spec.endian + "i", timer_id))
    return 0


def _settime(p: Process, timer_id: int, flags: int, new: int, old: int, layout: str) -> int:
    timer = _timer(p, timer_id)
    spec = p.layout(layout)
    raw = p.mem.read(new, 2 * spec.size)
    interval, value = (spec.unpack(raw[i * spec.size:]) for i in range(2))
    for part in (interval, value):
        if not 0 <= part["tv_nsec"] < 10**9 or part["tv_sec"] < 0:
            return -errno.EINVAL
    if old:
        _write_itimerspec(p, old, timer.left(), layout)
    seconds = value["tv_sec"] + value["tv_nsec"] / 1e9
    period = interval["tv_sec"] + interval["tv_nsec"] / 1e9
    if seconds == 0:
        timer.arm(None, 0.0)
        return 0
    if p.int32(flags) & TIMER_ABSTIME:
        seconds -= NOW.get(timer.clock, time.monotonic)()
    timer.arm(seconds, period)
    return 0


def _write_itimerspec(p: Process, address: int, left: tuple[float, float], layout: str) -> None:
    remaining, interval = left
    spec = p.layout(layout)
    p.mem.write(address, b"".join(spec.pack(tv_sec=int(t), tv_nsec=round(t % 1 * 1e9) % 10**9)
                                  for t in (interval, remaining)))


@syscall("timer_settime")
def timer_settime(p: Process, timer_id: int, flags: int, new: int, old: int) -> int:
    return _settime(p, timer_id, flags, new, old, "timespec")


@syscall("timer_settime64")
def timer_settime64(p: Process, timer_id: int, flags: int, new: int, old: int) -> int:
    return _settime(p, timer_id, flags, new, old, "timespec64")


@syscall("timer_gettime")
def timer_gettime(p: Process, timer_id: int, current: int) -> int:
    _write_itimerspec(p, current, _timer(p, timer_id).left(), "timespec")
    return 0


@syscall("timer_gettime64")
def timer_gettime64(p: Process, timer_id: int, current: int) -> int:
    _write_itimerspec(p, current, _timer(p, timer_id).left(), "timespec64")
    return 0


@syscall("timer_getoverrun")
def timer_getoverrun(p: Process, timer_id: int) -> int:
    """The overruns of the timer's last delivered signal: those counted so
    far if none is queued now, else the ones of the signal before."""
    timer = _timer(p, timer_id)
    queued = timer.signo and (p.pending.mask | _thread_pending(p, timer)) & bit(timer.signo)
    return timer.last_overrun if queued else timer.overrun


def _thread_pending(p: Process, timer: PosixTimer) -> int:
    target = p.threads.get(timer.thread_id) if timer.thread_id else None
    return target.pending.mask if target is not None else 0


@syscall("timer_delete")
def timer_delete(p: Process, timer_id: int) -> int:
    timer = _timer(p, timer_id)
    timer.arm(None, 0.0)
    del p.posix_timers[timer.timer_id]
    return 0
