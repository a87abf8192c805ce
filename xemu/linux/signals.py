"""Signals as Linux keeps them: dispositions (per process), masks and
pending sets (per thread and per process), siginfo, default actions, and
delivery to a guest handler through the arch's signal frames.

Where signals come from:
- the guest itself (kill, tgkill, rt_sigqueueinfo, a CPU fault, SIGPIPE on
  a write to a closed pipe), queued by the system-call layer;
- outside: a host signal sent to xemu's process (the guest process *is* a
  host process: SIGINT from a terminal, SIGCHLD when a child ends, another
  guest's kill). `HostSignals` catches them and queues them for the guest;
- timers (alarm, setitimer), from a timer thread.

Delivery happens in the OS loop (loop.py) before the guest resumes: after a
system call that found signals due (the Dispatcher returns SignalsPending),
after the accelerator was woken (a host signal while guest code ran), after
a fault. A blocking call (read, wait4, poll, nanosleep, pause) waits on its
file descriptors and its thread's wake descriptor together, so a signal
interrupts it: it returns -ERESTARTSYS (or one of its kin) and delivery
decides, as the kernel's signal code does, whether it restarts or fails with EINTR.
"""
from __future__ import annotations

import errno
import fcntl
import os
import select
import stat
import signal as host_signal
import struct
import threading
import time
from collections import deque
from dataclasses import dataclass, field

from ..archs.base import (SA_NODEFER, SA_ONSTACK, SA_RESETHAND, SA_RESTART,
                          ArchSpec, SignalDelivery)
from ..errors import GuestMemoryError
from ..machine.accel.base import Fault, Stop
from ..machine.accel.tcgfast import SignalRecords
from ..machine.memory import PAGE, PROT_EXEC, PROT_READ
from .sched import RINGING, running_threads

NSIG = 64
SIG_DFL, SIG_IGN = 0, 1
SIGKILL, SIGSTOP, SIGCONT = 9, 19, 18
SIGRTMIN = 32                    # the kernel's: glibc keeps 32 and 33 for itself
SIGINFO_SIZE = 128
SS_ONSTACK, SS_DISABLE = 1, 2
SS_AUTODISARM = 1 << 31

# si_code values (include/uapi/asm-generic/siginfo.h)
SI_USER, SI_KERNEL, SI_QUEUE, SI_TIMER, SI_TKILL = 0, 0x80, -1, -2, -6
SEGV_MAPERR, SEGV_ACCERR = 1, 2
FAULT_CODES = {host_signal.SIGILL: 1, host_signal.SIGFPE: 1, host_signal.SIGBUS: 1,
               host_signal.SIGTRAP: 1}       # ILL_ILLOPC, FPE_INTDIV, BUS_ADRALN, TRAP_BRKPT

# What a blocking system call answers when a signal interrupts it (the
# kernel's include/linux/errno.h): delivery turns it into a restart or EINTR.
ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND, ERESTART_RESTARTBLOCK = 512, 513, 514, 516
POLL_MAX_MS = 2**31 - 1          # poll(2)'s timeout is a C int: longer waits wait again
RESTARTS = {-ERESTARTSYS, -ERESTARTNOINTR, -ERESTARTNOHAND, -ERESTART_RESTARTBLOCK}


def bit(signum: int) -> int:
    return 1 << (signum - 1)


UNBLOCKABLE = bit(SIGKILL) | bit(SIGSTOP)
# Faults the CPU raises: delivered before any other pending signal.
SYNCHRONOUS = sum(bit(s) for s in (host_signal.SIGSEGV, host_signal.SIGBUS, host_signal.SIGILL,
                                   host_signal.SIGTRAP, host_signal.SIGFPE, host_signal.SIGSYS))

# Default actions (signal(7)); every real-time signal terminates.
DEFAULT_ACTIONS = {
    **{s: "core" for s in (3, 4, 5, 6, 7, 8, 11, 24, 25, 31)},   # QUIT ILL TRAP ABRT BUS FPE SEGV XCPU XFSZ SYS
    **{s: "ignore" for s in (17, 23, 28)},                       # CHLD URG WINCH
    SIGCONT: "continue",
    **{s: "stop" for s in (19, 20, 21, 22)},                     # STOP TSTP TTIN TTOU
}


STOP_SIGNALS = tuple(s for s, action in DEFAULT_ACTIONS.items() if action == "stop")


def default_action(signum: int) -> str:
    return DEFAULT_ACTIONS.get(signum, "terminate")


def valid(signum: int) -> bool:
    return 1 <= signum <= NSIG


# -- the guest's own layouts ----------------------------------------------

def sigset_value(spec: ArchSpec, data: bytes) -> int:
    """A guest sigset_t (64 signals) as an int: one 64-bit word on 64-bit
    arches; two 32-bit words, low word first, on 32-bit ones."""
    if spec.bits == 64:
        return struct.unpack(spec.endian + "Q", data[:8])[0]
    low, high = struct.unpack(spec.endian + "II", data[:8])
    return low | high << 32


