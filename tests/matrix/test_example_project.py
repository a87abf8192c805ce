"""The example project (examples/matrix) as a newcomer uses it: built for
five arches with the shipped CMake toolchain files and Meson cross files,
its tests run through `xemu matrix`, ctest and meson test, and its Go
package through `go test -exec`."""
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROOT

EXAMPLE = ROOT / "examples" / "matrix"
ARCHES = ("x86_64", "i386", "arm", "aarch64", "ppc")
TRIPLETS = ("x86_64-linux-gnu", "i686-linux-gnu", "arm-linux-gnueabihf", "aarch64-linux-gnu",
            "powerpc-linux-gnu")
# Unicorn's PowerPC (QEMU 5.0's fctiwz) gives INT_MIN for an out-of-range
# double -> int32 conversion; the hardware and qemu-user 7.2 saturate.
KNOWN = {("test_float", "ppc")}


def missing(*tools: str) -> list[str]:
    return [tool for tool in tools if shutil.which(tool) is None]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A copy of the example, and an `xemu` command on PATH for its runners."""
    lacking = missing("ninja", *(f"{t}-gcc" for t in TRIPLETS))
    if lacking:
        pytest.skip(f"the example needs {', '.join(lacking)} (Debian's cross compilers, ninja)")
    root = tmp_path_factory.mktemp("example")
    copy = root / "matrix"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("build"))
    bin_dir = root / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "xemu"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="{ROOT}" exec "{sys.executable}" -m xemu "$@"\n')
    wrapper.chmod(0o755)
    env = {**os.environ, "XEMU": str(wrapper), "PATH": f"{bin_dir}:{os.environ['PATH']}",
           "PYTHONPATH": str(ROOT)}
    return copy, env


def build(project, tool: str) -> None:
    copy, env = project
    result = subprocess.run(["./build.sh", tool], cwd=copy, env=env, capture_output=True,
                            timeout=600)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()


def test_cmake_builds_and_xemu_matrix_gives_one_table(project):
    if missing("cmake"):
        pytest.skip("cmake is not installed")
    copy, env = project
    build(project, "cmake")
    result = subprocess.run(["xemu", "matrix", "xemu-matrix.toml", "--json", "r.json",
                             "--junit", "r.xml"], cwd=copy, env=env, capture_output=True,
                            timeout=600)
    shown = result.stdout.decode()
    report = json.loads((copy / "r.json").read_text())["results"]
    failing = {(r["test"], r["arch"]) for r in report if r["outcome"] != "pass"}
    assert failing == KNOWN, shown
    assert result.returncode == 1 and "test_endian" in shown and "ppc" in shown
    assert {r["arch"] for r in report} == set(ARCHES) and len(report) >= 20


def test_ctest_runs_every_arch_through_xemu(project):
    if missing("cmake", "ctest"):
        pytest.skip("cmake is not installed")
    copy, env = project
    if not (copy / "build" / "cmake-ppc").exists():
        build(project, "cmake")
    for arch in ARCHES:
        result = subprocess.run(["ctest", "--test-dir", f"build/cmake-{arch}",
                                 "--output-on-failure"], cwd=copy, env=env,
                                capture_output=True, timeout=600)
        shown = result.stdout.decode()
        assert result.returncode == 0 and "100% tests passed" in shown, shown
    log = (copy / "build" / "cmake-ppc" / "Testing" / "Temporary" / "LastTest.log").read_text()
    assert "byte order: big" in log and "xemu" in log      # it really ran under xemu


def test_meson_test_runs_every_arch_through_xemu(project):
    if missing("meson"):
        pytest.skip("meson is not installed")
    copy, env = project
    build(project, "meson")
    for arch in ARCHES:
        result = subprocess.run(["meson", "test", "-C", f"build/meson-{arch}"], cwd=copy,
                                env=env, capture_output=True, timeout=600)
        shown = result.stdout.decode()
        assert result.returncode == 0 and re.search(r"Ok:\s+4\b", shown), shown
    log = (copy / "build" / "meson-ppc" / "meson-logs" / "testlog.txt").read_text()
    assert "byte order: big" in log


@pytest.mark.parametrize("goarch", ["arm64", "arm"])
def test_go_test_exec_runs_a_foreign_package(project, goarch, tmp_path):
    if missing("go"):
        pytest.skip("Go is not installed (apt-get install golang-go)")
    copy, env = project
    env = {**env, "GOARCH": goarch, "CGO_ENABLED": "0", "GOCACHE": str(tmp_path / "cache"),
           "GOPATH": str(tmp_path / "gopath"), "GOFLAGS": "-mod=mod"}
    result = subprocess.run(["go", "test", "-v", "-exec", "xemu run", "./..."],
                            cwd=copy / "go", env=env, capture_output=True, timeout=600)
    shown = result.stdout.decode() + result.stderr.decode()
    assert result.returncode == 0 and "--- PASS: TestByteOrder" in shown, shown


def test_every_registered_arch_has_a_toolchain_file_and_a_cross_file():
    from xemu.archs import all_specs
    for spec in all_specs():
        cmake = (EXAMPLE / "cmake" / f"{spec.name}.cmake").read_text()
        assert f"set(XEMU_TRIPLET {spec.elf.triplet})" in cmake, spec.name
        meson = (EXAMPLE / "meson" / f"{spec.name}.ini").read_text()
        assert f"'{spec.elf.triplet}-gcc'" in meson and f"'--arch', '{spec.name}'" in meson
    assert TRIPLETS == tuple(spec.elf.triplet for spec in all_specs())
