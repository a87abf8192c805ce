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


# levels -> (entry format, index bits per level, frame address mask)
FORMATS = {4: ("Q", 9, ADDRESS_MASK),              # x86-64: 4-level, 64-bit entries
           2: ("I", 10, 0xFFFF_F000)}              # i386: 2-level, 32-bit entries


class PageTables:
    """Tables of 4 KiB pages in `pool` at guest-physical `base`: 4-level for
    x86-64, or classic 2-level 32-bit paging for i386 (which has no NX bit)."""

    def __init__(self, pool: memoryview, base: int, levels: int = 4):
        if levels not in FORMATS:
            raise ValueError(f"no {levels}-level paging")
        code, self.index_bits, self.address_mask = FORMATS[levels]
        self.entries = pool.cast(code)
        self.entry_size = self.entries.itemsize
        self.per_table = 1 << self.index_bits
        self.supports_nx = levels == 4
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
        if not self.supports_nx:
            flags &= ~NO_EXECUTE
        table = self._walk(virtual, create=True)
        self.entries[table + self._index(virtual, 1)] = \
            (physical & self.address_mask) | flags | PRESENT

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