def sigset_bytes(spec: ArchSpec, value: int) -> bytes:
    value &= (1 << NSIG) - 1
    if spec.bits == 64:
        return struct.pack(spec.endian + "Q", value)
    return struct.pack(spec.endian + "II", value & 0xFFFFFFFF, value >> 32)


@dataclass(frozen=True)
class SigAction:
    """A disposition, as rt_sigaction's struct sigaction holds it: handler,
    flags, restorer, mask (the same order on every arch here)."""

    handler: int = SIG_DFL
    flags: int = 0
    restorer: int = 0
    mask: int = 0

    @staticmethod
    def size(spec: ArchSpec) -> int:
        return 3 * spec.word_size + 8

    @classmethod
    def unpack(cls, spec: ArchSpec, raw: bytes) -> SigAction:
        word = "Q" if spec.bits == 64 else "I"
        handler, flags, restorer = struct.unpack(spec.endian + word * 3, raw[:3 * spec.word_size])
        return cls(handler, flags & 0xFFFFFFFF, restorer,
                   sigset_value(spec, raw[3 * spec.word_size:]))

    def pack(self, spec: ArchSpec) -> bytes:
        word = "Q" if spec.bits == 64 else "I"
        return struct.pack(spec.endian + word * 3, self.handler, self.flags,
                           self.restorer) + sigset_bytes(spec, self.mask)


@dataclass(frozen=True)
class Siginfo:
    """One signal's siginfo_t, arch-neutral until packed."""

    signo: int
    code: int = SI_USER
    pid: int = 0
    uid: int = 0
    value: int = 0               # sigqueue's sigval, a timer's
    address: int | None = None   # si_addr of a fault
    status: int = 0              # SIGCHLD's si_status
    raw: bytes | None = None     # as the guest gave it (rt_sigqueueinfo)
    thread_id: int = 0           # a timer's SIGEV_THREAD_ID target (0: the process)

    def sender(self, spec: ArchSpec) -> tuple[int, int, int]:
        """(pid, uid, value) as the guest's siginfo holds them (rt_sigqueueinfo's
        raw bytes included; a timer's id and overrun in the pid and uid)."""
        if self.raw is None:
            return self.pid, self.uid, self.value
        union = 16 if spec.bits == 64 else 12
        raw = self.raw[:SIGINFO_SIZE].ljust(SIGINFO_SIZE, b"\0")
        pid, uid = struct.unpack_from(spec.endian + "iI", raw, union)
        value = struct.unpack_from(spec.endian + ("Q" if spec.bits == 64 else "I"), raw,
                                   union + 8)[0]
        return pid, uid, value

    def pack(self, spec: ArchSpec) -> bytes:
        """128 bytes: signo, errno, code, then the union at the next word
        boundary (offset 12 on 32-bit arches, 16 on 64-bit)."""
        if self.raw is not None:
            info = bytearray(self.raw[:SIGINFO_SIZE].ljust(SIGINFO_SIZE, b"\0"))
            struct.pack_into(spec.endian + "i", info, 0, self.signo)
            return bytes(info)
        info = bytearray(SIGINFO_SIZE)
        endian, word = spec.endian, "Q" if spec.bits == 64 else "I"
        struct.pack_into(endian + "iii", info, 0, self.signo, 0, self.code)
        union = 16 if spec.bits == 64 else 12
        if self.address is not None:
            struct.pack_into(endian + word, info, union, self.address & ((1 << spec.bits) - 1))
        elif self.signo == host_signal.SIGCHLD and self.code > 0:
            struct.pack_into(endian + "iIi", info, union, self.pid, self.uid, self.status)
        else:
            struct.pack_into(endian + "iI", info, union, self.pid, self.uid)
            struct.pack_into(endian + word, info, union + 8, self.value & ((1 << spec.bits) - 1))
        return bytes(info)


class SignalQueue:
    """Pending signals: a standard signal is pending once (a second send
    while it waits is lost, as on Linux); real-time ones queue, in order."""

    def __init__(self) -> None:
        self._queued: dict[int, deque[Siginfo]] = {}
        self.mask = 0

    def add(self, info: Siginfo) -> None:
        queued = self._queued.setdefault(info.signo, deque())
        if queued and info.signo < SIGRTMIN:
            return
        queued.append(info)
        self.mask |= bit(info.signo)

    def take(self, signum: int) -> Siginfo:
        queued = self._queued[signum]
        info = queued.popleft()
        if not queued:
            del self._queued[signum]
            self.mask &= ~bit(signum)
        return info

    def discard(self, signum: int) -> None:
        self._queued.pop(signum, None)
        self.mask &= ~bit(signum)

    def remove_if(self, signum: int, test) -> None:
        """Drop the queued instances of signum that test(info) picks."""
        queued = self._queued.get(signum)
        if not queued:
            return
        kept = deque(info for info in queued if not test(info))
        if kept:
            self._queued[signum] = kept
        else:
            self.discard(signum)


