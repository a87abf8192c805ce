"""Files, descriptors and directories."""
from __future__ import annotations

import ctypes
import errno
import fcntl as host_fcntl
import os
import select
import stat as statmod
import struct
import termios

from ...errors import GuestMemoryError
from ...machine.accel.base import MachineCall
from .. import procfs
from ..process import AT_FDCWD, OpenFile, Process
from ..signals import (ERESTARTSYS, is_nonblocking, may_block, read_signalfd,
                       wait_for, wait_readable)
from ..thread import Thread
from . import hostlibc, identity
from .fdevents import counter_in_host_order, inotify_events_to_guest
from .registry import syscall

IOV_MAX = 1024
PIPE_BUF = 4096
F_GETPIPE_SZ = 1032
AT_SYMLINK_NOFOLLOW, AT_REMOVEDIR, AT_EACCESS, AT_EMPTY_PATH = 0x100, 0x200, 0x200, 0x1000
F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_SETFL = 0, 1, 2, 3, 4
F_DUPFD_CLOEXEC = 1030
F_LOCK_COMMANDS = {5, 6, 7, 12, 13, 14, 36, 37, 38}   # GETLK/SETLK(W), 64 and OFD forms
FD_CLOEXEC = 1
O_CLOEXEC = 0o2000000
HOST_OPEN_FLAGS = {"O_DIRECTORY": os.O_DIRECTORY, "O_NOFOLLOW": os.O_NOFOLLOW,
                   "O_DIRECT": os.O_DIRECT, "O_LARGEFILE": 0o100000}
RENAME_NOREPLACE, RENAME_EXCHANGE = 1, 2
DT_UNKNOWN, DT_DIR, DT_REG, DT_LNK = 0, 4, 8, 10
DIRENT_HEADER = 19           # d_ino, d_off, d_reclen, d_type; d_name follows
STATX_BASIC_STATS = 0x7FF
# Mode bits a guest may set (issue 20, finding 5): never set-user-ID or
# set-group-ID (xemu may run as root, and a descriptor the guest inherited
# may name a host file it does not own); the sticky bit on directories only.
FILE_MODE_BITS, DIR_MODE_BITS = 0o777, 0o1777


def allowed_mode(mode: int, directory: bool) -> int:
    """The permission bits of a guest's mode that xemu passes on."""
    return mode & (DIR_MODE_BITS if directory else FILE_MODE_BITS)


# -- flag translation ------------------------------------------------------

def open_flags_to_host(spec, flags: int) -> int:
    """Guest open(2) flags -> host flags. ARM and PowerPC number O_DIRECTORY,
    O_NOFOLLOW, O_DIRECT and O_LARGEFILE differently from x86."""
    if not spec.linux.open_flags:
        return flags
    out = flags
    for value in spec.linux.open_flags.values():
        out &= ~value
    for name, value in spec.linux.open_flags.items():
        if flags & value:
            out |= HOST_OPEN_FLAGS[name]
    return out


def open_flags_to_guest(spec, flags: int) -> int:
    if not spec.linux.open_flags:
        return flags
    out = flags
    for name in spec.linux.open_flags:
        out &= ~HOST_OPEN_FLAGS[name]
    for name, value in spec.linux.open_flags.items():
        if flags & HOST_OPEN_FLAGS[name]:
            out |= value
    return out


# -- opening and closing ---------------------------------------------------

@syscall("open")
def open_(p: Process, path: int, flags: int, mode: int) -> int:
    return openat(p, AT_FDCWD, path, flags, mode)


@syscall("creat")
def creat(p: Process, path: int, mode: int) -> int:
    return openat(p, AT_FDCWD, path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, mode)


@syscall("openat")
def openat(p: Process, dirfd: int, path: int, flags: int, mode: int) -> int:
    flags = p.int32(flags)
    host_flags = open_flags_to_host(p.spec, flags) | os.O_CLOEXEC
    host_fd = p.open_at(dirfd, path, host_flags, allowed_mode(mode, False) & ~p.umask)
    return p.fds.add(host_fd, cloexec=bool(flags & O_CLOEXEC))


@syscall("close")
def close(p: Process, fd: int) -> int:
    p.fds.close(p.int32(fd))
    return 0


CLOSE_RANGE_UNSHARE, CLOSE_RANGE_CLOEXEC = 2, 4


@syscall("close_range")
def close_range(p: Process, first: int, last: int, flags: int) -> int:
    """Close, or mark close-on-exec, every guest descriptor in [first, last]
    (closefrom, posix_spawn's addclosefrom, Python's subprocess). UNSHARE
    asks for a private table first: the table here is the process's."""
    first, last, flags = first & 0xFFFFFFFF, last & 0xFFFFFFFF, flags & 0xFFFFFFFF
    if first > last or flags & ~(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC):
        return -errno.EINVAL
    for fd in p.fds.numbers():
        if first <= fd <= last:
            if flags & CLOSE_RANGE_CLOEXEC:
                p.fds.get(fd).cloexec = True
            else:
                p.fds.close(fd)
    return 0


