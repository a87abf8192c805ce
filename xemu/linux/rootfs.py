"""--rootfs DIR: the guest's file system is DIR, and nothing outside it.

Resolution is the kernel's own: openat2(2) with RESOLVE_IN_ROOT resolves a
path from the root directory's fd as if that directory were /, for absolute
paths, `..` and every symlink on the way (absolute, relative, looping), and
refuses magic links such as /proc/self/root. xemu never interprets a path
component itself. Guest paths are made absolute against the guest's working
directory, which xemu keeps as a string; a guest directory fd maps back to
its guest path through /proc/self/fd.
"""
from __future__ import annotations

import ctypes
import errno
import os
import posixpath

from ..errors import XemuError, shown
from ..machine.select import host_syscall_number

RESOLVE_NO_MAGICLINKS, RESOLVE_IN_ROOT = 0x02, 0x10

_libc = ctypes.CDLL(None, use_errno=True)


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]


def openat2(dirfd: int, path: bytes, flags: int, mode: int = 0,
            resolve: int = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) -> int:
    creating = flags & os.O_CREAT or flags & os.O_TMPFILE == os.O_TMPFILE
    # open(2) ignores a mode it does not use and bits beyond 07777;
    # openat2 answers EINVAL for both
    how = _OpenHow(flags, mode & 0o7777 if creating else 0, resolve)
    fd = _libc.syscall(ctypes.c_long(host_syscall_number("openat2")), ctypes.c_int(dirfd),
                       ctypes.c_char_p(path), ctypes.byref(how),
                       ctypes.c_size_t(ctypes.sizeof(how)))
    if fd < 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error), os.fsdecode(path))
    return fd


class RootFs:
    def __init__(self, directory: str):
        self.host_root = os.path.realpath(directory)
        self.fd = os.open(self.host_root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        self.cwd = b"/"

    def absolute(self, path: bytes, base: bytes | None = None) -> bytes:
        """A guest path made absolute against base (default: the guest cwd)."""
        if not path:
            raise OSError(errno.ENOENT, "empty path")
        if path.startswith(b"/"):
            return path
        return posixpath.join(base or self.cwd, path)

    def open(self, guest: bytes, flags: int, mode: int = 0) -> int:
        return openat2(self.fd, guest, flags | os.O_CLOEXEC, mode)

    def open_path(self, guest: bytes, follow: bool = True) -> int:
        """An O_PATH fd for the object itself (the symlink, if not follow)."""
        return self.open(guest, os.O_PATH | (0 if follow else os.O_NOFOLLOW))

    def parent(self, guest: bytes) -> tuple[int, bytes]:
        """(O_PATH fd of the containing directory, last component)."""
        directory, name = posixpath.split(guest.rstrip(b"/") or b"/")
        if name in (b"", b".", b".."):
            raise OSError(errno.EINVAL, "no name to act on")
        return self.open(directory or b"/", os.O_PATH | os.O_DIRECTORY), name

    def guest_path_of(self, fd: int) -> bytes:
        """The guest path of a host fd inside the root."""
        host = os.readlink(f"/proc/self/fd/{fd}".encode())   # bytes: any name
        root = os.fsencode(self.host_root)
        if host == root:
            return b"/"
        if host.startswith(root + b"/"):
            return host[len(root):]
        raise OSError(errno.ENOENT, "outside the root")

    def chdir(self, guest: bytes) -> None:
        fd = self.open(guest, os.O_PATH | os.O_DIRECTORY)
        try:
            self.cwd = self.guest_path_of(fd)
        finally:
            os.close(fd)


def open_rootfs(directory: str | None) -> RootFs | None:
    """--rootfs DIR as a RootFs (None: the host's own tree)."""
    if directory is None:
        return None
    if not os.path.isdir(directory):
        raise XemuError(f"--rootfs {shown(directory)} is not a directory")
    return RootFs(directory)