def lowest(mask: int) -> int:
    """The signal to deliver first among mask: a fault first, then the
    lowest number (the kernel's next_signal)."""
    urgent = mask & SYNCHRONOUS
    chosen = urgent or mask
    return (chosen & -chosen).bit_length()


# -- sending ----------------------------------------------------------------

def ignored(process, signum: int) -> bool:
    action = process.sigactions.get(signum, SigAction())
    return action.handler == SIG_IGN or \
        action.handler == SIG_DFL and default_action(signum) == "ignore"


def acts_on(process, signum: int) -> bool:
    """Would the process do something with this signal now (a handler, or a
    default action that is not to ignore it, in a thread not blocking it)?"""
    return valid(signum) and not ignored(process, signum) and \
        any(not thread.blocked & bit(signum) for thread in list(process.threads.values()))


def send(process, info: Siginfo, thread=None) -> None:
    """Queue a signal for the process (any thread may take it) or for one
    thread. An ignored signal is dropped at once unless it is blocked (it
    may be unignored before it is unblocked, as Linux allows)."""
    signum = info.signo
    target_threads = [thread] if thread is not None else list(process.threads.values())
    blocked_everywhere = all(t.blocked & bit(signum) for t in target_threads) \
        if target_threads else False
    if ignored(process, signum) and not blocked_everywhere:
        return
    if signum == SIGCONT:       # SIGCONT discards pending stop signals, and vice versa
        for stop in STOP_SIGNALS:
            _discard_everywhere(process, stop)
    elif default_action(signum) == "stop":
        _discard_everywhere(process, SIGCONT)
    (thread.pending if thread is not None else process.pending).add(info)
    for each in target_threads:
        recalc(each)
    notify(process, signum, target_threads)


def notify(process, signum: int, threads: list) -> None:
    """Tell the threads that could take signum: a waiting one's wait ends
    (its wake descriptor), a running one's CPU stops (under TCG only the
    CPU lock's holder runs guest code, and it is the sender or will see its
    flag; under KVM another vCPU may be in guest code)."""
    running = running_threads(process)
    for each in threads:
        each.ring()                 # even a thread blocking it may wait for it (sigwaitinfo)
        if each.blocked & bit(signum):
            continue
        if each in running and each.accel is not None and each.accel.parallel \
                and not process.cpu.held_by(each):
            each.accel.wake()


def interrupt(thread, running: list) -> None:
    """Make another thread meet what is due before its next guest
    instruction: its flag set, its wait ended, its CPU stopped if it runs
    guest code (running: sched.running_threads)."""
    thread.signals_due = True
    thread.ring()
    if thread in running and thread.accel is not None:
        thread.accel.wake()


def _discard_everywhere(process, signum: int) -> None:
    process.pending.discard(signum)
    for thread in process.threads.values():
        thread.pending.discard(signum)


def deliverable(thread) -> int:
    """The pending signals this thread could take now."""
    return (thread.pending.mask | thread.process.pending.mask) & ~thread.blocked


def recalc(thread) -> None:
    """Set the thread's cheap 'signals due' flag, which the dispatcher tests
    after every system call (and keep signalfds' readiness up to date). The
    process's end and this thread's killing count too: a call that a wait
    ended for them must not hand the guest an EINTR it would retry for ever
    (glibc's sigwait loops), but come to the loop, which ends the thread."""
    process = thread.process
    thread.signals_due = bool(deliverable(thread)) or bool(process.incoming) or \
        process.ending is not None or thread.killed
    if process.signalfds_made:
        refresh_signalfds(process)


def set_blocked(thread, mask: int) -> None:
    thread.blocked = mask & ~UNBLOCKABLE & ((1 << NSIG) - 1)
    recalc(thread)


# -- signalfd -----------------------------------------------------------------

SIGNALFD_SIGINFO_SIZE = 128


@dataclass
class SignalFd:
    """A signalfd: the signals it reads. Its host descriptor is an eventfd
    that xemu keeps readable while one of them is pending, so poll, select
    and epoll see it as they would the kernel's."""

    mask: int
    readable: bool = False


def pending_anywhere(process) -> int:
    mask = process.pending.mask
    for thread in list(process.threads.values()):
        mask |= thread.pending.mask
    return mask


def refresh_signalfds(process) -> None:
    """Make each signalfd's eventfd readable exactly while it has a signal."""
    pending = pending_anywhere(process)
    for entry in process.fds.entries():
        state = entry.signalfd
        if state is None:
            continue
        wanted = bool(pending & state.mask)
        if wanted != state.readable:
            state.readable = wanted
            if wanted:
                os.eventfd_write(entry.host_fd, 1)
            else:
                os.eventfd_read(entry.host_fd)


