"""Debian's own dynamically linked armhf and arm64 programs (coreutils, grep,
sed, gawk, findutils, dash and python3.11, with their libc), unpacked into a
root file system by tests/debian_roots.py, run with --rootfs: each gives
qemu-user's output, error output and status (`qemu -L root -0 argv0`).
The roots are built by .ci/run; each arch skips, with the command that
builds it, where its root is missing."""
import shutil
import subprocess

import pytest

from tests.debian_roots import ARCHES, root_of
from tests.helpers import run_xemu
from tests.matrix.test_threads import arch_accels

INPUT = b"apple 3\nbanana 5\ncherry 7\naab 1\nbarrow 11\n"
SCRIPT = b"""\
import collections, hashlib, json, re, subprocess, sys
text = open("/work/input.txt").read()
counts = collections.Counter(re.findall("[a-z]", text))
child = subprocess.run(["/bin/sh", "-c", "echo child $0", "x"], capture_output=True, text=True)
print(json.dumps({"args": sys.argv[1:], "top": counts.most_common(3),
                  "sha256": hashlib.sha256(text.encode()).hexdigest()[:16],
                  "child": child.stdout.strip(), "status": child.returncode}, sort_keys=True))
sys.exit(3)
"""
# name: (argv inside the root, stdin)
COMMANDS = {
    "ls": (["/bin/ls", "-1", "/work"], b""),
    "ls-missing": (["/bin/ls", "/work/nosuch"], b""),
    "sort-stdin": (["/usr/bin/sort", "-k2n"], INPUT),
    "grep": (["/bin/grep", "-nE", "a+b|rr", "/work/input.txt"], b""),
    "grep-nomatch": (["/bin/grep", "-c", "zebra", "/work/input.txt"], b""),
    "sed": (["/bin/sed", "-e", "s/an/AN/g", "-e", "3q", "/work/input.txt"], b""),
    "gawk": (["/usr/bin/gawk", '{ total += $2; names = names $1 "," } '
              'END { printf "%d %s %.3f\\n", total, names, atan2(0, -1) }',
              "/work/input.txt"], b""),
    "sha256sum": (["/usr/bin/sha256sum", "/work/input.txt"], b""),
    "find": (["/usr/bin/find", "/work", "-name", "*.txt", "-size", "-1k"], b""),
    "wc-stdin": (["/usr/bin/wc", "-lwc"], INPUT),
    "date": (["/bin/date", "-u", "-d", "@86400", "+%F %T %A"], b""),
    "sh": (["/bin/sh", "-c", "echo $((6*7)); for w in b a c; do echo $w; done | /usr/bin/sort; "
            "/bin/false || echo status $?; exit 4"], b""),
    "python3": (["/usr/bin/python3.11", "/work/script.py", "one", "two"], b""),
}


def debian_root(arch: str) -> str:
    root = root_of(arch)
    if root is None:
        pytest.skip(f"no Debian {arch} root: python -m tests.debian_roots (needs apt-get "
                    "and network; .ci/run builds it)")
    work = root / "work"
    work.mkdir(exist_ok=True)
    for name, content in (("input.txt", INPUT), ("script.py", SCRIPT)):
        if not (work / name).exists() or (work / name).read_bytes() != content:
            (work / name).write_bytes(content)
    return str(root)


def qemu_user(arch: str, root: str, argv: list[str], stdin: bytes) -> tuple:
    qemu = shutil.which(f"qemu-{arch}-static")
    if qemu is None:
        pytest.skip(f"qemu-{arch}-static is not installed (apt-get install qemu-user-static)")
    result = subprocess.run([qemu, "-L", root, "-0", argv[0], root + argv[0], *argv[1:]],
                            input=stdin, capture_output=True, timeout=120, cwd=root)
    return result.stdout, result.stderr, result.returncode


@pytest.mark.parametrize("arch,accel,name", [
    pytest.param(arch, accel, name, marks=marks, id=f"{arch}-{accel}-{name}")
    for arch, accel, marks in arch_accels(ARCHES) for name in COMMANDS])
def test_debian_program_matches_qemu_user(arch, accel, name, guest_env):
    root = debian_root(arch)
    argv, stdin = COMMANDS[name]
    expected = qemu_user(arch, root, argv, stdin)
    result = run_xemu("run", "--accel", accel, "--rootfs", root, *argv, stdin=stdin,
                      env=guest_env, cwd=root)
    assert (result.stdout, result.stderr, result.returncode) == expected
