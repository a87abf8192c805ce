"""Whether each run passed, and against what.

A run is compared, in this order of preference, with:
- what the manifest expects of its arch (status, and stdout if given);
- the reference run of the same test (--reference ARCH; the host's own run
  when ARCH is the host's);
- the other arches' runs (all must agree): the result most of them gave.
Exit status (or death by signal) and stdout always count; stderr when asked.
"""
from __future__ import annotations

import difflib
import signal
from collections import Counter
from dataclasses import dataclass

from .run import Run, internal_error

DIFF_LINES = 40


@dataclass
class Verdict:
    run: Run
    outcome: str            # pass, fail, timeout, crash, not run
    reason: str = ""
    diff: str = ""


def status_text(status: int | None) -> str:
    if status is None:
        return "not run"
    if status < 0:
        try:
            return f"killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"killed by signal {-status}"
    return f"exit {status}"


def _diff(expected: bytes, got: bytes, what: str, label: str) -> str:
    lines = list(difflib.unified_diff(
        expected.decode(errors="replace").splitlines(keepends=True),
        got.decode(errors="replace").splitlines(keepends=True),
        fromfile=f"{what} ({label})", tofile=f"{what} (this run)"))
    if len(lines) > DIFF_LINES:
        lines = lines[:DIFF_LINES] + [f"... {len(lines) - DIFF_LINES} more lines\n"]
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def compare(run: Run, status: int | None, stdout: bytes | None, stderr: bytes | None,
            label: str) -> Verdict:
    """The run against an expected status and output (None: not checked)."""
    if run.status is None:
        return Verdict(run, "not run", run.note)
    if run.timed_out:
        return Verdict(run, "timeout", f"still running after its timeout ({run.seconds:.1f} s)")
    if internal_error(run):
        last = run.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return Verdict(run, "crash", f"xemu failed: {last[0]}")
    problems, diffs = [], []
    if status is not None and run.status != status:
        problems.append(f"{status_text(run.status)}, {label} {status_text(status)}")
    if stdout is not None and run.stdout != stdout:
        problems.append(f"stdout differs from {label}")
        diffs.append(_diff(stdout, run.stdout, "stdout", label))
    if stderr is not None and run.stderr != stderr:
        problems.append(f"stderr differs from {label}")
        diffs.append(_diff(stderr, run.stderr, "stderr", label))
    if not problems:
        return Verdict(run, "pass")
    outcome = "crash" if run.status < 0 and run.status != status else "fail"
    return Verdict(run, outcome, "; ".join(problems), "".join(diffs))


def judge(runs: list[Run], reference: tuple[str, str] | None = None,
          with_stderr: bool = False) -> list[Verdict]:
    """A verdict for every run, in the same order. reference: (arch, accel)
    of the run the others are compared with."""
    by_test: dict[str, list[Run]] = {}
    for run in runs:
        by_test.setdefault(run.cell.test.name, []).append(run)
    verdicts = {}
    for name, group in by_test.items():
        for run, verdict in zip(group, _judge_test(group, reference, with_stderr)):
            verdicts[id(run)] = verdict
    return [verdicts[id(run)] for run in runs]


def _judge_test(group: list[Run], reference: tuple[str, str] | None,
                with_stderr: bool) -> list[Verdict]:
    test = group[0].cell.test
    if test.expected or test.status:
        return [compare(run, test.expected_status(run.cell.arch),
                        test.expected_output(run.cell.arch), None, "expected")
                for run in group]
    if reference is not None:
        base = next((run for run in group
                     if (run.cell.arch, run.cell.accel) == reference), None)
        if base is None or base.status is None:
            return [Verdict(run, "not run" if run.status is None else "fail",
                            run.note or f"no reference run of {reference[0]}")
                    for run in group]
        label = f"{reference[0]} {'natively' if reference[1] == 'native' else reference[1]}"
        return [Verdict(run, "pass") if run is base else
                compare(run, base.status, base.stdout, base.stderr if with_stderr else None,
                        label)
                for run in group]
    ran = [run for run in group if run.status is not None and not run.timed_out]
    if not ran:
        return [compare(run, None, None, None, "") for run in group]
    common = Counter((run.status, run.stdout, run.stderr if with_stderr else b"")
                     for run in ran).most_common(1)[0][0]
    status, stdout, stderr = common
    agreeing = sum(1 for run in ran if (run.status, run.stdout) == (status, stdout))
    label = f"the other arches ({agreeing} of {len(group)})"
    return [compare(run, status, stdout, stderr if with_stderr else None, label)
            for run in group]
