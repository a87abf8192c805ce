"""One run of a static Linux program: load, lay out memory and stack, pick
the accelerator, serve system calls, end with the guest's exit status."""
from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

from ..archs import by_name
from ..debug.stats import RunStats
from ..debug.strace import Tracer
from ..errors import ArchError, ImageError, XemuError
from ..linux.rootfs import RootFs
from ..linux.process import Process
from ..linux.syscalls import Dispatcher
from ..loader.elf import PF_R, PF_W, PF_X, Image, is_elf, load_elf
from ..loader.stack import ProcessInfo, layout_stack
from ..proctitle import set_title
from .accel.tcg import TcgAccelerator
from .launch import RunRequest, RunResult, report, run_until_stop
from .memory import PAGE, PROT_EXEC, PROT_READ, PROT_WRITE, Memory, page_down, page_up
from .select import choose

STACK_SIZE = 8 << 20          # as RLIMIT_STACK's usual 8 MiB
ELF_TO_PROT = ((PF_R, PROT_READ), (PF_W, PROT_WRITE), (PF_X, PROT_EXEC))


def load_image(path: str, arch: str | None) -> Image:
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as e:
        raise ImageError(f"cannot read {path}: {e.strerror}") from None
    if not head:
        raise ImageError(f"{path} is empty")
    if not is_elf(head):
        raise ImageError(f"{path} is not an ELF program")
    image = load_elf(Path(path))
    if arch is not None:
        wanted = by_name(arch)
        if wanted is not image.arch:
            raise ArchError(f"--arch {arch} does not match {path}, which is a "
                            f"{image.arch.name} program")
    if image.interpreter:
        if not os.path.exists(image.interpreter):
            raise ImageError(f"{path} is dynamically linked and its interpreter "
                             f"{image.interpreter} is missing; xemu runs static programs")
        raise ImageError(f"{path} is dynamically linked (interpreter "
                         f"{image.interpreter}); xemu runs static programs")
    return image


def map_segments(memory: Memory, image: Image) -> None:
    """Map every PT_LOAD segment; pages shared by two segments get both's rights."""
    pages: dict[int, int] = {}
    for segment in image.segments:
        prot = sum(p for flag, p in ELF_TO_PROT if segment.flags & flag)
        for page in range(page_down(segment.vaddr), page_up(segment.end), PAGE):
            pages[page] = pages.get(page, 0) | prot
    run_start, run_prot, previous = None, None, None
    for page in sorted(pages) + [None]:
        prot = pages.get(page) if page is not None else None
        if run_start is not None and (page != previous + PAGE or prot != run_prot):
            memory.map(run_start, previous + PAGE - run_start, run_prot, image.path.name)
            run_start = None
        if page is not None and run_start is None:
            run_start, run_prot = page, prot
        previous = page
    for segment in image.segments:
        if segment.data:
            memory.write(segment.vaddr, segment.data)


def guest_environment(env: dict[str, str] | None) -> list[bytes]:
    source = os.environ if env is None else env
    return [f"{k}={v}".encode() for k, v in source.items()]


def run(request: RunRequest, stats: RunStats | None = None) -> RunResult:
    image = load_image(request.image, request.arch)
    spec = image.arch
    accel_name, reason = choose(spec, request.accel, needs_tcg=request.needs_tcg())
    if request.verbose:
        print(f"xemu: {spec.name} guest, accel={accel_name}: {reason}", file=sys.stderr)

    memory = Memory(limit=request.memory or default_memory_limit())
    try:
        map_segments(memory, image)
    except MemoryError:
        raise ImageError(f"{request.image} needs more memory than --memory allows") from None
    memory.map(spec.stack_top - STACK_SIZE, STACK_SIZE, PROT_READ | PROT_WRITE, "[stack]")
    for start, size in spec.reserved:
        memory.map(start, size, PROT_READ | PROT_WRITE, "[kernel]")
    argv = [request.image.encode(), *(os.fsencode(a) for a in request.args)]
    info = ProcessInfo(phdr=image.phdr, phent=image.phent, phnum=image.phnum,
                       entry=image.entry, uid=os.getuid(), euid=os.geteuid(),
                       gid=os.getgid(), egid=os.getegid())
    stack = layout_stack(spec, spec.stack_top, argv, guest_environment(request.env),
                         request.image.encode(), os.urandom(16), info)
    memory.write(stack.sp, stack.data)

    set_title(f"xemu -machine accel={accel_name} -cpu {spec.name} "
              + " ".join([request.image, *request.args]))
    accel = make_accelerator(accel_name, spec, memory)
    accel.regs.write(spec.sp, stack.sp)
    process = Process(spec, memory, exe=Path(request.image).resolve(),
                      brk_start=page_up(image.end), quiet=request.quiet,
                      rootfs=open_rootfs(request.rootfs),
                      auxv=process_auxv(spec, stack.auxv))
    process.regs = accel.regs
    accel.syscall_handler = Dispatcher(process, Tracer(process) if request.strace else None,
                                       stats.syscalls if stats else None)
    try:
        stop = run_until_stop(accel, image.entry, request, stats)
    finally:
        process.fds.close_all()
    return RunResult(report(stop, accel, memory), stop, accel_name, process, spec.name, memory)


def open_rootfs(directory: str | None) -> RootFs | None:
    if directory is None:
        return None
    if not os.path.isdir(directory):
        raise XemuError(f"--rootfs {directory} is not a directory")
    return RootFs(directory)


def process_auxv(spec, auxv: tuple) -> bytes:
    """The auxiliary vector as /proc/self/auxv holds it: guest words."""
    code = spec.endian + ("Q" if spec.bits == 64 else "I") * (2 * len(auxv))
    return struct.pack(code, *(word for pair in auxv for word in pair))


def default_memory_limit() -> int:
    """Half the host's RAM: a guest asking for more gets ENOMEM, not the host
    swapping or dying."""
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2


def make_accelerator(name: str, spec, memory: Memory):
    if name == "kvm":
        from .accel.kvm import KvmAccelerator
        return KvmAccelerator(spec, memory)
    return TcgAccelerator(spec, memory)
