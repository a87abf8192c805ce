"""Every test program on every arch: exact stdout, exit status, stderr line."""
import pytest

from tests.guests.cases import ARCHS, CASES, binary
from tests.helpers import run_xemu

MATRIX = [pytest.param(arch, case, id=f"{arch}-{case.name}") for arch in ARCHS
          for case in CASES]


@pytest.mark.parametrize("arch,case", MATRIX)
def test_program(arch, case, tmp_path, guest_env):
    image = str(binary(arch))
    result = run_xemu("run", "--accel", "tcg", "-q", *(f"-E{k}={v}" for k, v in case.env.items()),
                      image, *case.args, stdin=case.stdin or b"", env=guest_env, cwd=tmp_path)
    assert result.stdout == case.expected(arch, image)
    assert result.returncode == case.status, result.stderr.decode(errors="replace")
    if case.stderr:
        assert case.stderr in result.stderr.decode(errors="replace")
    assert list(tmp_path.iterdir()) == [], "the program left files behind"
