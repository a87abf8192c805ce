"""The hardware accelerator: the guest's instructions run on the host CPU
through Linux KVM. Only guests of the host's own architecture can run here;
the CPU mode xemu builds for them is in x86/ (ArchSpec.kvm_mode names it).

A KvmAccelerator is one vCPU. Its address space (the VM, memory slots, page
tables and the kernel area, space.py) may be shared by several vCPUs, as a
process's threads share memory, and they run at the same time, each in the
host thread that calls its run().

A new thread's vCPU: `KvmAccelerator(spec, memory, space=parent.space)`,
then `new.regs.restore(parent.regs.save())` and the registers that differ
(stack pointer, fs_base, the result register), all from any thread; then
its own host thread calls run(). Nothing binds a vCPU to the thread that
made it: run() records the thread that runs it, and wake(), interrupt()
and the address space's shootdowns kick that thread, only while it runs
(kick.py); a request made while the vCPU is not running waits in a flag
for its next run(). close() from its thread when it has ended (or from any
thread once it no longer runs): the VM stays for the others, and closes
with the last.
"""
from __future__ import annotations

import contextlib
import errno
import dataclasses
import operator
import os
import signal
import threading
from collections import Counter
from typing import Callable

from ....archs.base import PAGE, ArchSpec
from ....errors import GuestMemoryError
from ...memory import PROT_EXEC, PROT_READ, PROT_WRITE, Memory, page_down
from ..base import (BUS_ADRERR, KICK_SIGNAL, REGISTERS_SET, Breakpoint, Exit, Fault,
                    Interrupted, Stop, SyscallHandler, Watchpoint, Woken, cpu_exception)
from ..debugging import Debugging, watched_pages
from . import kick, structs
from .exits import (SYSCALL_EXIT, DebugTrap, GuestException, Unexpected, classify_exit,
                    decode_exit, exit_reason)
from .ioctl import KVM_GUESTDBG_ENABLE, KVM_GUESTDBG_SINGLESTEP
from .registers import KvmRegisters
from .space import KvmAddressSpace

from .x86 import mode_for
from .x86.operands import memory_operands

INT3 = b"\xcc"
XCR0_X87, XCR0_SSE, XCR0_AVX = 1, 2, 4
CPUID_XSAVE = 1 << 26          # leaf 1, ecx
FPU_CONTROL_DEFAULT, MXCSR_DEFAULT = 0x37F, 0x1F80


PROBE_CODE, PROBE_STACK = 0x400000, 0x500000


