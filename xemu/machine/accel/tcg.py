"""The translating accelerator: Unicorn, which is QEMU's TCG as a library.

Guest code runs as translated host code with no Python per instruction.
Python runs only on traps: a syscall instruction (one interrupt or
instruction hook), a fault (invalid memory, invalid instruction).
"""
from __future__ import annotations

import ctypes
import dataclasses
import signal
import threading
import time
from typing import Callable, Mapping

from unicorn import (UC_ARCH_ARM, UC_ARCH_ARM64, UC_ARCH_PPC, UC_ARCH_X86, UC_CTL_IO_WRITE,
                     UC_CTL_TLB_FLUSH, UC_ERR_EXCEPTION, UC_ERR_FETCH_PROT,
                     UC_ERR_FETCH_UNALIGNED, UC_ERR_FETCH_UNMAPPED,
                     UC_ERR_INSN_INVALID, UC_ERR_READ_PROT, UC_ERR_READ_UNALIGNED,
                     UC_ERR_READ_UNMAPPED, UC_ERR_WRITE_PROT, UC_ERR_WRITE_UNALIGNED,
                     UC_ERR_WRITE_UNMAPPED, UC_HOOK_BLOCK, UC_HOOK_CODE, UC_HOOK_INSN,
                     UC_HOOK_INTR, UC_HOOK_TLB_FILL, UC_TLB_VIRTUAL,
                     UC_HOOK_MEM_FETCH_PROT, UC_HOOK_MEM_FETCH_UNMAPPED,
                     UC_HOOK_MEM_READ_PROT, UC_HOOK_MEM_READ_UNMAPPED,
                     UC_HOOK_MEM_WRITE_PROT, UC_HOOK_MEM_WRITE_UNMAPPED,
                     UC_MEM_FETCH_PROT, UC_MEM_FETCH_UNMAPPED, UC_MEM_READ_PROT,
                     UC_MEM_READ_UNMAPPED, UC_MEM_WRITE_PROT, UC_MEM_WRITE_UNMAPPED,
                     Uc, UcError, arm64_const, arm_const, ppc_const, x86_const)
from unicorn.x86_const import UC_X86_INS_IN, UC_X86_INS_OUT
from unicorn.unicorn_py3.unicorn import HOOK_CODE_CFUNC, HOOK_INTR_CFUNC, uc_hook_h, uclib

from ...archs.base import ArchSpec
from ..devices import PortBus
from ..memory import PAGE, PROT_READ, PROT_WRITE, Memory, Region, page_down, page_up
from .debugging import Debugging, watched_pages
from .stop_request import StopRequest
from .tcgfast import FillTable, SyscallEntry, load as load_compiled
from .unicorn_map import UnicornMap
from .base import (BUS_ADRERR, REGISTERS_SET, Breakpoint, Exit, Fault, Interrupted,
                   MachineCall, Stop, SyscallHandler, Timeout, Watchpoint, Woken,
                   cpu_exception)

REGISTER_PREFIX = {
    UC_ARCH_PPC: (ppc_const, "UC_PPC_REG_"),
    UC_ARCH_ARM: (arm_const, "UC_ARM_REG_"),
    UC_ARCH_ARM64: (arm64_const, "UC_ARM64_REG_"),
    UC_ARCH_X86: (x86_const, "UC_X86_REG_"),
}

ACCESS = {
    UC_MEM_READ_UNMAPPED: ("read", "unmapped"), UC_MEM_WRITE_UNMAPPED: ("write", "unmapped"),
    UC_MEM_FETCH_UNMAPPED: ("execute", "unmapped"), UC_MEM_READ_PROT: ("read", "protection"),
    UC_MEM_WRITE_PROT: ("write", "protection"), UC_MEM_FETCH_PROT: ("execute", "protection"),
}
ERROR_SIGNAL = {
    UC_ERR_READ_UNMAPPED: signal.SIGSEGV, UC_ERR_WRITE_UNMAPPED: signal.SIGSEGV,
    UC_ERR_FETCH_UNMAPPED: signal.SIGSEGV, UC_ERR_READ_PROT: signal.SIGSEGV,
    UC_ERR_WRITE_PROT: signal.SIGSEGV, UC_ERR_FETCH_PROT: signal.SIGSEGV,
    UC_ERR_READ_UNALIGNED: signal.SIGBUS, UC_ERR_WRITE_UNALIGNED: signal.SIGBUS,
    UC_ERR_FETCH_UNALIGNED: signal.SIGBUS, UC_ERR_INSN_INVALID: signal.SIGILL,
}
PROTECTION_ERRORS = (UC_ERR_READ_PROT, UC_ERR_WRITE_PROT)
# How a run on the compiled TLB fill ends at a bad access: the fill refused
# it (an exception), or Unicorn found no memory where the fill let it look
# (code at an unmapped address); no hook named the address, so the access is
# replayed.
REPLAYED_ERRORS = (UC_ERR_EXCEPTION, UC_ERR_READ_UNMAPPED, UC_ERR_WRITE_UNMAPPED,
                   UC_ERR_FETCH_UNMAPPED, UC_ERR_READ_PROT, UC_ERR_WRITE_PROT, UC_ERR_FETCH_PROT)
