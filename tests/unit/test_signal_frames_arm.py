"""Signal frames of 32-bit ARM and AArch64 (xemu/archs/{arm,aarch64}/signal.py)
against the kernel's layouts (arch/arm/kernel/signal.c,
arch/arm64/kernel/signal.c), under TCG: set up a frame, check the handler's
entry state and the frame's contents at the kernel's offsets, then sigreturn
and get every register back."""
from __future__ import annotations

import struct

import capstone
import pytest

from xemu.archs import by_name
from xemu.archs.base import (OLD_SIGRETURN_OFFSET, SA_ONSTACK, SA_RESTORER, SA_SIGINFO,
                             SignalDelivery)
from xemu.errors import GuestMemoryError
from xemu.machine.accel.tcg import TcgAccelerator
from xemu.machine.memory import PROT_READ, PROT_WRITE, Memory

STACK, STACK_SIZE = 0x100000, 0x10000
ALT, ALT_SIZE = 0x200000, 0x4000
TRAMPOLINE = 0x300000
SIGUSR1, SIGSEGV = 10, 11
BLOCKED = (1 << 63) | (1 << 40) | (1 << 33) | (1 << 1) | 1    # both words of the sigset


def machine(arch: str):
    memory = Memory()
    memory.map(STACK, STACK_SIZE, PROT_READ | PROT_WRITE)
    memory.map(ALT, ALT_SIZE, PROT_READ | PROT_WRITE)
    return memory, TcgAccelerator(by_name(arch), memory).regs


def siginfo(bits: int, signum: int = SIGUSR1, code: int = -6, addr: int = 0) -> bytes:
    head = struct.pack("<iii", signum, 0, code)
    if bits == 64:
        head += bytes(4) + struct.pack("<Q", addr)
    else:
        head += struct.pack("<I", addr)
    return head + bytes(range(len(head), 128))


def delivery(arch: str, flags: int, handler: int, sp: int, switched: bool = False,
             restorer: int = 0, signum: int = SIGUSR1, info: bytes | None = None) -> SignalDelivery:
    bits = by_name(arch).bits
    return SignalDelivery(
        signum=signum, handler=handler, flags=flags, restorer=restorer,
        siginfo=info or siginfo(bits, signum), blocked=BLOCKED, sp=sp,
        altstack=(ALT, 0, ALT_SIZE) if switched else (0, 2, 0),     # SS_DISABLE
        trampoline=TRAMPOLINE, switched=switched)


# ---------------------------------------------------------------- 32-bit ARM

ARM = by_name("arm")
ARM_FRAMES = ARM.signal_frames
ARM_GPRS = [f"r{i}" for i in range(13)] + ["sp", "lr"]
PSR_T, MODE_BITS = 1 << 5, 0x1df          # mode and A/I/F: xemu's, never the frame's
ARM_RT_SIZE, ARM_OLD_SIZE = 888, 760       # rt_sigframe, sigframe (retcode[4])
MC = 20                                    # uc_mcontext in struct ucontext


def arm_set_all(regs, sp: int, thumb: bool, seed: int = 0) -> dict:
    """Distinct values in every register the frame holds; returns them."""
    values = {}
    for i, name in enumerate(ARM_GPRS):
        values[name] = (0x11111111 * (i + 1) + seed * 0x01010101) & 0xffffffff
    values["sp"] = sp
    for name, value in values.items():
        regs.write(name, value)
    for i in range(32):
        values[f"d{i}"] = (0x0123456789abcdef * (i + 3) + seed) & (1 << 64) - 1
        regs.write(f"d{i}", values[f"d{i}"])
    values["fpscr"] = 0x60370011 ^ (seed << 28 & 0x80000000)   # with LEN and STRIDE set
    values["fpexc"] = 0x40000700
    regs.write("fpscr", values["fpscr"])
    regs.write("fpexc", values["fpexc"])
    values["pc"] = 0x8124 + 4 * seed
    regs.write("pc", values["pc"])
    mode = regs.read("cpsr") & MODE_BITS
    # NZCV, Q, GE; and IT bits in Thumb state
    cpsr = mode | 0xa80b0000 | ((PSR_T | 0x0400_0c00) if thumb else 0)
    regs.write("cpsr", cpsr)
    values["cpsr"] = regs.read("cpsr")
    assert values["cpsr"] == cpsr
    return values


