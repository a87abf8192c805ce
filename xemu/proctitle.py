"""The process title `ps` shows, rewritten like QEMU's command line, so the
classic lab of `ps aux | grep accel=` works on xemu too.

Linux shows /proc/PID/cmdline, which is the memory of the original argv.
CPython keeps its own copy of the arguments, so xemu may overwrite that
memory in place (as the setproctitle package does), within its length.
"""
from __future__ import annotations

import ctypes

PR_SET_NAME = 15


def set_title(title: str) -> bool:
    """Show title in ps; False where this system does not allow it."""
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        # fields[0] is field 3 (state); arg_start and arg_end are fields 48, 49
        start, end = int(fields[45]), int(fields[46])
    except (OSError, IndexError, ValueError):
        return False
    if not start or end <= start:
        return False
    raw = title.encode()[:end - start - 1]
    try:
        ctypes.memmove(start, raw + b"\0" * (end - start - len(raw)), end - start)
        libc = ctypes.CDLL(None)
        libc.prctl(PR_SET_NAME, b"xemu", 0, 0, 0)
    except (OSError, AttributeError, ValueError):
        return False
    return True
