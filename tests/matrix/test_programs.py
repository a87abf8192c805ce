"""Every test program x every arch x every accelerator that can run it:
exact stdout, exit status, stderr line. KVM runs only guests of the host's
own arch; where /dev/kvm is unusable those cases skip, saying why."""
import pytest

from tests.guests.cases import ARCHS, CASES, binary
from tests.helpers import kvm_skip_reason, run_xemu
from xemu.archs import all_specs

# guests xemu can run under KVM (on a host of their kind): a KVM CPU mode
KVM_ARCHS = tuple(spec.name for spec in all_specs() if spec.kvm_mode)


def matrix():
    for arch in ARCHS:
        for accel in ("tcg", "kvm") if arch in KVM_ARCHS else ("tcg",):
            reason = kvm_skip_reason(arch) if accel == "kvm" else ""
            marks = [pytest.mark.skip(reason=reason)] if reason else []
            for case in CASES:
                yield pytest.param(arch, accel, case, id=f"{arch}-{accel}-{case.name}",
                                   marks=marks)


@pytest.mark.parametrize("arch,accel,case", list(matrix()))
def test_program(arch, accel, case, tmp_path, guest_env):
    image = str(binary(arch))
    result = run_xemu("run", "--accel", accel, "-q", *case.xemu_args,
                      *(f"-E{k}={v}" for k, v in case.env.items()),
                      image, *case.args, stdin=case.stdin or b"", env=guest_env, cwd=tmp_path)
    assert result.stdout == case.expected(arch, image)
    assert result.returncode == case.status_on(arch), result.stderr.decode(errors="replace")
    if case.stderr:
        assert case.stderr in result.stderr.decode(errors="replace")
    assert list(tmp_path.iterdir()) == [], "the program left files behind"


# TCG without its compiled part (no compiler at install, or XEMU_PURE_PYTHON=1):
# the cases whose memory accesses, faults and code writes take another path
# there (Unicorn's own TLB and invalid-memory hook instead of the C fill hook
# and the replay of a refused access), and whose system calls do (every one
# through the binding's hooks instead of the C syscall entry).
PURE_PYTHON_CASES = ("hello", "memory", "segv", "jump0", "rowrite", "unaligned", "recurse",
                     "straddle", "segvjmp", "altstack", "fpsignal", "forkwait", "kuser",
                     "privileged-io", "fastcalls", "timing", "vfork", "sighandler", "restart")


@pytest.mark.parametrize("arch,case", [
    pytest.param(arch, case, id=f"{arch}-{case.name}")
    for arch in ARCHS for case in CASES if case.name in PURE_PYTHON_CASES])
def test_program_without_the_compiled_part(arch, case, tmp_path, guest_env):
    image = str(binary(arch))
    result = run_xemu("run", "--accel", "tcg", "-q", *case.xemu_args,
                      *(f"-E{k}={v}" for k, v in case.env.items()),
                      image, *case.args, stdin=case.stdin or b"",
                      env={**guest_env, "XEMU_PURE_PYTHON": "1"}, cwd=tmp_path)
    assert result.stdout == case.expected(arch, image)
    assert result.returncode == case.status_on(arch), result.stderr.decode(errors="replace")
    if case.stderr:
        assert case.stderr in result.stderr.decode(errors="replace")


def test_the_pure_python_path_says_so(guest_env):
    result = run_xemu("run", "--accel", "tcg", "-v", str(binary("arm")), "hello",
                      env={**guest_env, "XEMU_PURE_PYTHON": "1"})
    assert "pure Python (XEMU_PURE_PYTHON is set)" in result.stderr.decode()


@pytest.mark.parametrize("arch", KVM_ARCHS)
@pytest.mark.parametrize("program", ["segv", "trap", "divzero"])
def test_fault_report_is_the_same_under_both_accelerators(arch, program, tmp_path, guest_env):
    reason = kvm_skip_reason(arch)
    if reason:
        pytest.skip(reason)
    lines = {}
    for accel in ("tcg", "kvm"):
        result = run_xemu("run", "--accel", accel, str(binary(arch)), program,
                          env=guest_env, cwd=tmp_path)
        lines[accel] = (result.returncode, result.stderr.decode().strip().splitlines()[-1])
    assert lines["tcg"] == lines["kvm"]
    assert "guest killed by SIG" in lines["kvm"][1]
