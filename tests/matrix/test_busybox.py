"""Debian's static busybox, as a new user tries xemu: shell pipelines,
command substitution, background jobs, `while read`, xargs, find -exec,
timeout, nc over loopback, df, id, touch, cp, traps. Each command's output
and status under xemu must be those of the same busybox run natively.

The host's own busybox-static (apt-get install busybox-static) runs under
every usable accelerator. Foreign ones run too where XEMU_BUSYBOX_DIR holds
Debian's packages unpacked per arch (`dpkg -x busybox-static_*_armhf.deb
DIR/arm`, likewise DIR/aarch64...), each compared with the host's busybox
of the same Debian version run natively: qemu-user is no reference here,
as it hands busybox's re-exec of itself (/proc/self/exe) to the host
kernel, which cannot run it (nc, timeout and the applets sh starts fail).
"""
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import kvm_skip_reason, run_xemu
from tests.matrix.test_threads import KVM_ARCHS
from xemu.machine.select import host_arch

COMMANDS = [
    ["sh", "-c", 'printf "a b\\nc d\\n" | while read x y; do echo $y$x; done'],
    ["sh", "-c", "x=$(echo sub); echo $x; echo a | cat; (exit 3); echo $?"],
    ["sh", "-c", "sleep 0.1 & wait; echo waited $?"],
    ["sh", "-c", "echo 1 2 3 | xargs -n1 echo"],
    ["find", ".", "-name", "*.txt", "-exec", "echo", "found", "{}", ";"],
    ["sh", "-c", "timeout 0.2 sleep 5; echo $?"],
    ["sh", "-c", "env A=1 printenv A"],
    ["sh", "-c", "df / | awk 'NR == 2 {print $6}'"],
    ["sh", "-c", "id -u; id -g"],
    ["sh", "-c", "touch -d '2001-02-03 04:05:06' t && "
                 "ls -l --full-time t | awk '{print $6, $7}'"],
    ["sh", "-c", "cp src.txt dst.txt && cat dst.txt && wc -c dst.txt"],
    ["sh", "-c", "read line < src.txt; echo $line"],
    ["sh", "-c", 'trap "echo trapped" USR1; kill -USR1 $$; echo after'],
    ["sh", "-c", "sort -r src.txt | md5sum"],
    # the client tries again until the listener listens (a loaded machine
    # may take longer than any fixed pause to start it)
    ["sh", "-c", "nc -l -p PORT > got & for try in 1 2 3 4 5 6 7 8 9 10; do "
                 "sleep 0.3; echo over nc | nc 127.0.0.1 PORT 2>/dev/null && break; done; "
                 "wait; cat got"],
]
IDS = ["while-read", "substitution", "background", "xargs", "find-exec", "timeout", "env",
       "df", "id", "touch", "cp", "read-file", "trap", "sort-md5sum", "nc"]


def host_busybox() -> str | None:
    found = shutil.which("busybox")
    if found is None:
        return None
    head = Path(found).read_bytes()[:4]
    return found if head == b"\x7fELF" else None


def foreign_busyboxes() -> dict[str, str]:
    directory = os.environ.get("XEMU_BUSYBOX_DIR")
    if not directory:
        return {}
    return {arch.name: str(arch / "bin" / "busybox") for arch in Path(directory).iterdir()
            if (arch / "bin" / "busybox").exists()}


def prepared(tmp_path: Path, command: list[str]) -> list[str]:
    (tmp_path / "src.txt").write_text("line one\nline two\n")
    port = str(random.randint(20000, 60000))
    return [part.replace("PORT", port) for part in command]


def run_native(argv: list[str], cwd: Path) -> tuple[bytes, int]:
    result = subprocess.run(argv, capture_output=True, cwd=cwd, timeout=60,
                            stdin=subprocess.DEVNULL)
    return result.stdout, result.returncode


