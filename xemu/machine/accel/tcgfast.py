"""The compiled part of the TCG accelerator (`_tcgfast.c`), loaded with ctypes.

Unicorn 2.1.2+ sends every store through a C slow path while the page is
executable in its TLB or any memory hook is installed, and its default TLB
gives every page all rights. The library holds a TLB-fill hook that gives
each page its guest region's rights instead (a Python hook would cost
microseconds a fill), and the table of regions it looks them up in.

It also holds the engine's system call entry (`SyscallEntry`): it reads
the number and arguments in C, answers the calls the Linux layer marked
(`MachineCall`: getpid, clock_gettime...) at once, and calls Python for the
rest with the registers already read. And a host signal handler that keeps
what Python's drop, each signal's siginfo (`SignalRecords`).

The package's build compiles it (setup.py, an optional extension: no
compiler, no library). Without it, or with XEMU_PURE_PYTHON=1 in the
environment, TCG runs as before, slower on memory-heavy code.
"""
from __future__ import annotations

import ctypes
import os
import struct
import sys
import weakref
from importlib.machinery import EXTENSION_SUFFIXES
from pathlib import Path
from typing import Callable, Mapping

from .base import MACHINE_CALL_KINDS, MachineCall

PURE_ENV = "XEMU_PURE_PYTHON"
ABI = 5                       # xt_abi() of a library whose calls match this file
NAME = "_tcgfast"
# Fills between the TLB flushes that let Unicorn's TLB grow (the interval
# doubles after each flush, see _tcgfast.c)
FLUSH_EVERY = 4096

_loaded: tuple[ctypes.CDLL | None, str] | None = None


def _candidates() -> list[Path]:
    """The library beside this file (an in-place or installed build), then
    in the xemu of each sys.path entry: a checkout run with `python -m`
    imports its own xemu, while `pip install .` built it into site-packages."""
    names = [NAME + suffix for suffix in EXTENSION_SUFFIXES if suffix.endswith(".so")]
    here = Path(__file__).resolve().parent
    folders = [here] + [Path(entry or ".") / "xemu" / "machine" / "accel" for entry in sys.path]
    found: list[Path] = []
    for folder in folders:
        for name in names:
            path = folder / name
            if path.is_file() and path.resolve() not in found:
                found.append(path.resolve())
    return found


