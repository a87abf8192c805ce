"""Running the cells: each one `xemu run` (or the host itself, for the
native reference) in its own process, several at once.

Each run gets a timeout and a memory cap, stdin from the test, and -q so
xemu's own warnings never mix into what is compared. Ctrl-C
stops the pool: running children are killed, the cells not started are
reported as not run, and the caller still writes its report.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable

from ..errors import EXIT_INTERNAL, EXIT_TIMEOUT
from .plan import Cell

GRACE = 10.0            # seconds past the guest's timeout before the host kills xemu


@dataclass
class Run:
    """What one cell did."""
    cell: Cell
    status: int | None          # exit status, minus a signal; None: not run
    stdout: bytes = b""
    stderr: bytes = b""
    seconds: float = 0.0
    timed_out: bool = False
    note: str = ""              # why it did not run, if it did not


def command(cell: Cell, timeout: float, memory: str | None) -> list[str]:
    test = cell.test
    program = test.programs[cell.arch]
    if cell.accel == "native":
        return [program, *test.args]
    limits = ["--timeout", f"{timeout:g}"] + (["--memory", memory] if memory else [])
    return [sys.executable, "-m", "xemu", "run", "-q", "--arch", cell.arch,
            "--accel", cell.accel, *limits, program, *test.args]


class Pool:
    """Runs cells on `jobs` threads, each waiting on one child process."""

    def __init__(self, jobs: int, timeout: float, memory: str | None):
        self.jobs, self.timeout, self.memory = max(1, jobs), timeout, memory
        self.children: set[subprocess.Popen] = set()
        self.lock = threading.Lock()
        self.stopping = False

    def run_one(self, cell: Cell) -> Run:
        timeout = cell.test.timeout or self.timeout
        env = {**os.environ, **cell.test.env}
        start = time.monotonic()
        with self.lock:         # Ctrl-C's clean-up sees every child, or none starts
            if self.stopping:
                return Run(cell, None, note="not run (interrupted)")
            try:
                child = subprocess.Popen(command(cell, timeout, self.memory),
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, env=env,
                                         start_new_session=True)
            except OSError as e:
                return Run(cell, None, note=f"could not start: {e.strerror}")
            self.children.add(child)
        timed_out = False
        try:
            stdout, stderr = child.communicate(cell.test.stdin, timeout=timeout + GRACE)
        except subprocess.TimeoutExpired:
            self._kill(child)
            stdout, stderr = child.communicate()
            timed_out = True
        finally:
            with self.lock:
                self.children.discard(child)
        if self.stopping:           # killed by Ctrl-C's clean-up, not by its own doing
            return Run(cell, None, stdout, stderr, time.monotonic() - start,
                       note="stopped (interrupted)")
        status = child.returncode
        if cell.accel == "native" and time.monotonic() - start > timeout:
            timed_out = True
        timed_out = timed_out or (cell.accel != "native" and status == EXIT_TIMEOUT)
        return Run(cell, status, stdout, stderr, time.monotonic() - start, timed_out)

    def _kill(self, child: subprocess.Popen) -> None:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def run(self, cells: list[Cell], done: Callable[[Run], None]) -> list[Run]:
        """Every cell's Run, in the cells' order; done() is told of each as
        it ends. Ctrl-C kills the children and marks the rest not run."""
        results: dict[int, Run] = {}
        with ThreadPoolExecutor(self.jobs) as executor:
            futures: dict[Future, int] = {executor.submit(self.run_one, cell): i
                                          for i, cell in enumerate(cells)}
            pending = set(futures)
            try:
                while pending:
                    finished, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
                    for future in finished:
                        run = future.result()
                        results[futures[future]] = run
                        done(run)
            except KeyboardInterrupt:
                with self.lock:
                    self.stopping = True
                    for child in list(self.children):
                        self._kill(child)
                for future in pending:
                    future.cancel()
                for future in pending:
                    if not future.cancelled():
                        results[futures[future]] = future.result()
                raise Interrupted([results.get(i) or Run(cell, None, note="not run (interrupted)")
                                   for i, cell in enumerate(cells)]) from None
        return [results[i] for i in range(len(cells))]


class Interrupted(Exception):
    """Ctrl-C: the runs so far, the rest marked not run."""

    def __init__(self, runs: list[Run]):
        super().__init__("interrupted")
        self.runs = runs


def internal_error(run: Run) -> bool:
    return run.cell.accel != "native" and run.status == EXIT_INTERNAL
