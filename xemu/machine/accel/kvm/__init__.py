"""The hardware accelerator: the guest's instructions run on the host CPU
through Linux KVM. Only guests of the host's own architecture can run here;
the arch package supplies the CPU mode set-up (xemu/archs/<arch>/kvm.py).

Guest memory is the same host buffers the translator would use: each
region becomes a KVM memory slot at a guest-physical address xemu picks,
and xemu's page tables map the guest's virtual layout onto those slots.
"""
from __future__ import annotations

import dataclasses
import importlib
import mmap
import operator
import signal
import threading
from collections import Counter

from ....archs.base import ArchSpec
from ....errors import GuestMemoryError
from ...memory import (PROT_EXEC, PROT_READ, PROT_WRITE, Memory, Region, buffer_address,
                       page_down)
from ..debugging import Debugging, watched_pages
from ..base import (Breakpoint, Exit, Fault, Interrupted, Stop, SyscallHandler, Watchpoint,
                    cpu_exception)
from . import structs
from .exits import DebugTrap, PortIO, decode_exit
from .ioctl import KVM_CAP_NR_MEMSLOTS, KVM_GUESTDBG_ENABLE, KVM_GUESTDBG_SINGLESTEP
from .paging import NO_EXECUTE, USER, WRITABLE, PageTables
from .vm import Kvm

PAGE = 0x1000
INT3 = b"\xcc"
XCR0_X87, XCR0_SSE, XCR0_AVX = 1, 2, 4
CPUID_XSAVE = 1 << 26          # leaf 1, ecx
FPU_CONTROL_DEFAULT, MXCSR_DEFAULT = 0x37F, 0x1F80


def exit_reason(exit, mode) -> str:
    """A VM exit as --stats names it: what the guest needed xemu for."""
    if isinstance(exit, PortIO):
        if exit.port == mode.SYSCALL_PORT:
            return "syscall"
        return f"exception {exit.port - mode.EXCEPTION_PORT}"
    return type(exit).__name__.lower()


def page_flags(perms: int) -> int:
    """Page-table flags for user memory with these PROT_* rights."""
    return USER | (WRITABLE if perms & PROT_WRITE else 0) \
        | (0 if perms & PROT_EXEC else NO_EXECUTE)


def mode_for(spec: ArchSpec):
    """The arch's KVM machine set-up (archs/<arch>/kvm.py MODE), or None."""
    try:
        return importlib.import_module(f"xemu.archs.{spec.name}.kvm").MODE
    except ModuleNotFoundError:
        return None


PROBE_CODE, PROBE_STACK = 0x400000, 0x500000