def read_signalfd(thread, entry, address: int, count: int) -> int:
    """read(2) of a signalfd: pending signals of its set, taken from the
    thread's then the process's queue, as signalfd_siginfo records; waits
    (interruptibly) when there are none, unless the descriptor is
    non-blocking."""
    process = thread.process
    state = entry.signalfd
    if count < SIGNALFD_SIGINFO_SIZE:
        return -errno.EINVAL
    while True:
        records = []
        while len(records) < count // SIGNALFD_SIGINFO_SIZE:
            mask = (thread.pending.mask | process.pending.mask) & state.mask
            if not mask:
                break
            signum = lowest(mask)
            queue = thread.pending if thread.pending.mask & bit(signum) else process.pending
            records.append(_signalfd_record(process.spec, queue.take(signum)))
        if records:
            refresh_signalfds(process)
            recalc(thread)
            process.mem.write(address, b"".join(records))
            return len(records) * SIGNALFD_SIGINFO_SIZE
        if is_nonblocking(entry.host_fd):
            return -errno.EAGAIN
        if wait_for(thread, [], None, wake_returns=True) is None:
            return -ERESTARTSYS


def _signalfd_record(spec: ArchSpec, info: Siginfo) -> bytes:
    """struct signalfd_siginfo: fixed-size fields, the guest's byte order."""
    record = bytearray(SIGNALFD_SIGINFO_SIZE)
    pid, uid, value = info.sender(spec)
    struct.pack_into(spec.endian + "IiiII", record, 0, info.signo, 0, info.code,
                     pid & 0xFFFFFFFF, uid)
    # ssi_status, ssi_int (sigval's low 32 bits), ssi_ptr (all of it)
    struct.pack_into(spec.endian + "iIQ", record, 40, info.status, value & 0xFFFFFFFF,
                     value & 0xFFFF_FFFF_FFFF_FFFF)
    struct.pack_into(spec.endian + "Q", record, 72, info.address or 0)
    return bytes(record)


def drop_queued(process, signum: int, test) -> None:
    """Take back queued instances of signum that test(info) picks, wherever
    they wait (a POSIX timer re-armed or deleted takes back its signal)."""
    process.pending.remove_if(signum, test)
    for thread in list(process.threads.values()):
        thread.pending.remove_if(signum, test)
        recalc(thread)
    kept = [info for info in process.incoming if not (info.signo == signum and test(info))]
    if len(kept) != len(process.incoming):
        process.incoming.clear()
        process.incoming.extend(kept)


# -- delivery ---------------------------------------------------------------

@dataclass(frozen=True)
class ThreadKilled:
    """A Stop: this thread ends because another one exec'd (threads.py)."""

@dataclass(frozen=True)
class SignalsPending:
    """A Stop: a system call is done and signals are due. result is what
    the call returned (a RESTARTS code if a signal interrupted it); number
    and args let delivery restart it."""

    result: int
    number: int
    args: tuple


def deliver(thread, syscall: SignalsPending | None = None) -> Stop | None:
    """Deliver what is due to this thread before it resumes: handlers get
    frames, default actions happen; None to resume, or the Stop that ends
    the process (a fatal signal). A system call that was interrupted
    restarts or fails with EINTR, as its code and the handler's SA_RESTART
    say."""
    process = thread.process
    if process.ending is not None:          # another thread ended the process
        return process.ending
    if thread.killed:                       # another thread's exec ends this one
        return ThreadKilled()
    take_incoming(process)
    pending_result = syscall
    try:
        while True:
            due = deliverable(thread)
            if not due:
                break
            signum = lowest(due)
            queue = thread.pending if thread.pending.mask & bit(signum) else process.pending
            info = queue.take(signum)
            action = process.sigactions.get(signum, SigAction())
            if action.handler == SIG_IGN:
                continue
            if action.handler == SIG_DFL:
                stop = _default(thread, info)
                if stop is not None:
                    return stop
                continue
            if pending_result is not None:
                _finish_syscall(thread, pending_result, action)
                pending_result = None
            stop = enter_handler(thread, info, action)
            if stop is not None:
                return stop
    finally:
        recalc(thread)
    if pending_result is not None:
        _finish_syscall(thread, pending_result, None)
    if thread.saved_mask is not None:      # sigsuspend/ppoll woken, no handler ran
        set_blocked(thread, thread.saved_mask)
        thread.saved_mask = None
    return None


