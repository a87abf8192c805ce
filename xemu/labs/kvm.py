"""Claim 2: KVM alone runs nothing. It is a kernel module that lets a user
program put the CPU into guest mode; memory, devices, loading and every
exit are that program's job (QEMU's, here xemu's).

The lab drives the raw KVM API itself, step by step (xemu's thin wrappers
over each ioctl), on the classic first guest: a few real-mode bytes that
write "Hi" to the serial port at 0x3f8 and halt. Then it runs the same
guest with the exits left unserved.
"""
from __future__ import annotations

import mmap

from .common import kvm_usable

NAME = "kvm"
TITLE = {"en": "Lab 2: KVM alone runs nothing; the VM needs its user-space half",
         "vi": "Bài 2: chỉ riêng KVM không chạy được gì; máy ảo cần nửa ở không gian người dùng"}
# mov dx, 0x3f8; mov al, 'H'; out dx, al; mov al, 'i'; out dx, al;
# mov al, 10; out dx, al; hlt   (16-bit real mode, at CODE)
GUEST = bytes.fromhex("BAF803" "B048" "EE" "B069" "EE" "B00A" "EE" "F4")
CODE = 0x1000
RAM = 0x10000
TSS = 0xFFFBD000                  # three pages Intel's real mode wants, outside RAM
MAX_EXITS = 32
TEXT = {
    "en": {
        "open": "1. open(\"/dev/kvm\"), KVM_GET_API_VERSION: {version}. KVM is a device, "
                "not a program: it runs nothing by itself.",
        "vm": "2. KVM_CREATE_VM: a virtual machine with no memory, no CPU, no devices.",
        "memory": "3. mmap {size} KiB in this process, copy the guest's {code} bytes to {at:#x}, "
                  "KVM_SET_USER_MEMORY_REGION: that memory is the guest's RAM.",
        "vcpu": "4. KVM_CREATE_VCPU, KVM_SET_SREGS (real mode, CS=0), KVM_SET_REGS "
                "(RIP={at:#x}).",
        "run": "5. KVM_RUN in a loop, serving each exit as QEMU would:",
        "exit_io": "   exit {n}: KVM_EXIT_IO, out to port {port:#x}, {size} byte: {shown}",
        "exit_hlt": "   exit {n}: KVM_EXIT_HLT: the guest halted",
        "exit_other": "   exit {n}: {name}",
        "served": "The serial port (this program's job, not KVM's) printed: {output!r}",
        "unserved": "6. The same guest again, the exits left unserved: {exits} exits came "
                    "back, and {chars} characters appeared.",
        "why": "The CPU ran the guest's instructions in guest mode, but every `out` left guest "
               "mode for user space: there is no serial port unless the user-space half "
               "(QEMU, xemu) provides one. KVM plus that half is a hypervisor; KVM alone is not.",
        "nokvm": "KVM cannot be used here ({why}): this lab needs /dev/kvm.",
    },
    "vi": {
        "open": "1. open(\"/dev/kvm\"), KVM_GET_API_VERSION: {version}. KVM là một thiết bị, "
                "không phải một chương trình: tự nó không chạy gì cả.",
        "vm": "2. KVM_CREATE_VM: một máy ảo chưa có bộ nhớ, chưa có CPU, chưa có thiết bị.",
        "memory": "3. mmap {size} KiB trong tiến trình này, chép {code} byte của máy khách vào "
                  "{at:#x}, KVM_SET_USER_MEMORY_REGION: vùng nhớ đó là RAM của máy khách.",
        "vcpu": "4. KVM_CREATE_VCPU, KVM_SET_SREGS (chế độ thực, CS=0), KVM_SET_REGS "
                "(RIP={at:#x}).",
        "run": "5. KVM_RUN trong một vòng lặp, phục vụ từng lần thoát như QEMU vẫn làm:",
        "exit_io": "   lần thoát {n}: KVM_EXIT_IO, ghi ra cổng {port:#x}, {size} byte: {shown}",
        "exit_hlt": "   lần thoát {n}: KVM_EXIT_HLT: máy khách dừng (hlt)",
        "exit_other": "   lần thoát {n}: {name}",
        "served": "Cổng nối tiếp (việc của chương trình này, không phải của KVM) in ra: "
                  "{output!r}",
        "unserved": "6. Chạy lại cùng máy khách, không phục vụ các lần thoát: {exits} lần thoát "
                    "quay về, và có {chars} ký tự hiện ra.",
        "why": "CPU đã chạy các lệnh của máy khách ở chế độ khách, nhưng mỗi lệnh `out` đều "
               "rời chế độ khách về không gian người dùng: không có cổng nối tiếp nào trừ khi "
               "nửa ở không gian người dùng (QEMU, xemu) cung cấp. KVM cộng với nửa ấy mới là "
               "một hypervisor; chỉ riêng KVM thì không.",
        "nokvm": "Không dùng được KVM ở đây ({why}): bài này cần /dev/kvm.",
    },
}


