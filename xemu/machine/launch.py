"""Which kind of run a request is: a Linux program (user mode) or a
bare-metal image on a board."""
from __future__ import annotations

from ..errors import ImageError
from ..loader.elf import is_elf
from .linux_user import RunRequest, RunResult


def run(request: RunRequest) -> RunResult:
    machine = request.machine or kind_of(request)
    if machine == "user":
        from .linux_user import run as run_linux
        return run_linux(request)
    from .bare_metal import run as run_board
    return run_board(request)


def kind_of(request: RunRequest) -> str:
    """user for an ELF program; a board for a raw image with --arch."""
    try:
        with open(request.image, "rb") as f:
            head = f.read(4)
    except OSError:
        return "user"                   # linux_user reports the unreadable file
    if not head:
        raise ImageError(f"{request.image} is empty")
    if is_elf(head):
        return "user"
    if request.arch is None:
        raise ImageError(f"{request.image} is not an ELF program (to run it as a raw "
                         "image on a bare-metal board, give --arch)")
    return "board"