@syscall("dup")
def dup(p: Process, fd: int) -> int:
    entry = p.fds.get(p.int32(fd))
    return p.fds.add(os.dup(entry.host_fd), like=entry)


@syscall("dup2")
def dup2(p: Process, old: int, new: int) -> int:
    old, new = p.int32(old), p.int32(new)
    entry = p.fds.get(old)
    if old != new:
        p.fds.put(new, os.dup(entry.host_fd), like=entry)
    return new


@syscall("dup3")
def dup3(p: Process, old: int, new: int, flags: int) -> int:
    old, new = p.int32(old), p.int32(new)
    if old == new:
        return -errno.EINVAL
    entry = p.fds.get(old)
    p.fds.put(new, os.dup(entry.host_fd), cloexec=bool(flags & O_CLOEXEC), like=entry)
    return new


@syscall("pipe")
def pipe(p: Process, fds: int) -> int:
    return pipe2(p, fds, 0)


@syscall("pipe2")
def pipe2(p: Process, fds: int, flags: int) -> int:
    read_end, write_end = os.pipe2((flags & os.O_NONBLOCK) | os.O_CLOEXEC)
    cloexec = bool(flags & O_CLOEXEC)
    guest = (p.fds.add(read_end, cloexec=cloexec), p.fds.add(write_end, cloexec=cloexec))
    p.mem.write(fds, struct.pack(p.spec.endian + "ii", *guest))
    return 0


@syscall("fcntl", "fcntl64")
def fcntl(p: Process, fd: int, cmd: int, arg: int) -> int:
    fd, cmd = p.int32(fd), p.int32(cmd)
    entry = p.fds.get(fd)
    if cmd in (F_DUPFD, F_DUPFD_CLOEXEC):
        if not 0 <= p.int32(arg) < p.fds.limit:        # an unsigned long in Linux
            return -errno.EINVAL
        return p.fds.add(os.dup(entry.host_fd), lowest=p.int32(arg),
                         cloexec=cmd == F_DUPFD_CLOEXEC, like=entry)
    if cmd == F_GETFD:
        return FD_CLOEXEC if entry.cloexec else 0
    if cmd == F_SETFD:
        entry.cloexec = bool(arg & FD_CLOEXEC)
        return 0
    if cmd == F_GETFL:
        return open_flags_to_guest(p.spec, host_fcntl.fcntl(entry.host_fd, F_GETFL))
    if cmd == F_SETFL:
        return host_fcntl.fcntl(entry.host_fd, F_SETFL, open_flags_to_host(p.spec, arg))
    if cmd in F_LOCK_COMMANDS:
        return 0        # one process: every lock is granted
    return -errno.EINVAL


# -- reading and writing ---------------------------------------------------

def _readable(thread: Thread, entry: OpenFile) -> int | None:
    """The host fd to read, once it has data (a read that may block waits
    here, where a signal can interrupt it: None then)."""
    if entry.may_block is None:
        entry.may_block = may_block(entry.host_fd)
    if entry.may_block and not wait_readable(thread, entry.host_fd):
        return None
    return entry.host_fd


@syscall("read")
def read(thread: Thread, fd: int, buf: int, count: int) -> int:
    p = thread.process
    if count == 0:
        return 0
    entry = p.fds.get(p.int32(fd))
    if entry.signalfd is not None:
        return read_signalfd(thread, entry, buf, count)
    views = p.mem.mapped_views(buf, count, writing=True)
    host = _readable(thread, entry)
    if host is None:
        return -ERESTARTSYS
    done = os.readv(host, views)
    if p.spec.big_endian and (entry.inotify or (done == 8 and _counter(entry))):
        data = bytearray(p.mem.read(buf, done))
        if entry.inotify:
            inotify_events_to_guest(data, done, p.spec.endian)
        else:
            data.reverse()
        p.mem.write(buf, bytes(data))
    return done


@syscall("write", in_machine=lambda process: MachineCall("write",
                                                         descriptors=process.fds.direct))
def write(thread: Thread, fd: int, buf: int, count: int) -> int:
    p = thread.process
    if count == 0:
        return 0
    views = p.mem.mapped_views(buf, count)
    entry = p.fds.get(p.int32(fd))
    if count == 8 and p.spec.big_endian and _counter(entry):
        views = [memoryview(b"".join(views)[::-1])]
    host = entry.host_fd
    if len(p.threads) > 1 and _is_pipe(entry) and not is_nonblocking(host):
        return _write_pipe(thread, host, b"".join(views) if len(views) > 1 else views[0])
    return os.writev(host, views)


