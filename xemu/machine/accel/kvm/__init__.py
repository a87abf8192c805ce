"""The hardware accelerator: the guest's instructions run on the host CPU
through Linux KVM. Only guests of the host's own architecture can run here;
the CPU mode xemu builds for them is in x86/ (ArchSpec.kvm_mode names it).

A KvmAccelerator is one vCPU. Its address space (the VM, memory slots, page
tables and the kernel area, space.py) may be shared by several vCPUs, as a
process's threads share memory.
"""
from __future__ import annotations

import dataclasses
import operator
import signal
import threading
from collections import Counter

from ....archs.base import PAGE, ArchSpec
from ....errors import GuestMemoryError
from ...memory import PROT_EXEC, PROT_READ, PROT_WRITE, Memory, page_down
from ..base import (REGISTERS_SET, Breakpoint, Exit, Fault, Interrupted, Stop,
                    SyscallHandler, Watchpoint, Woken, cpu_exception)
from ..debugging import Debugging, watched_pages
from . import structs
from .exits import (SYSCALL_EXIT, DebugTrap, GuestException, Unexpected, classify_exit,
                    decode_exit, exit_reason)
from .ioctl import KVM_GUESTDBG_ENABLE, KVM_GUESTDBG_SINGLESTEP
from .registers import KvmRegisters
from .space import KvmAddressSpace

