"""How one host thread stops another's KVM_RUN: KICK_SIGNAL, sent to the
thread and never delivered to a handler.

A thread running a vCPU blocks KICK_SIGNAL while it may be kicked (`block`),
and the vCPU's own signal mask (KVM_SET_SIGNAL_MASK, the thread's mask
without KICK_SIGNAL) lets it through only inside KVM_RUN. A kick that
arrives in KVM_RUN ends it with EINTR; one that arrives just before stays
pending and ends the next KVM_RUN at once, so none is lost. Either way the
thread takes it back with sigtimedwait (`take`) before it unblocks the
signal again, so no handler ever runs for it: the host-signal watcher of
the Linux layer (which sees every signal with a Python handler) never
mistakes a kick for a SIGUSR1 meant for the guest, and a thread without
any handler for KICK_SIGNAL is not killed by one. This is QEMU's SIG_IPI
scheme (kvm_eat_signals). A kick is sent only while its target blocks the
signal (KvmAccelerator._kick checks under the address space's lock), and
the target stops kicks under that lock before it takes them back and
unblocks the signal, so none is ever left for a handler.

A SIGUSR1 from outside xemu that arrives while the vCPU threads block it is
taken the same way; `take` counts it (its sender is another process: xemu
sends KICK_SIGNAL to itself only to kick) and the caller sends it again to
its own thread once it unblocks the signal (`resend`), so it reaches the
guest as before. (si_pid tells them apart; si_code does not on every host:
some report a pthread_kill as SI_USER.)

The masks are set with pthread_sigmask through ctypes and prebuilt sets:
the syscall path unblocks the signal around each call (a call may wait for
a long time, and a SIGUSR1 must reach the guest meanwhile).
"""
from __future__ import annotations

import ctypes
import os
import signal
import threading

from ..base import KICK_SIGNAL

_libc = ctypes.CDLL(None, use_errno=True)
_libc.pthread_sigmask.argtypes = (ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
_libc.pthread_sigmask.restype = ctypes.c_int
_SIG_BLOCK, _SIG_UNBLOCK = 0, 1

Sigset = ctypes.c_uint64 * 16      # glibc's sigset_t: 1024 bits
KICK_BIT = 1 << (KICK_SIGNAL - 1)
_KICK_SET = Sigset(KICK_BIT)
_KICK_ONLY = {KICK_SIGNAL}


def _mask(how: int, old: ctypes.Array | None = None) -> None:
    error = _libc.pthread_sigmask(how, ctypes.byref(_KICK_SET),
                                  None if old is None else ctypes.byref(old))
    if error:
        raise OSError(error, os.strerror(error))


def block(before: bool = False) -> int:
    """Block KICK_SIGNAL in this thread; with before, answer the signals (a
    bit per signal, bit n - 1 for signal n, the kernel's first 64) it
    blocked before."""
    if not before:
        _mask(_SIG_BLOCK)
        return 0
    old = Sigset()
    _mask(_SIG_BLOCK, old)
    return old[0]


def unblock() -> None:
    _mask(_SIG_UNBLOCK)


def send(thread_id: int) -> None:
    """Kick the host thread (threading.get_ident()) running a vCPU."""
    signal.pthread_kill(thread_id, KICK_SIGNAL)


def take() -> int:
    """Take back every KICK_SIGNAL pending for this thread (it blocks the
    signal): how many of them came from outside xemu, to be resent."""
    foreign = 0
    pid = os.getpid()
    while True:
        info = signal.sigtimedwait(_KICK_ONLY, 0)
        if info is None:
            return foreign
        if info.si_pid != pid:
            foreign += 1


def resend(count: int) -> None:
    """Send again the outside SIGUSR1s `take` took, now that this thread no
    longer blocks the signal: its handler sees them as it would have."""
    for _ in range(count):
        signal.pthread_kill(threading.get_ident(), KICK_SIGNAL)
