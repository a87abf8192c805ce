"""One KVM virtual machine as an address space: its memory slots, the
guest-physical layout, the kernel area (page tables, descriptor tables,
exception and syscall stubs, a page per vCPU), and its vCPUs, which run a
process's threads at the same time in different host threads.

Guest memory is the same host buffers the translator would use: each region
becomes a KVM memory slot at a guest-physical address xemu picks, and
xemu's page tables map the guest's virtual layout onto those slots. A
change to the map bumps `generation`; each vCPU reloads CR3 (flushing its
TLB) before it next runs.

Several vCPUs (KvmAccelerators) share one space. Everything here that
changes (the tables, the slots, the guest-physical ranges, `generation`,
`rights_taken`, the vCPU lists) changes under `lock`, from whichever thread
makes the change (the Linux layer's memory calls reach region_added,
region_removed and set_page_rights as a Memory listener), and a vCPU takes
the same lock to enter the guest (`enter`) and to leave it (`left`), so
what it enters with is one consistent state. Between the two it is "in the
guest": its thread is in KVM_RUN, or about to be, or just out of it.

A change that takes something away (unmapping, fewer rights) is a TLB
shootdown, as a kernel does it: `generation` is bumped, every other vCPU in
the guest is kicked out of KVM_RUN (kick.py), and the change returns only
once each of them has left the guest; it reloads CR3 before its next guest
instruction, and a kicked vCPU just goes on. Adding a mapping needs no
kick: no CPU and no KVM keeps a translation for an address that had none.

Inside a system call served by one of these vCPUs (`batch`), the removal
of a region waits until the call returns, so that the pieces a partial
munmap or an mprotect puts back never go missing meanwhile: the pieces are
mapped over the old pages at once (each page-table entry changes in one
store, between two slots that hold the same host memory), and only the
pages no piece took are unmapped, with the old slot, when the call ends.
Another thread touching the pieces meanwhile never takes a false fault.

vCPUs of threads that ended are kept for new threads (KVM frees a vCPU only
with its VM, and a vCPU id is used once): their pages and ids are reused.
The last vCPU to leave closes the VM.
"""
from __future__ import annotations

import errno
import mmap
import os
import threading
import weakref

from ....archs.base import PAGE
from ...memory import PROT_EXEC, PROT_WRITE, Memory, Region, buffer_address
from .ioctl import KVM_CAP_NR_MEMSLOTS
from .paging import ADDRESS_MASK, NO_EXECUTE, USER, WRITABLE, PageTables
from .vm import Kvm, Vcpu

SHOOTDOWN_PATIENCE = 0.05      # seconds between kicks to a vCPU that has not left yet

_SPACES: weakref.WeakSet = weakref.WeakSet()      # every address space of this process


def _after_fork_in_child() -> None:
    """A host fork's child has copies of the parent's address spaces, which
    are not its own: see KvmAddressSpace.forked."""
    for space in list(_SPACES):
        space.forked()


os.register_at_fork(after_in_child=_after_fork_in_child)


class KernelAreaError(ValueError):
    """A guest region would overlap the kernel area (refused, never mapped)."""


def page_flags(perms: int) -> int:
    """Page-table flags for user memory with these PROT_* rights."""
    return USER | (WRITABLE if perms & PROT_WRITE else 0) \
        | (0 if perms & PROT_EXEC else NO_EXECUTE)


class PhysicalSpace:
    """Guest-physical address ranges for memory slots: first fit, reused.
    (Not locked itself: its address space calls it under its lock.)"""

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


