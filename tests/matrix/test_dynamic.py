"""Dynamically linked programs: the kernel's half of starting one (the
loader mapped beside the program, entry at the loader, AT_BASE/AT_ENTRY),
and the loader's own work served (file mappings, RELRO, dlopen, TLS in
shared libraries, unwinding through libstdc++). The libraries come from
Debian's cross packages through -L's lookup, found by default, or from the
host for x86-64; each arch skips with the packages to install where they
are missing. Outputs are qemu-user's for foreign arches and the CPU's own
for x86 (test_against_qemu_user keeps them honest)."""
import os
import shutil
import subprocess

import pytest

from tests.guests.cases import ARCHS, GUESTS, binary
from tests.helpers import run_xemu
from tests.matrix.test_threads import arch_accels
from xemu.archs import by_name
from xemu.linux.sysroot import known_sysroots
from xemu.loader.elf import load_elf

PARTS = {
    "hello": (b"hello from a dynamic program, argc=2 argv[1]=hello\n", 7),
    "auxv": (b"AT_BASE set: yes\nAT_ENTRY is _start: yes\nAT_PHDR lists PT_DYNAMIC: yes\n"
             b"AT_EXECFN ends in dynamic: yes\n", 0),
    "libraries": (b"object: libstdc++.so.6\nobject: libc.so.6\nobject: libm.so.6\n"
                  b"object: the dynamic loader\nmore than four objects: yes\n", 0),
    "dlopen": (b"cos(0) through dlsym = 1.0\ndlclose: 0\nmissing library: refused\n", 0),
    "exception": (b"caught: thrown and caught in libstdc++\n", 0),
    "thread": (b"in the thread: other\nafter join: main\n", 0),
    "maps": (b"maps name libc.so.6: yes, the loader: yes\n", 0),
}
QEMU_WRONG = {("ppc", "dlopen"): "qemu 7.2 raises SIGILL in ppc libm's cos (glibc's "
                                 "mffscrni, which pre-POWER9 CPUs execute as mffs)"}


def dynamic_binary(arch: str):
    return GUESTS / "bin" / arch / "xdynamic"


def libraries_of(arch: str) -> str | None:
    """The directory -L needs for arch ("/" when the host has them itself),
    None where the libraries are not installed."""
    loader = load_elf(dynamic_binary(arch)).interpreter
    for root in ("/", *known_sysroots(by_name(arch))):
        if os.path.exists(root.rstrip("/") + loader) and \
                any(os.path.exists(f"{root.rstrip('/')}/{lib}/libstdc++.so.6")
                    for lib in ("lib", f"usr/lib/{by_name(arch).elf.triplet}",
                                f"lib/{by_name(arch).elf.triplet}")):
            return root
    return None


def skip_without_libraries(arch: str) -> str:
    if libraries_of(arch) is None:
        debian = by_name(arch).elf.debian
        pytest.skip(f"no {arch} libc.so/libstdc++.so here: apt-get install "
                    f"libc6-{debian}-cross libstdc++6-{debian}-cross")
    return libraries_of(arch)


@pytest.mark.parametrize("arch,accel,part", [
    pytest.param(arch, accel, part, marks=marks, id=f"{arch}-{accel}-{part}")
    for arch, accel, marks in arch_accels() for part in PARTS])
def test_dynamic_program(arch, accel, part, guest_env, tmp_path):
    skip_without_libraries(arch)
    result = run_xemu("run", "--accel", accel, "-q", str(dynamic_binary(arch)), part,
                      env=guest_env, cwd=tmp_path)
    expected, status = PARTS[part]
    assert (result.stdout, result.returncode) == (expected, status), \
        result.stderr.decode(errors="replace")


QEMU_ARCHS = [arch for arch in ARCHS if arch not in ("x86_64",)]


@pytest.mark.parametrize("arch,part", [
    pytest.param(arch, part, id=f"{arch}-{part}",
                 marks=[pytest.mark.xfail(reason=QEMU_WRONG[arch, part], strict=True)]
                 if (arch, part) in QEMU_WRONG else [])
    for arch in QEMU_ARCHS for part in PARTS])
def test_against_qemu_user(arch, part, tmp_path):
    """The expected outputs above are qemu-user's, where it is right."""
    qemu = shutil.which(f"qemu-{arch}-static")
    if qemu is None:
        pytest.skip(f"qemu-{arch}-static is not installed (apt-get install qemu-user-static)")
    root = skip_without_libraries(arch)
    result = subprocess.run([qemu, "-L", root, str(dynamic_binary(arch)), part],
                            capture_output=True, cwd=tmp_path, timeout=60)
    assert (result.stdout, result.returncode) == PARTS[part]


