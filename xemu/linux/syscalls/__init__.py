"""System call handlers, keyed by the kernel's names for the calls.

A handler is `def name(process, arg0, arg1, ...) -> int`, taking raw register
words and returning the result (negative errno on failure). It is registered
with @syscall("name", ...); the numbers come from each arch's generated
table, so one handler serves every arch that has the call. Raising OSError
returns -errno; touching unmapped guest memory returns -EFAULT; any other
exception (a bug of ours, met on some guest's arguments) returns -EINVAL
with a warning rather than ending the run.

Most calls act on the process (files, memory). A call that acts on the
calling thread (its signal mask, its TLS, its exit) names its first
parameter `thread` and is given the Thread instead; the choice is made once,
when the calls are bound, not per call.

Besides an int, a handler may return a Stop (the accelerator ends its run
and the OS loop, loop.py, handles it) or REGISTERS_SET (it has set the
registers itself, as sigreturn, exec and clone's child do: no result is
written). A call that blocks (read of a pipe, wait4, poll, nanosleep) waits
through linux/signals.py, so a signal interrupts it; it then answers
-ERESTARTSYS or a kin, and delivery restarts it or makes it -EINTR.

After each call the dispatcher tests one flag of the thread: signals due
turn the result into a SignalsPending Stop, and the OS loop writes the
result and delivers them before the guest runs on.

A few calls that only report a fact (getpid, getuid, clock_gettime) are
marked `in_machine=`: the accelerator may answer their plain case in
machine code without calling the dispatcher (TCG's compiled entry), unless
--strace or --stats must see every call. Such a call makes no signal due,
and a signal that arrives meanwhile wakes the CPU as it would any guest
code.

Arguments that are 64 bits wide (file offsets) are named in `wide=`: on a
32-bit arch they arrive in a register pair, which the dispatcher joins.
"""
from __future__ import annotations

import errno
import functools
import inspect
import os
import signal
from collections import Counter
from typing import Callable

from ...errors import GuestMemoryError, GuestTimeout
from ...machine.accel.base import MachineCall, Stop
from ..signals import SI_USER, Siginfo, SignalsPending, send
from ..thread import Thread
# (imported so they register their handlers)
from . import (epoll, fdevents, fs, identity, ioctl, ipc, mm, poll, proc, resources,  # noqa: F401
               signals, sockets, time, timers, transfer)
from .registry import HANDLERS, IN_MACHINE, WIDE


class Dispatcher:
    """number -> handler for one thread, resolved once when it starts."""

    def __init__(self, thread: Thread, tracer=None, counts: Counter | None = None):
        """tracer: a debug.strace.Tracer to print each call (--strace);
        counts: calls by name (--stats). The calls are wrapped only then, so
        a plain run pays nothing."""
        process = self.process = thread.process
        self.thread = thread
        spec = process.spec
        linux = spec.linux
        handlers = {**HANDLERS, **linux.syscall_handlers}
        self.names = spec.syscall_names
        self.counts = counts
        self.errno_map = linux.errno_map
        # number -> a call taking the six raw argument words, built once
        self.calls: dict[int, Callable[[tuple], int | Stop]] = {}
        # number -> how the accelerator may answer it without Python: none
        # when every call must be seen (--strace, --stats)
        self.in_machine: dict[int, MachineCall] = {}
        watched = tracer is not None or counts is not None
        for name, number in linux.syscall_numbers.items():
            entry_point = linux.syscall_entry_points.get(name, name)
            handler = handlers.get(entry_point)
            recipe = IN_MACHINE.get(entry_point)
            if recipe and not watched and entry_point not in linux.syscall_handlers:
                made = recipe(process)
                if made is not None:
                    self.in_machine[number] = made
            if handler is not None:
                parameters = parameter_names(handler)
                caller = thread if parameters[0] == "thread" else process
                wide = WIDE.get(entry_point, ()) if spec.bits == 32 else ()
                call = _bind(handler, caller, len(parameters) - 1, wide, spec)
                call = _traced(call, name, tracer) if tracer else call
                self.calls[number] = _counted(call, name, counts) if counts is not None else call

    def __call__(self, number: int, args: tuple) -> int | Stop:
        call = self.calls.get(number)
        if call is None:
            name = self.names.get(number, f"#{number}")
            if self.counts is not None:
                self.counts[name] += 1
            self.process.warn(f"unsupported syscall {name} ({number}) returns ENOSYS")
            return -errno.ENOSYS
        try:
            result = call(args)
        except OSError as e:
            error = e.errno or errno.EIO
            if error == errno.EPIPE:        # a write to a pipe nobody reads
                send(self.process, Siginfo(signal.SIGPIPE, SI_USER, os.getpid(), os.getuid()),
                     self.thread)
            result = -self.errno_map.get(error, error)
        except GuestMemoryError:
            result = -errno.EFAULT
        except GuestTimeout:
            raise                 # --timeout's SIGALRM, raised wherever Python runs
        except Exception as e:    # a bug of ours on a guest's arguments: not the end of the run
            name = self.names.get(number, f"#{number}")
            self.process.warn(f"internal error in {name} ({type(e).__name__}: {e}) "
                              "returns EINVAL")
            result = -errno.EINVAL
        if self.thread.signals_due and type(result) is int:
            return SignalsPending(result, number, args)
        return result


    def locked(self) -> Callable[[int, tuple], int | Stop]:
        """This dispatcher for a CPU that runs guest code in parallel with
        its process's others (KVM): each call holds the CPU lock, as the
        Linux layer's tables are changed under it (linux/sched.py)."""
        process, thread = self.process, self.thread

        def call(number: int, args: tuple) -> int | Stop:
            cpu = process.cpu
            cpu.acquire(thread)
            try:
                return self(number, args)
            finally:
                cpu.release(thread)
        return call


