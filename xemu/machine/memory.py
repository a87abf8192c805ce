"""Guest memory: page-aligned regions backed by host mmap buffers.

The buffers are the guest's RAM. Accelerators map them directly (Unicorn's
mem_map_ptr, KVM's memory slots), and the Linux layer reads and writes them
through memoryviews, so a read(2) lands in guest memory with no copy.

Python's list of regions and each accelerator's mappings are always the same
set: a partial munmap or mprotect removes the whole region from the
accelerators and maps its remaining pieces again (same buffer, new bounds).

Private regions are cut from one host reservation (`HostArena`), placed so
that neighbours in the guest are neighbours on the host where there is room:
an accelerator may then map a run of them as one.
"""
from __future__ import annotations

import bisect
import ctypes
import mmap
import os
import weakref
from dataclasses import dataclass
from typing import Iterator, Protocol

from ..archs.base import PAGE
from ..errors import GuestMemoryError

PROT_NONE, PROT_READ, PROT_WRITE, PROT_EXEC = 0, 1, 2, 4
PROT_ALL = PROT_READ | PROT_WRITE | PROT_EXEC
MAP_NORESERVE = getattr(mmap, "MAP_NORESERVE", 0x4000)
# The arena reserves this many times the guest's limit of host address space
# (only address space: nothing is committed until touched), so that guest
# neighbours find host room beside each other after some churn.
ARENA_SLACK = 4
ARENA_WITHOUT_LIMIT = 4 << 30


def page_down(value: int) -> int:
    return value & ~(PAGE - 1)


def page_up(value: int) -> int:
    return (value + PAGE - 1) & ~(PAGE - 1)


def buffer_address(buffer: mmap.mmap, offset: int = 0) -> int:
    """Host virtual address of a byte of an mmap buffer."""
    return ctypes.addressof(ctypes.c_char.from_buffer(buffer)) + offset


_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long)
_libc.mmap.restype = ctypes.c_void_p
MAP_FAILED = ctypes.c_void_p(-1).value
MAP_FIXED = 0x10                       # (Python's mmap module has no name for it)


class FileGuard(Protocol):
    """Turns a host SIGBUS in a guarded range into the guest's (the
    compiled part's guard, machine/accel/tcgfast.py): a file's shared
    mapping may reach past the file's end."""

    def add(self, host_start: int, host_end: int, guest_start: int) -> int: ...

    def remove(self, index: int) -> None: ...


class SharedFile(mmap.mmap):
    """The host buffer of a guest's MAP_SHARED mapping of a file: the host's
    own shared mapping of it (over an anonymous reservation that owns the
    address range and unmaps it when dropped), so a store is in the file at
    once and another process's store is seen. Keeps the file (a descriptor
    of its own) and where in it the buffer begins, for mremap."""

    fd: int
    file_offset: int


def _shared_file(fd: int, size: int, offset: int) -> SharedFile:
    buffer = SharedFile(-1, size, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS)
    address = buffer_address(buffer)
    if _libc.mmap(address, size, mmap.PROT_READ | mmap.PROT_WRITE,
                  mmap.MAP_SHARED | MAP_FIXED, fd, offset) == MAP_FAILED:
        error = ctypes.get_errno()
        buffer.close()
        raise OSError(error, "mmap")
    buffer.fd, buffer.file_offset = os.dup(fd), offset
    weakref.finalize(buffer, os.close, buffer.fd)
    return buffer


def _file_end(region: Region) -> int:
    """The guest address where the file under a shared file mapping's
    region ends now, rounded up to a page (an access from there on is
    SIGBUS); it may lie outside the region."""
    buffer = region.buffer
    first_byte = buffer.file_offset + region.offset      # the file offset at region.start
    return region.start + page_up(os.fstat(buffer.fd).st_size) - first_byte


@dataclass(eq=False)
class Region:
    start: int
    size: int
    perms: int
    buffer: mmap.mmap
    offset: int          # where this region begins inside buffer
    name: str = ""

    @property
    def end(self) -> int:
        return self.start + self.size

    @property
    def host_address(self) -> int:
        """Host virtual address of the region's first byte."""
        return buffer_address(self.buffer, self.offset)

    def piece(self, start: int, end: int, perms: int | None = None) -> Region:
        return Region(start, end - start, self.perms if perms is None else perms,
                      self.buffer, self.offset + start - self.start, self.name)


