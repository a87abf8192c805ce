"""The composition root: the only place that wires the loader, the machine
(memory, accelerators, boards), the Linux layer and the debugging tools
together into one run. Everything below it is unaware of the others'
wiring; the CLI above it only parses and exits.

    run(request) -> RunResult: open the image once (loader.open_image), then
    a Linux program (user.py) or a bare-metal image on a board (board.py).
"""
from __future__ import annotations

import os

from ..debug.stats import RunStats, emit, open_json
from ..errors import GuestTimeout, ImageError, shown
from ..machine.accel.base import Timeout
from ..linux.rootfs import open_rootfs
from ..loader.image import open_image
from .drive import alarm, report
from .request import RunRequest, RunResult

__all__ = ["RunRequest", "RunResult", "run"]


def run(request: RunRequest) -> RunResult:
    """Run what the request names to its end; the status xemu exits with.
    --timeout covers loading too: a hostile image cannot hold xemu there."""
    try:
        with alarm(request.timeout):    # the Driver takes over once the guest starts
            # (an exec_fd is closed once read: the guest never had it, nor has it natively)
            opened = open_image(program_file(request), request.arch, request.exec_fd)
            machine = request.machine or ("user" if opened.elf is not None else "board")
            stats = RunStats() if request.stats or request.stats_json else None
            json_file = open_json(request.stats_json) if request.stats_json else None
            if machine == "user":
                from .user import run_program as run_kind
            else:
                from .board import run_board as run_kind
            result = run_kind(request, opened, stats)
    except GuestTimeout:                # before the guest ran (else it is a Stop)
        stop = Timeout(request.timeout)
        return RunResult(report(stop, None, None), stop, "", None)
    if stats is not None and not result.forked_child:
        emit(stats.summary(result.accel, result.arch, result.status, result.memory),
             request.stats, json_file)
    return result


def program_file(request: RunRequest) -> str:
    """The host file to run. Under --rootfs the program is looked up inside
    it, as `chroot DIR PROGRAM` would: `--rootfs DIR /bin/ls` runs DIR/bin/ls."""
    if request.rootfs is None or request.exec_fd is not None:
        return request.image
    root = open_rootfs(request.rootfs)
    try:
        fd = root.open(root.absolute(os.fsencode(request.image)), os.O_PATH)
    except OSError as e:
        raise ImageError(f"{shown(request.image)}: {e.strerror} inside --rootfs "
                         f"{shown(request.rootfs)} (the program is looked up there, as "
                         "chroot does)") from None
    finally:
        os.close(root.fd)
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    finally:
        os.close(fd)
