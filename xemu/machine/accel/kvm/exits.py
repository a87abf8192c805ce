"""Decoding a KVM exit from the shared kvm_run page: pure, testable without
/dev/kvm. Each exit reason becomes one small dataclass."""
from __future__ import annotations

import struct
from dataclasses import dataclass

from .structs import RUN_EXIT_DATA, RUN_EXIT_REASON

KVM_EXIT_UNKNOWN, KVM_EXIT_EXCEPTION, KVM_EXIT_IO, KVM_EXIT_DEBUG = 0, 1, 2, 4
KVM_EXIT_HLT, KVM_EXIT_MMIO, KVM_EXIT_SHUTDOWN, KVM_EXIT_FAIL_ENTRY = 5, 6, 8, 9
KVM_EXIT_INTERNAL_ERROR = 17
EXIT_NAMES = {value: name for name, value in globals().items()
              if name.startswith("KVM_EXIT_")}
KVM_EXIT_IO_IN, KVM_EXIT_IO_OUT = 0, 1


@dataclass(frozen=True)
class PortIO:
    port: int
    size: int
    is_write: bool
    data: int            # the value written (out), 0 for reads
    offset: int = 0      # where in the kvm_run page the data is (or goes, for in)


@dataclass(frozen=True)
class Mmio:
    address: int
    size: int
    is_write: bool
    data: int


@dataclass(frozen=True)
class DebugTrap:
    """A debug exception KVM took for xemu (KVM_SET_GUEST_DEBUG): here, the
    end of a single step (dr6's BS bit)."""
    exception: int
    pc: int
    dr6: int


@dataclass(frozen=True)
class Halted:
    pass


@dataclass(frozen=True)
class Shutdown:
    """Triple fault: the guest's exception handling itself failed."""


@dataclass(frozen=True)
class EntryFailed:
    reason: int          # hardware_entry_failure_reason


@dataclass(frozen=True)
class InternalError:
    suberror: int


@dataclass(frozen=True)
class Other:
    reason: int

    @property
    def name(self) -> str:
        return EXIT_NAMES.get(self.reason, f"exit {self.reason}")


def decode_exit(run: bytes | memoryview) -> object:
    """The exit described by a kvm_run page (its first bytes suffice)."""
    reason = struct.unpack_from("<I", run, RUN_EXIT_REASON)[0]
    at = RUN_EXIT_DATA
    if reason == KVM_EXIT_IO:
        direction, size, port, count, offset = struct.unpack_from("<BBHIQ", run, at)
        data = int.from_bytes(bytes(run[offset:offset + size]), "little") \
            if direction == KVM_EXIT_IO_OUT else 0
        return PortIO(port, size, direction == KVM_EXIT_IO_OUT, data, offset)
    if reason == KVM_EXIT_MMIO:
        address, raw, length, is_write = struct.unpack_from("<Q8sIB", run, at)
        return Mmio(address, length, bool(is_write),
                    int.from_bytes(raw[:length], "little") if is_write else 0)
    if reason == KVM_EXIT_DEBUG:
        exception, _, pc, dr6 = struct.unpack_from("<IIQQ", run, at)
        return DebugTrap(exception, pc, dr6)
    if reason == KVM_EXIT_HLT:
        return Halted()
    if reason == KVM_EXIT_SHUTDOWN:
        return Shutdown()
    if reason == KVM_EXIT_FAIL_ENTRY:
        return EntryFailed(struct.unpack_from("<Q", run, at)[0])
    if reason == KVM_EXIT_INTERNAL_ERROR:
        return InternalError(struct.unpack_from("<I", run, at)[0])
    return Other(reason)


# -- what an exit means to a Linux guest's vCPU (pure, like decode_exit) ----

@dataclass(frozen=True)
class SyscallExit:
    """The syscall stub's `out SYSCALL_PORT`: serve the call in the registers."""


@dataclass(frozen=True)
class GuestException:
    """An exception stub's `out EXCEPTION_PORT + vector`: the CPU raised it."""
    vector: int


@dataclass(frozen=True)
class Unexpected:
    """Anything the user-mode machine never makes (hlt, a triple fault, a
    port it does not use): the guest broke its machine."""
    exit: object

    @property
    def name(self) -> str:
        if isinstance(self.exit, PortIO):
            return f"port {self.exit.port:#x}"
        return type(self.exit).__name__.lower()


SYSCALL_EXIT = SyscallExit()


def classify_exit(exit: object, mode) -> object:
    """A decoded exit of a user-mode vCPU -> SyscallExit, GuestException,
    DebugTrap (a single step's end) or Unexpected. mode names the ports
    (SYSCALL_PORT, EXCEPTION_PORT, EXCEPTIONS)."""
    if isinstance(exit, DebugTrap):
        return exit
    if isinstance(exit, PortIO) and exit.is_write:
        if exit.port == mode.SYSCALL_PORT:
            return SYSCALL_EXIT
        vector = exit.port - mode.EXCEPTION_PORT
        if 0 <= vector < mode.EXCEPTIONS:
            return GuestException(vector)
    return Unexpected(exit)


def exit_reason(kind: object) -> str:
    """A classified exit as --stats names it: what the guest needed xemu for."""
    if kind is SYSCALL_EXIT:
        return "syscall"
    if isinstance(kind, GuestException):
        return f"exception {kind.vector}"
    if isinstance(kind, Unexpected):
        return kind.name
    return type(kind).__name__.lower()
