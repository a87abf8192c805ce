"""Threads on every arch and accelerator: clone with CLONE_VM, futexes,
TLS, per-thread signals, a process's end from any thread, C++ std::thread
and OpenMP. Expected outputs come from the native CPU and qemu-user (see
tests/guests/cases.py for where qemu-user is wrong and xemu must not be)."""
import pytest

from tests.guests.cases import (ARCHS, GO_ARCHS, GO_CASES, THREAD_CASES, THREAD_CXX_CASES,
                                TORTURE, binary, cxx_binary, go_binary)
from tests.helpers import kvm_skip_reason, run_xemu
from xemu.archs import all_specs

KVM_ARCHS = tuple(spec.name for spec in all_specs() if spec.kvm_mode)


def arch_accels(archs=ARCHS):
    for arch in archs:
        for accel in ("tcg", "kvm") if arch in KVM_ARCHS else ("tcg",):
            reason = kvm_skip_reason(arch) if accel == "kvm" else ""
            yield arch, accel, [pytest.mark.skip(reason=reason)] if reason else []


def accelerated(cases, image_of, archs=ARCHS):
    for arch, accel, marks in arch_accels(archs):
        for case in cases:
            yield pytest.param(arch, accel, case, image_of(arch),
                               id=f"{arch}-{accel}-{case.name}", marks=marks)


@pytest.mark.parametrize("arch,accel,case,image",
                         list(accelerated(THREAD_CASES, binary))
                         + list(accelerated(THREAD_CXX_CASES, cxx_binary))
                         + list(accelerated(GO_CASES, go_binary, GO_ARCHS)))
def test_threads(arch, accel, case, image, tmp_path, guest_env):
    """The Go runtime is the classic torture of an emulator's threads and
    signals: goroutines over several threads, SIGURG preemption on each
    thread's alternate stack, its own SIGSEGV handling, epoll for timers."""
    result = run_xemu("run", "--accel", accel, "-q", str(image), *case.args,
                      env=guest_env, cwd=tmp_path, timeout=120)
    stderr = result.stderr.decode(errors="replace")
    assert result.stdout == case.expected(arch, str(image)), stderr
    assert result.returncode == case.status_on(arch), stderr
    if case.stderr:
        assert case.stderr in stderr
    assert list(tmp_path.iterdir()) == [], "the program left files behind"


@pytest.mark.parametrize("arch,accel", [pytest.param(arch, accel, marks=marks,
                                                      id=f"{arch}-{accel}")
                                         for arch, accel, marks in arch_accels()])
def test_torture_counts_are_exact(arch, accel, tmp_path, guest_env):
    """8 threads x 1,000,000 increments through a mutex and through atomics
    (ldrex/strex, ldaxr/stlxr, lwarx/stwcx., lock cmpxchg), racing: the
    totals are exact, because under TCG one engine runs at a time and its
    time slice ends only between two translated blocks."""
    for args in TORTURE:
        result = run_xemu("run", "--accel", accel, "-q", str(binary(arch)), *args,
                          env=guest_env, cwd=tmp_path, timeout=300)
        lines = result.stdout.decode().splitlines()
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        assert lines[1:] and all(line.endswith("exact=1") for line in lines[1:]), lines
