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

HOST_NAMES = {"amd64": "x86_64", "x86_64": "x86_64", "aarch64": "aarch64",
              "arm64": "aarch64", "ppc": "ppc", "i686": "i386", "i386": "i386"}


def host_arch() -> str:
    machine = platform.machine().lower()
    return HOST_NAMES.get(machine, machine)


@functools.lru_cache(maxsize=None)
def host_syscall_number(name: str) -> int:
    """The host's number for a system call (for those Python and libc lack),
    from its arch's generated table."""
    from ..archs import by_name
    return by_name(host_arch()).linux.syscall_numbers[name]


@functools.lru_cache(maxsize=None)
def kvm_state() -> tuple[bool, str]:
    """(usable, why): can this process open /dev/kvm and create a VM?"""
    from .accel.kvm.vm import Kvm, device_path
    DEVICE = device_path()
    if not os.path.exists(DEVICE):
        return False, (f"{DEVICE} does not exist (no KVM module loaded, or "
                       "virtualization is off in the firmware)")
    try:
        kvm = Kvm(DEVICE)
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


@functools.lru_cache(maxsize=None)
def kvm_mode_works(name: str) -> tuple[bool, str]:
    from ..archs import by_name
    from .accel.kvm import self_test
    return self_test(by_name(name))


# The CPU modes xemu's KVM accelerator builds on each host's CPU (the names
# of accel/kvm/x86's MODES; other hosts none yet). Named here so that a run
# that cannot use KVM never imports the KVM accelerator.
KVM_MODES_OF_HOST = {"x86_64": frozenset({"long", "compat"})}


def kvm_modes_of_host(host: str) -> frozenset[str]:
    return KVM_MODES_OF_HOST.get(host, frozenset())


def kvm_can_run(spec: ArchSpec, host: str) -> bool:
    """KVM runs a guest's instructions on the host CPU itself, so only in a
    mode of the host's own CPU: the guests whose spec names such a mode."""
    return spec.kvm_mode in kvm_modes_of_host(host)


def choose(spec: ArchSpec, requested: str, board: bool = False,
           needs_tcg: str | None = None) -> tuple[str, str]:
    """(accelerator name, the reason for it) for this guest on this host.
    board: a bare-metal board, which KVM runs in real mode (no user-mode
    CPU set-up to need or to self-test). needs_tcg: why this run needs
    translation (--trace), if it does."""
    host = host_arch()
    native = kvm_can_run(spec, host)
    if requested == "tcg":
        return "tcg", "--accel tcg asks for translation"
    if needs_tcg:
        if requested == "kvm":
            raise AccelError(f"--accel kvm: {needs_tcg}; use --accel tcg")
        return "tcg", f"translated: {needs_tcg}"
    if not native and spec.name == host:
        why = f"xemu cannot run {spec.name} guests under KVM yet"
        if requested == "kvm":
            raise AccelError(f"--accel kvm: {why}; use --accel tcg")
        return "tcg", f"translated: {why}"
    if not native:
        why = (f"KVM runs guest instructions directly on the host CPU, and this "
               f"{host} CPU cannot execute {spec.name} instructions")
        if requested == "kvm":
            raise AccelError(f"--accel kvm cannot run {spec.name} guests on an {host} "
                             f"host: {why}; use --accel tcg")
        return "tcg", f"translated: {why}"
    usable, state = kvm_state()
    if not usable:
        if requested == "kvm":
            raise AccelError(f"--accel kvm: {state}")
        return "tcg", f"translated: {state}"
    works, why = kvm_mode_works(spec.name) if not board else (True, "")
    if not works:
        if requested == "kvm":
            raise AccelError(f"--accel kvm: {why}; use --accel tcg")
        return "tcg", f"translated: {why}"
    return "kvm", f"runs on the {host} CPU itself through KVM"


def kvm_usable(spec: ArchSpec) -> tuple[bool, str]:
    """(can KVM run this guest here, why or why not): `choose` with
    --accel kvm, its refusal as the reason instead of an error."""
    try:
        chosen, why = choose(spec, "kvm")
    except AccelError as e:
        return False, str(e)
    return chosen == "kvm", why


# KVM's vendor module -> what it is. The module decides what a guest's CPU
# can do: PVM runs guests in host ring 3 without hardware virtualization,
# so only 64-bit code runs on the CPU (other modes go through KVM's
# instruction emulator, which lacks most SSE and x87).
KVM_FLAVOURS = {
    "kvm_intel": "VT-x (kvm_intel): hardware virtualization",
    "kvm_amd": "AMD-V (kvm_amd): hardware virtualization",
    "kvm_pvm": "PVM (kvm_pvm): guests run in host ring 3 without VT-x/AMD-V; "
               "only 64-bit code runs on the CPU itself",
}


def kvm_flavour(modules: str = "/sys/module") -> str:
    """Which KVM this host has, from the vendor module that is loaded."""
    found = [text for name, text in KVM_FLAVOURS.items()
             if os.path.isdir(os.path.join(modules, name))]
    if found:
        return "; ".join(found)
    if os.path.isdir(os.path.join(modules, "kvm")):
        return "kvm loaded, vendor module unknown"
    return "no KVM module loaded"


def cpu_virtualization() -> str:
    """The host CPU's hardware virtualization flags, as /proc/cpuinfo lists them."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f
                          if line.startswith("flags")), [])
    except OSError:
        return "unknown (/proc/cpuinfo unreadable)"
    found = [name for flag, name in (("vmx", "vmx (Intel VT-x)"), ("svm", "svm (AMD-V)"))
             if flag in flags]
    if found:
        return ", ".join(found)
    if "hypervisor" in flags:
        return ("none listed: this host is itself a VM (KVM may still work here: "
                "nested, or a paravirtual flavour such as PVM)")
    return "none listed"


def kvm_device_report() -> list[tuple[str, str]]:
    """(what, state) lines about /dev/kvm for `xemu info`."""
    import stat
    from .accel.kvm.vm import device_path
    path = device_path()
    try:
        st = os.stat(path)
    except OSError as e:
        return [(path, f"missing ({e.strerror})")]
    mode = stat.filemode(st.st_mode)
    lines = [(path, f"present, {mode}, uid {st.st_uid} gid {st.st_gid}"),
             ("read/write for you", "yes" if os.access(path, os.R_OK | os.W_OK) else "no")]
    usable, why = kvm_state()
    lines.append(("VM creatable", "yes: " + why if usable else "no: " + why))
    lines.append(("KVM flavour", kvm_flavour()))
    return lines
