"""What Linux's binfmt_elf does to start a program: check that it is one
xemu can run, map its segments, build the stack with argv, envp and the
auxiliary vector. The result says where the first thread starts."""
from __future__ import annotations

import errno
import os
import signal
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

from ..archs.base import PAGE
from ..errors import ArchError, GuestMemoryError, ImageError, shown
from ..loader.elf import PF_R, PF_W, PF_X, Image
from ..loader.image import OpenedImage, open_image
from ..loader.stack import ProcessInfo, layout_stack
from ..machine.accel.base import Fault
from ..machine.memory import PROT_EXEC, PROT_READ, PROT_WRITE, Memory, page_down, page_up
from .process import AT_FDCWD

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
        raise ImageError(f"{shown(path)} is not an ELF program")
    if image.interpreter:
        if not os.path.exists(image.interpreter):
            raise ImageError(f"{shown(path)} is dynamically linked and its interpreter "
                             f"{shown(image.interpreter)} is missing; xemu runs static programs")
        raise ImageError(f"{shown(path)} is dynamically linked (interpreter "
                         f"{shown(image.interpreter)}); xemu runs static programs")
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
        raise ImageError(f"{shown(image.path)} needs more memory than --memory allows") from None
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


# -- execve -------------------------------------------------------------------

MAX_SCRIPT_DEPTH = 4          # Linux's BINPRM_MAX_RECURSION (#! interpreters in a row)
SHEBANG_BYTES = 256           # Linux reads the #! line from the first 256 bytes
MAX_ARGUMENTS = 1 << 16


@dataclass(frozen=True)
class Exec:
    """A Stop: execve found a program it can run; the OS loop starts it."""
    image: Image
    argv: list[bytes]
    envp: list[bytes]
    execfn: bytes                 # the path as the guest gave it (AT_EXECFN)
    exe: Path                     # the host file (/proc/self/exe)


def read_string_array(process, address: int) -> list[bytes]:
    """argv or envp: guest pointers to C strings, up to a NULL pointer."""
    strings, word = [], process.spec.word_size
    code = process.spec.endian + ("Q" if word == 8 else "I")
    while address:
        pointer = struct.unpack(code, process.mem.read(address, word))[0]
        if not pointer:
            break
        if len(strings) >= MAX_ARGUMENTS:
            raise OSError(errno.E2BIG, "argument list too long")
        strings.append(process.mem.read_cstring(pointer, 1 << 17))
        address += word
    return strings


def prepare_exec(process, dirfd: int, path: bytes, argv: list[bytes], envp: list[bytes],
                 empty_path: bool = False) -> Exec:
    """Everything execve checks before the point of no return: the file, its
    rights, its kind (a static ELF of any supported arch, or a #! script).
    Failures raise OSError with the errno Linux gives."""
    execfn = path
    for _ in range(MAX_SCRIPT_DEPTH + 1):
        if empty_path and not path:
            fd = os.dup(process.fds.host(dirfd))
        else:
            fd = process.open_path(dirfd, path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or not os.access(f"/proc/self/fd/{fd}", os.X_OK):
                raise OSError(errno.EACCES, "not an executable file")
            head = os.pread(fd, SHEBANG_BYTES, 0)
            if head.startswith(b"#!"):
                interpreter, argument = parse_shebang(head)
                argv = [interpreter, *argument, path, *argv[1:]]
                path, dirfd, empty_path = interpreter, AT_FDCWD, False
                continue
            host_path = Path(os.readlink(f"/proc/self/fd/{fd}"))
            try:
                image = program_image(open_image(f"/proc/self/fd/{fd}", None))
            except (ImageError, ArchError) as e:
                if head.startswith(b"\x7fELF"):
                    process.warn(f"cannot exec {shown(path)}: {e}")
                raise OSError(errno.ENOEXEC, "exec format error") from None
            image.path = host_path
            return Exec(image, argv, envp, execfn, host_path)
        finally:
            os.close(fd)
    raise OSError(errno.ELOOP, "too many levels of #! interpreters")


def parse_shebang(head: bytes) -> tuple[bytes, list[bytes]]:
    """The interpreter of a #! line and its one optional argument (Linux
    passes the rest of the line as a single argument)."""
    line = head[2:].split(b"\n", 1)[0]
    line = line.replace(b"\t", b" ").strip(b" ")
    if not line:
        raise OSError(errno.ENOEXEC, "empty #! line")
    interpreter, _, argument = line.partition(b" ")
    argument = argument.strip(b" ")
    return interpreter, [argument] if argument else []


def commit_exec(thread, stop: Exec):
    """Past the point of no return: the new program's memory, stack and CPU
    replace the old ones in this same xemu process."""
    process = thread.process
    memory = Memory(limit=process.mem.limit)
    try:
        start = start_program(memory, stop.image, stop.argv, stop.envp, stop.execfn)
    except (ImageError, MemoryError) as e:
        return Fault(signal.SIGKILL, 0, None, "", f"exec of {shown(stop.exe)} failed: {e}")
    spec = stop.image.arch
    old = thread.accel
    accel = process.machine.new_cpu(spec, memory, stop.argv)
    accel.regs.write(spec.sp, start.sp)
    accel.regs.write(spec.pc, start.entry)
    if thread.clear_child_tid:               # exec releases the old memory as exit does
        try:
            process.mem.write(thread.clear_child_tid, bytes(4))
        except GuestMemoryError:
            pass
    process.replace_image(spec, memory, stop.exe, start.brk_start, start.auxv,
                          stop.argv, stop.envp)
    thread.accel, thread.sigaltstack, thread.clear_child_tid = accel, None, 0
    thread.kept_frames = {}
    process.machine.bind(thread)
    old.close()
    return None
