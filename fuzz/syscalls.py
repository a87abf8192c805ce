"""The system call fuzzer's driver: runs tests/guests/bin/ARCH/xfuzz
(tests/guests/src/fuzz/fuzz.c) under xemu, each run in a sandbox of its own
(sandbox.py), reads its progress markers from stderr, restarts it after the
call that killed or blocked it, and judges every run.

Call i of a seed is derived from (seed, i) alone, so a failure's reproducer
replays just that call: `python -m fuzz syscalls --arch A --accel X --seed S
--first I --calls 1 -v`.
"""
from __future__ import annotations

import shutil
from collections import Counter
import threading
import traceback
from dataclasses import dataclass, field

from .failures import Failure, Failures, is_bad, message_key, traceback_key
from .sandbox import GUESTS, MEMORY, MEMORY_BYTES, Workspace, run, xemu_command

STALL = 10.0            # seconds without a marker: the call blocks past the guest's timer
NO_PROGRESS = 2         # runs in a row that made no call: skip that call
MARKER = b"@xfuzz "


def syscall_names(arch: str) -> dict[int, str]:
    from xemu.archs import by_name
    return by_name(arch).syscall_names


@dataclass
class Call:
    index: int
    number: int
    args: list[str]                     # "class:hex" as the guest printed them

    def describe(self, names: dict[int, str]) -> str:
        name = names.get(self.number, f"#{self.number}")
        shown = []
        for arg in self.args:
            cls, _, value = arg.partition(":")
            number = int(value, 16) if value else 0
            shown.append(f"{cls}={number}" if cls in ("small", "fd", "zero") else
                         f"{cls}={number:#x}")
        return f"{name}({', '.join(shown)})"


class Parser:
    """Reads one run's stderr line by line: the markers, and what xemu wrote
    after each (the lines that belong to that call)."""

    def __init__(self) -> None:
        self.current: Call | None = None
        self.lines: list[str] = []          # after the current marker
        self.bad: list[tuple[Call | None, list[str]]] = []
        self.done = False
        self.calls = 0
        self.tail: list[str] = []           # the last lines, whatever they were

    def feed(self, raw: bytes) -> None:
        at = raw.rfind(MARKER)
        if at >= 0:
            before = raw[:at].decode(errors="replace")
            if before.strip():
                self.other(before)
            self.close()
            fields = raw[at + len(MARKER):].decode(errors="replace").split()
            if fields == ["done"]:
                self.done = True
                return
            try:
                self.current = Call(int(fields[0], 16), int(fields[1], 16), fields[2:])
                self.calls += 1
            except (ValueError, IndexError):
                self.other(raw.decode(errors="replace"))
            return
        self.other(raw.decode(errors="replace"))

    def other(self, line: str) -> None:
        self.lines.append(line)
        self.tail = (self.tail + [line])[-30:]

    def close(self) -> None:
        """The current call's lines are complete."""
        if self.lines and any(is_bad(line) for line in self.lines):
            self.bad.append((self.current, self.lines))
        self.lines = []

    def finish(self) -> None:
        self.close()


@dataclass
class Stats:
    calls: int = 0
    runs: int = 0
    guest_deaths: int = 0               # runs ended by the guest's own doing
    blocked: list[str] = field(default_factory=list)
    deaths: Counter = field(default_factory=Counter)   # (last call, how it ended) -> runs
    seconds: float = 0.0
    peak_rss: int = 0


