"""Image loading and arch detection from the ELF header."""
import pytest

from tests.guests.cases import ARCHS, binary
from xemu.errors import ArchError, ImageError
from xemu.loader.elf import load_elf
from xemu.linux.exec import load_image


@pytest.mark.parametrize("arch", ARCHS)
def test_arch_comes_from_the_header(arch):
    image = load_elf(binary(arch))
    assert image.arch.name == arch
    assert image.interpreter is None
    assert any(s.flags & 1 for s in image.segments)     # some code
    assert image.phdr and image.phnum


def test_arm_entry_is_thumb():
    assert load_elf(binary("arm")).entry & 1


def test_arch_option_must_agree(tmp_path):
    with pytest.raises(ArchError, match="ppc program"):
        load_image(str(binary("ppc")), "arm")
    assert load_image(str(binary("ppc")), "powerpc").arch.name == "ppc"


@pytest.mark.parametrize("content,message", [
    (b"", "is empty"),
    (b"#!/bin/sh\necho hi\n", "not an ELF program"),
    (b"\x7fELF\x01\x01\x01" + bytes(9), "malformed"),
])
def test_bad_images_are_image_errors(tmp_path, content, message):
    path = tmp_path / "bad"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=message):
        load_image(str(path), None)


def test_truncated_image(tmp_path):
    path = tmp_path / "truncated"
    path.write_bytes(binary("aarch64").read_bytes()[:3000])
    with pytest.raises(ImageError):
        load_image(str(path), None)


def test_missing_image():
    with pytest.raises(ImageError, match="cannot read"):
        load_image("/nonexistent/prog", None)


def test_the_stack_is_executable_only_when_pt_gnu_stack_asks(tmp_path):
    """A program built with trampolines (-z execstack) says so in its
    PT_GNU_STACK; every other stack is data only. ARM's kuser helpers page
    is mapped readable and executable at 0xffff0000, never writable."""
    import struct

    from tests.unit.test_bad_images import ARM, phdrs
    from xemu.linux.exec import start_program
    from xemu.machine.memory import PROT_EXEC, PROT_WRITE, Memory
    PT_GNU_STACK = 0x6474E551
    offset, fields = next(p for p in phdrs(ARM) if p[1][0] == PT_GNU_STACK)
    patched = bytearray(ARM)
    struct.pack_into("<I", patched, offset + 24, fields[6] | 1)        # p_flags |= PF_X
    (tmp_path / "execstack").write_bytes(bytes(patched))
    for path, executable in ((binary("arm"), False), (tmp_path / "execstack", True)):
        image = load_image(str(path), None)
        assert image.executable_stack == executable
        memory = Memory()
        start = start_program(memory, image, [b"x"], [], b"x")
        assert bool(memory.region_at(start.sp).perms & PROT_EXEC) == executable
        vectors = memory.region_at(0xFFFF0FC0)
        assert vectors.name == "[vectors]" and vectors.perms & PROT_EXEC
        assert not vectors.perms & PROT_WRITE
