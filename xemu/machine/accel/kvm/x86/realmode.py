"""KVM for the pc board: the CPU as it comes out of reset into a boot
sector, 16-bit real mode at 0000:7c00, guest-physical = guest address.
Port I/O exits go to the board's devices; `hlt` ends the run."""
from __future__ import annotations

import signal
from collections import Counter
from typing import Callable

from ....devices import PortBus
from ....memory import Memory, Region
from ...base import Exit, Fault, Stop
from ..exits import Halted, Mmio, PortIO, Shutdown, decode_exit
from ..registers import KvmRegisters
from ..space import MemorySlots
from ..structs import kvm_segment, kvm_sregs
from ..vm import Kvm

CR0_ET = 0x10                     # the reset value's only set bit we keep
TSS_ADDRESS = 0xFFFBD000          # Intel's real mode needs three pages here


def real_mode(sregs: kvm_sregs) -> kvm_sregs:
    """sregs for real mode with every segment at 0 (64 KiB each), paging
    and protection off."""
    code = kvm_segment(base=0, limit=0xFFFF, selector=0, type=0xB, present=1, s=1)
    data = kvm_segment(base=0, limit=0xFFFF, selector=0, type=0x3, present=1, s=1)
    sregs.cs = code
    for name in ("ds", "es", "ss", "fs", "gs"):
        setattr(sregs, name, data)
    sregs.cr0, sregs.cr4, sregs.efer = CR0_ET, 0, 0
    return sregs


def exit_text(exit: object) -> str:
    """A board's exit in words, for --trace-exits."""
    if isinstance(exit, PortIO):
        if exit.is_write:
            return f"io out port {exit.port:#x}, {exit.size} byte(s): {exit.data:#x}"
        return f"io in port {exit.port:#x}, {exit.size} byte(s)"
    if isinstance(exit, Mmio):
        return f"mmio {'write' if exit.is_write else 'read'} at {exit.address:#x}"
    return type(exit).__name__.lower()


class KvmRealMode:
    name = "kvm"

    def __init__(self, spec, memory: Memory):
        self.spec, self.memory = spec, memory
        self.kvm = Kvm()
        self.vm = self.kvm.create_vm()
        self.vm.set_tss_address(TSS_ADDRESS)
        self.vcpu = self.vm.create_vcpu(0)
        self.vcpu.set_cpuid(self.kvm.supported_cpuid())
        self.regs = KvmRegisters(self.vcpu)
        self._ports = PortBus()
        self.exit_counts: Counter[str] = Counter()       # VM exits by kind (--stats)
        self.exit_trace: Callable[[str], None] | None = None     # --trace-exits
        self._slots: dict[Region, int] = {}
        self.memory_slots = MemorySlots(self.vm, self.kvm)
        for region in memory.regions():
            self.region_added(region)
        memory.listeners.append(self)
        self.vcpu.set_sregs(real_mode(self.vcpu.get_sregs(kvm_sregs())))
        self.regs.reset()

    # guest-physical = guest address on a board
    def region_added(self, region: Region) -> None:
        self._slots[region] = self.memory_slots.add(region.start, region.size,
                                                    region.host_address)

    def region_removed(self, region: Region) -> None:
        self.memory_slots.remove(self._slots.pop(region), region.start)

    def code_written(self, start: int, end: int) -> None:
        """Nothing to do: the real CPU keeps its caches coherent with its stores."""

    def attach(self, bus: str, base: int, device) -> None:
        if bus != "io":
            raise ValueError("the pc board has port I/O devices only")
        self._ports.add(base, device)

    def run(self, timeout: float | None = None) -> Stop:
        """Run from the current registers until a device or `hlt` ends it."""
        while True:
            self.regs.sync()
            page = self.vcpu.run()
            exit = decode_exit(page)
            self.exit_counts[type(exit).__name__.lower()] += 1
            if self.exit_trace is not None:
                self.exit_trace(exit_text(exit))
            if isinstance(exit, PortIO):
                stop = self._port_io(exit, page)
                if stop is not None:
                    return stop
                continue
            if isinstance(exit, Halted):
                return Exit(0)
            pc = self.regs.read("rip") + self.regs.system().cs.base
            if isinstance(exit, Mmio):
                return Fault(signal.SIGSEGV, pc, exit.address,
                             "write" if exit.is_write else "read", "no RAM or device")
            if isinstance(exit, Shutdown):
                return Fault(signal.SIGSEGV, pc, None, "", "triple fault")
            return Fault(signal.SIGSEGV, pc, None, "",
                         f"the image broke its machine (KVM exit: {type(exit).__name__})")

    def _port_io(self, exit: PortIO, page) -> Stop | None:
        if exit.is_write:
            return self._ports.write(exit.port, exit.size, exit.data)
        value = self._ports.read(exit.port, exit.size)
        page[exit.offset:exit.offset + exit.size] = value.to_bytes(exit.size, "little")
        return None
