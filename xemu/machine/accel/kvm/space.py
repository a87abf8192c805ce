"""One KVM virtual machine as an address space: its memory slots, the
guest-physical layout, and the kernel area (page tables, descriptor tables,
exception and syscall stubs) that every vCPU of it shares.

Guest memory is the same host buffers the translator would use: each region
becomes a KVM memory slot at a guest-physical address xemu picks, and
xemu's page tables map the guest's virtual layout onto those slots. A
change to the map bumps `generation`; each vCPU reloads CR3 (flushing its
TLB) before it next runs.
"""
from __future__ import annotations

import mmap

from ....archs.base import PAGE
from ...memory import PROT_EXEC, PROT_WRITE, Memory, Region, buffer_address
from .ioctl import KVM_CAP_NR_MEMSLOTS
from .paging import NO_EXECUTE, USER, WRITABLE, PageTables
from .vm import Kvm


class KernelAreaError(ValueError):
    """A guest region would overlap the kernel area (refused, never mapped)."""


def page_flags(perms: int) -> int:
    """Page-table flags for user memory with these PROT_* rights."""
    return USER | (WRITABLE if perms & PROT_WRITE else 0) \
        | (0 if perms & PROT_EXEC else NO_EXECUTE)


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


class KvmAddressSpace:
    """A VM, its slots and page tables, following a Memory (as a listener)."""

    def __init__(self, mode, memory: Memory, kvm: Kvm | None = None):
        self.mode = mode
        self.memory = memory
        self.kvm = kvm or Kvm()
        self.vm = self.kvm.create_vm()
        self.memory_slots = MemorySlots(self.vm, self.kvm)
        self._slots: dict[Region, tuple[int, int]] = {}
        self.generation = 0               # bumped when the map changes
        self.vcpus: list = []             # the KvmAccelerators running in it
        self.rights_taken = False         # a page lost rights in place: KVM must re-read
        self._build_kernel()
        self.physical = PhysicalSpace(mode.KERNEL_SIZE, mode.PHYSICAL_LIMIT)
        for region in memory.regions():
            self.region_added(region)
        memory.listeners.append(self)
        for address, data in mode.guest_tables().items():
            memory.write(address, data)

    def _build_kernel(self) -> None:
        mode = self.mode
        self.kernel_buffer = mmap.mmap(-1, mode.KERNEL_SIZE)
        self.kernel = memoryview(self.kernel_buffer)
        for offset, data in mode.kernel_image().items():
            self.kernel[offset:offset + len(data)] = data
        self._kernel_slot = self.memory_slots.add(0, mode.KERNEL_SIZE,
                                                  buffer_address(self.kernel_buffer))
        self.tables = PageTables(self.kernel[mode.PAGE_TABLES_OFFSET:],
                                 mode.PAGE_TABLES_OFFSET)
        user = set(mode.user_pages())
        for page in range(mode.FIXED_PAGES):       # supervisor only, but the stubs
            offset = page * PAGE
            self.tables.map(mode.virtual(offset), offset,
                            USER if offset in user else WRITABLE)

    # -- memory listener: slots and page tables follow guest memory -------

    def region_added(self, region: Region) -> None:
        if region.end > self.mode.USER_LIMIT:
            # The Linux layer keeps mappings in the user range; this is the
            # second line: nothing of the guest's may reach the kernel half,
            # where the page tables, GDT, IDT, TSS and stubs live.
            raise KernelAreaError(f"guest region {region.start:#x}+{region.size:#x} "
                                  f"reaches past the user half ({self.mode.USER_LIMIT:#x})")
        physical = self.physical.allocate(region.size)
        slot = self.memory_slots.add(physical, region.size, region.host_address)
        self._slots[region] = (slot, physical)
        if region.perms:
            flags = page_flags(region.perms)
            for offset in range(0, region.size, PAGE):
                self.tables.map(region.start + offset, physical + offset, flags)
        self.generation += 1

    def region_removed(self, region: Region) -> None:
        slot, physical = self._slots.pop(region)
        for offset in range(0, region.size, PAGE):
            self.tables.unmap(region.start + offset)
        self.memory_slots.remove(slot, physical)
        self.physical.release(physical, region.size)
        self.generation += 1

    def set_page_rights(self, page: int, perms: int | None) -> None:
        """Give one mapped page other rights than its region's (None: its
        region's again), as watchpoints need; a page without read is absent."""
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

    def reload_page_tables(self) -> None:
        """Make KVM re-read the page tables after a page lost rights in
        place. A new CR3 is enough where KVM walks them in hardware (NPT,
        EPT); with shadow paging (as under this project's PVM host) KVM
        keeps its own copy, which xemu's writes from outside do not reach,
        so a page made read-only stayed writable. Re-registering the slot
        that holds the tables drops that copy. (Unmapping needs none of
        this: removing a region's own slot drops its entries.)"""
        self.vm.set_memory(self._kernel_slot, 0, 0, 0)
        self.vm.set_memory(self._kernel_slot, 0, self.mode.KERNEL_SIZE,
                           buffer_address(self.kernel_buffer))
        self.rights_taken = False

    def close(self) -> None:
        if self in self.memory.listeners:
            self.memory.listeners.remove(self)
        self.vm.close()
