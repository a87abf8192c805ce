"""What Linux's binfmt_elf does to start a program: check that it is one
xemu can run, map its segments, build the stack with argv, envp and the
auxiliary vector. The result says where the first thread starts."""
from __future__ import annotations

import errno
import os
import signal
import stat
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..archs.base import PAGE
from ..errors import ArchError, GuestMemoryError, ImageError, shown
from ..loader.elf import PF_R, PF_W, PF_X, Image, parse_elf
from ..loader.image import OpenedImage, open_image
from ..loader.stack import ProcessInfo, layout_stack
from ..machine.accel.base import Fault
from ..machine.memory import PROT_EXEC, PROT_READ, PROT_WRITE, Memory, page_down, page_up
from .process import AT_FDCWD
from .sysroot import Sysroot, default_sysroot

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
    if opened.elf is None:
        raise ImageError(f"{shown(opened.path)} is not an ELF program")
    return opened.elf


def loader_image(image: Image, open_file: Callable[[bytes], int]) -> Image | None:
    """The dynamic loader a program names in PT_INTERP (None: static),
    opened as the guest names it: open_file(path) gives a host fd or raises
    OSError (ENOENT when it is missing, as execve then fails)."""
    if image.interpreter is None:
        return None
    name = image.interpreter
    with open(open_file(os.fsencode(name)), "rb") as f:
        loader = parse_elf(Path(name), f)
    if loader.arch is not image.arch:
        raise ImageError(f"{shown(image.path)}: its interpreter {shown(name)} is a "
                         f"{loader.arch.name} program, not {image.arch.name}")
    if loader.interpreter is not None:
        raise ImageError(f"{shown(image.path)}: its interpreter {shown(name)} names an "
                         "interpreter of its own")
    return loader


def map_segments(memory: Memory, image: Image, name: str | None = None) -> None:
    """Map every PT_LOAD segment; pages shared by two segments get both's
    rights. name: what /proc/self/maps shows (default: the file's name)."""
    pages: dict[int, int] = {}
    for segment in image.segments:
        prot = sum(p for flag, p in ELF_TO_PROT if segment.flags & flag)
        for page in range(page_down(segment.vaddr), page_up(segment.end), PAGE):
            pages[page] = pages.get(page, 0) | prot
    run_start, run_prot, previous = None, None, None
    for page in sorted(pages) + [None]:
        prot = pages.get(page) if page is not None else None
        if run_start is not None and (page != previous + PAGE or prot != run_prot):
            memory.map(run_start, previous + PAGE - run_start, run_prot,
                       name or image.path.name)
            run_start = None
        if page is not None and run_start is None:
            run_start, run_prot = page, prot
        previous = page
    for segment in image.segments:
        if segment.data:
            memory.write(segment.vaddr, segment.data)


def start_program(memory: Memory, image: Image, argv: list[bytes], envp: list[bytes],
                  execfn: bytes, loader: Image | None = None) -> ProgramStart:
    """Lay the program out in memory as the kernel does before its first
    instruction: segments, the arch's reserved pages, the stack, and for a
    dynamically linked program its loader, where the first thread starts."""
    spec = image.arch
    try:
        map_segments(memory, image)
        stack_perms = PROT_READ | PROT_WRITE | (PROT_EXEC if image.executable_stack else 0)
        memory.map(spec.linux.stack_top - STACK_SIZE, STACK_SIZE, stack_perms, "[stack]")
        for page in spec.linux.reserved:
            memory.map(page.start, page.size, page.perms, page.name)
            if page.data:
                memory.write(page.start, page.data)
        if loader is not None:
            loader = place_loader(memory, loader)
            map_segments(memory, loader, image.interpreter)
    except MemoryError:
        raise ImageError(f"{shown(image.path)} needs more memory than --memory allows") from None
    info = ProcessInfo(phdr=image.phdr, phent=image.phent, phnum=image.phnum,
                       entry=image.entry, base=loader.start if loader else 0,
                       uid=os.getuid(), euid=os.geteuid(), gid=os.getgid(), egid=os.getegid())
    stack = layout_stack(spec, spec.linux.stack_top, argv, envp, execfn, os.urandom(16), info)
    memory.write(stack.sp, stack.data)
    code = spec.endian + ("Q" if spec.bits == 64 else "I") * (2 * len(stack.auxv))
    auxv = struct.pack(code, *(word for pair in stack.auxv for word in pair))
    entry = loader.entry if loader else image.entry
    return ProgramStart(entry, stack.sp, page_up(image.end), auxv)


def place_loader(memory: Memory, loader: Image) -> Image:
    """The dynamic loader moved to the first free range from the mmap base,
    where the kernel's mmap of it would put it (a loader linked at a fixed
    address stays there)."""
    if not loader.position_independent:
        return loader
    linux = loader.arch.linux
    start = memory.find_free(page_up(loader.end) - loader.start, linux.mmap_base,
                             linux.mmap_top)
    if start is None:
        raise MemoryError("no room for the dynamic loader")
    return loader.moved(start - loader.start)


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
    loader: Image | None = None   # its dynamic loader (PT_INTERP)
    sysroot: Sysroot | None = None  # where its libraries are found from now on


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
                image.path = host_path
                sysroot = exec_sysroot(process, image)
                loader = loader_image(image, lambda name: os.open(
                    sysroot.host_path(name), os.O_RDONLY | os.O_CLOEXEC)
                    if sysroot is not process.sysroot
                    else process.open_path(AT_FDCWD, name, os.O_RDONLY | os.O_CLOEXEC))
            except (ImageError, ArchError) as e:
                if head.startswith(b"\x7fELF"):
                    process.warn(f"cannot exec {shown(path)}: {e}")
                raise OSError(errno.ENOEXEC, "exec format error") from None
            return Exec(image, argv, envp, execfn, host_path, loader, sysroot)
        finally:
            os.close(fd)
    raise OSError(errno.ELOOP, "too many levels of #! interpreters")


def exec_sysroot(process, image: Image) -> Sysroot | None:
    """Where the new program's libraries are: the process's -L, else (no
    --rootfs) a known sysroot when the host lacks the program's loader, as
    for the program xemu started with."""
    if process.sysroot is not None or process.rootfs is not None or not image.interpreter:
        return process.sysroot
    return default_sysroot(image.arch, image.interpreter)


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
    memory.file_guard = process.mem.file_guard
    try:
        start = start_program(memory, stop.image, stop.argv, stop.envp, stop.execfn,
                              stop.loader)
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
    process.sysroot = stop.sysroot
    thread.accel, thread.sigaltstack, thread.clear_child_tid = accel, None, 0
    thread.kept_frames = {}
    process.machine.bind(thread)
    old.close()
    return None
