"""The GDB stub's pure parts: packet framing, target descriptions and the
register file, without a guest or a socket."""
import xml.etree.ElementTree as ElementTree

import pytest

from xemu.archs import all_specs, by_name
from xemu.debug.gdbstub import RegisterFile, checksum, escape, gdb_signal, target_xml, unescape


def test_checksum_and_escapes():
    assert checksum(b"OK") == b"9a"
    raw = bytes(range(256))
    assert unescape(escape(raw)) == raw
    assert escape(b"a#b$c}d*") == b"a}\x03b}\x04c}]d}\x0a"


def test_signals_in_gdbs_numbering():
    assert gdb_signal(11) == 11           # SIGSEGV is the same
    assert gdb_signal(7) == 10            # Linux SIGBUS is gdb's 10


@pytest.mark.parametrize("spec", all_specs(), ids=lambda s: s.name)
def test_target_xml_numbers_registers_as_gdb_does(spec):
    root = ElementTree.fromstring(target_xml(spec))
    assert root.find("architecture").text == spec.gdb.architecture
    numbered, number = {}, 0
    for reg in root.iter("reg"):
        number = int(reg.get("regnum", number))
        numbered[number] = reg.get("name")
        number += 1
    assert numbered == {n: r.name for n, r in spec.gdb.registers.items()}
    assert spec.pc in numbered.values() or "pc" in numbered.values()


def test_gdbs_fixed_numbers():
    assert by_name("ppc").gdb.registers[64].name == "pc"
    assert by_name("ppc").gdb.registers[70].name == "fpscr"
    assert by_name("arm").gdb.registers[25].name == "cpsr"
    assert by_name("x86_64").gdb.registers[16].name == "rip"
    assert by_name("i386").gdb.registers[8].name == "eip"


class FakeRegisters:
    def __init__(self, values):
        self.values = dict(values)

    def read(self, name):
        return self.values[name]

    def write(self, name, value):
        self.values[name] = value


def test_register_file_in_guest_byte_order():
    ppc = RegisterFile(by_name("ppc"), FakeRegisters({"r1": 0x12345678}))
    assert ppc.read(by_name("ppc").gdb.registers[1]) == b"12345678"     # big-endian
    assert ppc.read(by_name("ppc").gdb.registers[2]) == b"xxxxxxxx"     # not kept
    arm = RegisterFile(by_name("arm"), FakeRegisters({"r0": 0x12345678}))
    assert arm.read(by_name("arm").gdb.registers[0]) == b"78563412"


def test_x87_registers_are_ten_bytes():
    spec = by_name("x86_64")
    st0 = next(r for r in spec.gdb.registers.values() if r.name == "st0")
    regs = FakeRegisters({"fp0": (0x8000000000000000, 0x3FFF)})          # 1.0
    file = RegisterFile(spec, regs)
    assert file.read(st0) == b"0000000000000080ff3f"
    file.write(st0, bytes.fromhex("0000000000000080ff3f"))
    assert regs.values["fp0"] == (0x8000000000000000, 0x3FFF)


@pytest.mark.parametrize("arch,name,written,kept", [
    ("arm", "cpsr", 0x8000_0013, 0x0000_001F),       # N set; SVC mode asked: USR stays
    ("aarch64", "cpsr", 0x8000_0005, 0x0000_000F),   # N set; EL1h asked: EL0 stays
    ("ppc", "msr", 0x0000_0000, 0xFFFF_FFFF),        # MSR[PR] cleared: the kernel's to set
    ("x86_64", "eflags", 0x0000_3001, 0x0000_3200),  # CF set; IOPL 3 asked, IF kept
    ("x86_64", "cs", 0x0000_0008, 0xFFFF_FFFF),      # a ring-0 selector: refused
    ("i386", "ss", 0x0000_0010, 0xFFFF_FFFF),
])
def test_a_debugger_cannot_write_a_privileged_mode(arch, name, written, kept):
    """gdb may change a program's flags, never its privilege level or CPU
    mode (as ptrace refuses them): under TCG that would run the guest in a
    privileged mode, where a privileged instruction no longer traps."""
    from xemu.machine.accel.tcg import TcgAccelerator
    from xemu.machine.memory import Memory
    spec = by_name(arch)
    memory = Memory()
    for page in spec.linux.reserved:            # i386's and x86-64's GDT, as exec maps them
        memory.map(page.start, page.size, page.perms, page.name)
    accel = TcgAccelerator(spec, memory)
    try:
        registers = RegisterFile(spec, accel.regs)
        register = next(r for r in spec.gdb.registers.values() if r.name == name)
        source = register.source or name
        before = accel.regs.read(source)
        registers.write(register, written.to_bytes(register.bits // 8, registers.byteorder))
        after = accel.regs.read(source)
        assert after & kept == before & kept
        changed = written & ~kept & (register.user_bits or 0)
        assert after & changed == changed
    finally:
        accel.close()