from .x86 import mode_for

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
    for start, size in spec.linux.reserved:
        memory.map(start, size, PROT_READ | PROT_WRITE)
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

    def __init__(self, spec: ArchSpec, memory: Memory, space: KvmAddressSpace | None = None):
        """space: the address space to join (another thread's); by default
        a new VM over memory."""
        self.mode = mode_for(spec)
        if self.mode is None:
            raise RuntimeError(f"no KVM set-up for {spec.name}")
        self.spec = spec
        self.memory = memory
        self.space = space or KvmAddressSpace(self.mode, memory)
        self.kernel = self.space.kernel
        self.vcpu = self.space.vm.create_vcpu(len(self.space.vcpus))
        self.space.vcpus.append(self)
        self.regs = KvmRegisters(self.vcpu)
        self.syscall_handler: SyscallHandler | None = None
        self._mask = (1 << spec.bits) - 1
        self._generation = -1                # the address space's, as this vCPU saw it
        self._syscall_stays_in_user: bool | None = None   # learnt at the first call
        self.exit_counts: Counter[str] = Counter()         # VM exits by reason (--stats)
        self._thread = threading.get_ident()                # the one that runs the vCPU
        self._interrupted = self._woken = False   # interrupt() (gdb), wake() (signals)
        self._breakpoints: dict[int, bytes] = {}           # address -> the byte int3 hides
        self._watches: list[tuple[str, int, int]] = []     # (access, address, length)
        self._set_up_cpu()
        abi = spec.linux.syscall
        alias = KvmRegisters.ALIASES
        self._syscall_args = operator.attrgetter(
            *(alias.get(name, name) for name in (abi.number, *abi.args)))
        self._result_field = alias.get(abi.result, abi.result)

    def _set_up_cpu(self) -> None:
        kvm = self.space.kvm
        cpuid = kvm.supported_cpuid()
        self.vcpu.set_cpuid(cpuid)
        entries = {(e.function, e.index): e for e in cpuid.entries[:cpuid.nent]}
        leaf1 = entries.get((1, 0))
        xsave = bool(leaf1 and leaf1.ecx & CPUID_XSAVE)
        sregs = self.vcpu.get_sregs(structs.kvm_sregs())
        self.mode.initial_sregs(sregs, self.space.tables.root, xsave)
        self.vcpu.set_sregs(sregs)
        if xsave:
            supported = entries[(0xD, 0)].eax if (0xD, 0) in entries else XCR0_X87 | XCR0_SSE
            self.vcpu.set_xcr0(supported & (XCR0_X87 | XCR0_SSE | XCR0_AVX))
        self.vcpu.set_msrs(self.mode.syscall_msrs())
        fpu = self.vcpu.get_fpu(structs.kvm_fpu())
        fpu.fcw, fpu.mxcsr = FPU_CONTROL_DEFAULT, MXCSR_DEFAULT
        self.vcpu.set_fpu(fpu)
        self.regs.reset()

    # -- running ----------------------------------------------------------

    def run(self, timeout: float | None = None) -> Stop:
        """Run from the current registers until the guest exits or faults.
        (A timeout arrives as SIGALRM, which interrupts KVM_RUN.)"""
        return self._loop()

    def _loop(self, stepping: bool = False) -> Stop | None:
        """KVM_RUN and serve exits until a Stop; stepping: None once one
        guest instruction has run (a system call counts as one)."""
        mode, regs, space = self.mode, self.regs, self.space
        while True:
            if space.rights_taken:
                space.reload_page_tables()
            if self._generation != space.generation:       # the map changed: new CR3
                regs.write("cr3", space.tables.switch_root())
                self._generation = space.generation
            regs.sync()
            page = None if self.vcpu.kicked else self.vcpu.run()
            if page is None:                   # interrupt() from a debugger, or wake()
                self.vcpu.kicked = False
                if self._interrupted or not self._woken:
                    self._interrupted = False
                    return Interrupted(regs.read(self.spec.pc))
                self._woken = False
                return Woken()
            kind = classify_exit(decode_exit(page), mode)
            self.exit_counts[exit_reason(kind)] += 1
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
            if vector == mode.DEBUG and stepping:      # the step's #DB reached the guest
                _, rip = mode.fault_frame(self.kernel, vector)
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
                mode.skip_syscall_instruction(self.kernel, regs.general())
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
        return self._loop()

    def interrupt(self) -> None:
        """From another thread: stop the running guest (it returns Interrupted)."""
        self._interrupted = True
        self.vcpu.kick(self._thread)

    def wake(self) -> bool:
        """A host signal or a timer needs the OS loop: end the run with
        Woken. In the vCPU's own thread (a signal handler, while KVM_RUN
        returned EINTR) a flag does it; from another thread KICK_SIGNAL
        interrupts KVM_RUN. Returns whether KICK_SIGNAL was sent."""
        self._woken = True
        if threading.get_ident() == self._thread:
            self.vcpu.kicked = True
            return False
        self.vcpu.kick(self._thread)
        return True

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
        self.mode.return_from_exception(self.kernel, self.regs.general(),
                                        self.regs.system(), rip)
        self.regs.regs_dirty = self.regs.sregs_dirty = True

    def _breakpoint_trap(self) -> Stop | None:
        """An int3 of ours: back to user mode at its address."""
        _, rip = self.mode.fault_frame(self.kernel, self.mode.BREAKPOINT)
        if rip - 1 not in self._breakpoints:
            return None                                # the guest's own int3
        self._unwind(rip - 1)
        return Breakpoint(rip - 1)

    def _watch_trap(self, stepping: bool) -> Stop | None | bool:
        """A page fault on a watched page: False if it is a real fault; else
        the Watchpoint it hits (reported after the access, as x86's debug
        registers do), a Stop met while stepping the access, or None."""
        error, rip = self.mode.fault_frame(self.kernel, self.mode.PAGE_FAULT)
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
        result = self.syscall_handler(number & mask, tuple(a & mask for a in args))
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
        _, pc = self.mode.fault_frame(self.kernel, self.mode.INVALID_OPCODE)
        instruction = self.mode.SYSCALL_INSTRUCTION
        region = self.memory.region_at(pc)
        return region is not None and pc + len(instruction) <= region.end \
            and self.memory.read(pc, len(instruction)) == instruction

    def _fault(self, vector: int) -> Fault:
        """The Fault, with the vCPU back in the user's state at the faulting
        instruction (a guest handler gets that context in its frame)."""
        error, pc = self.mode.fault_frame(self.kernel, vector)
        self._unwind(pc)
        sig = self.spec.linux.exception_signals.get(vector, signal.SIGSEGV)
        if vector == 14:                               # page fault
            address = self.regs.read("cr2")
            access = "execute" if error & 0x10 else "write" if error & 0x2 else "read"
            return Fault(sig, pc, address, access,
                         "protection" if error & 1 else "unmapped")
        return cpu_exception(sig, pc, vector)

    def close(self) -> None:
        """This vCPU ends; the address space with its last vCPU."""
        self.vcpu.close()
        self.space.vcpus.remove(self)
        if not self.space.vcpus:
            self.space.close()
