"""struct termios between PowerPC's numbering and the host's (asm-generic)."""
import termios

import pytest

from xemu.archs.ppc.ioctls import IOCTLS as PPC_IOCTLS, TERMBITS as PPC
from xemu.archs.ioctls import GENERIC, GENERIC_IOCTLS
from xemu.linux.terminal import convert_cc, convert_flags


@pytest.mark.parametrize("field", ["c_iflag", "c_oflag", "c_cflag", "c_lflag"])
def test_every_named_flag_moves_to_its_own_bit(field):
    for name, bit in GENERIC.flags.get(field, {}).items():
        assert convert_flags(field, bit, GENERIC, PPC) == PPC.flags[field][name], name
        assert convert_flags(field, PPC.flags[field][name], PPC, GENERIC) == bit, name


def test_the_host_module_agrees_with_the_generic_table():
    for field in GENERIC.flags.values():
        for name, bit in field.items():
            if hasattr(termios, name):
                assert getattr(termios, name) == bit, name
    for name, slot in GENERIC.cc.items():
        assert getattr(termios, name) == slot, name
    assert termios.CBAUD == GENERIC.cbaud and termios.B57600 == GENERIC.extended_speeds


def test_delay_fields_and_character_size_go_by_index():
    assert convert_flags("c_oflag", termios.TAB3 | termios.CR2, GENERIC, PPC) == 0xC00 | 0x2000
    assert convert_flags("c_cflag", termios.CS7, GENERIC, PPC) == 0x200
    assert convert_flags("c_cflag", 0x200, PPC, GENERIC) == termios.CS7


def test_speeds_and_common_bits():
    value = termios.B115200 | termios.B9600 << 16 | termios.CRTSCTS | termios.CREAD
    ppc = convert_flags("c_cflag", value, GENERIC, PPC)
    assert ppc == 0x11 | 0xD << 16 | termios.CRTSCTS | 0x800
    assert convert_flags("c_cflag", ppc, PPC, GENERIC) == value
    assert convert_flags("c_iflag", termios.ICRNL | termios.IGNBRK, GENERIC, PPC) == \
        termios.ICRNL | termios.IGNBRK          # termbits-common.h: the same everywhere


def test_control_characters_change_slots():
    cc = bytes(range(19))
    ppc = convert_cc(cc, GENERIC, PPC)
    assert ppc[PPC.cc["VMIN"]] == termios.VMIN and ppc[PPC.cc["VTIME"]] == termios.VTIME
    assert ppc[17:] == cc[17:]
    assert convert_cc(ppc, PPC, GENERIC) == cc


def test_ppc_ioctls_carry_direction_bits_and_no_termios2():
    assert PPC_IOCTLS["TCGETS"] == 0x402C7413 and PPC_IOCTLS["FIONREAD"] == 0x4004667F
    assert "TCGETS2" not in PPC_IOCTLS and GENERIC_IOCTLS["TCGETS2"] == 0x802C542A
    assert len(set(PPC_IOCTLS.values())) == len(PPC_IOCTLS)