@functools.lru_cache(maxsize=None)
def parameter_names(handler: Callable) -> tuple[str, ...]:
    """A handler's parameter names, read once (every exec binds anew)."""
    return tuple(inspect.signature(handler).parameters)


def _counted(call: Callable, name: str, counts: Counter) -> Callable:
    def counted(args: tuple):
        counts[name] += 1
        return call(args)
    return counted


def _traced(call: Callable, name: str, tracer) -> Callable:
    def traced(args: tuple):
        line = tracer.call(name, args)       # before: the call may change memory
        try:
            result = call(args)
        except OSError as e:
            result = -(e.errno or errno.EIO)
            tracer.line(line + tracer.result(name, result))
            raise
        except GuestMemoryError:
            tracer.line(line + tracer.result(name, -errno.EFAULT))
            raise
        except GuestTimeout:
            raise
        except Exception:
            tracer.line(line + tracer.result(name, -errno.EINVAL))
            raise
        tracer.line(line + tracer.result(name, result))
        return result
    return traced


def _bind(handler: Callable, process, arity: int, wide: tuple, spec) -> Callable:
    """handler as a function of the raw argument words (the hot path: no
    slicing or unpacking of a table entry per call). `process` is what the
    handler acts on: the Process, or the Thread for a per-thread call."""
    if wide:
        return lambda args: handler(process, *join_pairs(args, wide, spec)[:arity])
    if arity == 0:
        return lambda args: handler(process)
    if arity == 1:
        return lambda args: handler(process, args[0])
    if arity == 2:
        return lambda args: handler(process, args[0], args[1])
    if arity == 3:
        return lambda args: handler(process, args[0], args[1], args[2])
    return lambda args: handler(process, *args[:arity])


def join_pairs(args: tuple, wide: tuple[int, ...], spec) -> tuple:
    """Walk the parameters, taking two registers for each 64-bit one."""
    out, register = [], 0
    for index in range(len(args)):
        if register >= len(args):
            break
        if index in wide:
            if spec.linux.align_64bit_args and register % 2:
                register += 1
            pair = args[register:register + 2]
            first, second = pair + (0,) * (2 - len(pair))
            high, low = (first, second) if spec.big_endian else (second, first)
            out.append(((high & 0xFFFFFFFF) << 32) | (low & 0xFFFFFFFF))
            register += 2
        else:
            out.append(args[register])
            register += 1
    return tuple(out) + (0,) * (len(args) - len(out))
