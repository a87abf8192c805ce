"""The state of one guest process, as the Linux personality keeps it: what
its threads share (memory, file descriptors, the program break, the image
it runs, signal dispositions, the root), and how guest paths become host
paths. Per-thread state is in thread.py."""
from __future__ import annotations

import contextlib
import errno
import os
import re
import struct
import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..archs.base import ArchSpec
from ..machine.memory import Memory
from . import structs
from .rootfs import RootFs
from .signals import SIG_IGN, SignalQueue

AT_FDCWD = -100
PATH_MAX = 4096
# /proc/self/fd/N names the guest's descriptor N, never one of xemu's
PROC_FD = re.compile(rb"^/proc/(?:self|thread-self|(\d+))/fd/(\d+)(/.*)?$")
# Files of /proc/self that show the guest, not xemu: path -> Process method
PROC_SELF = {b"/proc/self/exe": "view_exe", b"/proc/self/maps": "view_maps",
             b"/proc/self/auxv": "view_auxv"}


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


class FdTable:
    """Guest descriptor numbers -> OpenFile, lowest free number first."""

    def __init__(self, limit: int = 1024):
        self._files: dict[int, OpenFile] = {}
        self.limit = limit

    def add(self, host_fd: int, lowest: int = 0, cloexec: bool = False) -> int:
        fd = lowest
        while fd in self._files:
            fd += 1
        if fd >= self.limit:
            os.close(host_fd)
            raise OSError(errno.EMFILE, "too many open files")
        self._files[fd] = OpenFile(host_fd, cloexec)
        return fd

    def put(self, fd: int, host_fd: int, cloexec: bool = False) -> None:
        """Install host_fd as guest fd, closing what was there (dup2)."""
        if not 0 <= fd < self.limit:
            os.close(host_fd)
            raise OSError(errno.EBADF, "bad file descriptor")
        old = self._files.pop(fd, None)
        if old is not None:
            os.close(old.host_fd)
        self._files[fd] = OpenFile(host_fd, cloexec)

    def get(self, fd: int) -> OpenFile:
        found = self._files.get(fd)
        if found is None:
            raise OSError(errno.EBADF, "bad file descriptor")
        return found

    def host(self, fd: int) -> int:
        return self.get(fd).host_fd

    def close(self, fd: int) -> None:
        found = self._files.pop(fd, None)
        if found is None:
            raise OSError(errno.EBADF, "bad file descriptor")
        os.close(found.host_fd)

    def copy(self) -> FdTable:
        """The table a child gets: every descriptor duplicated."""
        copied = FdTable(self.limit)
        for fd, entry in self._files.items():
            copied._files[fd] = OpenFile(os.dup(entry.host_fd), entry.cloexec)
        return copied

    def close_on_exec(self) -> None:
        """exec closes the descriptors marked FD_CLOEXEC."""
        for fd in [fd for fd, entry in self._files.items() if entry.cloexec]:
            self.close(fd)

    def close_all(self) -> None:
        for found in self._files.values():
            try:
                os.close(found.host_fd)
            except OSError:
                pass
        self._files.clear()