def _declare(lib: ctypes.CDLL) -> None:
    p, u64 = ctypes.c_void_p, ctypes.c_uint64
    lib.xt_new.argtypes, lib.xt_new.restype = (p, u64), p
    lib.xt_free.argtypes, lib.xt_free.restype = (p,), None
    lib.xt_add.argtypes, lib.xt_add.restype = (p, u64, u64, ctypes.c_int), ctypes.c_int
    lib.xt_remove.argtypes, lib.xt_remove.restype = (p, u64, u64), ctypes.c_int
    lib.xt_clear_on_fill.argtypes = (p, p, p, ctypes.c_int, u64)
    lib.xt_clear_on_fill.restype = None
    lib.xt_set_permissive.argtypes, lib.xt_set_permissive.restype = (p, ctypes.c_int), None
    lib.xt_lookup.argtypes, lib.xt_lookup.restype = (p, u64), ctypes.c_int
    lib.xt_fills.argtypes, lib.xt_fills.restype = (p,), u64
    lib.xt_flushes.argtypes, lib.xt_flushes.restype = (p,), u64
    lib.xs_new.argtypes, lib.xs_new.restype = (p, p, p, p, p), p
    lib.xs_free.argtypes, lib.xs_free.restype = (p,), None
    lib.xs_set_registers.argtypes = (p, ctypes.POINTER(ctypes.c_int), ctypes.c_int, u64,
                                     ctypes.c_int, ctypes.c_int, ctypes.c_int64)
    lib.xs_set_registers.restype = None
    lib.xs_set_python.argtypes, lib.xs_set_python.restype = (p, p, p), None
    lib.xs_set_fill.argtypes, lib.xs_set_fill.restype = (p, p), None
    lib.xs_clear_calls.argtypes, lib.xs_clear_calls.restype = (p,), None
    lib.xs_set_call.argtypes = (p, u64, ctypes.c_int, ctypes.c_int, u64, u64, ctypes.c_uint32,
                                u64, p, ctypes.c_uint32)
    lib.xs_set_call.restype = ctypes.c_int
    lib.xs_values.argtypes, lib.xs_values.restype = (p,), p
    lib.xs_skip_write.argtypes, lib.xs_skip_write.restype = (p,), None
    lib.xs_served_in_c.argtypes, lib.xs_served_in_c.restype = (p,), u64
    lib.xs_served_in_python.argtypes, lib.xs_served_in_python.restype = (p,), u64
    lib.xs_signal_record_size.argtypes, lib.xs_signal_record_size.restype = (), ctypes.c_int
    lib.xs_set_signal_fd.argtypes, lib.xs_set_signal_fd.restype = (ctypes.c_int,), None
    lib.xs_catch_signal.argtypes, lib.xs_catch_signal.restype = (ctypes.c_int,), ctypes.c_int
    lib.xg_add.argtypes, lib.xg_add.restype = (u64, u64, u64), ctypes.c_int
    lib.xg_remove.argtypes, lib.xg_remove.restype = (ctypes.c_int,), None
    lib.xg_install.argtypes, lib.xg_install.restype = (), ctypes.c_int
    lib.xg_bind_thread.argtypes, lib.xg_bind_thread.restype = (p,), None
    lib.xg_take_fault.argtypes = (ctypes.POINTER(ctypes.c_uint64),)
    lib.xg_take_fault.restype = ctypes.c_int


def load() -> tuple[ctypes.CDLL | None, str]:
    """(the library or None, which path TCG takes and why), found once."""
    global _loaded
    if _loaded is not None:
        return _loaded
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        _loaded = None, f"pure Python ({PURE_ENV} is set)"
        return _loaded
    problems = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(str(path))
            abi = lib.xt_abi()
        except (OSError, AttributeError) as e:
            problems.append(f"{path}: {e}")
            continue
        if abi != ABI:
            problems.append(f"{path}: built for another xemu (ABI {abi}, not {ABI})")
            continue
        _declare(lib)
        _loaded = lib, f"compiled TLB fill and syscall entry ({path})"
        return _loaded
    why = "; ".join(problems) or "the package was installed without it (no C compiler?)"
    _loaded = None, f"pure Python: no usable {NAME} library: {why}"
    return _loaded


def describe() -> str:
    """One line for `xemu info` and -v."""
    return load()[1]


class FillTable:
    """One engine's table of guest regions and its TLB-fill hook's state:
    the hook's user data, freed with this object."""

    def __init__(self, lib: ctypes.CDLL, flush_every: int = FLUSH_EVERY):
        self._lib = lib
        ctl = _function("uc_ctl")
        self.pointer: int = lib.xt_new(ctl, flush_every)
        if not self.pointer:
            raise MemoryError("the TLB-fill table")
        self.hook: int = ctypes.cast(lib.xt_fill, ctypes.c_void_p).value
        weakref.finalize(self, lib.xt_free, self.pointer)

    def add(self, start: int, end: int, perms: int) -> None:
        """[start, end) has these rights now (the uc_prot bits: Linux's PROT_*)."""
        if self._lib.xt_add(self.pointer, start, end, perms):
            raise MemoryError("the TLB-fill table")

    def remove(self, start: int, end: int) -> None:
        if self._lib.xt_remove(self.pointer, start, end):
            raise MemoryError("the TLB-fill table")

    def clear_on_fill(self, register: int, mask: int) -> None:
        """Clear these bits of the register at each data fill (the arch's
        TcgInfo.fill_clears says which, and _tcgfast.c why)."""
        self._lib.xt_clear_on_fill(self.pointer, _function("uc_reg_read"),
                                   _function("uc_reg_write"), register, mask)

    def permissive(self, on: bool) -> None:
        """All rights to every address: Unicorn's own checks decide."""
        self._lib.xt_set_permissive(self.pointer, int(on))

    def lookup(self, address: int) -> int | None:
        """The rights the hook gives the page of address, None if it refuses it."""
        found = self._lib.xt_lookup(self.pointer, address)
        return None if found < 0 else found

    @property
    def fills(self) -> int:
        return self._lib.xt_fills(self.pointer)

    @property
    def flushes(self) -> int:
        return self._lib.xt_flushes(self.pointer)


