"""What every lab uses: the guest shipped with xemu, `xemu` run as a
student types it, and whether KVM can run a guest here."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

GUESTS = Path(__file__).resolve().parent / "guests"


def guest(arch: str) -> Path:
    return GUESTS / arch / "labguest"


@dataclass
class GuestRun:
    """One `xemu run` of the lab guest: what it printed and what --stats said."""
    command: list[str]
    status: int
    stdout: str
    stderr: str
    seconds: float
    stats: dict = field(default_factory=dict)


@dataclass
class Lab:
    """What a lab's run() gets: the language to speak, and ways to run guests."""
    text: dict                  # the lab's TEXT for this language
    out: object = sys.stdout

    def say(self, key: str, **values) -> None:
        print(self.text[key].format(**values), file=self.out, flush=True)

    def xemu(self, *args: str, stdin: str = "", stats: bool = True,
             timeout: float = 300) -> GuestRun:
        """`xemu ARGS` as a student would type it (python -m xemu here)."""
        with tempfile.TemporaryDirectory() as scratch:
            stats_file = Path(scratch) / "stats.json"
            extra = ["--stats-json", str(stats_file)] if stats and args[:1] == ("run",) else []
            command = [sys.executable, "-m", "xemu", args[0], *extra, *args[1:]]
            start = time.monotonic()
            done = subprocess.run(command, input=stdin.encode(), capture_output=True,
                                  timeout=timeout)
            seconds = time.monotonic() - start
            found = json.loads(stats_file.read_text()) if stats_file.exists() else {}
        shown = ["xemu", *args]
        return GuestRun(shown, done.returncode, done.stdout.decode(errors="replace"),
                        done.stderr.decode(errors="replace"), seconds, found)

    def compute(self, arch: str, accel: str, rounds: int) -> GuestRun:
        """The guest's arithmetic, timed. Statistics only under KVM (its exits):
        counting TCG's blocks would slow the translated run many times."""
        return self.xemu("run", "--arch", arch, "--accel", accel, str(guest(arch)),
                         stdin=f"compute {rounds}\n", stats=accel == "kvm")


def kvm_usable(arch: str = "x86_64") -> tuple[bool, str]:
    """Can this machine run the arch under KVM, and if not, why."""
    from ..archs import by_name
    from ..machine import select
    return select.kvm_usable(by_name(arch))


def run_native(program: Path, line: str) -> float:
    """Seconds the host takes to run a lab guest itself, line on stdin.
    (A copy is run: an installed package's file may not be executable.)"""
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / program.name
        shutil.copy(program, copy)
        copy.chmod(0o755)
        start = time.monotonic()
        subprocess.run([str(copy)], input=line.encode(), capture_output=True)
        return time.monotonic() - start
