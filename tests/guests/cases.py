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


def cxx_binary(arch: str) -> Path:
    """The C++ multi-call binary (src/cxx/threads.cpp): THREAD_CXX_CASES."""
    return GUESTS / "bin" / arch / "xthreads"


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
    Case("fastcalls", ("fastcalls",)),     # the calls TCG answers in machine code, at their edges
    Case("proc", ("proc",)),
    Case("segv", ("segv",), status=-11, stderr="SIGSEGV"),
    Case("abort", ("abort",), status=-6, stderr="SIGABRT"),
    Case("badsys", ("badsys",)),
    Case("simd", ("simd",)),
    Case("itblock", ("itblock",)),          # Thumb-2 IT blocks across TLB fills
    Case("sharedfile", ("sharedfile",)),    # MAP_SHARED of a file is the file
    Case("sharedbus", ("sharedbus",), status=-7, stderr="SIGBUS"),
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
    Case("vforkfork", ("vforkfork",)),
    Case("pidfds", ("pidfds",)),
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
    Case("autodisarm", ("autodisarm",)),
    Case("fromparent", ("fromparent",)),    # another process's signals keep their siginfo
    Case("vecsignal", ("vecsignal",)),      # vector registers come back after a handler
    Case("fpsignal", ("fpsignal",)),
    Case("deaths", ("deaths",)),
    # xemu's own /proc never reaches the guest (issue 20): every spelling of
    # /proc/self is the guest's; mem is refused (Linux would open it)
    Case("procself", ("procself", "a", "b c"), env={"XEMU_PROCSELF": "yes"},
         reference=False),
    # the wider interface (linuxapi.c): ids, owners, times, file systems,
    # transfers between descriptors, resources; the same output as root or not
    Case("identity", ("identity",)),
    Case("owners", ("owners",)),
    Case("filetimes", ("filetimes",)),
    Case("fsinfo", ("fsinfo",)),
    Case("transfer", ("transfer",)),
    Case("resources", ("resources",)),
    # sockets (sockets.c): loopback TCP and UDP, AF_UNIX with descriptors
    Case("tcpecho", ("tcpecho",)),
    Case("tcpthreads", ("tcpthreads",)),
    Case("udpecho", ("udpecho",)),
    Case("unixfd", ("unixfd",)),
    # getifaddrs (rtnetlink, turned for ppc) and the SIOCGIF* ioctls on lo
    Case("ifaddrs", ("ifaddrs",)),
    # signals read from a descriptor, POSIX timers (linuxapi.c)
    Case("sigfd", ("sigfd",)),
    Case("ptimers", ("ptimers",)),
    Case("inotify", ("inotify",)),
    # a read or write buffer across two mappings goes whole (a short write
    # here once cut hello's output at a heap region's end)
    Case("straddle", ("straddle",)),
    # termios round trip on a pseudo-terminal (ppc numbers every flag its
    # own way), window size, FIONREAD, tcflush, FIONBIO, FIOCLEX
    Case("terminal", ("terminal",)),
    # System V shared memory, semaphores and queues between parent and child
    # (through the ipc multiplexer on i386 and ppc)
    Case("sysvipc", ("sysvipc",)),
    # ARM's kuser helpers page (Go's runtime at GOARM<7 calls it for every
    # atomic); the other arches say they have none
    Case("kuser", ("kuser",)),
    # privileged instructions in the CPU's user mode, as Linux runs programs
    # (privileged.c): the signal it gives, or what it lets them do
    *(Case(f"privileged-{name}", ("privileged", name), status=status) for name, status in (
        ("interrupts-off", {"x86_64": -11, "i386": -11, "arm": 0, "aarch64": -4, "ppc": -4}),
        ("halt", {"x86_64": -11, "i386": -11, "arm": 0, "aarch64": 0, "ppc": 0}),
        ("sysreg-read", {"x86_64": -11, "i386": -11, "arm": -4, "aarch64": -4, "ppc": -4}),
        ("sysreg-write", {"x86_64": -11, "i386": -11, "arm": -4, "aarch64": -4, "ppc": -4}),
        ("saved-state", {"x86_64": -11, "i386": -11, "arm": -4, "aarch64": -4, "ppc": -4}),
        ("io", {"x86_64": -11, "i386": -11, "arm": 0, "aarch64": 0, "ppc": 0}),
        ("fpu-control", {"x86_64": 0, "i386": 0, "arm": -4, "aarch64": 0, "ppc": 0}),
        ("user-level", 0), ("again", 0))),
]

