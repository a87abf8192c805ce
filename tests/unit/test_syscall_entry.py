"""Issue 19: TCG's compiled syscall entry (machine/accel/_tcgfast.c). It
reads the number and arguments in C, answers the calls the Linux layer
marked (MachineCall) without Python, and gives the handler everything
else, including every case of a marked call it is not sure of. Speed is
the benchmarks' (`python -m benchmarks --workload syscalls --workload
writes`); these tests pin what is answered where, and that the answers
are the handler's. The guest case `fastcalls` runs the same edges through
real programs on every arch, against qemu-user and the host."""
import array
import os
import signal
import struct
import time
from collections import Counter

import pytest

from tests.guests.cases import ARCHS
from tests.unit.test_user_range import Guest
from xemu.archs import by_name
from xemu.linux.process import DIRECT_SLOTS, FdTable
from xemu.linux.syscalls import Dispatcher
from xemu.linux.thread import Thread
from xemu.machine.accel import tcgfast
from xemu.machine.accel.base import Exit, Fault, MachineCall
from xemu.machine.accel.tcg import TcgAccelerator
from xemu.machine.memory import PAGE, PROT_EXEC, PROT_NONE, PROT_READ, PROT_WRITE, Memory
from xemu.machine.select import host_syscall_number

LIB = tcgfast.load()[0]
needs_lib = pytest.mark.skipif(LIB is None, reason=f"TCG path: {tcgfast.describe()}")
RW, RX = PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC
CODE, DATA, HOLE, FROZEN = 0x10000, 0x20000, 0x30000, 0x40000
CLOCK_MONOTONIC = 1
HANDLED = 99                     # what the test's handler answers


def arm_call(number: int) -> bytes:
    """mov r7, #256 (if the number needs it); add r7, r7, #rest; svc #0;
    udf (the run ends there with SIGILL)."""
    assert number < 512
    high = 0xE3A07C01 if number >= 256 else 0xE3A07000        # mov r7, #256 / #0
    return struct.pack("<4I", high, 0xE2877000 | (number & 0xFF), 0xEF000000, 0xE7F000F0)


def ppc_call(number: int) -> bytes:
    """li r0, number; sc; an illegal word."""
    return struct.pack(">3I", 0x38000000 | number, 0x44000002, 0)


class Cpu:
    """One TCG engine over code, a data page, a read-only page and a
    PROT_NONE one, whose handler notes each call it is given."""

    def __init__(self, arch: str, code: bytes):
        self.memory = Memory()
        self.memory.map(CODE, PAGE, RX)
        self.memory.write(CODE, code)
        self.memory.map(DATA, PAGE, RW)
        self.memory.map(HOLE, PAGE, PROT_NONE)
        self.memory.map(FROZEN, PAGE, PROT_READ)
        self.accel = TcgAccelerator(by_name(arch), self.memory)
        self.accel.regs.write(self.accel.spec.pc, CODE)
        self.given: list[int] = []
        self.accel.syscall_handler = lambda number, args: self.given.append(number) or HANDLED

    def run(self, marked: dict, **registers: int) -> int:
        """Run the call; the result register."""
        for name, value in registers.items():
            self.accel.regs.write(name, value)
        self.accel.serve_in_machine(marked)
        stop = self.accel.run()
        assert isinstance(stop, Fault) and stop.signal == signal.SIGILL, stop
        return self.accel.regs.read(self.accel.spec.linux.syscall.result)


def host(name: str, **more) -> MachineCall:
    return MachineCall("host", host_number=host_syscall_number(name), **more)


ARM_GETPPID, ARM_CLOCK_GETTIME, ARM_WRITE = 64, 263, 4


@needs_lib
def test_a_marked_call_is_answered_without_the_handler():
    cpu = Cpu("arm", arm_call(ARM_GETPPID))
    assert cpu.run({ARM_GETPPID: host("getppid")}) == os.getppid()
    assert cpu.given == []
    assert cpu.accel._entry.served == (1, 0)