def _is_pipe(entry: OpenFile) -> bool:
    if entry.pipe is None:
        entry.pipe = statmod.S_ISFIFO(os.fstat(entry.host_fd).st_mode)
    return entry.pipe


def _write_pipe(thread: Thread, host: int, data) -> int:
    """A blocking write to a pipe while other threads run: the host's write
    would block holding the CPU lock (a reader thread of the same process
    could then never run), so it writes what fits, waiting between pieces
    where other threads run and signals come. A write of up to PIPE_BUF
    bytes still goes in one piece, as POSIX requires."""
    done, total = 0, len(data)
    capacity = host_fcntl.fcntl(host, F_GETPIPE_SZ)
    while done < total:
        unread = struct.unpack("i", host_fcntl.ioctl(host, termios.FIONREAD, b"\0" * 4))[0]
        room = capacity - unread
        left = total - done
        if room >= left or (room > 0 and left > PIPE_BUF):
            done += os.write(host, data[done:done + min(room, left)])
            continue
        if wait_for(thread, [(host, select.POLLOUT)], None) is None:
            return done if done else -ERESTARTSYS
    return done


def _counter(entry: OpenFile) -> bool:
    """An eventfd or timerfd, whose 8-byte values are in the host's byte
    order: turned round for a big-endian guest. Found once per descriptor."""
    if entry.counter is None:
        entry.counter = counter_in_host_order(entry.host_fd)
    return entry.counter


@syscall("pread64", wide=(3,))
def pread64(p: Process, fd: int, buf: int, count: int, offset: int) -> int:
    if p.loff(offset) < 0:          # os.preadv would take -1 as "the file position"
        return -errno.EINVAL
    return os.preadv(p.fds.host(p.int32(fd)), p.mem.mapped_views(buf, count, writing=True),
                     offset)


@syscall("pwrite64", wide=(3,))
def pwrite64(p: Process, fd: int, buf: int, count: int, offset: int) -> int:
    if p.loff(offset) < 0:
        return -errno.EINVAL
    return os.pwritev(p.fds.host(p.int32(fd)), p.mem.mapped_views(buf, count), offset)


def guest_iovecs(p: Process, iov: int, count: int, writing: bool = False) -> list[memoryview]:
    """The guest memory an iovec array names, as views (writing: the host
    fills them), cut as Linux cuts a transfer at the first bad byte."""
    count = p.int32(count)
    if not 0 <= count <= IOV_MAX:
        raise OSError(errno.EINVAL, "bad iovec count")
    layout = p.layout("iovec")
    raw = p.mem.read(iov, layout.size * count)
    views: list[memoryview] = []
    for i in range(count):
        entry = layout.unpack(raw[i * layout.size:])
        if not entry["iov_len"]:
            continue
        try:
            pieces = p.mem.mapped_views(entry["iov_base"], entry["iov_len"], writing)
        except GuestMemoryError:
            if not views:
                raise
            break       # a later iovec in a hole ends the transfer, as in Linux
        views.extend(pieces)
        if sum(len(v) for v in pieces) < entry["iov_len"]:
            break
    return views


@syscall("readv")
def readv(thread: Thread, fd: int, iov: int, count: int) -> int:
    p = thread.process
    views = guest_iovecs(p, iov, count, writing=True)
    host = _readable(thread, p.fds.get(p.int32(fd)))
    return -ERESTARTSYS if host is None else os.readv(host, views)


@syscall("writev")
def writev(p: Process, fd: int, iov: int, count: int) -> int:
    return os.writev(p.fds.host(p.int32(fd)), guest_iovecs(p, iov, count))


@syscall("lseek")
def lseek(p: Process, fd: int, offset: int, whence: int) -> int:
    return _seek(p, p.int32(fd), p.signed(offset), p.int32(whence))


@syscall("_llseek")
def llseek(p: Process, fd: int, high: int, low: int, result: int, whence: int) -> int:
    offset = struct.unpack("<q", struct.pack("<Q", (high << 32) | (low & 0xFFFFFFFF)))[0]
    position = _seek(p, p.int32(fd), offset, p.int32(whence))
    p.mem.write(result, struct.pack(p.spec.endian + "q", position))
    return 0


def _seek(p: Process, fd: int, offset: int, whence: int) -> int:
    entry = p.fds.get(fd)
    if entry.listing is None:             # a file, or a directory not read yet
        return os.lseek(entry.host_fd, offset, whence)
    # A directory being read: its position is an index into its listing.
    if whence != os.SEEK_SET or offset < 0:
        return -errno.EINVAL
    entry.position = offset
    if offset == 0:                       # rewinddir: read the directory afresh
        entry.listing = None
    return offset


# -- metadata --------------------------------------------------------------