def self_test(spec: ArchSpec) -> tuple[bool, str]:
    """Run an SSE instruction and the syscall instruction in user mode in a
    scratch VM: (works, why not). Some hosts' KVM cannot run every mode
    (under the PVM flavour of KVM here, which runs guests in host ring 3
    without VT-x/AMD-V, compatibility mode goes through KVM's instruction
    emulator, which lacks most SSE), and a guest should be translated
    rather than crash there."""
    mode = mode_for(spec)
    memory = Memory()
    memory.map(PROBE_CODE, PAGE, PROT_READ | PROT_EXEC)
    memory.map(PROBE_STACK, PAGE, PROT_READ | PROT_WRITE)
    for page in spec.linux.reserved:
        memory.map(page.start, page.size, page.perms)
    memory.write(PROBE_CODE, mode.SSE_INSTRUCTION + mode.SYSCALL_INSTRUCTION)
    accel = KvmAccelerator(spec, memory)
    try:
        accel.regs.write(spec.sp, PROBE_STACK + PAGE // 2)
        accel.syscall_handler = lambda number, args: Exit(0)
        accel.regs.write(spec.pc, PROBE_CODE)
        stop = accel.run()
    finally:
        accel.close()
    if isinstance(stop, Exit):
        return True, ""
    what = "an SSE instruction" if stop.pc == PROBE_CODE else "the syscall instruction"
    return False, (f"this host's KVM failed a self-test in {spec.name}'s CPU mode: "
                   f"{stop.reason} on {what}")


class KvmAccelerator(Debugging):
    """One vCPU running a Linux program's thread in an address space."""

    name = "kvm"
    parallel = True        # vCPUs of one VM run guest code at the same time

    def __init__(self, spec: ArchSpec, memory: Memory, space: KvmAddressSpace | None = None):
        """space: the address space to join (another thread's); by default
        a new VM over memory."""
        self.mode = mode_for(spec)
        if self.mode is None:
            raise RuntimeError(f"no KVM set-up for {spec.name}")
        self.spec = spec
        self.memory = memory
        self.space = space or KvmAddressSpace(self.mode, memory)
        self.syscall_handler: SyscallHandler | None = None
        self._mask = (1 << spec.bits) - 1
        # The address space reads and writes these under its lock (space.py).
        self._generation = -1                # the address space's, as this vCPU saw it
        self._in_guest = False               # in KVM_RUN, or about to be, or just out
        self._runner: int | None = None      # the host thread in run() (kicked there)
        self._kickable = False               # that thread blocks KICK_SIGNAL: kicks may go
        self._signalled = False              # a kick went since it last took them back
        self._syscall_stays_in_user: bool | None = None   # learnt at the first call
        self.exit_counts: Counter[str] = Counter()         # VM exits by reason (--stats)
        # --trace-exits: told one line per exit (what the guest needed xemu for)
        self.exit_trace: Callable[[str], None] | None = None
        self._interrupted = self._woken = False   # interrupt() (gdb), wake() (signals)
        self._foreign = 0                    # outside SIGUSR1s taken, to send again
        self._depth = 0                      # run()s in progress (a step nests in one)
        self._kick_was_blocked = False       # KICK_SIGNAL in the runner's own mask
        self._closed = False
        self._breakpoints: dict[int, bytes] = {}           # address -> the byte int3 hides
        self._watches: list[tuple[str, int, int]] = []     # (access, address, length)
        try:
            self.vcpu, fresh = self.space.add_vcpu(self)
        except BaseException:
            if space is None:                # the VM made for it
                self.space.close()
            raise
        try:
            self.cpu_page = self.space.cpu_page(self.vcpu.index)   # its TSS and stack
            self.regs = KvmRegisters(self.vcpu)
            self._set_up_cpu(fresh)
        except BaseException:
            self.close()
            raise
        abi = spec.linux.syscall
        alias = KvmRegisters.ALIASES
        self._syscall_args = operator.attrgetter(
            *(alias.get(name, name) for name in (abi.number, *abi.args)))
        self._result_field = alias.get(abi.result, abi.result)

    def _set_up_cpu(self, fresh: bool) -> None:
        """The CPU as Linux starts a process. A vCPU an ended thread left
        (not fresh) keeps its CPUID (KVM takes it once) and gets every
        register, the x87/SSE/AVX state and the debug flags reset."""
        cpuid = self.space.cpuid
        if fresh:
            self.vcpu.set_cpuid(cpuid)
        entries = {(e.function, e.index): e for e in cpuid.entries[:cpuid.nent]}
        leaf1 = entries.get((1, 0))
        xsave = bool(leaf1 and leaf1.ecx & CPUID_XSAVE)
        sregs = self.vcpu.get_sregs(structs.kvm_sregs())
        self._root = self.space.tables.roots[0]
        self.mode.initial_sregs(sregs, self._root, xsave, self.vcpu.index)
        self.vcpu.set_sregs(sregs)
        supported = entries[(0xD, 0)].eax if (0xD, 0) in entries else XCR0_X87 | XCR0_SSE
        if xsave:
            self.regs.xcr0 = supported & (XCR0_X87 | XCR0_SSE | XCR0_AVX)
            self.vcpu.set_xcr0(self.regs.xcr0)
        else:
            # KVM offers no XSAVE to set (the PVM flavour): the program runs
            # with the host's XCR0, KVM's supported components (its signal
            # frames carry those they know: x87, SSE, AVX)
            self.regs.xcr0 = supported | XCR0_X87 | XCR0_SSE
        self.vcpu.set_msrs(self.mode.syscall_msrs())
        if fresh:
            fpu = self.vcpu.get_fpu(structs.kvm_fpu())
            fpu.fcw, fpu.mxcsr = FPU_CONTROL_DEFAULT, MXCSR_DEFAULT
            self.vcpu.set_fpu(fpu)
        else:
            self.vcpu.set_guest_debug(0)
            self.vcpu.set_xsave(initial_xsave())
        self.regs.reset()

    # -- running ----------------------------------------------------------

    def run(self, timeout: float | None = None) -> Stop:
        """Run from the current registers until the guest exits or faults,
        in the calling thread (the one kicks reach while it runs). (A
        timeout arrives as SIGALRM, which interrupts KVM_RUN.)"""
        with self._running():
            return self._loop()

    @contextlib.contextmanager
    def _running(self):
        """The calling thread runs the vCPU: it blocks KICK_SIGNAL, which
        the vCPU's own mask lets through in KVM_RUN alone, and kicks go to
        it; at the end it takes back any kick still pending, and sends
        again an outside SIGUSR1 it took meanwhile (kick.py). Nested runs
        (a step inside a run) share the outermost's."""
        outermost = self._depth == 0
        if outermost:
            blocked = kick.block(before=True)
            self._kick_was_blocked = bool(blocked & kick.KICK_BIT)
            try:
                self.vcpu.set_signal_mask(blocked & ~kick.KICK_BIT)
            except BaseException:
                self._unblock_kicks()
                raise
            with self.space.lock:
                self._runner = threading.get_ident()
                self._kickable = True
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if outermost:
                self._stop_kicks()
                self._runner = None
                self._unblock_kicks()

    def _stop_kicks(self) -> None:
        """No more kicks to this thread; take back those sent."""
        with self.space.lock:
            self._kickable = False
            signalled, self._signalled = self._signalled, False
        if signalled:
            self._foreign += kick.take()

    def _allow_kicks(self) -> None:
        """Kicks may come again (once the signal is blocked: no lock needed
        to allow them, only to stop them)."""
        kick.block()
        self._kickable = True

    def _unblock_kicks(self) -> None:
        """KICK_SIGNAL as the thread had it, and the outside SIGUSR1s taken
        meanwhile sent again: now its handler sees them."""
        foreign, self._foreign = self._foreign, 0
        if self._kick_was_blocked:
            if foreign:                  # this thread blocks it: another one takes it
                os.kill(os.getpid(), KICK_SIGNAL)
            return
        kick.unblock()
        kick.resend(foreign)

    def _kick(self) -> None:
        """Stop the thread running this vCPU, if it is in run() and not the
        caller; otherwise the flag the caller set is seen before KVM_RUN."""
        with self.space.lock:
            if self._kickable and self._runner != threading.get_ident():
                kick.send(self._runner)
                self._signalled = True

    def _enter(self) -> None:
        """Into the guest: with the address space's current map (a new CR3
        root after any change, which flushes the TLB)."""
        if self.space.enter(self):
            self._root = self.space.tables.other_root(self._root)
            self.regs.write("cr3", self._root)

    def _requested(self) -> Stop | None:
        """What another thread asked for: Interrupted (gdb), Woken (a
        signal, a timer), or an outside SIGUSR1 to hand on (Woken)."""
        if self._interrupted:
            self._interrupted = False
            return Interrupted(self.regs.read(self.spec.pc))
        if self._woken or self._foreign:
            self._woken = False
            return Woken()
        return None

    def _loop(self, stepping: bool = False) -> Stop | None:
        """KVM_RUN and serve exits until a Stop; stepping: None once one
        guest instruction has run (a system call counts as one)."""
        mode, regs, space = self.mode, self.regs, self.space
        while True:
            stop = self._requested()
            if stop is not None:
                return stop
            self._enter()
            try:
                regs.sync(entering=True)
                try:
                    page = self.vcpu.run(interruptible=True)
                except OSError as error:
                    if error.errno != errno.EFAULT:
                        raise
                    regs.exited()
                    stop = self._past_file_end()
                    if stop is None:
                        raise
                    return stop
                regs.exited()
            finally:
                space.left(self)
            if page is None:      # a signal: a kick (a request, a shootdown), or the host's
                with space.lock:
                    self._signalled = False
                self._foreign += kick.take()
                continue
            kind = classify_exit(decode_exit(page), mode)
            self.exit_counts[exit_reason(kind)] += 1
            if self.exit_trace is not None:
                self.exit_trace(self._exit_text(kind))
            if kind is SYSCALL_EXIT:
                stop, registers_set = self._serve_syscall()
                if self._syscall_stays_in_user is None:
                    self._syscall_stays_in_user = regs.system().cs.selector & 3 == 3
                if self._syscall_stays_in_user and not registers_set:
                    # the call is complete either way, so a Stop can be resumed
                    mode.return_to_user(regs.general())
                    regs.regs_dirty = True
                if stop is not None:
                    return stop
                if stepping:
                    return None
                continue
            if isinstance(kind, DebugTrap):
                if stepping and self.memory.region_at(kind.pc):
                    return None
                continue                   # a step into xemu's stubs: go on
            if isinstance(kind, Unexpected):
                return Fault(signal.SIGSEGV, regs.read(self.spec.pc), None, "",
                             f"the guest broke its machine (KVM exit: {kind.name})")
            vector = kind.vector
            if vector == mode.PAGE_FAULT and self._generation != space.generation:
                # The map changed while this vCPU ran: the fault may have met
                # a translation the change made stale (as Linux's spurious
                # faults). The instruction runs again, under the new map.
                _, rip = mode.fault_frame(self.cpu_page, vector)
                self._unwind(rip)
                continue
            if vector == mode.DEBUG and stepping:      # the step's #DB reached the guest
                _, rip = mode.fault_frame(self.cpu_page, vector)
                self._unwind(rip)
                return None
            if vector == mode.BREAKPOINT and self._breakpoints:
                stop = self._breakpoint_trap()
                if stop is not None:
                    return stop
            if vector == mode.PAGE_FAULT and self._watches:
                watched = self._watch_trap(stepping)
                if watched is True:
                    continue
                if watched is not False:
                    return watched
            if vector != mode.INVALID_OPCODE or not self._at_syscall_instruction():
                return self._fault(vector)
            stop, registers_set = self._serve_syscall()     # a syscall that raised #UD
            if registers_set:            # leave the #UD frame for the state set
                general = regs.general()
                rip, rsp, rflags = general.rip, general.rsp, general.rflags
                self._unwind(rip)
                general.rsp, general.rflags = rsp, rflags
            else:
                mode.skip_syscall_instruction(self.cpu_page, regs.general())
            regs.regs_dirty = True
            if stop is not None:
                return stop
            if stepping:
                return None

    # -- debugging (the GDB stub) -------------------------------------------
    # Breakpoints are int3 bytes, watchpoints page protection in xemu's own
    # page tables: both arrive at xemu's exception stubs like any fault, and
    # xemu unwinds the exception frame itself. A single step is KVM's
    # (KVM_SET_GUEST_DEBUG); its #DB ends it as a KVM exit or, where the host
    # delivers it to the guest, at xemu's #DB stub. (Under the nested
    # hypervisor xemu is built on, KVM's #BP exits and debug registers never
    # fire, and its single step reaches the guest's IDT.)

    def _continue(self, timeout: float | None) -> Stop:
        with self._running():
            return self._loop()

    def interrupt(self) -> None:
        """From another thread: stop the running guest (it returns
        Interrupted; at once from its next run() if it is not running)."""
        self._interrupted = True
        self._kick()

    def serve_in_machine(self, calls) -> None:
        """Every call exits to the dispatcher: a call served in the guest
        would need code in its kernel area, and the exit is the cost."""

    @property
    def in_machine(self) -> dict:
        return {}

    def twin(self) -> KvmAccelerator:
        """A CPU for another thread of the same program: a vCPU in this
        one's VM, with a copy of these registers."""
        other = KvmAccelerator(self.spec, self.memory, space=self.space)
        other.regs.restore(self.regs.save())
        other.exit_trace = self.exit_trace
        return other

    def _exit_text(self, kind: object) -> str:
        """One exit in words, for --trace-exits: the call, the exception, or
        what the guest broke."""
        if kind is SYSCALL_EXIT:
            number = self.regs.read(self.spec.linux.syscall.number)
            return f"syscall {self.spec.syscall_names.get(number, f'#{number}')}"
        if isinstance(kind, GuestException):
            return f"exception {kind.vector} at {self.regs.read(self.spec.pc):#x}"
        return exit_reason(kind)

    def wake(self) -> None:
        """A host signal or a timer needs the OS loop: end the run with
        Woken, from any thread. A flag does it, seen before the vCPU next
        enters the guest, and a kick ends the KVM_RUN of the thread running
        it now (kick.py). That KICK_SIGNAL is taken back by the vCPU's
        thread and never reaches a handler, so the signal watcher has
        nothing to tell apart from a guest's SIGUSR1."""
        self._woken = True
        self._kick()

    def forget_code(self, start: int, end: int) -> None:
        """The CPU runs the guest's bytes themselves: nothing to forget."""

    def step(self) -> Stop | None:
        """One instruction under KVM's single step; None when it simply ran.
        A breakpoint at pc is lifted for it."""
        pc = self.regs.read(self.spec.pc)
        original = self._breakpoints.get(pc)
        if original is not None:
            self.memory.write(pc, original)
        self.regs.sync()          # KVM sets TF only while rip is where the step began
        self.vcpu.set_guest_debug(KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP)
        try:
            with self._running():
                return self._loop(stepping=True)
        finally:
            self.vcpu.set_guest_debug(0)
            if original is not None and pc in self._breakpoints:
                self.memory.write(pc, INT3)

    def set_breakpoint(self, address: int) -> bool:
        if address not in self._breakpoints:
            try:
                self._breakpoints[address] = self.memory.read(address, 1)
            except GuestMemoryError:
                return False
            self.memory.write(address, INT3)
        return True

    def clear_breakpoint(self, address: int) -> None:
        original = self._breakpoints.pop(address, None)
        if original is not None:
            self.memory.write(address, original)

    def read_memory(self, address: int, size: int) -> bytes:
        """Guest memory as the program has it: breakpoints' int3 hidden."""
        data = bytearray(self.memory.read(address, size))
        for at, original in self._breakpoints.items():
            if address <= at < address + size:
                data[at - address] = original[0]
        return bytes(data)

    def write_memory(self, address: int, data: bytes) -> None:
        """A debugger's write: where a breakpoint's int3 sits, the write
        goes to the byte it hides, and the int3 stays."""
        self.memory.write(address, data)
        for at in self._breakpoints:
            if address <= at < address + len(data):
                self._breakpoints[at] = data[at - address:at - address + 1]
                self.memory.write(at, INT3)

    def _protect_watched_pages(self, watched: bool) -> None:
        """A write watch makes its page read-only, a read or access watch
        makes it absent, in the guest's page tables."""
        for page, taken in watched_pages(self._watches).items():
            region = self.memory.region_at(page)
            if region is not None:
                self.space.set_page_rights(page, region.perms & ~taken if watched else None)

    def _unwind(self, rip: int) -> None:
        self.mode.return_from_exception(self.cpu_page, self.regs.general(),
                                        self.regs.system(), rip)
        self.regs.regs_dirty = self.regs.sregs_dirty = True

    def _breakpoint_trap(self) -> Stop | None:
        """An int3 of ours: back to user mode at its address."""
        _, rip = self.mode.fault_frame(self.cpu_page, self.mode.BREAKPOINT)
        if rip - 1 not in self._breakpoints:
            return None                                # the guest's own int3
        self._unwind(rip - 1)
        return Breakpoint(rip - 1)

    def _watch_trap(self, stepping: bool) -> Stop | None | bool:
        """A page fault on a watched page: False if it is a real fault; else
        the Watchpoint it hits (reported after the access, as x86's debug
        registers do), a Stop met while stepping the access, or None."""
        error, rip = self.mode.fault_frame(self.cpu_page, self.mode.PAGE_FAULT)
        address = self.regs.read("cr2")
        kind = "execute" if error & 0x10 else "write" if error & 0x2 else "read"
        region = self.memory.region_at(address)
        needed = {"execute": PROT_EXEC, "write": PROT_WRITE, "read": PROT_READ}[kind]
        if region is None or not region.perms & needed \
                or page_down(address) not in watched_pages(self._watches):
            return False
        self._unwind(rip)
        hit = next((Watchpoint(0, address, access) for access, start, length in self._watches
                    if access in (kind, "access") and start <= address < start + length),
                   None)
        self._protect_watched_pages(False)
        try:
            stop = self.step()
        finally:
            self._protect_watched_pages(True)
        if stop is not None:
            return stop
        if hit is not None:
            return dataclasses.replace(hit, pc=self.regs.read(self.spec.pc))
        return None if stepping else True

    def _serve_syscall(self) -> tuple[Stop | None, bool]:
        """Serve the call in the registers: (None to resume, or the Stop;
        whether the handler set the registers itself, as sigreturn does)."""
        general = self.regs.general()
        mask = self._mask
        number, *args = self._syscall_args(general)
        # While the call is served (it may wait: a read, a futex), no kick
        # comes and KICK_SIGNAL is the thread's own again (an outside
        # SIGUSR1 reaches the guest meanwhile); the regions it removes go
        # when it returns (space.py), then the other vCPUs are shot down.
        self._stop_kicks()
        self._unblock_kicks()
        space = self.space
        outer = space.batch()
        try:
            result = self.syscall_handler(number & mask, tuple(a & mask for a in args))
        finally:
            try:
                space.end_batch(outer)
            finally:
                self._allow_kicks()
        if not isinstance(result, int):
            if result is REGISTERS_SET:
                return None, True
            return result, False
        setattr(general, self._result_field, result & mask)
        self.regs.regs_dirty = True
        return None, False

    def set_syscall_result(self, result: int) -> None:
        """Write a system call's result as the arch returns it (after a Stop
        that the OS loop served, as fork does)."""
        self.regs.write(self.spec.linux.syscall.result, result & self._mask)

    def _at_syscall_instruction(self) -> bool:
        """Is the instruction that raised #UD the arch's syscall instruction?"""
        _, pc = self.mode.fault_frame(self.cpu_page, self.mode.INVALID_OPCODE)
        instruction = self.mode.SYSCALL_INSTRUCTION
        # as the vCPU fetched it (another thread may be changing the Memory)
        return self.space.read_user(pc, len(instruction)) == instruction

    def _past_file_end(self) -> Fault | None:
        """KVM_RUN failed with EFAULT, naming no address: the guest touched
        a page of a shared file mapping past its file's end, which KVM could
        not fault in. The instruction's memory operands say which page: it
        becomes a private zero page (so the access, run again after a
        handler, reads zeros), and the guest gets SIGBUS, BUS_ADRERR at the
        address. None if no such page is there (another EFAULT)."""
        pc = self.regs.read(self.spec.pc)
        region = self.memory.region_at(pc)
        code = self.memory.read(pc, min(16, region.end - pc)) if region is not None else b""
        touched = [address for address in memory_operands(code, pc, self.spec.bits,
                                                           self.regs.read)
                   if self.memory.past_file_end(address)]
        # operands it could not work out: the first such page of any mapping
        candidates = touched or self.memory.pages_past_file_end()
        if not candidates:
            return None
        self.memory.zero_host_page(page_down(candidates[0]))
        return Fault(signal.SIGBUS, pc, candidates[0], "", "past the end of its file",
                     code=BUS_ADRERR)

    def _fault(self, vector: int) -> Fault:
        """The Fault, with the vCPU back in the user's state at the faulting
        instruction (a guest handler gets that context in its frame)."""
        error, pc = self.mode.fault_frame(self.cpu_page, vector)
        self._unwind(pc)
        sig = self.spec.linux.exception_signals.get(vector, signal.SIGSEGV)
        if vector == 14:                               # page fault
            address = self.regs.read("cr2")
            access = "execute" if error & 0x10 else "write" if error & 0x2 else "read"
            return Fault(sig, pc, address, access,
                         "protection" if error & 1 else "unmapped")
        return cpu_exception(sig, pc, vector)

    def close(self) -> None:
        """This vCPU's thread has ended (call it from that thread, or once
        the vCPU no longer runs): the vCPU goes back to the address space
        for a new thread, and the address space closes with its last vCPU.
        (In a forked child, the parent's VM closes at once.)"""
        if self._closed:
            return
        self._closed = True
        self.space.remove_vcpu(self)


def initial_xsave() -> structs.kvm_xsave:
    """The x87, SSE and AVX state of a new process (FNINIT's control word,
    MXCSR's default, every register zero), for a vCPU used before."""
    xsave = structs.kvm_xsave()
    area = memoryview(xsave).cast("B")
    area[0:2] = FPU_CONTROL_DEFAULT.to_bytes(2, "little")
    area[24:28] = MXCSR_DEFAULT.to_bytes(4, "little")
    area[KvmRegisters.XSTATE_BV:KvmRegisters.XSTATE_BV + 8] = \
        KvmRegisters.XSTATE_X87_SSE.to_bytes(8, "little")
    area.release()
    return xsave