def cases():
    host = host_arch()
    for accel in ("tcg", "kvm") if host in KVM_ARCHS else ("tcg",):
        reason = kvm_skip_reason(host) if accel == "kvm" else ""
        for command, name in zip(COMMANDS, IDS, strict=True):
            yield pytest.param(accel, command, id=f"{host}-{accel}-{name}",
                               marks=[pytest.mark.skip(reason=reason)] if reason else [])


@pytest.mark.parametrize("accel,command", list(cases()))
def test_host_busybox_under_xemu_as_natively(accel, command, tmp_path, guest_env):
    busybox = host_busybox()
    if busybox is None:
        pytest.skip("no static busybox here (apt-get install busybox-static)")
    argv = prepared(tmp_path, command)
    expected = run_native([busybox, *argv], tmp_path)
    for leftover in ("t", "dst.txt", "got"):
        (tmp_path / leftover).unlink(missing_ok=True)
    result = run_xemu("run", "-q", "--accel", accel, busybox, *argv, env=guest_env,
                      cwd=tmp_path, timeout=60)
    assert (result.stdout, result.returncode) == expected, result.stderr.decode()


@pytest.mark.parametrize("command", COMMANDS, ids=IDS)
def test_foreign_busybox_as_the_host_one_natively(command, tmp_path, guest_env):
    found = foreign_busyboxes()
    native = host_busybox()
    if not found or native is None:
        pytest.skip("XEMU_BUSYBOX_DIR names no unpacked foreign busybox-static, or the "
                    "host has none to compare with")
    for arch, busybox in sorted(found.items()):
        argv = prepared(tmp_path, command)
        expected = run_native([native, *argv], tmp_path)
        for leftover in ("t", "dst.txt", "got"):
            (tmp_path / leftover).unlink(missing_ok=True)
        result = run_xemu("run", "-q", busybox, *argv, env=guest_env, cwd=tmp_path, timeout=60)
        assert (result.stdout, result.returncode) == expected, (arch, result.stderr.decode())


# -- a long script: hundreds of processes, and not one warning ---------------

WORKLOAD = Path(__file__).resolve().parent / "scripts" / "workload.sh"


def run_workload(command: list[str], directory: Path, env=None) -> tuple[bytes, bytes, int]:
    """The script run by command (a busybox, maybe under xemu) in a fresh
    directory: its stdout, stderr and status."""
    directory.mkdir()
    result = subprocess.run([*command, "sh", str(WORKLOAD), str(directory)],
                            capture_output=True, cwd=directory, timeout=300,
                            stdin=subprocess.DEVNULL, env=env)
    return result.stdout, result.stderr, result.returncode


def workload_runs() -> list:
    host = host_arch()
    params = [pytest.param(None, accel, id=f"{host}-{accel}")
              for accel in (("tcg", "kvm") if host in KVM_ARCHS else ("tcg",))]
    params += [pytest.param(path, "auto", id=arch)
               for arch, path in sorted(foreign_busyboxes().items())]
    return params


@pytest.mark.parametrize("busybox,accel", workload_runs())
def test_a_long_script_starting_hundreds_of_processes(busybox, accel, tmp_path, guest_env):
    """tests/matrix/scripts/workload.sh: 290 lines, about 600 processes
    (pipelines, substitutions, subshells, jobs, xargs, find -exec, traps).
    Its stdout, stderr and status are those of the host's busybox run
    natively: no warning from xemu, nothing lost."""
    native = host_busybox()
    if native is None:
        pytest.skip("no static busybox here (apt-get install busybox-static)")
    if accel == "kvm" and kvm_skip_reason(host_arch()):
        pytest.skip(kvm_skip_reason(host_arch()))
    expected = run_workload([native], tmp_path / "native")
    assert expected[0].count(b"\n") > 140 and expected[2] == 0
    xemu = [sys.executable, "-m", "xemu", "run", "--accel", accel, busybox or native]
    assert run_workload(xemu, tmp_path / "xemu", env=guest_env) == expected