class HostArena:
    """Host address space reserved once (MAP_NORESERVE: nothing committed up
    front) that a Memory's private regions are cut from. Unicorn's map and
    unmap cost grows with the mappings it has (30 ms a call with 4,000 of
    them), so a storm of small mmaps must not make a mapping each: a region
    is placed right after (or before) its guest neighbour's host bytes where
    that room is free, and the TCG accelerator maps such a run as one.
    Bytes handed back are dropped at once (MADV_DONTNEED): the host's memory
    falls with the guest's, and they read as zero when taken again. Being
    MAP_PRIVATE, a host fork's child gets a copy-on-write copy, as of any
    private buffer."""

    def __init__(self, size: int):
        self.buffer = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS
                                | MAP_NORESERVE)
        self._starts, self._ends = [0], [size]     # free ranges: sorted, apart

    @classmethod
    def reserve(cls, size: int) -> HostArena | None:
        """An arena, or None where the host refuses the address space
        (RLIMIT_AS, strict overcommit): regions then get buffers of their own."""
        try:
            return cls(size)
        except (OSError, OverflowError, ValueError):
            return None

    def take(self, size: int, after: int | None = None,
             before: int | None = None) -> int | None:
        """The offset of size free bytes: at `after` or ending at `before`
        (a guest neighbour's host bytes end or begin there) when that room
        is free, else at the start of the highest free range that holds
        them (leaving room above for the next neighbour). None: no room."""
        if after is not None and self._take_at(after, size):
            return after
        if before is not None and before >= size and self._take_at(before - size, size):
            return before - size
        for i in range(len(self._starts) - 1, -1, -1):
            if self._ends[i] - self._starts[i] >= size:
                offset = self._starts[i]
                self._take_at(offset, size)
                return offset
        return None

    def give_back(self, offset: int, size: int) -> None:
        self.buffer.madvise(mmap.MADV_DONTNEED, offset, size)
        start, end = offset, offset + size
        i = bisect.bisect_left(self._starts, start)
        if i < len(self._starts) and self._starts[i] == end:      # joins the next
            end = self._ends[i]
            del self._starts[i], self._ends[i]
        if i > 0 and self._ends[i - 1] == start:                   # and the previous
            self._ends[i - 1] = end
        else:
            self._starts.insert(i, start)
            self._ends.insert(i, end)

    def _take_at(self, offset: int, size: int) -> bool:
        i = bisect.bisect_right(self._starts, offset) - 1
        if i < 0 or offset + size > self._ends[i]:
            return False
        start, end = self._starts[i], self._ends[i]
        left = [(start, offset)] if offset > start else []
        right = [(offset + size, end)] if offset + size < end else []
        self._starts[i:i + 1] = [a for a, _ in left + right]
        self._ends[i:i + 1] = [b for _, b in left + right]
        return True


class MemoryListener(Protocol):
    """An accelerator's view of the guest's memory map."""

    def region_added(self, region: Region) -> None: ...

    def region_removed(self, region: Region) -> None: ...

    def code_written(self, start: int, end: int) -> None:
        """A system call wrote into executable memory: translated code of
        [start, end) is stale."""


