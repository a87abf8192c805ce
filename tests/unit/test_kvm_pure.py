"""KVM pieces that need no /dev/kvm: ioctl numbers, exit decoding, paging."""
import mmap
import struct

from xemu.machine.accel.kvm import ioctl
from xemu.machine.accel.kvm.exits import (Halted, InternalError, Mmio, Other, PortIO,
                                          Shutdown, decode_exit)
from xemu.machine.accel.kvm.paging import (NO_EXECUTE, PRESENT, USER, WRITABLE,
                                           PageTables)


def test_ioctl_numbers_match_the_kernel_headers():
    # values as <linux/kvm.h> expands them on x86-64
    assert ioctl.KVM_GET_API_VERSION == 0xAE00
    assert ioctl.KVM_CREATE_VM == 0xAE01
    assert ioctl.KVM_RUN == 0xAE80
    assert ioctl.KVM_GET_REGS == 0x8090AE81
    assert ioctl.KVM_SET_SREGS == 0x4138AE84
    assert ioctl.KVM_SET_USER_MEMORY_REGION == 0x4020AE46
    assert ioctl.KVM_GET_SUPPORTED_CPUID == 0xC008AE05
    assert ioctl.KVM_SET_XCRS == 0x4188AEA7


def run_page(reason: int, payload: bytes, extra: dict[int, bytes] | None = None) -> bytes:
    page = bytearray(4096)
    struct.pack_into("<I", page, 8, reason)
    page[32:32 + len(payload)] = payload
    for offset, data in (extra or {}).items():
        page[offset:offset + len(data)] = data
    return bytes(page)


def test_decode_port_output():
    page = run_page(2, struct.pack("<BBHIQ", 1, 1, 0xF0, 1, 0x1000), {0x1000: b"\x2a"})
    assert decode_exit(page) == PortIO(port=0xF0, size=1, is_write=True, data=0x2A,
                                       offset=0x1000)


def test_decode_port_input_has_no_data():
    page = run_page(2, struct.pack("<BBHIQ", 0, 2, 0x3F8, 1, 0x1000), {0x1000: b"\xff\xff"})
    assert decode_exit(page) == PortIO(port=0x3F8, size=2, is_write=False, data=0,
                                       offset=0x1000)


def test_decode_mmio_write():
    page = run_page(6, struct.pack("<Q8sIB", 0x9000000, b"\x41" + bytes(7), 1, 1))
    assert decode_exit(page) == Mmio(address=0x9000000, size=1, is_write=True, data=0x41)


def test_decode_simple_reasons():
    assert decode_exit(run_page(5, b"")) == Halted()
    assert decode_exit(run_page(8, b"")) == Shutdown()
    assert decode_exit(run_page(17, struct.pack("<I", 1))) == InternalError(1)
    assert decode_exit(run_page(0, b"")).name == "KVM_EXIT_UNKNOWN"
    assert isinstance(decode_exit(run_page(999, b"")), Other)


def test_page_tables_map_and_unmap():
    pool = memoryview(mmap.mmap(-1, 64 * 4096))
    tables = PageTables(pool, base=0x100000)
    tables.map(0x7FFF_FFFF_E000, 0x2345_6000, WRITABLE | USER | NO_EXECUTE)
    entry = tables.lookup(0x7FFF_FFFF_E123)
    assert entry == 0x2345_6000 | PRESENT | WRITABLE | USER | NO_EXECUTE
    assert tables.lookup(0x7FFF_FFFF_D000) is None
    assert tables.next_free == 2 + 3          # two roots, then PDPT, PD, PT
    tables.unmap(0x7FFF_FFFF_E000)
    assert tables.lookup(0x7FFF_FFFF_E000) is None


def test_both_roots_see_every_mapping():
    pool = memoryview(mmap.mmap(-1, 64 * 4096))
    tables = PageTables(pool, base=0)
    tables.map(0x400000, 0x1000, USER)
    first = tables.root
    tables.switch_root()
    assert tables.root != first
    entries = pool.cast("Q")
    assert entries[first // 8 + 0] == entries[tables.root // 8 + 0] != 0


def test_debug_exit_decodes():
    import struct
    from xemu.machine.accel.kvm.exits import DebugTrap, decode_exit
    from xemu.machine.accel.kvm.structs import RUN_EXIT_DATA, RUN_EXIT_REASON
    page = bytearray(4096)
    struct.pack_into("<I", page, RUN_EXIT_REASON, 4)           # KVM_EXIT_DEBUG
    struct.pack_into("<IIQQQ", page, RUN_EXIT_DATA, 1, 0, 0x401234, 1 << 14, 0x400)
    assert decode_exit(page) == DebugTrap(1, 0x401234, 1 << 14)


def test_classify_exits_of_a_user_mode_vcpu():
    from xemu.machine.accel.kvm.exits import (SYSCALL_EXIT, DebugTrap, GuestException,
                                              Unexpected, classify_exit, exit_reason)
    from xemu.machine.accel.kvm.x86 import MODES
    mode = MODES["long"]
    out = lambda port: PortIO(port=port, size=1, is_write=True, data=0)   # noqa: E731
    assert classify_exit(out(mode.SYSCALL_PORT), mode) is SYSCALL_EXIT
    assert classify_exit(out(mode.EXCEPTION_PORT + 14), mode) == GuestException(14)
    assert exit_reason(GuestException(14)) == "exception 14"
    step = DebugTrap(1, 0x401000, 0x4000)
    assert classify_exit(step, mode) is step
    for strange in (Halted(), Shutdown(), out(0x3F8), out(mode.EXCEPTION_PORT + 40),
                    PortIO(port=mode.SYSCALL_PORT, size=1, is_write=False, data=0)):
        kind = classify_exit(strange, mode)
        assert isinstance(kind, Unexpected), strange
    assert exit_reason(classify_exit(Shutdown(), mode)) == "shutdown"
    assert exit_reason(classify_exit(out(0x3F8), mode)) == "port 0x3f8"