# void (*)(uc_engine *uc, void *user_data): the x86 `syscall` instruction hook
HOOK_SYSCALL_CFUNC = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
INVALID_MEMORY = (UC_HOOK_MEM_READ_UNMAPPED | UC_HOOK_MEM_WRITE_UNMAPPED
                  | UC_HOOK_MEM_FETCH_UNMAPPED | UC_HOOK_MEM_READ_PROT
                  | UC_HOOK_MEM_WRITE_PROT | UC_HOOK_MEM_FETCH_PROT)
# Steps tried after a yield hint before an undefined instruction is real.
# (A pending yield exit can be reported again by a step; 3 tries were once
# not enough in CI, for Go's procyield under a storm of signals. A step
# costs microseconds, so a real undefined instruction loses nothing.)
HINT_STEPS = 16


class UnicornRegisters:
    """Registers by the arch's own names, read and written through Unicorn."""

    def __init__(self, uc: Uc, spec: ArchSpec):
        self._uc = uc
        module, self._prefix = REGISTER_PREFIX[spec.tcg.engine[0]]
        self._module = module
        self._aliases = spec.tcg.register_names
        self._ids: dict[str, int] = {}
        # system registers Unicorn reaches as coprocessor registers
        self._system = spec.tcg.system_registers
        self._cp_id = getattr(module, self._prefix + "CP_REG", None)

    def id(self, name: str) -> int:
        found = self._ids.get(name)
        if found is None:
            suffix = self._aliases.get(name, name).upper()
            found = getattr(self._module, self._prefix + suffix, None)
            if found is None:
                raise KeyError(f"no register named {name!r}")
            self._ids[name] = found
        return found

    def read(self, name: str):
        """KeyError for a register this CPU model does not have."""
        try:
            if name in self._system:
                return self._uc.reg_read(self._cp_id, self._system[name])
            return self._uc.reg_read(self.id(name))
        except UcError:
            raise KeyError(f"no register named {name!r} here") from None

    def write(self, name: str, value) -> None:
        try:
            if name in self._system:
                self._uc.reg_write(self._cp_id, (*self._system[name], value))
                return
            self._uc.reg_write(self.id(name), value)
        except UcError:
            raise KeyError(f"no register named {name!r} here") from None

    def save(self):
        """The whole CPU context, as Unicorn keeps it (a UcContext)."""
        return self._uc.context_save()

    def restore(self, context) -> None:
        self._uc.context_restore(context)


