"""The shape for processes and threads: the OS loop's handling of each Stop,
calls bound per thread, exit vs exit_group, registers a handler sets itself,
a whole CPU context saved and restored, and the data each arch declares for
clone. No guest program runs here."""
import struct

import pytest

from tests.guests.cases import ARCHS
from xemu.archs import all_specs, by_name
from xemu.archs.base import CLONE_BACKWARDS, CloneABI
from xemu.errors import ArchError, ImageError, XemuError
from xemu.linux.loop import run_thread
from xemu.linux.process import Process
from xemu.linux.signals import sigset_bytes
from xemu.linux.syscalls import Dispatcher
from xemu.linux.thread import Thread, ThreadExit
from xemu.loader.image import open_image
from xemu.machine.accel.base import REGISTERS_SET, Exit, Fault
from xemu.machine.accel.tcg import TcgAccelerator
from xemu.machine.boards import default_machine
from xemu.machine.memory import PROT_EXEC, PROT_READ, PROT_WRITE, Memory
from tests.guests.cases import binary

RW = PROT_READ | PROT_WRITE
DATA = 0x10000


def process_with_threads(arch: str, *tids: int) -> tuple[Process, list[Thread]]:
    memory = Memory()
    memory.map(DATA, 0x1000, RW)
    process = Process(by_name(arch), memory, exe=None, brk_start=0x20000)
    threads = [Thread(process, tid) for tid in tids]
    for thread in threads:
        process.threads[thread.tid] = thread
    return process, threads


def number(arch: str, name: str) -> int:
    return by_name(arch).linux.syscall_numbers[name]


# -- the OS loop ----------------------------------------------------------

def test_exit_of_the_last_thread_ends_the_process_with_its_status():
    process, (thread,) = process_with_threads("arm", 100)
    assert run_thread(thread, lambda: ThreadExit(3)) == Exit(3)
    assert process.threads == {}


def test_exit_of_one_thread_leaves_the_others_and_clears_its_tid_word():
    process, (first, second) = process_with_threads("ppc", 100, 101)
    process.mem.write(DATA, b"\xff" * 4)
    second.clear_child_tid = DATA
    assert run_thread(second, lambda: ThreadExit(0)) == ThreadExit(0)
    assert list(process.threads) == [100]
    assert process.mem.read(DATA, 4) == bytes(4)


def test_a_bad_clear_child_tid_address_is_ignored_as_linux_does():
    process, (thread,) = process_with_threads("aarch64", 100)
    thread.clear_child_tid = 0xDEAD0000
    assert run_thread(thread, lambda: ThreadExit(1)) == Exit(1)


def test_a_fault_ends_the_run_with_its_signal():
    _, (thread,) = process_with_threads("x86_64", 100)
    fault = Fault(11, 0x1234, 0, "write", "unmapped")
    assert run_thread(thread, lambda: fault) is fault


# -- calls bound per thread -----------------------------------------------

@pytest.mark.parametrize("arch", ARCHS)
def test_exit_ends_a_thread_and_exit_group_the_process(arch):
    _, (thread,) = process_with_threads(arch, 100)
    dispatcher = Dispatcher(thread)
    assert dispatcher(number(arch, "exit"), (7, 0, 0, 0, 0, 0)) == ThreadExit(7)
    assert dispatcher(number(arch, "exit_group"), (7, 0, 0, 0, 0, 0)) == Exit(7)


@pytest.mark.parametrize("arch", ARCHS)
def test_per_thread_calls_act_on_the_calling_thread(arch):
    process, (first, second) = process_with_threads(arch, 100, 101)
    calls = {t.tid: Dispatcher(t) for t in (first, second)}
    assert calls[101](number(arch, "gettid"), (0,) * 6) == 101
    assert calls[100](number(arch, "set_tid_address"), (DATA, 0, 0, 0, 0, 0)) == 100
    assert (first.clear_child_tid, second.clear_child_tid) == (DATA, 0)
    # block signal 10 in the second thread only
    process.mem.write(DATA, sigset_bytes(process.spec, 1 << 9))
    assert calls[101](number(arch, "rt_sigprocmask"), (0, DATA, 0, 8, 0, 0)) == 0
    assert second.blocked == 1 << 9
    assert first.blocked == 0


