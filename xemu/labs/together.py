"""Claim 3: KVM and a user-space emulator together are fast: the guest's
instructions run on the CPU itself and only exits cost anything."""
from __future__ import annotations

from .common import guest, kvm_usable, run_native

NAME = "together"
TITLE = {"en": "Lab 3: KVM and xemu together run the guest at the CPU's own speed",
         "vi": "Bài 3: KVM cùng xemu chạy máy khách với tốc độ của chính CPU"}
ROUNDS = 100_000_000
TEXT = {
    "en": {
        "plan": "The same x86-64 program ({rounds:,} rounds of arithmetic), three ways:",
        "row": "  {how:<28} {seconds:6.2f} s   {detail}",
        "native": "natively (no xemu)",
        "kvm": "xemu --accel kvm",
        "tcg": "xemu --accel tcg",
        "exits": "{exits} VM exits ({reasons})",
        "blocks": "every instruction translated",
        "ratio": "Under KVM the guest ran {ratio:.1f}x faster than translated. Its {extra:.2f} s "
                 "over the native run is mostly xemu starting (Python, Unicorn, the VM), "
                 "not the guest's instructions.",
        "why": "Under KVM the CPU runs the guest's instructions itself; xemu (the user-space "
               "half, QEMU's role) only served the {exits} exits, here the system calls.",
        "nokvm": "KVM cannot be used here ({why}): only the translated run is shown.",
    },
    "vi": {
        "plan": "Cùng một chương trình x86-64 ({rounds:,} vòng tính toán), theo ba cách:",
        "row": "  {how:<28} {seconds:6.2f} giây   {detail}",
        "native": "chạy trực tiếp (không xemu)",
        "kvm": "xemu --accel kvm",
        "tcg": "xemu --accel tcg",
        "exits": "{exits} lần thoát VM ({reasons})",
        "blocks": "mọi lệnh đều được dịch",
        "ratio": "Với KVM máy khách chạy nhanh hơn {ratio:.1f} lần so với khi dịch mã. "
                 "{extra:.2f} giây chậm hơn so với chạy trực tiếp chủ yếu là thời gian xemu khởi "
                 "động (Python, Unicorn, máy ảo), không phải các lệnh của máy khách.",
        "why": "Với KVM, CPU tự chạy các lệnh của máy khách; xemu (nửa chạy ở không gian "
               "người dùng, vai trò của QEMU) chỉ phục vụ {exits} lần thoát, ở đây là các "
               "lời gọi hệ thống.",
        "nokvm": "Không dùng được KVM ở đây ({why}): chỉ có lần chạy dịch mã.",
    },
}


def chart(observations: dict, path: str, lang: str) -> None:
    """The three times as a bar chart (PNG) for a report: matplotlib, from
    the bench extra (pip install 'xemu[bench]')."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        from matplotlib import pyplot
    except ImportError:
        raise RuntimeError("--chart needs matplotlib: pip install 'xemu[bench]'") from None
    text = TEXT[lang]
    bars = [(text["native"], observations["native_seconds"])]
    if "kvm_seconds" in observations:
        bars.append((text["kvm"], observations["kvm_seconds"]))
    bars.append((text["tcg"], observations["tcg_seconds"]))
    figure, axes = pyplot.subplots(figsize=(7, 3.2))
    axes.barh([name for name, _ in bars][::-1], [seconds for _, seconds in bars][::-1],
              color=["C2", "C0", "C3"][:len(bars)][::-1])
    axes.set_xlabel("s" if lang == "en" else "giây")
    axes.set_title(TITLE[lang], fontsize=10)
    for y, (_, seconds) in enumerate(bars[::-1]):
        axes.text(seconds, y, f" {seconds:.2f}", va="center")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    pyplot.close(figure)


def run(lab) -> dict:
    lab.say("plan", rounds=ROUNDS)
    native = run_native(guest("x86_64"), f"compute {ROUNDS}\n")
    lab.say("row", how=lab.text["native"], seconds=native, detail="")
    usable, why = kvm_usable("x86_64")
    observations = {"native_seconds": native}
    if usable:
        kvm = lab.compute("x86_64", "kvm", ROUNDS)
        exits = kvm.stats.get("vm_exits", {})
        reasons = ", ".join(f"{reason} {count}" for reason, count in exits.items())
        lab.say("row", how=lab.text["kvm"], seconds=kvm.seconds,
                detail=lab.text["exits"].format(exits=kvm.stats.get("vm_exits_total", 0),
                                                reasons=reasons))
        observations.update(kvm_seconds=kvm.seconds, vm_exits=exits)
    tcg = lab.compute("x86_64", "tcg", ROUNDS)
    lab.say("row", how=lab.text["tcg"], seconds=tcg.seconds, detail=lab.text["blocks"])
    observations["tcg_seconds"] = tcg.seconds
    if usable:
        lab.say("ratio", ratio=tcg.seconds / kvm.seconds, extra=max(0.0, kvm.seconds - native))
        lab.say("why", exits=kvm.stats.get("vm_exits_total", 0))
        observations["kvm_faster"] = kvm.seconds < tcg.seconds
    else:
        lab.say("nokvm", why=why)
    return observations
