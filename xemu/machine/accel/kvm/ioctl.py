"""KVM ioctl numbers, computed from their _IO/_IOR/_IOW/_IOWR definitions in
<linux/kvm.h> (asm-generic ioctl encoding: dir, size, type, number)."""
from __future__ import annotations

import ctypes

from . import structs

_IOC_NONE, _IOC_WRITE, _IOC_READ = 0, 1, 2
KVMIO = 0xAE


def _IOC(direction: int, kind: int, number: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (kind << 8) | number


def _IO(kind: int, number: int) -> int:
    return _IOC(_IOC_NONE, kind, number, 0)


def _IOR(kind: int, number: int, struct: type) -> int:
    return _IOC(_IOC_READ, kind, number, ctypes.sizeof(struct))


def _IOW(kind: int, number: int, struct: type) -> int:
    return _IOC(_IOC_WRITE, kind, number, ctypes.sizeof(struct))


def _IOWR(kind: int, number: int, struct: type) -> int:
    return _IOC(_IOC_READ | _IOC_WRITE, kind, number, ctypes.sizeof(struct))


# system ioctls (/dev/kvm)
KVM_GET_API_VERSION = _IO(KVMIO, 0x00)
KVM_CREATE_VM = _IO(KVMIO, 0x01)
KVM_CHECK_EXTENSION = _IO(KVMIO, 0x03)
KVM_GET_VCPU_MMAP_SIZE = _IO(KVMIO, 0x04)
KVM_GET_SUPPORTED_CPUID = _IOWR(KVMIO, 0x05, structs.kvm_cpuid2)
# VM ioctls
KVM_CREATE_VCPU = _IO(KVMIO, 0x41)
KVM_SET_USER_MEMORY_REGION = _IOW(KVMIO, 0x46, structs.kvm_userspace_memory_region)
KVM_SET_TSS_ADDR = _IO(KVMIO, 0x47)
# vCPU ioctls
KVM_RUN = _IO(KVMIO, 0x80)
KVM_GET_REGS = _IOR(KVMIO, 0x81, structs.kvm_regs)
KVM_SET_REGS = _IOW(KVMIO, 0x82, structs.kvm_regs)
KVM_GET_SREGS = _IOR(KVMIO, 0x83, structs.kvm_sregs)
KVM_SET_SREGS = _IOW(KVMIO, 0x84, structs.kvm_sregs)
KVM_SET_MSRS = _IOW(KVMIO, 0x89, structs.kvm_msrs)
KVM_SET_SIGNAL_MASK = _IOW(KVMIO, 0x8B, ctypes.c_uint32)    # struct kvm_signal_mask: its len
KVM_SET_CPUID2 = _IOW(KVMIO, 0x90, structs.kvm_cpuid2)
KVM_GET_FPU = _IOR(KVMIO, 0x8C, structs.kvm_fpu)
KVM_SET_FPU = _IOW(KVMIO, 0x8D, structs.kvm_fpu)
KVM_SET_XCRS = _IOW(KVMIO, 0xA7, structs.kvm_xcrs)
KVM_GET_XSAVE = _IOR(KVMIO, 0xA4, structs.kvm_xsave)
KVM_SET_XSAVE = _IOW(KVMIO, 0xA5, structs.kvm_xsave)
KVM_SET_GUEST_DEBUG = _IOW(KVMIO, 0x9B, structs.kvm_guest_debug)

# KVM_SET_GUEST_DEBUG control flags
KVM_GUESTDBG_ENABLE, KVM_GUESTDBG_SINGLESTEP = 0x1, 0x2

KVM_API_VERSION = 12
KVM_CAP_NR_MEMSLOTS = 10
KVM_CAP_SYNC_REGS = 74
