"""The kernel's half of a dynamically linked program, piece by piece: where
the loader goes, which loader file is accepted, and how -L's lookup maps a
guest path (tests/matrix/test_dynamic.py runs whole programs)."""
import os

import pytest

from tests.guests.cases import GUESTS
from xemu.archs import by_name
from xemu.errors import ImageError
from xemu.linux import sysroot as sysroot_module
from xemu.linux.exec import loader_image, place_loader
from xemu.linux.sysroot import Sysroot, default_sysroot
from xemu.loader.elf import PF_R, PF_X, Image, Segment, load_elf
from xemu.machine.memory import PAGE, PROT_READ, Memory


def dynamic(arch: str) -> Image:
    return load_elf(GUESTS / "bin" / arch / "xdynamic")


def test_the_loader_goes_to_the_first_free_range_from_the_mmap_base():
    arm = by_name("arm")
    loader = Image(path=GUESTS, arch=arm, entry=0x400100, phdr=0x400034,
                   segments=[Segment(0x400000, 0x2000, b"", PF_R | PF_X)],
                   position_independent=True)
    memory = Memory()
    memory.map(arm.linux.mmap_base, PAGE, PROT_READ)           # taken already
    placed = place_loader(memory, loader)
    assert placed.start == arm.linux.mmap_base + PAGE
    assert placed.entry == placed.start + 0x100
    assert placed.phdr == placed.start + 0x34


def test_a_loader_linked_at_a_fixed_address_stays_there():
    loader = Image(path=GUESTS, arch=by_name("arm"), entry=0x10100,
                   segments=[Segment(0x10000, 0x1000, b"", PF_R | PF_X)])
    assert place_loader(Memory(), loader) is loader


def test_the_loader_must_be_of_the_programs_arch():
    x86 = GUESTS / "bin" / "x86_64" / "xdynamic"
    with pytest.raises(ImageError, match="is a x86_64 program, not arm"):
        loader_image(dynamic("arm"), lambda name: os.open(x86, os.O_RDONLY))


def test_a_loader_with_a_loader_of_its_own_is_refused():
    itself = GUESTS / "bin" / "arm" / "xdynamic"
    with pytest.raises(ImageError, match="names an interpreter of its own"):
        loader_image(dynamic("arm"), lambda name: os.open(itself, os.O_RDONLY))


def test_a_missing_loader_is_enoent_as_execve_gives_it():
    def missing(name):
        raise FileNotFoundError(2, "No such file or directory")
    with pytest.raises(FileNotFoundError):
        loader_image(dynamic("ppc"), missing)


def test_a_static_program_has_no_loader():
    static = load_elf(GUESTS / "bin" / "arm" / "xtest")
    assert loader_image(static, lambda name: pytest.fail("nothing to open")) is None


def test_sysroot_paths_are_found_inside_first_then_on_the_host(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "ld.so.1").write_bytes(b"")
    (tmp_path / "lib" / "dangling").symlink_to("/nowhere")
    root = Sysroot(str(tmp_path))
    inside = os.fsencode(tmp_path)
    assert root.host_path(b"/lib/ld.so.1") == inside + b"/lib/ld.so.1"
    assert root.host_path(b"/lib/dangling") == inside + b"/lib/dangling"
    assert root.host_path(b"/etc/passwd") == b"/etc/passwd"      # not a jail
    assert root.host_path(b"lib/ld.so.1") == b"lib/ld.so.1"      # relative: the cwd's


def test_the_default_sysroot_is_the_first_known_one_holding_the_loader(tmp_path, monkeypatch):
    empty, holding = tmp_path / "empty", tmp_path / "holding"
    (holding / "lib").mkdir(parents=True)
    (holding / "lib" / "ld.so.1").write_bytes(b"")
    empty.mkdir()
    monkeypatch.setattr(sysroot_module, "known_sysroots", lambda spec: [str(empty), str(holding)])
    assert default_sysroot(by_name("ppc"), "/lib/ld.so.1").directory == str(holding)
    assert default_sysroot(by_name("ppc"), "/lib/not-there.so") is None
    assert default_sysroot(by_name("ppc"), "/bin/sh") is None      # the host has it
