"""Claim 5: acceleration depends on the architecture. KVM on an x86 host
runs x86 guests only; a PowerPC guest must be translated, and pays."""
from __future__ import annotations

from .common import guest, kvm_usable

NAME = "arch"
TITLE = {"en": "Lab 5: KVM accelerates only the host's own architecture",
         "vi": "Bài 5: KVM chỉ tăng tốc cho đúng kiến trúc của máy chủ"}
ROUNDS = 100_000_000
TEXT = {
    "en": {
        "ask": "$ xemu run --accel kvm --arch ppc labguest",
        "refused": "  {line}",
        "plan": "The same program built for both, {rounds:,} rounds of arithmetic:",
        "row": "  {how:<30} {seconds:6.2f} s",
        "cost": "The PowerPC build, translated, took {ratio:.1f}x the time of the x86-64 "
                "build on KVM.",
        "why": "KVM lets a program put the CPU into guest mode; the CPU then executes the "
               "guest's instructions itself, so they must be instructions it has. A PowerPC "
               "guest on this x86-64 host can only ever be translated.",
        "nokvm": "KVM cannot be used here ({why}); the refusal still shows the rule.",
    },
    "vi": {
        "ask": "$ xemu run --accel kvm --arch ppc labguest",
        "refused": "  {line}",
        "plan": "Cùng một chương trình, biên dịch cho cả hai, {rounds:,} vòng tính toán:",
        "row": "  {how:<30} {seconds:6.2f} giây",
        "cost": "Bản PowerPC, phải dịch mã, mất thời gian gấp {ratio:.1f} lần bản x86-64 "
                "chạy trên KVM.",
        "why": "KVM cho phép một chương trình đưa CPU vào chế độ máy khách; khi đó CPU tự "
               "thực thi các lệnh của máy khách, nên đó phải là những lệnh nó có. Máy khách "
               "PowerPC trên máy chủ x86-64 này chỉ có thể chạy bằng cách dịch mã.",
        "nokvm": "Không dùng được KVM ở đây ({why}); lời từ chối vẫn cho thấy quy tắc.",
    },
}


def run(lab) -> dict:
    lab.say("ask")
    refused = lab.xemu("run", "--accel", "kvm", "--arch", "ppc", str(guest("ppc")),
                       stdin="compute 1\n", stats=False)
    line = refused.stderr.strip().splitlines()[-1] if refused.stderr.strip() else ""
    lab.say("refused", line=line)
    lab.say("plan", rounds=ROUNDS)
    ppc = lab.compute("ppc", "tcg", ROUNDS)
    lab.say("row", how="ppc, xemu (TCG)", seconds=ppc.seconds)
    observations = {"refusal_status": refused.status, "refusal": line,
                    "ppc_seconds": ppc.seconds}
    usable, why = kvm_usable("x86_64")
    if usable:
        x86 = lab.compute("x86_64", "kvm", ROUNDS)
        lab.say("row", how="x86_64, xemu (KVM)", seconds=x86.seconds)
        lab.say("cost", ratio=ppc.seconds / x86.seconds)
        observations["x86_kvm_seconds"] = x86.seconds
    else:
        lab.say("nokvm", why=why)
    lab.say("why")
    return observations
