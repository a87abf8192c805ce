"""Which accelerator runs a guest, and every refusal, each as one line."""
import os

import pytest

from tests.guests.cases import binary
from tests.helpers import kvm_skip_reason, run_xemu


def one_line(result) -> str:
    text = result.stderr.decode()
    assert text.count("\n") == 1 and "Traceback" not in text, text
    return text


@pytest.mark.parametrize("arch", ["ppc", "arm", "aarch64"])
def test_kvm_refused_for_foreign_arches(arch):
    result = run_xemu("run", "--accel", "kvm", str(binary(arch)), "hello")
    assert result.returncode == 2
    line = one_line(result)
    assert f"{arch} guests" in line and "x86_64 host" in line
    assert "directly on the host CPU" in line


def test_kvm_refused_when_the_device_is_missing(guest_env):
    env = {**guest_env, "XEMU_KVM_DEVICE": "/nonexistent/kvm"}
    result = run_xemu("run", "--accel", "kvm", str(binary("x86_64")), "hello", env=env)
    assert result.returncode == 2
    assert "/nonexistent/kvm does not exist" in one_line(result)


def test_auto_falls_back_to_tcg_without_kvm_and_says_why(guest_env):
    env = {**guest_env, "XEMU_KVM_DEVICE": "/nonexistent/kvm"}
    result = run_xemu("run", "-v", str(binary("x86_64")), "hello", env=env)
    assert result.returncode == 0
    assert "accel=tcg" in result.stderr.decode()
    assert "does not exist" in result.stderr.decode()


def test_kvm_refused_without_permission(monkeypatch, tmp_path):
    """As a user outside the kvm group: opening the device fails with EACCES."""
    from xemu.archs import by_name
    from xemu.errors import AccelError
    from xemu.machine import select
    from xemu.machine.accel.kvm import vm

    device = tmp_path / "kvm"
    device.write_text("")
    monkeypatch.setenv("XEMU_KVM_DEVICE", str(device))
    real_open = os.open

    def denied(path, *args, **kwargs):
        if path == str(device):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr(vm.os, "open", denied)
    select.kvm_state.cache_clear()
    try:
        with pytest.raises(AccelError, match="may not open it"):
            select.choose(by_name("x86_64"), "kvm")
        accel, reason = select.choose(by_name("x86_64"), "auto")
        assert accel == "tcg" and "may not open it" in reason
    finally:
        select.kvm_state.cache_clear()


@pytest.mark.skipif(bool(kvm_skip_reason()), reason=kvm_skip_reason() or "-")
def test_auto_picks_kvm_for_the_hosts_arch(guest_env):
    result = run_xemu("run", "-v", str(binary("x86_64")), "hello", env=guest_env)
    assert "accel=kvm" in result.stderr.decode()


def test_tcg_translates_x86_too(guest_env):
    result = run_xemu("run", "-v", "--accel", "tcg", str(binary("x86_64")), "hello",
                      env=guest_env)
    assert "accel=tcg" in result.stderr.decode() and result.returncode == 0


@pytest.mark.skipif(bool(kvm_skip_reason()), reason=kvm_skip_reason() or "-")
def test_self_test_passes_where_the_mode_works():
    from xemu.archs import by_name
    from xemu.machine.accel.kvm import self_test
    assert self_test(by_name("x86_64")) == (True, "")


def test_a_failed_self_test_means_translation_with_the_reason(monkeypatch):
    from xemu.archs import by_name
    from xemu.errors import AccelError
    from xemu.machine import select
    monkeypatch.setattr(select, "kvm_state", lambda: (True, "ok"))
    monkeypatch.setattr(select, "kvm_mode_works",
                        lambda name: (False, "illegal instruction on an SSE instruction"))
    accel, reason = select.choose(by_name("i386"), "auto")
    assert accel == "tcg" and "SSE" in reason
    with pytest.raises(AccelError, match="SSE"):
        select.choose(by_name("i386"), "kvm")


def test_info_names_the_kvm_flavour_from_the_loaded_module(tmp_path):
    from xemu.machine.select import kvm_flavour
    assert kvm_flavour(str(tmp_path)) == "no KVM module loaded"
    (tmp_path / "kvm").mkdir()
    assert "unknown" in kvm_flavour(str(tmp_path))
    (tmp_path / "kvm_pvm").mkdir()
    assert kvm_flavour(str(tmp_path)).startswith("PVM (kvm_pvm)")
    result = run_xemu("info")
    assert result.returncode == 0 and "KVM flavour:" in result.stdout.decode()


def test_the_kvm_modes_named_for_the_host_are_those_the_accelerator_builds():
    """select.py names them so that a foreign guest's run never imports KVM."""
    from xemu.machine.accel.kvm.x86 import MODES
    from xemu.machine.select import KVM_MODES_OF_HOST
    assert KVM_MODES_OF_HOST["x86_64"] == set(MODES)


def test_a_foreign_guest_run_imports_neither_kvm_nor_a_debugger():
    import subprocess
    import sys
    from tests.guests.cases import binary
    code = ("import sys, runpy; sys.argv = ['xemu', 'run', %r, 'hello'];\n"
            "try: runpy.run_module('xemu', run_name='__main__')\n"
            "except SystemExit: pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('xemu.machine.accel.kvm', "
            "'xemu.debug.gdbstub', 'elftools'))), file=sys.stderr)") % str(binary("arm"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert result.stderr.decode().strip().splitlines()[-1] == "[]", result.stderr.decode()