def _stat_fields(st: os.stat_result) -> dict:
    return dict(
        st_dev=st.st_dev, st_ino=st.st_ino, __st_ino=st.st_ino & 0xFFFFFFFF,
        st_mode=st.st_mode, st_nlink=st.st_nlink, st_uid=st.st_uid, st_gid=st.st_gid,
        st_rdev=st.st_rdev, st_size=st.st_size, st_blksize=st.st_blksize,
        st_blocks=st.st_blocks,
        st_atime=int(st.st_atime), st_atime_nsec=st.st_atime_ns % 10**9,
        st_mtime=int(st.st_mtime), st_mtime_nsec=st.st_mtime_ns % 10**9,
        st_ctime=int(st.st_ctime), st_ctime_nsec=st.st_ctime_ns % 10**9)


def _write_stat(p: Process, address: int, layout_name: str, st: os.stat_result) -> int:
    layout = p.layout(layout_name)
    fields = {k: v for k, v in _stat_fields(st).items() if k in layout.offsets}
    p.mem.write(address, layout.pack(**fields))
    return 0


def _stat_at(p: Process, dirfd: int, path: int, flags: int) -> os.stat_result:
    flags = p.int32(flags)
    if flags & AT_EMPTY_PATH and not p.guest_path(path):
        fd = p.int32(dirfd)
        if fd != AT_FDCWD:
            return os.fstat(p.fds.host(fd))
        if p.rootfs is None:
            return os.stat(".")
        cwd = p.rootfs.open_path(p.rootfs.cwd)
        try:
            return os.fstat(cwd)
        finally:
            os.close(cwd)
    follow = not flags & AT_SYMLINK_NOFOLLOW
    found = p.locate(dirfd, p.guest_path(path), follow)
    if found.proc is not None:
        return procfs.stat_entry(p, found.proc, follow)
    with p.host_path(dirfd, found, follow) as (name, dir_fd):
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=follow)


@syscall("stat", "stat64")
def stat(p: Process, path: int, buf: int) -> int:
    return _write_stat(p, buf, _stat_layout(p), _stat_at(p, AT_FDCWD, path, 0))


@syscall("lstat", "lstat64")
def lstat(p: Process, path: int, buf: int) -> int:
    return _write_stat(p, buf, _stat_layout(p),
                       _stat_at(p, AT_FDCWD, path, AT_SYMLINK_NOFOLLOW))


@syscall("fstat", "fstat64")
def fstat(p: Process, fd: int, buf: int) -> int:
    return _write_stat(p, buf, _stat_layout(p), os.fstat(p.fds.host(p.int32(fd))))


@syscall("newfstatat", "fstatat64")
def fstatat(p: Process, dirfd: int, path: int, buf: int, flags: int) -> int:
    return _write_stat(p, buf, _stat_layout(p), _stat_at(p, dirfd, path, flags))


def _stat_layout(p: Process) -> str:
    """64-bit arches have one struct stat; 32-bit ones use stat64 (glibc never
    calls their pre-LFS stat, and xemu serves it the 64-bit layout too)."""
    return "stat" if p.spec.bits == 64 else "stat64"


# -- file systems -------------------------------------------------------------

@syscall("statfs")
def statfs(p: Process, path: int, buf: int) -> int:
    return _write_statfs(p, buf, "statfs", _statfs_at(p, path))


@syscall("fstatfs")
def fstatfs(p: Process, fd: int, buf: int) -> int:
    return _write_statfs(p, buf, "statfs", hostlibc.fstatfs(p.fds.host(p.int32(fd))))


@syscall("statfs64")
def statfs64(p: Process, path: int, size: int, buf: int) -> int:
    return _write_statfs(p, buf, "statfs64", _statfs_at(p, path), size)


@syscall("fstatfs64")
def fstatfs64(p: Process, fd: int, size: int, buf: int) -> int:
    return _write_statfs(p, buf, "statfs64", hostlibc.fstatfs(p.fds.host(p.int32(fd))), size)


def _statfs_at(p: Process, path: int) -> dict:
    """The file system a guest path lies on (our /proc entries: /proc's)."""
    found = p.locate(AT_FDCWD, p.guest_path(path))
    if found.proc is not None:
        return _statfs_of_path("/proc")
    with p.host_path(AT_FDCWD, found) as (name, dir_fd):
        return _statfs_of_path(name, dir_fd)


def _statfs_of_path(path, dir_fd: int | None = None) -> dict:
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        return hostlibc.fstatfs(fd)
    finally:
        os.close(fd)


def _write_statfs(p: Process, buf: int, name: str, fields: dict, size: int | None = None) -> int:
    """The guest's struct statfs or statfs64. The *64 calls name the size
    the guest expects: Linux refuses any other (ARM's packed 84-byte struct
    is also accepted as the 88 bytes glibc's own declaration has)."""
    layout = p.layout(name)
    if size is not None and size not in (layout.size, layout.size + 7 & ~7):
        return -errno.EINVAL
    p.mem.write(buf, layout.pack(**fields))
    return 0


