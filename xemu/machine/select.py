"""The accelerator rule: which engine runs a guest, and why.

KVM runs guest instructions directly on the host CPU, so it can only ever
accelerate guests of the host's own architecture. Everything else is
translated (TCG). `auto` picks KVM where it can, TCG otherwise.
"""
from __future__ import annotations

import functools
import os
import platform

from ..archs.base import ArchSpec
from ..errors import AccelError

# host machine name -> the guest arches its CPU can run natively under KVM
KVM_GUESTS = {"x86_64": ("x86_64", "i386")}
HOST_NAMES = {"amd64": "x86_64", "x86_64": "x86_64", "aarch64": "aarch64",
              "arm64": "aarch64", "ppc": "ppc", "i686": "i386", "i386": "i386"}
CHOICES = ("auto", "tcg", "kvm")


def host_arch() -> str:
    machine = platform.machine().lower()
    return HOST_NAMES.get(machine, machine)


@functools.lru_cache(maxsize=None)
def kvm_state() -> tuple[bool, str]:
    """(usable, why): can this process open /dev/kvm and create a VM?"""
    from .accel.kvm.vm import DEVICE, Kvm
    if not os.path.exists(DEVICE):
        return False, (f"{DEVICE} does not exist (no KVM module loaded, or "
                       "virtualization is off in the firmware)")
    try:
        kvm = Kvm()
    except PermissionError:
        return False, (f"{DEVICE} exists but this user may not open it "
                       "(add the user to the kvm group)")
    except OSError as e:
        return False, f"{DEVICE} cannot be used: {e.strerror}"
    try:
        kvm.create_vm().close()
    except OSError as e:
        return False, f"{DEVICE} opened but creating a VM failed: {e.strerror}"
    finally:
        kvm.close()
    return True, f"{DEVICE} works (API version {kvm.api_version})"


def has_kvm_mode(spec: ArchSpec) -> bool:
    from .accel.kvm import mode_for
    return mode_for(spec) is not None


def choose(spec: ArchSpec, requested: str) -> tuple[str, str]:
    """(accelerator name, the reason for it) for this guest on this host."""
    host = host_arch()
    native = spec.name in KVM_GUESTS.get(host, ())
    if requested == "tcg":
        return "tcg", "--accel tcg asks for translation"
    if not native:
        why = (f"a {spec.name} guest cannot use KVM on this {host} host: KVM executes "
               f"guest instructions directly on the host CPU, so it only accelerates "
               f"guests of the host's own architecture")
        if requested == "kvm":
            raise AccelError(f"--accel kvm: {why}; use --accel tcg")
        return "tcg", why + ", so its code is translated"
    if not has_kvm_mode(spec):
        why = f"xemu cannot run {spec.name} guests under KVM yet"
        if requested == "kvm":
            raise AccelError(f"--accel kvm: {why}; use --accel tcg")
        return "tcg", why + ", so its code is translated"
    usable, state = kvm_state()
    if not usable:
        if requested == "kvm":
            raise AccelError(f"--accel kvm: {state}")
        return "tcg", state + ", so the code is translated"
    return "kvm", f"{spec.name} guest on an {host} host runs on the CPU through KVM"
