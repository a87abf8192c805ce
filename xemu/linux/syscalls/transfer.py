"""Moving bytes between descriptors and the rest of a file's life beyond
read and write: vectored I/O at an offset, sendfile, copy_file_range,
splice and tee, space (fallocate), locks (flock), hard links (linkat),
anonymous files (memfd_create) and extended attributes. Every descriptor
is translated to the host's; offsets the guest passes by pointer are read
and written back in its byte order."""
from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import stat
import struct

from ..process import AT_FDCWD, Process
from ..signals import ERESTARTSYS, sleep
from ..thread import Thread
from .fs import AT_EMPTY_PATH, guest_iovecs
from .hostlibc import LIBC, checked
from .registry import syscall

AT_SYMLINK_FOLLOW = 0x400
MFD_FLAGS = 0x1 | 0x2 | 0x4 | 0x8 | 0x10   # CLOEXEC, ALLOW_SEALING, HUGETLB, NOEXEC_SEAL, EXEC
MFD_CLOEXEC = 0x1
XATTR_SIZE_MAX = 65536
FLOCK_RETRY = 0.01                          # seconds between tries of a blocking flock


# -- vectored I/O at an offset --------------------------------------------------

def _offset(p: Process, low: int, high: int) -> int:
    """preadv's offset: two words, low then high, on 32-bit arches."""
    return p.loff(low if p.spec.bits == 64 else (high << 32) | low)


@syscall("preadv")
def preadv(p: Process, fd: int, iov: int, count: int, low: int, high: int) -> int:
    return os.preadv(p.fds.host(p.int32(fd)), guest_iovecs(p, iov, count, writing=True),
                     _checked(_offset(p, low, high)))


@syscall("pwritev")
def pwritev(p: Process, fd: int, iov: int, count: int, low: int, high: int) -> int:
    return os.pwritev(p.fds.host(p.int32(fd)), guest_iovecs(p, iov, count),
                      _checked(_offset(p, low, high)))


@syscall("preadv2")
def preadv2(p: Process, fd: int, iov: int, count: int, low: int, high: int,
            flags: int) -> int:
    host, views = p.fds.host(p.int32(fd)), guest_iovecs(p, iov, count, writing=True)
    offset = _offset(p, low, high)
    if offset == -1:                         # the file position, as readv
        return os.readv(host, views)
    return os.preadv(host, views, _checked(offset), p.int32(flags))


@syscall("pwritev2")
def pwritev2(p: Process, fd: int, iov: int, count: int, low: int, high: int,
             flags: int) -> int:
    host, views = p.fds.host(p.int32(fd)), guest_iovecs(p, iov, count)
    offset = _offset(p, low, high)
    if offset == -1:
        return os.writev(host, views)
    return os.pwritev(host, views, _checked(offset), p.int32(flags))


# Linux transfers at most this much in one call (INT_MAX rounded down to a
# page): a larger size_t count is cut to it, not refused
MAX_RW_COUNT = 0x7FFF_F000
SPLICE_F_ALL = 0xF                   # MOVE, NONBLOCK, MORE, GIFT


def _checked(offset: int) -> int:
    if offset < 0:
        raise OSError(errno.EINVAL, "negative offset")
    return offset


# -- between descriptors --------------------------------------------------------

def _read_offset(p: Process, address: int, code: str) -> int | None:
    if not address:
        return None
    return struct.unpack(p.spec.endian + code, p.mem.read(address, struct.calcsize(code)))[0]


def _write_offset(p: Process, address: int, code: str, value: int) -> None:
    if address:
        p.mem.write(address, struct.pack(p.spec.endian + code, value))


def _sendfile(p: Process, out_fd: int, in_fd: int, offset: int, count: int, code: str) -> int:
    host_out, host_in = p.fds.host(p.int32(out_fd)), p.fds.host(p.int32(in_fd))
    start = _read_offset(p, offset, code)
    if start is not None and start < 0:
        return -errno.EINVAL
    done = os.sendfile(host_out, host_in, start, min(count, MAX_RW_COUNT))
    if start is not None:
        _write_offset(p, offset, code, start + done)
    return done


@syscall("sendfile")
def sendfile(p: Process, out_fd: int, in_fd: int, offset: int, count: int) -> int:
    """off_t: a word on 32-bit arches (sendfile64 takes a loff_t)."""
    return _sendfile(p, out_fd, in_fd, offset, count, "q" if p.spec.bits == 64 else "i")


@syscall("sendfile64")
def sendfile64(p: Process, out_fd: int, in_fd: int, offset: int, count: int) -> int:
    return _sendfile(p, out_fd, in_fd, offset, count, "q")