# Python's side of the entry: serve the call in `values` and answer the
# result word (or call skip_write); and an interrupt that is not a call.
PYTHON_SYSCALL = ctypes.CFUNCTYPE(ctypes.c_uint64)
OTHER_INTERRUPT = ctypes.CFUNCTYPE(None, ctypes.c_uint32)


def _function(name: str) -> int:
    """The address of libunicorn's function name (imported here, not at the
    top: a KVM run uses this module's guard alone, without Unicorn)."""
    from unicorn.unicorn_py3.unicorn import uclib
    return ctypes.cast(getattr(uclib, name), ctypes.c_void_p).value


class SyscallEntry:
    """One engine's system call entry: its hooks' user data, freed with
    this object. `values` holds what the entry read for Python: the number,
    six arguments and (PowerPC) the register of the error flag."""

    def __init__(self, lib: ctypes.CDLL, engine: int, registers: list[int], result: int,
                 error_bit: int, bits: int, big_endian: bool, interrupt: int | None,
                 python: Callable[[], int], other_interrupt: Callable[[int], None]):
        """registers: the ids of the number's register, the six arguments'
        and, if error_bit is not 0, the error flag's; interrupt: the
        number of the syscall's interrupt (None: an instruction hook)."""
        self._lib = lib
        self.pointer: int = lib.xs_new(engine, _function("uc_reg_read_batch"),
                                       _function("uc_reg_write_batch"),
                                       _function("uc_mem_write"), _function("uc_mem_read"))
        if not self.pointer:
            raise MemoryError("the syscall entry")
        weakref.finalize(self, lib.xs_free, self.pointer)
        ids = (ctypes.c_int * 8)(*(registers + [0] * (8 - len(registers))))
        lib.xs_set_registers(self.pointer, ids, result, error_bit, bits, int(big_endian),
                             -1 if interrupt is None else interrupt)
        # ctypes callbacks must stay alive as long as the engine may call them
        self._callbacks = (PYTHON_SYSCALL(python), OTHER_INTERRUPT(other_interrupt))
        lib.xs_set_python(self.pointer, *(ctypes.cast(c, ctypes.c_void_p)
                                          for c in self._callbacks))
        self.values = (ctypes.c_uint64 * 8).from_address(lib.xs_values(self.pointer))
        self.interrupt_hook: int = ctypes.cast(lib.xs_on_interrupt, ctypes.c_void_p).value
        self.instruction_hook: int = ctypes.cast(lib.xs_on_syscall_instruction,
                                                 ctypes.c_void_p).value
        self._fill: FillTable | None = None

    def use_fill(self, fill: FillTable) -> None:
        """The table of the guest's rights, which says where a call may
        write (without one, no call that writes memory is served here)."""
        self._fill = fill                     # outlives this entry's use of it
        self._lib.xs_set_fill(self.pointer, fill.pointer)

    def serve(self, calls: Mapping[int, MachineCall]) -> None:
        """These calls are answered here from now on; all others by Python.
        A number the entry cannot hold (ARM's private calls) stays Python's."""
        self._lib.xs_clear_calls(self.pointer)
        self._calls = dict(calls)             # keeps their descriptor tables alive
        for number, call in calls.items():
            table, slots = call.descriptors.buffer_info() if call.descriptors is not None \
                else (None, 0)
            self._lib.xs_set_call(self.pointer, number, MACHINE_CALL_KINDS.index(call.kind),
                                  call.host_number, call.limit, call.overflow, call.word,
                                  call.clocks, table, slots)

    def skip_write(self) -> None:
        """From Python's callback: no result to write (it set the registers)."""
        self._lib.xs_skip_write(self.pointer)

    @property
    def served(self) -> tuple[int, int]:
        """(calls answered in C, calls given to Python) so far."""
        return self._lib.xs_served_in_c(self.pointer), self._lib.xs_served_in_python(self.pointer)