@syscall("fadvise64", "fadvise64_64", "arm_fadvise64_64")
def fadvise(p: Process, fd: int) -> int:
    """Advice about caching changes nothing a program can observe; only a
    bad descriptor (EBADF) or a pipe (ESPIPE) is an error, as on Linux."""
    if statmod.S_ISFIFO(os.fstat(p.fds.host(p.int32(fd))).st_mode):
        return -errno.ESPIPE
    return 0


@syscall("statx")
def statx(p: Process, dirfd: int, path: int, flags: int, mask: int, buf: int) -> int:
    st = _stat_at(p, dirfd, path, flags)
    times = {}
    for key, seconds, nanos in (("atime", st.st_atime, st.st_atime_ns),
                                ("mtime", st.st_mtime, st.st_mtime_ns),
                                ("ctime", st.st_ctime, st.st_ctime_ns)):
        times[f"stx_{key}_tv_sec"] = int(seconds)
        times[f"stx_{key}_tv_nsec"] = nanos % 10**9
    p.write_struct(buf, "statx", stx_mask=STATX_BASIC_STATS, stx_blksize=st.st_blksize,
                   stx_nlink=st.st_nlink, stx_uid=st.st_uid, stx_gid=st.st_gid,
                   stx_mode=st.st_mode, stx_ino=st.st_ino, stx_size=st.st_size,
                   stx_blocks=st.st_blocks, stx_rdev_major=os.major(st.st_rdev),
                   stx_rdev_minor=os.minor(st.st_rdev), stx_dev_major=os.major(st.st_dev),
                   stx_dev_minor=os.minor(st.st_dev), **times)
    return 0


@syscall("access")
def access(p: Process, path: int, mode: int) -> int:
    return faccessat2(p, AT_FDCWD, path, mode, 0)


@syscall("faccessat")
def faccessat(p: Process, dirfd: int, path: int, mode: int) -> int:
    return faccessat2(p, dirfd, path, mode, 0)


@syscall("faccessat2")
def faccessat2(p: Process, dirfd: int, path: int, mode: int, flags: int) -> int:
    flags, mode = p.int32(flags), p.int32(mode)
    if mode & ~7 or flags & ~(AT_SYMLINK_NOFOLLOW | AT_EACCESS | AT_EMPTY_PATH):
        return -errno.EINVAL                  # as do_faccessat
    follow = not flags & AT_SYMLINK_NOFOLLOW
    found = p.locate(dirfd, p.guest_path(path), follow)
    if found.proc is not None:
        return 0 if procfs.access_entry(p, found.proc, mode & 7) else -errno.EACCES
    with p.host_path(dirfd, found, follow) as (name, dir_fd):
        # os.access hides why it failed; a stat tells a missing file apart.
        os.stat(name, dir_fd=dir_fd, follow_symlinks=follow)
        ok = os.access(name, mode, dir_fd=dir_fd, effective_ids=bool(flags & AT_EACCESS),
                       follow_symlinks=follow)
    return 0 if ok else -errno.EACCES


@syscall("readlink")
def readlink(p: Process, path: int, buf: int, size: int) -> int:
    return readlinkat(p, AT_FDCWD, path, buf, size)


@syscall("readlinkat")
def readlinkat(p: Process, dirfd: int, path: int, buf: int, size: int) -> int:
    found = p.locate(dirfd, p.guest_path(path), follow=False)
    if found.proc is not None:
        target = procfs.readlink_entry(p, found.proc)
    else:
        with p.host_path(dirfd, found, follow=False) as (name, dir_fd):
            target = os.fsencode(os.readlink(name, dir_fd=dir_fd))
    target = target[:p.int32(size)]
    p.mem.write(buf, target)
    return len(target)


@syscall("chmod")
def chmod(p: Process, path: int, mode: int) -> int:
    return fchmodat(p, AT_FDCWD, path, mode)


@syscall("fchmod")
def fchmod(p: Process, fd: int, mode: int) -> int:
    host = p.fds.host(p.int32(fd))
    os.chmod(host, allowed_mode(mode, statmod.S_ISDIR(os.fstat(host).st_mode)))
    return 0


@syscall("fchmodat")
def fchmodat(p: Process, dirfd: int, path: int, mode: int) -> int:
    with p.path_at(dirfd, path) as (name, dir_fd):
        directory = statmod.S_ISDIR(os.stat(name, dir_fd=dir_fd).st_mode)
        os.chmod(name, allowed_mode(mode, directory), dir_fd=dir_fd)
    return 0


# -- owners ---------------------------------------------------------------------

