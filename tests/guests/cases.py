"""The test programs' cases: how to run each, and what it must print.

Expected stdout is tests/guests/expected/<case>.out, or <case>.<arch>.out
where an arch really differs (uname's machine, the sign x86 gives a NaN).
Every expected file was taken from qemu-user or the native CPU, not from
xemu. `{image}` in an expected file stands for the image path as given.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from xemu.archs import all_specs

GUESTS = Path(__file__).resolve().parent
ARCHS = tuple(spec.name for spec in all_specs())      # the registry's, in its order


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    # the exit status, or minus the signal that killed it (subprocess's
    # returncode, as for a native program); {arch: status} where arches differ
    status: int | dict = 0
    stdin: bytes | None = None
    env: dict = field(default_factory=dict)
    stderr: str | None = None       # a line stderr must contain
    xemu_args: tuple[str, ...] = ()  # options for xemu itself (limits)
    reference: bool = True          # False: xemu's limits decide; no reference run

    def status_on(self, arch: str) -> int:
        return self.status[arch] if isinstance(self.status, dict) else self.status

    def expected(self, arch: str, image: str) -> bytes:
        specific = GUESTS / "expected" / f"{self.name}.{arch}.out"
        generic = GUESTS / "expected" / f"{self.name}.out"
        text = (specific if specific.exists() else generic).read_bytes()
        return text.replace(b"{image}", image.encode())


def binary(arch: str) -> Path:
    return GUESTS / "bin" / arch / "xtest"


CASES = [
    Case("hello", ("hello", "a", "b c", "--exit=7"), status=7, env={"GREETING": "hi"}),
    Case("hello-noargs", ("hello",)),
    Case("argv0", ("argv0",)),
    Case("fileio", ("fileio",), stderr="close again: Bad file descriptor"),
    Case("dirs", ("dirs",), stderr="rmdir again: No such file or directory"),
    Case("cat", ("cat",), stdin=b"line one\nline two\n\xff binary \x00 too\n",
         stderr="3 lines, 33 bytes"),
    Case("floats", ("floats",)),
    Case("strings", ("strings",)),
    Case("memory", ("memory",)),
    Case("timing", ("timing",)),
    Case("proc", ("proc",)),
    Case("segv", ("segv",), status=-11, stderr="SIGSEGV"),
    Case("abort", ("abort",), status=-6, stderr="SIGABRT"),
    Case("badsys", ("badsys",)),
    Case("simd", ("simd",)),
    Case("trap", ("trap",), status={"x86_64": -4, "i386": -4, "arm": -4,
                                    "aarch64": -5, "ppc": -5}),
    Case("divzero", ("divzero",), status={"x86_64": -8, "i386": -8, "arm": -8,
                                          "aarch64": 0, "ppc": 1}),
    Case("jump0", ("jump0",), status=-11, stderr="unmapped, pc 0x1000"),
    Case("rowrite", ("rowrite",), status=-11, stderr="protection write"),
    Case("unaligned", ("unaligned",), status={"x86_64": 0, "i386": 0, "arm": -7,
                                              "aarch64": -7, "ppc": -7}),
    Case("recurse", ("recurse",), status=-11, stderr="SIGSEGV"),
    Case("hog", ("hog",), xemu_args=("--memory", "64M"), reference=False),
    Case("bigio", ("bigio",), xemu_args=("--memory", "64M"), reference=False),
    # processes (procs.c): output with no pids, the same on every arch
    Case("forkwait", ("forkwait",)),
    Case("pipes", ("pipes",)),
    Case("execself", ("execself",)),
    Case("script", ("script",)),
    Case("noexec", ("noexec",)),
    Case("vfork", ("vfork",)),
    Case("groups", ("groups",)),
    Case("chain", ("chain",), status=10),
    Case("waitid", ("waitid",)),
    # signals (signals.c)
    Case("sighandler", ("sighandler",)),
    Case("sigmask", ("sigmask",)),
    Case("sigpending", ("sigpending",)),
    Case("alarmpause", ("alarmpause",), status=-14),
    Case("alarmpause_handled", ("alarmpause", "handled")),
    Case("restart", ("restart",)),
    Case("sigchld", ("sigchld",)),
    Case("sigpipe", ("sigpipe",)),
    Case("rtqueue", ("rtqueue",)),
    Case("segvjmp", ("segvjmp",)),
    Case("altstack", ("altstack",)),
    Case("fpsignal", ("fpsignal",)),
    Case("deaths", ("deaths",)),
    # xemu's own /proc never reaches the guest (issue 20): every spelling of
    # /proc/self is the guest's; mem is refused (Linux would open it)
    Case("procself", ("procself", "a", "b c"), env={"XEMU_PROCSELF": "yes"},
         reference=False),
]
