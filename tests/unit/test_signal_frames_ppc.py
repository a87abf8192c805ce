"""32-bit PowerPC signal frames (xemu/archs/ppc/signal.py) against the layout
of Linux's arch/powerpc/kernel/signal_32.c and uapi asm/{sigcontext,ucontext}.h:
the old frame (no SA_SIGINFO) and the rt frame, set up, entered, edited by the
handler and unwound by (rt_)sigreturn, under TCG (Unicorn)."""
from __future__ import annotations

import struct

import capstone
import pytest

from xemu.archs import by_name
from xemu.archs.base import OLD_SIGRETURN_OFFSET, SA_RESTORER, SA_SIGINFO, SignalDelivery
from xemu.errors import GuestMemoryError
from xemu.machine.accel.base import REGISTERS_SET, Exit
from xemu.machine.accel.tcg import TcgAccelerator
from xemu.machine.memory import PROT_ALL, PROT_READ, PROT_WRITE, Memory

SPEC = by_name("ppc")
FRAMES = SPEC.signal_frames
MASK32 = 0xFFFFFFFF

CODE, TRAMP, STACK, STACK_SIZE = 0x10000, 0x20000, 0x80000, 0x10000
ALT, ALT_SIZE = 0x100000, 0x4000
HANDLER = CODE + 0x1000
RESTORER = CODE + 0x2000

SIGNAL_FRAMESIZE = 64
RT_FRAME_SIZE, OLD_FRAME_SIZE = 1536, 1248
RT_UC, UC_REGS, UC_SIGMASK, UC_MCONTEXT = 128, 48, 52, 192
MC_FREGS, MC_VREGS, MC_SIZE = 192, 464, 992
PT_NIP, PT_MSR, PT_CTR, PT_LNK, PT_XER, PT_CCR = 32, 33, 35, 36, 37, 38
MSR_LE, MSR_FP, MSR_VEC = 1, 1 << 13, 1 << 25

SIGUSR1 = 10
BLOCKED = (1 << (SIGUSR1 - 1)) | (1 << (2 - 1)) | (1 << (40 - 1)) | (1 << 63)
SIGINFO = struct.pack(">iii", SIGUSR1, 0, -6) + bytes(range(1, 117))

GPRS = [f"r{i}" for i in range(32)]
FPRS = [f"fpr{i}" for i in range(32)]


def machine():
    memory = Memory()
    memory.map(CODE, 0x4000, PROT_ALL)
    memory.map(TRAMP, 0x1000, PROT_ALL)
    memory.map(STACK, STACK_SIZE, PROT_READ | PROT_WRITE)
    memory.map(ALT, ALT_SIZE, PROT_READ | PROT_WRITE)
    memory.write(TRAMP, FRAMES.trampoline)
    return memory, TcgAccelerator(SPEC, memory)


def interrupted_state(regs, sp=STACK + 0x8000 + 12, pc=CODE + 0x40):
    """Distinct values in every register the frame holds; returns them."""
    values = {}
    for i, name in enumerate(GPRS):
        values[name] = (0x10203040 + i * 0x01010101) & MASK32
    values["r1"] = sp
    values["pc"] = pc
    values["lr"] = 0x13572468
    values["ctr"] = 0x0BADF00D
    values["xer"] = 0xE000007F          # SO OV CA and a byte count
    values["cr"] = 0x12345678
    for i, name in enumerate(FPRS):
        values[name] = struct.unpack(">Q", struct.pack(">d", 1.5 + i * 3.25))[0]
    values["fpscr"] = 0x000000F8        # exception enables
    for name, value in values.items():
        regs.write(name, value)
    values["msr"] = regs.read("msr")
    return values


def delivery(flags, sp, switched=False, altstack=(0, 2, 0)):
    return SignalDelivery(signum=SIGUSR1, handler=HANDLER, flags=flags, restorer=RESTORER,
                          siginfo=SIGINFO, blocked=BLOCKED, sp=sp, altstack=altstack,
                          trampoline=TRAMP, switched=switched)


def garble(regs):
    for i, name in enumerate(GPRS):
        regs.write(name, 0xDEAD0000 + i)
    for i, name in enumerate(FPRS):
        regs.write(name, 0x7FF0DEAD00000000 + i)
    for name in ("pc", "lr", "ctr", "xer", "cr"):
        regs.write(name, 0xA5A5A5A4)
    regs.write("fpscr", 0x3)


