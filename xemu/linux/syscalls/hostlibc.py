"""The host's C library, for the calls Python's os module lacks (epoll_ctl
with the guest's data, timerfd): each raises OSError with errno as os
does."""
from __future__ import annotations

import ctypes
import os

from ...machine.select import host_syscall_number

LIBC = ctypes.CDLL(None, use_errno=True)


def host_syscall(name: str, *args) -> int:
    """A host system call by the kernel's name, for those libc and os lack
    (the arguments as ctypes values); OSError(errno) on failure."""
    return checked(LIBC.syscall(ctypes.c_long(host_syscall_number(name)), *args))


def checked(result: int) -> int:
    """A libc call's result; OSError(errno) for a negative one."""
    if result < 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))
    return result


class HostStatfs(ctypes.Structure):
    """The host's struct statfs (asm-generic's, as on every 64-bit host)."""
    _fields_ = [(name, ctypes.c_long) for name in (
        "f_type", "f_bsize", "f_blocks", "f_bfree", "f_bavail", "f_files", "f_ffree")] + \
        [("f_fsid", ctypes.c_int * 2)] + \
        [(name, ctypes.c_long) for name in ("f_namelen", "f_frsize", "f_flags")] + \
        [("f_spare", ctypes.c_long * 4)]


def fstatfs(fd: int) -> dict:
    """fstatfs(2) of a host fd (an O_PATH one will do), as a dict of fields."""
    result = HostStatfs()
    checked(LIBC.fstatfs(fd, ctypes.byref(result)))
    fields = {name: getattr(result, name) for name, _ in HostStatfs._fields_
              if name not in ("f_fsid", "f_spare")}
    fields["f_fsid0"], fields["f_fsid1"] = result.f_fsid
    return fields
