"""The compiled TLB fill (machine/accel/_tcgfast.c): its table of regions
follows map, unmap and mprotect, and a guest meets the same faults, with the
same addresses and reasons, on it as on the pure-Python path (Unicorn's CPU
TLB and invalid-memory hook). Correctness only: speed is the benchmarks'."""
import signal
import struct
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xemu.archs import by_name
from xemu.machine.accel import tcgfast
from xemu.machine.accel.base import Fault, Woken
from xemu.machine.accel.tcg import TcgAccelerator
from xemu.machine.memory import PAGE, PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE, Memory

LIB = tcgfast.load()[0]
needs_lib = pytest.mark.skipif(LIB is None, reason=f"TCG path: {tcgfast.describe()}")
RW, RX, RWX = PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC, PROT_READ | PROT_WRITE | PROT_EXEC
CODE, DATA, HOLE = 0x10000, 0x20000, 0x30000


@pytest.fixture(params=["compiled", "pure"])
def path(request, monkeypatch):
    """Each test once on each path."""
    if request.param == "compiled":
        if LIB is None:
            pytest.skip(f"TCG path: {tcgfast.describe()}")
    else:
        monkeypatch.setattr(tcgfast, "_loaded", (None, "pure Python (this test)"))
    return request.param


def arm(*words: int) -> bytes:
    return b"".join(struct.pack("<I", w) for w in words)


MOV_R0_DATA, MOV_R0_HOLE = 0xE3A00802, 0xE3A00803        # mov r0, #0x20000 / #0x30000
STR_R1_R0, LDR_R1_R0, BX_R0 = 0xE5801000, 0xE5901000, 0xE12FFF10
UDF = 0xE7F000F0


def cpu(code: bytes, data_perms: int = RW, code_perms: int = RX,
        arch: str = "arm") -> TcgAccelerator:
    memory = Memory()
    memory.map(CODE, PAGE, code_perms)
    memory.write(CODE, code)
    memory.map(DATA, PAGE, data_perms)
    spec = by_name(arch)
    for page in spec.linux.reserved:            # x86-64's GDT, as exec maps it
        memory.map(page.start, page.size, page.perms, page.name)
        memory.write(page.start, page.data)
    accel = TcgAccelerator(spec, memory)
    accel.regs.write(accel.spec.pc, CODE)
    return accel


def test_the_path_in_use_is_named():
    assert tcgfast.describe().startswith(("compiled TLB fill", "pure Python"))


@pytest.mark.parametrize("code,data_perms,expected", [
    (arm(MOV_R0_HOLE, STR_R1_R0), RW, (CODE + 4, HOLE, "write", "unmapped")),
    (arm(MOV_R0_HOLE, LDR_R1_R0), RW, (CODE + 4, HOLE, "read", "unmapped")),
    (arm(MOV_R0_DATA, STR_R1_R0), PROT_READ, (CODE + 4, DATA, "write", "protection")),
    (arm(MOV_R0_DATA, LDR_R1_R0), PROT_NONE, (CODE + 4, DATA, "read", "protection")),
    (arm(MOV_R0_DATA, BX_R0), RW, (DATA, DATA, "execute", "protection")),
    (arm(MOV_R0_HOLE, BX_R0), RW, (HOLE, HOLE, "execute", "unmapped")),
])
def test_faults_name_their_address_and_reason_on_both_paths(path, code, data_perms, expected):
    stop = cpu(code, data_perms).run()
    assert isinstance(stop, Fault) and stop.signal == signal.SIGSEGV
    assert (stop.pc, stop.address, stop.access, stop.reason) == expected


def test_code_that_runs_off_its_page_faults_where_the_next_one_is_missing(path):
    """A block translated across a page boundary into an unmapped page:
    the instructions before it run, the fetch past it faults there."""
    code = bytes(PAGE - 8) + arm(0xE3A00001, 0xE3A00002)      # mov r0, #1; mov r0, #2
    accel = cpu(code)
    accel.regs.write("pc", CODE + PAGE - 8)
    stop = accel.run()
    assert (stop.signal, stop.pc, stop.address, stop.access, stop.reason) == \
        (signal.SIGSEGV, CODE + PAGE, CODE + PAGE, "execute", "unmapped")
    assert accel.regs.read("r0") == 2


