"""What the user asked for, and what a run came to."""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

from ..errors import AccelError
from ..machine.accel.base import Stop
from ..machine.memory import Memory


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
    sysroot: str | None = None           # -L: absolute paths looked up here first
    argv0: str | None = None             # -0: the guest's argv[0] (default: image)
    exec_fd: int | None = None           # the program, open already (binfmt_misc's flag O)
    strace: bool = False                 # one line per system call on stderr
    gdb: int | None = None               # wait for gdb on this TCP port (0: any free one)
    trace: str | None = None             # --trace FILE ("-": stderr)
    trace_mode: str = "block"            # block or insn
    trace_exits: bool = False            # --trace-exits: a line per KVM exit on stderr
    stats: bool = False                  # a summary on stderr at the end
    stats_json: str | None = None        # the same summary as JSON in this file
    # when xemu was asked: --timeout counts from here, loading included
    started: float = field(default_factory=time.monotonic)

    def exit_tracer(self, accel, accel_name: str):
        """--trace-exits: accel's exits told on stderr, one line each; an
        error where the guest is translated (TCG has no exits to show)."""
        if not self.trace_exits:
            return
        if accel_name != "kvm":
            raise AccelError("--trace-exits shows KVM's exits, and this guest is translated "
                             "(TCG): run one KVM can run (`xemu info` lists them) with "
                             "--accel kvm")
        accel.exit_trace = lambda text: print(f"xemu: kvm exit: {text}", file=sys.stderr,
                                              flush=True)

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
    process: object | None               # the linux Process; None for a bare-metal run
    arch: str = ""
    memory: Memory | None = None
    forked_child: bool = False           # a process the guest forked, not the one started
