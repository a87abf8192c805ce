"""Event descriptors: eventfd, timerfd and inotify, the host's own.

The guest's descriptor is a host eventfd or timerfd, so counting,
EFD_SEMAPHORE, timer expiry and overruns are the host kernel's; flag bits
(CLOEXEC, NONBLOCK, SEMAPHORE, TIMER_ABSTIME) have the same values on every
arch here. A read that would block waits where a signal interrupts it, as
for a pipe (signals.may_block counts these anonymous inodes). Their 8-byte
values are in the machine's byte order: fs.py turns them round for a
big-endian guest (`counter_in_host_order`).
"""
from __future__ import annotations

import ctypes
import errno
import os
import struct

from ..process import AT_FDCWD, Process
from .hostlibc import LIBC, checked
from .registry import syscall

EFD_SEMAPHORE, EFD_NONBLOCK, EFD_CLOEXEC = 1, 0o4000, 0o2000000
TFD_TIMER_ABSTIME, TFD_TIMER_CANCEL_ON_SET = 1, 2
TIMER_CLOCKS = {0, 1, 7, 8, 9}       # REALTIME, MONOTONIC, BOOTTIME and their ALARMs
HOST_ITIMERSPEC = struct.Struct("=4q")
COUNTER_INODES = (b"anon_inode:[eventfd]", b"anon_inode:[timerfd]")

LIBC.timerfd_create.argtypes = (ctypes.c_int, ctypes.c_int)
LIBC.timerfd_settime.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p)
LIBC.timerfd_gettime.argtypes = (ctypes.c_int, ctypes.c_char_p)


def counter_in_host_order(host_fd: int) -> bool:
    """An eventfd or timerfd: its reads and writes are 8-byte values in
    the host's byte order."""
    try:
        return os.readlink(f"/proc/self/fd/{host_fd}").encode().startswith(COUNTER_INODES)
    except OSError:
        return False


@syscall("eventfd2")
def eventfd2(p: Process, initval: int, flags: int) -> int:
    if flags & ~(EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC):
        return -errno.EINVAL
    host = os.eventfd(initval & 0xFFFFFFFF, (flags & ~EFD_CLOEXEC) | EFD_CLOEXEC)
    return p.fds.add(host, cloexec=bool(flags & EFD_CLOEXEC))


@syscall("eventfd")
def eventfd(p: Process, initval: int) -> int:
    return eventfd2(p, initval, 0)


@syscall("timerfd_create")
def timerfd_create(p: Process, clock: int, flags: int) -> int:
    if p.int32(clock) not in TIMER_CLOCKS or flags & ~(EFD_NONBLOCK | EFD_CLOEXEC):
        return -errno.EINVAL
    host = checked(LIBC.timerfd_create(p.int32(clock), (flags & ~EFD_CLOEXEC) | EFD_CLOEXEC))
    return p.fds.add(host, cloexec=bool(flags & EFD_CLOEXEC))


def _read_itimerspec(p: Process, address: int, layout: str) -> bytes:
    size = p.layout(layout).size
    interval, value = (p.read_struct(address + i * size, layout) for i in range(2))
    return HOST_ITIMERSPEC.pack(interval["tv_sec"], interval["tv_nsec"],
                                value["tv_sec"], value["tv_nsec"])


def _write_itimerspec(p: Process, address: int, layout: str, raw: bytes) -> None:
    size = p.layout(layout).size
    fields = HOST_ITIMERSPEC.unpack(raw)
    for i in range(2):
        p.write_struct(address + i * size, layout, tv_sec=fields[2 * i],
                       tv_nsec=fields[2 * i + 1])


def _settime(p: Process, fd: int, flags: int, new: int, old: int, layout: str) -> int:
    if flags & ~(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET):
        return -errno.EINVAL
    given = _read_itimerspec(p, new, layout)
    previous = ctypes.create_string_buffer(HOST_ITIMERSPEC.size)
    checked(LIBC.timerfd_settime(p.fds.host(p.int32(fd)), flags, given, previous))
    if old:
        _write_itimerspec(p, old, layout, previous.raw)
    return 0


def _gettime(p: Process, fd: int, current: int, layout: str) -> int:
    raw = ctypes.create_string_buffer(HOST_ITIMERSPEC.size)
    checked(LIBC.timerfd_gettime(p.fds.host(p.int32(fd)), raw))
    _write_itimerspec(p, current, layout, raw.raw)
    return 0


@syscall("timerfd_settime")
def timerfd_settime(p: Process, fd: int, flags: int, new: int, old: int) -> int:
    return _settime(p, fd, flags, new, old, "timespec")


@syscall("timerfd_settime64")
def timerfd_settime64(p: Process, fd: int, flags: int, new: int, old: int) -> int:
    return _settime(p, fd, flags, new, old, "timespec64")


@syscall("timerfd_gettime")
def timerfd_gettime(p: Process, fd: int, current: int) -> int:
    return _gettime(p, fd, current, "timespec")


@syscall("timerfd_gettime64")
def timerfd_gettime64(p: Process, fd: int, current: int) -> int:
    return _gettime(p, fd, current, "timespec64")


# -- inotify ------------------------------------------------------------------------

IN_NONBLOCK, IN_CLOEXEC = 0o4000, 0o2000000
IN_DONT_FOLLOW = 0x02000000
INOTIFY_HEADER = struct.Struct("=iIII")       # wd, mask, cookie, len; then the name


@syscall("inotify_init1")
def inotify_init1(p: Process, flags: int) -> int:
    """The host's inotify: events are read as the kernel writes them
    (turned to a big-endian guest's byte order by fs.py's read)."""
    flags = p.int32(flags)
    if flags & ~(IN_NONBLOCK | IN_CLOEXEC):
        return -errno.EINVAL
    host = checked(LIBC.inotify_init1((flags & IN_NONBLOCK) | IN_CLOEXEC))
    fd = p.fds.add(host, cloexec=bool(flags & IN_CLOEXEC))
    p.fds.get(fd).inotify = True
    return fd


@syscall("inotify_init")
def inotify_init(p: Process) -> int:
    return inotify_init1(p, 0)


@syscall("inotify_add_watch")
def inotify_add_watch(p: Process, fd: int, path: int, mask: int) -> int:
    entry = p.fds.get(p.int32(fd))
    if not entry.inotify:
        return -errno.EINVAL
    follow = not mask & IN_DONT_FOLLOW
    with p.path_at(AT_FDCWD, path, follow=follow) as (name, dir_fd):
        where = os.fsencode(name) if dir_fd is None else \
            b"/proc/self/fd/%d/%s" % (dir_fd, os.fsencode(name))
        return checked(LIBC.inotify_add_watch(entry.host_fd, where, ctypes.c_uint32(mask)))


@syscall("inotify_rm_watch")
def inotify_rm_watch(p: Process, fd: int, watch: int) -> int:
    entry = p.fds.get(p.int32(fd))
    if not entry.inotify:
        return -errno.EINVAL
    checked(LIBC.inotify_rm_watch(entry.host_fd, p.int32(watch)))
    return 0


def inotify_events_to_guest(view, length: int, endian: str) -> None:
    """Rewrite the event headers in a read buffer in the guest's byte order."""
    at = 0
    while at + INOTIFY_HEADER.size <= length:
        fields = INOTIFY_HEADER.unpack_from(view, at)
        struct.pack_into(endian + "iIII", view, at, *fields)
        at += INOTIFY_HEADER.size + fields[3]