def _between(p: Process, fd_in: int, off_in: int, fd_out: int, off_out: int, move) -> int:
    """copy_file_range and splice: offsets given by pointer (loff_t) are
    read, used and moved on by what was done; move(host_in, host_out,
    start_in, start_out) does the work."""
    start_in, start_out = _read_offset(p, off_in, "q"), _read_offset(p, off_out, "q")
    if (start_in or 0) < 0 or (start_out or 0) < 0:
        return -errno.EINVAL
    done = move(p.fds.host(p.int32(fd_in)), p.fds.host(p.int32(fd_out)), start_in, start_out)
    if start_in is not None:
        _write_offset(p, off_in, "q", start_in + done)
    if start_out is not None:
        _write_offset(p, off_out, "q", start_out + done)
    return done


@syscall("copy_file_range")
def copy_file_range(p: Process, fd_in: int, off_in: int, fd_out: int, off_out: int,
                    length: int, flags: int) -> int:
    if flags:
        return -errno.EINVAL
    return _between(p, fd_in, off_in, fd_out, off_out,
                    lambda src, dst, at_src, at_dst: os.copy_file_range(
                        src, dst, min(length, MAX_RW_COUNT), at_src, at_dst))


@syscall("splice")
def splice(p: Process, fd_in: int, off_in: int, fd_out: int, off_out: int, length: int,
           flags: int) -> int:
    if flags & 0xFFFF_FFFF & ~SPLICE_F_ALL:
        return -errno.EINVAL
    return _between(p, fd_in, off_in, fd_out, off_out,
                    lambda src, dst, at_src, at_dst: os.splice(src, dst, min(length, MAX_RW_COUNT),
                                                               at_src, at_dst, flags & SPLICE_F_ALL))


@syscall("tee")
def tee(p: Process, fd_in: int, fd_out: int, length: int, flags: int) -> int:
    return checked(LIBC.tee(p.fds.host(p.int32(fd_in)), p.fds.host(p.int32(fd_out)),
                            ctypes.c_size_t(length), ctypes.c_uint(flags)))


# -- space, hints, syncing --------------------------------------------------------

@syscall("fallocate", wide=(2, 3))
def fallocate(p: Process, fd: int, mode: int, offset: int, length: int) -> int:
    checked(LIBC.fallocate(p.fds.host(p.int32(fd)), p.int32(mode), ctypes.c_int64(offset),
                           ctypes.c_int64(length)))
    return 0


@syscall("readahead", wide=(1,))
def readahead(p: Process, fd: int, offset: int, count: int) -> int:
    checked(LIBC.readahead(p.fds.host(p.int32(fd)), ctypes.c_int64(offset),
                           ctypes.c_size_t(count)))
    return 0


@syscall("sync_file_range", wide=(1, 2))
def sync_file_range(p: Process, fd: int, offset: int, length: int, flags: int) -> int:
    checked(LIBC.sync_file_range(p.fds.host(p.int32(fd)), ctypes.c_int64(offset),
                                 ctypes.c_int64(length), ctypes.c_uint(flags)))
    return 0


@syscall("sync_file_range2", "arm_sync_file_range", wide=(2, 3))
def sync_file_range2(p: Process, fd: int, flags: int, offset: int, length: int) -> int:
    """PowerPC's and ARM's order: the flags before the 64-bit pair."""
    return sync_file_range(p, fd, offset, length, flags)


# -- locks, links, anonymous files ------------------------------------------------

@syscall("flock")
def flock(thread: Thread, fd: int, operation: int) -> int:
    """A blocking lock is tried again every 10 ms, so other guest threads
    run meanwhile and a signal interrupts the wait, as it would the kernel's."""
    p = thread.process
    host, operation = p.fds.host(p.int32(fd)), p.int32(operation)
    while True:
        try:
            fcntl.flock(host, operation | fcntl.LOCK_NB)
            return 0
        except BlockingIOError:
            if operation & fcntl.LOCK_NB:
                raise
        if not sleep(thread, FLOCK_RETRY):
            return -ERESTARTSYS


@syscall("linkat")
def linkat(p: Process, old_dirfd: int, old: int, new_dirfd: int, new: int, flags: int) -> int:
    flags = p.int32(flags)
    if flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH):
        return -errno.EINVAL
    follow = bool(flags & AT_SYMLINK_FOLLOW)
    if flags & AT_EMPTY_PATH and not p.guest_path(old):
        source = f"/proc/self/fd/{p.fds.host(p.int32(old_dirfd))}"
        with p.path_at(new_dirfd, new, follow=False) as (dst, dst_dir):
            os.link(source, dst, dst_dir_fd=dst_dir, follow_symlinks=True)
        return 0
    with p.path_at(old_dirfd, old, follow=follow) as (src, src_dir), \
            p.path_at(new_dirfd, new, follow=False) as (dst, dst_dir):
        os.link(src, dst, src_dir_fd=src_dir, dst_dir_fd=dst_dir, follow_symlinks=follow)
    return 0


