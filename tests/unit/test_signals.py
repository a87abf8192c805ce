"""The Linux layer's signal state: guest layouts of sigset_t, sigaction and
siginfo, pending queues, the order of delivery, and the restart rule."""
import errno
import struct

import pytest

from tests.guests.cases import ARCHS
from xemu.archs import by_name
from xemu.linux.signals import (ERESTART_RESTARTBLOCK, ERESTARTNOHAND, ERESTARTNOINTR,
                                ERESTARTSYS, SI_QUEUE, SigAction, Siginfo, SignalQueue,
                                SignalsPending, _finish_syscall, bit, default_action,
                                lowest, sigset_bytes, sigset_value)
from xemu.archs.base import SA_RESTART


def test_a_32_bit_sigset_is_two_words_low_first_in_guest_byte_order():
    ppc, arm = by_name("ppc"), by_name("arm")
    value = bit(10) | bit(34)
    assert sigset_bytes(ppc, value) == struct.pack(">II", 1 << 9, 1 << 1)
    assert sigset_bytes(arm, value) == struct.pack("<II", 1 << 9, 1 << 1)
    assert sigset_bytes(by_name("aarch64"), value) == struct.pack("<Q", value)
    for arch in ARCHS:
        spec = by_name(arch)
        assert sigset_value(spec, sigset_bytes(spec, value)) == value


@pytest.mark.parametrize("arch", ARCHS)
def test_sigaction_round_trips_in_the_guests_layout(arch):
    spec = by_name(arch)
    action = SigAction(handler=0x1234, flags=0x04000004, restorer=0x5678, mask=bit(2) | bit(40))
    raw = action.pack(spec)
    assert len(raw) == SigAction.size(spec) == 3 * spec.word_size + 8
    assert SigAction.unpack(spec, raw) == action


@pytest.mark.parametrize("arch", ARCHS)
def test_siginfo_union_starts_at_the_word_boundary(arch):
    spec = by_name(arch)
    union = 16 if spec.bits == 64 else 12
    info = Siginfo(11, 1, address=0xdead0).pack(spec)
    assert len(info) == 128
    assert struct.unpack_from(spec.endian + "iii", info) == (11, 0, 1)
    word = "Q" if spec.bits == 64 else "I"
    assert struct.unpack_from(spec.endian + word, info, union)[0] == 0xdead0
    queued = Siginfo(40, SI_QUEUE, pid=7, uid=8, value=42).pack(spec)
    assert struct.unpack_from(spec.endian + "iI", queued, union) == (7, 8)
    assert struct.unpack_from(spec.endian + word, queued, union + 8)[0] == 42


def test_standard_signals_coalesce_and_real_time_ones_queue_in_order():
    queue = SignalQueue()
    for value in (1, 2):
        queue.add(Siginfo(10, value=value))
    for value in (3, 4):
        queue.add(Siginfo(40, value=value))
    assert queue.mask == bit(10) | bit(40)
    assert queue.take(10).value == 1
    assert queue.mask == bit(40)
    assert [queue.take(40).value for _ in range(2)] == [3, 4]
    assert queue.mask == 0


def test_faults_go_first_then_the_lowest_number():
    assert lowest(bit(2) | bit(11) | bit(40)) == 11       # SIGSEGV before SIGINT
    assert lowest(bit(15) | bit(2)) == 2
    assert lowest(bit(64)) == 64


def test_default_actions():
    assert default_action(17) == "ignore"                 # SIGCHLD
    assert default_action(11) == "core"
    assert default_action(20) == "stop"
    assert default_action(18) == "continue"
    assert default_action(15) == default_action(50) == "terminate"


class FakeRegisters(dict):
    def read(self, name):
        return self[name]

    def write(self, name, value):
        self[name] = value


class FakeThread:
    def __init__(self, spec):
        self.process = type("P", (), {"spec": spec})()
        self.regs = FakeRegisters(pc=0x1004, cpsr=0, r7=0, **{f"r{i}": 0 for i in range(7)})
        self.results = []
        self.accel = type("A", (), {"set_syscall_result": lambda _, r: self.results.append(r)})()


@pytest.mark.parametrize("code,flags,handled,restarts", [
    (-ERESTARTSYS, SA_RESTART, True, True),
    (-ERESTARTSYS, 0, True, False),
    (-ERESTARTNOHAND, SA_RESTART, True, False),
    (-ERESTART_RESTARTBLOCK, SA_RESTART, True, False),
    (-ERESTARTNOINTR, 0, True, True),
    (-ERESTARTSYS, 0, False, True),                   # no handler ran: always again
    (-ERESTARTNOHAND, 0, False, True),
])
def test_an_interrupted_call_restarts_or_fails_with_eintr(code, flags, handled, restarts):
    spec = by_name("arm")
    thread = FakeThread(spec)
    call = SignalsPending(code, 3, (5, 0x2000, 1, 0, 0, 0))
    _finish_syscall(thread, call, SigAction(0x8000, flags) if handled else None)
    if restarts:
        assert thread.results == []
        assert thread.regs["pc"] == 0x1000 and thread.regs["r7"] == 3
        assert thread.regs["r0"] == 5 and thread.regs["r1"] == 0x2000
    else:
        assert thread.results == [-errno.EINTR] and thread.regs["pc"] == 0x1004


def test_a_thumb_syscall_restarts_two_bytes_back_in_thumb():
    thread = FakeThread(by_name("arm"))
    thread.regs["cpsr"] = 0x20                          # T
    _finish_syscall(thread, SignalsPending(-ERESTARTSYS, 3, (0,) * 6), None)
    assert thread.regs["pc"] == 0x1002 | 1