def run(lab) -> dict:
    usable, why = kvm_usable("x86_64")
    if not usable:
        lab.say("nokvm", why=why)
        return {"kvm": False}
    from ..machine.accel.kvm.vm import Kvm
    from ..machine.memory import buffer_address
    kvm = Kvm()
    lab.say("open", version=kvm.api_version)
    vm = kvm.create_vm()
    lab.say("vm")
    ram = mmap.mmap(-1, RAM)
    ram[CODE:CODE + len(GUEST)] = GUEST
    vm.set_memory(0, 0, RAM, buffer_address(ram))
    vm.set_tss_address(TSS)
    lab.say("memory", size=RAM // 1024, code=len(GUEST), at=CODE)
    try:
        vcpu = vm.create_vcpu(0)
        _real_mode(vcpu)
        lab.say("vcpu", at=CODE)
        lab.say("run")
        served, exits = _run(vcpu, lab, serve=True)
        lab.say("served", output=served)
        _real_mode(vcpu)
        unserved, unserved_exits = _run(vcpu, lab, serve=False)
        lab.say("unserved", exits=len(unserved_exits), chars=len(unserved))
        lab.say("why")
        vcpu.close()
    finally:
        vm.close()
        kvm.close()
    return {"kvm": True, "served_output": served, "exits": exits,
            "unserved_output": unserved, "unserved_exits": unserved_exits}


def _real_mode(vcpu) -> None:
    """Real mode (xemu's pc board's set-up), CS:IP = 0:CODE, interrupts off."""
    from ..machine.accel.kvm.structs import kvm_regs, kvm_sregs
    from ..machine.accel.kvm.x86.realmode import real_mode
    vcpu.set_sregs(real_mode(vcpu.get_sregs(kvm_sregs())))
    regs = kvm_regs()
    regs.rip, regs.rflags = CODE, 0x2
    vcpu.set_regs(regs)


def _run(vcpu, lab, serve: bool) -> tuple[str, list[str]]:
    """KVM_RUN until hlt: (what the serial port printed, each exit named).
    serve: print the exits and play the serial port, as QEMU's loop does."""
    from ..machine.accel.kvm.exits import Halted, PortIO, decode_exit
    output, exits = "", []
    for n in range(1, MAX_EXITS + 1):
        exit = decode_exit(vcpu.run())
        if isinstance(exit, PortIO):
            exits.append(f"io {exit.port:#x}")
            if serve:
                char = chr(exit.data & 0xFF)
                lab.say("exit_io", n=n, port=exit.port, size=exit.size, shown=repr(char))
                if exit.port == 0x3F8:
                    output += char
            continue
        if isinstance(exit, Halted):
            exits.append("hlt")
            if serve:
                lab.say("exit_hlt", n=n)
            break
        exits.append(type(exit).__name__.lower())
        if serve:
            lab.say("exit_other", n=n, name=type(exit).__name__)
        break
    return output, exits
