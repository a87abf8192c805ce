"""Kvm -> Vm -> Vcpu: KVM's three levels of file descriptor, as thin objects.

Every call is one ioctl through libc (ctypes), so large structures are
passed by pointer with no size limit and no copies.
"""
from __future__ import annotations

import ctypes
import errno
import mmap
import os

from . import ioctl, structs

_libc = ctypes.CDLL(None, use_errno=True)
_libc.ioctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p)
_libc.ioctl.restype = ctypes.c_int



def device_path() -> str:
    """/dev/kvm, unless XEMU_KVM_DEVICE names another path."""
    return os.environ.get("XEMU_KVM_DEVICE", "/dev/kvm")


def _ioctl(fd: int, request: int, arg=None) -> int:
    """ioctl(2); arg is an int, a ctypes object (passed by pointer) or None.
    Interrupted by a signal, it tries again (after Python's handlers ran)."""
    if arg is None:
        pointer = None
    elif isinstance(arg, int):
        pointer = arg
    else:
        pointer = ctypes.addressof(arg)
    while True:
        result = _libc.ioctl(fd, request, pointer)
        if result >= 0:
            return result
        error = ctypes.get_errno()
        if error != errno.EINTR:
            raise OSError(error, os.strerror(error))
        # Python's handler for the signal runs now (not at some later
        # bytecode): one that raises (--timeout's) ends the call.
        ctypes.pythonapi.PyErr_CheckSignals()


class Kvm:
    """/dev/kvm itself: capabilities, and the factory of VMs."""

    def __init__(self, path: str | None = None):
        self.path = path or device_path()
        self.fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
        try:
            self.api_version = _ioctl(self.fd, ioctl.KVM_GET_API_VERSION)
            if self.api_version != ioctl.KVM_API_VERSION:
                raise OSError(0, f"KVM API version {self.api_version}, "
                                 f"xemu needs {ioctl.KVM_API_VERSION}")
            self.vcpu_mmap_size = _ioctl(self.fd, ioctl.KVM_GET_VCPU_MMAP_SIZE)
        except BaseException:
            os.close(self.fd)
            raise

    def check_extension(self, capability: int) -> int:
        return _ioctl(self.fd, ioctl.KVM_CHECK_EXTENSION, capability)

    def supported_cpuid(self):
        for count in (64, 128, 256):
            cpuid = structs.cpuid_with_room(count)
            try:
                _ioctl(self.fd, ioctl.KVM_GET_SUPPORTED_CPUID, cpuid)
                return cpuid
            except OSError as e:
                if e.errno != 7:        # E2BIG: more entries than room
                    raise
        raise OSError(7, "too many CPUID entries")

    def create_vm(self) -> Vm:
        return Vm(self, _ioctl(self.fd, ioctl.KVM_CREATE_VM, 0))

    def close(self) -> None:
        os.close(self.fd)


class Vm:
    """One virtual machine: its memory slots and its vCPUs."""

    def __init__(self, kvm: Kvm, fd: int):
        self.kvm = kvm
        self.fd = fd

    def set_memory(self, slot: int, guest_phys: int, size: int, host_address: int) -> None:
        """Back [guest_phys, guest_phys+size) with host memory; size 0 deletes."""
        region = structs.kvm_userspace_memory_region(slot, 0, guest_phys, size, host_address)
        _ioctl(self.fd, ioctl.KVM_SET_USER_MEMORY_REGION, region)

    def set_tss_address(self, address: int) -> None:
        _ioctl(self.fd, ioctl.KVM_SET_TSS_ADDR, address)

    def create_vcpu(self, index: int = 0) -> Vcpu:
        """vCPU index (its id: once per VM, as KVM destroys vCPUs only with
        their VM)."""
        return Vcpu(self, _ioctl(self.fd, ioctl.KVM_CREATE_VCPU, index), index)

    def close(self) -> None:
        os.close(self.fd)


