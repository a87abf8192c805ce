"""Bare-metal boards: the shipped examples under every usable accelerator,
the devices and semihosting on their own, and the ways a run can end."""
import shutil
import struct
import subprocess

import pytest

from tests.helpers import ROOT, kvm_skip_reason, run_xemu
from xemu.machine.accel.base import Exit
from xemu.machine.devices.exits import IsaDebugExit, TestDevice
from xemu.machine.devices.pl011 import Pl011
from xemu.machine.devices.semihosting import psci, semihosting
from xemu.machine.devices.uart16550 import Uart16550
from xemu.machine.memory import PROT_READ, PROT_WRITE, Memory

EXAMPLES = ROOT / "examples" / "baremetal"
# image, arch, accelerators, UART/semihosting output, status
SHIPPED = [
    ("boot.bin", "x86_64", ("tcg", "kvm"),
     b"Hello from a boot sector on the pc board\n", 33),
    ("aarch64.bin", "aarch64", ("tcg",),
     b"Hello from AArch64 on the virt board (PL011)\nand through semihosting\n", 5),
    ("arm.bin", "arm", ("tcg",), b"Hello from Arm on the virt board (PL011)\n", 0),
    ("ppc.bin", "ppc", ("tcg",), b"Hello from PowerPC on the virt board\n", 3),
]


def shipped():
    for image, arch, accels, output, status in SHIPPED:
        for accel in accels:
            yield pytest.param(image, arch, accel, output, status, id=f"{arch}-{accel}")


@pytest.mark.parametrize("image,arch,accel,output,status", list(shipped()))
def test_shipped_examples(image, arch, accel, output, status):
    if accel == "kvm" and kvm_skip_reason():
        pytest.skip(kvm_skip_reason())
    result = run_xemu("run", "--arch", arch, "--accel", accel, str(EXAMPLES / image))
    assert result.stdout == output
    assert result.returncode == status, result.stderr


def raw(tmp_path, code: bytes):
    path = tmp_path / "image.bin"
    path.write_bytes(code)
    return str(path)


def test_psci_system_off_stops_with_0(tmp_path):
    # movz x0, #8; movk x0, #0x8400, lsl #16; hvc #0
    code = bytes.fromhex("000180d2" "0080b0f2" "020000d4")
    assert run_xemu("run", "--arch", "aarch64", raw(tmp_path, code)).returncode == 0


def test_access_with_no_ram_or_device_is_reported(tmp_path):
    result = run_xemu("run", "--arch", "aarch64", raw(tmp_path, bytes.fromhex("010040b9")))
    assert result.returncode == 139                  # ldr w1, [x0] with x0 = 0
    assert "unmapped read at 0x0, pc 0x40000000: ldr w1, [x0]" in result.stderr.decode()


def test_a_spinning_board_stops_at_the_timeout(tmp_path):
    result = run_xemu("run", "--arch", "arm", "--timeout", "0.5",
                      raw(tmp_path, bytes.fromhex("feffffea")))          # b .
    assert result.returncode == 124


@pytest.mark.parametrize("accel", ["tcg", "kvm"])
def test_hlt_with_interrupts_off_stops_with_0(accel, tmp_path):
    if accel == "kvm" and kvm_skip_reason():
        pytest.skip(kvm_skip_reason())
    code = bytes.fromhex("fa" "f4")                                       # cli; hlt
    result = run_xemu("run", "--arch", "x86_64", "--accel", accel, raw(tmp_path, code))
    assert result.returncode == 0, result.stderr


def test_raw_images_need_an_arch_and_must_fit_in_ram(tmp_path):
    image = raw(tmp_path, b"\0" * 4)
    result = run_xemu("run", image)
    assert result.returncode == 2 and b"give --arch" in result.stderr
    result = run_xemu("run", "--arch", "aarch64", "--load", "0x10", image)
    assert result.returncode == 2 and b"not in the board's RAM" in result.stderr


def test_kvm_refused_for_an_arm_board():
    result = run_xemu("run", "--arch", "arm", "--accel", "kvm", str(EXAMPLES / "arm.bin"))
    assert result.returncode == 2 and b"cannot execute arm instructions" in result.stderr


# -- the devices on their own --------------------------------------------------

