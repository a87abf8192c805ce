"""--trace and --stats on real programs: what the lines say, that the two
ways of counting instructions agree, and where KVM cannot trace."""
import json

import pytest

from tests.debug.gdb_session import debug_guest
from tests.guests.cases import binary
from tests.helpers import kvm_skip_reason, run_xemu

FIRST_INSTRUCTION = {       # _start of the freestanding debug guest
    "aarch64": "0x00000000004001b8: stp x29, x30, [sp, #-0x10]!",
    "arm": "0x0001018c: push {fp, lr}",
    "ppc": "0x100001a0: stwu r1, -0x10(r1)",
    "x86_64": "0x0000000000401099: push rbp",
}


@pytest.mark.parametrize("arch", sorted(FIRST_INSTRUCTION))
def test_instruction_trace_starts_at_the_entry(arch, guest_env, tmp_path):
    trace = tmp_path / "trace.txt"
    result = run_xemu("run", "--accel", "tcg", "--trace", str(trace), "--trace-mode", "insn",
                      debug_guest(arch), env=guest_env)
    assert (result.returncode, result.stdout) == (6, b"counted\n")
    lines = trace.read_text().splitlines()
    assert lines[0] == FIRST_INSTRUCTION[arch]
    assert lines[-1].split(": ")[1] in ("svc #0", "sc", "syscall")      # exit_group


def test_block_trace_to_stderr(guest_env):
    result = run_xemu("run", "--accel", "tcg", "--trace", "-", debug_guest("aarch64"),
                      env=guest_env)
    lines = result.stderr.decode().splitlines()
    assert lines[0] == ("0x00000000004001b8 [3] stp x29, x30, [sp, #-0x10]!; "
                        "mov x29, sp; bl #0x400154")
    assert len(lines) == 18 and result.stdout == b"counted\n"


@pytest.mark.parametrize("arch,program", [("aarch64", "xtest"), ("ppc", "xtest"),
                                          ("x86_64", "xtest"), ("i386", "xtest"),
                                          ("arm", "debugme")])
def test_counted_instructions_match_the_instruction_trace(arch, program, guest_env, tmp_path):
    """Blocks x their decoded length (--stats) against a hook per
    instruction (--trace-mode insn): two mechanisms, one number. (Thumb's IT
    blocks differ by design, so arm runs its ARM-state program.)"""
    image = str(binary(arch)) if program == "xtest" else debug_guest(arch)
    args = ("hello",) if program == "xtest" else ()
    stats, trace = tmp_path / "stats.json", tmp_path / "trace.txt"
    result = run_xemu("run", "--accel", "tcg", "--stats-json", str(stats), "--trace",
                      str(trace), "--trace-mode", "insn", image, *args, env=guest_env)
    assert result.returncode == 0 if args else 6
    summary = json.loads(stats.read_text())
    assert summary["guest_instructions"] == len(trace.read_text().splitlines())


def test_stats_summary_under_tcg(guest_env, tmp_path):
    stats = tmp_path / "stats.json"
    result = run_xemu("run", "--accel", "tcg", "--stats", "--stats-json", str(stats),
                      debug_guest("ppc"), env=guest_env)
    summary = json.loads(stats.read_text())
    assert summary["syscalls"] == {"write": 1, "exit_group": 1}
    assert (summary["accel"], summary["exit_status"]) == ("tcg", 6)
    assert summary["translation_blocks_executed"] == 18      # the trace's 18 lines
    assert summary["peak_guest_memory_bytes"] >= 8 << 20     # the 8 MiB stack
    text = result.stderr.decode()
    assert "xemu: stats: ppc guest, accel=tcg" in text
    assert "xemu: stats: 2 system calls: write 1, exit_group 1" in text


def test_stats_under_kvm_count_vm_exits(guest_env, tmp_path):
    if kvm_skip_reason():
        pytest.skip(kvm_skip_reason())
    stats = tmp_path / "stats.json"
    result = run_xemu("run", "--accel", "kvm", "--stats-json", str(stats),
                      str(binary("x86_64")), "hello", env=guest_env)
    summary = json.loads(stats.read_text())
    assert result.returncode == 0 and summary["accel"] == "kvm"
    assert summary["vm_exits"]["syscall"] == summary["syscalls_total"] > 10
    assert "translation_blocks_executed" not in summary


def test_tracing_needs_tcg(guest_env):
    if kvm_skip_reason():
        pytest.skip(kvm_skip_reason())
    refused = run_xemu("run", "--accel", "kvm", "--trace", "-", debug_guest("x86_64"),
                       env=guest_env)
    assert refused.returncode == 2
    assert refused.stderr.decode().startswith("xemu: error: --accel kvm: --trace shows")
    chosen = run_xemu("run", "-v", "--trace", "/dev/null", debug_guest("x86_64"),
                      env=guest_env)
    assert chosen.returncode == 6
    assert "accel=tcg: translated: --trace shows" in chosen.stderr.decode()


def test_an_unwritable_stats_file_is_refused_before_the_run(guest_env, tmp_path):
    result = run_xemu("run", "--accel", "tcg", "--stats-json", str(tmp_path / "no" / "s.json"),
                      debug_guest("arm"), env=guest_env)
    assert result.returncode == 2 and result.stdout == b""             # the guest never ran
    assert result.stderr.decode().startswith("xemu: error: --stats-json ")