def test_an_unknown_host_errno_number_maps_through_the_arch_table(monkeypatch):
    process, (thread,) = process_with_threads("arm", 100)
    dispatcher = Dispatcher(thread)
    dispatcher.errno_map = {9: 77}                  # as an arch with other numbers would
    assert dispatcher(number("arm", "close"), (555, 0, 0, 0, 0, 0)) == -77


# -- registers a handler set itself, and whole contexts -------------------

X86_64_SYSCALL = b"\x0f\x05"
CODE, STACK = 0x400000, 0x500000


def tcg_x86_64(handler) -> TcgAccelerator:
    memory = Memory()
    memory.map(CODE, 0x1000, PROT_READ | PROT_EXEC)
    memory.map(STACK, 0x1000, RW)
    memory.write(CODE, X86_64_SYSCALL * 2)
    spec = by_name("x86_64")
    for page in spec.linux.reserved:        # the GDT and the way to CPL 3, as exec maps them
        memory.map(page.start, page.size, page.perms, page.name)
    accel = TcgAccelerator(spec, memory)
    accel.regs.write("rip", CODE)
    accel.syscall_handler = handler
    return accel


def test_a_handler_that_set_the_registers_gets_no_result_written():
    calls = []

    def handler(number, args):
        calls.append(number)
        if len(calls) == 1:
            accel.regs.write("rax", 0x5555)
            return REGISTERS_SET
        return Exit(accel.regs.read("rax") & 0xFF)
    accel = tcg_x86_64(handler)
    accel.regs.write("rax", 39)
    assert accel.run() == Exit(0x55)


def test_run_resumes_from_the_registers_left_by_the_last_stop():
    seen = []

    def handler(number, args):
        seen.append(accel.regs.read("rip"))
        return Exit(len(seen))
    accel = tcg_x86_64(handler)
    assert accel.run() == Exit(1)
    assert accel.run() == Exit(2)               # the second syscall, not the first again
    assert seen == [CODE, CODE + 2]             # (the hook sees the syscall's own pc)


def test_tcg_context_save_and_restore_cover_every_register():
    accel = tcg_x86_64(lambda number, args: Exit(0))
    accel.regs.write("rbx", 0x1111)
    accel.regs.write("xmm3", 0x2222 << 64)
    context = accel.regs.save()
    accel.regs.write("rbx", 0)
    accel.regs.write("xmm3", 0)
    accel.regs.restore(context)
    assert accel.regs.read("rbx") == 0x1111 and accel.regs.read("xmm3") == 0x2222 << 64


# -- what each arch declares ----------------------------------------------

@pytest.mark.parametrize("spec", all_specs(), ids=lambda s: s.name)
def test_clone_abi_names_each_argument_once(spec):
    clone = spec.linux.clone
    assert sorted(clone.args) == sorted(CloneABI().args)
    assert clone.tls in ("register", "user_desc")
    assert clone.tls == "user_desc" or spec.linux.tls_register


def test_clone_argument_orders_follow_the_kernel():
    """CONFIG_CLONE_BACKWARDS everywhere here but x86-64 (kernel/fork.c)."""
    orders = {spec.name: spec.linux.clone.args for spec in all_specs()}
    assert orders.pop("x86_64") == ("flags", "stack", "parent_tid", "child_tid", "tls")
    assert set(orders.values()) == {CLONE_BACKWARDS}


@pytest.mark.parametrize("spec", all_specs(), ids=lambda s: s.name)
def test_every_arch_has_its_gdb_description(spec):
    assert spec.gdb.registers and spec.gdb.architecture


# -- opening an image once ------------------------------------------------

def test_open_image_tells_elf_from_raw_and_checks_arch_once(tmp_path):
    opened = open_image(binary("arm"), None)
    assert opened.spec.name == "arm" and opened.elf is not None and opened.raw is None
    with pytest.raises(ArchError, match="arm program"):
        open_image(binary("arm"), "ppc")
    raw = tmp_path / "boot.bin"
    raw.write_bytes(b"\xf4" * 100)
    opened = open_image(raw, "x86_64")
    assert opened.elf is None and opened.raw == b"\xf4" * 100
    with pytest.raises(ImageError, match="give --arch"):
        open_image(raw, None)


def test_a_board_for_an_arch_without_one_is_a_clear_error():
    with pytest.raises(XemuError, match="no bare-metal board for sparc"):
        default_machine("sparc")