@dataclass
class Process:
    spec: ArchSpec
    mem: Memory
    exe: Path                    # absolute host path of the running image
    brk_start: int
    fds: FdTable = field(default_factory=FdTable)
    brk: int = 0
    umask: int = 0o022
    # signal number -> the disposition the guest set (signals.SigAction)
    sigactions: dict = field(default_factory=dict)
    # signals sent to the process as a whole (signals.SignalQueue)
    pending: object = field(default_factory=lambda: SignalQueue())
    # host signals and timer expiries not yet queued (signals.HostSignals)
    incoming: deque = field(default_factory=deque)
    trampoline: int | None = None    # the sigreturn page (signals.trampoline)
    real_timer: object | None = None     # ITIMER_REAL and alarm (signals.RealTimer)
    quiet: bool = False
    warned: set = field(default_factory=set)
    rootfs: RootFs | None = None
    auxv: bytes = b""            # the auxiliary vector as the guest's stack holds it
    threads: dict = field(default_factory=dict)     # tid -> Thread
    machine: object | None = None    # the composition root's Machine (thread.py)
    # The parents a vfork child runs in place of, innermost last (fork.py).
    vfork_parents: list = field(default_factory=list)

    def __post_init__(self) -> None:
        self.brk = self.brk_start
        self.word_mask = (1 << self.spec.bits) - 1
        for fd in (0, 1, 2):
            try:
                self.fds.put(fd, os.dup(fd))
            except OSError:
                pass            # xemu itself was started without this descriptor

    # -- argument helpers for handlers ------------------------------------

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

    # -- paths ------------------------------------------------------------

    def guest_path(self, address: int) -> bytes:
        """A path argument, as the guest wrote it."""
        path = self.mem.read_cstring(address, PATH_MAX)
        if len(path) >= PATH_MAX:
            raise OSError(errno.ENAMETOOLONG, "path too long")
        return path

    @contextlib.contextmanager
    def path_at(self, dirfd: int, address: int, follow: bool = True) -> Iterator[tuple]:
        """(name, dir_fd) for an os function, naming what the guest's path
        names: in the host's tree, or inside --rootfs. With follow=False the
        last component is not followed (lstat, unlink, rename, mkdir...)."""
        path = self.guest_path(address)
        if self.rootfs is None:
            yield self._through_guest_fds(path), self.dir_fd(dirfd)
            return
        guest = self.rootfs.absolute(path, self._guest_base(dirfd))
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
        view = PROC_SELF.get(path)
        if view is not None:
            return getattr(self, view)()
        if self.rootfs is None:
            return os.open(self._through_guest_fds(path), flags, mode,
                           dir_fd=self.dir_fd(dirfd))
        return self.rootfs.open(self.rootfs.absolute(path, self._guest_base(dirfd)),
                                flags, mode)

    def _through_guest_fds(self, path: bytes) -> bytes:
        """/proc/self/fd/N as the guest means it: its own descriptor N."""
        match = PROC_FD.match(path)
        if match is None or match[1] and int(match[1]) != os.getpid():
            return path
        try:
            host = self.fds.host(int(match[2]))
        except OSError:
            raise OSError(errno.ENOENT, "no such descriptor") from None
        return f"/proc/self/fd/{host}".encode() + (match[3] or b"")

    def _guest_base(self, dirfd: int) -> bytes | None:
        fd = self.int32(dirfd)
        return None if fd == AT_FDCWD else self.rootfs.guest_path_of(self.fds.host(fd))

    def dir_fd(self, value: int) -> int | None:
        """dirfd argument of an *at() call -> host dir_fd for os functions."""
        fd = self.int32(value)
        return None if fd == AT_FDCWD else self.fds.host(fd)

    def exe_path(self) -> bytes:
        """What /proc/self/exe names for the guest."""
        exe = os.fsencode(self.exe)
        if self.rootfs is not None:
            root = self.rootfs.host_root.encode()
            if exe.startswith(root + b"/"):
                return exe[len(root):]
        return exe

    # -- /proc/self as the guest would see it -------------------------------

    def _view(self, name: str, content: bytes) -> int:
        fd = os.memfd_create(name, os.MFD_CLOEXEC)
        os.write(fd, content)
        os.lseek(fd, 0, os.SEEK_SET)
        return fd

    def view_exe(self) -> int:
        return os.open(self.exe, os.O_RDONLY | os.O_CLOEXEC)

    def view_maps(self) -> int:
        """Guest mappings in /proc/PID/maps format."""
        width = self.spec.bits // 4
        lines = []
        for region in self.mem.regions():
            rights = "".join(c if region.perms & bit else "-"
                             for c, bit in (("r", 1), ("w", 2), ("x", 4)))
            name = os.fsdecode(self.exe_path()) if region.name == self.exe.name else region.name
            lines.append(f"{region.start:0{width}x}-{region.end:0{width}x} {rights}p "
                         f"00000000 00:00 0 {name}".rstrip())
        return self._view("maps", ("\n".join(lines) + "\n").encode())

    def view_auxv(self) -> int:
        return self._view("auxv", self.auxv)

    def replace_image(self, spec: ArchSpec, memory: Memory, exe: Path, brk_start: int,
                      auxv: bytes) -> None:
        """exec: the process runs a new program. Descriptors marked
        close-on-exec close; handled signals go back to their default action
        (ignored ones stay ignored), as execve(2) says."""
        self.spec, self.mem, self.exe, self.auxv = spec, memory, exe, auxv
        self.brk_start = self.brk = brk_start
        self.word_mask = (1 << spec.bits) - 1
        self.fds.close_on_exec()
        self.sigactions = {signum: action for signum, action in self.sigactions.items()
                           if action.handler == SIG_IGN}
        self.trampoline = None

    def warn(self, message: str) -> None:
        if not self.quiet and message not in self.warned:
            self.warned.add(message)
            print(f"xemu: warning: {message}", file=sys.stderr, flush=True)