@syscall("memfd_create")
def memfd_create(p: Process, name: int, flags: int) -> int:
    flags = p.int32(flags)
    if flags & ~MFD_FLAGS:
        return -errno.EINVAL
    label = p.mem.read_cstring(name, 250)
    host = os.memfd_create(os.fsdecode(label), flags | MFD_CLOEXEC)
    return p.fds.add(host, cloexec=bool(flags & MFD_CLOEXEC))


@syscall("name_to_handle_at")
def name_to_handle_at(p: Process, dirfd: int, path: int, handle: int, mount_id: int,
                      flags: int) -> int:
    """File handles name host file systems' objects: not the guest's to hold."""
    return -errno.EOPNOTSUPP


@syscall("open_by_handle_at")
def open_by_handle_at(p: Process, mount_fd: int, handle: int, flags: int) -> int:
    """No handle the guest holds came from name_to_handle_at, and one made up
    would open any file of the host's file system past --rootfs."""
    return -errno.EOPNOTSUPP


@syscall("vmsplice")
def vmsplice(thread: Thread, fd: int, iov: int, count: int, flags: int) -> int:
    """Guest memory into a pipe, or out of one: the pages are copied (as
    Linux does without SPLICE_F_GIFT), so it is writev or readv on the pipe."""
    p = thread.process
    entry = p.fds.get(p.int32(fd))
    if not stat.S_ISFIFO(os.fstat(entry.host_fd).st_mode):
        return -errno.EBADF
    mode = fcntl.fcntl(entry.host_fd, fcntl.F_GETFL) & os.O_ACCMODE
    views = guest_iovecs(p, iov, count, writing=mode == os.O_RDONLY)
    if mode == os.O_RDONLY:
        return os.readv(entry.host_fd, views)
    return os.writev(entry.host_fd, views)


# -- extended attributes ----------------------------------------------------------

def _attribute_name(p: Process, name: int) -> str:
    raw = p.mem.read_cstring(name, 256)
    if not raw or len(raw) > 255:
        raise OSError(errno.ERANGE, "bad attribute name")
    return os.fsdecode(raw)


def _answer(p: Process, data: bytes, buf: int, size: int) -> int:
    """The get/list convention: size 0 asks how much; too small is ERANGE."""
    if size == 0:
        return len(data)
    if size < len(data):
        return -errno.ERANGE
    p.mem.write(buf, data)
    return len(data)


def _xattr_target(p: Process, kind: str, target: int):
    """(what os.*xattr takes, follow_symlinks) for path, l- and f- forms."""
    if kind == "f":
        return p.fds.host(p.int32(target)), True
    return None, kind == ""


def _with_path(p: Process, kind: str, target: int, action):
    subject, follow = _xattr_target(p, kind, target)
    if subject is not None:
        return action(subject, True)
    with p.path_at(AT_FDCWD, target, follow=follow) as (name, dir_fd):
        if dir_fd is not None:              # under --rootfs, the last component's parent
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW, dir_fd=dir_fd)
            try:
                return action(f"/proc/self/fd/{fd}", follow)
            finally:
                os.close(fd)
        return action(name, follow)


def _getxattr(kind: str):
    def handler(p: Process, target: int, name: int, buf: int, size: int) -> int:
        attribute = _attribute_name(p, name)
        value = _with_path(p, kind, target,
                           lambda where, follow: os.getxattr(where, attribute,
                                                             follow_symlinks=follow))
        return _answer(p, value, buf, size)
    return handler


def _setxattr(kind: str):
    def handler(p: Process, target: int, name: int, value: int, size: int, flags: int) -> int:
        attribute = _attribute_name(p, name)
        if size > XATTR_SIZE_MAX:
            return -errno.E2BIG
        data = p.mem.read(value, size) if size else b""
        _with_path(p, kind, target, lambda where, follow: os.setxattr(
            where, attribute, data, p.int32(flags), follow_symlinks=follow))
        return 0
    return handler


def _listxattr(kind: str):
    def handler(p: Process, target: int, buf: int, size: int) -> int:
        names = _with_path(p, kind, target,
                           lambda where, follow: os.listxattr(where, follow_symlinks=follow))
        return _answer(p, b"".join(os.fsencode(n) + b"\0" for n in names), buf, size)
    return handler


def _removexattr(kind: str):
    def handler(p: Process, target: int, name: int) -> int:
        attribute = _attribute_name(p, name)
        _with_path(p, kind, target, lambda where, follow: os.removexattr(
            where, attribute, follow_symlinks=follow))
        return 0
    return handler


for _kind in ("", "l", "f"):
    syscall(f"{_kind}getxattr")(_getxattr(_kind))
    syscall(f"{_kind}setxattr")(_setxattr(_kind))
    syscall(f"{_kind}listxattr")(_listxattr(_kind))
    syscall(f"{_kind}removexattr")(_removexattr(_kind))