def test_old_mmap_is_the_kernels_entry_point_for_i386_mmap():
    spec = by_name("i386")
    assert spec.linux.syscall_entry_points["mmap"] == "old_mmap"
    process, (thread,) = process_with_threads("i386", 100)
    process.mem.write(DATA, struct.pack("<6I", 0, 0x1000, 3, 0x22, 0xFFFFFFFF, 0))
    assert Dispatcher(thread)(90, (DATA, 0, 0, 0, 0, 0)) == spec.linux.mmap_base


# -- KVM: one address space, several vCPUs --------------------------------

def kvm_or_skip():
    from tests.helpers import kvm_skip_reason
    reason = kvm_skip_reason("x86_64")
    if reason:
        pytest.skip(reason)


def test_two_vcpus_share_one_address_space_and_see_its_changes():
    kvm_or_skip()
    from xemu.machine.accel.kvm import KvmAccelerator
    spec = by_name("x86_64")
    memory = Memory()
    memory.map(CODE, 0x1000, PROT_READ | PROT_EXEC)
    memory.map(STACK, 0x1000, RW)
    store = b"\xc7\x04\x25\x00\x00\x60\x00\x2a\x00\x00\x00"    # mov dword [0x600000], 42
    load = b"\x8b\x04\x25\x00\x00\x60\x00"                     # mov eax, [0x600000]
    memory.write(CODE, store + X86_64_SYSCALL)
    memory.write(CODE + 0x100, load + X86_64_SYSCALL)
    writer = KvmAccelerator(spec, memory)
    reader = KvmAccelerator(spec, memory, space=writer.space)
    try:
        for vcpu, entry in ((writer, CODE), (reader, CODE + 0x100)):
            vcpu.regs.write("rip", entry)
            vcpu.syscall_handler = lambda number, args: Exit(number)
        memory.map(0x600000, 0x1000, RW)           # after both vCPUs exist
        writer.regs.write("rax", 7)
        assert writer.run() == Exit(7)
        assert reader.run() == Exit(42)            # the writer's store, through its map
        assert writer.space is reader.space and len(writer.space.vcpus) == 2
    finally:
        reader.close()
        writer.close()


def test_kvm_context_save_and_restore():
    kvm_or_skip()
    from xemu.machine.accel.kvm import KvmAccelerator
    memory = Memory()
    memory.map(CODE, 0x1000, PROT_READ | PROT_EXEC)
    vcpu = KvmAccelerator(by_name("x86_64"), memory)
    try:
        vcpu.regs.write("rbx", 0x1111)
        vcpu.regs.write("fs_base", 0x7000)
        context = vcpu.regs.save()
        vcpu.regs.write("rbx", 0)
        vcpu.regs.write("fs_base", 0)
        vcpu.regs.sync()
        vcpu.regs.restore(context)
        assert (vcpu.regs.read("rbx"), vcpu.regs.read("fs_base")) == (0x1111, 0x7000)
    finally:
        vcpu.close()


def test_kvm_fpu_registers_are_written_as_tcg_reads_them():
    kvm_or_skip()
    from xemu.machine.accel.kvm import KvmAccelerator
    memory = Memory()
    memory.map(CODE, 0x1000, PROT_READ | PROT_EXEC)
    vcpu = KvmAccelerator(by_name("x86_64"), memory)
    tcg = tcg_x86_64(lambda number, args: Exit(0))
    try:
        values = {"xmm7": 0x0123456789ABCDEF_FEDCBA9876543210, "fpcw": 0x27F,
                  "mxcsr": 0x1FA0, "fp3": (0x8000000000000001, 0x3FFF), "fptag": 0xFFF3}
        for name, value in values.items():
            vcpu.regs.write(name, value)
        vcpu.regs.sync()                       # through KVM_SET_FPU and back
        empty = lambda tags: [tags >> 2 * i & 3 == 3 for i in range(8)]   # noqa: E731
        for name, value in values.items():
            assert vcpu.regs.read(name) == value, name
            tcg.regs.write(name, value)
            if name == "fptag":     # Unicorn tags a register by its content (zero, valid)
                assert empty(tcg.regs.read(name)) == empty(value)
            else:
                assert tcg.regs.read(name) == value, name
    finally:
        vcpu.close()
