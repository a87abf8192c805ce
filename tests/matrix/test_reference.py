"""The same programs under the reference: qemu-user-static for foreign archs,
the host CPU itself for x86. Skipped with the reason where it is missing.

Known divergences are listed here by name, each with the reason; they are
strict xfails, so the day the reference changes, this test says so.
"""
import os
import platform
import shutil
import subprocess

import pytest

from tests.guests.cases import ARCHS, CASES, binary
from tests.helpers import run_xemu
from xemu.archs import all_specs, by_name
from xemu.machine.select import host_arch, kvm_can_run

# The host CPU runs its own kind of arch natively; qemu-user runs the rest.
QEMU = {spec.name: f"qemu-{spec.name}-static" for spec in all_specs()
        if not kvm_can_run(spec, host_arch())}
# Compare against the CPU xemu emulates (qemu-ppc's default has no AltiVec).
QEMU_ENV = {spec.name: {"QEMU_CPU": spec.tcg.qemu_cpu} for spec in all_specs()
            if spec.tcg.qemu_cpu}
KNOWN = {
    ("ppc", "dirs"): "qemu-user passes the host's 64-bit ext4 d_off hashes to a "
                     "32-bit guest, so glibc's readdir fails with EOVERFLOW",
    ("arm", "dirs"): "qemu-user passes the host's 64-bit ext4 d_off hashes to a "
                     "32-bit guest, so glibc's readdir fails with EOVERFLOW",
    ("ppc", "floats"): "qemu 7.2 raises SIGILL on glibc's mffscrni, which pre-POWER9 "
                       "CPUs execute as mffs",
    **{(arch, "sharedfile"): "qemu-user gives a 32-bit guest's SIGBUS past a file's end an "
                             "si_addr one page above the access (a native i386 process "
                             "gets the access's own, as xemu gives)" for arch in ("ppc", "arm")},
    ("i386", "proc"): "a native i386 process on an x86-64 kernel sees uname machine "
                      "x86_64; xemu reports i686 like an i386 kernel",
    **{(arch, case): reason for arch in QEMU for case, reason in {
        "vforkfork": "qemu-user runs vfork as fork, so what the child notes in shared "
                     "memory (its getppid) never reaches the parent",
        "resources": "qemu-user answers mincore of an unaligned address ENOMEM; the "
                     "kernel's mincore checks alignment first (EINVAL)",
        "execself": "qemu-user hands execve of a foreign program to the host kernel, "
                    "which cannot run it without binfmt_misc (ENOEXEC)",
        "script": "qemu-user hands execve to the host kernel, whose #! interpreter "
                  "here is a foreign program it cannot run without binfmt_misc",
        "terminal": "qemu-user answers an ioctl request it does not know ENOSYS; "
                    "Linux answers ENOTTY, which is what isatty-style probes expect",
        "vfork": "qemu-user runs vfork as fork, so the child's writes do not reach "
                 "its parent (and its exec of a foreign program fails, as above)",
        "autodisarm": "qemu-user refuses sigaltstack with SS_AUTODISARM (EINVAL); "
                      "Linux has it since 4.7 and puts the stack back at rt_sigreturn",
        "fastcalls": "qemu-user answers EFAULT to a write whose buffer runs into an "
                     "unmapped page; Linux writes the bytes before it (a short count)",
    }.items()},
}


def reference_command(arch: str) -> list[str]:
    if arch in QEMU:
        found = shutil.which(QEMU[arch])
        if not found:
            pytest.skip(f"{QEMU[arch]} is not installed (apt-get install qemu-user-static)")
        return [found]
    if not kvm_can_run(by_name(arch), host_arch()):
        pytest.skip(f"the host ({platform.machine()}) cannot run {arch} natively")
    return []


def params():
    for arch in ARCHS:
        for case in (c for c in CASES if c.reference):
            marks = []
            reason = KNOWN.get((arch, case.name))
            if reason:
                marks.append(pytest.mark.xfail(reason=reason, strict=True))
            yield pytest.param(arch, case, id=f"{arch}-{case.name}", marks=marks)


@pytest.mark.parametrize("arch,case", list(params()))
def test_same_as_reference(arch, case, tmp_path, guest_env):
    command = reference_command(arch)
    image = str(binary(arch))
    env = {**guest_env, **case.env, **QEMU_ENV.get(arch, {})}
    reference = subprocess.run([*command, image, *case.args], input=case.stdin or b"",
                               capture_output=True, env=env, cwd=tmp_path, timeout=120)
    for leftover in tmp_path.iterdir():
        shutil.rmtree(leftover) if leftover.is_dir() else os.unlink(leftover)
    ours = run_xemu("run", "-q", *(f"-E{k}={v}" for k, v in case.env.items()), image,
                    *case.args, stdin=case.stdin or b"", env=guest_env, cwd=tmp_path)
    # killed by signal N: -N from both, as xemu ends by the guest's signal
    assert ours.stdout == reference.stdout
    assert ours.returncode == reference.returncode
