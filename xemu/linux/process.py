"""The state of one guest process, as the Linux personality keeps it: what
its threads share (memory, file descriptors, the program break, the image
it runs, signal dispositions, the root), and how guest paths become host
paths. Per-thread state is in thread.py."""
from __future__ import annotations

import array
import contextlib
import errno
import os
import stat as statmod
import struct
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..archs.base import ArchSpec
from ..errors import one_line
from ..machine.memory import Memory, UserMemory
from . import procfs, structs
from .rootfs import RootFs
from .sysroot import Sysroot
from .futex import FutexTable
from .sched import CpuLock
from .signals import SIG_IGN, SignalQueue

AT_FDCWD = -100
PATH_MAX = 4096


@dataclass
class OpenFile:
    """One guest descriptor: a host descriptor of xemu's own, never shared
    with xemu's stdio, so a guest closing 1 does not close xemu's stdout."""
    host_fd: int
    cloexec: bool = False
    # Directory reading state: a snapshot of the entries and a position, so
    # d_off cookies are small indices (a 32-bit guest's readdir needs them to
    # fit in 32 bits; the host's ext4 hashes do not).
    listing: list | None = None
    position: int = 0
    # Whether a read may block (a pipe, terminal or socket): then it waits
    # through linux/signals.py, so a signal interrupts it. Found at first read.
    may_block: bool | None = None
    # An eventfd or timerfd (8-byte values in the host's byte order): found
    # at first use by a big-endian guest (syscalls/fs.py)
    counter: bool | None = None
    # Under --rootfs, the AF_UNIX name the guest bound (the host's is a
    # /proc/self/fd path to the directory inside the root): getsockname's.
    unix_name: bytes | None = None
    # A signalfd's state (signals.SignalFd), shared by its duplicates.
    signalfd: object | None = None
    inotify: bool = False            # an inotify descriptor (events in host byte order)
    pipe: bool | None = None         # a pipe or FIFO (found at its first write)
    # rtnetlink whose messages need turning to the guest's byte order
    netlink: bool = False
    pidfd_pid: int | None = None     # a pidfd: the process it stands for

    def duplicate(self, host_fd: int, cloexec: bool = False) -> OpenFile:
        """Another descriptor for the same open file (dup, fork): what xemu
        keeps of the file itself comes along; close-on-exec does not."""
        return OpenFile(host_fd, cloexec, counter=self.counter, unix_name=self.unix_name,
                        signalfd=self.signalfd, inotify=self.inotify, netlink=self.netlink,
                        pidfd_pid=self.pidfd_pid)


# Descriptors below this number are mirrored in FdTable.direct
DIRECT_SLOTS = 1024


