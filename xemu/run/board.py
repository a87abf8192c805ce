"""One run of a bare-metal image on a board: RAM, devices, the image, and
the traps that serve semihosting and PSCI. No operating system: the image
talks to the devices, and a device or `hlt` ends the run."""
from __future__ import annotations

import sys

from ..debug.stats import RunStats
from ..errors import ImageError, shown
from ..loader.elf import Image
from ..loader.image import OpenedImage
from ..loader.raw import raw_image
from ..machine.boards import Board, board_for, default_machine
from ..machine.boards.traps import Traps, board_spec
from ..machine.memory import PROT_ALL, Memory, page_up
from ..machine.select import choose
from ..proctitle import set_title
from .drive import Driver, report
from .request import RunRequest, RunResult


def board_image(request: RunRequest, opened: OpenedImage) -> tuple[Image, Board]:
    """A freestanding ELF (its header names the arch) or a raw image (--arch)."""
    spec = opened.spec
    board = board_for(spec.name, request.machine or default_machine(spec.name))
    if opened.elf is not None:
        return opened.elf, board
    load = board.default_load if request.load is None else request.load
    return raw_image(opened, load, request.entry), board


def run_board(request: RunRequest, opened: OpenedImage,
              stats: RunStats | None = None) -> RunResult:
    image, board = board_image(request, opened)
    spec = image.arch
    size = request.memory or board.default_memory
    memory = Memory()
    memory.map(board.ram_base, page_up(size), PROT_ALL, "ram")
    for attached in board.devices:        # devices inside RAM's range win
        if attached.bus == "mmio":
            memory.unmap(attached.base, page_up(attached.make().size))
    for segment in image.segments:
        where = f"{shown(request.image)}: {segment.vaddr:#x}-{segment.end:#x}"
        if not (board.ram_base <= segment.vaddr and segment.end <= board.ram_base + size):
            raise ImageError(f"{where} is not in the board's RAM ({board.ram_base:#x}, "
                             f"{size >> 20} MiB)")
        if not memory.is_mapped(segment.vaddr, segment.end - segment.vaddr):
            raise ImageError(f"{where} runs over a device of the {board.name} board, "
                             "inside its RAM")
        memory.write(segment.vaddr, segment.data)
    accel_name, reason = choose(spec, request.accel, board=True,
                                needs_tcg=request.needs_tcg(board=True))
    if request.verbose:
        print(f"xemu: {spec.name} {board.name} board, accel={accel_name}: {reason}",
              file=sys.stderr)
    set_title(f"xemu -machine {board.name},accel={accel_name} -cpu {spec.name} "
              f"-kernel {request.image}")
    accel = make_board_accelerator(accel_name, board_spec(spec, board), board, memory)
    request.exit_tracer(accel, accel_name)
    accel.regs.write(accel.spec.pc, image.entry)
    with Driver(request, stats) as driver:
        driver.attach(accel)
        stop = driver.resume(accel)
        driver.end(stop)
    return RunResult(report(stop, accel, memory), stop, accel_name, None, spec.name, memory)


def make_board_accelerator(name: str, spec, board: Board, memory: Memory):
    if name == "kvm":
        from ..machine.accel.kvm.x86.realmode import KvmRealMode
        accel = KvmRealMode(spec, memory)
    else:
        from ..machine.accel.tcg import TcgAccelerator
        accel = TcgAccelerator(spec, memory, linux=False)
        accel.board_trap = Traps(board, spec, accel, memory) if board.traps else None
        accel.hlt_stops = board.hlt_stops
    for attached in board.devices:
        accel.attach(attached.bus, attached.base, attached.make())
    return accel
