"""Pure parts of the syscall ABI: register pairs, flag translation."""
import os

from xemu.archs import by_name
from xemu.linux.syscalls import join_pairs
from xemu.linux.syscalls.fs import open_flags_to_guest, open_flags_to_host

OFFSET = 0x1_2345_6789


def test_arm_pairs_start_at_an_even_register():
    # pread64(fd, buf, count, offset): r3 is skipped, the offset is r4 (low), r5 (high)
    args = (3, 0x1000, 10, 0xDEAD, OFFSET & 0xFFFFFFFF, OFFSET >> 32)
    assert join_pairs(args, (3,), by_name("arm"))[:4] == (3, 0x1000, 10, OFFSET)


def test_ppc_pairs_are_high_word_first():
    args = (3, 0x1000, 10, 0, OFFSET >> 32, OFFSET & 0xFFFFFFFF)
    assert join_pairs(args, (3,), by_name("ppc"))[:4] == (3, 0x1000, 10, OFFSET)


def test_i386_pairs_are_not_aligned():
    args = (3, 0x1000, 10, OFFSET & 0xFFFFFFFF, OFFSET >> 32, 0)
    assert join_pairs(args, (3,), by_name("i386"))[:4] == (3, 0x1000, 10, OFFSET)


def test_arm_open_flags_become_host_flags():
    arm = by_name("arm")
    guest = os.O_RDONLY | 0o40000 | 0o100000          # arm's O_DIRECTORY | O_NOFOLLOW
    assert open_flags_to_host(arm, guest) == os.O_DIRECTORY | os.O_NOFOLLOW
    assert open_flags_to_guest(arm, os.O_DIRECTORY | os.O_NOFOLLOW) == guest


def test_arm_o_directory_is_not_taken_for_host_o_direct():
    # arm's O_DIRECTORY (0o40000) is x86's O_DIRECT: it must not leak through.
    assert not open_flags_to_host(by_name("arm"), 0o40000) & os.O_DIRECT


def test_x86_flags_pass_unchanged():
    flags = os.O_CREAT | os.O_DIRECTORY | os.O_CLOEXEC
    assert open_flags_to_host(by_name("x86_64"), flags) == flags
