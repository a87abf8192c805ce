"""The arch registry (xemu/archs/__init__.py) is the one list of arches.
Files that cannot import it (Makefiles, which build the committed test
binaries) repeat it; these tests keep them equal to it, and say what a new
arch must add there."""
import re
from pathlib import Path

import pytest

from tests.helpers import ROOT
from xemu.archs import all_specs

MAKEFILES = [ROOT / "tests" / "guests" / "Makefile", ROOT / "benchmarks" / "Makefile",
             ROOT / "xemu" / "labs" / "guests" / "Makefile"]


def variables(makefile: Path) -> dict[str, str]:
    found = {}
    for line in makefile.read_text().splitlines():
        match = re.match(r"^(\w+)\s*=\s*(.*?)\s*$", line)
        if match:
            found[match[1]] = match[2]
    return found


@pytest.mark.parametrize("makefile", MAKEFILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_makefiles_build_every_registered_arch_with_its_cross_compiler(makefile):
    found = variables(makefile)
    assert set(found["ARCHS"].split()) == {spec.name for spec in all_specs()}
    for spec in all_specs():
        assert found.get(f"CC_{spec.name}") == f"{spec.elf.triplet}-gcc", spec.name


@pytest.mark.parametrize("spec", all_specs(), ids=lambda s: s.name)
def test_every_registered_arch_has_its_test_binaries(spec):
    for path in (f"tests/guests/bin/{spec.name}/xtest", f"benchmarks/bin/{spec.name}/bench",
                 f"xemu/labs/guests/{spec.name}/labguest"):
        assert (ROOT / path).is_file(), f"{path}: run make in its folder"