def _owner(p: Process, dirfd: int, path: int, uid: int, gid: int, flags: int) -> int:
    """fchownat: uid/gid already host ids (-1: unchanged); AT_EMPTY_PATH
    with an empty path changes dirfd's file itself."""
    if flags & AT_EMPTY_PATH and not p.guest_path(path):
        os.chown(p.fds.host(p.int32(dirfd)), uid, gid)
        return 0
    follow = not flags & AT_SYMLINK_NOFOLLOW
    with p.path_at(dirfd, path, follow=follow) as (name, dir_fd):
        os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=follow)
    return 0


def _ids(p: Process, uid: int, gid: int, sixteen: bool) -> tuple[int, int]:
    if sixteen:
        return identity.high(uid), identity.high(gid)
    return identity.host_id(p, uid), identity.host_id(p, gid)


@syscall("fchownat")
def fchownat(p: Process, dirfd: int, path: int, uid: int, gid: int, flags: int) -> int:
    return _owner(p, dirfd, path, *_ids(p, uid, gid, False), p.int32(flags))


@syscall("chown")
def chown(p: Process, path: int, uid: int, gid: int) -> int:
    return _owner(p, AT_FDCWD, path, *_ids(p, uid, gid, False), 0)


@syscall("lchown")
def lchown(p: Process, path: int, uid: int, gid: int) -> int:
    return _owner(p, AT_FDCWD, path, *_ids(p, uid, gid, False), AT_SYMLINK_NOFOLLOW)


@syscall("fchown")
def fchown(p: Process, fd: int, uid: int, gid: int) -> int:
    os.chown(p.fds.host(p.int32(fd)), *_ids(p, uid, gid, False))
    return 0


@syscall("chown16")
def chown16(p: Process, path: int, uid: int, gid: int) -> int:
    return _owner(p, AT_FDCWD, path, *_ids(p, uid, gid, True), 0)


@syscall("lchown16")
def lchown16(p: Process, path: int, uid: int, gid: int) -> int:
    return _owner(p, AT_FDCWD, path, *_ids(p, uid, gid, True), AT_SYMLINK_NOFOLLOW)


@syscall("fchown16")
def fchown16(p: Process, fd: int, uid: int, gid: int) -> int:
    os.chown(p.fds.host(p.int32(fd)), *_ids(p, uid, gid, True))
    return 0


# -- times ----------------------------------------------------------------------

UTIME_NOW, UTIME_OMIT = (1 << 30) - 1, (1 << 30) - 2


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def _set_times(p: Process, dirfd: int, path: int | None, times: list | None,
               flags: int) -> int:
    """utimensat with host timespecs ([atime, mtime] as (sec, nsec), or
    None: now). path None: the file dirfd names (futimens)."""
    host_times = None
    if times is not None:
        host_times = (_Timespec * 2)(*(_Timespec(sec, nsec) for sec, nsec in times))
        if any(not 0 <= nsec < 10**9 and nsec not in (UTIME_NOW, UTIME_OMIT)
               for _, nsec in times):
            return -errno.EINVAL
    if path is None:
        hostlibc.checked(hostlibc.LIBC.futimens(p.fds.host(p.int32(dirfd)), host_times))
        return 0
    follow = not flags & AT_SYMLINK_NOFOLLOW
    with p.path_at(dirfd, path, follow=follow) as (name, dir_fd):
        hostlibc.checked(hostlibc.LIBC.utimensat(
            AT_FDCWD if dir_fd is None else dir_fd, os.fsencode(name), host_times,
            0 if follow else AT_SYMLINK_NOFOLLOW))
    return 0


def _timespecs(p: Process, address: int, layout_name: str) -> list | None:
    if not address:
        return None
    layout = p.layout(layout_name)
    raw = p.mem.read(address, 2 * layout.size)
    pairs = [layout.unpack(raw[i * layout.size:]) for i in range(2)]
    return [(pair["tv_sec"], pair["tv_nsec"]) for pair in pairs]


def _timevals(p: Process, address: int) -> list | None:
    if not address:
        return None
    layout = p.layout("timeval")
    raw = p.mem.read(address, 2 * layout.size)
    pairs = [layout.unpack(raw[i * layout.size:]) for i in range(2)]
    if any(not 0 <= pair["tv_usec"] < 10**6 for pair in pairs):
        raise OSError(errno.EINVAL, "bad timeval")
    return [(pair["tv_sec"], pair["tv_usec"] * 1000) for pair in pairs]


@syscall("utimensat")
def utimensat(p: Process, dirfd: int, path: int, times: int, flags: int) -> int:
    return _set_times(p, dirfd, path or None, _timespecs(p, times, "timespec"),
                      p.int32(flags))


@syscall("utimensat_time64")
def utimensat_time64(p: Process, dirfd: int, path: int, times: int, flags: int) -> int:
    return _set_times(p, dirfd, path or None, _timespecs(p, times, "timespec64"),
                      p.int32(flags))


