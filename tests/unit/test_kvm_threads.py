"""Several vCPUs in one KVM address space, each run by its own host thread
at the same time, as a guest process's threads are (machine/accel/kvm/):
system calls, faults and memory-map changes in parallel, per-vCPU exception
frames, shootdowns, kicks, closing one vCPU while others run, and a new
thread's copy of its parent's registers. The guest code is hand-assembled
x86-64 (the assembly beside each program)."""
import os
import signal
import struct
import subprocess
import sys
import threading
import time

import pytest

from tests.helpers import kvm_skip_reason

REASON = kvm_skip_reason("x86_64")
pytestmark = pytest.mark.skipif(bool(REASON), reason=REASON or "KVM")

from xemu.archs import by_name                                             # noqa: E402
from xemu.machine.accel.base import (KICK_SIGNAL, Exit, Fault, Interrupted,  # noqa: E402
                                     Woken)
from xemu.machine.memory import PAGE, PROT_EXEC, PROT_READ, PROT_WRITE, Memory  # noqa: E402

SPEC = by_name("x86_64")
RW, RX = PROT_READ | PROT_WRITE, PROT_READ | PROT_EXEC
CODE, STACKS, DATA, UNMAPPED = 0x400000, 0x10000000, 0x20000000, 0x30000000
COUNT, SYNC, EXIT, CLONE = 500, 501, 60, 56     # the calls these programs make
JOIN = 10                                       # seconds before a thread counts as hung

# rbx: a page of its own, r12: how many calls. Each round: call COUNT (it
# answers how many calls this vCPU made), store the answer at [rbx], add 1
# to [rbx+8]; then exit([rbx+8]).
#   xor r13, r13
# loop: mov eax, 500; syscall; mov [rbx], rax; add qword [rbx+8], 1
#   inc r13; cmp r13, r12; jb loop
#   mov rdi, [rbx+8]; mov eax, 60; syscall
COUNTER = bytes.fromhex("4d31edb8f40100000f05488903488343080149ffc54d39e572e9"
                        "488b7b08b83c0000000f05")
# mov eax, 501; syscall (all vCPUs meet there); mov rax, [rdi] (unmapped)
FAULTER = bytes.fromhex("b8f50100000f05488b07")
FAULTER_LOAD = 7
# mov eax, 500; syscall (says it runs); loop: mov rax, [rbx]; jmp loop
READER = bytes.fromhex("b8f40100000f05488b03ebfb")
# mov eax, 500; syscall; loop: mov [rbx], rax; inc rax; jmp loop
WRITER = bytes.fromhex("b8f40100000f0548890348ffc0ebf8")
LOOP = 7                                        # where the loop of both begins
# loop: mov rax, [rbx]; mov rcx, [r12]; test rcx, rcx; jz loop
#   mov edi, 0; mov eax, 60; syscall         (reads [rbx] until [r12] is set)
WATCHER = bytes.fromhex("488b03498b0c244885c974f4bf00000000b83c0000000f05")
# mov eax, 56; syscall; push rax; mov rdi, fs:[0] (absolute); pop rsi; add rdi, rsi
#   mov eax, 60; syscall              (exit(TLS word + the call's result))
CLONER = bytes.fromhex("b8380000000f055064488b3c25000000005e4801f7b83c0000000f05")


def stack_top(index: int) -> int:
    return STACKS + (index + 1) * PAGE - 64


def new_memory(programs: dict[int, bytes], stacks: int = 4, data_pages: int = 4) -> Memory:
    memory = Memory()
    memory.map(CODE, 0x1000, RX)
    for address, code in programs.items():
        memory.write(address, code)
    memory.map(STACKS, stacks * PAGE, RW)
    memory.map(DATA, data_pages * PAGE, RW)
    return memory