def arm_read_all(regs) -> dict:
    names = ARM_GPRS + [f"d{i}" for i in range(32)] + ["fpscr", "fpexc", "pc", "cpsr"]
    return {name: regs.read(name) for name in names}


def arm_garbage(regs) -> None:
    mode = regs.read("cpsr") & MODE_BITS
    arm_set_all(regs, 0xdead0000, thumb=False, seed=7)
    regs.write("cpsr", mode | 0x50000000)


@pytest.mark.parametrize("rt", [True, False], ids=["rt", "old"])
@pytest.mark.parametrize("thumb_handler,thumb_interrupted", [(False, True), (True, False)])
def test_arm_round_trip(rt, thumb_handler, thumb_interrupted):
    memory, regs = machine("arm")
    sp = STACK + 0x8004                                 # not 8-aligned: the frame is
    original = arm_set_all(regs, sp, thumb_interrupted)
    handler = 0x9000 | thumb_handler
    d = delivery("arm", SA_SIGINFO if rt else 0, handler, sp)
    frame, kept = ARM_FRAMES.setup(regs, memory, d)

    size = ARM_RT_SIZE if rt else ARM_OLD_SIZE
    assert frame == (sp - size) & ~7 and frame % 8 == 0
    # handler entry
    assert regs.read("pc") == 0x9000
    cpsr = regs.read("cpsr")
    assert bool(cpsr & PSR_T) == thumb_handler
    assert cpsr & 0xff000000 == 0 and cpsr & 0x0600fc00 == 0 and cpsr & (1 << 9) == 0
    assert cpsr & MODE_BITS == original["cpsr"] & MODE_BITS
    assert cpsr & 0x000f0000 == original["cpsr"] & 0x000f0000        # GE kept
    assert regs.read("r0") == SIGUSR1
    assert regs.read("sp") == frame
    uc = frame + 128 if rt else frame
    if rt:
        assert regs.read("r1") == frame and regs.read("r2") == uc
        assert memory.read(frame, 128) == d.siginfo
    assert regs.read("lr") == TRAMPOLINE + (0 if rt else OLD_SIGRETURN_OFFSET)
    assert regs.read("fpscr") == original["fpscr"] & ~((7 << 16) | (3 << 20))
    # struct ucontext
    flags, link, ss_sp, ss_flags, ss_size = struct.unpack("<IIIiI", memory.read(uc, 20))
    assert flags == (0 if rt else 0x5ac3c35a) and link == 0
    assert (ss_sp, ss_flags, ss_size) == d.altstack
    context = struct.unpack("<21I", memory.read(uc + MC, 84))
    assert context[2] == BLOCKED & 0xffffffff                          # oldmask
    assert list(context[3:18]) == [original[n] for n in ARM_GPRS]
    assert context[18] == original["pc"]
    assert context[19] == (original["cpsr"] & 0xfffffe20) | 0x10        # user-mode view
    assert struct.unpack("<II", memory.read(uc + 104, 8)) == (BLOCKED & 0xffffffff, BLOCKED >> 32)
    magic, vsize = struct.unpack("<II", memory.read(uc + 232, 8))
    assert (magic, vsize) == (0x56465001, 288)
    fpregs = struct.unpack("<32Q", memory.read(uc + 240, 256))
    assert list(fpregs) == [original[f"d{i}"] for i in range(32)]
    assert struct.unpack("<I", memory.read(uc + 232 + 264, 4))[0] == original["fpscr"]
    assert struct.unpack("<I", memory.read(uc + 232 + 272, 4))[0] == original["fpexc"]
    assert memory.read(uc + 232 + 288, 4) == bytes(4)                  # end magic
    # the kernel's sigreturn code in retcode, ARM or Thumb as the handler
    retcode = struct.unpack("<II", memory.read(uc + 744, 8))
    number = ARM.linux.syscall_numbers["rt_sigreturn" if rt else "sigreturn"]
    if thumb_handler:
        assert retcode[0] == 0xdf002700 | number
    else:
        assert retcode == (0xe3a07000 | number, 0xef900000 | number)

    # the handler runs and returns through the trampoline: sp is the frame again
    arm_garbage(regs)
    regs.write("sp", frame)
    blocked = ARM_FRAMES.restore(regs, memory, rt, {frame: kept}).blocked
    assert blocked == BLOCKED
    assert arm_read_all(regs) == original