def assert_registers(regs, values, changed=None):
    changed = changed or {}
    for name, value in values.items():
        want = changed.get(name, value)
        assert regs.read(name) == want, f"{name}: {regs.read(name):#x} != {want:#x}"


def be32(memory, address):
    return struct.unpack(">I", memory.read(address, 4))[0]


# -- the rt frame ----------------------------------------------------------

def test_rt_frame_round_trip():
    memory, cpu = machine()
    regs = cpu.regs
    values = interrupted_state(regs)
    sp = values["r1"]
    frame, kept = FRAMES.setup(regs, memory, delivery(SA_SIGINFO, sp))

    # get_sigframe: 16-aligned, right below sp
    assert frame == (sp - RT_FRAME_SIZE) & ~0xF
    assert sp - frame - RT_FRAME_SIZE < 16
    # handler entry (handle_rt_signal32)
    newsp = frame - (SIGNAL_FRAMESIZE + 16)
    assert regs.read("r1") == newsp and newsp % 16 == 0
    assert be32(memory, newsp) == sp                         # back chain
    assert regs.read("r3") == SIGUSR1
    assert regs.read("r4") == frame                          # &info
    assert regs.read("r5") == frame + RT_UC                  # &uc
    assert regs.read("r6") == frame
    assert regs.read("pc") == HANDLER
    assert regs.read("lr") == TRAMP                          # the rt trampoline
    assert regs.read("fpscr") == 0
    assert regs.read("msr") & MSR_LE == 0
    assert regs.read("msr") & MSR_FP                         # Unicorn must keep FP usable

    # the frame's contents
    assert memory.read(frame, 128) == SIGINFO
    uc = frame + RT_UC
    assert struct.unpack(">II", memory.read(uc, 8)) == (0, 0)            # uc_flags, uc_link
    assert struct.unpack(">IiI", memory.read(uc + 8, 12)) == (0, 2, 0)   # uc_stack
    assert be32(memory, uc + UC_REGS) == uc + UC_MCONTEXT
    assert memory.read(uc + UC_SIGMASK, 8) == struct.pack(
        ">II", BLOCKED & MASK32, BLOCKED >> 32)
    mc = memory.read(uc + UC_MCONTEXT, MC_SIZE)
    gregs = struct.unpack_from(">48I", mc)
    assert list(gregs[:32]) == [values[n] for n in GPRS]
    assert gregs[PT_NIP] == values["pc"]
    assert gregs[PT_CTR] == values["ctr"] and gregs[PT_LNK] == values["lr"]
    assert gregs[PT_XER] == values["xer"] and gregs[PT_CCR] == values["cr"]
    assert gregs[PT_MSR] & (MSR_VEC | MSR_FP) == 0           # mc_vregs not valid
    assert gregs[PT_MSR] & ~(MSR_VEC | MSR_FP) == values["msr"] & ~(MSR_VEC | MSR_FP)
    fregs = struct.unpack_from(">33Q", mc, MC_FREGS)
    assert list(fregs[:32]) == [values[n] for n in FPRS]
    assert fregs[32] == values["fpscr"]
    assert mc[MC_VREGS:] == bytes(MC_SIZE - MC_VREGS)

    # sigreturn, from the trampoline's `sc`: r1 is back where the handler got it
    garble(regs)
    regs.write("r1", newsp)
    blocked = FRAMES.restore(regs, memory, True, {frame: kept}).blocked
    assert blocked == BLOCKED
    assert_registers(regs, values)


def test_rt_frame_without_kept_state():
    memory, cpu = machine()
    regs = cpu.regs
    values = interrupted_state(regs)
    FRAMES.setup(regs, memory, delivery(SA_SIGINFO, values["r1"]))
    garble(regs)
    frame = (values["r1"] - RT_FRAME_SIZE) & ~0xF
    regs.write("r1", frame - SIGNAL_FRAMESIZE - 16)
    assert FRAMES.restore(regs, memory, True, {}).blocked == BLOCKED
    assert_registers(regs, values)


