"""Which kind of run a request is: a Linux program (user mode) or a
bare-metal image on a board."""
from __future__ import annotations

from ..loader.elf import is_elf
from .linux_user import RunRequest, RunResult


def run(request: RunRequest) -> RunResult:
    machine = request.machine
    if machine is None:
        try:
            with open(request.image, "rb") as f:
                machine = "user" if is_elf(f.read(4)) else None
        except OSError:
            machine = "user"            # linux_user reports the unreadable file
    if machine == "user":
        from .linux_user import run as run_linux
        return run_linux(request)
    from .bare_metal import run as run_board
    return run_board(request)