def test_arm_handler_edits_frame():
    memory, regs = machine("arm")
    arm_set_all(regs, STACK + 0x8000, thumb=False)
    frame, kept = ARM_FRAMES.setup(regs, memory, delivery("arm", SA_SIGINFO, 0x9000,
                                                          STACK + 0x8000))
    uc = frame + 128
    memory.write(uc + MC + 4 * (3 + 4), struct.pack("<I", 0xcafe0004))      # arm_r4
    memory.write(uc + MC + 4 * 18, struct.pack("<I", 0x7000))               # arm_pc
    memory.write(uc + MC + 4 * 19, struct.pack("<I", 0x20000030))           # C, Thumb, USR
    memory.write(uc + 240 + 8 * 7, struct.pack("<Q", 0x4242))               # d7
    memory.write(uc + 104, struct.pack("<II", 0x5, 0x0))
    arm_garbage(regs)
    regs.write("sp", frame)
    mode = regs.read("cpsr") & MODE_BITS
    assert ARM_FRAMES.restore(regs, memory, True, {}).blocked == 0x5
    assert regs.read("r4") == 0xcafe0004 and regs.read("pc") == 0x7000
    assert regs.read("cpsr") == 0x20000020 | mode       # the mode is not the frame's to set
    assert regs.read("d7") == 0x4242


def test_arm_restorer_and_thumb_restorer():
    memory, regs = machine("arm")
    arm_set_all(regs, STACK + 0x8000, thumb=False)
    d = delivery("arm", SA_SIGINFO | SA_RESTORER, 0x9001, STACK + 0x8000, restorer=0x4001)
    ARM_FRAMES.setup(regs, memory, d)
    assert regs.read("lr") == 0x4001 and regs.read("cpsr") & PSR_T


def test_arm_trampoline_disassembles():
    md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_ARM)
    code = ARM_FRAMES.trampoline

    def insns(offset):
        return [(i.mnemonic, i.op_str) for i in md.disasm(code[offset:offset + 8], offset)]
    assert insns(0) == [("mov", "r7, #0xad"), ("svc", "#0")]
    assert insns(OLD_SIGRETURN_OFFSET) == [("mov", "r7, #0x77"), ("svc", "#0")]
    assert ARM.linux.syscall_numbers["rt_sigreturn"] == 0xad
    assert ARM.linux.syscall_numbers["sigreturn"] == 0x77
    padding = [i.mnemonic for i in md.disasm(code[8:OLD_SIGRETURN_OFFSET], 8)]
    assert padding and set(padding) == {"udf"}


@pytest.mark.parametrize("rt", [True, False], ids=["rt", "old"])
def test_arm_alternate_stack(rt):
    memory, regs = machine("arm")
    original = arm_set_all(regs, STACK + 0x8000, thumb=False)
    top = ALT + ALT_SIZE
    d = delivery("arm", (SA_SIGINFO if rt else 0) | SA_ONSTACK, 0x9000, top, switched=True)
    frame, kept = ARM_FRAMES.setup(regs, memory, d)
    size = ARM_RT_SIZE if rt else ARM_OLD_SIZE
    assert frame == (top - size) & ~7 and ALT <= frame < top
    uc = frame + 128 if rt else frame
    assert struct.unpack("<IiI", memory.read(uc + 8, 12)) == d.altstack
    assert struct.unpack("<I", memory.read(uc + MC + 4 * 16, 4))[0] == STACK + 0x8000   # arm_sp
    arm_garbage(regs)
    regs.write("sp", frame)
    ARM_FRAMES.restore(regs, memory, rt, {})
    assert regs.read("sp") == STACK + 0x8000 == original["sp"]


