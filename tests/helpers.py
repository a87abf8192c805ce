"""Running xemu the way a user does, for the tests."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_xemu(*args: str, stdin: bytes | None = None, env: dict | None = None,
             cwd: str | Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """xemu as a user runs it: a separate process, real stdio, real status."""
    return subprocess.run([sys.executable, "-m", "xemu", *args], input=stdin,
                          capture_output=True, env=env, cwd=cwd, timeout=timeout)


def kvm_skip_reason(arch: str = "x86_64") -> str:
    """Why KVM tests of this arch cannot run here, or "" if they can."""
    import platform
    if platform.machine() != "x86_64":
        return f"KVM runs x86 guests only on an x86-64 host, not {platform.machine()}"
    from xemu.machine.select import kvm_mode_works, kvm_state
    usable, why = kvm_state()
    if not usable:
        return why
    works, why = kvm_mode_works(arch)
    return "" if works else why
