"""The host's C library, for the calls Python's os module lacks (epoll_ctl
with the guest's data, timerfd): each raises OSError with errno as os
does."""
from __future__ import annotations

import ctypes
import os

LIBC = ctypes.CDLL(None, use_errno=True)


def checked(result: int) -> int:
    """A libc call's result; OSError(errno) for a negative one."""
    if result < 0:
        error = ctypes.get_errno()
        raise OSError(error, os.strerror(error))
    return result