def self_test(spec: ArchSpec) -> tuple[bool, str]:
    """Run an SSE instruction and the syscall instruction in user mode in a
    scratch VM: (works, why not). Some hosts' KVM cannot run every mode
    (under the nested hypervisor here, 32-bit compatibility mode raises #UD
    for SSE), and a guest should be translated rather than crash there."""
    mode = mode_for(spec)
    memory = Memory()
    memory.map(PROBE_CODE, PAGE, PROT_READ | PROT_EXEC)
    memory.map(PROBE_STACK, PAGE, PROT_READ | PROT_WRITE)
    for start, size in spec.reserved:
        memory.map(start, size, PROT_READ | PROT_WRITE)
    memory.write(PROBE_CODE, mode.SSE_INSTRUCTION + mode.SYSCALL_INSTRUCTION)
    accel = KvmAccelerator(spec, memory)
    try:
        accel.regs.write(spec.sp, PROBE_STACK + PAGE // 2)
        accel.syscall_handler = lambda number, args: Exit(0)
        stop = accel.run(PROBE_CODE)
    finally:
        accel.close()
    if isinstance(stop, Exit):
        return True, ""
    what = "an SSE instruction" if stop.pc == PROBE_CODE else "the syscall instruction"
    return False, (f"this host's KVM failed a self-test in {spec.name}'s CPU mode: "
                   f"{stop.reason} on {what}")


class PhysicalSpace:
    """Guest-physical address ranges for memory slots: first fit, reused."""

    def __init__(self, start: int, limit: int):
        self._free = [(start, limit - start)]

    def allocate(self, size: int) -> int:
        for i, (start, length) in enumerate(self._free):
            if length >= size:
                self._free[i] = (start + size, length - size)
                return start
        raise MemoryError("guest-physical space exhausted")

    def release(self, start: int, size: int) -> None:
        self._free.append((start, size))
        self._free.sort()
        merged = [self._free[0]]
        for s, n in self._free[1:]:
            last_start, last_size = merged[-1]
            if last_start + last_size == s:
                merged[-1] = (last_start, last_size + n)
            else:
                merged.append((s, n))
        self._free = merged


class MemorySlots:
    """KVM's memory slots: numbers handed out and taken back."""

    def __init__(self, vm, kvm: Kvm):
        self.vm = vm
        self._free = list(range(kvm.check_extension(KVM_CAP_NR_MEMSLOTS) or 32))[::-1]

    def add(self, guest_physical: int, size: int, host_address: int) -> int:
        if not self._free:
            raise MemoryError("out of KVM memory slots")
        slot = self._free.pop()
        self.vm.set_memory(slot, guest_physical, size, host_address)
        return slot

    def remove(self, slot: int, guest_physical: int) -> None:
        self.vm.set_memory(slot, guest_physical, 0, 0)
        self._free.append(slot)


class KvmRegisters:
    """Registers by name, cached between exits: one KVM_GET_REGS when first
    read after an exit, one KVM_SET_REGS before the next run if written."""

    GENERAL = {name for name, _ in structs.kvm_regs._fields_}
    # i386 names: under KVM they are the low halves of the same registers
    ALIASES = {"eax": "rax", "ebx": "rbx", "ecx": "rcx", "edx": "rdx", "esi": "rsi",
               "edi": "rdi", "ebp": "rbp", "esp": "rsp", "eip": "rip", "eflags": "rflags"}
    SEGMENT_BASES = {"fs_base": "fs", "gs_base": "gs"}
    SEGMENTS = {"cs", "ss", "ds", "es", "fs", "gs"}     # selectors, read only
    SYSTEM = {"cr0", "cr2", "cr3", "cr4", "efer"}
    FPU = {"fpcw": "fcw", "fpsw": "fsw", "mxcsr": "mxcsr", "fop": "last_opcode"}

    def __init__(self, vcpu):
        self.vcpu = vcpu
        self.regs = structs.kvm_regs()
        self.sregs = structs.kvm_sregs()
        self._have_regs = self._have_sregs = False
        self.regs_dirty = self.sregs_dirty = False
        self._fpu: structs.kvm_fpu | None = None    # read only for a debugger

    def general(self) -> structs.kvm_regs:
        if not self._have_regs:
            self.vcpu.get_regs(self.regs)
            self._have_regs = True
        return self.regs

    def system(self) -> structs.kvm_sregs:
        if not self._have_sregs:
            self.vcpu.get_sregs(self.sregs)
            self._have_sregs = True
        return self.sregs

    def read(self, name: str) -> int:
        name = self.ALIASES.get(name, name)
        if name in self.GENERAL:
            return getattr(self.general(), name)
        if name in self.SEGMENT_BASES:
            return getattr(self.system(), self.SEGMENT_BASES[name]).base
        if name in self.SYSTEM:
            return getattr(self.system(), name)
        if name in self.SEGMENTS:
            return getattr(self.system(), name).selector
        return self._read_fpu(name)

    def _read_fpu(self, name: str):
        """x87 and SSE state (KVM_GET_FPU), as Unicorn gives it: fpN as
        (mantissa, exponent), xmmN as one integer."""
        if self._fpu is None:
            self._fpu = self.vcpu.get_fpu(structs.kvm_fpu())
        fpu = self._fpu
        if name in self.FPU:
            return getattr(fpu, self.FPU[name])
        bank = name.rstrip("0123456789")
        index = int(name[len(bank):]) if name[len(bank):] else -1
        if bank == "xmm" and 0 <= index < 16:
            return int.from_bytes(bytes(fpu.xmm[16 * index:16 * index + 16]), "little")
        if bank == "fp" and 0 <= index < 8:
            raw = bytes(fpu.fpr[16 * index:16 * index + 10])     # 80 bits in a 16-byte slot
            return int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:], "little")
        raise KeyError(f"no register named {name!r}")

    def write(self, name: str, value: int) -> None:
        name = self.ALIASES.get(name, name)
        if name in self.GENERAL:
            setattr(self.general(), name, value)
            self.regs_dirty = True
        elif name in self.SEGMENT_BASES:
            getattr(self.system(), self.SEGMENT_BASES[name]).base = value
            self.sregs_dirty = True
        elif name in self.SYSTEM:
            setattr(self.system(), name, value)
            self.sregs_dirty = True
        else:
            raise KeyError(f"no register named {name!r}")

    def reset(self) -> None:
        """Every general register zero (as Linux starts a process; KVM's reset
        leaves the CPU signature in RDX, which the x86-64 ABI reads at _start
        as a function to register with atexit), to be handed to KVM."""
        self.regs = structs.kvm_regs(rflags=0x2)
        self._have_regs = self.regs_dirty = True

    def sync(self) -> None:
        """Hand written registers to KVM, and forget the cache."""
        if self.regs_dirty:
            self.vcpu.set_regs(self.regs)
        if self.sregs_dirty:
            self.vcpu.set_sregs(self.sregs)
        self.regs_dirty = self.sregs_dirty = False
        self._have_regs = self._have_sregs = False
        self._fpu = None


