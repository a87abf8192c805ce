"""epoll: the host's own epoll instances behind the guest's descriptors.

An epoll instance is a host epoll descriptor in the guest's table, so
level and edge triggering, EPOLLONESHOT and EPOLLEXCLUSIVE, and a watched
descriptor's close, are the host kernel's. epoll_ctl names guest
descriptors (translated to xemu's host ones); the event's 64-bit data is
the guest's own 8 bytes, carried through untouched, so it round-trips on
every arch and byte order. struct epoll_event differs per arch: 12 bytes on
x86-64 (packed) and i386 (its 4-byte alignment of u64), 16 elsewhere
(linux/structs.py and the arch's structs.py). A wait polls the epoll
descriptor with the thread's wake descriptor (signals.wait_for), then
takes what is ready without blocking; a signal makes it EINTR, never a
restart, as on Linux.
"""
from __future__ import annotations

import ctypes
import errno
import select
import struct

from ..process import Process
from ..thread import Thread
from .hostlibc import LIBC, checked
from .poll import read_sigmask, wait_with_mask
from .registry import syscall

EPOLL_CLOEXEC = 0o2000000
EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD = 1, 2, 3
EP_MAX_EVENTS = 0x7FFFFFFF // 16
HOST_EVENT = struct.Struct("=IQ")             # the x86-64 host's packed epoll_event

LIBC.epoll_create1.argtypes = (ctypes.c_int,)
LIBC.epoll_ctl.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_char_p)
LIBC.epoll_wait.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_int)


def _create(p: Process, cloexec: bool) -> int:
    host = checked(LIBC.epoll_create1(EPOLL_CLOEXEC))
    return p.fds.add(host, cloexec=cloexec)


@syscall("epoll_create")
def epoll_create(p: Process, size: int) -> int:
    if p.int32(size) <= 0:
        return -errno.EINVAL
    return _create(p, False)


@syscall("epoll_create1")
def epoll_create1(p: Process, flags: int) -> int:
    if flags & ~EPOLL_CLOEXEC:
        return -errno.EINVAL
    return _create(p, bool(flags & EPOLL_CLOEXEC))


@syscall("epoll_ctl")
def epoll_ctl(p: Process, epfd: int, op: int, fd: int, event: int) -> int:
    host_epoll = p.fds.host(p.int32(epfd))
    host_fd = p.fds.host(p.int32(fd))
    op = p.int32(op)
    data = bytes(HOST_EVENT.size)
    if op != EPOLL_CTL_DEL:
        if op not in (EPOLL_CTL_ADD, EPOLL_CTL_MOD):
            return -errno.EINVAL
        layout = p.layout("epoll_event")
        guest = layout.unpack(p.mem.read(event, layout.size))
        data = HOST_EVENT.pack(guest["events"], int.from_bytes(guest["data"], "little"))
    checked(LIBC.epoll_ctl(host_epoll, op, host_fd, data))
    return 0


def _epoll_wait(thread: Thread, epfd: int, events: int, maxevents: int,
                timeout: float | None, mask: int | None) -> int:
    p = thread.process
    host_epoll = p.fds.host(p.int32(epfd))
    maxevents = p.int32(maxevents)
    if not 0 < maxevents <= EP_MAX_EVENTS:
        return -errno.EINVAL
    layout = p.layout("epoll_event")
    p.mem.read(events, layout.size)               # EFAULT before waiting, as Linux
    if wait_with_mask(thread, [(host_epoll, select.POLLIN)], timeout, mask) is None:
        return -errno.EINTR
    buffer = ctypes.create_string_buffer(HOST_EVENT.size * min(maxevents, 1024))
    count = checked(LIBC.epoll_wait(host_epoll, buffer, min(maxevents, 1024), 0))
    out = bytearray()
    for i in range(count):
        flags, data = HOST_EVENT.unpack_from(buffer.raw, i * HOST_EVENT.size)
        out += layout.pack(events=flags, data=data.to_bytes(8, "little"))
    p.mem.write(events, bytes(out))
    return count


def _milliseconds(p: Process, timeout: int) -> float | None:
    value = p.int32(timeout)
    return None if value < 0 else value / 1000


@syscall("epoll_wait")
def epoll_wait(thread: Thread, epfd: int, events: int, maxevents: int, timeout: int) -> int:
    return _epoll_wait(thread, epfd, events, maxevents,
                       _milliseconds(thread.process, timeout), None)


@syscall("epoll_pwait")
def epoll_pwait(thread: Thread, epfd: int, events: int, maxevents: int, timeout: int,
                sigmask: int, sigsetsize: int) -> int:
    p = thread.process
    return _epoll_wait(thread, epfd, events, maxevents, _milliseconds(p, timeout),
                       read_sigmask(p, sigmask, sigsetsize))


@syscall("epoll_pwait2")
def epoll_pwait2(thread: Thread, epfd: int, events: int, maxevents: int, timeout: int,
                 sigmask: int, sigsetsize: int) -> int:
    """epoll_pwait with a struct timespec (always 64-bit: __kernel_timespec)."""
    p = thread.process
    seconds = None
    if timeout:
        value = p.read_struct(timeout, "timespec64")
        if value["tv_sec"] < 0 or not 0 <= value["tv_nsec"] < 10**9:
            return -errno.EINVAL
        seconds = value["tv_sec"] + value["tv_nsec"] / 1e9
    return _epoll_wait(thread, epfd, events, maxevents, seconds,
                       read_sigmask(p, sigmask, sigsetsize))
