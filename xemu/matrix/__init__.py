"""`xemu matrix`: a project's tests, built for every arch, run and compared
on one machine.

plan.py says what runs (tests from a pattern, files or a manifest, and
the cells test x arch x accelerator), run.py runs the cells in parallel,
judge.py decides each one, report.py tells a person (table) and machines
(JSON, JUnit XML), and joins the reports of shards run on other machines.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..errors import XemuError
from ..machine.select import host_arch
from . import plan
from .judge import judge
from .report import Result, passed, show, write_json, write_junit
from .run import Interrupted, Pool, Run

DEFAULT_TIMEOUT = 60.0
DEFAULT_MEMORY = "1G"
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


@dataclass
class Options:
    inputs: list[str]
    arches: list[str]
    accel: str = "all"                 # all usable, or tcg, or kvm
    jobs: int = field(default_factory=lambda: os.cpu_count() or 1)
    timeout: float | None = None       # None: the manifest's, else DEFAULT_TIMEOUT
    memory: str | None = None          # None: the manifest's, else DEFAULT_MEMORY
    reference: str | None = None       # an arch: compare with its run
    with_stderr: bool = False
    json_path: str | None = None
    junit_path: str | None = None
    shard: tuple[int, int] | None = None
    args: tuple[str, ...] = ()


def tests_of(options: Options) -> list[plan.Test]:
    """The tests the inputs name; a manifest's [matrix] table sets the
    timeout, memory and reference the command line leaves unset."""
    inputs = options.inputs
    if not inputs:
        raise plan.PlanError("name a manifest (.toml), a pattern with {arch}, or programs")
    settings: dict = {}
    tests = None
    if len(inputs) == 1 and inputs[0].endswith(".toml"):
        tests, settings = plan.from_manifest(inputs[0], options.arches)
    if options.timeout is None:
        options.timeout = float(settings.get("timeout", DEFAULT_TIMEOUT))
    if options.memory is None:
        options.memory = str(settings.get("memory", DEFAULT_MEMORY))
    options.reference = options.reference or settings.get("reference")
    if tests is not None:
        return tests
    patterns = [text for text in inputs if "{arch}" in text]
    if patterns:
        if len(inputs) > 1:
            raise plan.PlanError("give one pattern with {arch}, or program files, not both")
        return plan.from_pattern(patterns[0], options.arches, options.args)
    return plan.from_files(inputs, options.args)


def reference_cell(options: Options) -> tuple[str, str] | None:
    """(arch, accel) of the reference: the host runs its own arch natively."""
    if options.reference is None:
        return None
    arch = options.reference
    if arch not in options.arches:
        raise plan.PlanError(f"--reference {arch} is not among the arches run")
    if arch == host_arch():
        return arch, "native"
    return arch, plan.accelerators(arch, options.accel)[0]


def run(options: Options, console) -> int:
    """Plan, run, judge and report; the exit status (0 only if all passed)."""
    tests = tests_of(options)
    shard_text = None
    if options.shard:
        tests = plan.shard(tests, *options.shard)
        shard_text = "%d/%d" % options.shard
        if not tests:       # more shards than tests: this CI job has nothing to do
            _write_reports(options, [], shard_text)
            console.print(f"shard {shard_text} has no tests", highlight=False)
            return 0
    reference = reference_cell(options)
    cells = plan.cells(tests, options.arches, options.accel)
    if reference and reference[1] == "native":
        cells += [plan.Cell(test, reference[0], "native") for test in tests
                  if reference[0] in test.programs]
    if not cells:
        raise plan.PlanError("nothing to run: no test has a program for the arches asked")
    pool = Pool(options.jobs, options.timeout, options.memory)
    status = 0
    try:
        runs = _run_with_progress(pool, cells, console)
    except Interrupted as stop:
        runs, status = stop.runs, EXIT_INTERRUPTED
    results = [Result.of(verdict) for verdict in judge(runs, reference, options.with_stderr)]
    _write_reports(options, results, shard_text)
    show(console, results)
    return status or (0 if passed(results) else EXIT_FAILED)


def _write_reports(options: Options, results: list[Result], shard_text: str | None) -> None:
    if options.json_path:
        write_json(options.json_path, results, shard_text)
    if options.junit_path:
        write_junit(options.junit_path, results)


def _run_with_progress(pool: Pool, cells: list[plan.Cell], console) -> list[Run]:
    if not console.is_terminal:
        return pool.run(cells, lambda run: None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[last]}"), console=console,
                  transient=True) as progress:
        task = progress.add_task("running", total=len(cells), last="")

        def done(run: Run) -> None:
            progress.update(task, advance=1, last=f"{run.cell.test.name} on {run.cell.column}")
        return pool.run(cells, done)


def merge(paths: list[str], json_path: str | None, junit_path: str | None, console) -> int:
    from .report import merge as join
    try:
        results = join(paths)
    except ValueError as e:
        raise XemuError(str(e)) from None
    if json_path:
        write_json(json_path, results)
    if junit_path:
        write_junit(junit_path, results)
    show(console, results)
    return 0 if passed(results) else EXIT_FAILED