class KvmAccelerator(Debugging):
    name = "kvm"

    def __init__(self, spec: ArchSpec, memory: Memory, kvm: Kvm | None = None):
        self.mode = mode_for(spec)
        if self.mode is None:
            raise RuntimeError(f"no KVM set-up for {spec.name}")
        self.spec = spec
        self.memory = memory
        self.kvm = kvm or Kvm()
        self.vm = self.kvm.create_vm()
        self.vcpu = self.vm.create_vcpu(0)
        self.regs = KvmRegisters(self.vcpu)
        self.syscall_handler: SyscallHandler | None = None
        self._mask = (1 << spec.bits) - 1
        self._slots: dict[Region, tuple[int, int]] = {}
        self.memory_slots = MemorySlots(self.vm, self.kvm)
        self._flush_tlb = False
        self._rights_taken = False        # a watched page lost rights: KVM must re-read
        self._syscall_stays_in_user: bool | None = None   # learnt at the first call
        self.exit_counts: Counter[str] = Counter()         # VM exits by reason (--stats)
        self._thread = threading.get_ident()                # the one that runs the vCPU
        self._breakpoints: dict[int, bytes] = {}           # address -> the byte int3 hides
        self._watches: list[tuple[str, int, int]] = []     # (access, address, length)
        self._build_kernel()
        self.physical = PhysicalSpace(self.mode.KERNEL_SIZE, self.mode.PHYSICAL_LIMIT)
        for region in memory.regions():
            self.region_added(region)
        memory.listeners.append(self)
        for address, data in self.mode.guest_tables().items():
            memory.write(address, data)
        self._set_up_cpu()
        abi = spec.syscall
        alias = KvmRegisters.ALIASES
        self._syscall_args = operator.attrgetter(
            *(alias.get(name, name) for name in (abi.number, *abi.args)))
        self._result_field = alias.get(abi.result, abi.result)

    # -- the kernel area: page tables, descriptor tables, stubs -----------

    def _build_kernel(self) -> None:
        mode = self.mode
        self.kernel_buffer = mmap.mmap(-1, mode.KERNEL_SIZE)
        self.kernel = memoryview(self.kernel_buffer)
        for offset, data in mode.kernel_image().items():
            self.kernel[offset:offset + len(data)] = data
        self._kernel_slot = self.memory_slots.add(0, mode.KERNEL_SIZE,
                                                  buffer_address(self.kernel_buffer))
        self.tables = PageTables(self.kernel[mode.PAGE_TABLES_OFFSET:],
                                 mode.PAGE_TABLES_OFFSET, mode.PAGING_LEVELS)
        user = set(mode.user_pages())
        for page in range(mode.FIXED_PAGES):       # supervisor only, but the stubs
            offset = page * PAGE
            self.tables.map(mode.virtual(offset), offset,
                            USER if offset in user else WRITABLE)

    def _set_up_cpu(self) -> None:
        cpuid = self.kvm.supported_cpuid()
        self.vcpu.set_cpuid(cpuid)
        entries = {(e.function, e.index): e for e in cpuid.entries[:cpuid.nent]}
        leaf1 = entries.get((1, 0))
        xsave = bool(leaf1 and leaf1.ecx & CPUID_XSAVE)
        sregs = self.vcpu.get_sregs(structs.kvm_sregs())
        self.mode.initial_sregs(sregs, self.tables.root, xsave)
        self.vcpu.set_sregs(sregs)
        if xsave:
            supported = entries[(0xD, 0)].eax if (0xD, 0) in entries else XCR0_X87 | XCR0_SSE
            self.vcpu.set_xcr0(supported & (XCR0_X87 | XCR0_SSE | XCR0_AVX))
        self.vcpu.set_msrs(self.mode.syscall_msrs())
        fpu = self.vcpu.get_fpu(structs.kvm_fpu())
        fpu.fcw, fpu.mxcsr = FPU_CONTROL_DEFAULT, MXCSR_DEFAULT
        self.vcpu.set_fpu(fpu)
        self.regs.reset()

    # -- memory listener: slots and page tables follow guest memory -------

    def region_added(self, region: Region) -> None:
        physical = self.physical.allocate(region.size)
        slot = self.memory_slots.add(physical, region.size, region.host_address)
        self._slots[region] = (slot, physical)
        if region.perms:
            flags = page_flags(region.perms)
            for offset in range(0, region.size, PAGE):
                self.tables.map(region.start + offset, physical + offset, flags)
        if self._watches:
            self._protect_watched_pages(True)
        self._flush_tlb = True

    def region_removed(self, region: Region) -> None:
        slot, physical = self._slots.pop(region)
        for offset in range(0, region.size, PAGE):
            self.tables.unmap(region.start + offset)
        self.memory_slots.remove(slot, physical)
        self.physical.release(physical, region.size)
        self._flush_tlb = True

    def _reload_page_tables(self) -> None:
        """Make KVM re-read the page tables after a watched page lost rights
        in place. A new CR3 is enough where KVM walks them in hardware (NPT,
        EPT); with shadow paging (as under this project's nested host) KVM
        keeps its own copy, which xemu's writes from outside do not reach, so
        a page made read-only stayed writable. Re-registering the slot that
        holds the tables drops that copy. (Unmapping needs none of this:
        removing a region's own slot drops its entries.)"""
        self.memory_slots.vm.set_memory(self._kernel_slot, 0, 0, 0)
        self.memory_slots.vm.set_memory(self._kernel_slot, 0, self.mode.KERNEL_SIZE,
                                        buffer_address(self.kernel_buffer))
        self._rights_taken = False

    # -- running ----------------------------------------------------------

    def run(self, entry: int, timeout: float | None = None) -> Stop:
        """Run until the guest exits or faults. (A timeout arrives as SIGALRM,
        which interrupts KVM_RUN; see launch.alarm.)"""
        self.regs.write(self.spec.pc, entry)
        return self._loop()

    def _loop(self, stepping: bool = False) -> Stop | None:
        """KVM_RUN and serve exits until a Stop; stepping: None once one
        guest instruction has run (a system call counts as one)."""
        mode, regs = self.mode, self.regs
        while True:
            if self._rights_taken:
                self._reload_page_tables()
            if self._flush_tlb:
                regs.write("cr3", self.tables.switch_root())
                self._flush_tlb = False
            regs.sync()
            page = None if self.vcpu.kicked else self.vcpu.run()
            if page is None:                   # interrupt() from a debugger
                self.vcpu.kicked = False
                return Interrupted(regs.read(self.spec.pc))
            exit = decode_exit(page)
            self.exit_counts[exit_reason(exit, mode)] += 1
            if isinstance(exit, DebugTrap):
                if stepping and self.memory.region_at(exit.pc):
                    return None
                continue                   # a step into xemu's stubs: go on
            if not isinstance(exit, PortIO):
                raise RuntimeError(f"unexpected KVM exit {exit!r}")
            if exit.port == mode.SYSCALL_PORT:
                stop = self._serve_syscall()
                if stop is not None:
                    return stop
                if self._syscall_stays_in_user is None:
                    self._syscall_stays_in_user = regs.system().cs.selector & 3 == 3
                if self._syscall_stays_in_user:
                    mode.return_to_user(regs.general())
                if stepping:
                    return None
                continue
            vector = exit.port - mode.EXCEPTION_PORT
            if not 0 <= vector < mode.EXCEPTIONS:
                raise RuntimeError(f"guest used I/O port {exit.port:#x}")
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
            stop = self._serve_syscall()               # a syscall that raised #UD
            if stop is not None:
                return stop
            mode.skip_syscall_instruction(self.kernel, regs.general())
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
        self.vcpu.kick(self._thread)

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
            if region is None:
                continue
            physical = self._slots[region][1] + page - region.start
            flags = page_flags(region.perms & ~taken if watched else region.perms)
            if watched and taken & PROT_READ:
                self.tables.unmap(page)
            else:
                self.tables.map(page, physical, flags)
        self._flush_tlb = True
        self._rights_taken |= watched

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

    def _serve_syscall(self) -> Stop | None:
        """Serve the call in the registers; None to resume, or the Stop."""
        general = self.regs.general()
        mask = self._mask
        number, *args = self._syscall_args(general)
        result = self.syscall_handler(number & mask, tuple(a & mask for a in args))
        if not isinstance(result, int):
            return result
        setattr(general, self._result_field, result & mask)
        self.regs.regs_dirty = True
        return None

    def _at_syscall_instruction(self) -> bool:
        """Is the instruction that raised #UD the arch's syscall instruction?"""
        _, pc = self.mode.fault_frame(self.kernel, self.mode.INVALID_OPCODE)
        instruction = self.mode.SYSCALL_INSTRUCTION
        region = self.memory.region_at(pc)
        return region is not None and pc + len(instruction) <= region.end \
            and self.memory.read(pc, len(instruction)) == instruction

    def _fault(self, vector: int) -> Fault:
        error, pc = self.mode.fault_frame(self.kernel, vector)
        sig = self.spec.fault_interrupts.get(vector, signal.SIGSEGV)
        if vector == 14:                               # page fault
            address = self.regs.read("cr2")
            access = "execute" if error & 0x10 else "write" if error & 0x2 else "read"
            return Fault(sig, pc, address, access,
                         "protection" if error & 1 else "unmapped")
        return cpu_exception(sig, pc, vector)

    def close(self) -> None:
        self.vcpu.close()
        self.vm.close()
