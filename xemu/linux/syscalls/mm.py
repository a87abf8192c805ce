"""Memory: brk, mmap (anonymous and file-backed), munmap, mremap, mprotect."""
from __future__ import annotations

import errno
import fcntl
import os
import stat
import struct

from ...machine.memory import PAGE, SharedFile, page_up
from ..process import Process
from .registry import syscall

MAP_SHARED, MAP_PRIVATE, MAP_FIXED, MAP_ANONYMOUS = 0x01, 0x02, 0x10, 0x20
PROT_WRITE_BIT = 2
MAP_FIXED_NOREPLACE = 0x100000
MREMAP_MAYMOVE, MREMAP_FIXED = 1, 2
PROT_MASK = 7
# The heap is data, as Linux maps it (VM_DATA_DEFAULT_FLAGS, without the
# READ_IMPLIES_EXEC personality): executable, every store to it would also be
# a store to code for the translator, which checks such stores one by one.
HEAP_PROT = 1 | 2            # PROT_READ | PROT_WRITE
MMAP2_UNIT = 4096            # mmap2's offset unit on every arch here
MAX_FILE_OFFSET = (1 << 63) - 1   # MAX_LFS_FILESIZE


@syscall("brk")
def brk(p: Process, address: int) -> int:
    """Grow or shrink the heap; on failure return the current break, as Linux does."""
    if address < p.brk_start:
        return p.brk
    old_top, new_top = page_up(p.brk), page_up(address)
    if new_top > old_top:
        if new_top > p.spec.linux.user_top or p.mem.overlaps(old_top, new_top - old_top):
            return p.brk
        try:
            p.mem.map(old_top, new_top - old_top, HEAP_PROT, "[heap]")
        except (MemoryError, OSError):
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
    """do_mmap's checks, in its order, then the mapping. Every address stays
    in the user range [mmap_min_addr, TASK_SIZE): a fixed mapping outside it
    fails as on Linux, a hint outside it is not taken."""
    linux = p.spec.linux
    if length == 0 or offset % PAGE:
        return -errno.EINVAL
    size = page_up(length)
    if size > linux.user_top:
        return -errno.ENOMEM
    anonymous = flags & MAP_ANONYMOUS
    if not anonymous and offset + size > MAX_FILE_OFFSET:
        return -errno.EOVERFLOW                 # file_mmap_ok: past MAX_LFS_FILESIZE
    fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)
    if fixed:
        if addr % PAGE:
            return -errno.EINVAL
        if addr > linux.user_top - size:
            return -errno.ENOMEM                # beyond TASK_SIZE
        if addr < linux.mmap_min_addr:
            return -errno.EPERM                 # below mmap_min_addr
        if flags & MAP_FIXED_NOREPLACE and p.mem.overlaps(addr, size):
            return -errno.EEXIST
        start = addr
    else:
        start = _place(p, page_up(addr), size)
        if start is None:
            return -errno.ENOMEM
    if p.mem.limit is not None and size > p.mem.limit:
        return -errno.ENOMEM                    # before reading anything
    data, name = b"", "[mmap]"
    if not anonymous:
        host = p.fds.host(p.int32(fd))
        name = p.file_name(host)
        status = os.fstat(host)
        access = fcntl.fcntl(host, fcntl.F_GETFL) & os.O_ACCMODE
        if flags & MAP_SHARED and prot & PROT_WRITE_BIT and access != os.O_RDWR:
            return -errno.EACCES                # a shared writable mapping needs O_RDWR
        if flags & MAP_SHARED and stat.S_ISREG(status.st_mode) and access == os.O_RDWR \
                and p.mem.file_guard is not None:
            return _map_shared_file(p, start, size, prot, host, offset, name, fixed)
        wanted = size
        if stat.S_ISREG(status.st_mode):        # no bytes past the end of the file
            wanted = max(0, min(size, status.st_size - offset))
        data = os.pread(host, wanted, offset) if wanted else b""
        if flags & MAP_SHARED and prot & PROT_WRITE_BIT:
            p.warn("MAP_SHARED writable file mappings are private copies in xemu "
                   "without its compiled part")
    if fixed:
        p.mem.unmap(start, size)
    try:
        region = p.mem.map(start, size, prot & PROT_MASK, name,
                           shared=bool(flags & MAP_SHARED and anonymous))
    except MemoryError:
        return -errno.ENOMEM
    if data:
        p.mem.raw.view(region.start, len(data))[:] = data     # as the kernel fills pages
    return start


