"""The state of one guest process, as the Linux personality keeps it:
file descriptors, the program break, the image it runs, signal dispositions,
and how guest paths become host paths."""
from __future__ import annotations

import errno
import os
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..archs.base import ArchSpec, Registers
from ..machine.memory import Memory
from . import structs

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
    regs: Registers | None = None
    fds: FdTable = field(default_factory=FdTable)
    brk: int = 0
    umask: int = 0o022
    # signal number -> the raw struct sigaction bytes the guest installed
    sigactions: dict[int, bytes] = field(default_factory=dict)
    sigmask: bytes = bytes(8)
    sigaltstack: bytes | None = None
    quiet: bool = False
    warned: set = field(default_factory=set)
    errno = errno

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

    def host_path(self, address: int) -> bytes:
        """The host path for a guest path argument."""
        path = self.mem.read_cstring(address, PATH_MAX)
        if len(path) >= PATH_MAX:
            raise OSError(errno.ENAMETOOLONG, "path too long")
        if path in (b"/proc/self/exe", f"/proc/{os.getpid()}/exe".encode()):
            return os.fsencode(self.exe)
        return path

    def dir_fd(self, value: int) -> int | None:
        """dirfd argument of an *at() call -> host dir_fd for os functions."""
        fd = self.int32(value)
        return None if fd == AT_FDCWD else self.fds.host(fd)

    def warn(self, message: str) -> None:
        if not self.quiet and message not in self.warned:
            self.warned.add(message)
            print(f"xemu: warning: {message}", file=sys.stderr, flush=True)
