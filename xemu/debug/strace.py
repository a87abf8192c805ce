"""--strace: one line per system call on stderr, in qemu-user's style:

    write(1, "hello\\n", 6) = 6
    openat(AT_FDCWD, "/nope", 0x0, 0) = -1 ENOENT (No such file or directory)

Strings are shown (and cut at 32 bytes), pointers in hex, errors by name.
How each argument is shown is data: a row per call in SIGNATURES, where
"path" is a C string, "buf:N" a buffer whose length is argument N, "fd" a
descriptor (AT_FDCWD by name), "hex" a pointer or flags, "int" a number.
Calls without a row show their arguments in hex.
"""
from __future__ import annotations

import errno
import os
import sys
import threading

from ..linux.process import AT_FDCWD

MAX_SHOWN = 32

SIGNATURES: dict[str, tuple[str, ...]] = {
    "read": ("fd", "hex", "int"), "write": ("fd", "buf:2", "int"),
    "pread64": ("fd", "hex", "int", "int"), "pwrite64": ("fd", "buf:2", "int", "int"),
    "readv": ("fd", "hex", "int"), "writev": ("fd", "hex", "int"),
    "open": ("path", "hex", "oct"), "openat": ("fd", "path", "hex", "oct"),
    "creat": ("path", "oct"), "close": ("fd",), "dup": ("fd",), "dup2": ("fd", "fd"),
    "dup3": ("fd", "fd", "hex"), "lseek": ("fd", "int", "int"),
    "_llseek": ("fd", "int", "int", "hex", "int"),
    "stat": ("path", "hex"), "lstat": ("path", "hex"), "stat64": ("path", "hex"),
    "lstat64": ("path", "hex"), "fstat": ("fd", "hex"), "fstat64": ("fd", "hex"),
    "newfstatat": ("fd", "path", "hex", "hex"), "fstatat64": ("fd", "path", "hex", "hex"),
    "statx": ("fd", "path", "hex", "hex", "hex"), "access": ("path", "oct"),
    "faccessat": ("fd", "path", "oct"), "faccessat2": ("fd", "path", "oct", "hex"),
    "readlink": ("path", "hex", "int"), "readlinkat": ("fd", "path", "hex", "int"),
    "unlink": ("path",), "unlinkat": ("fd", "path", "hex"), "mkdir": ("path", "oct"),
    "mkdirat": ("fd", "path", "oct"), "rmdir": ("path",), "chdir": ("path",),
    "rename": ("path", "path"), "renameat": ("fd", "path", "fd", "path"),
    "renameat2": ("fd", "path", "fd", "path", "hex"), "symlink": ("path", "path"),
    "chmod": ("path", "oct"), "getcwd": ("hex", "int"), "getdents64": ("fd", "hex", "int"),
    "ioctl": ("fd", "hex", "hex"), "fcntl": ("fd", "int", "hex"), "fcntl64": ("fd", "int", "hex"),
    "brk": ("hex",), "mmap": ("hex", "int", "hex", "hex", "fd", "hex"),
    "mmap2": ("hex", "int", "hex", "hex", "fd", "hex"), "munmap": ("hex", "int"),
    "mprotect": ("hex", "int", "hex"), "exit": ("int",), "exit_group": ("int",),
    "kill": ("int", "int"), "tgkill": ("int", "int", "int"), "uname": ("hex",),
}
RETURNS_POINTER = {"brk", "mmap", "mmap2", "mremap"}
# The kernel's own codes for a call a signal interrupted (include/linux/errno.h),
# which delivery turns into a restart or EINTR: shown as strace shows them
RESTART_CODES = {512: ("ERESTARTSYS", "To be restarted if SA_RESTART is set"),
                 513: ("ERESTARTNOINTR", "To be restarted"),
                 514: ("ERESTARTNOHAND", "To be restarted if no handler"),
                 516: ("ERESTART_RESTARTBLOCK", "Interrupted by signal")}


class Tracer:
    def __init__(self, process, out=None):
        self.process = process
        self.out = out or sys.stderr
        # Once the guest has forked, each line starts with its process's
        # pid, as qemu-user's do, so the processes' lines can be told apart.
        self.show_pid = False

    def call(self, name: str, args: tuple) -> str:
        kinds = SIGNATURES.get(name)
        if kinds is None:
            return f"{name}({', '.join(hex(a) for a in args[:3])})"
        return f"{name}({', '.join(self._argument(kind, args) for kind in enumerate(kinds))})"

    def result(self, name: str, value) -> str:
        if not isinstance(value, int):
            return ""                                   # the call ended the run
        if -value in RESTART_CODES:                      # as strace shows the kernel's own
            return " = ? %s (%s)" % RESTART_CODES[-value]
        if -4096 < value < 0:
            code = errno.errorcode.get(-value, str(-value))
            return f" = -1 {code} ({os.strerror(-value)})"
        return f" = {value:#x}" if name in RETURNS_POINTER else f" = {value}"

    def line(self, text: str) -> None:
        if self.show_pid:                # the tid: the pid for a process's first thread
            text = f"{threading.get_native_id()} {text}"
        print(text, file=self.out, flush=True)

    def _argument(self, indexed: tuple[int, str], args: tuple) -> str:
        index, kind = indexed
        value = args[index]
        p = self.process
        if kind == "fd":
            fd = p.int32(value)
            return "AT_FDCWD" if fd == AT_FDCWD else str(fd)
        if kind == "int":
            return str(p.signed(value))
        if kind == "oct":
            return f"{value:#o}"
        if kind == "path":
            return self._string(value, MAX_SHOWN * 8, cstring=True)
        if kind.startswith("buf:"):
            return self._string(value, args[int(kind[4:])], cstring=False)
        return f"{value:#x}"

    def _string(self, address: int, length: int, cstring: bool) -> str:
        if address == 0:
            return "NULL"
        try:
            data = self.process.mem.read_cstring(address, length) if cstring \
                else self.process.mem.read(address, min(length, MAX_SHOWN + 1))
        except Exception:
            return f"{address:#x}"
        shown = data[:MAX_SHOWN] if not cstring else data
        text = "".join(_escape(b) for b in shown)
        return f'"{text}"' + ("..." if len(data) > len(shown) else "")


def _escape(byte: int) -> str:
    special = {0x0A: "\\n", 0x09: "\\t", 0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\", 0: "\\0"}
    if byte in special:
        return special[byte]
    return chr(byte) if 0x20 <= byte < 0x7F else f"\\x{byte:02x}"
