"""Issue 20, finding 6: --timeout and --memory take only finite, sensible
numbers; anything else is one `xemu: error:` line and status 2, before the
guest starts (it was an OverflowError, status 70)."""
import pytest

from tests.guests.cases import binary
from tests.helpers import run_xemu


def one_error_line(result) -> str:
    text = result.stderr.decode()
    assert result.returncode == 2, text
    assert text.count("\n") == 1 and "Traceback" not in text, text
    assert text.startswith("xemu: error: ")
    return text


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e308", "1e400", "0", "-1", "x", ""])
def test_a_timeout_that_is_not_a_finite_positive_number(value):
    result = run_xemu("run", "--timeout", value, str(binary("arm")), "hello")
    assert "--timeout" in one_error_line(result)


@pytest.mark.parametrize("value", ["inf", "INF", "nan", "1e400M", "1e400", "-inf", "1e30G",
                                   "64K", "x"])
def test_a_memory_size_that_is_not_a_finite_sensible_size(value):
    result = run_xemu("run", "--memory", value, str(binary("arm")), "hello")
    assert "--memory" in one_error_line(result)


def test_ordinary_values_still_run(guest_env):
    result = run_xemu("run", "--timeout", "30", "--memory", "64M", str(binary("arm")),
                      "hello", "--exit=5", env=guest_env)
    assert result.returncode == 5, result.stderr
    result = run_xemu("run", "--timeout", "1e9", "--memory", "0.5G", str(binary("ppc")),
                      "hello", env=guest_env)
    assert result.returncode == 0, result.stderr