class Memory:
    def __init__(self, limit: int | None = None):
        self._regions: list[Region] = []
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._arena: HostArena | None = None
        self._arena_tried = False
        # find_free's last search: (low, position, hole): from low up to
        # position there is no gap of more than hole bytes (Linux's old
        # free_area_cache), so a storm of mmaps does not walk the whole map.
        self._free_cache: tuple[int, int, int] = (-1, 0, 0)
        self.listeners: list[MemoryListener] = []
        self.limit = limit           # bytes of guest memory allowed (None: any)
        # Set where shared file mappings can be guarded (map_file): None, and
        # a guest's MAP_SHARED file mapping is a private copy
        self.file_guard: FileGuard | None = None
        self.mapped_bytes = 0
        self.peak_bytes = 0

    # -- the map ---------------------------------------------------------

    def regions(self) -> Iterator[Region]:
        return iter(list(self._regions))

    def map(self, start: int, size: int, perms: int, name: str = "",
            shared: bool = False) -> Region:
        """Map fresh zeroed memory at [start, start+size); it must be free.
        shared: the host buffer is MAP_SHARED, so it stays one memory across
        a host fork (a guest's MAP_SHARED mapping); else copy-on-write."""
        size = self._check_free(start, size)
        arena = None if shared else self._host_arena()
        offset = None
        if arena is not None:
            offset = arena.take(size, *self._neighbours_in(arena, start, start + size))
        if offset is None:
            sharing = mmap.MAP_SHARED if shared else mmap.MAP_PRIVATE
            buffer = mmap.mmap(-1, size, flags=sharing | mmap.MAP_ANONYMOUS)
            region = Region(start, size, perms, buffer, 0, name)
        else:
            region = Region(start, size, perms, arena.buffer, offset, name)
        try:
            self._add(region)
        except BaseException:
            if offset is not None:
                arena.give_back(offset, size)
            raise
        return region

    def _host_arena(self) -> HostArena | None:
        if not self._arena_tried:
            self._arena_tried = True
            self._arena = HostArena.reserve(
                ARENA_SLACK * self.limit if self.limit is not None else ARENA_WITHOUT_LIMIT)
        return self._arena

    def _neighbours_in(self, arena: HostArena, start: int,
                       end: int) -> tuple[int | None, int | None]:
        """Where the host bytes of [start, end)'s guest neighbours end (the
        one below) and begin (the one above), if they are the arena's."""
        below, above = self.region_at(start - 1), self.region_at(end)
        return (below.offset + below.size if below is not None and below.end == start
                and below.buffer is arena.buffer else None,
                above.offset if above is not None and above.start == end
                and above.buffer is arena.buffer else None)

    def map_file(self, start: int, size: int, perms: int, fd: int, offset: int,
                 name: str = "") -> Region:
        """Map [start, start+size) as the host's shared mapping of the file
        fd (open for reading and writing) from offset: see SharedFile. Its
        pages past the file's end are guarded (file_guard, which must be
        set). Raises OSError as the host's mmap refuses."""
        size = self._check_free(start, size)
        buffer = _shared_file(fd, size, offset)
        index = self.file_guard.add(buffer_address(buffer), buffer_address(buffer) + size, start)
        if index < 0:
            buffer.close()
            raise MemoryError("no room in the guard of shared file mappings")
        weakref.finalize(buffer, self.file_guard.remove, index)
        region = Region(start, size, perms, buffer, 0, name)
        self._add(region)
        return region

    def past_file_end(self, address: int) -> bool:
        """Is address in a shared file mapping, past its file's end now (an
        access there is SIGBUS)?"""
        region = self.region_at(address)
        return region is not None and isinstance(region.buffer, SharedFile) \
            and address >= _file_end(region)

    def pages_past_file_end(self) -> list[int]:
        """Every guest page of a shared file mapping past its file's end."""
        return [page for region in self._regions if isinstance(region.buffer, SharedFile)
                for page in range(max(region.start, _file_end(region)), region.end, PAGE)]

    def zero_host_page(self, page: int) -> None:
        """The host page behind guest page becomes a private zero page (one
        past its file's end, which would raise SIGBUS in xemu)."""
        region = self.region_at(page)
        if region is not None:
            host = region.host_address + page - region.start
            _libc.mmap(host, PAGE, mmap.PROT_READ | mmap.PROT_WRITE,
                       mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | MAP_FIXED, -1, 0)

    def map_buffer(self, start: int, buffer, perms: int, name: str = "") -> Region:
        """Map host memory that exists already (a writable buffer of whole
        pages, e.g. an attached System V segment) at start."""
        size = self._check_free(start, len(memoryview(buffer).cast("B")))
        region = Region(start, size, perms, buffer, 0, name)
        self._add(region)
        return region

    def _check_free(self, start: int, size: int) -> int:
        """The size in whole pages, once the range is free and within --memory."""
        if start % PAGE or size <= 0:
            raise ValueError(f"unaligned mapping {start:#x}+{size:#x}")
        size = page_up(size)
        if self.overlaps(start, size):
            raise ValueError(f"mapping {start:#x}+{size:#x} overlaps another")
        if self.limit is not None and self.mapped_bytes + size > self.limit:
            raise MemoryError(f"guest memory limit of {self.limit} bytes reached")
        return size

    def unmap(self, start: int, size: int) -> None:
        """Unmap every page in the range; pages not mapped are ignored."""
        end = start + page_up(size)
        for region in self._overlapping(start, end):
            self._remove(region)
            if region.start < start:
                self._add(region.piece(region.start, start))
            if region.end > end:
                self._add(region.piece(end, region.end))
            if self._arena is not None and region.buffer is self._arena.buffer:
                lo, hi = max(region.start, start), min(region.end, end)
                self._arena.give_back(region.offset + lo - region.start, hi - lo)

    def protect(self, start: int, size: int, perms: int) -> bool:
        """Change permissions of the range; False if any page is unmapped."""
        end = start + page_up(size)
        if not self.is_mapped(start, end - start):
            return False
        for region in self._overlapping(start, end):
            if region.perms == perms:
                continue
            self._remove(region)
            lo, hi = max(region.start, start), min(region.end, end)
            if region.start < lo:
                self._add(region.piece(region.start, lo))
            self._add(region.piece(lo, hi, perms))
            if region.end > hi:
                self._add(region.piece(hi, region.end))
        return True

    def overlaps(self, start: int, size: int) -> bool:
        return bool(self._overlapping(start, start + size))

    def is_mapped(self, start: int, size: int) -> bool:
        """True if every byte of the range is mapped."""
        position = start
        for region in self._overlapping(start, start + size):
            if region.start > position:
                return False
            position = region.end
        return position >= start + size

    def find_free(self, size: int, low: int, high: int) -> int | None:
        """Lowest page-aligned address >= low where size bytes are free."""
        size, low = page_up(size), page_up(low)
        cached_low, position, hole = self._free_cache
        if cached_low == low and size > hole:
            candidate = position
        else:
            candidate, hole = low, 0
        starts, ends = self._starts, self._ends
        for i in range(max(bisect.bisect_right(starts, candidate) - 1, 0), len(starts)):
            if ends[i] <= candidate:
                continue
            if starts[i] >= candidate + size:
                break
            candidate = ends[i]
        self._free_cache = (low, candidate, max(hole, size - PAGE))
        return candidate if candidate + size <= high else None

    def region_at(self, address: int) -> Region | None:
        i = bisect.bisect_right(self._starts, address) - 1
        if i >= 0 and address < self._regions[i].end:
            return self._regions[i]
        return None

    # -- access for the host side (syscalls, loader) ---------------------

    def view(self, address: int, size: int) -> memoryview:
        """A writable view of guest memory; the range must lie in one region."""
        region = self.region_at(address)
        if region is None or address + size > region.end:
            raise GuestMemoryError(address, size)
        offset = region.offset + address - region.start
        return memoryview(region.buffer)[offset:offset + size]

    def mapped_views(self, address: int, size: int, need: int = 0) -> list[memoryview]:
        """Writable views of the range up to its first unmapped byte (or the
        first without the rights in need), one per region it crosses: a host
        readv/writev then sees the guest's buffer as the kernel would, whole
        across adjacent mappings, cut where a copy to or from user memory
        would stop. Raises if not even the first byte may be touched."""
        i = bisect.bisect_right(self._starts, address) - 1
        if i >= 0 and address + size <= self._ends[i] and size > 0:
            region = self._regions[i]          # the common case: one region
            if not need or region.perms & need:
                self._writing(region, address, size, need)
                offset = region.offset + address - region.start
                return [memoryview(region.buffer)[offset:offset + size]]
        views, end = [], address + size
        while address < end:
            region = self._accessible(address, need)
            if region is None:
                break
            n = min(end, region.end) - address
            self._writing(region, address, n, need)
            offset = region.offset + address - region.start
            views.append(memoryview(region.buffer)[offset:offset + n])
            address += n
        if not views:
            raise GuestMemoryError(address, size)
        return views

    def read(self, address: int, size: int, need: int = 0) -> bytes:
        """need: the rights each page must have (0: any mapped page)."""
        if size == 0:
            return b""
        region = self._accessible(address, need)
        if region is not None and address + size <= region.end:
            offset = region.offset + address - region.start
            return region.buffer[offset:offset + size]
        return b"".join(self.view(a, n) for _, a, n in self._pieces(address, size, need))

    def write(self, address: int, data: bytes, need: int = 0) -> None:
        done = 0
        for region, piece_address, n in self._pieces(address, len(data), need):
            self._writing(region, piece_address, n, need)
            self.view(piece_address, n)[:] = data[done:done + n]
            done += n

    def read_cstring(self, address: int, limit: int = 4096, need: int = 0) -> bytes:
        """A NUL-terminated string (without the NUL), at most limit bytes."""
        out = b""
        while len(out) < limit:
            region = self._accessible(address + len(out), need)
            if region is None:
                raise GuestMemoryError(address + len(out))
            offset = region.offset + address + len(out) - region.start
            stop = min(region.offset + region.size, offset + limit - len(out))
            buffer = region.buffer
            if not hasattr(buffer, "find"):     # a System V segment's ctypes array
                buffer, offset, stop = bytes(memoryview(buffer).cast("B")[offset:stop]), 0, \
                    stop - offset
            nul = buffer.find(b"\0", offset, stop)
            if nul >= 0:
                return out + buffer[offset:nul]
            out += buffer[offset:stop]
        return out[:limit]

    def code_written(self, start: int, end: int) -> None:
        for listener in tuple(self.listeners):
            listener.code_written(start, end)

    # -- internals -------------------------------------------------------

    def _accessible(self, address: int, need: int) -> Region | None:
        """The region at address if it has a right of need (any, for 0)."""
        region = self.region_at(address)
        return region if region is not None and (not need or region.perms & need) else None

    def _pieces(self, address: int, size: int,
                need: int = 0) -> Iterator[tuple[Region, int, int]]:
        """(region, address, length) over a range split at region
        boundaries; raise at the first byte unmapped or without need."""
        end = address + size
        while address < end:
            region = self._accessible(address, need)
            if region is None:
                raise GuestMemoryError(address, end - address)
            n = min(end, region.end) - address
            yield region, address, n
            address += n

    def _writing(self, region: Region, address: int, size: int, need: int) -> None:
        """A guest's call writes there (need is PROT_WRITE; a read needs
        READABLE, which has that bit too): code in it is stale."""
        if need == PROT_WRITE and region.perms & PROT_EXEC:
            self.code_written(address, address + size)

    def _overlapping(self, start: int, end: int) -> list[Region]:
        regions, ends = self._regions, self._ends
        found = []
        for i in range(max(bisect.bisect_right(self._starts, start) - 1, 0), len(regions)):
            if regions[i].start >= end:
                break
            if ends[i] > start:
                found.append(regions[i])
        return found

    def _add(self, region: Region) -> None:
        i = bisect.bisect_left(self._starts, region.start)
        self._regions.insert(i, region)
        self._starts.insert(i, region.start)
        self._ends.insert(i, region.end)
        self.mapped_bytes += region.size
        told = []
        try:
            for listener in tuple(self.listeners):      # a thread's CPU may leave meanwhile
                listener.region_added(region)
                told.append(listener)
        except BaseException:       # an accelerator refused it: the map stays as it was
            del self._regions[i]
            del self._starts[i]
            del self._ends[i]
            self.mapped_bytes -= region.size
            for listener in reversed(told):
                listener.region_removed(region)
            raise
        self.peak_bytes = max(self.peak_bytes, self.mapped_bytes)

    def _remove(self, region: Region) -> None:
        i = bisect.bisect_left(self._starts, region.start)
        if i == len(self._regions) or self._regions[i] is not region:
            i = self._regions.index(region)
        self._free_cache = (-1, 0, 0)       # a new gap: find_free looks from low again
        del self._regions[i]
        del self._starts[i]
        del self._ends[i]
        self.mapped_bytes -= region.size
        for listener in tuple(self.listeners):
            listener.region_removed(region)