class FdTable:
    """Guest descriptor numbers -> OpenFile, lowest free number first.

    `direct` mirrors, for each of the first DIRECT_SLOTS numbers, the host
    descriptor a write(2) may go to straight from machine code (a regular
    file or a character device, whose write handler does nothing but
    write; not a pipe, socket, eventfd or other anonymous inode, which
    this kernel gives no file type), or -1: TCG's compiled syscall entry
    reads it (MachineCall "write"). Every change to the table goes through
    this class and keeps it true."""

    def __init__(self, limit: int = 1024):
        self._files: dict[int, OpenFile] = {}
        self.limit = limit
        self.direct = array.array("i", [-1]) * DIRECT_SLOTS

    def _installed(self, fd: int, entry: OpenFile | None) -> None:
        """fd now holds entry (None: nothing): keep `direct` true."""
        if fd >= DIRECT_SLOTS:
            return
        host = -1
        if entry is not None:
            try:
                mode = os.fstat(entry.host_fd).st_mode
            except OSError:
                mode = 0
            if statmod.S_ISREG(mode) or statmod.S_ISCHR(mode):
                host = entry.host_fd
        self.direct[fd] = host

    def add(self, host_fd: int, lowest: int = 0, cloexec: bool = False,
            like: OpenFile | None = None) -> int:
        """Install host_fd at the lowest free number from lowest; like: the
        descriptor it duplicates."""
        fd = lowest
        while fd in self._files:
            fd += 1
        if fd >= self.limit:
            os.close(host_fd)
            raise OSError(errno.EMFILE, "too many open files")
        self._files[fd] = like.duplicate(host_fd, cloexec) if like else OpenFile(host_fd, cloexec)
        self._installed(fd, self._files[fd])
        return fd

    def put(self, fd: int, host_fd: int, cloexec: bool = False,
            like: OpenFile | None = None) -> None:
        """Install host_fd as guest fd, closing what was there (dup2)."""
        if not 0 <= fd < self.limit:
            os.close(host_fd)
            raise OSError(errno.EBADF, "bad file descriptor")
        old = self._files.pop(fd, None)
        if old is not None:
            self._installed(fd, None)
            os.close(old.host_fd)
        self._files[fd] = like.duplicate(host_fd, cloexec) if like else OpenFile(host_fd, cloexec)
        self._installed(fd, self._files[fd])

    def get(self, fd: int) -> OpenFile:
        found = self._files.get(fd)
        if found is None:
            raise OSError(errno.EBADF, "bad file descriptor")
        return found

    def host(self, fd: int) -> int:
        return self.get(fd).host_fd

    def numbers(self) -> list[int]:
        return sorted(self._files)

    def entries(self) -> list[OpenFile]:
        return list(self._files.values())

    def close(self, fd: int) -> None:
        found = self._files.pop(fd, None)
        if found is None:
            raise OSError(errno.EBADF, "bad file descriptor")
        self._installed(fd, None)
        os.close(found.host_fd)

    def copy(self) -> FdTable:
        """The table a child gets: every descriptor duplicated."""
        copied = FdTable(self.limit)
        for fd, entry in self._files.items():
            copied._files[fd] = entry.duplicate(os.dup(entry.host_fd), entry.cloexec)
            copied._installed(fd, copied._files[fd])
        return copied

    def close_on_exec(self) -> None:
        """exec closes the descriptors marked FD_CLOEXEC."""
        for fd in [fd for fd, entry in self._files.items() if entry.cloexec]:
            self.close(fd)

    def close_all(self) -> None:
        self.direct[:] = array.array("i", [-1]) * DIRECT_SLOTS
        for found in self._files.values():
            try:
                os.close(found.host_fd)
            except OSError:
                pass
        self._files.clear()