def _finish_syscall(thread, call: SignalsPending, action: SigAction | None) -> None:
    """Write an interrupted call's answer: restart it (the registers as
    they were at the call, the pc back on the instruction), or -EINTR."""
    accel = thread.accel
    if call.result not in RESTARTS:
        accel.set_syscall_result(call.result)
        return
    restart = action is None or call.result == -ERESTARTNOINTR or \
        call.result == -ERESTARTSYS and action.flags & SA_RESTART
    if not restart:
        accel.set_syscall_result(-errno.EINTR)
        return
    spec, regs = thread.process.spec, thread.regs
    abi = spec.linux.syscall
    regs.write(abi.number, call.number)
    for name, value in zip(abi.args, call.args):
        regs.write(name, value)
    size, alternate = abi.instruction_size, 0
    if spec.isa_switch and regs.read(spec.isa_switch.register) & spec.isa_switch.bit:
        # Thumb: a 2-byte svc, and the pc written with bit 0 set, as bx
        # does, keeps the instruction set
        size, alternate = spec.isa_switch.syscall_size, 1
    regs.write(spec.pc, (regs.read(spec.pc) - size) | alternate)


def _default(thread, info: Siginfo) -> Stop | None:
    kind = default_action(info.signo)
    if kind in ("ignore", "continue"):
        return None
    if kind == "stop":
        os.kill(os.getpid(), SIGSTOP)       # the host process stops; SIGCONT resumes it
        return None
    return fatal(thread, info)


def fatal(thread, info: Siginfo) -> Fault:
    """The Stop of a process killed by a signal it was sent."""
    pc = thread.regs.read(thread.process.spec.pc) if thread.regs else 0
    sender = "raised by the guest itself" if info.pid == os.getpid() \
        else f"sent by pid {info.pid}" if info.pid else "sent from outside"
    return Fault(info.signo, pc, None, "", sender, raised=True)


def enter_handler(thread, info: Siginfo, action: SigAction) -> Stop | None:
    """Build the arch's frame and point the thread at the handler; a frame
    that cannot be written (a bad stack) kills with SIGSEGV, as Linux's
    force_sigsegv."""
    process = thread.process
    spec = process.spec
    frames = spec.signal_frames
    regs = thread.regs
    sp = regs.read(spec.sp)
    switched = False
    altstack = thread.sigaltstack
    if action.flags & SA_ONSTACK and altstack and not altstack[1] & SS_DISABLE \
            and not on_altstack(thread, sp):
        sp, switched = altstack[0] + altstack[2], True
    saved_mask = thread.saved_mask if thread.saved_mask is not None else thread.blocked
    thread.saved_mask = None
    delivery = SignalDelivery(
        signum=info.signo, handler=action.handler, flags=action.flags,
        restorer=action.restorer, siginfo=info.pack(spec), blocked=saved_mask, sp=sp,
        altstack=altstack_view(thread, regs.read(spec.sp)),
        trampoline=trampoline(process), switched=switched)
    try:
        frame, kept = frames.setup(regs, process.mem, delivery)
    except GuestMemoryError:
        return Fault(host_signal.SIGSEGV, regs.read(spec.pc), sp, "write",
                     "no room for a signal frame on its stack")
    if kept is not None:
        thread.kept_frames[frame] = kept
    if switched and altstack[1] & SS_AUTODISARM:
        thread.sigaltstack = (0, SS_DISABLE, 0)
    blocked = thread.blocked | action.mask
    if not action.flags & SA_NODEFER:
        blocked |= bit(info.signo)
    set_blocked(thread, blocked)
    if action.flags & SA_RESETHAND:
        process.sigactions[info.signo] = SigAction()
    return None


def change_altstack(thread, sp: int, ss_sp: int, flags: int, size: int) -> int:
    """The kernel's do_sigaltstack: make (ss_sp, flags, size) the thread's
    alternate stack; 0 or a negative errno (sigaltstack(2) answers it,
    sigreturn ignores it)."""
    if on_altstack(thread, sp):
        return -errno.EPERM
    mode = flags & ~SS_AUTODISARM
    if mode not in (0, SS_ONSTACK, SS_DISABLE):
        return -errno.EINVAL
    if mode == SS_DISABLE:
        thread.sigaltstack = (0, SS_DISABLE, 0)
        return 0
    if size < thread.process.spec.linux.min_sigstksz:
        return -errno.ENOMEM
    thread.sigaltstack = (ss_sp, flags & SS_AUTODISARM, size)
    return 0


def on_altstack(thread, sp: int) -> bool:
    altstack = thread.sigaltstack
    return bool(altstack) and not altstack[1] & SS_DISABLE and \
        altstack[0] < sp <= altstack[0] + altstack[2]


def altstack_view(thread, sp: int) -> tuple[int, int, int]:
    """stack_t as sigaltstack reports it now: SS_ONSTACK while on it."""
    altstack = thread.sigaltstack
    if not altstack or altstack[1] & SS_DISABLE:
        return (0, SS_DISABLE, 0)
    flags = altstack[1] & SS_AUTODISARM
    return (altstack[0], flags | (SS_ONSTACK if on_altstack(thread, sp) else 0), altstack[2])


