"""Memory: brk, mmap (anonymous and file-backed), munmap, mremap, mprotect."""
from __future__ import annotations

import errno
import os
import struct

from ...machine.memory import PAGE, page_up
from ..process import Process
from .registry import syscall

MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS = 0x01, 0x02, 0x10, 0x20
MAP_FIXED_NOREPLACE = 0x100000
MREMAP_MAYMOVE, MREMAP_FIXED = 1, 2
PROT_MASK = 7
MMAP2_UNIT = 4096            # mmap2's offset unit on every arch here


@syscall("brk")
def brk(p: Process, address: int) -> int:
    """Grow or shrink the heap; on failure return the current break, as Linux does."""
    if address < p.brk_start:
        return p.brk
    old_top, new_top = page_up(p.brk), page_up(address)
    if new_top > old_top:
        if p.mem.overlaps(old_top, new_top - old_top):
            return p.brk
        try:
            p.mem.map(old_top, new_top - old_top, PROT_MASK, "[heap]")
        except MemoryError:
            return p.brk
    elif new_top < old_top:
        p.mem.unmap(new_top, old_top - new_top)
    p.brk = address
    return p.brk


@syscall("mmap")
def mmap(p: Process, addr: int, length: int, prot: int, flags: int, fd: int,
         offset: int) -> int:
    return _mmap(p, addr, length, prot, flags, fd, offset)


@syscall("old_mmap")
def old_mmap(p: Process, args: int) -> int:
    """The kernel's sys_old_mmap: one pointer to the six arguments, as
    words (i386's syscall 90)."""
    code = p.spec.endian + ("Q" if p.spec.bits == 64 else "I") * 6
    return _mmap(p, *struct.unpack(code, p.mem.read(args, 6 * p.spec.word_size)))


@syscall("mmap2")
def mmap2(p: Process, addr: int, length: int, prot: int, flags: int, fd: int,
          pgoffset: int) -> int:
    return _mmap(p, addr, length, prot, flags, fd, pgoffset * MMAP2_UNIT)


def _mmap(p: Process, addr: int, length: int, prot: int, flags: int, fd: int,
          offset: int) -> int:
    if length == 0 or addr % PAGE or offset % PAGE:
        return -errno.EINVAL
    size = page_up(length)
    if size > p.spec.linux.stack_top:
        return -errno.ENOMEM
    fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)
    if fixed:
        if addr + size > (1 << p.spec.bits):
            return -errno.EINVAL
        if flags & MAP_FIXED_NOREPLACE and p.mem.overlaps(addr, size):
            return -errno.EEXIST
        start = addr
    else:
        start = _place(p, addr, size)
        if start is None:
            return -errno.ENOMEM
    data = b""
    if not flags & MAP_ANONYMOUS:
        host = p.fds.host(p.int32(fd))
        data = os.pread(host, size, offset)
        if flags & MAP_SHARED and prot & 2:
            p.warn("MAP_SHARED writable file mappings are private copies in xemu")
    if fixed:
        p.mem.unmap(start, size)
    try:
        region = p.mem.map(start, size, prot & PROT_MASK, "[mmap]",
                           shared=bool(flags & MAP_SHARED and flags & MAP_ANONYMOUS))
    except MemoryError:
        return -errno.ENOMEM
    if data:
        p.mem.view(region.start, len(data))[:] = data
    return start


def _place(p: Process, hint: int, size: int) -> int | None:
    """Where a non-fixed mapping goes: the hint if free, else the lowest gap
    above the mmap base (and below the stack)."""
    limit = p.spec.linux.mmap_top
    if hint and hint + size <= limit and not p.mem.overlaps(hint, size):
        return hint
    return p.mem.find_free(size, p.spec.linux.mmap_base, limit)


@syscall("munmap")
def munmap(p: Process, addr: int, length: int) -> int:
    if addr % PAGE or length == 0:
        return -errno.EINVAL
    p.mem.unmap(addr, length)
    return 0


@syscall("mprotect")
def mprotect(p: Process, addr: int, length: int, prot: int) -> int:
    if addr % PAGE:
        return -errno.EINVAL
    if length == 0:
        return 0
    return 0 if p.mem.protect(addr, length, prot & PROT_MASK) else -errno.ENOMEM


@syscall("mremap")
def mremap(p: Process, old: int, old_size: int, new_size: int, flags: int,
           new_addr: int) -> int:
    if old % PAGE or new_size == 0 or flags & MREMAP_FIXED:
        return -errno.EINVAL
    old_size, new_size = page_up(old_size), page_up(new_size)
    if not p.mem.is_mapped(old, old_size):
        return -errno.EFAULT
    if new_size <= old_size:
        p.mem.unmap(old + new_size, old_size - new_size)
        return old
    perms = p.mem.region_at(old).perms
    grow = new_size - old_size
    if not p.mem.overlaps(old + old_size, grow):
        try:
            p.mem.map(old + old_size, grow, perms, "[mmap]")
            return old
        except MemoryError:
            return -errno.ENOMEM
    if not flags & MREMAP_MAYMOVE:
        return -errno.ENOMEM
    start = _place(p, 0, new_size)
    if start is None:
        return -errno.ENOMEM
    contents = p.mem.read(old, old_size)
    try:
        p.mem.map(start, new_size, perms, "[mmap]")
    except MemoryError:
        return -errno.ENOMEM
    p.mem.write(start, contents)
    p.mem.unmap(old, old_size)
    return start


@syscall("madvise", "mlock", "munlock", "mlockall", "munlockall", "msync")
def accepted(p: Process) -> int:
    """Advice and locking change nothing an emulated program can observe."""
    return 0