def test_rt_handler_edit_takes_effect():
    memory, cpu = machine()
    regs = cpu.regs
    values = interrupted_state(regs)
    frame, kept = FRAMES.setup(regs, memory, delivery(SA_SIGINFO, values["r1"]))
    mc = frame + RT_UC + UC_MCONTEXT
    memory.write(mc + PT_NIP * 4, struct.pack(">I", CODE + 0x100))
    memory.write(mc + 7 * 4, struct.pack(">I", 0xCAFEBABE))
    memory.write(mc + MC_FREGS + 3 * 8, struct.pack(">d", -2.0))
    memory.write(frame + RT_UC + UC_SIGMASK, struct.pack(">II", 0x4, 0x1))
    garble(regs)
    regs.write("r1", frame - SIGNAL_FRAMESIZE - 16)
    assert FRAMES.restore(regs, memory, True, {frame: kept}).blocked == 0x4 | (1 << 32)
    assert_registers(regs, values, {
        "pc": CODE + 0x100, "r7": 0xCAFEBABE,
        "fpr3": struct.unpack(">Q", struct.pack(">d", -2.0))[0]})


def test_rt_uc_regs_is_followed():
    """do_setcontext takes the registers from where uc_regs points."""
    memory, cpu = machine()
    regs = cpu.regs
    values = interrupted_state(regs)
    frame, kept = FRAMES.setup(regs, memory, delivery(SA_SIGINFO, values["r1"]))
    mc = memory.read(frame + RT_UC + UC_MCONTEXT, MC_SIZE)
    other = STACK + 0x100
    memory.write(other, mc[:PT_NIP * 4] + struct.pack(">I", 0x4444) + mc[PT_NIP * 4 + 4:])
    memory.write(frame + RT_UC + UC_REGS, struct.pack(">I", other))
    regs.write("r1", frame - SIGNAL_FRAMESIZE - 16)
    FRAMES.restore(regs, memory, True, {frame: kept})
    assert regs.read("pc") == 0x4444


def test_rt_ignores_sa_restorer():
    """powerpc's kernel never uses sa_restorer: the vDSO trampoline returns."""
    memory, cpu = machine()
    values = interrupted_state(cpu.regs)
    FRAMES.setup(cpu.regs, memory, delivery(SA_SIGINFO | SA_RESTORER, values["r1"]))
    assert cpu.regs.read("lr") == TRAMP


def test_rt_abigap_is_not_written():
    """The 224 bytes below the interrupted r1 may hold the interrupted code's
    saved registers (abigap): the frame must not touch them."""
    memory, cpu = machine()
    values = interrupted_state(cpu.regs, sp=STACK + 0x8000)
    pattern = bytes((i * 7) & 0xFF for i in range(224))
    memory.write(values["r1"] - 224, pattern)
    FRAMES.setup(cpu.regs, memory, delivery(SA_SIGINFO, values["r1"]))
    assert memory.read(values["r1"] - 224, 224) == pattern


def test_rt_alternate_stack():
    memory, cpu = machine()
    regs = cpu.regs
    values = interrupted_state(regs)
    top = ALT + ALT_SIZE
    frame, kept = FRAMES.setup(regs, memory, delivery(
        SA_SIGINFO, top, switched=True, altstack=(ALT, 1, ALT_SIZE)))
    assert frame == (top - RT_FRAME_SIZE) & ~0xF
    assert ALT <= frame and frame + RT_FRAME_SIZE <= top
    assert regs.read("r1") == frame - SIGNAL_FRAMESIZE - 16
    assert be32(memory, regs.read("r1")) == values["r1"]          # chain to the thread's stack
    assert struct.unpack(">IiI", memory.read(frame + RT_UC + 8, 12)) == (ALT, 1, ALT_SIZE)
    garble(regs)
    regs.write("r1", frame - SIGNAL_FRAMESIZE - 16)
    assert FRAMES.restore(regs, memory, True, {frame: kept}).blocked == BLOCKED
    assert_registers(regs, values)


def test_rt_bad_frame_raises_guest_memory_error():
    memory, cpu = machine()
    cpu.regs.write("r1", 0x7000_0000)
    with pytest.raises(GuestMemoryError):
        FRAMES.restore(cpu.regs, memory, True, {})
    cpu.regs.write("r1", 0x7000_0000)
    with pytest.raises(GuestMemoryError):
        FRAMES.restore(cpu.regs, memory, False, {})


# -- the old frame ---------------------------------------------------------