class KvmAddressSpace:
    """A VM, its slots and page tables, following a Memory (as a listener),
    and the vCPUs that run in it."""

    def __init__(self, mode, memory: Memory, kvm: Kvm | None = None):
        self.mode = mode
        self.memory = memory
        self.kvm = kvm or Kvm()
        self._own_kvm = kvm is None       # /dev/kvm opened for it: closed with it
        self.pid = os.getpid()            # a forked child's copy is not its VM
        self.vm = self.kvm.create_vm()
        self.lock = threading.RLock()
        self._left = threading.Condition(self.lock)   # a vCPU left the guest
        self.cpuid = self.kvm.supported_cpuid()
        self.memory_slots = MemorySlots(self.vm, self.kvm)
        self._slots: dict[Region, tuple[int, int]] = {}
        self.generation = 0               # bumped when the map changes
        self.vcpus: list = []             # the KvmAccelerators running in it
        self._idle: list[Vcpu] = []       # vCPUs whose threads ended, for new ones
        self._made = 0                    # vCPU ids used so far
        self.rights_taken = False         # a page lost rights in place: KVM must re-read
        self._exclusive = None            # the vCPU reloading the tables, others kept out
        self._waiting = 0                 # threads waiting for vCPUs to leave (or it to end)
        self._local = threading.local()   # .removed: the regions a call removed so far
        self.closed = False
        self.copy = False                 # a forked child's copy of its parent's
        self._build_kernel()
        self.physical = PhysicalSpace(mode.KERNEL_SIZE, mode.PHYSICAL_LIMIT)
        for region in memory.regions():
            self.region_added(region)
        memory.listeners.append(self)
        for address, data in mode.guest_tables().items():
            memory.write(address, data)
        _SPACES.add(self)

    def forked(self) -> None:
        """In a host fork's child, which has only the forking thread: KVM
        refuses the parent's VM to another process, so this copy follows
        the memory no more (its changes are the child's new VM's to make)
        until its vCPU's close() closes every descriptor of it; its lock
        may have been held by a thread of the parent that is not here."""
        self.copy = True
        self.lock = threading.RLock()
        self._left = threading.Condition(self.lock)
        self._local = threading.local()

    def _build_kernel(self) -> None:
        mode = self.mode
        self.kernel_buffer = mmap.mmap(-1, mode.KERNEL_SIZE)
        self.kernel = memoryview(self.kernel_buffer)
        for offset, data in mode.kernel_image().items():
            self.kernel[offset:offset + len(data)] = data
        self._kernel_slot = self.memory_slots.add(0, mode.KERNEL_SIZE,
                                                  buffer_address(self.kernel_buffer))
        self.tables = PageTables(self.kernel[mode.PAGE_TABLES_OFFSET:mode.CPU_PAGES_OFFSET],
                                 mode.PAGE_TABLES_OFFSET)
        user = set(mode.user_pages())
        for page in range(mode.FIXED_PAGES):       # supervisor only, but the stubs
            offset = page * PAGE
            self.tables.map(mode.virtual(offset), offset,
                            USER if offset in user else WRITABLE)

    # -- vCPUs --------------------------------------------------------------

    def add_vcpu(self, accel) -> tuple[Vcpu, bool]:
        """A vCPU for accel (a new thread's): one a finished thread left, or
        a new one with its own page (TSS and exception stack). (vcpu, fresh:
        never run before). OSError EAGAIN past the mode's MAX_VCPUS."""
        with self.lock:
            if self.closed:
                raise OSError(errno.EBADF, "the VM was closed")
            fresh = not self._idle
            if fresh:
                index = self._made
                if index >= self.mode.MAX_VCPUS:
                    raise OSError(errno.EAGAIN, f"more than {self.mode.MAX_VCPUS} vCPUs")
                vcpu = self.vm.create_vcpu(index)
                self._made += 1
                offset = self.mode.cpu_page_offset(index)
                image = self.mode.cpu_image(index)
                self.kernel[offset:offset + PAGE] = image.ljust(PAGE, b"\0")
                self.tables.map(self.mode.virtual(offset), offset, WRITABLE | NO_EXECUTE)
            else:
                self._idle.sort(key=lambda each: each.index)
                vcpu = self._idle.pop(0)
            self.vcpus.append(accel)
            return vcpu, fresh

    def cpu_page(self, index: int) -> memoryview:
        """vCPU index's own page of the kernel area (its TSS and stack)."""
        offset = self.mode.cpu_page_offset(index)
        return self.kernel[offset:offset + PAGE]

    def remove_vcpu(self, accel) -> None:
        """accel's thread is done: its vCPU waits for another thread; the
        last one closes the VM. In a forked child, whose copy of the VM is
        not its own, every descriptor of it closes at once."""
        if self.copy or os.getpid() != self.pid:
            self.close_copy()
            return
        with self.lock:
            if accel in self.vcpus:
                self.vcpus.remove(accel)
                self._idle.append(accel.vcpu)
            last = not self.vcpus
        if last:
            self.close()

    # -- entering and leaving the guest (the vCPUs' side) ---------------------

    def enter(self, accel) -> bool:
        """accel's thread is about to run KVM_RUN: wait while another vCPU
        reloads the tables (or reload them, if a page lost rights), mark it
        in the guest. True if the map changed since it last entered (its
        CR3 must switch roots)."""
        with self.lock:
            while self._exclusive is not None and self._exclusive is not accel:
                self._waiting += 1
                try:
                    self._left.wait()
                finally:
                    self._waiting -= 1
            if self.rights_taken:
                self._reload_alone(accel)
            changed = accel._generation != self.generation
            accel._generation = self.generation
            accel._in_guest = True
            return changed

    def left(self, accel) -> None:
        """accel's thread is out of KVM_RUN: a shootdown waiting for it may
        go on."""
        with self.lock:
            accel._in_guest = False
            if self._waiting:
                self._left.notify_all()

    def _reload_alone(self, accel) -> None:
        """reload_page_tables with every other vCPU out of the guest and kept
        out: it takes the page tables' slot away for a moment. (Lock held.)"""
        self._exclusive = accel
        try:
            self._wait_out([each for each in self.vcpus if each is not accel],
                           lambda each: not each._in_guest)
            if self.rights_taken:
                self.reload_page_tables()
        finally:
            self._exclusive = None
            self._left.notify_all()

    def _shoot_down(self) -> None:
        """After a change that took something away (lock held, generation
        bumped): every vCPU in the guest that entered before it is kicked,
        and the change waits until each has left, so none runs another
        guest instruction through what was taken away."""
        generation = self.generation
        self._wait_out([each for each in self.vcpus if each._in_guest],
                       lambda each: not each._in_guest or each._generation >= generation)

    def _wait_out(self, vcpus: list, done) -> None:
        """Kick vcpus until done(vcpu) holds for each (lock held)."""
        waiting = [each for each in vcpus if not done(each)]
        while waiting:
            for each in waiting:
                each._kick()
            self._waiting += 1
            try:
                self._left.wait(SHOOTDOWN_PATIENCE)
            finally:
                self._waiting -= 1
            waiting = [each for each in waiting if not done(each)]

    # -- a system call's changes ------------------------------------------------

    def batch(self) -> list | None:
        """A system call served in this thread begins: removals wait for
        its end (end_batch with what this returned)."""
        local = self._local
        outer = getattr(local, "removed", None)
        local.removed = []
        return outer

    def end_batch(self, outer: list | None) -> None:
        """The call has returned: the regions it removed go now."""
        local = self._local
        removed = local.removed
        local.removed = outer
        if not removed or self.closed:
            return
        if outer is not None:
            outer.extend(removed)
            return
        with self.lock:
            self._tear_down(removed)

    # -- memory listener: slots and page tables follow guest memory -------

    def region_added(self, region: Region) -> None:
        if self.copy:
            return
        if region.end > self.mode.USER_LIMIT:
            # The Linux layer keeps mappings in the user range; this is the
            # second line: nothing of the guest's may reach the kernel half,
            # where the page tables, GDT, IDT, TSSs and stubs live.
            raise KernelAreaError(f"guest region {region.start:#x}+{region.size:#x} "
                                  f"reaches past the user half ({self.mode.USER_LIMIT:#x})")
        with self.lock:
            physical = self._allocate(region.size)
            try:
                slot = self.memory_slots.add(physical, region.size, region.host_address)
            except BaseException:
                self.physical.release(physical, region.size)
                raise
            self._slots[region] = (slot, physical)
            if region.perms:
                flags = page_flags(region.perms)
                for offset in range(0, region.size, PAGE):
                    self.tables.map(region.start + offset, physical + offset, flags)
            self.generation += 1

    def _allocate(self, size: int) -> int:
        """Guest-physical room for a slot; if there is none, the removals a
        call still holds back go first. (Lock held.)"""
        try:
            return self.physical.allocate(size)
        except MemoryError:
            removed = getattr(self._local, "removed", None)
            if not removed:
                raise
            self._tear_down(removed[:])
            removed.clear()
            return self.physical.allocate(size)

    def region_removed(self, region: Region) -> None:
        if self.copy:
            return
        removed = getattr(self._local, "removed", None)
        if removed is not None:          # in a system call: at its end
            removed.append(region)
            return
        with self.lock:
            self._tear_down([region])

    def code_written(self, start: int, end: int) -> None:
        """Nothing to do: the real CPU keeps its caches coherent with its stores."""

    def _tear_down(self, regions: list[Region]) -> None:
        """Unmap the regions' pages that still map them (a piece of one, or
        a new region, may have been mapped over them since), free their
        slots, then the shootdown. (Lock held.)"""
        for region in regions:
            slot, physical = self._slots.pop(region)
            for offset in range(0, region.size, PAGE):
                self.tables.unmap(region.start + offset, physical + offset)
            self.memory_slots.remove(slot, physical)
            self.physical.release(physical, region.size)
        self.generation += 1
        self._shoot_down()

    def set_page_rights(self, page: int, perms: int | None) -> None:
        """Give one mapped page other rights than its region's (None: its
        region's again), as watchpoints need; a page without read is absent."""
        if self.copy:
            return
        with self.lock:
            region = self.memory.region_at(page)
            if region is None:
                return
            physical = self._slots[region][1] + page - region.start
            rights = region.perms if perms is None else perms
            if not rights & 1:                        # no PROT_READ: not present
                self.tables.unmap(page)
            else:
                self.tables.map(page, physical, page_flags(rights))
            if perms is not None:
                self.rights_taken = True
            self.generation += 1
            if perms is not None:
                self._shoot_down()

    def reload_page_tables(self) -> None:
        """Make KVM re-read the page tables after a page lost rights in
        place. A new CR3 is enough where KVM walks them in hardware (NPT,
        EPT); with shadow paging (as under this project's PVM host) KVM
        keeps its own copy, which xemu's writes from outside do not reach,
        so a page made read-only stayed writable. Re-registering the slot
        that holds the tables drops that copy. (Unmapping needs none of
        this: removing a region's own slot drops its entries.) The slot
        also holds the IDT, stubs and stacks, so no other vCPU may be in
        the guest meanwhile: `enter` calls this with the others kept out."""
        self.vm.set_memory(self._kernel_slot, 0, 0, 0)
        self.vm.set_memory(self._kernel_slot, 0, self.mode.KERNEL_SIZE,
                           buffer_address(self.kernel_buffer))
        self.rights_taken = False

    # -- what the vCPUs see -------------------------------------------------

    def read_user(self, address: int, size: int) -> bytes | None:
        """size bytes at a user address as the vCPUs see them, through the
        page tables and slots (not the Memory, which another thread may be
        changing); None where a page is not mapped for user code."""
        data = b""
        with self.lock:
            while len(data) < size:
                at = address + len(data)
                entry = self.tables.lookup(at)
                if entry is None or not entry & USER:
                    return None
                physical = (entry & ADDRESS_MASK) + at % PAGE
                n = min(size - len(data), PAGE - at % PAGE)
                for region, (_, start) in self._slots.items():
                    if start <= physical < start + region.size:
                        offset = region.offset + physical - start
                        data += region.buffer[offset:offset + n]
                        break
                else:
                    return None
        return data

    # -- the end ------------------------------------------------------------

    def close(self) -> None:
        with self.lock:
            if self.closed:
                return
            self.closed = True
            if self in self.memory.listeners:
                self.memory.listeners.remove(self)
            for vcpu in self._idle:
                vcpu.close()
            self._idle.clear()
            self.vm.close()
            if self._own_kvm:
                self.kvm.close()

    def close_copy(self) -> None:
        """In a forked child: the parent's VM and vCPUs are not this
        process's (KVM refuses them another process), so every descriptor
        of this copy closes, and it follows the memory no more. The lock is
        not taken: a thread of the parent may have held it at the fork."""
        if self.closed:
            return
        self.closed = True
        if self in self.memory.listeners:
            self.memory.listeners.remove(self)
        for vcpu in [*self._idle, *(accel.vcpu for accel in self.vcpus)]:
            vcpu.close()
        self._idle.clear()
        self.vcpus.clear()
        self.vm.close()
        if self._own_kvm:
            self.kvm.close()