class TcgAccelerator(Debugging):
    name = "tcg"
    # Engines are built without parallel TCG: one runs at a time (linux/sched.py)
    parallel = False

    def __init__(self, spec: ArchSpec, memory: Memory, linux: bool = True):
        """linux: set the CPU up as Linux leaves a process (False for boards)."""
        arch, mode, cpu = spec.tcg.engine
        self.spec = spec
        self.memory = memory
        self.uc = Uc(arch, mode, cpu)
        if arch in (UC_ARCH_ARM, UC_ARCH_ARM64):       # before anything initialises it
            # QEMU's Arm targets default to 1 KiB pages, and system-mode TCG
            # (Unicorn) never chains translated blocks across a page: a hot
            # loop over a 1 KiB boundary ran 3x slower. Linux's pages are 4 KiB.
            self.uc.ctl_set_page_size(PAGE)
        self.regs = UnicornRegisters(self.uc, spec)
        self.syscall_handler: SyscallHandler | None = None
        # Boards: (interrupt number or None for an invalid instruction, pc) ->
        # True if served (pc moved past it), a Stop, or None (a real fault).
        self.board_trap: Callable[[int | None, int], object] | None = None
        self.hlt_stops = False
        self._ports = PortBus()
        self._stop: Stop | None = None
        self._bad_access: tuple[str, str, int, int] | None = None
        self._mask = (1 << spec.bits) - 1
        self._breakpoints: dict[int, int] = {}          # address -> hook handle
        self._watches: list[tuple[str, int, int]] = []  # (access, address, length)
        self._stepping = False
        self._interrupt = False                         # set by another thread
        self._woken = False                             # wake(): a signal or timer
        self._before_fault = None                       # registers at a port I/O fault
        self._stale_code: list[tuple[int, int]] = []    # code_written from other threads
        self._runner: int | None = None                 # the host thread that runs it
        self._fill: FillTable | None = None            # the compiled TLB fill, once set up
        self._map = UnicornMap(self.uc)
        compiled = load_compiled()[0] if linux else None
        self._prepare_syscall_registers()
        for region in memory.regions():
            self.region_added(region)
        memory.listeners.append(self)
        self._entry: SyscallEntry | None = None        # the compiled syscall entry
        self._in_machine: dict[int, MachineCall] = {}
        self._add_hooks(compiled)
        self._stop_request = StopRequest(self.uc)
        self._guarded_thread: int | None = None     # the thread bound to the file guard
        if linux:
            spec.tcg.setup_cpu(self.regs, memory)
            if spec.tcg.enter_user is not None:
                self._enter_user(spec.tcg.enter_user)
            if spec.tcg.port_io_fault is not None:
                self.uc.hook_add(UC_HOOK_INSN, self._port_fault, aux1=UC_X86_INS_IN)
                self.uc.hook_add(UC_HOOK_INSN, self._port_fault, aux1=UC_X86_INS_OUT)
            if compiled is not None:
                self._fill = self._fast_tlb(compiled)
                self._entry.use_fill(self._fill)

    def _enter_user(self, address: int) -> None:
        """Run the one instruction the CPU set-up left to reach user mode."""
        self.uc.emu_start(address, 0, count=1)
        self._raise_hook_error()
        if self._stop is not None:
            raise RuntimeError(f"{self.spec.name}: the CPU did not reach user mode: {self._stop}")

    # -- the TLB: each page with its region's rights ----------------------

    def _fast_tlb(self, lib: ctypes.CDLL) -> FillTable:
        """Unicorn's virtual TLB, filled by the compiled hook from a table
        of the guest's regions (tcgfast.py says why). Without the library,
        Unicorn's CPU TLB gives every page all rights and the invalid-memory
        hook names each fault's address. Set up once the CPU set-up has run
        (with neither: x86-64's step to user mode leaves its pc at 0), from
        an empty TLB."""
        table = FillTable(lib)
        if self.spec.tcg.fill_clears is not None:
            register, mask = self.spec.tcg.fill_clears
            table.clear_on_fill(self.regs.id(register), mask)
        for region in self.memory.regions():
            table.add(region.start, region.end, region.perms)
        self.uc.ctl_set_tlb_mode(UC_TLB_VIRTUAL)
        handle = uc_hook_h()
        status = uclib.uc_hook_add(self.uc._uch, ctypes.byref(handle), UC_HOOK_TLB_FILL,
                                   ctypes.c_void_p(table.hook), ctypes.c_void_p(table.pointer),
                                   ctypes.c_uint64(1), ctypes.c_uint64(0))
        if status:
            raise UcError(status)
        self.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)
        return table

    def _unicorn_checks(self, on: bool) -> None:
        """With the fill hook: on, every page gets all rights in the TLB and
        the invalid-memory hook is in place, so Unicorn's own checks of its
        map decide each access and name its address (watchpoints, and the
        replay of a fault); off, each page has its own rights and no memory
        hook keeps stores on the slow path. Either way the TLB starts empty."""
        if self._fill is None or (self._invalid_hook is not None) == on:
            return
        self._fill.permissive(on)
        if on:
            self._invalid_hook = self.uc.hook_add(INVALID_MEMORY, self._on_invalid_memory)
        else:
            self.uc.hook_del(self._invalid_hook)
            self._invalid_hook = None
        self.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)

    def _replay_refused(self) -> Stop | None:
        """The fill hook refused an access and Unicorn stopped with only
        UC_ERR_EXCEPTION (or a memory error no hook named), the pc on the
        instruction: run it once more under Unicorn's own checks, whose
        invalid-memory hook names the address (the Fault), or which let it
        run (a block that reached into a bad page stopped before its first
        instruction: carry on)."""
        self._bad_access = None
        self._unicorn_checks(True)
        try:
            return self._emulate(self._resume_address(), None, count=1)
        finally:
            self._unicorn_checks(bool(self._watches))

    # -- memory listener --------------------------------------------------

    def region_added(self, region: Region) -> None:
        self._map.add(region.start, region.end, region.perms, region.host_address)
        if self._fill is not None:
            self._fill.add(region.start, region.end, region.perms)
        if self._watches:
            self._protect_watched_pages(True)

    def region_removed(self, region: Region) -> None:
        if self._fill is not None:
            self._fill.remove(region.start, region.end)
        self._map.remove(region.start, region.end)
        if self._watches:               # the span's rest was mapped again
            self._protect_watched_pages(True)

    def code_written(self, start: int, end: int) -> None:
        """A system call wrote code (read(2) into an executable page): drop
        its translations now if the call is this engine's own (served inside
        its hook, where Unicorn allows it), else before this engine next
        runs: another thread must not touch the cache of a running engine."""
        if threading.get_ident() == self._runner:
            self.forget_code(start, end)
        else:
            self._stale_code.append((start, end))

    def twin(self) -> TcgAccelerator:
        """A CPU for another thread of the same program: its own engine over
        the same memory, with a copy of these registers."""
        other = TcgAccelerator(self.spec, self.memory)
        names = self.spec.tcg.thread_registers
        if names is None:
            other.regs.restore(self.regs.save())
        else:
            for name in names:
                other.regs.write(name, self.regs.read(name))
        return other

    def close(self) -> None:
        """This CPU is done (its program exec'd another): stop following
        the memory; Unicorn's engine goes with the last reference."""
        if self in self.memory.listeners:
            self.memory.listeners.remove(self)

    # -- running ----------------------------------------------------------

    def run(self, timeout: float | None = None) -> Stop:
        """Run from the current pc until the guest exits, faults, or timeout
        seconds pass (Unicorn's own timer stops a guest that never enters
        Python)."""
        deadline = time.monotonic() + timeout if timeout else None
        self._runner = threading.get_ident()
        guard = self.memory.file_guard
        if guard is not None and self._guarded_thread != self._runner:
            guard.bind_thread(self._stop_request.flag)      # its faults stop this engine
            self._guarded_thread = self._runner
        while self._stale_code:
            self.forget_code(*self._stale_code.pop())
        stop = self._emulate(self._resume_address(), deadline)
        if stop is None and deadline is not None and time.monotonic() >= deadline:
            stop = Timeout(timeout)
        if stop is None:
            pc = self.regs.read(self.spec.pc)
            stop = Fault(signal.SIGSEGV, pc, pc, "execute", "unmapped")
        return stop

    def _emulate(self, start: int, deadline: float | None, count: int = 0) -> Stop | None:
        """Run from start to a Stop; None when Unicorn ends without one (the
        deadline, or count instructions done)."""
        self._stop = None
        until = (1 << self.spec.bits) - 1 if self.spec.bits == 32 else 1 << 63
        while True:
            if self._woken and not count:
                self._woken = False
                self._stop_request.clear()
                return Woken()
            left = deadline - time.monotonic() if deadline else 0
            try:
                self.uc.emu_start(start, until, count=count,
                                  timeout=max(int(left * 1e6), 1) if deadline else 0)
                self._raise_hook_error()
            except UcError as e:
                self._raise_hook_error()
                if self._stop is None and e.errno in REPLAYED_ERRORS and \
                        self._fill is not None and self._invalid_hook is None:
                    replayed = self._replay_refused()
                    if replayed is not None or count:
                        return replayed
                    start = self._resume_address()
                    continue
                if self._stop is None and e.errno in PROTECTION_ERRORS and self._watches:
                    watched = self._watch_trap()
                    if watched is not False:
                        if watched is not None or count:
                            return watched
                        start = self._resume_address()
                        continue
                if self._stop is None and e.errno == UC_ERR_INSN_INVALID and \
                        self.spec.tcg.after_yield_hint and \
                        self.spec.tcg.after_yield_hint(self.regs, self.memory):
                    went_on = self._went_on_after_hint(start, count)
                    if went_on is not False:
                        if went_on is not None or count:
                            return went_on             # a Stop the step met, or the step done
                        if self.board_trap is None:
                            return Woken()             # a spinning thread lets others run
                        start = self._resume_address()
                        continue
                if self._stop is None and e.errno == UC_ERR_INSN_INVALID and self.board_trap:
                    served = self.board_trap(None, self.regs.read(self.spec.pc))
                    if served is True:
                        if count:
                            return None
                        start = self._resume_address()
                        continue
                    if served is not None:
                        self._stop = served
                if self._stop is None:
                    self._stop = self._fault_from_error(e.errno)
            if self._before_fault is not None:
                self.uc.context_restore(self._before_fault)
                self._before_fault = None
            if self._stop is None and self.memory.file_guard is not None:
                self._stop = self._past_file_end()
            if self._stop is None and self.hlt_stops and self._after_hlt():
                self._stop = Exit(0)
            if self._stop is None and self._interrupt:
                self._interrupt = False
                self._stop = Interrupted(self.regs.read(self.spec.pc))
            if self._stop is None and self._woken and not count:
                self._woken = False
                self._stop_request.clear()
                self._stop = Woken()
            if self._stop is None and not count and \
                    not (deadline and time.monotonic() >= deadline):
                start = self._resume_address()       # a stray emu_stop (a late wake())
                continue
            return self._stop

    def _past_file_end(self) -> Fault | None:
        """A store or load met a page of a shared file mapping past the
        file's end (the guard made it a zero page and stopped the engine at
        the next block): SIGBUS, BUS_ADRERR at that address, as the block's
        end is the first point the engine can stop."""
        address = self.memory.file_guard.take_fault()
        if address is None:
            return None
        return Fault(signal.SIGBUS, self.regs.read(self.spec.pc), address, "",
                     "past the end of its file", code=BUS_ADRERR)

    def _went_on_after_hint(self, start: int, count: int) -> Stop | None | bool:
        """Unicorn stopped as for an invalid instruction, with a yield or wfe
        just before the pc: either it ran the hint (the pc moved past it) or
        an undefined instruction right after one stopped it (the pc on it).
        A step from the pc tells: None if the guest went on (the hint was
        it), a Stop the step met, False for a real undefined instruction."""
        pc = self.regs.read(self.spec.pc)
        if count:                          # already a step: did it move?
            return None if pc != start & ~1 else False
        core = [register.source or register.name for register in self.spec.gdb.features[0][1]]
        before = [self.regs.read(name) for name in core]
        for _ in range(HINT_STEPS):
            # A yield's exit can still be pending when another thread's stop
            # request ended the run: the first step may report it again
            # without running anything. A real undefined instruction stays.
            stepped = self._emulate(self._resume_address(), None, count=1)
            if not (isinstance(stepped, Fault) and stepped.signal == signal.SIGILL
                    and stepped.pc == pc):
                return stepped
            # Unicorn's step can run more than one instruction: a spin loop
            # (Go's procyield) came round to its yield and stopped at the same
            # pc, its counter changed. An undefined instruction changes nothing.
            if [self.regs.read(name) for name in core] != before:
                return None
        return False

    def _raise_hook_error(self) -> None:
        error, self._hook_error = self._hook_error, None
        if error is not None:
            raise error

    def _resume_address(self) -> int:
        """The pc to restart at, with ARM's Thumb bit where it is set."""
        pc = self.regs.read(self.spec.pc)
        if self.spec.isa_switch:
            register, bit = self.spec.isa_switch.register, self.spec.isa_switch.bit
            if self.regs.read(register) & bit:
                pc |= 1
        return pc

    def _after_hlt(self) -> bool:
        """x86 `hlt` ends emu_start with the pc just past it."""
        pc = self.regs.read(self.spec.pc)
        region = self.memory.region_at(pc - 1)
        return region is not None and self.memory.read(pc - 1, 1) == b"\xf4"

    # -- devices (boards) --------------------------------------------------

    def attach(self, bus: str, base: int, device) -> None:
        """Put a device on MMIO or, on x86, on I/O ports."""
        if bus == "mmio":                  # Unicorn maps whole pages
            def read(uc, offset, size, _):
                return device.read(offset, size) if offset < device.size else 0

            def write(uc, offset, size, value, _):
                if offset < device.size:
                    self._device_wrote(device.write(offset, size, value))
            self.uc.mmio_map(base, page_up(device.size), read, None, write, None)
            return
        if not self._ports:
            self.uc.hook_add(UC_HOOK_INSN, self._port_in, aux1=UC_X86_INS_IN)
            self.uc.hook_add(UC_HOOK_INSN, self._port_out, aux1=UC_X86_INS_OUT)
        self._ports.add(base, device)

    def _device_wrote(self, result) -> None:
        if result is not None:
            self.stop(result)

    def _port_in(self, uc: Uc, port: int, size: int, user_data) -> int:
        return self._ports.read(port, size)

    def _port_out(self, uc: Uc, port: int, size: int, value: int, user_data) -> None:
        self._device_wrote(self._ports.write(port, size, value))

    def _port_fault(self, uc: Uc, port: int, size: int, *value_and_data) -> int:
        """A program's in or out: the fault the arch raises for it in user
        mode (Unicorn skips the I/O permission check). Unicorn stops only at
        the end of the translated block, so the registers as they were at
        the instruction are put back then; the block's later stores stay."""
        try:
            if self._stop is None:
                self._before_fault = self.uc.context_save()
                self._on_interrupt(self.spec.tcg.port_io_fault)
        except BaseException as error:          # noqa: BLE001 (re-raised by run)
            if self._hook_error is None:
                self._hook_error = error
            self.uc.emu_stop()
        return 0

    def stop(self, stop: Stop) -> None:
        """End the run with this Stop (called from a hook)."""
        if self._stop is None:
            self._stop = stop
        self.uc.emu_stop()

    # -- hooks: the only way into Python while the guest runs -------------

    def _add_hooks(self, compiled: ctypes.CDLL | None) -> None:
        """The syscall hooks are the compiled entry's (tcgfast.py), or go
        straight to the C API: the binding's wrapper adds three Python
        frames to every system call. Their exceptions are kept and raised
        after emu_start, as the binding does."""
        self._hook_error: BaseException | None = None
        self._raw_hooks = []
        trap = self.spec.tcg.trap
        if compiled is not None:
            self._add_syscall_entry(compiled)
        else:
            if trap.kind == "instruction":
                self._raw_hook(UC_HOOK_INSN, HOOK_SYSCALL_CFUNC(
                    lambda handle, data: self._guarded(self._serve_syscall)), trap.number)
            self._raw_hook(UC_HOOK_INTR, HOOK_INTR_CFUNC(self._raw_interrupt))
        # Any memory hook keeps every store on Unicorn's slow path: with the
        # compiled fill hook, faults are replayed to learn their address instead
        self._invalid_hook = self.uc.hook_add(INVALID_MEMORY, self._on_invalid_memory) \
            if compiled is None else None

    def _raw_hook(self, kind: int, callback, *extra: int, data: int | None = None) -> None:
        """callback: a ctypes function, or the address of a C one."""
        handle = uc_hook_h()
        status = uclib.uc_hook_add(self.uc._uch, ctypes.byref(handle), kind,
                                   ctypes.c_void_p(callback) if isinstance(callback, int)
                                   else ctypes.cast(callback, ctypes.c_void_p),
                                   ctypes.c_void_p(data), ctypes.c_uint64(1), ctypes.c_uint64(0),
                                   *(ctypes.c_int(x) for x in extra))
        if status:
            raise UcError(status)
        self._raw_hooks.append(callback)        # ctypes callbacks must stay alive

    def _add_syscall_entry(self, compiled: ctypes.CDLL) -> None:
        """The compiled entry reads the number and arguments and serves the
        calls marked with serve_in_machine; Python gets the rest."""
        abi, trap = self.spec.linux.syscall, self.spec.tcg.trap
        names = [abi.number, *abi.args] + ([abi.error_flag[0]] if abi.error_flag else [])
        self._entry = SyscallEntry(
            compiled, self.uc._uch.value, [self.regs.id(n) for n in names],
            self.regs.id(abi.result), abi.error_flag[1] if abi.error_flag else 0,
            self.spec.bits, self.spec.big_endian,
            trap.number if trap.kind == "interrupt" else None,
            self._syscall_from_entry, self._interrupt_from_entry)
        if trap.kind == "instruction":
            self._raw_hook(UC_HOOK_INSN, self._entry.instruction_hook, trap.number,
                           data=self._entry.pointer)
        self._raw_hook(UC_HOOK_INTR, self._entry.interrupt_hook, data=self._entry.pointer)

    def serve_in_machine(self, calls: Mapping[int, MachineCall]) -> None:
        """With the compiled entry, these calls never reach Python."""
        self._in_machine = dict(calls)
        if self._entry is not None:
            self._entry.serve(self._in_machine)

    @property
    def in_machine(self) -> dict[int, MachineCall]:
        """The calls serve_in_machine was last given."""
        return dict(self._in_machine)

    def _raw_interrupt(self, handle, number: int, data) -> None:
        """The interrupt hook, one frame deep on the syscall path."""
        try:
            if number == self._syscall_interrupt and self.syscall_handler:
                self._serve_syscall()
            else:
                self._on_interrupt(number)
        except BaseException as error:          # noqa: BLE001 (re-raised by run)
            if self._hook_error is None:
                self._hook_error = error
            self.uc.emu_stop()

    def _guarded(self, function, *args) -> None:
        try:
            function(*args)
        except BaseException as error:          # noqa: BLE001 (re-raised by run)
            if self._hook_error is None:
                self._hook_error = error
            self.uc.emu_stop()

    def _on_interrupt(self, number: int) -> None:
        pc = self.regs.read(self.spec.pc)
        if self.board_trap:
            served = self.board_trap(number, pc)
            if served is True:
                return
            if served is not None:
                self.stop(served)
                return
        sig = self.spec.linux.exception_signals.get(number, signal.SIGILL)
        refined = self.spec.linux.classify_exception and \
            self.spec.linux.classify_exception(number, pc, self.memory)
        if refined:
            sig, pc = refined
        if self.spec.tcg.after_exception:
            self.spec.tcg.after_exception(self.regs)
        if sig == signal.SIGILL and self.spec.tcg.emulate and \
                self.spec.tcg.emulate(self.regs, self.memory, pc):
            # served as the kernel would: the run restarts at the pc it set
            # (going on from a hook that wrote the pc, Unicorn 2.1 reports
            # stale pcs for the faults that follow in the same run)
            self.uc.emu_stop()
            return
        self.stop(cpu_exception(sig, pc, number))

    def _on_invalid_memory(self, uc: Uc, access: int, address: int, size: int,
                           value: int, user_data) -> bool:
        kind, reason = ACCESS.get(access, ("", "invalid"))
        self._bad_access = (kind, reason, address, size)
        return False

    def _fault_from_error(self, errno: int) -> Fault:
        pc = self.regs.read(self.spec.pc)
        sig = ERROR_SIGNAL.get(errno)
        if sig is None:
            return Fault(signal.SIGILL, pc, None, "", f"unicorn error {errno}")
        if self._bad_access and sig == signal.SIGSEGV:
            kind, reason, address, _ = self._bad_access
            return Fault(sig, pc, address, kind, reason)
        reason = "illegal instruction" if sig == signal.SIGILL else "unaligned access"
        return Fault(sig, pc, None, "", reason)

    # -- debugging (the GDB stub): costs nothing until asked for -----------

    def _continue(self, timeout: float | None) -> Stop:
        return self.run(timeout)

    def observe_code(self, observer: Callable[[int, int], None],
                     per_instruction: bool) -> None:
        """observer(address, size) for every executed block, or instruction:
        --trace and --stats only (Python per block is what they cost)."""
        callback = HOOK_CODE_CFUNC(lambda handle, address, size, data:
                                   self._guarded(observer, address, size))
        self._raw_hook(UC_HOOK_CODE if per_instruction else UC_HOOK_BLOCK, callback)

    def interrupt(self) -> None:
        """From another thread: stop the running guest (it returns Interrupted)."""
        self._interrupt = True
        self._stop_request.request()

    def wake(self) -> None:
        """From any thread (a signal handler, the watcher, a timer, another
        guest thread's time slice): end the run with Woken at the start of
        the next translated block (stop_request.py: never in the middle of
        one), or at once if the guest is not running."""
        self._woken = True
        self._stop_request.request()

    def step(self) -> Stop | None:
        """Run one instruction; None when it simply ran."""
        self._stepping = True
        try:
            return self._emulate(self._resume_address(), None, count=1)
        finally:
            self._stepping = False

    def set_breakpoint(self, address: int) -> None:
        """A code hook on this one address: no other instruction pays."""
        if address not in self._breakpoints:
            self._breakpoints[address] = self.uc.hook_add(
                UC_HOOK_CODE, self._on_breakpoint, begin=address, end=address)

    def clear_breakpoint(self, address: int) -> None:
        """Unicorn 2.1 compiles a code hook into the translated block, and
        hook_del leaves such blocks calling it: drop them too."""
        handle = self._breakpoints.pop(address, None)
        if handle is not None:
            self.uc.hook_del(handle)
            self.uc.ctl_remove_cache(address, address + 1)

    def read_memory(self, address: int, size: int) -> bytes:
        """Guest memory as the program has it (breakpoints are hooks here)."""
        return self.memory.read(address, size)

    def write_memory(self, address: int, data: bytes) -> None:
        """A debugger's write: the bytes, and no stale translation of them.
        (gdb probes X with an empty write; Unicorn refuses an empty range.)"""
        self.memory.write(address, data)
        self.forget_code(address, address + len(data))

    def forget_code(self, start: int, end: int) -> None:
        if end > start:
            self.uc.ctl_remove_cache(start, end)

    def _on_breakpoint(self, uc: Uc, address: int, size: int, user_data) -> None:
        if not self._stepping:
            self.stop(Breakpoint(address))

    def _protect_watched_pages(self, watched: bool) -> None:
        """Watch by page protection (debugging.py). A stop from a memory
        hook would leave the instruction half done: x86's `add [m], 1` would
        add twice on resuming. Unicorn's own checks see the pages' new
        rights; the fill hook's table does not."""
        self._unicorn_checks(bool(self._watches))
        for page, taken in watched_pages(self._watches).items():
            region = self.memory.region_at(page)
            if region is not None:
                self.uc.mem_protect(page, PAGE, region.perms & ~taken if watched
                                    else region.perms)
        # A page read before keeps a TLB entry that still allows reads after
        # it is made write-only: only a flush makes the new rights count.
        self.uc.ctl(UC_CTL_TLB_FLUSH, UC_CTL_IO_WRITE)

    def _watch_trap(self) -> Stop | None | bool:
        """A protection fault on a watched page: False if it is a real fault;
        else the Watchpoint it hits, a Stop met while stepping the access,
        or None (another address on the page: carry on)."""
        kind, _, address, size = self._bad_access
        pages = watched_pages(self._watches)
        region = self.memory.region_at(address)
        needed = PROT_WRITE if kind == "write" else PROT_READ
        if region is None or not region.perms & needed or not any(
                page in pages for page in (page_down(address), page_down(address + size - 1))):
            return False
        hit = next((Watchpoint(0, max(address, start), access)
                    for access, start, length in self._watches
                    if access in (kind, "access") and address < start + length
                    and start < address + size), None)
        if hit and self.spec.gdb.watch_stops_before_access:
            return dataclasses.replace(hit, pc=self.regs.read(self.spec.pc))
        self._protect_watched_pages(False)
        try:
            stop = self.step()
        finally:
            self._protect_watched_pages(True)
        if stop is not None or hit is None:
            return stop
        return dataclasses.replace(hit, pc=self.regs.read(self.spec.pc))

    # -- system calls -----------------------------------------------------

    def _prepare_syscall_registers(self) -> None:
        """Pre-build the batch read of number, six arguments and (PowerPC) the
        error flag register, and the batch write of the result: two C calls."""
        abi = self.spec.linux.syscall
        names = (abi.number, *abi.args) + ((abi.error_flag[0],) if abi.error_flag else ())
        count = len(names)
        self._batch_ids = (ctypes.c_int * count)(*(self.regs.id(n) for n in names))
        self._batch_values = (ctypes.c_uint64 * count)()
        base = ctypes.addressof(self._batch_values)
        self._batch_ptrs = (ctypes.c_void_p * count)(*(base + 8 * i for i in range(count)))
        self._batch_count = count
        self._result_id = self.regs.id(abi.result)
        self._error_bit = abi.error_flag[1] if abi.error_flag else None
        written = (abi.result, abi.error_flag[0]) if abi.error_flag else (abi.result,)
        self._write_ids = (ctypes.c_int * len(written))(*(self.regs.id(n) for n in written))
        self._write_values = (ctypes.c_uint64 * len(written))()
        base = ctypes.addressof(self._write_values)
        self._write_ptrs = (ctypes.c_void_p * len(written))(
            *(base + 8 * i for i in range(len(written))))
        self._uch = self.uc._uch
        trap = self.spec.tcg.trap
        self._syscall_interrupt = trap.number if trap.kind == "interrupt" else None
        self._pc_advances_after_hook = trap.kind == "instruction"

    def set_syscall_result(self, result: int) -> None:
        """Write a system call's result as the arch returns it (after a Stop
        that the OS loop served, as fork does): PowerPC's CR0.SO too."""
        abi = self.spec.linux.syscall
        failed = -4096 < result < 0
        if abi.error_flag is None:
            self.regs.write(abi.result, result & self._mask)
            return
        register, bit = abi.error_flag
        flags = self.regs.read(register)
        self.regs.write(abi.result, -result if failed else result & self._mask)
        self.regs.write(register, flags | bit if failed else flags & ~bit)

    def _syscall_from_entry(self) -> int:
        """The compiled entry's call into Python, the registers already read:
        the result word to write, or none (skip_write)."""
        entry = self._entry
        try:
            values = entry.values[:]
            if self.syscall_handler is None:
                entry.skip_write()
                self._on_interrupt(self._syscall_interrupt)
                return 0
            result = self.syscall_handler(values[0] & self._mask, tuple(values[1:7]))
            if isinstance(result, int):
                return result & self._mask
            entry.skip_write()
            self._no_result(result)
        except BaseException as error:          # noqa: BLE001 (re-raised by run)
            entry.skip_write()
            if self._hook_error is None:
                self._hook_error = error
            self.uc.emu_stop()
        return 0

    def _interrupt_from_entry(self, number: int) -> None:
        self._guarded(self._on_interrupt, number)

    def _no_result(self, result) -> None:
        """A handler answered a Stop (end the run) or REGISTERS_SET."""
        if result is not REGISTERS_SET:
            self.stop(result)
        elif self._pc_advances_after_hook:
            # Unicorn moves the pc past `syscall` once the hook returns:
            # a pc the handler set (sigreturn) must not move
            pc = self.regs.read(self.spec.pc)
            self.regs.write(self.spec.pc, pc - self.spec.linux.syscall.instruction_size)

    def _serve_syscall(self) -> None:
        """Without the compiled entry: read number and arguments in one C
        call, serve, write the result (and PowerPC's CR0.SO) in another."""
        uclib.uc_reg_read_batch(self._uch, self._batch_ids, self._batch_ptrs,
                                self._batch_count)
        values = self._batch_values[:]
        result = self.syscall_handler(values[0] & self._mask, tuple(values[1:7]))
        if not isinstance(result, int):
            self._no_result(result)
            return
        written = self._write_values
        if self._error_bit is None:
            written[0] = result & self._mask
            uclib.uc_reg_write_batch(self._uch, self._write_ids, self._write_ptrs, 1)
            return
        failed = -4096 < result < 0
        written[0] = -result if failed else result & self._mask
        written[1] = values[7] | self._error_bit if failed else values[7] & ~self._error_bit
        uclib.uc_reg_write_batch(self._uch, self._write_ids, self._write_ptrs, 2)
