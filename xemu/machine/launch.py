"""What every run shares: the request, the result, running to a Stop under
--timeout, and the report a Stop ends with; and which kind of run a request
is: a Linux program (user mode) or a bare-metal image on a board."""
from __future__ import annotations

import contextlib
import signal
import sys
from dataclasses import dataclass, field

from ..debug.stats import RunStats, emit, open_json
from ..debug.trace import disassemble_one
from ..errors import EXIT_TIMEOUT, GuestTimeout, ImageError
from ..linux.process import Process
from ..loader.elf import is_elf
from .accel.base import Exit, Fault, Killed, Stop, Timeout
from .memory import Memory


@dataclass
class RunRequest:
    image: str                           # the path as the user gave it (argv[0])
    args: list[str] = field(default_factory=list)
    arch: str | None = None
    accel: str = "auto"
    env: dict[str, str] | None = None    # None: the host's environment
    quiet: bool = False
    verbose: bool = False
    timeout: float | None = None         # seconds of wall time, then status 124
    machine: str | None = None           # user, or a board: virt, pc (None: from the image)
    load: int | None = None              # raw images: where they go (board's default)
    entry: int | None = None             # raw images: where to start (the load address)
    memory: int | None = None            # bytes of guest memory; None: half the host's RAM
    rootfs: str | None = None            # the guest's / (None: the host's own)
    strace: bool = False                 # one line per system call on stderr
    gdb: int | None = None               # wait for gdb on this TCP port (0: any free one)
    trace: str | None = None             # --trace FILE ("-": stderr)
    trace_mode: str = "block"            # block or insn
    stats: bool = False                  # a summary on stderr at the end
    stats_json: str | None = None        # the same summary as JSON in this file

    def needs_tcg(self, board: bool = False) -> str | None:
        """Why this run must be translated, if it must."""
        if self.trace:
            return ("--trace shows translated blocks and instructions, which only TCG "
                    "sees (KVM runs them on the CPU itself)")
        if board and self.gdb is not None:
            return "--gdb on a board needs TCG (KVM's real-mode board has no debugger)"
        return None


@dataclass
class RunResult:
    status: int                          # what xemu exits with
    stop: Stop
    accel: str
    process: Process | None              # None for a bare-metal run
    arch: str = ""
    memory: Memory | None = None


def run_until_stop(accel, entry: int, request: RunRequest,
                   stats: RunStats | None = None) -> Stop:
    """Run the guest to its Stop, --timeout included; under gdb's control
    with --gdb; traced and counted with --trace and --stats."""
    timeout = request.timeout
    server = trace = None
    if request.trace:
        from ..debug.trace import Trace
        trace = Trace(accel.spec, accel.memory, accel.regs, request.trace, request.trace_mode)
        accel.observe_code(trace, per_instruction=request.trace_mode == "insn")
    if stats is not None:
        stats.watch(accel)
    if request.gdb is not None:
        from ..debug.gdbstub import listen
        server = listen(request.gdb)
    try:
        with alarm(timeout):
            if server is None:
                return accel.run(entry, timeout)
            from ..debug.gdbstub import GdbStub
            return GdbStub(accel, server).serve(entry, timeout)
    except GuestTimeout:
        return Timeout(timeout)
    finally:
        sys.stdout.flush()
        if stats is not None:
            stats.stop()
        if trace is not None:
            trace.close()
        if server is not None:
            server.close()


def report(stop: Stop, accel, memory: Memory) -> int:
    """The status a run ends with, and its one line on stderr if it did not
    simply exit."""
    if isinstance(stop, Exit):
        status = stop.status
    elif isinstance(stop, Fault):
        print(describe_fault(stop, accel, memory), file=sys.stderr, flush=True)
        status = 128 + stop.signal
    elif isinstance(stop, Killed):
        print(f"xemu: guest killed by SIGKILL (from {stop.by})", file=sys.stderr, flush=True)
        status = 128 + signal.SIGKILL
    elif isinstance(stop, Timeout):
        print(f"xemu: guest stopped: --timeout of {stop.seconds:g} s reached",
              file=sys.stderr, flush=True)
        status = EXIT_TIMEOUT
    else:
        raise RuntimeError(f"unexpected stop {stop!r}")
    return status


@contextlib.contextmanager
def alarm(seconds: float | None):
    """SIGALRM after seconds, raised as GuestTimeout where Python next runs:
    in a blocking system call, or when KVM_RUN returns EINTR."""
    if not seconds:
        yield
        return

    def expired(signum, frame):
        raise GuestTimeout()
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def describe_fault(fault: Fault, accel, memory: Memory) -> str:
    """One line: the signal, where, what was touched, and the instruction."""
    name = signal.Signals(fault.signal).name
    words = [f"xemu: guest killed by {name} ({signal.strsignal(fault.signal)})"]
    if fault.raised:
        return words[0] + ", raised by the guest itself"
    if fault.reason:
        words.append(f": {fault.reason}")
    if fault.address is not None and fault.access != "execute":
        words.append(f" {fault.access} at {fault.address:#x}")
    words.append(f", pc {fault.pc:#x}")
    region = memory.region_at(fault.pc)
    code = memory.read(fault.pc, min(16, region.end - fault.pc)) if region else b""
    text = disassemble_one(accel.spec, code, fault.pc, accel.regs) if code else None
    if text:
        words.append(f": {text}")
    elif fault.access == "execute":
        words.append(" (not mapped as code)")
    return "".join(words)


def run(request: RunRequest) -> RunResult:
    machine = request.machine or kind_of(request)
    stats = RunStats() if request.stats or request.stats_json else None
    json_file = open_json(request.stats_json) if request.stats_json else None
    if machine == "user":
        from .linux_user import run as run_kind
    else:
        from .bare_metal import run as run_kind
    result = run_kind(request, stats)
    if stats is not None:
        emit(stats.summary(result.accel, result.arch, result.status, result.memory),
             request.stats, json_file)
    return result


def kind_of(request: RunRequest) -> str:
    """user for an ELF program; a board for a raw image with --arch."""
    try:
        with open(request.image, "rb") as f:
            head = f.read(4)
    except OSError:
        return "user"                   # linux_user reports the unreadable file
    if not head:
        raise ImageError(f"{request.image} is empty")
    if is_elf(head):
        return "user"
    if request.arch is None:
        raise ImageError(f"{request.image} is not an ELF program (to run it as a raw "
                         "image on a bare-metal board, give --arch)")
    return "board"