def vcpus(memory: Memory, count: int) -> list:
    from xemu.machine.accel.kvm import KvmAccelerator
    first = KvmAccelerator(SPEC, memory)
    made = [first]
    try:
        for _ in range(count - 1):
            made.append(KvmAccelerator(SPEC, memory, space=first.space))
    except BaseException:
        close_all(made)
        raise
    return made


def close_all(accels: list) -> None:
    for accel in reversed(accels):
        accel.close()


def start(accel, entry: int, index: int, **registers) -> None:
    accel.regs.write("rip", entry)
    accel.regs.write("rsp", stack_top(index))
    for name, value in registers.items():
        accel.regs.write(name, value)


class Runner(threading.Thread):
    """accel.run() in a host thread of its own (as a guest thread is)."""

    def __init__(self, accel, body=None):
        super().__init__(daemon=True)
        self.accel = accel
        self.body = body or accel.run
        self.result = self.error = None

    def run(self) -> None:
        try:
            self.result = self.body()
        except BaseException as e:      # noqa: BLE001 - handed to the test
            self.error = e

    def started(self) -> "Runner":
        self.start()
        return self

    def outcome(self, timeout: float = JOIN):
        self.join(timeout)
        if self.is_alive():
            self.accel.wake()            # do not leave it spinning
            self.join(JOIN)
            raise AssertionError("the vCPU's thread did not finish")
        if self.error is not None:
            raise self.error
        return self.result


def until(condition) -> None:
    """Wait for a vCPU's state (what no Event can tell: it is in guest code)."""
    deadline = time.monotonic() + JOIN
    while not condition():
        assert time.monotonic() < deadline, "the vCPU never got there"
        time.sleep(0.001)


def run_together(accels: list, bodies: list | None = None) -> list:
    runners = [Runner(accel, body) for accel, body in zip(accels, bodies or [None] * len(accels))]
    for runner in runners:
        runner.start()
    return [runner.outcome() for runner in runners]


def answering(counts: list, index: int, meet: threading.Barrier | None = None,
              started: threading.Event | None = None):
    def handler(number: int, args: tuple):
        if number == COUNT:
            counts[index] += 1
            if started is not None:
                started.set()
            return counts[index]
        if number == SYNC:
            meet.wait(JOIN)
            return 0
        if number == EXIT:
            return Exit(args[0])
        return -38                       # ENOSYS
    return handler


# -- system calls and memory, in parallel -------------------------------------

@pytest.mark.parametrize("count", [2, 4])
def test_vcpus_make_calls_and_write_their_pages_in_parallel(count):
    calls = 300
    memory = new_memory({CODE: COUNTER}, stacks=count, data_pages=count)
    accels = vcpus(memory, count)
    try:
        counts = [0] * count
        for i, accel in enumerate(accels):
            start(accel, CODE, i, rbx=DATA + i * PAGE, r12=calls)
            accel.syscall_handler = answering(counts, i)
        assert run_together(accels) == [Exit(calls)] * count
        assert counts == [calls] * count
        for i in range(count):
            assert struct.unpack("<QQ", memory.read(DATA + i * PAGE, 16)) == (calls, calls)
        space = accels[0].space
        mode = accels[0].mode
        assert sorted(accel.vcpu.index for accel in accels) == list(range(count))
        for accel in accels:                   # each on its own TSS and stack
            assert accel.regs.system().tr.base == mode.tss_address(accel.vcpu.index)
        assert len({accel.regs.system().tr.base for accel in accels}) == count
        assert all(accel.space is space for accel in accels)
    finally:
        close_all(accels)