class Vcpu:
    """One virtual CPU: registers, and KVM_RUN with its shared kvm_run page."""

    def __init__(self, vm: Vm, fd: int, index: int = 0):
        self.vm = vm
        self.fd = fd
        self.index = index                   # its KVM vCPU id
        self.run_page = mmap.mmap(fd, vm.kvm.vcpu_mmap_size, mmap.MAP_SHARED,
                                  mmap.PROT_READ | mmap.PROT_WRITE)
        self.signal_mask: int | None = None  # as last set with KVM_SET_SIGNAL_MASK

    def run(self, interruptible: bool = False) -> memoryview | None:
        """Run until the next exit: the kvm_run page to decode. Interrupted
        by a signal (after Python's handlers ran, which may raise), KVM_RUN
        starts again, or with interruptible returns None."""
        while True:
            if _libc.ioctl(self.fd, ioctl.KVM_RUN, None) >= 0:
                return memoryview(self.run_page)
            error = ctypes.get_errno()
            if error != errno.EINTR:
                raise OSError(error, os.strerror(error))
            ctypes.pythonapi.PyErr_CheckSignals()
            if interruptible:
                return None

    def set_signal_mask(self, blocked: int) -> None:
        """The signals blocked while in KVM_RUN (a bit per signal, bit n - 1
        for signal n), in place of the thread's own mask."""
        if blocked != self.signal_mask:
            _ioctl(self.fd, ioctl.KVM_SET_SIGNAL_MASK, structs.kvm_signal_mask(8, blocked))
            self.signal_mask = blocked

    def syncs_registers(self) -> bool:
        """Does KVM keep the general registers in the kvm_run page at every
        exit (KVM_CAP_SYNC_REGS)? XEMU_KVM_NO_SYNC_REGS=1 says no, to test
        the ioctl path."""
        if os.environ.get("XEMU_KVM_NO_SYNC_REGS", "") not in ("", "0"):
            return False
        return bool(self.vm.kvm.check_extension(ioctl.KVM_CAP_SYNC_REGS)
                    & structs.KVM_SYNC_X86_REGS)

    def get_regs(self, regs: structs.kvm_regs) -> structs.kvm_regs:
        _ioctl(self.fd, ioctl.KVM_GET_REGS, regs)
        return regs

    def set_regs(self, regs: structs.kvm_regs) -> None:
        _ioctl(self.fd, ioctl.KVM_SET_REGS, regs)

    def get_sregs(self, sregs: structs.kvm_sregs) -> structs.kvm_sregs:
        _ioctl(self.fd, ioctl.KVM_GET_SREGS, sregs)
        return sregs

    def set_sregs(self, sregs: structs.kvm_sregs) -> None:
        _ioctl(self.fd, ioctl.KVM_SET_SREGS, sregs)

    def set_msrs(self, entries: list[tuple[int, int]]) -> None:
        msrs = structs.msrs_with(entries)
        done = _ioctl(self.fd, ioctl.KVM_SET_MSRS, msrs)
        if done != len(entries):
            raise OSError(22, f"KVM accepted {done} of {len(entries)} MSRs")

    def set_cpuid(self, cpuid) -> None:
        _ioctl(self.fd, ioctl.KVM_SET_CPUID2, cpuid)

    def get_fpu(self, fpu: structs.kvm_fpu) -> structs.kvm_fpu:
        _ioctl(self.fd, ioctl.KVM_GET_FPU, fpu)
        return fpu

    def set_fpu(self, fpu: structs.kvm_fpu) -> None:
        _ioctl(self.fd, ioctl.KVM_SET_FPU, fpu)

    def get_xsave(self, xsave: structs.kvm_xsave) -> structs.kvm_xsave:
        _ioctl(self.fd, ioctl.KVM_GET_XSAVE, xsave)
        return xsave

    def set_xsave(self, xsave: structs.kvm_xsave) -> None:
        _ioctl(self.fd, ioctl.KVM_SET_XSAVE, xsave)

    def set_guest_debug(self, control: int) -> None:
        """KVM_GUESTDBG_* flags (single-step); debug registers unused."""
        _ioctl(self.fd, ioctl.KVM_SET_GUEST_DEBUG, structs.kvm_guest_debug(control))

    def set_xcr0(self, value: int) -> None:
        xcrs = structs.kvm_xcrs()
        xcrs.nr_xcrs = 1
        xcrs.xcrs[0] = structs.kvm_xcr(0, 0, value)
        _ioctl(self.fd, ioctl.KVM_SET_XCRS, xcrs)

    def close(self) -> None:
        """Close the vCPU's descriptor (once). Its kvm_run page is unmapped
        too, unless a view of it is still alive (a forked child's copy of
        another thread's, caught in KVM_RUN at the fork): then it goes with
        the last view."""
        if self.fd < 0:
            return
        try:
            self.run_page.close()
        except BufferError:
            pass
        os.close(self.fd)
        self.fd = -1
