"""Issue 20, finding 8: system calls reach guest memory with the guest's own
rights, as the kernel's copy_to_user and copy_from_user do. A call that
would write into a read-only, PROT_NONE or code page answers EFAULT and
writes nothing; a call that writes into executable memory (read(2) into a
JIT's page) leaves no stale translation behind.

The calls are served as in test_user_range.py: a thread's Dispatcher over
memory an accelerator follows, every arch under TCG and x86-64 under KVM."""
import errno
import os
import struct

import pytest

from tests.unit.test_user_range import ACCELS, DATA, RW, Guest
from xemu.machine.accel.base import Exit
from xemu.machine.memory import PAGE, PROT_EXEC, PROT_NONE, PROT_READ, Memory, UserMemory
from xemu.errors import GuestMemoryError

FROZEN = 0x200000           # a read-only page
HIDDEN = 0x300000           # a PROT_NONE page
GUEST_FD = 10


@pytest.fixture(params=ACCELS, ids=[f"{a}-{k}" for a, k in ACCELS])
def guest(request):
    g = Guest(*request.param)
    g.mem.map(FROZEN, PAGE, PROT_READ)
    g.mem.map(HIDDEN, PAGE, PROT_NONE)
    yield g
    g.close()


def pipe_with(g: Guest, data: bytes) -> int:
    """A pipe holding data, its read end the guest's GUEST_FD; the write end."""
    reader, writer = os.pipe()
    os.write(writer, data)
    g.process.fds.put(GUEST_FD, reader)
    return writer


def test_read_into_a_page_without_write_rights_is_efault(guest):
    writer = pipe_with(guest, b"x" * 64)
    try:
        for address in (FROZEN, HIDDEN):
            assert guest.call("read", GUEST_FD, address, 64) == -errno.EFAULT
            assert guest.mem.read(address, 64) == bytes(64)
        assert guest.call("read", GUEST_FD, DATA, 64) == 64      # the bytes were still there
    finally:
        os.close(writer)


def test_a_read_stops_where_the_rights_end(guest):
    """A buffer running from a writable page into a read-only one takes
    the bytes that fit, as Linux gives a short count."""
    guest.mem.map(FROZEN - PAGE, PAGE, RW)
    writer = pipe_with(guest, b"y" * 200)
    try:
        assert guest.call("read", GUEST_FD, FROZEN - 100, 200) == 100
        assert guest.mem.read(FROZEN, 100) == bytes(100)
    finally:
        os.close(writer)


def test_write_from_a_page_without_read_rights_is_efault(guest):
    reader, writer = os.pipe()
    guest.process.fds.put(GUEST_FD, writer)
    try:
        assert guest.call("write", GUEST_FD, HIDDEN, 16) == -errno.EFAULT
        assert guest.call("write", GUEST_FD, FROZEN, 16) == 16       # reading is allowed
        assert os.read(reader, 100) == bytes(16)
    finally:
        os.close(reader)


def test_a_struct_written_to_a_read_only_page_is_efault(guest):
    name = "uname"
    assert guest.call(name, FROZEN) == -errno.EFAULT
    assert guest.mem.read(FROZEN, 64) == bytes(64)
    assert guest.call(name, DATA) == 0


def test_a_path_in_a_protnone_page_is_efault(guest):
    guest.mem.write(HIDDEN, b"/\0")        # the host side may; the guest's call may not
    assert guest.call("chdir", HIDDEN) == -errno.EFAULT


def test_user_memory_reads_strings_across_regions():
    mem = Memory()
    mem.map(0x10000, PAGE, RW)
    mem.map(0x11000, PAGE, PROT_READ)
    mem.map(0x12000, PAGE, PROT_NONE)
    user = UserMemory(mem)
    mem.write(0x10FFC, b"abcdefgh\0")
    assert user.read_cstring(0x10FFC) == b"abcdefgh"
    mem.write(0x11FFE, b"zz")
    with pytest.raises(GuestMemoryError):        # runs on into the PROT_NONE page
        user.read_cstring(0x11FFE)
    assert user.read_cstring(0x11FFE, limit=2) == b"zz"