def test_vcpus_faulting_at_once_each_get_their_own_frame():
    """Each vCPU's fault frame is on its own stack: the pc (from the frame),
    the address (its CR2) and the stack pointer (from the frame) are its
    own, round after round, with all of them faulting at the same moment."""
    count, rounds = 4, 40
    entries = [CODE + 0x100 * i for i in range(count)]      # a different pc each
    memory = new_memory({entry: FAULTER for entry in entries}, stacks=count)
    accels = vcpus(memory, count)
    meet = threading.Barrier(count)
    try:
        counts = [0] * count

        def rounds_of(i: int):
            accel = accels[i]
            seen = []
            for _ in range(rounds):
                start(accel, entries[i], i, rdi=UNMAPPED + i * PAGE)
                seen.append((accel.run(), accel.regs.read("rsp")))
            return seen

        for i, accel in enumerate(accels):
            accel.syscall_handler = answering(counts, i, meet)
        results = run_together(accels, [lambda i=i: rounds_of(i) for i in range(count)])
        for i, seen in enumerate(results):
            expected = Fault(signal.SIGSEGV, entries[i] + FAULTER_LOAD, UNMAPPED + i * PAGE,
                             "read", "unmapped")
            assert seen == [(expected, stack_top(i))] * rounds
    finally:
        close_all(accels)


# -- a change to the map reaches the vCPUs that run ---------------------------

def test_unmapping_from_the_host_side_is_seen_by_a_running_vcpu():
    """munmap from outside the vCPU's thread while it reads a page in a
    loop: the change is a shootdown (it returns once the vCPU has left the
    guest, to enter it again with the new map), even for a page it does
    not touch; unmapping its own page, it faults on its next read."""
    memory = new_memory({CODE: READER})
    memory.map(UNMAPPED, PAGE, RW)                 # a region the reader never touches
    (reader,) = accels = vcpus(memory, 1)
    space = reader.space
    started = threading.Event()
    try:
        start(reader, CODE, 0, rbx=DATA)
        reader.syscall_handler = answering([0], 0, started=started)
        runner = Runner(reader)
        runner.start()
        assert started.wait(JOIN)
        until(lambda: reader._in_guest)            # back in the guest after that call
        memory.unmap(UNMAPPED, PAGE)
        with space.lock:
            assert not reader._in_guest or reader._generation == space.generation
        assert runner.is_alive()                   # it just went on reading
        memory.unmap(DATA, PAGE)
        assert runner.outcome() == Fault(signal.SIGSEGV, CODE + LOOP, DATA, "read", "unmapped")
    finally:
        close_all(accels)


def test_rights_taken_in_place_stop_a_vcpu_writing_in_a_loop():
    """A page made read-only where it is (the debugger's watchpoints): the
    vCPU writing it in a loop never leaves the guest by itself, so only the
    kick makes it reload the tables (on a shadow-paging host, the VM-wide
    reload, with every vCPU out of the guest)."""
    memory = new_memory({CODE: WRITER})
    accels = vcpus(memory, 2)              # the other one stays idle
    writer = accels[0]
    started = threading.Event()
    try:
        start(writer, CODE, 0, rbx=DATA + PAGE)
        writer.syscall_handler = answering([0], 0, started=started)
        runner = Runner(writer)
        runner.start()
        assert started.wait(JOIN)
        writer.space.set_page_rights(DATA + PAGE, PROT_READ)
        assert runner.outcome() == Fault(signal.SIGSEGV, CODE + LOOP, DATA + PAGE, "write",
                                         "protection")
    finally:
        close_all(accels)


def test_mprotect_and_munmap_in_a_call_never_take_pages_away_from_another_vcpu():
    """One vCPU's calls change the protection of a region another vCPU
    reads all the time, and split it: the pieces put back never go missing
    in between (no false fault), and the last call's munmap of the other
    pages does not disturb it either."""
    calls = 40
    region, watched, stop = DATA, DATA + PAGE, DATA + 3 * PAGE
    memory = new_memory({CODE: COUNTER, CODE + 0x100: WATCHER}, stacks=2, data_pages=5)
    changer, watcher = accels = vcpus(memory, 2)
    counts = [0, 0]
    try:
        def change(number: int, args: tuple):
            if number == COUNT:
                counts[0] += 1
                memory.protect(region, 3 * PAGE, PROT_READ)
                memory.protect(region, PAGE, RW)           # splits
                memory.protect(region, 3 * PAGE, RW)
                if counts[0] == calls:
                    memory.unmap(region + 2 * PAGE, PAGE)
                return counts[0]
            return Exit(args[0]) if number == EXIT else -38

        start(changer, CODE, 0, rbx=DATA + 4 * PAGE, r12=calls)
        changer.syscall_handler = change
        start(watcher, CODE + 0x100, 1, rbx=watched, r12=stop)
        watcher.syscall_handler = answering(counts, 1)
        watching = Runner(watcher)
        watching.start()
        changing = Runner(changer)
        changing.start()
        assert changing.outcome() == Exit(calls)
        memory.write(stop, struct.pack("<Q", 1))
        assert watching.outcome() == Exit(0)
        assert memory.region_at(region + 2 * PAGE) is None
    finally:
        close_all(accels)