@syscall("futimesat")
def futimesat(p: Process, dirfd: int, path: int, times: int) -> int:
    return _set_times(p, dirfd, path, _timevals(p, times), 0)


@syscall("utimes")
def utimes(p: Process, path: int, times: int) -> int:
    return _set_times(p, AT_FDCWD, path, _timevals(p, times), 0)


@syscall("utime")
def utime(p: Process, path: int, times: int) -> int:
    """struct utimbuf: actime, modtime in whole seconds (longs)."""
    pair = None
    if times:
        code = p.spec.endian + ("qq" if p.spec.bits == 64 else "ii")
        actime, modtime = struct.unpack(code, p.mem.read(times, 2 * p.spec.word_size))
        pair = [(actime, 0), (modtime, 0)]
    return _set_times(p, AT_FDCWD, path, pair, 0)


@syscall("umask")
def umask(p: Process, mask: int) -> int:
    old, p.umask = p.umask, mask & 0o777
    return old


@syscall("truncate")
def truncate(p: Process, path: int, length: int) -> int:
    return truncate64(p, path, p.signed(length))


@syscall("truncate64", wide=(1,))
def truncate64(p: Process, path: int, length: int) -> int:
    with p.path_at(AT_FDCWD, path) as (name, dir_fd):
        os.truncate(name, p.loff(length))
    return 0


@syscall("ftruncate")
def ftruncate(p: Process, fd: int, length: int) -> int:
    return ftruncate64(p, fd, p.signed(length))


@syscall("ftruncate64", wide=(1,))
def ftruncate64(p: Process, fd: int, length: int) -> int:
    os.ftruncate(p.fds.host(p.int32(fd)), p.loff(length))
    return 0


@syscall("fsync", "fdatasync")
def fsync(p: Process, fd: int) -> int:
    os.fsync(p.fds.host(p.int32(fd)))
    return 0


# -- names in directories --------------------------------------------------

@syscall("unlink")
def unlink(p: Process, path: int) -> int:
    return unlinkat(p, AT_FDCWD, path, 0)


@syscall("unlinkat")
def unlinkat(p: Process, dirfd: int, path: int, flags: int) -> int:
    remove = os.rmdir if p.int32(flags) & AT_REMOVEDIR else os.unlink
    with p.path_at(dirfd, path, follow=False) as (name, dir_fd):
        remove(name, dir_fd=dir_fd)
    return 0


@syscall("mkdir")
def mkdir(p: Process, path: int, mode: int) -> int:
    return mkdirat(p, AT_FDCWD, path, mode)


@syscall("mkdirat")
def mkdirat(p: Process, dirfd: int, path: int, mode: int) -> int:
    with p.path_at(dirfd, path, follow=False) as (name, dir_fd):
        os.mkdir(name, allowed_mode(mode, True) & ~p.umask, dir_fd=dir_fd)
    return 0


@syscall("mknod")
def mknod(p: Process, path: int, mode: int, dev: int) -> int:
    return mknodat(p, AT_FDCWD, path, mode, dev)


@syscall("mknodat")
def mknodat(p: Process, dirfd: int, path: int, mode: int, dev: int) -> int:
    """Files, FIFOs and sockets; device nodes are refused (EPERM), as for a
    process without CAP_MKNOD."""
    kind = mode & 0o170000             # S_IFMT
    if kind == 0:
        kind = statmod.S_IFREG
    if kind in (statmod.S_IFCHR, statmod.S_IFBLK):
        return -errno.EPERM
    if kind not in (statmod.S_IFREG, statmod.S_IFIFO, statmod.S_IFSOCK):
        return -errno.EINVAL
    with p.path_at(dirfd, path, follow=False) as (name, dir_fd):
        os.mknod(name, kind | allowed_mode(mode, False) & ~p.umask, 0, dir_fd=dir_fd)
    return 0


@syscall("rmdir")
def rmdir(p: Process, path: int) -> int:
    return unlinkat(p, AT_FDCWD, path, AT_REMOVEDIR)


@syscall("rename")
def rename(p: Process, old: int, new: int) -> int:
    return renameat2(p, AT_FDCWD, old, AT_FDCWD, new, 0)


@syscall("renameat")
def renameat(p: Process, olddir: int, old: int, newdir: int, new: int) -> int:
    return renameat2(p, olddir, old, newdir, new, 0)


@syscall("renameat2")
def renameat2(p: Process, olddir: int, old: int, newdir: int, new: int, flags: int) -> int:
    if flags & RENAME_EXCHANGE:
        return -errno.EINVAL
    with p.path_at(olddir, old, follow=False) as (src, src_dir), \
            p.path_at(newdir, new, follow=False) as (dst, dst_dir):
        if flags & RENAME_NOREPLACE:
            try:
                os.lstat(dst, dir_fd=dst_dir)
                return -errno.EEXIST
            except FileNotFoundError:
                pass
        os.rename(src, dst, src_dir_fd=src_dir, dst_dir_fd=dst_dir)
    return 0