class SyscallFuzzer:
    def __init__(self, arch: str, accel: str, seed: int, overhead: int, slack: int,
                 failures: Failures, verbose: bool = False, log=print) -> None:
        self.arch, self.accel, self.seed = arch, accel, seed
        self.limit = MEMORY_BYTES + overhead + slack
        self.failures = failures
        self.names = syscall_names(arch)
        self.stats = Stats()
        self.verbose = verbose
        self.log = log
        self.lock = threading.Lock()

    def replay(self, index: int) -> str:
        return (f"python -m fuzz syscalls --arch {self.arch} --accel {self.accel} "
                f"--seed {self.seed} --first {index} --calls 1 -v")

    def where(self, call: Call | None, fallback: int) -> str:
        index = call.index if call else fallback
        what = call.describe(self.names) if call else "(before the first call)"
        return (f"arch={self.arch} accel={self.accel} seed={self.seed} index={index}: {what}"
                f"  [replay: {self.replay(index)}]")

    def fail(self, kind: str, key: str, call: Call | None, fallback: int,
             details: list[str], note: str = "") -> None:
        reproducer = self.where(call, fallback) + (f"  -> {note}" if note else "")
        with self.lock:
            new = self.failures.add(Failure(kind, key, reproducer, details))
        if new or self.verbose:
            self.log(f"FAIL {kind}: {key}\n     {reproducer}")

    def fuzz(self, first: int, count: int) -> None:
        """Calls first .. first+count-1, restarting the guest as needed."""
        workspace = Workspace()
        try:
            self._fuzz(workspace, first, count)
        except Exception as e:          # the driver's own bug: say so, keep the others going
            self.fail("driver", f"{type(e).__name__}: {e}", None, first,
                      traceback.format_exc().splitlines())
        finally:
            workspace.remove()

    def _fuzz(self, workspace: Workspace, first: int, count: int) -> None:
        end = first + count
        index, stuck = first, 0
        while index < end:
            workspace.fresh_root()
            shutil.copy(GUESTS / self.arch / "xfuzz", workspace.root / "xfuzz")
            timeout = 60 + (end - index) // 100
            parser = Parser()
            result = run(xemu_command("run", "--arch", self.arch, "--accel", self.accel,
                                      "--rootfs", str(workspace.root), "--memory", MEMORY,
                                      "--timeout", str(timeout), "/xfuzz", str(self.seed),
                                      str(index), str(end - index), shim=True),
                         workspace, deadline=timeout + 30, stall=STALL, on_line=parser.feed)
            parser.finish()
            self.judge(workspace, parser, result, index)
            with self.lock:
                self.stats.runs += 1
                self.stats.calls += parser.calls
                self.stats.seconds += result.seconds
                self.stats.peak_rss = max(self.stats.peak_rss, result.maxrss)
            if parser.done:
                return
            last = parser.current.index if parser.current else None
            if result.killed == "stall" and parser.current:
                with self.lock:
                    self.stats.blocked.append(self.where(parser.current, index))
            elif not parser.done:
                how = (f"signal {result.signal}" if result.signal else f"status {result.status}")
                name = (self.names.get(parser.current.number, hex(parser.current.number))
                        if parser.current else "-")
                with self.lock:
                    self.stats.guest_deaths += 1
                    self.stats.deaths[f"{name}: {how}"] += 1
            if last is None or last < index:
                stuck += 1
                if stuck >= NO_PROGRESS:
                    self.fail("no-progress", "the guest makes no call", None, index,
                              parser.tail, f"status {result.status} signal {result.signal}")
                    index, stuck = index + 1, 0
                continue
            index, stuck = last + 1, 0

    def judge(self, workspace: Workspace, parser: Parser, result, index: int) -> None:
        for call, lines in parser.bad:
            key = traceback_key(lines) or message_key(
                next(line for line in lines if is_bad(line)))
            note = next((line for line in reversed(lines) if is_bad(line)), "")
            self.fail("internal-error", key, call, index, lines, note.strip())
        if result.status == 70:
            key = traceback_key(parser.tail) or message_key(
                next((line for line in parser.tail if is_bad(line)), "status 70"))
            self.fail("status-70", key, parser.current, index, parser.tail)
        escaped = workspace.escapes()
        if escaped:
            self.fail("escape", "changed outside the root", parser.current, index, escaped,
                      escaped[0])
            workspace.before = workspace.snapshot()
        if result.maxrss > self.limit:
            last = parser.current.index if parser.current else index
            self.fail("rss", f"peak RSS past --memory {MEMORY} + overhead", parser.current,
                      index, [], f"{result.maxrss >> 20} MiB > {self.limit >> 20} MiB in the "
                      f"run of calls {index}..{last} (bisect with --first and --calls)")


def calls_made(arch: str, accel: str, seed: int, first: int, count: int) -> dict[int, Call]:
    """One run of xfuzz, no restart: the calls it announced, by index."""
    workspace = Workspace()
    made: dict[int, Call] = {}
    parser = Parser()

    def feed(line: bytes) -> None:
        parser.feed(line)
        if parser.current is not None:
            made[parser.current.index] = parser.current
    try:
        shutil.copy(GUESTS / arch / "xfuzz", workspace.root / "xfuzz")
        run(xemu_command("run", "--arch", arch, "--accel", accel, "--rootfs",
                         str(workspace.root), "--memory", MEMORY, "--timeout", "60", "/xfuzz",
                         str(seed), str(first), str(count)),
            workspace, deadline=90, stall=STALL, on_line=feed)
    finally:
        workspace.remove()
    return made
