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
