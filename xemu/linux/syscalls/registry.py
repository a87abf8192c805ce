"""The table of handlers, by the kernel's names for the calls. Handler
modules register into it; the Dispatcher (__init__.py) reads it."""
from __future__ import annotations

from typing import Callable

from ...machine.accel.base import MachineCall
from ...machine.select import host_syscall_number

HANDLERS: dict[str, Callable] = {}
# name -> indices of parameters that are 64 bits wide (a register pair on
# a 32-bit arch)
WIDE: dict[str, tuple[int, ...]] = {}
# name -> how an accelerator may answer the call without Python, made for
# a process's arch (None: it may not). The handler stays the truth: the
# accelerator serves only the plain case and gives it everything else.
InMachine = Callable[[object], "MachineCall | None"]
IN_MACHINE: dict[str, InMachine] = {}


def syscall(*names: str, wide: tuple[int, ...] = (), in_machine: InMachine | None = None):
    """Register a handler under one or more syscall names."""
    def register(handler: Callable) -> Callable:
        for name in names:
            HANDLERS[name] = handler
            if wide:
                WIDE[name] = wide
            if in_machine is not None:
                IN_MACHINE[name] = in_machine
        return handler
    return register


def host_fact(name: str, limit: int = 0, overflow: int = 0) -> InMachine:
    """The call answers what the host's own call `name` answers (no
    arguments); above limit (when not 0), overflow."""
    def made(process) -> MachineCall:
        return MachineCall("host", host_number=host_syscall_number(name), limit=limit,
                           overflow=overflow)
    return made


def time_struct(kind: str, layout: str, clocks: frozenset[int] = frozenset()) -> InMachine:
    """A clock read into a struct of two integers of one size (timespec,
    timeval): the size comes from the process's arch; a layout of another
    shape is not served in machine code."""
    def made(process) -> MachineCall | None:
        found = process.layout(layout)
        word = found.size // 2
        if list(found.offsets.values()) != [0, word] or word not in (4, 8):
            return None
        return MachineCall(kind, word=word, clocks=sum(1 << c for c in clocks))
    return made
