"""Signals sent to xemu from outside reach the guest: its handlers run
(while it waits in pause or spins in a loop), and a signal it does not
handle ends xemu by that same signal, so the parent sees WIFSIGNALED."""
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.guests.cases import ARCHS, binary
from tests.helpers import kvm_skip_reason
from xemu.archs import all_specs

KVM_ARCHS = tuple(spec.name for spec in all_specs() if spec.kvm_mode)
SENT = (signal.SIGINT, signal.SIGWINCH, signal.SIGRTMIN + 3)


def accelerators():
    for arch in ARCHS:
        for accel in ("tcg", "kvm") if arch in KVM_ARCHS else ("tcg",):
            reason = kvm_skip_reason(arch) if accel == "kvm" else ""
            yield pytest.param(arch, accel, id=f"{arch}-{accel}",
                               marks=[pytest.mark.skip(reason=reason)] if reason else [])


def start(arch: str, accel: str, *args: str, env: dict) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "xemu", "run", "--accel", accel,
                                str(binary(arch)), *args], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env)
    assert process.stdout.readline() == b"ready\n"
    return process


@pytest.mark.parametrize("arch,accel", list(accelerators()))
@pytest.mark.parametrize("waiting", ["wait", "spin"])
def test_signals_from_outside_reach_the_guests_handlers(arch, accel, waiting, guest_env):
    process = start(arch, accel, "waitsig", waiting, env=guest_env)
    try:
        seen = []
        for number in SENT:
            os.kill(process.pid, number)
            line = process.stdout.readline()       # the handler ran: within ms, or hangs
            seen.append(line.decode().strip())
        assert seen == [f"got {int(n)}" for n in SENT]
        assert process.wait(30) == 0
    finally:
        process.kill()
        process.wait()


@pytest.mark.parametrize("arch,accel", list(accelerators()))
def test_an_unhandled_signal_ends_xemu_by_the_same_signal(arch, accel, guest_env):
    process = start(arch, accel, "waitsig", env=guest_env)
    try:
        os.kill(process.pid, signal.SIGUSR2)       # no handler: the default action
        assert process.wait(30) == -signal.SIGUSR2
        assert b"guest killed by SIGUSR2" in process.stderr.read()
    finally:
        process.kill()
        process.wait()


@pytest.mark.parametrize("arch,accel", list(accelerators()))
def test_a_signal_reaches_a_spinning_guest_within_milliseconds(arch, accel, guest_env):
    process = start(arch, accel, "waitsig", "spin", env=guest_env)
    try:
        time.sleep(0.2)                      # well into the busy loop
        began = time.monotonic()
        os.kill(process.pid, signal.SIGHUP)
        assert process.stdout.readline() == b"got 1\n"
        assert time.monotonic() - began < 0.5
    finally:
        process.kill()
        process.wait()