# -- kicks reach the thread that runs the vCPU ---------------------------------

def test_wake_and_interrupt_reach_the_thread_running_the_vcpu_and_no_handler():
    """The vCPU was made in this thread and runs in another: wake() and
    interrupt() stop it there. Their KICK_SIGNAL never reaches a handler
    (wake() says it sent none the signal watcher would see)."""
    memory = new_memory({CODE: READER})
    (accel,) = accels = vcpus(memory, 1)
    handled = []
    previous = signal.signal(KICK_SIGNAL, lambda number, frame: handled.append(number))
    try:
        start(accel, CODE, 0, rbx=DATA)
        for stop_it, expected in ((accel.wake, Woken()), (accel.wake, Woken()),
                                  (accel.interrupt, Interrupted(CODE + LOOP))):
            started = threading.Event()
            accel.syscall_handler = answering([0], 0, started=started)
            accel.regs.write("rip", CODE)
            runner = Runner(accel)
            runner.start()
            assert started.wait(JOIN)
            assert stop_it() in (None, False)
            stop = runner.outcome()
            if isinstance(expected, Interrupted):     # somewhere in the loop
                assert isinstance(stop, Interrupted) and CODE + LOOP <= stop.pc < CODE + 12
            else:
                assert stop == expected
        accel.wake()                                   # not running: its next run
        assert accel.run() == Woken()
        assert handled == []
    finally:
        signal.signal(KICK_SIGNAL, previous)
        close_all(accels)


def test_an_outside_sigusr1_taken_by_a_running_vcpu_reaches_its_handler():
    """KICK_SIGNAL from outside xemu, while the vCPU's thread blocks it: the
    vCPU takes it, stops (Woken) and sends it again to its thread, whose
    handler then runs as it would have."""
    memory = new_memory({CODE: READER})
    (accel,) = accels = vcpus(memory, 1)
    handled = threading.Event()
    previous = signal.signal(KICK_SIGNAL, lambda number, frame: handled.set())
    started = threading.Event()
    rescued = []

    def outsider() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {KICK_SIGNAL})   # only the vCPU may take it
        started.wait(JOIN)
        subprocess.run([sys.executable, "-c", f"import os; os.kill({os.getpid()}, {KICK_SIGNAL})"],
                       check=True, timeout=JOIN)                   # `kill -USR1` from outside
        if not done.wait(JOIN):                                    # never hang the suite
            rescued.append(True)
            accel.wake()

    done = threading.Event()
    try:
        start(accel, CODE, 0, rbx=DATA)
        accel.syscall_handler = answering([0], 0, started=started)
        helper = threading.Thread(target=outsider, daemon=True)
        helper.start()
        stop = accel.run()                          # in the main thread
        done.set()
        assert handled.wait(JOIN)
        helper.join(JOIN)
        assert stop == Woken() and not rescued
    finally:
        done.set()
        signal.signal(KICK_SIGNAL, previous)
        close_all(accels)


# -- threads that end, threads that begin --------------------------------------