@dataclass
class Process:
    spec: ArchSpec
    # The guest's memory as its calls reach it (rights checked as
    # copy_to_user does); mem.raw is the Memory itself.
    mem: UserMemory
    exe: Path                    # absolute host path of the running image
    brk_start: int
    fds: FdTable = field(default_factory=FdTable)
    brk: int = 0
    umask: int = 0o022
    persona: int = 0                 # personality(2): PER_LINUX and its flags
    signalfds_made: bool = False     # once true, signals keep signalfds' readiness
    # signal number -> the disposition the guest set (signals.SigAction)
    sigactions: dict = field(default_factory=dict)
    # signals sent to the process as a whole (signals.SignalQueue)
    pending: object = field(default_factory=lambda: SignalQueue())
    # host signals and timer expiries not yet queued (signals.HostSignals)
    incoming: deque = field(default_factory=deque)
    trampoline: int | None = None    # the sigreturn page (signals.trampoline)
    real_timer: object | None = None     # ITIMER_REAL and alarm (signals.RealTimer)
    posix_timers: dict = field(default_factory=dict)   # timer_create's: id -> PosixTimer
    quiet: bool = False
    warned: set = field(default_factory=set)
    rootfs: RootFs | None = None
    sysroot: Sysroot | None = None       # -L: absolute paths found there first
    auxv: bytes = b""            # the auxiliary vector as the guest's stack holds it
    threads: dict = field(default_factory=dict)     # tid -> Thread
    machine: object | None = None    # the composition root's Machine (thread.py)
    # The parents a vfork child runs in place of, innermost last (fork.py).
    vfork_parents: list = field(default_factory=list)
    argv: list = field(default_factory=list)      # /proc/self/cmdline
    envp: list = field(default_factory=list)      # /proc/self/environ
    # (st_dev, st_ino) of the placeholder directories of our /proc -> components
    proc_dirs: dict = field(default_factory=dict)
    # The CPU its threads take turns at, and the lock of its tables (sched.py)
    cpu: CpuLock = field(default_factory=CpuLock)
    # The Stop that ends every thread (exit_group, a fatal signal), once one
    # did, and the event set then (threads.end_process)
    ending: object | None = None
    ended: threading.Event = field(default_factory=threading.Event)
    # Futex words with waiters (futex.py)
    futexes: object = field(default_factory=lambda: FutexTable())
    # guest address -> System V segment attached there (syscalls/ipc.py)
    shm_attached: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.mem, UserMemory):
            self.mem = UserMemory(self.mem)
        self.brk = self.brk_start
        self.word_mask = (1 << self.spec.bits) - 1
        for fd in (0, 1, 2):
            try:
                self.fds.put(fd, os.dup(fd))
            except OSError:
                pass            # xemu itself was started without this descriptor

    # -- argument helpers for handlers ------------------------------------

    @staticmethod
    def loff(value: int) -> int:
        """A 64-bit file offset or length (loff_t): signed, so 2^64 - 1 is
        the -1 the kernel sees, which it refuses with EINVAL."""
        value &= 0xFFFF_FFFF_FFFF_FFFF
        return value - (1 << 64) if value >> 63 else value

    def signed(self, value: int) -> int:
        """A register word as a signed C long."""
        bits = self.spec.bits
        return value - (1 << bits) if value >> (bits - 1) & 1 else value

    @staticmethod
    def int32(value: int) -> int:
        """A register holding a C int (fds, flags): low 32 bits, signed."""
        value &= 0xFFFFFFFF
        return value - (1 << 32) if value & 0x80000000 else value

    def layout(self, name: str) -> structs.Layout:
        return structs.layout(self.spec, name)

    def write_struct(self, address: int, name: str, **fields) -> None:
        self.mem.write(address, self.layout(name).pack(**fields))

    def read_struct(self, address: int, name: str) -> dict:
        found = self.layout(name)
        return found.unpack(self.mem.read(address, found.size))

    def pack_words(self, *values: int) -> bytes:
        code = "Q" if self.spec.bits == 64 else "I"
        return struct.pack(self.spec.endian + code * len(values),
                           *(v & self.word_mask for v in values))

    def read_int(self, address: int) -> int:
        """A guest C int (32 bits, the guest's byte order) from guest memory."""
        return struct.unpack(self.spec.endian + "i", self.mem.read(address, 4))[0]

    def write_int(self, address: int, value: int) -> None:
        self.mem.write(address, struct.pack(self.spec.endian + "i", value))

    def read_word(self, address: int) -> int:
        """One unsigned guest word (a long or a pointer) from guest memory."""
        code = "Q" if self.spec.bits == 64 else "I"
        raw = self.mem.read(address, self.spec.word_size)
        return struct.unpack(self.spec.endian + code, raw)[0]

    # -- paths ------------------------------------------------------------

    def guest_path(self, address: int) -> bytes:
        """A path argument, as the guest wrote it."""
        path = self.mem.read_cstring(address, PATH_MAX)
        if len(path) >= PATH_MAX:
            raise OSError(errno.ENAMETOOLONG, "path too long")
        return path

    def locate(self, dirfd: int, path: bytes, follow: bool = True) -> procfs.Resolved:
        """Where the guest's path leads: one of our /proc entries, or a path
        for the host (procfs.py)."""
        fd = self.int32(dirfd)
        virtual = None if fd == AT_FDCWD or path.startswith(b"/") else \
            self.proc_dir_of(self.fds.host(fd))
        if virtual is not None:
            base = b"/proc/%d/" % os.getpid() + b"/".join(virtual)
        elif path.startswith(b"/"):
            base = b"/"
        else:
            base = self._guest_base_or_none(fd)
            if base is None:        # not a directory we can name: the host decides
                return procfs.Resolved(path=path)
        return procfs.resolve(path, base, self._guest_readlink, os.getpid(),
                              tuple(self.threads), follow, self._magic_target,
                              rewrite=virtual is not None)

    def _guest_base_or_none(self, fd: int) -> bytes | None:
        if fd == AT_FDCWD:
            return self.rootfs.cwd if self.rootfs is not None else os.getcwdb()
        host = self.fds.host(fd)
        if self.rootfs is not None:
            try:
                return self.rootfs.guest_path_of(host)
            except OSError:
                return None
        try:
            where = os.readlink(f"/proc/self/fd/{host}").encode()
        except OSError:
            return None
        return where if where.startswith(b"/") and not where.endswith(b" (deleted)") else None

    def _guest_readlink(self, guest: bytes) -> bytes | None:
        """A symlink's target in the guest's tree; None if not a symlink."""
        host = guest if self.rootfs is None else self.rootfs.host_root.encode() + guest
        try:
            return os.readlink(host)
        except OSError as e:
            if e.errno == errno.EINVAL:
                return None
            raise

    def _magic_target(self, parts: tuple) -> bytes | None:
        """The guest path behind our cwd, root or fd/N link (None: not a path)."""
        if parts[0] == b"cwd":
            return self.rootfs.cwd if self.rootfs is not None else os.getcwdb()
        if parts[0] == b"root":
            return b"/"
        try:
            number = int(parts[1])
            host = self.fds.host(number)
        except (OSError, ValueError):
            return None
        virtual = self.proc_dir_of(host)
        if virtual is not None:
            return b"/proc/%d/" % os.getpid() + b"/".join(virtual)
        if not statmod.S_ISDIR(os.fstat(host).st_mode):
            return None
        return self._guest_base_or_none(number)

    @contextlib.contextmanager
    def path_at(self, dirfd: int, address: int, follow: bool = True) -> Iterator[tuple]:
        """(name, dir_fd) for an os function, naming what the guest's path
        names: in the host's tree, or inside --rootfs. With follow=False the
        last component is not followed (lstat, unlink, rename, mkdir...).
        Our own /proc entries cannot be changed this way (EACCES)."""
        found = self.locate(dirfd, self.guest_path(address), follow)
        if found.proc is not None:
            raise OSError(errno.EACCES if procfs.kind_of(found.proc, self.fds.numbers(),
                                                         self.threads) else errno.ENOENT,
                          "the guest's /proc")
        with self.host_path(dirfd, found, follow) as named:
            yield named

    @contextlib.contextmanager
    def host_path(self, dirfd: int, found: procfs.Resolved,
                  follow: bool = True) -> Iterator[tuple]:
        """(name, dir_fd) for a path locate() gave to the host."""
        path = found.path
        if self.rootfs is None:
            if self.sysroot is not None and not found.rewritten:
                path = self.sysroot.host_path(path)
            yield path, None if found.rewritten else self.dir_fd(dirfd)
            return
        guest = path if found.rewritten else self.rootfs.absolute(path, self._guest_base(dirfd))
        if follow:
            fd = self.rootfs.open_path(guest)
            try:
                yield f"/proc/self/fd/{fd}", None
            finally:
                os.close(fd)
        else:
            parent, name = self.rootfs.parent(guest)
            try:
                yield name, parent
            finally:
                os.close(parent)

    def open_at(self, dirfd: int, address: int, flags: int, mode: int) -> int:
        """A host fd for open/openat: a /proc/self view, or the file."""
        return self.open_path(dirfd, self.guest_path(address), flags, mode)

    def open_path(self, dirfd: int, path: bytes, flags: int, mode: int = 0) -> int:
        """A host fd for the guest path (as open_at, the path already read)."""
        found = self.locate(dirfd, path, follow=not flags & os.O_NOFOLLOW)
        if found.proc is not None:
            return procfs.open_entry(self, found.proc, flags)
        if self.rootfs is None:
            path = found.path if found.rewritten or self.sysroot is None else \
                self.sysroot.host_path(found.path)
            fd = os.open(path, flags, mode,
                         dir_fd=None if found.rewritten else self.dir_fd(dirfd))
        else:
            guest = found.path if found.rewritten else \
                self.rootfs.absolute(found.path, self._guest_base(dirfd))
            fd = self.rootfs.open(guest, flags, mode)
        procfs.refuse_host_fd(fd, {os.getpid(), *self.threads})
        return fd

    def _guest_base(self, dirfd: int) -> bytes | None:
        fd = self.int32(dirfd)
        if fd == AT_FDCWD:
            return None
        host = self.fds.host(fd)
        virtual = self.proc_dir_of(host)
        if virtual is not None:
            return b"/proc/%d/" % os.getpid() + b"/".join(virtual)
        return self.rootfs.guest_path_of(host)

    def dir_fd(self, value: int) -> int | None:
        """dirfd argument of an *at() call -> host dir_fd for os functions."""
        fd = self.int32(value)
        return None if fd == AT_FDCWD else self.fds.host(fd)

    def file_name(self, host_fd: int) -> str:
        """The guest's name for an open file, as /proc/self/maps shows it."""
        try:
            if self.rootfs is not None:
                return os.fsdecode(self.rootfs.guest_path_of(host_fd))
            return os.readlink(f"/proc/self/fd/{host_fd}")
        except OSError:
            return ""

    def exe_path(self) -> bytes:
        """What /proc/self/exe names for the guest."""
        exe = os.fsencode(self.exe)
        if self.rootfs is not None:
            root = self.rootfs.host_root.encode()
            if exe.startswith(root + b"/"):
                return exe[len(root):]
        return exe

    def cwd_path(self) -> bytes:
        return self.rootfs.cwd if self.rootfs is not None else os.getcwdb()

    # -- our /proc directories: empty host directories the guest reads as ours

    def proc_dir_of(self, host_fd: int) -> tuple | None:
        """The /proc/<pid> components a host descriptor stands for, if it is
        one of the directories procfs.py served (None: a real file)."""
        if not self.proc_dirs:
            return None
        try:
            st = os.fstat(host_fd)
        except OSError:
            return None
        if st.st_nlink:
            return None
        return self.proc_dirs.get((st.st_dev, st.st_ino))

    def replace_image(self, spec: ArchSpec, memory: Memory, exe: Path, brk_start: int,
                      auxv: bytes, argv: list | None = None, envp: list | None = None) -> None:
        """exec: the process runs a new program. Descriptors marked
        close-on-exec close; handled signals go back to their default action
        (ignored ones stay ignored), as execve(2) says."""
        self.spec, self.mem, self.exe, self.auxv = spec, UserMemory(memory), exe, auxv
        self.argv, self.envp = list(argv or []), list(envp or [])
        self.brk_start = self.brk = brk_start
        self.word_mask = (1 << spec.bits) - 1
        self.fds.close_on_exec()
        for attachment in self.shm_attached.values():     # execve detaches segments
            attachment.detach()
        self.shm_attached.clear()
        self.sigactions = {signum: action for signum, action in self.sigactions.items()
                           if action.handler == SIG_IGN}
        self.trampoline = None

    def warn(self, message: str) -> None:
        if not self.quiet and message not in self.warned:
            self.warned.add(message)
            print(f"xemu: warning: {one_line(message)}", file=sys.stderr, flush=True)
