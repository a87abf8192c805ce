"""ctypes mirrors of the <linux/kvm.h> structures xemu uses (x86)."""
from __future__ import annotations

import ctypes

u8, u16, u32, u64 = ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint32, ctypes.c_uint64


class kvm_userspace_memory_region(ctypes.Structure):
    _fields_ = [("slot", u32), ("flags", u32), ("guest_phys_addr", u64),
                ("memory_size", u64), ("userspace_addr", u64)]


class kvm_regs(ctypes.Structure):
    _fields_ = [(name, u64) for name in (
        "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags")]


class kvm_segment(ctypes.Structure):
    _fields_ = [("base", u64), ("limit", u32), ("selector", u16), ("type", u8),
                ("present", u8), ("dpl", u8), ("db", u8), ("s", u8), ("l", u8),
                ("g", u8), ("avl", u8), ("unusable", u8), ("padding", u8)]


class kvm_dtable(ctypes.Structure):
    _fields_ = [("base", u64), ("limit", u16), ("padding", u16 * 3)]


class kvm_sregs(ctypes.Structure):
    _fields_ = [("cs", kvm_segment), ("ds", kvm_segment), ("es", kvm_segment),
                ("fs", kvm_segment), ("gs", kvm_segment), ("ss", kvm_segment),
                ("tr", kvm_segment), ("ldt", kvm_segment), ("gdt", kvm_dtable),
                ("idt", kvm_dtable), ("cr0", u64), ("cr2", u64), ("cr3", u64),
                ("cr4", u64), ("cr8", u64), ("efer", u64), ("apic_base", u64),
                ("interrupt_bitmap", u64 * 4)]


class kvm_msr_entry(ctypes.Structure):
    _fields_ = [("index", u32), ("reserved", u32), ("data", u64)]


class kvm_msrs(ctypes.Structure):
    _fields_ = [("nmsrs", u32), ("pad", u32)]


def msrs_with(entries: list[tuple[int, int]]) -> ctypes.Structure:
    """A kvm_msrs followed by its entries, as KVM_SET_MSRS reads it."""
    class Msrs(ctypes.Structure):
        _fields_ = [("nmsrs", u32), ("pad", u32), ("entries", kvm_msr_entry * len(entries))]
    found = Msrs(len(entries), 0)
    for i, (index, data) in enumerate(entries):
        found.entries[i] = kvm_msr_entry(index, 0, data)
    return found


class kvm_cpuid_entry2(ctypes.Structure):
    _fields_ = [("function", u32), ("index", u32), ("flags", u32), ("eax", u32),
                ("ebx", u32), ("ecx", u32), ("edx", u32), ("padding", u32 * 3)]


class kvm_cpuid2(ctypes.Structure):
    _fields_ = [("nent", u32), ("padding", u32)]


def cpuid_with_room(count: int) -> ctypes.Structure:
    class Cpuid(ctypes.Structure):
        _fields_ = [("nent", u32), ("padding", u32), ("entries", kvm_cpuid_entry2 * count)]
    return Cpuid(count, 0)


class kvm_fpu(ctypes.Structure):
    _fields_ = [("fpr", u8 * 128), ("fcw", u16), ("fsw", u16), ("ftwx", u8),
                ("pad1", u8), ("last_opcode", u16), ("last_ip", u64), ("last_dp", u64),
                ("xmm", u8 * 256), ("mxcsr", u32), ("pad2", u32)]


class kvm_xsave(ctypes.Structure):
    """The vCPU's XSAVE area: the legacy FXSAVE region (x87, SSE, MXCSR) in
    its first 512 bytes, the header's XSTATE_BV at 512, AVX at 576."""
    _fields_ = [("region", u32 * 1024)]


class kvm_guest_debug(ctypes.Structure):
    """x86's: control flags, then DR0-DR7 (DR4 and DR5 unused)."""
    _fields_ = [("control", u32), ("pad", u32), ("debugreg", u64 * 8)]


class kvm_signal_mask(ctypes.Structure):
    """The signals blocked while the vCPU is in KVM_RUN: the kernel's
    sigset_t (64 bits on x86-64) after its length."""
    _fields_ = [("len", u32), ("sigset", u64)]


class kvm_xcr(ctypes.Structure):
    _fields_ = [("xcr", u32), ("reserved", u32), ("value", u64)]


class kvm_xcrs(ctypes.Structure):
    _fields_ = [("nr_xcrs", u32), ("flags", u32), ("xcrs", kvm_xcr * 16),
                ("padding", u64 * 16)]


# struct kvm_run: the fixed header; the exit's details start at RUN_EXIT_DATA.
RUN_EXIT_REASON = 8
RUN_EXIT_DATA = 32
# After the exit's 256 bytes: kvm_valid_regs, kvm_dirty_regs, then the
# synchronised registers (KVM_CAP_SYNC_REGS), struct kvm_regs first.
RUN_VALID_REGS = 288
RUN_DIRTY_REGS = 296
RUN_SYNC_REGS = 304
KVM_SYNC_X86_REGS = 1