# xs_signal_record: signo, code, pid, uid, status, (unused), value
SIGNAL_RECORD = struct.Struct("=iiiIiiq")


class SignalRecords:
    """Host signals caught by the library's SA_SIGINFO handler, each as a
    record written to a pipe: (signo, code, pid, uid, status, value), the
    siginfo that Python's own handlers never see. None where the library
    is not loaded (signals then come by number alone)."""

    def __init__(self, lib: ctypes.CDLL):
        if lib.xs_signal_record_size() != SIGNAL_RECORD.size:
            raise RuntimeError("the library's signal record has another layout")
        self._lib = lib
        self.read_fd, self._write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        lib.xs_set_signal_fd(self._write_fd)

    @classmethod
    def open(cls) -> SignalRecords | None:
        lib = load()[0]
        return cls(lib) if lib is not None else None

    def catch(self, signum: int) -> None:
        """The handler takes signum from now on (after Python's signal())."""
        if self._lib.xs_catch_signal(signum):
            raise OSError(f"sigaction({signum}) failed")

    def take(self) -> list[tuple[int, int, int, int, int, int]]:
        """The records written since the last take (none: an empty list)."""
        try:
            data = os.read(self.read_fd, SIGNAL_RECORD.size * 64)
        except OSError:                       # none (or closed under a late watcher)
            return []
        usable = len(data) - len(data) % SIGNAL_RECORD.size
        return [fields[:5] + fields[6:] for fields in SIGNAL_RECORD.iter_unpack(data[:usable])]

    def close(self) -> None:
        self._lib.xs_set_signal_fd(-1)
        for fd in (self.read_fd, self._write_fd):
            os.close(fd)


class FileGuard:
    """The library's SIGBUS guard of shared file mappings (_tcgfast.c says
    why): the ranges it guards, the engine each thread runs, and the guest
    address of each thread's last guarded fault. One per process."""

    _current: FileGuard | None = None

    def __init__(self, lib: ctypes.CDLL):
        self._lib = lib
        if lib.xg_install():
            raise OSError("sigaction(SIGBUS) failed")

    @classmethod
    def get(cls) -> FileGuard | None:
        """The process's guard, installed on first use; None without the library."""
        if cls._current is None:
            lib = load()[0]
            if lib is not None:
                cls._current = cls(lib)
        return cls._current

    def add(self, host_start: int, host_end: int, guest_start: int) -> int:
        """Guard host [host_start, host_end), the guest's guest_start on:
        the entry's index, -1 if the table is full."""
        return self._lib.xg_add(host_start, host_end, guest_start)

    def remove(self, index: int) -> None:
        self._lib.xg_remove(index)

    def bind_thread(self, stop_flag: ctypes.c_int) -> None:
        """This thread runs the engine whose stop request is stop_flag: a
        guarded fault in it asks that engine to stop."""
        self._lib.xg_bind_thread(ctypes.byref(stop_flag))

    def take_fault(self) -> int | None:
        """The guest address of this thread's first guarded fault since the
        last call, or None."""
        address = ctypes.c_uint64()
        return address.value if self._lib.xg_take_fault(ctypes.byref(address)) else None
