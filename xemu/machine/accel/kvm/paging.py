"""x86-64 page tables (4 levels of 512 64-bit entries) built by xemu for a
guest that never touches them.

The tables live in a pool of guest-physical memory (a host buffer). There
are two identical roots: after a change to the memory map a vCPU points CR3
at the other root than the one it has (`other_root`), which makes KVM flush
its TLB (setting CR3 to the value it already has would not). Every vCPU of
a VM walks these same tables; each alternates between the roots on its own.

Entries are written as single aligned 8-byte stores, and a new table is
zeroed before an entry links it, so a vCPU walking the tables while another
thread maps or unmaps sees either the old entry or the new one. (Changes
are made under the address space's lock, space.py.)
"""
from __future__ import annotations

from ....archs.base import PAGE

PRESENT, WRITABLE, USER = 1 << 0, 1 << 1, 1 << 2
NO_EXECUTE = 1 << 63
ADDRESS_MASK = 0x000F_FFFF_FFFF_F000
LEVELS, INDEX_BITS = 4, 9


class PageTables:
    """Tables of 4 KiB pages in `pool` at guest-physical `base`. (i386
    guests run in compatibility mode under these same tables.)"""

    def __init__(self, pool: memoryview, base: int):
        self.entries = pool.cast("Q")
        self.entry_size = self.entries.itemsize
        self.index_bits = INDEX_BITS
        self.address_mask = ADDRESS_MASK
        self.per_table = 1 << INDEX_BITS
        self.base = base
        self.levels = LEVELS
        self.pages = len(pool) // PAGE
        self.next_free = 0
        self.roots = (self._allocate(), self._allocate())
        self.active = 0

    @property
    def root(self) -> int:
        """Guest-physical address for CR3."""
        return self.roots[self.active]

    def switch_root(self) -> int:
        self.active ^= 1
        return self.root

    def other_root(self, root: int) -> int:
        """The root a vCPU whose CR3 is root switches to (to flush its TLB)."""
        return self.roots[1] if root == self.roots[0] else self.roots[0]

    def map(self, virtual: int, physical: int, flags: int) -> None:
        """Map one page. flags: WRITABLE, USER, NO_EXECUTE (PRESENT implied)."""
        table = self._walk(virtual, create=True)
        self.entries[table + self._index(virtual, 1)] = \
            (physical & self.address_mask) | flags | PRESENT

    def unmap(self, virtual: int, physical: int | None = None) -> None:
        """Unmap one page; with physical, only if it maps that page still."""
        table = self._walk(virtual, create=False)
        if table is not None:
            at = table + self._index(virtual, 1)
            if physical is None or self.entries[at] & self.address_mask == physical:
                self.entries[at] = 0

    def lookup(self, virtual: int) -> int | None:
        """The leaf entry for a virtual address (tests, debugging)."""
        table = self._walk(virtual, create=False)
        if table is None:
            return None
        entry = self.entries[table + self._index(virtual, 1)]
        return entry if entry & PRESENT else None

    # -- internals -------------------------------------------------------

    def _index(self, virtual: int, level: int) -> int:
        return (virtual >> (12 + self.index_bits * (level - 1))) & (self.per_table - 1)

    def _walk(self, virtual: int, create: bool) -> int | None:
        """Entry index (into self.entries) of the level-1 table for virtual."""
        table = (self.roots[0] - self.base) // self.entry_size
        for level in range(self.levels, 1, -1):
            slot = self._index(virtual, level)
            entry = self.entries[table + slot]
            if not entry & PRESENT:
                if not create:
                    return None
                child = self._allocate()
                entry = child | PRESENT | WRITABLE | USER   # leaves decide access
                self.entries[table + slot] = entry
                if level == self.levels:                    # keep the roots alike
                    other = (self.roots[1] - self.base) // self.entry_size
                    self.entries[other + slot] = entry
            table = ((entry & self.address_mask) - self.base) // self.entry_size
        return table

    def _allocate(self) -> int:
        if self.next_free >= self.pages:
            raise MemoryError("out of page-table pages")
        physical = self.base + self.next_free * PAGE
        start = self.next_free * self.per_table
        self.entries[start:start + self.per_table] = \
            memoryview(bytes(PAGE)).cast(self.entries.format)
        self.next_free += 1
        return physical
