"""What a matrix tells: a table for a person, JSON and JUnit XML for
machines, and `merge` to join the JSON reports of shards run elsewhere.

The table and the live progress are rich's (it draws tables and progress
bars well, and drops colour by itself where output is not a terminal).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from xml.etree import ElementTree

from .judge import Verdict, status_text

FORMAT = 1          # the JSON report's version
SHOWN_DIFFS = 3     # failures whose differences the summary prints in full
STYLE = {"pass": "green", "fail": "red", "crash": "bold red", "timeout": "yellow",
         "not run": "dim"}


@dataclass
class Result:
    """One cell's verdict, as reports carry it."""
    test: str
    arch: str
    accel: str
    column: str
    outcome: str
    status: str
    seconds: float
    reason: str = ""
    diff: str = ""

    @classmethod
    def of(cls, verdict: Verdict) -> Result:
        run = verdict.run
        return cls(run.cell.test.name, run.cell.arch, run.cell.accel, run.cell.column,
                   verdict.outcome, status_text(run.status), round(run.seconds, 3),
                   verdict.reason, verdict.diff)


def passed(results: list[Result]) -> bool:
    return bool(results) and all(r.outcome == "pass" for r in results)


def counts(results: list[Result]) -> dict[str, int]:
    found: dict[str, int] = {}
    for result in results:
        found[result.outcome] = found.get(result.outcome, 0) + 1
    return found


def summary(results: list[Result]) -> str:
    tally = counts(results)
    parts = [f"{tally[k]} {k}" for k in ("pass", "fail", "crash", "timeout", "not run")
             if tally.get(k)]
    tests = len({r.test for r in results})
    return f"{len(results)} runs of {tests} tests: " + (", ".join(parts) or "nothing ran")


# -- JSON ------------------------------------------------------------------------------

def write_json(path: str, results: list[Result], shard: str | None = None) -> None:
    data = {"xemu_matrix": FORMAT, "shard": shard,
            "results": [asdict(result) for result in results]}
    Path(path).write_text(json.dumps(data, indent=1) + "\n")


def read_json(path: str) -> list[Result]:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as e:
        raise ValueError(f"{path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not JSON ({e})") from None
    if not isinstance(data, dict) or data.get("xemu_matrix") != FORMAT:
        raise ValueError(f"{path}: not an xemu matrix report (format {FORMAT})")
    try:
        return [Result(**entry) for entry in data["results"]]
    except (KeyError, TypeError) as e:
        raise ValueError(f"{path}: malformed report ({e})") from None


def merge(paths: list[str]) -> list[Result]:
    """The shards' results as one list; a cell reported twice is an error."""
    results, seen = [], {}
    for path in paths:
        for result in read_json(path):
            key = (result.test, result.arch, result.accel)
            if key in seen:
                raise ValueError(f"{path}: {result.test} on {result.column} is in "
                                 f"{seen[key]} too (the same shard twice?)")
            seen[key] = path
            results.append(result)
    return sorted(results, key=lambda r: (r.test, r.column))


# -- JUnit XML -----------------------------------------------------------------------------

def junit(results: list[Result]) -> str:
    """JUnit XML as Jenkins, GitLab and GitHub's test reporters read it: one
    testsuite per column, one testcase per test."""
    root = ElementTree.Element("testsuites", name="xemu matrix")
    for column in _columns(results):
        mine = [r for r in results if r.column == column]
        tally = counts(mine)
        suite = ElementTree.SubElement(
            root, "testsuite", name=column, tests=str(len(mine)),
            failures=str(tally.get("fail", 0)),
            errors=str(tally.get("crash", 0) + tally.get("timeout", 0)),
            skipped=str(tally.get("not run", 0)),
            time=f"{sum(r.seconds for r in mine):.3f}")
        for result in mine:
            case = ElementTree.SubElement(suite, "testcase", classname=f"matrix.{column}",
                                          name=result.test, time=f"{result.seconds:.3f}")
            if result.outcome == "fail":
                ElementTree.SubElement(case, "failure", message=result.reason).text = \
                    result.diff or result.reason
            elif result.outcome in ("crash", "timeout"):
                ElementTree.SubElement(case, "error", message=result.reason,
                                       type=result.outcome).text = result.reason
            elif result.outcome == "not run":
                ElementTree.SubElement(case, "skipped", message=result.reason)
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + \
        ElementTree.tostring(root, encoding="unicode") + "\n"


def write_junit(path: str, results: list[Result]) -> None:
    Path(path).write_text(junit(results))


# -- for a person ----------------------------------------------------------------------------

def _columns(results: list[Result]) -> list[str]:
    order: dict[str, None] = {}
    for result in results:
        order.setdefault(result.column, None)
    return list(order)


def table(results: list[Result]):
    """A rich Table: tests down, arches (and accelerators) across."""
    from rich.table import Table
    columns = _columns(results)
    grid = Table(title="xemu matrix", title_justify="left", show_lines=False)
    grid.add_column("test", no_wrap=True)
    for column in columns:
        grid.add_column(column, no_wrap=True)
    cells = {(r.test, r.column): r for r in results}
    for test in sorted({r.test for r in results}):
        row = [test]
        for column in columns:
            result = cells.get((test, column))
            if result is None:
                row.append("[dim]-[/dim]")
            else:
                row.append(f"[{STYLE[result.outcome]}]{result.outcome}[/] "
                           f"{result.seconds:.2f}s")
        grid.add_row(*row)
    return grid


def show(console, results: list[Result]) -> None:
    """The table, the first failures' differences (one for all the columns
    that failed the same way), the summary line."""
    console.print(table(results))
    alike: dict[tuple[str, str, str, str], list[str]] = {}
    for result in results:
        if result.outcome != "pass":
            key = (result.test, result.outcome, result.reason, result.diff)
            alike.setdefault(key, []).append(result.column)
    for (test, outcome, reason, diff), columns in list(alike.items())[:SHOWN_DIFFS]:
        console.print(f"\n[bold]{test}[/bold] on {', '.join(columns)}: {outcome}: {reason}",
                      highlight=False)
        if diff:
            console.print(diff.rstrip("\n"), markup=False, highlight=False)
    if len(alike) > SHOWN_DIFFS:
        console.print(f"\n({len(alike) - SHOWN_DIFFS} more kinds of failure: see the "
                      "table, or --json for all of them)")
    console.print(summary(results), style="bold green" if passed(results) else "bold red",
                  highlight=False)


def console():
    """rich's Console; where output is no terminal, wide enough for a table
    of five arches without cutting names."""
    from rich.console import Console
    found = Console()
    return found if found.is_terminal else Console(width=160)