@needs_lib
def test_an_unmarked_call_reaches_the_handler_with_its_result_written():
    cpu = Cpu("arm", arm_call(ARM_GETPPID))
    assert cpu.run({}) == HANDLED
    assert cpu.given == [ARM_GETPPID]
    assert cpu.accel._entry.served == (0, 1)


@needs_lib
def test_an_answer_above_the_limit_is_the_overflow_value():
    """The 16-bit id calls answer 65534 for an id that does not fit."""
    cpu = Cpu("arm", arm_call(ARM_GETPPID))
    assert cpu.run({ARM_GETPPID: host("getpid", limit=1, overflow=65534)}) == 65534


def clock_call(word: int = 4, clocks: int = 1 << CLOCK_MONOTONIC) -> MachineCall:
    return MachineCall("clock", word=word, clocks=clocks)


@needs_lib
def test_clock_gettime_writes_the_struct_in_the_guests_layout():
    cpu = Cpu("arm", arm_call(ARM_CLOCK_GETTIME))
    before = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    assert cpu.run({ARM_CLOCK_GETTIME: clock_call()}, r0=CLOCK_MONOTONIC, r1=DATA) == 0
    after = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    seconds, nanoseconds = struct.unpack("<2I", cpu.memory.read(DATA, 8))
    assert before <= seconds * 10**9 + nanoseconds <= after
    assert cpu.given == []


@needs_lib
@pytest.mark.parametrize("clock,pointer", [
    (CLOCK_MONOTONIC, FROZEN),           # read-only: EFAULT is the handler's to give
    (CLOCK_MONOTONIC, HOLE),
    (CLOCK_MONOTONIC, 0x50000),          # unmapped
    (CLOCK_MONOTONIC, CODE),             # code: its translations must go (Python's part)
    (CLOCK_MONOTONIC, DATA + PAGE - 4),  # runs past the region
    (0, DATA),                           # a clock not in the set
])
def test_a_clock_call_it_is_not_sure_of_goes_to_the_handler(clock, pointer):
    cpu = Cpu("arm", arm_call(ARM_CLOCK_GETTIME))
    result = cpu.run({ARM_CLOCK_GETTIME: clock_call()}, r0=clock, r1=pointer)
    assert (result, cpu.given) == (HANDLED, [ARM_CLOCK_GETTIME])
    assert cpu.memory.read(FROZEN, 8) == bytes(8)


@needs_lib
def test_a_write_goes_to_the_descriptor_the_table_names():
    reader, writer = os.pipe()
    try:
        cpu = Cpu("arm", arm_call(ARM_WRITE))
        cpu.memory.write(DATA, b"hello")
        table = array.array("i", [-1] * 8)
        table[5] = writer
        marked = {ARM_WRITE: MachineCall("write", descriptors=table)}
        assert cpu.run(marked, r0=5, r1=DATA, r2=5) == 5
        assert os.read(reader, 100) == b"hello" and cpu.given == []
        for fd, pointer, count in ((6, DATA, 5),        # not in the table
                                   (5, HOLE, 1),        # no right to read
                                   (5, DATA, 0),        # nothing: the handler says 0
                                   (5, DATA + PAGE - 2, 4),  # runs past the region
                                   (-1 & 0xFFFFFFFF, DATA, 1)):
            cpu.given.clear()
            cpu.accel.regs.write("pc", CODE)
            assert cpu.run(marked, r0=fd, r1=pointer, r2=count) == HANDLED
            assert cpu.given == [ARM_WRITE]
        os.set_blocking(reader, False)
        with pytest.raises(BlockingIOError):
            os.read(reader, 100)
    finally:
        os.close(reader)
        os.close(writer)


@needs_lib
def test_powerpc_errors_set_cr0_so_and_answers_clear_it():
    cpu = Cpu("ppc", ppc_call(64))                     # getppid
    register, bit = cpu.accel.spec.linux.syscall.error_flag
    cpu.accel.syscall_handler = lambda number, args: -22
    cpu.accel.regs.write(register, 0)
    assert cpu.run({}) == 22                           # EINVAL, positive
    assert cpu.accel.regs.read(register) & bit
    cpu.accel.regs.write("pc", CODE)
    assert cpu.run({64: host("getppid")}) == os.getppid()
    assert not cpu.accel.regs.read(register) & bit


