"""What a matrix runs: tests, each built for several arches, and the cells
(test x arch x accelerator) they make.

Three ways to name the tests:
- a pattern with {arch}: `build-{arch}/tests/*` globs once per arch, and a
  test is a file name found for at least one arch;
- program files: each ELF header says its arch, the file name is the test;
- a TOML manifest (read with tomllib) naming programs, arguments, stdin,
  expected status and output, per arch where a result legitimately differs.
"""
from __future__ import annotations

import glob
import hashlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ..archs import NAMES, by_name
from ..errors import XemuError

if sys.version_info >= (3, 11):
    import tomllib
else:                                                   # pragma: no cover
    tomllib = None


class PlanError(XemuError):
    """A manifest or pattern that names no runnable test."""


@dataclass(frozen=True)
class Test:
    name: str
    programs: dict[str, str]                # arch -> program path
    args: tuple[str, ...] = ()
    stdin: bytes = b""
    # expected exit status (minus a signal number: killed by it), and
    # expected stdout, each per arch ("*": every arch without its own)
    status: dict[str, int] = field(default_factory=dict)
    expected: dict[str, bytes] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    timeout: float | None = None

    def expected_status(self, arch: str) -> int | None:
        return self.status.get(arch, self.status.get("*"))

    def expected_output(self, arch: str) -> bytes | None:
        return self.expected.get(arch, self.expected.get("*"))


@dataclass(frozen=True)
class Cell:
    test: Test
    arch: str
    accel: str              # "tcg", "kvm", or "native" (the host running it itself)

    @property
    def column(self) -> str:
        """The table's column: the arch, with the accelerator unless TCG."""
        return self.arch if self.accel == "tcg" else f"{self.arch}/{self.accel}"


def from_pattern(pattern: str, arches: list[str], args: tuple[str, ...] = ()) -> list[Test]:
    """`dir-{arch}/tests/*`: every executable file the pattern finds, by name."""
    if "{arch}" not in pattern:
        raise PlanError(f"'{pattern}' has no {{arch}} in it")
    found: dict[str, dict[str, str]] = {}
    for arch in arches:
        for path in sorted(glob.glob(pattern.replace("{arch}", arch))):
            if os.path.isfile(path) and os.access(path, os.X_OK):
                found.setdefault(Path(path).name, {})[arch] = path
    if not found:
        raise PlanError(f"'{pattern}' finds no executable file for any of "
                        f"{', '.join(arches)}")
    return [Test(name, programs, args) for name, programs in sorted(found.items())]


def from_files(paths: list[str], args: tuple[str, ...] = ()) -> list[Test]:
    """Program files whose ELF headers say their arch; one test per name."""
    from ..loader.image import open_image
    found: dict[str, dict[str, str]] = {}
    for path in paths:
        if not os.path.isfile(path):
            raise PlanError(f"{path}: no such file")
        spec = open_image(path, None).spec
        found.setdefault(Path(path).name, {})[spec.name] = path
    return [Test(name, programs, args) for name, programs in sorted(found.items())]


def _per_arch(value, read) -> dict:
    """A manifest value that is one for every arch or a table by arch."""
    if isinstance(value, dict):
        unknown = [arch for arch in value if arch != "*" and arch not in NAMES]
        if unknown:
            raise PlanError(f"unknown arch {unknown[0]!r} (choose from {', '.join(NAMES)})")
        return {arch: read(item) for arch, item in value.items()}
    return {"*": read(value)}


def from_manifest(path: str, arches: list[str]) -> tuple[list[Test], dict]:
    """The tests a manifest names, and its [matrix] settings."""
    if tomllib is None:
        raise PlanError("reading a manifest needs Python 3.11's tomllib")
    base = Path(path).parent
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise PlanError(f"{path}: {e.strerror}") from e
    except tomllib.TOMLDecodeError as e:
        raise PlanError(f"{path}: {e}") from e
    settings = data.get("matrix", {})
    default_program = settings.get("program")
    tests = []
    for entry in data.get("test", []):
        name = entry.get("name")
        if not name:
            raise PlanError(f"{path}: a [[test]] has no name")
        template = entry.get("program", default_program)
        if not template or "{arch}" not in template:
            raise PlanError(f"{path}: test {name} needs a program path with {{arch}} "
                            "(in the test or in [matrix])")
        programs = {}
        for arch in arches:
            program = base / template.replace("{arch}", arch).replace("{name}", name)
            if program.is_file():
                programs[arch] = str(program)
        stdin = b""
        if "stdin" in entry:
            stdin = (base / entry["stdin"]).read_bytes()
        elif "stdin_text" in entry:
            stdin = entry["stdin_text"].encode()
        expected = {}
        if "expected" in entry:
            expected = _per_arch(entry["expected"], lambda file: (base / file).read_bytes())
        status = _per_arch(entry.get("status", 0), int)
        tests.append(Test(name, programs, tuple(entry.get("args", ())), stdin, status,
                          expected, dict(entry.get("env", {})), entry.get("timeout")))
    if not tests:
        raise PlanError(f"{path}: no [[test]] entries")
    return tests, settings


def shard(tests: list[Test], index: int, count: int) -> list[Test]:
    """Shard index (1-based) of count: a test goes by a hash of its name, so
    every machine of a CI matrix picks the same split, and all of a test's
    arches stay together (they are compared with each other)."""
    if not 1 <= index <= count:
        raise PlanError(f"shard {index}/{count}: K must be between 1 and N")
    return [test for test in tests
            if int(hashlib.sha256(test.name.encode()).hexdigest(), 16) % count == index - 1]


def accelerators(arch: str, wanted: str) -> list[str]:
    """The accelerators a column set runs an arch under: KVM and TCG for a
    guest KVM can run here, TCG for the rest (or only the one asked for)."""
    if wanted == "tcg":
        return ["tcg"]
    from ..machine.select import kvm_usable
    kvm = kvm_usable(by_name(arch))[0]
    if wanted == "kvm":
        return ["kvm"] if kvm else []
    return ["kvm", "tcg"] if kvm else ["tcg"]


def cells(tests: list[Test], arches: list[str], accel: str) -> list[Cell]:
    choices = {arch: accelerators(arch, accel) for arch in arches}
    return [Cell(test, arch, one) for test in tests for arch in arches
            if arch in test.programs for one in choices[arch]]
