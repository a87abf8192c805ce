"""What Linux's binfmt_elf does to start a program: check that it is one
xemu can run, map its segments, build the stack with argv, envp and the
auxiliary vector. The result says where the first thread starts."""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from ..archs.base import PAGE
from ..errors import ImageError
from ..loader.elf import PF_R, PF_W, PF_X, Image
from ..loader.image import OpenedImage, open_image
from ..loader.stack import ProcessInfo, layout_stack
from ..machine.memory import PROT_EXEC, PROT_READ, PROT_WRITE, Memory, page_down, page_up

STACK_SIZE = 8 << 20          # as RLIMIT_STACK's usual 8 MiB
ELF_TO_PROT = ((PF_R, PROT_READ), (PF_W, PROT_WRITE), (PF_X, PROT_EXEC))


@dataclass(frozen=True)
class ProgramStart:
    """Where the first thread begins, and what the process keeps of it."""
    entry: int
    sp: int
    brk_start: int
    auxv: bytes                # the auxiliary vector as /proc/self/auxv holds it


def load_image(path: str, arch: str | None) -> Image:
    """The ELF program at path, if xemu can run it as a Linux program."""
    return program_image(open_image(path, arch))


def program_image(opened: OpenedImage) -> Image:
    """The opened file's ELF image, if xemu can run it as a Linux program."""
    image, path = opened.elf, opened.path
    if image is None:
        raise ImageError(f"{path} is not an ELF program")
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


def start_program(memory: Memory, image: Image, argv: list[bytes], envp: list[bytes],
                  execfn: bytes) -> ProgramStart:
    """Lay the program out in memory as the kernel does before its first
    instruction: segments, the arch's reserved pages, the stack."""
    spec = image.arch
    try:
        map_segments(memory, image)
    except MemoryError:
        raise ImageError(f"{image.path} needs more memory than --memory allows") from None
    memory.map(spec.linux.stack_top - STACK_SIZE, STACK_SIZE, PROT_READ | PROT_WRITE,
               "[stack]")
    for start, size in spec.linux.reserved:
        memory.map(start, size, PROT_READ | PROT_WRITE, "[kernel]")
    info = ProcessInfo(phdr=image.phdr, phent=image.phent, phnum=image.phnum,
                       entry=image.entry, uid=os.getuid(), euid=os.geteuid(),
                       gid=os.getgid(), egid=os.getegid())
    stack = layout_stack(spec, spec.linux.stack_top, argv, envp, execfn, os.urandom(16), info)
    memory.write(stack.sp, stack.data)
    code = spec.endian + ("Q" if spec.bits == 64 else "I") * (2 * len(stack.auxv))
    auxv = struct.pack(code, *(word for pair in stack.auxv for word in pair))
    return ProgramStart(image.entry, stack.sp, page_up(image.end), auxv)