@needs_lib
def test_a_stop_or_an_error_from_the_handler_ends_the_run():
    cpu = Cpu("arm", arm_call(ARM_GETPPID))
    cpu.accel.syscall_handler = lambda number, args: Exit(3)
    assert cpu.accel.run() == Exit(3)
    cpu.accel.regs.write("pc", CODE)

    def broken(number, args):
        raise RuntimeError("a bug of ours")
    cpu.accel.syscall_handler = broken
    with pytest.raises(RuntimeError, match="a bug of ours"):
        cpu.accel.run()


@needs_lib
def test_x86_64s_syscall_instruction_is_served_too():
    code = b"\x48\xc7\xc0" + struct.pack("<i", 110) + b"\x0f\x05\x0f\x0b"  # getppid; ud2
    memory = Memory()
    memory.map(CODE, PAGE, RX)
    memory.write(CODE, code)
    spec = by_name("x86_64")
    for page in spec.linux.reserved:
        memory.map(page.start, page.size, page.perms, page.name)
        memory.write(page.start, page.data)
    accel = TcgAccelerator(spec, memory)
    accel.regs.write("rip", CODE)
    accel.syscall_handler = lambda number, args: HANDLED
    accel.serve_in_machine({110: host("getppid")})
    assert isinstance(accel.run(), Fault)
    assert accel.regs.read("rax") == os.getppid()


# -- what the Linux layer marks ---------------------------------------------

@pytest.mark.parametrize("arch", ARCHS)
def test_the_dispatcher_marks_the_fact_calls_on_every_arch(arch):
    g = Guest(arch, "tcg")
    try:
        numbers = g.spec.linux.syscall_numbers
        marked = g.dispatch.in_machine
        for name in ("getpid", "getppid", "clock_gettime", "gettimeofday", "write"):
            assert numbers[name] in marked, name
        assert marked[numbers["write"]].descriptors is g.process.fds.direct
        word = g.spec.bits // 8
        assert marked[numbers["clock_gettime"]].word == word
        assert numbers["read"] not in marked
        # --stats and --strace see every call
        assert Dispatcher(Thread(g.process, tid=1), counts=Counter()).in_machine == {}
    finally:
        g.close()


def test_an_arch_handler_of_the_same_name_is_never_bypassed():
    spec = by_name("arm")
    names = set(spec.linux.syscall_handlers)
    g = Guest("arm", "tcg")
    try:
        numbers = spec.linux.syscall_numbers
        assert not any(numbers.get(name) in g.dispatch.in_machine for name in names)
    finally:
        g.close()


def test_the_direct_table_follows_the_descriptors(tmp_path):
    """Only files and character devices are written to from machine code;
    the table changes with every open, dup2, close, fork copy and exec."""
    table = FdTable()
    path = tmp_path / "f"
    path.write_bytes(b"")
    regular = table.add(os.open(path, os.O_WRONLY))
    null = table.add(os.open("/dev/null", os.O_WRONLY))
    reader, writer = os.pipe()
    piped = table.add(writer)
    evented = table.add(os.eventfd(0))
    assert table.direct[regular] == table.host(regular)
    assert table.direct[null] == table.host(null)
    assert table.direct[piped] == table.direct[evented] == -1
    table.put(regular, reader)                        # dup2 of a pipe over the file
    assert table.direct[regular] == -1
    table.put(piped, os.open("/dev/null", os.O_WRONLY))
    assert table.direct[piped] == table.host(piped)
    copied = table.copy()
    assert copied.direct is not table.direct
    assert copied.direct[null] == copied.host(null) != table.host(null)
    table.close(null)
    assert table.direct[null] == -1 and copied.direct[null] != -1
    copied.close_all()
    assert set(copied.direct) == {-1} and len(copied.direct) == DIRECT_SLOTS
    table.close_all()
