"""Clocks and sleeping, in both the native and the 64-bit-time forms."""
from __future__ import annotations

import errno
import time as host_time

from ...machine.accel.base import MachineCall
from ..process import Process
from ..signals import ERESTART_RESTARTBLOCK, sleep
from ..thread import Thread
from .registry import syscall, time_struct

TIMER_ABSTIME = 1
CLOCKS = frozenset({0, 1, 2, 3, 4, 5, 6, 7, 9, 11})   # those the host's clock_gettime knows


def _clock(clock_id: int) -> int:
    clock_id = clock_id & 0xFFFFFFFF
    if clock_id not in CLOCKS:
        raise OSError(errno.EINVAL, "bad clock")
    return clock_id


def _write_time(p: Process, address: int, layout: str, ns: int) -> None:
    p.write_struct(address, layout, tv_sec=ns // 10**9, tv_nsec=ns % 10**9)


def _read_time(p: Process, address: int, layout: str) -> int:
    value = p.read_struct(address, layout)
    if not 0 <= value["tv_nsec"] < 10**9:
        raise OSError(errno.EINVAL, "bad timespec")
    return value["tv_sec"] * 10**9 + value["tv_nsec"]


def read_timeout(p: Process, address: int, layout: str) -> float | None:
    """A wait's timeout in seconds from a timespec, timespec64 or timeval
    (NULL: wait forever); EINVAL for a negative or malformed one."""
    if not address:
        return None
    value = p.read_struct(address, layout)
    fraction, scale = (value["tv_usec"], 10**6) if layout == "timeval" \
        else (value["tv_nsec"], 10**9)
    if value["tv_sec"] < 0 or not 0 <= fraction < scale:
        raise OSError(errno.EINVAL, f"bad {layout}")
    return value["tv_sec"] + fraction / scale


@syscall("clock_gettime", in_machine=time_struct("clock", "timespec", CLOCKS))
def clock_gettime(p: Process, clock_id: int, ts: int) -> int:
    _write_time(p, ts, "timespec", host_time.clock_gettime_ns(_clock(clock_id)))
    return 0


@syscall("clock_gettime64", in_machine=time_struct("clock", "timespec64", CLOCKS))
def clock_gettime64(p: Process, clock_id: int, ts: int) -> int:
    _write_time(p, ts, "timespec64", host_time.clock_gettime_ns(_clock(clock_id)))
    return 0


@syscall("clock_getres")
def clock_getres(p: Process, clock_id: int, ts: int) -> int:
    resolution = int(host_time.clock_getres(_clock(clock_id)) * 10**9)
    if ts:
        _write_time(p, ts, "timespec", resolution)
    return 0


@syscall("clock_getres_time64")
def clock_getres_time64(p: Process, clock_id: int, ts: int) -> int:
    resolution = int(host_time.clock_getres(_clock(clock_id)) * 10**9)
    if ts:
        _write_time(p, ts, "timespec64", resolution)
    return 0


@syscall("gettimeofday", in_machine=time_struct("timeofday", "timeval"))
def gettimeofday(p: Process, tv: int, tz: int) -> int:
    if tv:
        ns = host_time.time_ns()
        p.write_struct(tv, "timeval", tv_sec=ns // 10**9, tv_usec=ns % 10**9 // 1000)
    if tz:
        p.mem.write(tz, bytes(8))
    return 0


@syscall("time", in_machine=lambda process: MachineCall("time"))
def time(p: Process, tloc: int) -> int:
    now = int(host_time.time())
    if tloc:
        p.mem.write(tloc, p.pack_words(now))
    return now


@syscall("nanosleep")
def nanosleep(thread: Thread, req: int, rem: int) -> int:
    p = thread.process
    return _nanosleep(thread, host_time.CLOCK_MONOTONIC, 0, _read_time(p, req, "timespec"),
                      rem, "timespec")


@syscall("clock_nanosleep")
def clock_nanosleep(thread: Thread, clock_id: int, flags: int, req: int, rem: int) -> int:
    p = thread.process
    return _nanosleep(thread, _clock(clock_id), flags, _read_time(p, req, "timespec"),
                      rem, "timespec")


@syscall("clock_nanosleep_time64")
def clock_nanosleep_time64(thread: Thread, clock_id: int, flags: int, req: int,
                           rem: int) -> int:
    p = thread.process
    return _nanosleep(thread, _clock(clock_id), flags, _read_time(p, req, "timespec64"),
                      rem, "timespec64")


def _nanosleep(thread: Thread, clock_id: int, flags: int, ns: int, rem: int,
               layout: str) -> int:
    """Sleep on the host's clock; a signal ends it early with the time
    left in rem (not for an absolute deadline, as Linux)."""
    now = host_time.clock_gettime_ns(clock_id)
    deadline_ns = ns if flags & TIMER_ABSTIME else now + ns
    while True:
        left = deadline_ns - host_time.clock_gettime_ns(clock_id)
        if left <= 0:
            return 0
        if not sleep(thread, left / 1e9):
            left = max(0, deadline_ns - host_time.clock_gettime_ns(clock_id))
            if rem and not flags & TIMER_ABSTIME:
                thread.process.write_struct(rem, layout, tv_sec=left // 10**9,
                                            tv_nsec=left % 10**9)
            return -ERESTART_RESTARTBLOCK


@syscall("clock_adjtime", "clock_adjtime64", "adjtimex")
def clock_adjtime(p: Process) -> int:
    """The host's clock is not the guest's to tune or read this way."""
    return -errno.EPERM