def _map_shared_file(p: Process, start: int, size: int, prot: int, host: int, offset: int,
                     name: str, fixed: int) -> int:
    """MAP_SHARED of a regular file open for reading and writing: the
    host's own shared mapping (Memory.map_file), so stores reach the file
    and other processes' stores are seen. Pages past the file's end raise
    SIGBUS in the guest, as on Linux."""
    if fixed:
        p.mem.unmap(start, size)
    try:
        p.mem.map_file(start, size, prot & PROT_MASK, host, offset, name)
    except MemoryError:
        return -errno.ENOMEM
    except OSError as e:
        return -(e.errno or errno.ENOMEM)
    return start


def _grown(result: int, old: int) -> int:
    """mremap's answer once the grown part is mapped (result: its start)."""
    return result if result < 0 else old


def _place(p: Process, hint: int, size: int) -> int | None:
    """Where a non-fixed mapping goes: the hint if it is free and in the
    user range, else the lowest gap above the mmap base (and below the stack)."""
    linux = p.spec.linux
    limit = linux.mmap_top
    if hint >= linux.mmap_min_addr and hint + size <= limit \
            and not p.mem.overlaps(hint, size):
        return hint
    return p.mem.find_free(size, linux.mmap_base, limit)


@syscall("munmap")
def munmap(p: Process, addr: int, length: int) -> int:
    top = p.spec.linux.user_top
    if addr % PAGE or length == 0 or addr > top or page_up(length) > top - addr:
        return -errno.EINVAL
    p.mem.unmap(addr, length)
    return 0


@syscall("mprotect")
def mprotect(p: Process, addr: int, length: int, prot: int) -> int:
    if addr % PAGE:
        return -errno.EINVAL
    if length == 0:
        return 0
    if addr + page_up(length) > p.spec.linux.user_top:
        return -errno.ENOMEM                    # no mapping there, as Linux sees it
    return 0 if p.mem.protect(addr, length, prot & PROT_MASK) else -errno.ENOMEM


@syscall("mremap")
def mremap(p: Process, old: int, old_size: int, new_size: int, flags: int,
           new_addr: int) -> int:
    if old % PAGE or flags & MREMAP_FIXED:
        return -errno.EINVAL
    old_size, new_size = page_up(old_size), page_up(new_size)
    if new_size == 0:
        return -errno.EINVAL
    top = p.spec.linux.user_top
    region = p.mem.region_at(old) if old + old_size <= top else None
    if region is None:
        return -errno.EFAULT                    # vma_lookup found nothing
    if old_size == 0:
        return -errno.EINVAL                    # duplicating needs a shared mapping
    if not p.mem.is_mapped(old, old_size):
        return -errno.EFAULT
    if new_size > top:
        return -errno.ENOMEM
    if new_size <= old_size:
        p.mem.unmap(old + new_size, old_size - new_size)
        return old
    perms = region.perms
    grow = new_size - old_size
    shared_file = region.buffer if isinstance(region.buffer, SharedFile) else None
    # a shared file mapping grows and moves as more of the same file
    file_offset = shared_file.file_offset + region.offset + old - region.start \
        if shared_file is not None else 0
    if old + new_size <= top and not p.mem.overlaps(old + old_size, grow):
        if shared_file is not None:
            return _grown(_map_shared_file(p, old + old_size, grow, perms, shared_file.fd,
                                           file_offset + old_size, region.name, 0), old)
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
    if shared_file is not None:
        moved = _map_shared_file(p, start, new_size, perms, shared_file.fd, file_offset,
                                 region.name, 0)
        if moved == start:
            p.mem.unmap(old, old_size)
        return moved
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


MLOCK_ONFAULT = 1


@syscall("mlock2")
def mlock2(p: Process, addr: int, length: int, flags: int) -> int:
    """mlock with flags: locking changes nothing an emulated program can
    observe, but an unknown flag is EINVAL, as Linux answers."""
    return -errno.EINVAL if flags & 0xFFFFFFFF & ~MLOCK_ONFAULT else 0
