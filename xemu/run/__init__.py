"""The composition root: the only place that wires the loader, the machine
(memory, accelerators, boards), the Linux layer and the debugging tools
together into one run. Everything below it is unaware of the others'
wiring; the CLI above it only parses and exits.

    run(request) -> RunResult: open the image once (loader.open_image), then
    a Linux program (user.py) or a bare-metal image on a board (board.py).
"""
from __future__ import annotations

from ..debug.stats import RunStats, emit, open_json
from ..loader.image import open_image
from .request import RunRequest, RunResult

__all__ = ["RunRequest", "RunResult", "run"]


def run(request: RunRequest) -> RunResult:
    """Run what the request names to its end; the status xemu exits with."""
    opened = open_image(request.image, request.arch)
    machine = request.machine or ("user" if opened.elf is not None else "board")
    stats = RunStats() if request.stats or request.stats_json else None
    json_file = open_json(request.stats_json) if request.stats_json else None
    if machine == "user":
        from .user import run_program as run_kind
    else:
        from .board import run_board as run_kind
    result = run_kind(request, opened, stats)
    if stats is not None and not result.forked_child:
        emit(stats.summary(result.accel, result.arch, result.status, result.memory),
             request.stats, json_file)
    return result
