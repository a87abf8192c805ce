"""--strace: one line per system call, qemu-user's style, from the arch's
own table, under either accelerator."""
import pytest

from tests.guests.cases import binary
from tests.helpers import kvm_skip_reason, run_xemu


@pytest.mark.parametrize("arch,accel", [("arm", "tcg"), ("ppc", "tcg"), ("aarch64", "tcg"),
                                        ("x86_64", "kvm")])
def test_hello_under_strace(arch, accel, guest_env):
    if accel == "kvm" and kvm_skip_reason():
        pytest.skip(kvm_skip_reason())
    result = run_xemu("run", "--strace", "--accel", accel, str(binary(arch)), "hello",
                      env=guest_env)
    shown = result.stderr.decode()
    lines = shown.splitlines()
    assert result.returncode == 0, shown
    assert 'write(1, "hello, world\\nargc=1\\nargv[0]=hell"..., 51) = 51' in lines, shown
    assert lines[-1] == "exit_group(0)", shown
    assert any(line.startswith("brk(0x0) = 0x") for line in lines)


def test_errors_are_shown_by_name(guest_env, tmp_path):
    result = run_xemu("run", "--strace", "--accel", "tcg", str(binary("arm")), "fileio",
                      env=guest_env, cwd=tmp_path)
    lines = result.stderr.decode().splitlines()
    assert 'unlink("xemu-fileio.tmp") = -1 ENOENT (No such file or directory)' in lines
    assert any(line.startswith('openat(AT_FDCWD, "xemu-fileio.tmp", ') and line.endswith(" = 3")
               for line in lines)


def test_untraced_runs_print_nothing(guest_env):
    result = run_xemu("run", "--accel", "tcg", str(binary("arm")), "hello", env=guest_env)
    assert result.stderr == b""


def test_threads_show_their_tids_and_restarts_show_the_kernel_code(guest_env, tmp_path):
    """Once a thread starts, every line carries the tid (the pid for the
    first thread), as strace -f; a call a signal interrupted shows the
    kernel's restart code by name, not 'Unknown error 512'."""
    result = run_xemu("run", "--strace", "--accel", "tcg", str(binary("arm")), "restart",
                      env=guest_env, cwd=tmp_path)
    lines = result.stderr.decode().splitlines()
    assert result.returncode == 0
    assert any("= ? ERESTARTSYS (To be restarted if SA_RESTART is set)" in line
               for line in lines), lines
    assert not any("Unknown error 5" in line for line in lines)
    result = run_xemu("run", "--strace", "--accel", "tcg", str(binary("arm")), "manythreads",
                      env=guest_env, cwd=tmp_path)
    lines = result.stderr.decode().splitlines()
    started = next(i for i, line in enumerate(lines) if line.startswith("clone"))
    tids = {line.split()[0] for line in lines[started + 1:]}
    assert all(tid.isdigit() for tid in tids) and len(tids) > 2