@syscall("symlink")
def symlink(p: Process, target: int, path: int) -> int:
    return symlinkat(p, target, AT_FDCWD, path)


@syscall("symlinkat")
def symlinkat(p: Process, target: int, dirfd: int, path: int) -> int:
    with p.path_at(dirfd, path, follow=False) as (name, dir_fd):
        os.symlink(p.guest_path(target), name, dir_fd=dir_fd)
    return 0


@syscall("link")
def link(p: Process, old: int, new: int) -> int:
    with p.path_at(AT_FDCWD, old, follow=False) as (src, src_dir), \
            p.path_at(AT_FDCWD, new, follow=False) as (dst, dst_dir):
        os.link(src, dst, src_dir_fd=src_dir, dst_dir_fd=dst_dir, follow_symlinks=False)
    return 0


@syscall("chdir")
def chdir(p: Process, path: int) -> int:
    if p.rootfs is None:
        os.chdir(p.guest_path(path))
    else:
        p.rootfs.chdir(p.rootfs.absolute(p.guest_path(path)))
    return 0


@syscall("fchdir")
def fchdir(p: Process, fd: int) -> int:
    host = p.fds.host(p.int32(fd))
    virtual = p.proc_dir_of(host)
    if virtual is not None:             # one of our /proc directories: its path
        path = b"/proc/%d/" % os.getpid() + b"/".join(virtual)
        if p.rootfs is None:
            os.chdir(path)
        else:
            p.rootfs.cwd = path
        return 0
    if p.rootfs is None:
        os.chdir(host)
    else:
        if not statmod.S_ISDIR(os.fstat(host).st_mode):
            return -errno.ENOTDIR
        p.rootfs.cwd = p.rootfs.guest_path_of(host)
    return 0


@syscall("getcwd")
def getcwd(p: Process, buf: int, size: int) -> int:
    cwd = (p.rootfs.cwd if p.rootfs else os.getcwdb()) + b"\0"
    if len(cwd) > size:
        return -errno.ERANGE
    p.mem.write(buf, cwd)
    return len(cwd)


@syscall("getdents64")
def getdents64(p: Process, fd: int, buf: int, count: int) -> int:
    """Directory entries from a snapshot taken at the first call. d_off is the
    next entry's index: small, stable, and within 32 bits for 32-bit guests
    (qemu-user passes the host's 64-bit ext4 hashes, which glibc's 32-bit
    readdir rejects with EOVERFLOW)."""
    entry = p.fds.get(p.int32(fd))
    if entry.listing is None:
        virtual = p.proc_dir_of(entry.host_fd)
        entry.listing = (_list_directory(entry.host_fd) if virtual is None
                         else procfs.directory_entries(p, virtual))
    header = p.layout("dirent64")
    done = 0
    while entry.position < len(entry.listing):
        name, inode, kind = entry.listing[entry.position]
        size = (DIRENT_HEADER + len(name) + 1 + 7) & ~7
        if done + size > count:
            break
        record = bytearray(size)
        record[:DIRENT_HEADER] = header.pack(d_ino=inode, d_off=entry.position + 1,
                                             d_reclen=size, d_type=kind)[:DIRENT_HEADER]
        record[DIRENT_HEADER:DIRENT_HEADER + len(name)] = name
        try:
            p.mem.write(buf + done, bytes(record))
        except GuestMemoryError:
            if done:
                break           # the entries copied count; the rest wait, as in Linux
            raise
        done += size
        entry.position += 1     # only entries the guest has are consumed
    if not done and entry.position < len(entry.listing):
        return -errno.EINVAL        # buffer too small for the next entry
    return done


def _list_directory(host_fd: int) -> list[tuple[bytes, int, int]]:
    st = os.fstat(host_fd)
    if not statmod.S_ISDIR(st.st_mode):
        raise OSError(errno.ENOTDIR, "not a directory")
    entries = [(b".", st.st_ino, DT_DIR), (b"..", st.st_ino, DT_DIR)]
    os.lseek(host_fd, 0, os.SEEK_SET)     # the dup shares the offset; read it all
    with os.scandir(os.dup(host_fd)) as it:
        for item in it:
            name = os.fsencode(item.name)
            try:
                kind = (DT_LNK if item.is_symlink() else DT_DIR
                        if item.is_dir(follow_symlinks=False) else DT_REG
                        if item.is_file(follow_symlinks=False) else DT_UNKNOWN)
            except OSError:
                kind = DT_UNKNOWN
            entries.append((name, item.inode(), kind))
    return entries