def test_a_call_that_reads_code_pages_drops_no_translation():
    """write(2) of a string in a program's text segment (where .rodata
    lies on Arm and PowerPC) reads those pages: only a write makes their
    code stale. Each such write cost a translation cache flush before."""
    mem = Memory()
    mem.map(0x10000, PAGE, PROT_READ | PROT_EXEC)
    mem.map(0x11000, PAGE, RW | PROT_EXEC)
    written: list[tuple[int, int]] = []

    class Listener:
        def code_written(self, start: int, end: int) -> None:
            written.append((start, end))
    mem.listeners.append(Listener())
    user = UserMemory(mem)
    user.mapped_views(0x10010, 8)
    user.mapped_views(0x11010, 8)
    user.read(0x10010, 8)
    assert written == []
    user.mapped_views(0x11010, 8, writing=True)
    user.write(0x11020, b"x")
    assert written == [(0x11010, 0x11018), (0x11020, 0x11021)]


# -- code written by a system call (x86-64 machine code) -------------------

CODE, TARGET, STACK = 0x400000, 0x401000, 0x500000


def _call_read_call_exit() -> bytes:
    """call TARGET; keep eax; read(GUEST_FD, TARGET, 6) new code over it;
    call TARGET again; exit_group(first * 10 + second)."""
    def call_target(at: int) -> bytes:
        return b"\xe8" + struct.pack("<i", TARGET - (at + 5))
    code = call_target(CODE)
    code += b"\x89\xc3"                                   # mov ebx, eax
    code += b"\x31\xc0"                                   # xor eax, eax (read)
    code += b"\xbf" + struct.pack("<I", GUEST_FD)         # mov edi, fd
    code += b"\xbe" + struct.pack("<I", TARGET)           # mov esi, TARGET
    code += b"\xba" + struct.pack("<I", 6)                # mov edx, 6
    code += b"\x0f\x05"                                   # syscall
    code += call_target(CODE + len(code))
    code += b"\x6b\xdb\x0a\x01\xc3\x89\xdf"               # ebx = ebx*10 + eax; edi = ebx
    code += b"\xb8\xe7\x00\x00\x00\x0f\x05"               # exit_group
    return code


@pytest.mark.parametrize("accel", ["tcg", "kvm"])
def test_code_a_read_replaces_runs_as_new(accel):
    """A JIT or loader that read(2)s code over code it ran: the second call
    runs the new bytes (TCG kept the stale translation: 11, not 12)."""
    g = Guest("x86_64", accel)
    writer = None
    try:
        g.mem.map(CODE, PAGE, PROT_READ | PROT_EXEC)
        g.mem.map(TARGET, PAGE, RW | PROT_EXEC)
        g.mem.map(STACK, PAGE, RW)
        g.mem.write(CODE, _call_read_call_exit())
        g.mem.write(TARGET, b"\xb8\x01\x00\x00\x00\xc3")            # mov eax, 1; ret
        writer = pipe_with(g, b"\xb8\x02\x00\x00\x00\xc3")          # mov eax, 2; ret
        g.accel.regs.write("rip", CODE)
        g.accel.regs.write("rsp", STACK + PAGE - 64)
        g.accel.syscall_handler = g.dispatch
        assert g.accel.run() == Exit(12)
    finally:
        if writer is not None:
            os.close(writer)
        g.close()


def test_getdents64_that_faults_loses_no_entry(guest, tmp_path):
    """EFAULT consumes nothing (xemu dropped the listing's rest); a buffer
    that runs into a read-only page takes the entries that fit there."""
    for name in ("a", "b", "c"):
        (tmp_path / name).write_text("")
    guest.process.fds.put(GUEST_FD, os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY))
    assert guest.call("getdents64", GUEST_FD, FROZEN, 4096) == -errno.EFAULT
    guest.mem.map(FROZEN - PAGE, PAGE, RW)
    first = guest.call("getdents64", GUEST_FD, FROZEN - 24, 4096)    # one 24-byte record fits
    assert first == 24
    rest = guest.call("getdents64", GUEST_FD, DATA, 4096)
    assert rest == 4 * 24                     # ".." and the three files: none lost
    assert guest.call("getdents64", GUEST_FD, DATA, 4096) == 0


def test_a_string_in_a_system_v_segment_reads():
    """An attached segment's buffer is a ctypes array, which has no find:
    setxattr with a name in one was an internal error."""
    import ctypes
    mem = Memory()
    segment = (ctypes.c_char * PAGE)()
    segment[:6] = b"user.x"
    mem.map_buffer(0x40000, segment, RW)
    assert UserMemory(mem).read_cstring(0x40000, 255) == b"user.x"
