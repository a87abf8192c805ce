"""Short runs of the fuzzers (fuzz/, issue 20) with fixed seeds, so a
failure here replays with the reproducer it prints: the system call fuzzer
on every arch and accelerator (KVM where it can run the arch), the ELF
mutation fuzzer through the real CLI. The long runs are `python -m fuzz`
(README's "Fuzzing"). Every xemu run is in a namespace sandbox: where
unshare cannot make one, these tests are skipped."""
import functools
import os
from concurrent.futures import ThreadPoolExecutor

import pytest

from fuzz.elf import ElfFuzzer, outcome
from fuzz.failures import Failures, traceback_key
from fuzz.sandbox import Result, Workspace, measure_overhead, run, sandbox_skip_reason
from fuzz.syscalls import SyscallFuzzer, calls_made
from tests.helpers import kvm_skip_reason
from xemu.archs import NAMES

SEED = 20                 # the number; any fixed seed replays
CALLS = {"tcg": 4000, "kvm": 2400}
ELFS = 120
SLACK = 32 << 20


@functools.cache
def sandbox_reason() -> str:
    return sandbox_skip_reason()


def need_sandbox() -> None:
    if sandbox_reason():
        pytest.skip(f"no namespace sandbox for xemu's runs: {sandbox_reason()}")


CONFIGS = [pytest.param(arch, "tcg", id=f"{arch}-tcg") for arch in NAMES] + \
          [pytest.param("x86_64", "kvm", id="x86_64-kvm")]


@pytest.mark.parametrize("arch,accel", CONFIGS)
def test_syscall_fuzz(arch, accel):
    """Seeded random calls: no internal error, no traceback, no status 70,
    nothing changed outside the root, peak RSS within --memory plus the
    overhead of running hello."""
    need_sandbox()
    if accel == "kvm" and kvm_skip_reason(arch):
        pytest.skip(f"KVM: {kvm_skip_reason(arch)}")
    failures = Failures()
    fuzzer = SyscallFuzzer(arch, accel, SEED, measure_overhead(arch, accel), SLACK, failures,
                           log=lambda message: None)
    calls = CALLS[accel]
    with ThreadPoolExecutor(2) as pool:       # two halves side by side: this machine's cores
        list(pool.map(lambda first: fuzzer.fuzz(first, calls // 2), (0, calls // 2)))
    assert not failures.groups, "\n" + failures.report()
    assert fuzzer.stats.calls > calls * 0.8, f"only {fuzzer.stats.calls} calls were made"


def test_elf_fuzz():
    """Mutated xtest binaries of every arch through the real CLI: a clean
    run, a guest fault or exit, --timeout, or one `xemu: error:` line with
    status 2; never status 70, a traceback or a hang."""
    need_sandbox()
    failures = Failures()
    fuzzer = ElfFuzzer(SEED, failures, list(NAMES), log=lambda message: None)
    fuzzer.fuzz(0, ELFS, jobs=2, progress=3600)
    assert not failures.groups, "\n" + failures.report()
    assert sum(fuzzer.outcomes.values()) == ELFS
    assert fuzzer.outcomes["error"] and fuzzer.outcomes["clean"], fuzzer.outcomes


def test_a_call_replays_alone():
    """Call i depends on (seed, i) alone: announced the same alone as in a run."""
    need_sandbox()
    in_a_run = calls_made("arm", "tcg", SEED, 0, 40)
    alone = calls_made("arm", "tcg", SEED, 33, 1)
    assert 33 in in_a_run, "the run ended before call 33: pick another index"
    assert alone[33] == in_a_run[33]


def test_escapes_are_seen():
    """The canary check sees a change beside the root, and none inside it."""
    workspace = Workspace()
    try:
        (workspace.root / "inside").write_text("fine")
        assert workspace.escapes() == []
        (workspace.canary / "file").write_text("changed")
        (workspace.path / "new").write_text("new")
        changed = workspace.escapes()
        assert any(c.startswith("canary/file") for c in changed)
        assert any(c.startswith("new") for c in changed)
    finally:
        workspace.remove()


def test_reports_group_by_last_xemu_frame():
    lines = ["Traceback (most recent call last):",
             '  File "/x/xemu/linux/syscalls/fs.py", line 5, in pread64',
             "    os.pread(fd, size, offset)",
             '  File "/usr/lib/python3.11/ctypes/__init__.py", line 64, in create_string_buffer',
             "    buf = buftype()",
             "MemoryError",
             "xemu: warning: internal error in pread64 (MemoryError: ) returns EINVAL"]
    assert traceback_key(lines) == "xemu/linux/syscalls/fs.py:5 pread64: MemoryError"


@pytest.mark.parametrize("status,stderr,expected", [
    (0, "", ("clean", None)),
    (2, "xemu: error: prog: not an ELF\n", ("error", None)),
    (2, "xemu: error: a\nxemu: error: b\n", ("error", "an error in 2 lines, not one")),
    (70, "xemu: internal error: KeyError: 3 (run with -v for the traceback)\n",
     ("internal", "status 70 or an internal error")),
    (139, "xemu: guest killed by SIGSEGV (Segmentation fault): ...\n", ("fault", None)),
    (124, "xemu: timeout\n", ("timeout", None)),
])
def test_elf_outcomes(status, stderr, expected):
    assert outcome(Result(status, None, stderr.encode(), 0, 0.0), stderr) == expected


def test_sandbox_keeps_xemu_out_of_pid_1():
    """Inside the sandbox xemu is not the pid namespace's init (an init
    cannot be ended by its own default-action signal)."""
    need_sandbox()
    workspace = Workspace()
    try:
        result = run(["sh", "-c", "echo $$ >&2"], workspace, deadline=30)
        assert result.status == 0
        assert int(result.stderr) != 1
    finally:
        workspace.remove()


def test_sandbox_cannot_change_host_files(tmp_path):
    """The sandbox's root owns the host's files when the fuzzer runs as
    root: every mount but the workspace is read-only inside, and stdin and
    stdout are pipes, not the host's /dev/null (whose mode a guest's fchmod
    once changed). Each attempt below is harmless if it wrongly succeeds."""
    need_sandbox()
    outside = tmp_path / "outside"
    null_mode = oct(os.stat("/dev/null").st_mode & 0o7777)[2:]
    workspace = Workspace()
    try:
        script = (f"chmod {null_mode} /dev/null 2>&-; echo $? >&2; "
                  f"touch {outside} 2>&-; echo $? >&2; "
                  f"stat -L -c %F /proc/self/fd/0 /proc/self/fd/1 >&2; "
                  f"touch {workspace.cwd}/inside; echo $? >&2")
        result = run(["sh", "-c", script], workspace, deadline=30)
        null_status, outside_status, stdin, stdout, inside_status = \
            result.stderr.decode().split("\n")[:5]
        assert null_status != "0" and outside_status != "0"
        assert not outside.exists()
        assert (stdin, stdout) == ("fifo", "fifo")
        assert inside_status == "0"
    finally:
        workspace.remove()
