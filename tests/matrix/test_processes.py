"""Processes across what a run holds together: a program of one arch
starting one of another (translated, or on KVM), --rootfs and --timeout
over every process of the tree, --strace telling the processes apart."""
import re
import shutil
import time

import pytest

from tests.guests.cases import ARCHS, binary
from tests.helpers import kvm_skip_reason, run_xemu

FOREIGN_HOSTED = [(parent, child) for parent in ARCHS for child in ARCHS if parent != child]


@pytest.mark.parametrize("parent,child", FOREIGN_HOSTED,
                         ids=[f"{p}-starts-{c}" for p, c in FOREIGN_HOSTED])
def test_a_program_starts_a_program_of_another_arch(parent, child, tmp_path, guest_env):
    result = run_xemu("run", "-v", str(binary(parent)), "runprog", str(binary(child)),
                      "hello", "from", parent, env=guest_env, cwd=tmp_path)
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert out.endswith(f"argv[2]={parent}\nGREETING=(unset)\nprogram: exited 0\n")
    chosen = re.findall(r"xemu: (\w+) guest, accel=(\w+)", result.stderr.decode())
    assert chosen[0][0] == parent and chosen[1][0] == child
    if child == "x86_64" and not kvm_skip_reason(child):
        assert chosen[1][1] == "kvm"          # the child runs on the CPU itself


def test_timeout_covers_every_process_of_the_tree(tmp_path, guest_env):
    started = time.monotonic()
    result = run_xemu("run", "--timeout", "1", str(binary("arm")), "runprog",
                      str(binary("arm")), "spin", env=guest_env, cwd=tmp_path)
    assert result.returncode == 124
    assert time.monotonic() - started < 20
    assert b"--timeout of 1 s reached" in result.stderr


@pytest.mark.parametrize("arch", ["ppc", "x86_64"])
def test_exec_inside_a_rootfs_finds_programs_inside_it(arch, tmp_path, guest_env):
    root = tmp_path / "root"
    (root / "bin").mkdir(parents=True)
    shutil.copy(binary(arch), root / "bin" / "xtest")
    result = run_xemu("run", "--rootfs", str(root), "/bin/xtest", "runprog",
                      "/bin/xtest", "hello", "jailed", env=guest_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr.decode()
    assert b"argv[1]=jailed\n" in result.stdout and b"program: exited 0" in result.stdout


def test_strace_lines_carry_pids_once_the_guest_forks(tmp_path, guest_env):
    result = run_xemu("run", "--strace", str(binary("aarch64")), "forkwait",
                      env=guest_env, cwd=tmp_path)
    lines = result.stderr.decode().splitlines()
    assert lines[0].startswith("brk(")               # one process: no pid yet
    pids = {int(line.split()[0]) for line in lines if re.match(r"\d+ \w+\(", line)}
    assert len(pids) >= 5                             # the parent and four children
    assert sum(1 for line in lines if re.match(r"\d+ exit_group\(", line)) >= 4