def trampoline(process) -> int:
    """The page holding the arch's sigreturn code (the kernel's vDSO or
    sigpage): mapped once per program, the first time a handler runs."""
    memory = process.mem.raw          # the kernel's page: written past its rights
    address = process.trampoline
    if address is not None and memory.region_at(address) is not None:
        return address
    linux = process.spec.linux
    address = memory.find_free(PAGE, linux.mmap_base, linux.mmap_top)
    if address is None:
        raise GuestMemoryError("no room for the signal trampoline")
    memory.map(address, PAGE, PROT_READ | PROT_EXEC, name="[sigpage]")
    memory.write(address, process.spec.signal_frames.trampoline)
    process.trampoline = address
    return address


@dataclass(frozen=True)
class SignalReturn:
    """A Stop: the guest called (rt_)sigreturn; the OS loop restores."""

    rt: bool


def sigreturn(thread, rt: bool) -> Stop | None:
    """(rt_)sigreturn: the registers and mask the frame saved; then, as the
    kernel's return to user, whatever became deliverable."""
    process = thread.process
    spec = process.spec
    frames = spec.signal_frames
    try:
        restored = frames.restore(thread.regs, process.mem, rt, thread.kept_frames)
    except GuestMemoryError:
        return Fault(host_signal.SIGSEGV, thread.regs.read(spec.pc), None, "",
                     "sigreturn with no signal frame on the stack")
    sp = thread.regs.read(spec.sp)
    _forget_frames_above(thread, sp)
    set_blocked(thread, restored.blocked)
    if restored.altstack is not None:      # restore_altstack: its errors are squashed
        change_altstack(thread, sp, *restored.altstack)
    return None


def _forget_frames_above(thread, sp: int) -> None:
    """Frames a handler left by siglongjmp are dead once the stack is back
    above them."""
    kept = thread.kept_frames
    for address in [a for a in kept if a < sp]:
        del kept[address]


def fault_signal(thread, fault: Fault) -> Stop | None:
    """A CPU fault: to the guest's handler if it has one that is neither
    blocked nor ignored (Linux's force_sig_fault), else the process ends."""
    process = thread.process
    signum = fault.signal
    action = process.sigactions.get(signum, SigAction())
    if action.handler in (SIG_DFL, SIG_IGN) or thread.blocked & bit(signum) \
            or process.spec.signal_frames is None:
        return fault
    if fault.code is not None:
        code, address = fault.code, fault.address
    elif fault.access:
        code = SEGV_ACCERR if fault.reason == "protection" else SEGV_MAPERR
        address = fault.address
    else:
        code, address = FAULT_CODES.get(signum, SI_KERNEL), fault.pc
    thread.regs.write(process.spec.pc, fault.pc)
    stop = enter_handler(thread, Siginfo(signum, code, address=address), action)
    recalc(thread)
    return stop


# -- from outside: host signals and timers ------------------------------------

# Host signals forwarded to the guest. Not: SIGKILL and SIGSTOP (cannot be
# caught), the fault signals (xemu's own crash), SIGPIPE (xemu's own write
# to a closed pipe raises it in the writing thread: the Dispatcher sends the
# guest its own; left ignored, as Python leaves it), SIGALRM while --timeout
# uses it, glibc's 32 and 33.
FORWARDED = tuple(s for s in range(1, NSIG + 1)
                  if s not in (9, 19, 4, 7, 8, 11, 13, 32, 33))


def take_incoming(process) -> None:
    """Queue what the signal watcher and timers recorded."""
    incoming = process.incoming
    while incoming:
        info = incoming.popleft()
        target = process.threads.get(info.thread_id) if info.thread_id else None
        send(process, _with_child_details(info) if info.signo == host_signal.SIGCHLD else info,
             target)


def _with_child_details(info: Siginfo) -> Siginfo:
    """A host SIGCHLD that came by number alone (without the compiled
    handler): the child that changed state tells its siginfo (waitid with
    WNOWAIT leaves it to be waited for)."""
    if info.pid:
        return info
    try:
        found = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        found = None
    if found is None:
        return info
    return Siginfo(host_signal.SIGCHLD, found.si_code, found.si_pid, found.si_uid,
                   status=found.si_status)


