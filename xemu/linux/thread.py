"""One guest thread: what Linux keeps per task rather than per process.

A Process (process.py) holds what every thread of it shares: memory, file
descriptors, cwd, the program break, signal dispositions, the root. A
Thread holds its CPU (the accelerator's registers), its id, its signal mask
and alternate stack, and the address the kernel clears when it exits
(CLONE_CHILD_CLEARTID, set_tid_address).
"""
from __future__ import annotations

from dataclasses import dataclass

from ..archs.base import Registers
from .process import Process


@dataclass
class Thread:
    process: Process
    tid: int
    regs: Registers | None = None
    sigmask: bytes = bytes(8)
    sigaltstack: bytes | None = None
    clear_child_tid: int = 0        # guest address zeroed (and woken) at exit


@dataclass(frozen=True)
class ThreadExit:
    """A Stop: this thread called exit(2). The process ends with it only when
    it is the last thread (exit_group ends them all: machine's Exit)."""
    status: int
