"""Claim 4: `ps` shows which accelerator runs a guest: like a QEMU
process, xemu's command line says accel=kvm or accel=tcg."""
from __future__ import annotations

import subprocess
import sys
import time

from .common import guest, kvm_usable

NAME = "ps"
TITLE = {"en": "Lab 4: ps shows accel=kvm or accel=tcg",
         "vi": "Bài 4: ps cho thấy accel=kvm hay accel=tcg"}
TEXT = {
    "en": {
        "start": "Two guests started in the background: x86-64 (auto: KVM if it can) and "
                 "PowerPC (translated).",
        "ps": "$ ps -eo pid,args | grep accel=",
        "line": "  {line}",
        "why": "xemu rewrites its process title the way QEMU's command line reads, so the "
               "classic `ps aux | grep accel=` tells a KVM guest from a translated one.",
        "nokvm": "KVM cannot be used here ({why}), so both say accel=tcg.",
    },
    "vi": {
        "start": "Hai máy khách chạy nền: x86-64 (auto: dùng KVM nếu được) và PowerPC "
                 "(dịch mã).",
        "ps": "$ ps -eo pid,args | grep accel=",
        "line": "  {line}",
        "why": "xemu viết lại tên tiến trình giống dòng lệnh của QEMU, nên lệnh quen thuộc "
               "`ps aux | grep accel=` phân biệt được máy khách chạy KVM với máy khách dịch mã.",
        "nokvm": "Không dùng được KVM ở đây ({why}), nên cả hai đều là accel=tcg.",
    },
}


def run(lab) -> dict:
    lab.say("start")
    children = [subprocess.Popen([sys.executable, "-m", "xemu", "run", "--arch", arch,
                                  str(guest(arch))], stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for arch in ("x86_64", "ppc")]
    for child in children:
        child.stdin.write(b"spin\n")
        child.stdin.flush()
    try:
        lines = _accel_lines({child.pid for child in children})
    finally:
        for child in children:
            child.kill()
            child.wait()
    lab.say("ps")
    for line in lines:
        lab.say("line", line=line)
    lab.say("why")
    usable, why = kvm_usable("x86_64")
    if not usable:
        lab.say("nokvm", why=why)
    return {"lines": lines, "kvm": usable}


def _accel_lines(pids: set[int], wait: float = 20.0) -> list[str]:
    """The ps lines of these processes once each shows its accel=."""
    deadline = time.monotonic() + wait
    while True:
        listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True,
                                 text=True).stdout.splitlines()
        lines = [line.strip() for line in listing
                 if "accel=" in line and line.split()[0].isdigit()
                 and int(line.split()[0]) in pids]
        if len(lines) == len(pids) or time.monotonic() > deadline:
            return lines
        time.sleep(0.1)