def test_sysroot_option_and_variable_name_the_libraries(guest_env, tmp_path):
    """-L DIR and XEMU_LD_PREFIX as qemu-user's -L and QEMU_LD_PREFIX; an
    empty sysroot leaves the host's paths (and the default) in place."""
    root = skip_without_libraries("arm")
    program = str(dynamic_binary("arm"))
    given = run_xemu("run", "-q", "-L", root, program, "hello", env=guest_env)
    assert (given.stdout, given.returncode) == PARTS["hello"]
    by_variable = run_xemu("run", "-q", program, "hello",
                           env={**guest_env, "XEMU_LD_PREFIX": root})
    assert (by_variable.stdout, by_variable.returncode) == PARTS["hello"]


def test_a_missing_loader_is_one_line_naming_it_and_the_option(guest_env, tmp_path):
    """A sysroot without the loader: one line that names the loader and -L."""
    result = run_xemu("run", "-L", str(tmp_path), "--arch", "ppc",
                      str(dynamic_binary("ppc")), "hello", env=guest_env)
    if os.path.exists("/lib/ld.so.1"):
        pytest.skip("this host has a /lib/ld.so.1 of its own")
    error = result.stderr.decode()
    assert result.returncode == 2
    assert error.count("\n") == 1 and "Traceback" not in error
    assert "/lib/ld.so.1" in error and "-L DIR" in error


def test_verbose_says_which_libraries_it_found(guest_env):
    root = skip_without_libraries("aarch64")
    result = run_xemu("run", "-v", str(dynamic_binary("aarch64")), "hello", env=guest_env)
    assert result.returncode == 7
    if root != "/":
        assert f"aarch64 libraries from {root}" in result.stderr.decode()


@pytest.mark.parametrize("arch", ["arm", "aarch64"])
def test_a_static_program_execs_a_dynamic_one(arch, guest_env, tmp_path):
    """execve from the guest loads the loader too, found the same way."""
    skip_without_libraries(arch)
    result = run_xemu("run", "-q", str(binary(arch)), "runprog", str(dynamic_binary(arch)),
                      "exception", env=guest_env, cwd=tmp_path)
    assert result.stdout == PARTS["exception"][0] + b"program: exited 0\n", \
        result.stderr.decode(errors="replace")


def preload_library(arch: str, root: str) -> str | None:
    """glibc's libmemusage.so as the guest names it (inside root), if there."""
    triplet = by_name(arch).elf.triplet
    for folder in ("lib", f"lib/{triplet}", f"usr/lib/{triplet}"):
        if os.path.exists(f"{root.rstrip('/')}/{folder}/libmemusage.so"):
            return f"/{folder}/libmemusage.so"
    return None


@pytest.mark.parametrize("arch,accel", [
    pytest.param(arch, accel, marks=marks, id=f"{arch}-{accel}")
    for arch, accel, marks in arch_accels()])
def test_ld_preload_given_with_e_is_loaded_first(arch, accel, guest_env, tmp_path):
    """-E LD_PRELOAD=... reaches the guest's loader, which loads the library
    before the program's own: glibc's libmemusage.so counts the program's
    mallocs and prints its summary at exit, as it does under qemu-user -L."""
    root = skip_without_libraries(arch)
    library = preload_library(arch, root)
    if library is None:
        pytest.skip(f"no libmemusage.so in {arch}'s libraries ({root})")
    result = run_xemu("run", "--accel", accel, "-q", "-L", root, "-E", f"LD_PRELOAD={library}",
                      str(dynamic_binary(arch)), "hello", env=guest_env, cwd=tmp_path)
    assert (result.stdout, result.returncode) == PARTS["hello"]
    summary = result.stderr.decode(errors="replace")
    assert "Memory usage summary" in summary and " malloc|" in summary, summary
    qemu = shutil.which(f"qemu-{arch}-static")
    if arch in QEMU_ARCHS and qemu is not None:
        reference = subprocess.run([qemu, "-L", root, "-E", f"LD_PRELOAD={library}",
                                    str(dynamic_binary(arch)), "hello"],
                                   capture_output=True, cwd=tmp_path, timeout=60)
        assert result.stderr == reference.stderr