def test_uart16550_says_ready_and_keeps_the_divisor(tmp_path):
    out = tmp_path / "out"
    with open(out, "wb") as f:
        uart = Uart16550(f.fileno())
        assert uart.read(5, 1) & 0x60 == 0x60             # LSR: ready to send
        uart.write(3, 1, 0x80)                           # DLAB on
        uart.write(0, 1, 12)                             # divisor, not data
        uart.write(3, 1, 0x03)
        uart.write(0, 1, ord("A"))
        assert uart.read(3, 1) == 0x03
    assert out.read_bytes() == b"A"


def test_pl011_flags_and_data(tmp_path):
    out = tmp_path / "out"
    with open(out, "wb") as f:
        uart = Pl011(f.fileno())
        assert uart.read(0x18, 4) & 0x90 == 0x90          # FR: TX empty, RX empty
        uart.write(0, 4, ord("z"))
    assert out.read_bytes() == b"z"


def test_exit_devices():
    assert IsaDebugExit().write(0, 1, 3) == Exit(7)
    assert TestDevice().write(0, 4, 0x5555) == Exit(0)
    assert TestDevice().write(0, 4, (9 << 16) | 0x3333) == Exit(9)
    assert TestDevice().write(0, 4, 0x1234) is None


def test_semihosting_exit_forms():
    memory = Memory()
    memory.map(0x1000, 0x1000, PROT_READ | PROT_WRITE)
    memory.write(0x1000, struct.pack("<QQ", 0x20026, 42))
    assert semihosting(0x18, 0x1000, memory, 8, "<") == Exit(42)      # A64 SYS_EXIT
    assert semihosting(0x18, 0x20026, memory, 4, "<") == Exit(0)      # A32 SYS_EXIT
    assert semihosting(0x18, 0x20023, memory, 4, "<") == Exit(1)      # other reason
    memory.write(0x1000, struct.pack("<II", 0x20026, 7))
    assert semihosting(0x20, 0x1000, memory, 4, "<") == Exit(7)      # SYS_EXIT_EXTENDED
    assert psci(0x84000008) == Exit(0) and psci(0x84000000) == 0x10000


# -- the same images under qemu-system, where it is installed -------------------

QEMU_SYSTEM = {
    "boot.bin": ["qemu-system-x86_64", "-display", "none", "-serial", "stdio",
                 "-device", "isa-debug-exit,iobase=0x501,iosize=2", "-drive",
                 "format=raw,file={image}", "-no-reboot"],
    "arm.bin": ["qemu-system-arm", "-M", "virt", "-display", "none", "-serial", "stdio",
                "-semihosting", "-kernel", "{image}"],
}


@pytest.mark.parametrize("image", list(QEMU_SYSTEM))
def test_same_as_qemu_system(image, tmp_path):
    command = QEMU_SYSTEM[image]
    if not shutil.which(command[0]):
        pytest.skip(f"{command[0]} is not installed (apt-get install qemu-system-x86 "
                    "qemu-system-arm)")
    path = tmp_path / image
    path.write_bytes((EXAMPLES / image).read_bytes())
    reference = subprocess.run([part.format(image=path) for part in command],
                               capture_output=True, timeout=60)
    arch = next(a for i, a, *_ in SHIPPED if i == image)
    ours = run_xemu("run", "--arch", arch, str(path))
    assert ours.stdout == reference.stdout.replace(b"\r\n", b"\n")
    assert ours.returncode == reference.returncode


def freestanding_elf(code: bytes, address: int) -> bytes:
    """A minimal ELF64 for AArch64: a header and one PT_LOAD holding code."""
    header_size, phdr_size = 64, 56
    offset = header_size + phdr_size
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)            # 64-bit, LE, v1
    header = ident + struct.pack("<HHIQQQIHHHHHH", 2, 183, 1, address, header_size, 0, 0,
                                 header_size, phdr_size, 1, 64, 0, 0)   # ET_EXEC, EM_AARCH64
    phdr = struct.pack("<IIQQQQQQ", 1, 7, offset, address, address, len(code), len(code),
                       0x1000)                                  # PT_LOAD, RWX
    return header + phdr + code


def test_freestanding_elf_on_a_board(tmp_path):
    path = tmp_path / "kernel.elf"
    path.write_bytes(freestanding_elf((EXAMPLES / "aarch64.bin").read_bytes(), 0x40000000))
    result = run_xemu("run", "--machine", "virt", str(path))      # the arch from the header
    assert result.stdout.startswith(b"Hello from AArch64 on the virt board")
    assert result.returncode == 5
    mismatch = run_xemu("run", "--machine", "virt", "--arch", "arm", str(path))
    assert mismatch.returncode == 2 and b"aarch64 program" in mismatch.stderr
