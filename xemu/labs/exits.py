"""Claim 6, as the course material puts type 1 and type 2: a type-2
hypervisor serves its guest's exits in an ordinary process on a host OS,
and each exit costs what that process takes. Measured here on a guest
that makes system calls and little else."""
from __future__ import annotations

from .common import guest, kvm_usable, run_native

NAME = "exits"
TITLE = {"en": "Lab 6: where a system-call-heavy guest's time goes (type 1 and type 2)",
         "vi": "Bài 6: thời gian của máy khách gọi hệ thống nhiều đi đâu (loại 1 và loại 2)"}
CALLS = 50_000
TEXT = {
    "en": {
        "plan": "The x86-64 guest makes {calls:,} getppid system calls; each way is timed "
                "with {calls:,} calls and with none, and the difference divided by {calls:,}:",
        "row": "  {how:<44} {per_call:8.2f} us per call   (start-up {startup:.2f} s)",
        "native": "natively: the host kernel serves it",
        "kvm": "xemu --accel kvm: an exit to xemu",
        "tcg": "xemu --accel tcg: answered at the trap, in C",
        "tcg_python": "xemu --accel tcg --stats: up to Python",
        "exits": "Under KVM every call was a VM exit: {exits:,} exits for {calls:,} calls. "
                 "This host's KVM: {flavour}.",
        "why": "The guest's own instructions cost almost nothing here; the time is the exits. "
               "A type-1 hypervisor (Xen, ESXi, KVM's own kernel half) handles an exit inside "
               "the kernel, in well under a microsecond; a type-2 one (QEMU, xemu) returns to "
               "a user process, here one written in Python, {ratio:.0f}x the native call.",
        "where": "Under TCG the same call costs {c_us:.2f} us when xemu's C code answers it "
                 "right at the trap, and {python_us:.2f} us when it goes up to Python (--stats "
                 "must count every call): where an exit is served decides its price, which is "
                 "the difference between the two types.",
        "nokvm": "KVM cannot be used here ({why}): only native and translated are shown.",
    },
    "vi": {
        "plan": "Máy khách x86-64 thực hiện {calls:,} lời gọi hệ thống getppid; mỗi cách được "
                "đo với {calls:,} lời gọi và với không lời gọi nào, rồi lấy hiệu chia cho "
                "{calls:,}:",
        "row": "  {how:<44} {per_call:8.2f} us mỗi lời gọi   (khởi động {startup:.2f} giây)",
        "native": "chạy trực tiếp: nhân máy chủ phục vụ",
        "kvm": "xemu --accel kvm: một lần thoát về xemu",
        "tcg": "xemu --accel tcg: trả lời ngay tại bẫy, bằng C",
        "tcg_python": "xemu --accel tcg --stats: lên tới Python",
        "exits": "Với KVM mỗi lời gọi là một lần thoát VM: {exits:,} lần thoát cho {calls:,} "
                 "lời gọi. KVM của máy này: {flavour}.",
        "why": "Các lệnh của chính máy khách gần như không tốn gì ở đây; thời gian nằm ở các "
               "lần thoát. Hypervisor loại 1 (Xen, ESXi, nửa trong nhân của KVM) xử lý một lần "
               "thoát ngay trong nhân, dưới một micro giây; hypervisor loại 2 (QEMU, xemu) "
               "quay về một tiến trình người dùng, ở đây viết bằng Python, gấp {ratio:.0f} lần "
               "lời gọi trực tiếp.",
        "where": "Với TCG, cùng lời gọi đó tốn {c_us:.2f} us khi mã C của xemu trả lời ngay tại "
                 "bẫy, và {python_us:.2f} us khi nó phải lên tới Python (--stats phải đếm từng "
                 "lời gọi): nơi phục vụ một lần thoát quyết định giá của nó, đó chính là khác "
                 "biệt giữa hai loại.",
        "nokvm": "Không dùng được KVM ở đây ({why}): chỉ có chạy trực tiếp và dịch mã.",
    },
}


def run(lab) -> dict:
    lab.say("plan", calls=CALLS)
    native = _per_call(lambda line: (run_native(guest("x86_64"), line), 0))
    lab.say("row", how=lab.text["native"], **native)
    observations = {"native_us": native["per_call"]}
    usable, why = kvm_usable("x86_64")
    # (way, accelerator, --stats: every call counted, so every call reaches Python)
    ways = ((("kvm", "kvm", True),) if usable else ()) + (("tcg", "tcg", False),
                                                           ("tcg_python", "tcg", True))
    for way, accel, counted in ways:
        found = _per_call(lambda line, accel=accel, counted=counted:
                          _xemu(lab, accel, line, counted))
        lab.say("row", how=lab.text[way], **found)
        observations[f"{way}_us"] = found["per_call"]
        if accel == "kvm":
            observations["kvm_exits"] = found["exits"]
    if usable:
        from ..machine.select import kvm_flavour
        lab.say("exits", exits=observations["kvm_exits"], calls=CALLS, flavour=kvm_flavour())
        lab.say("why", ratio=observations["kvm_us"] / max(native["per_call"], 1e-3))
    else:
        lab.say("nokvm", why=why)
    lab.say("where", c_us=observations["tcg_us"], python_us=observations["tcg_python_us"])
    return observations


def _per_call(run_with) -> dict:
    """Microseconds per call: (the time with CALLS calls - without) / CALLS."""
    startup, _ = run_with("syscalls 0\n")
    total, exits = run_with(f"syscalls {CALLS}\n")
    return {"per_call": max(0.0, total - startup) / CALLS * 1e6, "startup": startup,
            "exits": exits}


def _xemu(lab, accel: str, line: str, counted: bool) -> tuple[float, int]:
    done = lab.xemu("run", "--accel", accel, str(guest("x86_64")), stdin=line, stats=counted)
    return done.seconds, done.stats.get("vm_exits_total", 0)