def test_arm_fault_address_and_bad_frame():
    memory, regs = machine("arm")
    arm_set_all(regs, STACK + 0x8000, thumb=False)
    info = siginfo(32, SIGSEGV, code=1, addr=0xdeadbeec)
    frame, _ = ARM_FRAMES.setup(regs, memory, delivery("arm", SA_SIGINFO, 0x9000, STACK + 0x8000,
                                                       signum=SIGSEGV, info=info))
    assert struct.unpack("<I", memory.read(frame + 128 + MC + 80, 4))[0] == 0xdeadbeec
    regs.write("sp", 0x5000000)
    with pytest.raises(GuestMemoryError):
        ARM_FRAMES.restore(regs, memory, True, {})
    regs.write("sp", frame + 4)              # misaligned: the kernel's badframe
    with pytest.raises(GuestMemoryError):
        ARM_FRAMES.restore(regs, memory, True, {})


# ------------------------------------------------------------------- AArch64

A64 = by_name("aarch64")
A64_FRAMES = A64.signal_frames
A64_RT_SIZE = 4688                         # sizeof(struct rt_sigframe)
A64_UC, A64_SC = 128, 128 + 176            # rt_sigframe.uc, uc.uc_mcontext
A64_FPSIMD = A64_SC + 288                  # the first record in __reserved


def a64_set_all(regs, sp: int, seed: int = 0) -> dict:
    values = {f"x{i}": (0x0101010101010101 * (i + 1) + seed) & (1 << 64) - 1 for i in range(31)}
    values["sp"], values["pc"] = sp, 0x400124 + 4 * seed
    for i in range(32):
        values[f"q{i}"] = (0x0123456789abcdef_fedcba9876543210 * (i + 5) + seed) & (1 << 128) - 1
    values["nzcv"] = 0xa0000000 ^ (seed << 28 & 0x40000000)
    values["fpsr"] = 0x08000011 if not seed else 0x1
    values["fpcr"] = 0x03c00000 if not seed else 0
    for name, value in values.items():
        regs.write(name, value)
    assert {n: regs.read(n) for n in values} == values
    return values


def a64_read_all(regs) -> dict:
    names = ([f"x{i}" for i in range(31)] + ["sp", "pc", "nzcv", "fpsr", "fpcr"]
             + [f"q{i}" for i in range(32)])
    return {name: regs.read(name) for name in names}


@pytest.mark.parametrize("flags", [SA_SIGINFO, 0, SA_SIGINFO | SA_RESTORER],
                         ids=["siginfo", "plain", "restorer"])
def test_a64_round_trip(flags):
    memory, regs = machine("aarch64")
    sp = STACK + 0x8008                                  # not 16-aligned: the frame is
    original = a64_set_all(regs, sp)
    d = delivery("aarch64", flags, 0x401000, sp, restorer=0x402000)
    frame, kept = A64_FRAMES.setup(regs, memory, d)

    record = (sp - 16) & ~15
    assert frame == record - A64_RT_SIZE and frame % 16 == 0
    assert regs.read("pc") == 0x401000 and regs.read("sp") == frame
    assert regs.read("x0") == SIGUSR1
    assert regs.read("x29") == record
    assert memory.read(record, 16) == struct.pack("<QQ", original["x29"], original["x30"])
    assert regs.read("x30") == (0x402000 if flags & SA_RESTORER else TRAMPOLINE)
    if flags & SA_SIGINFO:
        assert regs.read("x1") == frame and regs.read("x2") == frame + A64_UC
        assert memory.read(frame, 128) == d.siginfo
    else:                                   # the kernel leaves x1, x2 alone then
        assert regs.read("x1") == original["x1"] and regs.read("x2") == original["x2"]
    uc = frame + A64_UC
    assert struct.unpack("<QQQi4xQQ", memory.read(uc, 48)) == (0, 0, *d.altstack, BLOCKED)
    sc = struct.unpack("<Q31QQQQ", memory.read(frame + A64_SC, 280))
    assert sc[0] == 0                                     # fault_address
    assert list(sc[1:32]) == [original[f"x{i}"] for i in range(31)]
    assert sc[32:] == (sp, original["pc"], original["nzcv"])
    fp = frame + A64_FPSIMD
    assert struct.unpack("<IIII", memory.read(fp, 16)) == (
        0x46508001, 528, original["fpsr"], original["fpcr"])
    vregs = memory.read(fp + 16, 512)
    assert [int.from_bytes(vregs[16 * i:16 * i + 16], "little") for i in range(32)] == [
        original[f"q{i}"] for i in range(32)]
    assert memory.read(fp + 528, 8) == bytes(8)           # the terminator

    a64_set_all(regs, 0xdead0000, seed=3)                 # the handler's garbage
    regs.write("sp", frame)                               # as svc in the trampoline sees it
    blocked = A64_FRAMES.restore(regs, memory, True, {frame: kept}).blocked
    assert blocked == BLOCKED
    assert a64_read_all(regs) == original


