"""The accelerator rule: which engine runs a guest, and why.

KVM runs guest instructions directly on the host CPU, so it can only ever
accelerate guests of the host's own architecture. Everything else is
translated (TCG). `auto` picks KVM where it can, TCG otherwise.
"""
from __future__ import annotations

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


def choose(spec: ArchSpec, requested: str) -> tuple[str, str]:
    """(accelerator name, the reason for it) for this guest on this host."""
    host = host_arch()
    native = spec.name in KVM_GUESTS.get(host, ())
    if requested == "tcg":
        return "tcg", "--accel tcg asks for translation"
    if requested == "kvm":
        if not native:
            raise AccelError(
                f"--accel kvm cannot run a {spec.name} guest on this {host} host: KVM "
                f"executes guest instructions directly on the host CPU, so it only "
                f"accelerates guests of the host's own architecture; use --accel tcg")
        raise AccelError(f"--accel kvm: this version of xemu runs {spec.name} guests "
                         "through translation only (KVM support is not built yet); "
                         "use --accel tcg")
    if native:
        return "tcg", f"{spec.name} matches the host, but KVM support is not built yet"
    return "tcg", (f"a {spec.name} guest cannot use KVM on a {host} host, "
                   "so its code is translated")