def test_a_vcpu_closed_while_another_runs_and_its_reuse():
    memory = new_memory({CODE: COUNTER, CODE + 0x100: WATCHER}, stacks=3)
    from xemu.machine.accel.kvm import KvmAccelerator
    (watcher,) = vcpus(memory, 1)
    space = watcher.space
    stop = DATA + 3 * PAGE
    try:
        start(watcher, CODE + 0x100, 0, rbx=DATA, r12=stop)
        watcher.syscall_handler = answering([0], 0)
        watching = Runner(watcher)
        watching.start()

        def short_thread(index: int, calls: int):
            accel = KvmAccelerator(SPEC, memory, space=space)
            start(accel, CODE, index, rbx=DATA + index * PAGE, r12=calls)
            accel.syscall_handler = answering([0, 0, 0], index)

            def body():
                try:
                    return accel.run(), accel.vcpu.index
                finally:
                    accel.close()                     # its thread's end
            return accel, body

        first, body = short_thread(1, 10)
        first.regs.write("xmm3", 0x1234_5678)
        assert Runner(first, body).started().outcome() == (Exit(10), 1)
        assert not space.closed and space.vcpus == [watcher] and watching.is_alive()
        second, body = short_thread(2, 5)          # the vCPU the first one left
        assert second.vcpu is first.vcpu and second.regs.read("xmm3") == 0
        assert second.regs.system().tr.base == second.mode.tss_address(1)
        assert Runner(second, body).started().outcome() == (Exit(5), 1)
        memory.write(stop, struct.pack("<Q", 1))
        assert watching.outcome() == Exit(0)
    finally:
        watcher.close()
    assert space.closed and space not in memory.listeners


def test_a_new_threads_vcpu_copies_its_parents_registers():
    """clone as the Linux layer makes it: the parent's context restored in a
    new vCPU, then another stack, TLS base and result; both run on at once,
    each with its own stack, TLS, task register and CR3."""
    tls = DATA + 2 * PAGE
    memory = new_memory({CODE: CLONER}, stacks=2)
    memory.write(tls, struct.pack("<Q", 1000))
    memory.write(tls + 0x100, struct.pack("<Q", 2000))
    (parent,) = accels = vcpus(memory, 1)
    try:
        start(parent, CODE, 0, rbx=0x5555, fs_base=tls)
        parent.syscall_handler = lambda number, args: Woken() if number == CLONE \
            else Exit(args[0]) if number == EXIT else -38
        assert parent.run() == Woken()             # the call done, the pc past it
        from xemu.machine.accel.kvm import KvmAccelerator
        child = KvmAccelerator(SPEC, memory, space=parent.space)
        accels.append(child)
        child.regs.restore(parent.regs.save())
        child.regs.write("rsp", stack_top(1))
        child.regs.write("fs_base", tls + 0x100)
        child.set_syscall_result(0)
        parent.set_syscall_result(77)
        child.syscall_handler = parent.syscall_handler
        assert child.regs.read("rbx") == 0x5555 and child.regs.read("rip") == CODE + 7
        assert child.regs.system().tr.base == child.mode.tss_address(child.vcpu.index) \
            != parent.regs.system().tr.base
        assert run_together([parent, child]) == [Exit(1077), Exit(2000)]
        assert memory.read(stack_top(0) - 8, 8) == struct.pack("<Q", 77)
        assert memory.read(stack_top(1) - 8, 8) == struct.pack("<Q", 0)
    finally:
        close_all(accels)


def test_compat_mode_vcpus_have_their_own_tss_too():
    """i386 (compatibility mode) builds per-vCPU TSSs the same way, whether
    or not this host's KVM runs that mode (it may fall back to TCG)."""
    from xemu.machine.accel.kvm import KvmAccelerator
    spec = by_name("i386")
    memory = Memory()
    for page in spec.linux.reserved:
        memory.map(page.start, page.size, RW)
    first = KvmAccelerator(spec, memory)
    second = KvmAccelerator(spec, memory, space=first.space)
    try:
        mode = first.mode
        for accel in (first, second):
            index = accel.vcpu.index
            assert accel.regs.system().tr.base == mode.tss_address(index)
            rsp0 = struct.unpack_from("<Q", accel.cpu_page, 4)[0]
            assert rsp0 == mode.virtual(mode.cpu_page_offset(index) + PAGE)
        assert first.vcpu.index != second.vcpu.index
    finally:
        second.close()
        first.close()