# What each kind of access needs of a page. Every arch Linux runs here reads
# what it may write or execute (no execute-only or write-only pages).
READABLE = PROT_READ | PROT_WRITE | PROT_EXEC


class UserMemory:
    """Guest memory as system calls reach it: like the kernel's copy_from_user
    and copy_to_user, a read needs a readable page and a write a writable one
    (else GuestMemoryError, which a call answers with EFAULT), and a write into
    executable memory makes its translations stale. Everything else (the map,
    mmap's filling of new pages, the loader, debuggers) is the Memory's own:
    `raw`, or any other attribute, which passes through."""

    def __init__(self, memory: Memory):
        self.raw = memory

    def __getattr__(self, name: str):
        return getattr(self.raw, name)

    def read(self, address: int, size: int) -> bytes:
        return self.raw.read(address, size, READABLE)

    def write(self, address: int, data: bytes) -> None:
        self.raw.write(address, data, PROT_WRITE)

    def read_cstring(self, address: int, limit: int = 4096) -> bytes:
        return self.raw.read_cstring(address, limit, READABLE)

    def mapped_views(self, address: int, size: int, writing: bool = False) -> list[memoryview]:
        """writing: the host will write into them (read(2), recv(2))."""
        return self.raw.mapped_views(address, size, PROT_WRITE if writing else READABLE)

    def view(self, address: int, size: int) -> memoryview:
        """Not offered: say whether the host reads or writes (mapped_views)."""
        raise AttributeError("UserMemory.view: use mapped_views or raw.view")
