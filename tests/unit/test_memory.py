"""Guest memory: regions, splitting, and what accelerators are told."""
import pytest

from xemu.errors import GuestMemoryError
from xemu.machine.memory import PAGE, PROT_READ, PROT_WRITE, Memory

RW = PROT_READ | PROT_WRITE


class Recorder:
    def __init__(self):
        self.events = []

    def region_added(self, region):
        self.events.append(("add", region.start, region.size, region.perms))

    def region_removed(self, region):
        self.events.append(("remove", region.start, region.size))


def test_read_write_across_regions():
    mem = Memory()
    mem.map(0x10000, PAGE, RW)
    mem.map(0x11000, PAGE, RW)
    mem.write(0x10FFE, b"abcd")
    assert mem.read(0x10FFE, 4) == b"abcd"
    with pytest.raises(GuestMemoryError):
        mem.read(0x11FFE, 4)


def test_mapped_views_go_across_regions_and_stop_at_a_hole():
    mem = Memory()
    mem.map(0x10000, PAGE, RW)
    mem.map(0x11000, PAGE, PROT_READ)
    mem.write(0x10FFE, b"abcd")
    views = mem.mapped_views(0x10FFE, 4)
    assert [bytes(v) for v in views] == [b"ab", b"cd"]
    assert sum(len(v) for v in mem.mapped_views(0x10FFE, 3 * PAGE)) == PAGE + 2
    with pytest.raises(GuestMemoryError):
        mem.mapped_views(0x12000, 4)


def test_partial_unmap_keeps_the_same_buffer():
    mem = Memory()
    mem.map(0x10000, 3 * PAGE, RW)
    mem.write(0x12000, b"third")
    listener = Recorder()
    mem.listeners.append(listener)
    mem.unmap(0x11000, PAGE)
    assert [(r.start, r.size) for r in mem.regions()] == [(0x10000, PAGE), (0x12000, PAGE)]
    assert mem.read(0x12000, 5) == b"third"
    assert listener.events[0] == ("remove", 0x10000, 3 * PAGE)
    assert not mem.is_mapped(0x11000, 1)


def test_protect_splits_and_reports_unmapped():
    mem = Memory()
    mem.map(0x10000, 3 * PAGE, RW)
    assert mem.protect(0x11000, PAGE, PROT_READ)
    assert [r.perms for r in mem.regions()] == [RW, PROT_READ, RW]
    assert not mem.protect(0x12000, 2 * PAGE, PROT_READ)


def test_find_free_skips_used_ranges():
    mem = Memory()
    mem.map(0x40000000, PAGE, RW)
    assert mem.find_free(PAGE, 0x40000000, 0x50000000) == 0x40001000
    assert mem.find_free(0x20000000, 0x40000000, 0x50000000) is None


def test_cstring_stops_at_nul_and_limit():
    mem = Memory()
    mem.map(0x10000, PAGE, RW)
    mem.write(0x10000, b"path\0rest")
    assert mem.read_cstring(0x10000) == b"path"
    mem.write(0x10000, b"x" * PAGE)
    with pytest.raises(GuestMemoryError):
        mem.read_cstring(0x10F00)          # runs off the mapping
    assert mem.read_cstring(0x10000, limit=10) == b"x" * 10


def test_limit_refuses_growth():
    mem = Memory(limit=2 * PAGE)
    mem.map(0x10000, 2 * PAGE, RW)
    with pytest.raises(MemoryError):
        mem.map(0x20000, PAGE, RW)


def test_a_cpu_leaving_while_the_map_changes_does_not_hide_it_from_the_others():
    """A guest thread's CPU stops following the memory when the thread ends,
    from that thread, while another thread may be mapping: every CPU still
    there must hear of the change (one that missed an mmap failed the next
    mprotect on that page with UC_ERR_MAP)."""
    memory = Memory()

    class Cpu:
        def __init__(self, leaves: bool):
            self.leaves, self.seen = leaves, []

        def region_added(self, region):
            self.seen.append(region.start)
            if self.leaves:
                memory.listeners.remove(self)

        def region_removed(self, region):
            pass

    leaving, staying = Cpu(leaves=True), Cpu(leaves=False)
    memory.listeners += [leaving, staying]
    memory.map(0x10000, PAGE, PROT_READ | PROT_WRITE)
    assert staying.seen == [0x10000]