class HostSignals:
    """Catches the host signals sent to xemu for the guest process. The
    C-level handler writes each signal's number to the wakeup fd; a watcher
    thread reads it, queues the signal, rings the threads' wake descriptors
    (a blocking call polls its own) and stops a CPU running guest code
    (accel.wake(): TCG's stop request; KVM's KICK_SIGNAL)."""

    current: HostSignals | None = None

    def __init__(self, process, skip: tuple[int, ...] = ()):
        self.process = process
        self.skip = skip
        self.previous: dict[int, object] = {}
        self.signal_read, self.signal_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.old_wakeup_fd = None
        self.closed = threading.Event()
        self.watcher: threading.Thread | None = None
        # The compiled part's SA_SIGINFO handler, where it is built: each
        # signal comes with its sender's pid and uid and sigqueue's value
        self.records: SignalRecords | None = None

    def install(self) -> HostSignals:
        try:
            self.old_wakeup_fd = host_signal.set_wakeup_fd(self.signal_write,
                                                           warn_on_full_buffer=False)
        except ValueError:           # not the main thread (an embedding test): no forwarding
            return self
        for signum in FORWARDED:
            if signum in self.skip:
                continue
            try:
                self.previous[signum] = host_signal.signal(signum, self._caught)
            except (OSError, ValueError):
                pass
        self._catch_with_siginfo()
        HostSignals.current = self
        self._start_watcher()
        return self

    def _catch_with_siginfo(self) -> None:
        """Over Python's handler, the compiled one that keeps the siginfo
        (Python restores its own at uninstall, by signal())."""
        self.records = SignalRecords.open()
        if self.records is None:
            return
        for signum in self.previous:
            self.records.catch(signum)

    def uninstall(self) -> None:
        for signum, previous in self.previous.items():
            host_signal.signal(signum, previous)
        if self.old_wakeup_fd is not None:
            host_signal.set_wakeup_fd(self.old_wakeup_fd)
        self._stop_watcher()
        if self.records is not None:
            self.records.close()
            self.records = None
        for fd in (self.signal_read, self.signal_write):
            os.close(fd)
        if HostSignals.current is self:
            HostSignals.current = None

    def _start_watcher(self) -> None:
        self.closed = threading.Event()
        self.watcher = threading.Thread(target=self._watch, name="xemu-signals", daemon=True)
        self.watcher.start()

    def _stop_watcher(self) -> None:
        if self.watcher is not None:
            self.closed.set()
            os.write(self.signal_write, b"\0")
            self.watcher.join(1.0)
            self.watcher = None

    def __enter__(self) -> HostSignals:
        return self.install()

    def __exit__(self, *exc) -> None:
        self.uninstall()

    def _caught(self, signum: int, frame) -> None:
        """Python's handler does nothing: with it installed, the C-level
        handler writes the signal's number to the wakeup fd, where the
        watcher thread reads it, and a blocking call returns EINTR. (Python
        runs this only when the main thread next runs bytecode, which a
        thread blocked in a wait or in guest code may not do soon.)"""

    def record(self, info: Siginfo, wake_cpu: bool = True) -> None:
        """From the watcher or a timer thread: queue for the guest, ring the
        threads' wake descriptors (a blocking call polls its own), and stop the running CPU if
        the guest acts on the signal now."""
        process = self.process
        process.incoming.append(info)
        threads = list(process.threads.values())
        for thread in threads:
            thread.signals_due = True
            thread.ring()
        if not wake_cpu:
            return
        for thread in running_threads(process):
            if thread.accel is not None:
                thread.accel.wake()

    def _watch(self) -> None:
        """The watcher thread: reads the numbers of the host signals that
        arrived and records them for the guest. It stops the CPU only for a
        signal the guest acts on now: stopping translated code between two
        blocks is not free of risk (Unicorn restarted inside an ARM Thumb IT
        block loses its condition), and a SIGCHLD nobody handles must not
        touch a running guest."""
        host_signal.pthread_sigmask(host_signal.SIG_BLOCK, host_signal.valid_signals())
        poller = select.poll()
        poller.register(self.signal_read, select.POLLIN)
        records = self.records
        if records is not None:
            poller.register(records.read_fd, select.POLLIN)
        while not self.closed.is_set():
            poller.poll()
            try:
                data = os.read(self.signal_read, 512)
            except BlockingIOError:
                data = b""
            if self.closed.is_set():
                break
            caught = [Siginfo(signum, SI_USER) for signum in data]
            if records is not None:
                caught += [Siginfo(signo, code, pid, uid, value=value, status=status)
                           for signo, code, pid, uid, status, value in records.take()]
            for info in caught:
                if valid(info.signo):
                    self.record(info, acts_on(self.process, info.signo))

    def after_fork(self) -> None:
        """In a forked child: its own pipes and watcher (threads and the
        signal pipe's reader is not shared)."""
        for fd in (self.signal_read, self.signal_write):
            os.close(fd)
        self.signal_read, self.signal_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.watcher = None                  # the parent's: not in this process
        if self.records is not None:         # the parent's pipe: a pipe of its own
            self.records.close()
            self.records = SignalRecords.open()
        if self.old_wakeup_fd is None:
            return
        host_signal.set_wakeup_fd(self.signal_write, warn_on_full_buffer=False)
        self._start_watcher()


def host_signals() -> HostSignals | None:
    return HostSignals.current


