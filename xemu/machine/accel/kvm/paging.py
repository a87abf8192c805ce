"""x86 page tables built by xemu for a guest that never touches them.

The tables live in a pool of guest-physical memory (a host buffer). There
are two identical roots: after a change to the memory map xemu points CR3
at the other root, which makes KVM flush the guest's TLB (setting CR3 to
the value it already has would not).
"""
from __future__ import annotations

PAGE = 0x1000
PRESENT, WRITABLE, USER = 1 << 0, 1 << 1, 1 << 2
NO_EXECUTE = 1 << 63
ADDRESS_MASK = 0x000F_FFFF_FFFF_F000
ENTRIES = 512


class PageTables:
    """4-level (x86-64) tables of 4 KiB pages in `pool` at guest-physical `base`."""

    def __init__(self, pool: memoryview, base: int, levels: int = 4):
        if levels != 4:
            raise ValueError("only 4-level paging is built so far")
        self.entries = pool.cast("Q")
        self.base = base
        self.levels = levels
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

    def map(self, virtual: int, physical: int, flags: int) -> None:
        """Map one page. flags: WRITABLE, USER, NO_EXECUTE (PRESENT implied)."""
        table = self._walk(virtual, create=True)
        self.entries[table + self._index(virtual, 1)] = (physical & ADDRESS_MASK) | flags | PRESENT

    def unmap(self, virtual: int) -> None:
        table = self._walk(virtual, create=False)
        if table is not None:
            self.entries[table + self._index(virtual, 1)] = 0

    def lookup(self, virtual: int) -> int | None:
        """The leaf entry for a virtual address (tests, debugging)."""
        table = self._walk(virtual, create=False)
        if table is None:
            return None
        entry = self.entries[table + self._index(virtual, 1)]
        return entry if entry & PRESENT else None

    # -- internals -------------------------------------------------------

    @staticmethod
    def _index(virtual: int, level: int) -> int:
        return (virtual >> (12 + 9 * (level - 1))) & (ENTRIES - 1)

    def _walk(self, virtual: int, create: bool) -> int | None:
        """Entry index (into self.entries) of the level-1 table for virtual."""
        table = (self.roots[0] - self.base) // 8
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
                    other = (self.roots[1] - self.base) // 8
                    self.entries[other + slot] = entry
            table = ((entry & ADDRESS_MASK) - self.base) // 8
        return table

    def _allocate(self) -> int:
        if self.next_free >= self.pages:
            raise MemoryError("out of page-table pages")
        physical = self.base + self.next_free * PAGE
        start = self.next_free * ENTRIES
        self.entries[start:start + ENTRIES] = memoryview(bytes(PAGE)).cast("Q")
        self.next_free += 1
        return physical