def test_a_fork_while_another_vcpu_runs_gives_the_child_a_vm_of_its_own():
    """A host fork (a guest fork) made while another thread's vCPU runs:
    the child's copy of the VM is not its own (and its lock may have been
    held): it follows the memory no more, the child's new VM works, and
    closing the copy closes every descriptor of it."""
    from xemu.machine.accel.kvm import KvmAccelerator
    memory = new_memory({CODE: COUNTER, CODE + 0x100: READER}, stacks=2)
    forker, reader = accels = vcpus(memory, 2)
    started = threading.Event()
    start(reader, CODE + 0x100, 1, rbx=DATA)
    reader.syscall_handler = answering([0, 0], 1, started=started)
    runner = Runner(reader)
    runner.start()
    try:
        assert started.wait(JOIN)
        until(lambda: reader._in_guest)
        pid = os.fork()
        if pid == 0:                                   # the child: no pytest from here
            status = 1
            try:
                signal.alarm(JOIN)                     # never a hung child
                fresh = KvmAccelerator(SPEC, memory)   # its own VM, as cpu_in_child makes
                memory.map(UNMAPPED, PAGE, RW)         # the copy ignores it
                start(fresh, CODE, 0, rbx=UNMAPPED, r12=3)
                fresh.syscall_handler = answering([0], 0)
                forker.close()                         # the parent's VM: closed at once
                copy = forker.space
                status = 0 if (fresh.run() == Exit(3) and copy.closed
                               and copy not in memory.listeners) else 2
                fresh.close()
            finally:
                os._exit(status)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert runner.is_alive()                       # the parent's vCPU ran on
    finally:
        reader.wake()
        assert runner.outcome() == Woken()
        close_all(accels)


# -- the registers of a system call travel in the kvm_run page ------------------

@pytest.mark.parametrize("synced", [True, False], ids=["sync-regs", "ioctls"])
def test_a_system_call_costs_no_register_ioctl_where_kvm_syncs_them(synced, monkeypatch):
    """With KVM_CAP_SYNC_REGS the arguments are read from, and the result
    written to, the kvm_run page: no KVM_GET_REGS or KVM_SET_REGS per call
    (three ioctls a call became one). Without it (the variable that turns
    it off, or an older KVM), the same program gives the same answers."""
    from xemu.machine.accel.kvm import vm
    if not synced:
        monkeypatch.setenv("XEMU_KVM_NO_SYNC_REGS", "1")
    calls = {"get": 0, "set": 0}
    real_get, real_set = vm.Vcpu.get_regs, vm.Vcpu.set_regs

    def counting(kind, real):
        def method(self, regs):
            calls[kind] += 1
            return real(self, regs)
        return method
    monkeypatch.setattr(vm.Vcpu, "get_regs", counting("get", real_get))
    monkeypatch.setattr(vm.Vcpu, "set_regs", counting("set", real_set))
    memory = new_memory({CODE: COUNTER})
    [accel] = vcpus(memory, 1)
    try:
        if synced and not accel.regs.in_run_page:
            pytest.skip("this KVM has no KVM_CAP_SYNC_REGS")
        counts = [0]
        accel.syscall_handler = answering(counts, 0)
        start(accel, CODE, 0, rbx=DATA, r12=200)
        assert accel.run(timeout=JOIN) == Exit(200)
        assert counts == [200]
        assert struct.unpack_from("<Q", memory.read(DATA, 8))[0] == 200
        if synced:
            assert calls["get"] + calls["set"] < 10
        else:
            assert calls["get"] >= 200 and calls["set"] >= 200
    finally:
        accel.close()