def test_mprotect_takes_effect_at_once(path):
    """The TLB must not keep the rights a page had: a store that worked
    faults once the page is read-only, and works again once it is not."""
    accel = cpu(arm(MOV_R0_DATA, STR_R1_R0, UDF))
    accel.regs.write("r1", 0x1234)
    first = accel.run()
    assert first.signal == signal.SIGILL and first.pc == CODE + 8
    assert accel.memory.read(DATA, 4) == struct.pack("<I", 0x1234)
    accel.memory.protect(DATA, PAGE, PROT_READ)
    accel.regs.write("pc", CODE)
    refused = accel.run()
    assert (refused.signal, refused.pc, refused.address, refused.reason) == \
        (signal.SIGSEGV, CODE + 4, DATA, "protection")
    accel.memory.protect(DATA, PAGE, RW)
    accel.regs.write("r1", 0x5678)
    accel.regs.write("pc", CODE)
    assert accel.run().pc == CODE + 8
    assert accel.memory.read(DATA, 4) == struct.pack("<I", 0x5678)


def test_unmapped_then_mapped_again(path):
    accel = cpu(arm(MOV_R0_DATA, LDR_R1_R0, UDF))
    accel.memory.unmap(DATA, PAGE)
    assert accel.run().reason == "unmapped"
    accel.memory.map(DATA, PAGE, RW)
    accel.memory.write(DATA, struct.pack("<I", 42))
    accel.regs.write("pc", CODE)
    assert accel.run().signal == signal.SIGILL
    assert accel.regs.read("r1") == 42


def test_code_that_rewrites_itself_runs_its_new_instruction(path):
    """A guest store into executable memory drops the translations there
    (writable code keeps its stores on the slow path that checks)."""
    code = bytearray(arm(0xEB00003E,          # bl function: r0 = 1
                         0xE1A02000,          # mov r2, r0
                         0xE59F1008,          # ldr r1, [pc, #8]: the new instruction
                         0xE5831000,          # str r1, [r3]: over the function's mov
                         0xEB00003A,          # bl function: r0 = 2 now
                         UDF,
                         0xE3A00002).ljust(0x100))   # mov r0, #2
    function = 0x100
    code[function:function + 8] = arm(0xE3A00001, 0xE12FFF1E)     # mov r0, #1; bx lr
    accel = cpu(bytes(code), code_perms=RWX)
    accel.regs.write("r3", CODE + function)
    stop = accel.run()
    assert stop.signal == signal.SIGILL and stop.pc == CODE + 20
    assert (accel.regs.read("r2"), accel.regs.read("r0")) == (1, 2)


@pytest.mark.parametrize("arch,spin", [("arm", arm(0xEAFFFFFE)),      # b .
                                       ("x86_64", b"\xeb\xfe")])        # jmp .
def test_a_stop_asked_from_another_thread_is_no_fault(path, monkeypatch, arch, spin):
    """Once stopped, Unicorn looks a block up at emu_start's end address,
    which no region holds: the fill must not make that a refused access
    (replayed, it ran an instruction more, and after a yield hint a
    spinning Go thread died of SIGILL)."""
    accel = cpu(spin, arch=arch)
    replays = []
    monkeypatch.setattr(accel, "_replay_refused", lambda: replays.append(1))
    timer = threading.Timer(0.05, accel.wake)
    timer.start()
    assert accel.run(timeout=20) == Woken()
    timer.join()
    assert replays == []


@needs_lib
def test_the_table_follows_map_unmap_and_mprotect():
    memory = Memory()
    accel = TcgAccelerator(by_name("arm"), memory)
    table = accel._fill
    memory.map(0x10000, 4 * PAGE, RW)
    memory.map(0x20000, PAGE, RX)
    memory.protect(0x11000, PAGE, PROT_READ)
    memory.unmap(0x12000, PAGE)
    for address in range(0x0f000, 0x22000, PAGE):
        region = memory.region_at(address)
        assert table.lookup(address) == (region.perms if region else None), hex(address)
    other = accel.twin()                     # another thread's engine: its own table
    memory.protect(0x10000, PAGE, PROT_NONE)
    assert table.lookup(0x10000) == other._fill.lookup(0x10000) == PROT_NONE
    other.close()


# page index -> rights, as ops on the C table and on a plain model
ops = st.lists(st.tuples(st.sampled_from(["add", "remove"]), st.integers(0, 15),
                         st.integers(1, 6), st.integers(0, 7)), max_size=30)


@needs_lib
@settings(max_examples=200, deadline=None)
@given(ops)
def test_the_table_matches_a_page_model(steps):
    table, model = tcgfast.FillTable(LIB), {}
    for op, first, count, perms in steps:
        pages = range(first, first + count)
        if op == "add":
            table.add(first * PAGE, (first + count) * PAGE, perms)
            model.update({page: perms for page in pages})
        else:
            table.remove(first * PAGE, (first + count) * PAGE)
            for page in pages:
                model.pop(page, None)
    for page in range(0, 24):
        assert table.lookup(page * PAGE + 8) == model.get(page)
