"""--timeout and --memory: a runaway guest stops with status 124 and one
line, whether it spins in guest code or waits in a system call."""
import os
import subprocess
import sys
import time

import pytest

from tests.guests.cases import binary
from tests.helpers import kvm_skip_reason, run_xemu

ACCELS = [("ppc", "tcg"), ("x86_64", "tcg"), ("x86_64", "kvm")]


def skip_without_kvm(arch: str, accel: str) -> None:
    if accel == "kvm" and kvm_skip_reason(arch):
        pytest.skip(kvm_skip_reason(arch))


@pytest.mark.parametrize("arch,accel", ACCELS)
def test_timeout_stops_a_spinning_guest(arch, accel, guest_env):
    skip_without_kvm(arch, accel)
    start = time.monotonic()
    result = run_xemu("run", "--accel", accel, "--timeout", "0.5", str(binary(arch)), "spin",
                      env=guest_env, timeout=60)
    assert result.returncode == 124
    assert result.stderr.decode() == "xemu: guest stopped: --timeout of 0.5 s reached\n"
    assert time.monotonic() - start < 20


@pytest.mark.parametrize("arch,accel", ACCELS)
def test_timeout_stops_a_guest_blocked_in_read(arch, accel, guest_env):
    skip_without_kvm(arch, accel)
    read_end, write_end = os.pipe()          # we keep write_end open: read blocks
    try:
        result = subprocess.run([sys.executable, "-m", "xemu", "run", "--accel", accel,
                                 "--timeout", "0.5", str(binary(arch)), "cat"],
                                stdin=read_end, capture_output=True, env=guest_env,
                                timeout=60)
    finally:
        os.close(read_end)
        os.close(write_end)
    err = result.stderr
    assert result.returncode == 124
    assert err.decode().endswith("--timeout of 0.5 s reached\n")


@pytest.mark.parametrize("value", ["12", "lots", "-5M"])
def test_bad_memory_sizes_are_one_line(value):
    result = run_xemu("run", "--memory", value, str(binary("arm")), "hello")
    text = result.stderr.decode()
    assert result.returncode == 2 and text.count("\n") == 1
    assert text.startswith("xemu: error: Invalid value for '--memory'")


def test_an_image_larger_than_the_memory_cap_is_refused(guest_env):
    result = run_xemu("run", "--memory", "1M", str(binary("x86_64")), "hello", env=guest_env)
    assert result.returncode == 2
    assert "needs more memory than --memory allows" in result.stderr.decode()


def test_timeout_covers_loading(monkeypatch, capsys):
    """An image that held the loader (a header that made it walk 4 billion
    entries) ran before --timeout was armed: now one deadline counts from
    the request, loading included."""
    import xemu.run as run_module
    from xemu.run import RunRequest

    def slow_open(path, arch, fd=None):
        time.sleep(30)
    monkeypatch.setattr(run_module, "open_image", slow_open)
    start = time.monotonic()
    result = run_module.run(RunRequest(image=str(binary("arm")), timeout=0.3))
    assert result.status == 124
    assert time.monotonic() - start < 5
    assert capsys.readouterr().err == "xemu: guest stopped: --timeout of 0.3 s reached\n"


def test_the_deadline_counts_from_the_request():
    """Time spent before the guest starts comes off its --timeout."""
    from xemu.run import RunRequest
    from xemu.run.drive import Driver
    request = RunRequest(image="x", timeout=5.0)
    request.started -= 4.0
    driver = Driver(request)
    assert driver.deadline - time.monotonic() < 1.1