def test_old_frame_round_trip():
    memory, cpu = machine()
    regs = cpu.regs
    values = interrupted_state(regs)
    sp = values["r1"]
    frame, kept = FRAMES.setup(regs, memory, delivery(0, sp))

    assert frame == (sp - OLD_FRAME_SIZE) & ~0xF
    newsp = frame - SIGNAL_FRAMESIZE
    assert regs.read("r1") == newsp and newsp % 16 == 0
    assert be32(memory, newsp) == sp
    assert regs.read("r3") == SIGUSR1
    assert regs.read("r4") == frame                          # &sigcontext
    assert regs.read("pc") == HANDLER
    assert regs.read("lr") == TRAMP + OLD_SIGRETURN_OFFSET
    assert regs.read("fpscr") == 0
    # struct sigcontext: _unused[4] (mask's high word in [3]), signal,
    # handler, oldmask, regs
    sc = struct.unpack(">4IiIII", memory.read(frame, 32))
    assert sc[3] == BLOCKED >> 32
    assert sc[4] == SIGUSR1 and sc[5] == HANDLER
    assert sc[6] == BLOCKED & MASK32
    assert sc[7] == frame + 32
    mc = memory.read(frame + 32, MC_SIZE)
    gregs = struct.unpack_from(">48I", mc)
    assert list(gregs[:32]) == [values[n] for n in GPRS]
    assert gregs[PT_NIP] == values["pc"] and gregs[PT_CCR] == values["cr"]
    fregs = struct.unpack_from(">33Q", mc, MC_FREGS)
    assert list(fregs[:32]) == [values[n] for n in FPRS] and fregs[32] == values["fpscr"]

    garble(regs)
    regs.write("r1", newsp)
    assert FRAMES.restore(regs, memory, False, {frame: kept}).blocked == BLOCKED
    assert_registers(regs, values)


def test_old_handler_edit_takes_effect():
    memory, cpu = machine()
    regs = cpu.regs
    values = interrupted_state(regs)
    frame, kept = FRAMES.setup(regs, memory, delivery(0, values["r1"]))
    mc = frame + 32
    memory.write(mc + PT_NIP * 4, struct.pack(">I", CODE + 0x200))
    memory.write(mc + 31 * 4, struct.pack(">I", 0x31313131))
    memory.write(mc + PT_LNK * 4, struct.pack(">I", 0x4C4C4C4C))
    memory.write(frame + 12, struct.pack(">I", 0x80000000))        # _unused[3]
    memory.write(frame + 24, struct.pack(">I", 0x1))                # oldmask
    garble(regs)
    regs.write("r1", frame - SIGNAL_FRAMESIZE)
    assert FRAMES.restore(regs, memory, False, {frame: kept}).blocked == 1 | (1 << 63)
    assert_registers(regs, values, {"pc": CODE + 0x200, "r31": 0x31313131,
                                    "lr": 0x4C4C4C4C})


def test_old_alternate_stack():
    memory, cpu = machine()
    values = interrupted_state(cpu.regs)
    top = ALT + ALT_SIZE
    frame, _ = FRAMES.setup(cpu.regs, memory, delivery(0, top, switched=True,
                                                       altstack=(ALT, 1, ALT_SIZE)))
    assert frame == (top - OLD_FRAME_SIZE) & ~0xF
    assert cpu.regs.read("r1") == frame - SIGNAL_FRAMESIZE
    assert be32(memory, frame - SIGNAL_FRAMESIZE) == values["r1"]


# -- the trampoline ----------------------------------------------------------

def test_trampoline_disassembles():
    md = capstone.Cs(capstone.CS_ARCH_PPC, capstone.CS_MODE_32 | capstone.CS_MODE_BIG_ENDIAN)
    code = FRAMES.trampoline

    def insns(offset):
        return [(i.mnemonic, i.op_str) for i in md.disasm(code[offset:offset + 8], offset)]

    numbers = SPEC.linux.syscall_numbers
    assert numbers["rt_sigreturn"] == 172 and numbers["sigreturn"] == 119
    assert insns(0) == [("li", "r0, 0xac"), ("sc", "")]
    assert insns(OLD_SIGRETURN_OFFSET) == [("li", "r0, 0x77"), ("sc", "")]
    # between them: words that fault (0 is an illegal instruction)
    assert code[8:OLD_SIGRETURN_OFFSET] == bytes(OLD_SIGRETURN_OFFSET - 8)


# -- end to end: a real handler runs and returns through the trampoline ------

def ins(*words):
    return struct.pack(f">{len(words)}I", *words)