def test_a64_handler_edits_frame():
    memory, regs = machine("aarch64")
    a64_set_all(regs, STACK + 0x8000)
    frame, kept = A64_FRAMES.setup(regs, memory, delivery("aarch64", SA_SIGINFO, 0x401000,
                                                          STACK + 0x8000))
    memory.write(frame + A64_SC + 8 + 8 * 7, struct.pack("<Q", 0xcafe))      # regs[7]
    memory.write(frame + A64_SC + 264, struct.pack("<Q", 0x407000))          # pc
    memory.write(frame + A64_SC + 272, struct.pack("<Q", 0x600003c5))        # pstate: EL1h asked
    memory.write(frame + A64_FPSIMD + 16 + 16 * 9, (1 << 127 | 9).to_bytes(16, "little"))
    memory.write(frame + A64_UC + 40, struct.pack("<Q", 0x10))
    regs.write("sp", frame)
    assert A64_FRAMES.restore(regs, memory, True, {}).blocked == 0x10
    assert regs.read("x7") == 0xcafe and regs.read("pc") == 0x407000
    assert regs.read("nzcv") == 0x60000000
    assert regs.read("pstate") & 0x3cf == 0           # still EL0t, DAIF clear: not the frame's
    assert regs.read("q9") == 1 << 127 | 9


def test_a64_bad_frames():
    memory, regs = machine("aarch64")
    a64_set_all(regs, STACK + 0x8000)
    frame, _ = A64_FRAMES.setup(regs, memory, delivery("aarch64", SA_SIGINFO, 0x401000,
                                                       STACK + 0x8000))
    for sp in (0x5000000, frame + 8):                     # unmapped; not 16-aligned
        regs.write("sp", sp)
        with pytest.raises(GuestMemoryError):
            A64_FRAMES.restore(regs, memory, True, {})
    memory.write(frame + A64_FPSIMD, struct.pack("<II", 0x12345678, 16))     # unknown record
    regs.write("sp", frame)
    with pytest.raises(GuestMemoryError):
        A64_FRAMES.restore(regs, memory, True, {})


def test_a64_fault_address():
    memory, regs = machine("aarch64")
    a64_set_all(regs, STACK + 0x8000)
    info = siginfo(64, SIGSEGV, code=2, addr=0xdeadbeef000)
    frame, _ = A64_FRAMES.setup(regs, memory, delivery("aarch64", SA_SIGINFO, 0x401000,
                                                       STACK + 0x8000, signum=SIGSEGV, info=info))
    assert struct.unpack("<Q", memory.read(frame + A64_SC, 8))[0] == 0xdeadbeef000


