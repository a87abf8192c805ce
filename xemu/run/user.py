"""One run of a Linux program: load it, pick the accelerator, make the
process and its first thread, and run the OS loop to the guest's end."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from ..debug.stats import RunStats
from ..debug.strace import Tracer
from ..errors import GuestTimeout
from ..linux.exec import program_image, start_program
from ..linux.loop import run_thread
from ..linux.process import Process
from ..linux.rootfs import open_rootfs
from ..linux.syscalls import Dispatcher
from ..linux.thread import Thread
from ..loader.image import OpenedImage
from ..machine.accel.base import Timeout
from ..machine.memory import Memory
from ..machine.select import choose
from ..proctitle import set_title
from .drive import driving, report
from .request import RunRequest, RunResult


def run_program(request: RunRequest, opened: OpenedImage,
                stats: RunStats | None = None) -> RunResult:
    image = program_image(opened)
    spec = image.arch
    accel_name, reason = choose(spec, request.accel, needs_tcg=request.needs_tcg())
    if request.verbose:
        print(f"xemu: {spec.name} guest, accel={accel_name}: {reason}", file=sys.stderr)

    memory = Memory(limit=request.memory or default_memory_limit())
    argv = [request.image.encode(), *(os.fsencode(a) for a in request.args)]
    start = start_program(memory, image, argv, guest_environment(request.env),
                          request.image.encode())
    set_title(f"xemu -machine accel={accel_name} -cpu {spec.name} "
              + " ".join([request.image, *request.args]))
    accel = make_accelerator(accel_name, spec, memory)
    accel.regs.write(spec.sp, start.sp)
    accel.regs.write(spec.pc, start.entry)
    process = Process(spec, memory, exe=Path(request.image).resolve(),
                      brk_start=start.brk_start, quiet=request.quiet,
                      rootfs=open_rootfs(request.rootfs), auxv=start.auxv)
    thread = Thread(process, tid=os.getpid(), regs=accel.regs)
    process.threads[thread.tid] = thread
    accel.syscall_handler = Dispatcher(thread, Tracer(process) if request.strace else None,
                                       stats.syscalls if stats else None)
    try:
        with driving(accel, request, stats) as resume:
            try:
                stop = run_thread(thread, resume)
            except GuestTimeout:          # --timeout between two runs of the guest
                stop = Timeout(request.timeout)
    finally:
        process.fds.close_all()
    return RunResult(report(stop, accel, memory), stop, accel_name, process, spec.name, memory)


def guest_environment(env: dict[str, str] | None) -> list[bytes]:
    source = os.environ if env is None else env
    return [f"{k}={v}".encode() for k, v in source.items()]


def default_memory_limit() -> int:
    """Half the host's RAM: a guest asking for more gets ENOMEM, not the host
    swapping or dying."""
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2


def make_accelerator(name: str, spec, memory: Memory):
    if name == "kvm":
        from ..machine.accel.kvm import KvmAccelerator
        return KvmAccelerator(spec, memory)
    from ..machine.accel.tcg import TcgAccelerator
    return TcgAccelerator(spec, memory)