# -- the host arena: guest neighbours are host neighbours ------------------

def test_guest_neighbours_are_neighbours_on_the_host_too():
    mem = Memory(limit=1 << 30)
    a = mem.map(0x10000, PAGE, RW)
    b = mem.map(0x11000, 2 * PAGE, RW)
    assert b.host_address == a.host_address + PAGE
    mem.unmap(0x10000, PAGE)
    below = mem.map(0x10000, PAGE, RW)          # placed before its neighbour above
    assert below.host_address == b.host_address - PAGE
    far = mem.map(0x40000000, PAGE, RW)
    assert far.buffer is b.buffer                # one reservation, any guest address


def test_unmapped_arena_pages_read_as_zero_when_mapped_again():
    mem = Memory()
    mem.map(0x10000, 2 * PAGE, RW)
    mem.write(0x10000, b"secret")
    mem.unmap(0x10000, 2 * PAGE)
    again = mem.map(0x20000, 2 * PAGE, RW)
    assert mem.read(0x20000, 6) == b"\0" * 6
    assert again.buffer is not None


def test_without_an_arena_each_region_has_a_buffer_of_its_own(monkeypatch):
    from xemu.machine import memory as memory_module
    monkeypatch.setattr(memory_module.HostArena, "reserve", classmethod(lambda cls, size: None))
    mem = Memory()
    a = mem.map(0x10000, PAGE, RW)
    b = mem.map(0x11000, PAGE, RW)
    assert a.buffer is not b.buffer
    mem.write(0x10FFE, b"abcd")
    assert mem.read(0x10FFE, 4) == b"abcd"


def test_the_arena_hands_out_room_beside_a_neighbour_and_joins_what_comes_back():
    from xemu.machine.memory import HostArena
    arena = HostArena(64 * PAGE)
    first = arena.take(PAGE)
    assert arena.take(PAGE, after=first + PAGE) == first + PAGE
    assert arena.take(PAGE, after=first + PAGE) not in (None, first, first + PAGE)  # taken: elsewhere
    arena.give_back(first, 2 * PAGE)
    assert arena.take(2 * PAGE, after=first) == first      # the two pages came back as one
    assert arena.take(64 * PAGE) is None


def test_a_shared_mapping_has_its_own_shared_buffer():
    mem = Memory()
    private = mem.map(0x10000, PAGE, RW)
    shared = mem.map(0x11000, PAGE, RW, shared=True)
    assert shared.buffer is not private.buffer and shared.offset == 0


def test_find_free_remembers_its_last_search_without_missing_a_gap():
    """find_free starts where its last search for the same low ended (no gap
    of the size asked for lies below): whatever maps and unmaps come between,
    it answers what a walk of the whole map would."""
    from hypothesis import given, settings, strategies as st

    def walk(mem, size, low, high):
        candidate = low
        for region in sorted(mem.regions(), key=lambda r: r.start):
            if region.end <= candidate:
                continue
            if region.start >= candidate + size:
                break
            candidate = region.end
        return candidate if candidate + size <= high else None

    low, high = 0x100000, 0x100000 + 64 * PAGE
    steps = st.lists(st.tuples(st.sampled_from(["find", "unmap"]), st.integers(1, 5),
                               st.integers(0, 63)), max_size=40)

    @settings(max_examples=200, deadline=None)
    @given(steps)
    def check(actions):
        mem = Memory()
        for action, pages, index in actions:
            if action == "find":
                found = mem.find_free(pages * PAGE, low, high)
                assert found == walk(mem, pages * PAGE, low, high)
                if found is not None:
                    mem.map(found, pages * PAGE, RW)
            else:
                mem.unmap(low + index * PAGE, pages * PAGE)
    check()
