"""--trace-exits: a line per KVM exit, what the guest needed xemu for."""
import json

import pytest

from tests.guests.cases import binary
from tests.helpers import ROOT, kvm_skip_reason, run_xemu


def test_each_system_call_is_an_exit_and_a_line(tmp_path, guest_env):
    if kvm_skip_reason():
        pytest.skip(kvm_skip_reason())
    stats = tmp_path / "stats.json"
    result = run_xemu("run", "--accel", "kvm", "--trace-exits", "--stats-json", str(stats),
                      str(binary("x86_64")), "hello", env=guest_env)
    assert result.returncode == 0
    lines = [line for line in result.stderr.decode().splitlines()
             if line.startswith("xemu: kvm exit: ")]
    assert "xemu: kvm exit: syscall write" in lines
    assert lines[-1] == "xemu: kvm exit: syscall exit_group"
    assert len(lines) == json.loads(stats.read_text())["vm_exits_total"]


def test_a_boards_port_writes_are_exits():
    if kvm_skip_reason():
        pytest.skip(kvm_skip_reason())
    result = run_xemu("run", "--arch", "x86_64", "--accel", "kvm", "--trace-exits",
                      str(ROOT / "examples" / "baremetal" / "boot.bin"))
    lines = [line for line in result.stderr.decode().splitlines() if "kvm exit" in line]
    assert "xemu: kvm exit: io out port 0x3f8, 1 byte(s): 0x48" in lines     # 'H'
    assert lines[-1].startswith("xemu: kvm exit: io out port 0x501,")     # isa-debug-exit


def test_a_translated_guest_has_no_exits_to_show(guest_env):
    result = run_xemu("run", "--trace-exits", str(binary("ppc")), "hello", env=guest_env)
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "--trace-exits" in lines[0]
