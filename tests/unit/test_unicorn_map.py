"""The TCG accelerator's Unicorn map: a storm of small neighbouring mmaps
is a few Unicorn mappings (each map and unmap cost Unicorn time in
proportion to the mappings it has: 30 ms a call with 4,000), while
Unicorn's own view still shows exactly the guest's pages and rights."""
import pytest
from unicorn import UcError

from xemu.archs import by_name
from xemu.machine.accel.tcg import TcgAccelerator
from xemu.machine.accel.unicorn_map import SPAN_LIMIT
from xemu.machine.memory import PAGE, PROT_READ, PROT_WRITE, Memory

RW = PROT_READ | PROT_WRITE
BASE = 0x4000_0000


def unicorn_view(accel):
    return [(start, end + 1, perms) for start, end, perms in accel.uc.mem_regions()]


@pytest.fixture
def storm():
    memory = Memory(limit=1 << 30)
    accel = TcgAccelerator(by_name("aarch64"), memory)
    before = len(unicorn_view(accel))
    for i in range(300):
        memory.map(BASE + i * PAGE, PAGE, RW)
        memory.write(BASE + i * PAGE, i.to_bytes(2, "little"))
    yield memory, accel, before
    accel.close()


def test_neighbouring_regions_are_one_unicorn_mapping(storm):
    memory, accel, before = storm
    assert len(list(memory.regions())) >= 300
    assert len(unicorn_view(accel)) == before + 1
    assert accel.uc.mem_read(BASE + 299 * PAGE, 2) == (299).to_bytes(2, "little")


def test_unmapping_or_protecting_a_page_inside_leaves_the_rest_as_it_was(storm):
    memory, accel, before = storm
    memory.unmap(BASE + 100 * PAGE, PAGE)
    memory.protect(BASE + 200 * PAGE, PAGE, PROT_READ)
    view = [r for r in unicorn_view(accel) if r[0] >= BASE]
    assert view == [(BASE, BASE + 100 * PAGE, RW), (BASE + 101 * PAGE, BASE + 200 * PAGE, RW),
                    (BASE + 200 * PAGE, BASE + 201 * PAGE, PROT_READ),
                    (BASE + 201 * PAGE, BASE + 300 * PAGE, RW)]
    with pytest.raises(UcError):
        accel.uc.mem_read(BASE + 100 * PAGE, 2)
    for i in (99, 101, 200, 299):
        assert accel.uc.mem_read(BASE + i * PAGE, 2) == i.to_bytes(2, "little")
    memory.protect(BASE + 200 * PAGE, PAGE, RW)            # joins its neighbours again
    assert len([r for r in unicorn_view(accel) if r[0] >= BASE]) == 2


def test_a_span_stops_growing_at_its_limit():
    memory = Memory(limit=1 << 30)
    accel = TcgAccelerator(by_name("arm"), memory)
    try:
        pages = 2 * SPAN_LIMIT // PAGE + 1
        for i in range(pages):
            memory.map(BASE + i * PAGE, PAGE, RW)
        spans = [r for r in unicorn_view(accel) if r[0] >= BASE]
        assert len(spans) == 3 and all(end - start <= SPAN_LIMIT for start, end, _ in spans)
    finally:
        accel.close()
