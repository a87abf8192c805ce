"""Claim 1: an emulator alone (QEMU without KVM) is a complete type-2
hypervisor: it runs a guest with no hardware help, translating every
instruction (TCG)."""
from __future__ import annotations

from .common import guest

NAME = "translation"
TITLE = {"en": "Lab 1: translation alone runs a foreign guest (TCG)",
         "vi": "Bài 1: chỉ dịch mã cũng chạy được máy khách khác kiến trúc (TCG)"}
ROUNDS = 2_000_000          # --stats counts every block: a short run
TEXT = {
    "en": {
        "run": "$ {command}",
        "ran": "The PowerPC guest printed: {output}",
        "stats": "xemu translated it block by block: {blocks:,} translation blocks ran "
                 "({instructions:,} guest instructions) in {seconds:.2f} s, accelerator "
                 "{accel}.",
        "why": "This x86-64 CPU cannot execute a single PowerPC instruction. Every one was "
               "rewritten into x86-64 code first (QEMU's TCG, inside Unicorn), and the "
               "translations were reused: the same blocks ran again and again.",
        "info": "What `xemu info` says about ppc here: {line}",
        "nokvm": "No KVM was involved: {why}",
        "failed": "The guest did not run as expected (status {status}): {stderr}",
    },
    "vi": {
        "run": "$ {command}",
        "ran": "Máy khách PowerPC in ra: {output}",
        "stats": "xemu dịch nó theo từng khối: {blocks:,} khối dịch đã chạy "
                 "({instructions:,} lệnh của máy khách) trong {seconds:.2f} giây, bộ tăng tốc "
                 "{accel}.",
        "why": "CPU x86-64 này không thể thực thi dù chỉ một lệnh PowerPC. Mỗi lệnh được "
               "viết lại thành mã x86-64 trước (TCG của QEMU, bên trong Unicorn), và các "
               "bản dịch được dùng lại: cùng những khối ấy chạy đi chạy lại.",
        "info": "`xemu info` nói gì về ppc ở máy này: {line}",
        "nokvm": "Không có KVM nào tham gia: {why}",
        "failed": "Máy khách không chạy như mong đợi (mã {status}): {stderr}",
    },
}


def run(lab) -> dict:
    done = lab.xemu("run", "--stats", "--arch", "ppc", str(_guest()), stdin=f"compute {ROUNDS}\n")
    lab.say("run", command=f"echo 'compute {ROUNDS}' | xemu run --stats --arch ppc labguest")
    if done.status != 0:
        lab.say("failed", status=done.status, stderr=done.stderr.strip())
        return {"ran": False}
    blocks = _stat_line(done.stderr, "translation blocks executed")
    lab.say("ran", output=done.stdout.strip())
    lab.say("stats", blocks=blocks[0], instructions=blocks[1],
            seconds=done.stats.get("wall_seconds", done.seconds), accel=done.stats["accel"])
    lab.say("why")
    info = lab.xemu("info", stats=False)
    line = next((row.strip() for row in info.stdout.splitlines() if row.startswith("ppc")), "")
    lab.say("info", line=" ".join(line.split()))
    lab.say("nokvm", why=line.split("translated:", 1)[-1].strip())
    return {"ran": True, "accel": done.stats["accel"], "blocks": blocks[0],
            "instructions": blocks[1], "output": done.stdout.strip()}


def _guest():
    return guest("ppc")


def _stat_line(stderr: str, words: str) -> tuple[int, int]:
    """(blocks, instructions) from --stats' line on stderr."""
    for line in stderr.splitlines():
        if words in line:
            numbers = [int(part.replace(",", "")) for part in line.split()
                       if part.replace(",", "").isdigit()]
            return numbers[0], numbers[-1]
    return 0, 0
