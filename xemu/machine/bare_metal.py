"""One run of a bare-metal image on a board: RAM, devices, the image, and
the traps that serve semihosting and PSCI. No operating system: the image
talks to the devices, and a device or `hlt` ends the run."""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from unicorn import UC_ARCH_X86, UC_MODE_16

from ..archs import by_name
from ..debug.stats import RunStats
from ..errors import GuestMemoryError, ImageError, XemuError
from ..loader.elf import Image, is_elf, load_elf
from ..loader.raw import load_raw
from .accel.base import Exit
from .boards import Board, board_for, default_machine
from .devices.semihosting import psci, semihosting
from .launch import RunRequest, RunResult, report, run_until_stop
from .memory import PROT_ALL, Memory, page_up
from ..proctitle import set_title
from .select import choose


def load_image(request: RunRequest) -> tuple[Image, Board]:
    """A freestanding ELF (its header names the arch) or a raw image (--arch)."""
    path = Path(request.image)
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as e:
        raise ImageError(f"cannot read {path}: {e.strerror}") from None
    if is_elf(head):
        image = load_elf(path)
        if request.arch is not None and by_name(request.arch) is not image.arch:
            raise ImageError(f"--arch {request.arch} does not match {path}, which is a "
                             f"{image.arch.name} program")
        return image, board_for(image.arch.name, request.machine
                                or default_machine(image.arch.name))
    if request.arch is None:
        raise XemuError(f"{path} is a raw image: give --arch (it has no header to tell it)")
    spec = by_name(request.arch)
    board = board_for(spec.name, request.machine or default_machine(spec.name))
    load = board.default_load if request.load is None else request.load
    return load_raw(path, spec, load, request.entry), board


def board_spec(spec, board: Board):
    """The arch as the board starts it: x86 pc boots in 16-bit real mode."""
    if board.real_mode:
        return dataclasses.replace(spec, unicorn=(UC_ARCH_X86, UC_MODE_16, None),
                                   capstone=("X86", ("16",)), pc="eip", sp="esp")
    return spec


class Traps:
    """Serves the board's trapping instructions (semihosting, PSCI)."""

    def __init__(self, board: Board, spec, accel, memory: Memory):
        self.board, self.spec, self.accel, self.memory = board, spec, accel, memory

    def __call__(self, interrupt: int | None, pc: int):
        for trap in self.board.traps:
            if trap.interrupt != interrupt:
                continue
            at = pc - len(trap.encoding) if trap.pc_after else pc
            try:
                if self.memory.read(at, len(trap.encoding)) != trap.encoding:
                    continue
            except GuestMemoryError:
                continue
            regs = self.accel.regs
            operation_register, argument_register = self.board.call_registers
            operation = regs.read(operation_register)
            if trap.service == "semihosting":
                result = semihosting(operation, regs.read(argument_register), self.memory,
                                     self.spec.word_size, self.spec.endian)
            else:
                result = psci(operation)
            if isinstance(result, Exit):
                return result
            regs.write(operation_register, result & ((1 << self.spec.bits) - 1))
            if not trap.pc_after:
                regs.write(self.spec.pc, pc + len(trap.encoding))
            return True
        return None


def run(request: RunRequest, stats: RunStats | None = None) -> RunResult:
    image, board = load_image(request)
    spec = image.arch
    size = request.memory or board.default_memory
    memory = Memory()
    memory.map(board.ram_base, page_up(size), PROT_ALL, "ram")
    for attached in board.devices:        # devices inside RAM's range win
        if attached.bus == "mmio":
            memory.unmap(attached.base, page_up(attached.make().size))
    for segment in image.segments:
        if not (board.ram_base <= segment.vaddr and segment.end <= board.ram_base + size):
            raise ImageError(f"{request.image}: {segment.vaddr:#x}-{segment.end:#x} is not "
                             f"in the board's RAM ({board.ram_base:#x}, {size >> 20} MiB)")
        memory.write(segment.vaddr, segment.data)
    accel_name, reason = choose(spec, request.accel, board=True,
                                needs_tcg=request.needs_tcg(board=True))
    if request.verbose:
        print(f"xemu: {spec.name} {board.name} board, accel={accel_name}: {reason}",
              file=sys.stderr)
    set_title(f"xemu -machine {board.name},accel={accel_name} -cpu {spec.name} "
              f"-kernel {request.image}")
    accel = make_board_accelerator(accel_name, board_spec(spec, board), board, memory)
    stop = run_until_stop(accel, image.entry, request, stats)
    return RunResult(report(stop, accel, memory), stop, accel_name, None, spec.name, memory)


def make_board_accelerator(name: str, spec, board: Board, memory: Memory):
    if name == "kvm":
        from .accel.kvm.realmode import KvmRealMode
        accel = KvmRealMode(spec, memory)
    else:
        from .accel.tcg import TcgAccelerator
        accel = TcgAccelerator(spec, memory, linux=False)
        accel.board_trap = Traps(board, spec, accel, memory) if board.traps else None
        accel.hlt_stops = board.hlt_stops
    for attached in board.devices:
        accel.attach(attached.bus, attached.base, attached.make())
    return accel