# Threads (threads.c): not in CASES until xemu runs threads. Every expected
# file is the native x86_64/i386 output, and qemu-user's for arm, aarch64
# and ppc, except where qemu-user is wrong: robust (it has no
# set_robust_list, so the dead owner goes unnoticed: ETIMEDOUT), tasklist
# (/proc/self/task shows qemu's own host threads), and on ppc futexops
# (FUTEX_WAKE_OP does its arithmetic on the big-endian word in the host's
# byte order).
THREAD_CASES = [
    Case("mutexcount", ("mutexcount",)),
    Case("atomiccount", ("atomiccount",)),
    Case("condvar", ("condvar",)),
    Case("barrier", ("barrier",)),
    Case("tls", ("tls",)),
    Case("threadexit", ("threadexit",), status=3),
    Case("pthreadkill", ("pthreadkill",)),
    Case("procsignal", ("procsignal",)),
    Case("detached", ("detached",)),
    Case("manythreads", ("manythreads",)),
    Case("mainexit", ("mainexit",)),                        # the last thread returns
    Case("mainexit_status", ("mainexit", "5"), status=5),   # the last thread's exit(5)
    Case("robust", ("robust",)),
    Case("futexops", ("futexops",)),                        # status 1 on any FAIL line
    Case("affinity", ("affinity",)),
    Case("tasklist", ("tasklist",)),
    Case("threadfork", ("threadfork",)),
    Case("threadexec", ("threadexec",), status=4),
    Case("fdevents", ("fdevents",)),
    Case("pipethreads", ("pipethreads",)),
]

# The C++ binary (cxx_binary): std::thread, futures, condition variables, OpenMP.
THREAD_CXX_CASES = [
    Case("stdthread", ("stdthread",)),
    Case("async", ("async",)),
    Case("condition", ("condition",)),
    Case("openmp", ("openmp",)),
]

# The Go binary (go_binary, src/go/main.go; `make go`): the Go runtime's own
# threads, futexes, signal stacks and SIGURG preemption, with no libc. ppc32
# is no Go target. Every expected file is the native x86_64/i386 output, the
# same as qemu-user's for arm and aarch64.
GO_ARCHS = ("arm", "aarch64", "i386", "x86_64")


def go_binary(arch: str) -> Path:
    """The Go multi-call binary: GO_CASES, on GO_ARCHS only."""
    return GUESTS / "bin" / arch / "xgo"


GO_CASES = [
    Case("go-goroutines", ("goroutines",)),
    Case("go-channels", ("channels",)),
    Case("go-timers", ("timers",)),
    Case("go-preempt", ("preempt",)),       # finishes only with async preemption
    Case("go-signals", ("signals",)),
    Case("go-panic", ("panic",), status=2, stderr="panic: boom"),
    Case("go-exitcode", ("exitcode",), status=3, stderr="exit 3 from a goroutine"),
]

# Torture runs of xtest: 8 threads x 1000000 increments each, racing for
# real. Not cases (they take a while under emulation); every line they print
# after the first ends "exact=1". Natively ~0.15 s, qemu-user ~0.5-1.7 s.
TORTURE_MUTEX = ("mutexcount", "8", "1000000")
TORTURE_ATOMIC = ("atomiccount", "8", "1000000")
TORTURE = (TORTURE_MUTEX, TORTURE_ATOMIC)
