"""The generated syscall tables, and the generator that makes them."""
import importlib.util
import shutil
from pathlib import Path

import pytest

from xemu.archs import by_name

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("gen_syscalls", ROOT / "tools" / "gen_syscalls.py")
gen = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gen)

# Numbers every programmer of these ABIs knows by heart.
WELL_KNOWN = [("x86_64", "write", 1), ("x86_64", "exit_group", 231),
              ("i386", "write", 4), ("i386", "set_thread_area", 243),
              ("arm", "write", 4), ("arm", "ARM_set_tls", 0xF0005),
              ("aarch64", "write", 64), ("aarch64", "newfstatat", 79),
              ("ppc", "write", 4), ("ppc", "_llseek", 140), ("ppc", "mmap2", 192)]


@pytest.mark.parametrize("arch,name,number", WELL_KNOWN)
def test_well_known_numbers(arch, name, number):
    assert by_name(arch).linux.syscall_numbers[name] == number


def test_aarch64_has_no_legacy_calls():
    assert "open" not in by_name("aarch64").linux.syscall_numbers
    assert "openat" in by_name("aarch64").linux.syscall_numbers


def test_resolve_evaluates_macro_bodies():
    table = {"__NR_SYSCALL_BASE": "0", "__ARM_NR_BASE": "(__NR_SYSCALL_BASE+0x0f0000)"}
    assert gen.resolve("(__ARM_NR_BASE+5)", table) == 0xF0005
    assert gen.resolve("(__NR_SYSCALL_BASE + 140)", table) == 140
    assert gen.resolve("__NR_unknown", table) is None


@pytest.mark.parametrize("arch", list(gen.HEADERS))
def test_committed_table_matches_the_headers(arch):
    include = Path(gen.HEADERS[arch][0])
    if not (include / "asm" / "unistd.h").exists() or not shutil.which("cpp"):
        pytest.skip(f"{include}/asm/unistd.h is not installed (Debian's cross packages)")
    assert gen.numbers(arch) == dict(by_name(arch).linux.syscall_numbers)
