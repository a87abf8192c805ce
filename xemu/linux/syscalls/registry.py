"""The table of handlers, by the kernel's names for the calls. Handler
modules register into it; the Dispatcher (__init__.py) reads it."""
from __future__ import annotations

from typing import Callable

HANDLERS: dict[str, Callable] = {}
# name -> indices of parameters that are 64 bits wide (a register pair on
# a 32-bit arch)
WIDE: dict[str, tuple[int, ...]] = {}


def syscall(*names: str, wide: tuple[int, ...] = ()):
    """Register a handler under one or more syscall names."""
    def register(handler: Callable) -> Callable:
        for name in names:
            HANDLERS[name] = handler
            if wide:
                WIDE[name] = wide
        return handler
    return register