def test_a64_trampoline_disassembles():
    md = capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)
    code = A64_FRAMES.trampoline
    insns = [(i.mnemonic, i.op_str) for i in md.disasm(code[:8], 0)]
    assert insns == [("mov", "x8, #0x8b"), ("svc", "#0")]
    assert A64.linux.syscall_numbers["rt_sigreturn"] == 0x8b
    assert [i.mnemonic for i in md.disasm(code[8:], 8)] in ([], ["udf"] * (len(code) // 4 - 2))


def test_a64_alternate_stack():
    memory, regs = machine("aarch64")
    original = a64_set_all(regs, STACK + 0x8000)
    top = ALT + ALT_SIZE
    d = delivery("aarch64", SA_SIGINFO | SA_ONSTACK, 0x401000, top, switched=True)
    frame, kept = A64_FRAMES.setup(regs, memory, d)
    assert frame == top - 16 - A64_RT_SIZE and regs.read("x29") == top - 16
    assert struct.unpack("<Qi4xQ", memory.read(frame + A64_UC + 16, 24)) == d.altstack
    assert struct.unpack("<Q", memory.read(frame + A64_SC + 256, 8))[0] == STACK + 0x8000
    regs.write("sp", frame)
    A64_FRAMES.restore(regs, memory, True, {frame: kept})
    assert regs.read("sp") == original["sp"]


# ------------------------------------------- a handler run by the CPU, end to end

CODE = 0x10000


def run_through_handler(arch: str, interrupted: bytes, handler: bytes, thumb: bool = False,
                        rt: bool = True):
    """Map `interrupted` (which exits with x0/r0) and `handler` (which sets
    register 5 and returns), deliver a signal at `interrupted`, run: the handler
    returns into the trampoline, whose rt_sigreturn restores the frame, and the
    interrupted code runs on to exit. Returns (exit stop, registers, originals)."""
    from xemu.machine.accel.base import REGISTERS_SET, Exit
    from xemu.machine.memory import PROT_EXEC
    spec = by_name(arch)
    memory = Memory()
    memory.map(STACK, STACK_SIZE, PROT_READ | PROT_WRITE)
    memory.map(CODE, 0x1000, PROT_READ | PROT_EXEC)
    memory.map(TRAMPOLINE, 0x1000, PROT_READ | PROT_EXEC)
    memory.write(CODE, interrupted)
    memory.write(CODE + 0x100, handler)
    memory.write(TRAMPOLINE, spec.signal_frames.trampoline)
    accel = TcgAccelerator(spec, memory)
    regs = accel.regs
    frames = spec.signal_frames
    if arch == "arm":
        original = arm_set_all(regs, STACK + 0x8000, thumb=thumb)
        regs.write("pc", CODE)
        regs.write("cpsr", original["cpsr"] & ~0x0600fc00)          # no IT block at CODE
    else:
        original = a64_set_all(regs, STACK + 0x8000)
        regs.write("pc", CODE)
    original = {name: regs.read(name) for name in original}
    kept: dict = {}
    calls = []
    sigreturn = spec.linux.syscall_numbers["rt_sigreturn" if rt else "sigreturn"]

    def serve(number, args):
        calls.append(number)
        if number == sigreturn:
            frames.restore(regs, memory, rt, kept)
            return REGISTERS_SET
        return Exit(args[0] & 0xff)

    accel.syscall_handler = serve
    frame, kept_value = frames.setup(regs, memory, delivery(
        arch, SA_SIGINFO if rt else 0, CODE + 0x100 + thumb, STACK + 0x8000))
    kept[frame] = kept_value
    stop = accel.run(timeout=10)
    assert calls == [sigreturn, calls[-1]]
    return stop, regs, original


@pytest.mark.parametrize("rt", [True, False], ids=["rt", "old"])
def test_arm_handler_runs_and_returns_thumb(rt):
    # Thumb: movs r7, #1; svc #0 | handler: movs r5, #0x55; bx lr
    stop, regs, original = run_through_handler(
        "arm", struct.pack("<HH", 0x2701, 0xdf00), struct.pack("<HH", 0x2555, 0x4770),
        thumb=True, rt=rt)
    assert stop.status == original["r0"] & 0xff
    assert regs.read("r5") == original["r5"] and regs.read("cpsr") & PSR_T
    assert regs.read("d9") == original["d9"]


def test_a64_handler_runs_and_returns():
    # mov x8, #93; svc #0 | handler: mov x5, #0x55; ret
    stop, regs, original = run_through_handler(
        "aarch64", struct.pack("<II", 0xd2800ba8, 0xd4000001),
        struct.pack("<II", 0xd2800aa5, 0xd65f03c0))
    assert stop.status == original["x0"] & 0xff
    assert regs.read("x5") == original["x5"] and regs.read("q9") == original["q9"]
