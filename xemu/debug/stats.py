"""--stats and --stats-json: one summary of a run when it ends.

What each accelerator can count cheaply is counted: under TCG, executed
translation blocks (a block hook: Python once per block, which is why
--stats slows a run) and from them guest instructions (each distinct block
disassembled once, at the end, times how often it ran); under KVM the VM
exits by reason (the CPU runs the code, so nothing counts its blocks).
System calls are counted by name under both.

In Thumb code an instruction that an IT block skips counts (the
architecture executes it as a no-op); `--trace-mode insn` leaves it out,
since Unicorn's per-instruction hook is skipped with it.
"""
from __future__ import annotations

import json
import sys
import time
from collections import Counter
from typing import TextIO

from ..errors import GuestMemoryError, XemuError
from .trace import Disassembler


class RunStats:
    def __init__(self):
        self.started = time.monotonic()
        self.ended: float | None = None
        self.syscalls: Counter[str] = Counter()
        self.blocks: Counter[tuple[int, int, bool]] | None = None   # (address, size, alternate)
        self.accel = None

    def watch(self, accel) -> None:
        """Count what this accelerator can: its blocks under TCG."""
        self.accel = accel
        if hasattr(accel, "observe_code"):
            self.blocks = Counter()
            blocks = self.blocks
            if accel.spec.isa_switch:                   # ARM: Thumb or not, per block
                disassembler = Disassembler(accel.spec)
                regs = accel.regs

                def count(address: int, size: int) -> None:
                    blocks[address, size, disassembler.alternate(regs)] += 1
            else:
                def count(address: int, size: int) -> None:
                    blocks[address, size, False] += 1
            accel.observe_code(count, per_instruction=False)

    def stop(self) -> None:
        self.ended = time.monotonic()

    def summary(self, accel_name: str, arch: str, status: int, memory) -> dict:
        summary = {
            "arch": arch, "accel": accel_name, "exit_status": status,
            "wall_seconds": round((self.ended or time.monotonic()) - self.started, 6),
            "peak_guest_memory_bytes": memory.peak_bytes,
            "syscalls": dict(self.syscalls.most_common()),
            "syscalls_total": sum(self.syscalls.values()),
        }
        if self.blocks is not None:
            summary["translation_blocks_executed"] = sum(self.blocks.values())
            summary["distinct_blocks"] = len(self.blocks)
            summary["guest_instructions"] = self._instructions(memory)
        exits = getattr(self.accel, "exit_counts", None)
        if exits is not None:
            summary["vm_exits"] = dict(exits.most_common())
            summary["vm_exits_total"] = sum(exits.values())
        return summary

    def _instructions(self, memory) -> int | None:
        """Each distinct block decoded once, times its count. None if code
        has gone (unmapped before the end): a count would be a guess."""
        disassembler = Disassembler(self.accel.spec)
        total = 0
        for (address, size, alternate), count in self.blocks.items():
            try:
                code = memory.read(address, size)
            except GuestMemoryError:
                return None
            total += count * len(disassembler.decode(code, address, alternate))
        return total


def format_summary(summary: dict) -> str:
    """The summary as a few lines for stderr."""
    lines = [f"{summary['arch']} guest, accel={summary['accel']}, "
             f"{summary['wall_seconds']:.3f} s wall, exit status {summary['exit_status']}, "
             f"peak guest memory {summary['peak_guest_memory_bytes'] / (1 << 20):.1f} MiB"]
    if "translation_blocks_executed" in summary:
        instructions = summary["guest_instructions"]
        lines.append(f"{summary['translation_blocks_executed']:,} translation blocks executed "
                     f"({summary['distinct_blocks']:,} distinct), "
                     + (f"{instructions:,} guest instructions" if instructions is not None
                        else "guest instructions not counted (code was unmapped)"))
    if "vm_exits" in summary:
        lines.append(f"{summary['vm_exits_total']:,} VM exits: "
                     + ", ".join(f"{k} {v:,}" for k, v in summary["vm_exits"].items()))
    calls = summary["syscalls"]
    lines.append(f"{summary['syscalls_total']:,} system calls"
                 + (": " + ", ".join(f"{k} {v:,}" for k, v in calls.items()) if calls else ""))
    return "\n".join(f"xemu: stats: {line}" for line in lines)


def open_json(path: str) -> TextIO:
    """--stats-json's file, opened before the guest runs: a path that cannot
    be written is said at once, not after a long run."""
    try:
        return open(path, "w")
    except OSError as e:
        raise XemuError(f"--stats-json {path}: {e.strerror}") from None


def emit(summary: dict, to_stderr: bool, json_file: TextIO | None) -> None:
    if to_stderr:
        print(format_summary(summary), file=sys.stderr, flush=True)
    if json_file is not None:
        with json_file:
            json.dump(summary, json_file, indent=2)
            json_file.write("\n")
