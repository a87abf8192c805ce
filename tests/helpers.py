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