LI = lambda rd, imm: 0x38000000 | rd << 21 | (imm & 0xFFFF)          # noqa: E731
STW = lambda rs, d, ra: 0x90000000 | rs << 21 | ra << 16 | (d & 0xFFFF)  # noqa: E731
LWZ = lambda rd, d, ra: 0x80000000 | rd << 21 | ra << 16 | (d & 0xFFFF)  # noqa: E731
SC, BLR, MFLR_R0, MTLR_R0 = 0x44000002, 0x4E800020, 0x7C0802A6, 0x7C0803A6
STWU_R1 = 0x9421FFE0            # stwu r1, -32(r1)
ADDI_R1 = 0x38210020            # addi r1, r1, 32
FADD_F1 = 0xFC21082A            # fadd f1, f1, f1


@pytest.mark.parametrize("rt", [True, False])
def test_handler_runs_and_returns(rt):
    memory, cpu = machine()
    regs = cpu.regs
    # the interrupted code: exit(r3)
    resume = CODE + 0x40
    memory.write(resume, ins(LI(0, SPEC.linux.syscall_numbers["exit"]), SC))
    # the handler: a C-like prologue and epilogue, clobbering r14, f1 and lr,
    # and setting the interrupted r15 to 0x77 in the frame's mcontext
    if rt:
        find_mc = [0x38A500C0]                  # addi r5, r5, 192 (&uc.uc_mcontext)
    else:
        find_mc = [LWZ(5, 28, 4)]               # lwz r5, 28(r4) (sc->regs)
    memory.write(HANDLER, ins(STWU_R1, MFLR_R0, STW(0, 36, 1), LI(14, 0x1234), FADD_F1,
                              *find_mc, LI(9, 0x77), STW(9, 15 * 4, 5),
                              LWZ(0, 36, 1), MTLR_R0, ADDI_R1, BLR))
    values = interrupted_state(regs, pc=resume)
    seen = {}

    def syscalls(number, args):
        if number in (172, 119):
            seen["number"] = number
            seen["r1"] = regs.read("r1")
            seen["blocked"] = FRAMES.restore(regs, memory, number == 172, {frame: kept}).blocked
            return REGISTERS_SET
        seen["final"] = {name: regs.read(name) for name in values}
        return Exit(args[0])

    cpu.syscall_handler = syscalls
    flags = SA_SIGINFO if rt else 0
    frame, kept = FRAMES.setup(regs, memory, delivery(flags, values["r1"]))
    stop = cpu.run(timeout=5)
    assert stop == Exit(values["r3"])
    assert seen["number"] == (172 if rt else 119)
    assert seen["r1"] == frame - SIGNAL_FRAMESIZE - (16 if rt else 0)
    assert seen["blocked"] == BLOCKED
    final = seen["final"]
    for name, value in values.items():
        want = {"r15": 0x77, "pc": resume + 8, "r0": 1}.get(name, value)
        assert final[name] == want, f"{name}: {final[name]:#x} != {want:#x}"


def test_altivec_registers_survive_a_handler():
    """Unicorn names no AltiVec register: the kept context carries them
    across the handler (which clobbers v1 here)."""
    memory, cpu = machine()
    regs = cpu.regs
    vspltisw_v1 = lambda imm: 0x10000000 | 1 << 21 | (imm & 0x1F) << 16 | 0x38C  # noqa: E731
    stvx_v1_r9 = 0x7C2049CE                     # stvx v1, 0, r9
    out = STACK + 0x100
    exit_number = SPEC.linux.syscall_numbers["exit"]
    # set v1 to {5, 5, 5, 5}
    memory.write(CODE, ins(vspltisw_v1(5), LI(0, exit_number), SC))
    cpu.syscall_handler = lambda number, args: Exit(0)
    regs.write("pc", CODE)
    assert cpu.run(timeout=5) == Exit(0)
    # interrupted at `resume`, which stores v1 and exits
    resume = CODE + 0x40
    memory.write(resume, ins(0x3D200000 | out >> 16,          # lis r9, out@h
                              0x61290000 | (out & 0xFFFF),  # ori r9, r9, out@l
                              stvx_v1_r9, LI(0, exit_number), SC))
    memory.write(HANDLER, ins(vspltisw_v1(-3), BLR))
    values = interrupted_state(regs, pc=resume)

    def syscalls(number, args):
        if number == 172:
            FRAMES.restore(regs, memory, True, {frame: kept})
            return REGISTERS_SET
        return Exit(args[0])

    cpu.syscall_handler = syscalls
    frame, kept = FRAMES.setup(regs, memory, delivery(SA_SIGINFO, values["r1"]))
    assert cpu.run(timeout=5) == Exit(values["r3"])
    assert memory.read(out, 16) == struct.pack(">4i", 5, 5, 5, 5)