def host_fork(process) -> int:
    """os.fork() for a guest fork: host signals held across it, so one sent
    to the new child before it has its own forwarding is not lost (it waits
    in the kernel until the child takes it)."""
    held = host_signal.pthread_sigmask(host_signal.SIG_BLOCK, FORWARDED)
    try:
        with RINGING:              # no other thread holds it in the child
            pid = os.fork()
        if pid == 0:
            after_fork(process)
    finally:
        host_signal.pthread_sigmask(host_signal.SIG_SETMASK, held)
    return pid


def after_fork(process) -> None:
    """In a forked child: no pending signals and no timers are inherited
    (fork(2)); host signal forwarding gets its own pipes and watcher."""
    process.pending = SignalQueue()
    process.incoming.clear()
    process.real_timer = None
    process.posix_timers.clear()
    for thread in process.threads.values():
        thread.pending = SignalQueue()
        recalc(thread)
    if HostSignals.current is not None:
        HostSignals.current.after_fork()


# -- waiting --------------------------------------------------------------------

def wait_for(thread, fds: list[tuple[int, int]], timeout: float | None,
             wake_returns: bool = False) -> list[tuple[int, int]] | None:
    """poll(2) on host fds [(fd, events)], woken by signals: the ready list
    (empty on timeout, or on any wake-up with wake_returns: a caller that
    polls something else, as wait4 does), or None when a signal the thread
    takes arrived."""
    process = thread.process
    deadline = None if timeout is None else time.monotonic() + timeout
    poller = select.poll()
    for fd, events in fds:
        poller.register(fd, events)
    wake_fd = thread.wake_fd
    poller.register(wake_fd, select.POLLIN)
    while True:
        take_incoming(process)
        recalc(thread)
        if deliverable(thread) or process.ending is not None or thread.killed:
            thread.signals_due = True
            return None
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        with process.cpu.unlocked(thread):        # the other threads run meanwhile
            ready = poller.poll(None if left is None else min(int(left * 1000 + 0.999), POLL_MAX_MS))
        if any(fd == wake_fd for fd, _ in ready):
            thread.drain()
            ready = [r for r in ready if r[0] != wake_fd]
            if not ready:
                if wake_returns:
                    take_incoming(process)
                    if process.ending is not None or thread.killed:
                        thread.signals_due = True
                        return None
                    return None if deliverable(thread) else []
                continue
        if ready or (left is not None and left <= 0):
            return ready
        if deadline is not None and time.monotonic() >= deadline:
            return []


def may_block(host_fd: int) -> bool:
    """Pipes, terminals, sockets and anonymous inodes (eventfd, timerfd,
    epoll) can block a read; files never do."""
    try:
        mode = os.fstat(host_fd).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode) or \
        stat.S_IFMT(mode) == 0


def is_nonblocking(host_fd: int) -> bool:
    try:
        return bool(fcntl.fcntl(host_fd, fcntl.F_GETFL) & os.O_NONBLOCK)
    except OSError:
        return True


def wait_readable(thread, host_fd: int, events: int = select.POLLIN) -> bool:
    """Before a read of a descriptor that may block (may_block): False if a
    signal came first."""
    if is_nonblocking(host_fd):
        return True
    return wait_for(thread, [(host_fd, events)], None) is not None


def sleep(thread, seconds: float) -> bool:
    """Sleep, woken early by a signal: True if the whole time passed."""
    if seconds <= 0:
        return True
    return wait_for(thread, [], seconds) is not None


# -- timers -----------------------------------------------------------------------

@dataclass
class RealTimer:
    """ITIMER_REAL (and alarm): SIGALRM from a timer thread, so xemu's own
    SIGALRM (--timeout) stays its own."""

    process: object
    deadline: float | None = None
    interval: float = 0.0
    generation: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def set(self, seconds: float, interval: float) -> tuple[float, float]:
        """Arm (0: disarm); returns what was left and the old interval."""
        with self.lock:
            old = self.left(), self.interval
            self.generation += 1
            self.deadline = time.monotonic() + seconds if seconds > 0 else None
            self.interval = interval if seconds > 0 else 0.0
            if self.deadline is not None:
                self._start(self.generation, self.deadline)
        return old

    def left(self) -> float:
        return max(0.0, self.deadline - time.monotonic()) if self.deadline else 0.0

    def _start(self, generation: int, deadline: float) -> None:
        threading.Thread(target=self._run, args=(generation, deadline),
                         name="xemu-itimer", daemon=True).start()

    def _run(self, generation: int, deadline: float) -> None:
        host_signal.pthread_sigmask(host_signal.SIG_BLOCK, host_signal.valid_signals())
        while True:
            time.sleep(max(0.0, deadline - time.monotonic()))
            with self.lock:
                if generation != self.generation:
                    return
                forwarding = host_signals()
                if forwarding is not None:
                    forwarding.record(Siginfo(host_signal.SIGALRM, SI_KERNEL))
                if not self.interval:
                    self.deadline = None
                    return
                deadline += self.interval
                self.deadline = deadline
