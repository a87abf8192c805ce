"""x86-64 and i386 signal frames (archs/x86_64/signal.py, archs/i386/signal.py):
layouts as Linux's arch/x86/kernel/signal_{32,64}.c and fpu/signal.c,
round trips through setup and (rt_)sigreturn under TCG and (x86-64) KVM."""
import struct

import capstone
import pytest

from xemu.archs import by_name
from xemu.archs.base import OLD_SIGRETURN_OFFSET, SA_RESTORER, SA_SIGINFO, SignalDelivery
from xemu.machine.accel.base import Exit
from xemu.machine.memory import PROT_EXEC, PROT_READ, PROT_WRITE, Memory

STACK, STACK_SIZE = 0x10000000, 0x20000
STACK_TOP = STACK + STACK_SIZE
ALT, ALT_SIZE = 0x20000000, 0x4000
HANDLER, RESTORER, TRAMPOLINE = 0x401000, 0x402000, 0x7FFF0000
SIGINFO = bytes(range(1, 129))
BLOCKED = 0x8000_0001_0000_4002            # a high (rt) signal too: both mask words
MASK64 = (1 << 64) - 1
EFLAGS = 0x2 | 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x400 | 0x800   # CF PF AF ZF SF DF OF
DF = 0x400

X86_64_GPRS = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp",
               "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")
I386_GPRS = ("eax", "ebx", "ecx", "edx", "esi", "edi", "ebp")


def map_reserved(memory, spec) -> None:
    """The arch's own pages, as exec maps them: i386's GDT, x86-64's GDT
    and the way to CPL 3 the translator takes."""
    for page in spec.linux.reserved:
        memory.map(page.start, page.size, page.perms, page.name)


def kvm_reason() -> str:
    from tests.helpers import kvm_skip_reason
    return kvm_skip_reason("x86_64")


def has_avx(regs) -> bool:
    """The CPU has AVX on (KVM on an AVX host; Unicorn's has none), so a
    frame carries the ymm upper halves, as Linux's does on such a CPU."""
    try:
        return bool(regs.read("xcr0") & 0x4)
    except KeyError:
        return False


def xstate_size(regs) -> int:
    """Linux's fpstate->user_size: x87+SSE 576, with YMM_Hi128 (256 bytes at
    576, CPUID leaf 0xD sub-leaf 2) 832."""
    return 832 if has_avx(regs) else 576


CPUS = [pytest.param(("x86_64", "tcg"), id="x86_64-tcg"),
        pytest.param(("x86_64", "kvm"), id="x86_64-kvm", marks=pytest.mark.skipif(
            bool(kvm_reason()), reason=kvm_reason() or "KVM")),
        pytest.param(("i386", "tcg"), id="i386-tcg")]


@pytest.fixture
def cpu(request):
    arch, accel = request.param
    memory = Memory()
    memory.map(STACK, STACK_SIZE, PROT_READ | PROT_WRITE)
    memory.map(ALT, ALT_SIZE, PROT_READ | PROT_WRITE)
    spec = by_name(arch)
    if accel == "kvm":
        from xemu.machine.accel.kvm import KvmAccelerator
        machine = KvmAccelerator(spec, memory)
    else:
        from xemu.machine.accel.tcg import TcgAccelerator
        map_reserved(memory, spec)
        machine = TcgAccelerator(spec, memory)
    yield spec, machine.regs, memory
    machine.close()


def fp_values(salt: int) -> dict:
    """x87/SSE state with TOP = 5: physical registers 5, 6, 7 in use."""
    top = 5 if salt == 0 else 2
    values = {"fpsw": (top << 11) | 0x21 ^ salt & 0x7F, "fpcw": 0x27F ^ salt & 0x0C00,
              "fptag": 0x03FF if salt == 0 else 0xFFF0,
              "fop": 0x123 ^ salt & 0x7FF, "fip": 0x401234 ^ salt, "fdp": 0x7000_1000 ^ salt,
              "mxcsr": 0x7FA1 if salt == 0 else 0x1F80}
    for i in range(8):
        values[f"fp{i}"] = ((0x8000_0000_0000_0000 | (0x1234_5678_9ABC_DEF0 ^ salt) + i * 0x1111),
                            0x3FFF + i + (salt & 0xFF))
    return values


def set_state(spec, regs, salt: int = 0) -> dict:
    """Distinct values in every register a frame holds; returns them."""
    values = {}
    if spec.bits == 64:
        for i, name in enumerate(X86_64_GPRS):
            values[name] = (0x1111_2222_3333_0000 + i * 0x0101_0101_0101) ^ salt
        values.update(rsp=STACK_TOP - 0x1000 - 0x38, rip=0x4005D3 ^ salt, rflags=EFLAGS)
        xmm = 16
    else:
        for i, name in enumerate(I386_GPRS):
            values[name] = (0x1111_0000 + i * 0x0101_0101) ^ salt & 0xFFFFFFFF
        values.update(esp=STACK_TOP - 0x1000 - 0x36, eip=0x80485D3 ^ salt, eflags=EFLAGS)
        values.update(fcs=0x23, fds=0x2B)
        xmm = 8
    if salt:
        values[spec.sp] = 0x5555_0000 ^ salt
        values["rflags" if spec.bits == 64 else "eflags"] = 0x2
    for i in range(xmm):
        values[f"xmm{i}"] = (0x0123_4567_89AB_CDEF_FEDC_BA98_7654_3210 ^ (i << 120 | i)) ^ salt
        if has_avx(regs):
            values[f"ymm{i}h"] = (0x8899_AABB_CCDD_EEFF_0011_2233_4455_6677 ^ (i << 112 | i)) ^ salt
    fp = fp_values(salt)
    values.update(fp)
    for name, value in values.items():
        regs.write(name, value)
    return values


def assert_state(regs, values: dict) -> None:
    for name, value in values.items():
        got = regs.read(name)
        if name == "fptag":      # Unicorn tags by content; both keep empty or not
            empty = lambda tags: [tags >> 2 * i & 3 == 3 for i in range(8)]   # noqa: E731
            assert empty(got) == empty(value), name
        else:
            assert got == value, f"{name}: {got!r} != {value!r}"


def delivery(spec, regs, *, flags=SA_SIGINFO, switched=False, signum=10) -> SignalDelivery:
    sp = ALT + ALT_SIZE if switched else regs.read(spec.sp)
    return SignalDelivery(signum=signum, handler=HANDLER, flags=flags, restorer=RESTORER,
                          siginfo=SIGINFO, blocked=BLOCKED, sp=sp,
                          altstack=(ALT, 1 if switched else 0, ALT_SIZE),   # SS_ONSTACK
                          trampoline=TRAMPOLINE, switched=switched)


def u32(memory, address):
    return struct.unpack("<I", memory.read(address, 4))[0]


def u64(memory, address):
    return struct.unpack("<Q", memory.read(address, 8))[0]


def expected_x86_64_frame(sp: int, switched: bool, xstate: int = 576) -> int:
    sp = sp if switched else sp - 128                 # the red zone
    buf_fx = (sp - (xstate + 4)) & ~63
    return ((buf_fx - 440) & ~15) - 8


def expected_i386_frame(sp: int, size: int) -> int:
    buf_fx = (sp - (576 + 4)) & ~63
    fpstate = buf_fx - 112
    return ((fpstate - size + 4) & ~15) - 4


def assert_fpu_cleared(regs, bits):
    assert regs.read("fpcw") == 0x37F and regs.read("mxcsr") == 0x1F80
    assert regs.read("fpsw") == 0 and all(regs.read(f"xmm{i}") == 0 for i in range(8))
    assert regs.read("fptag") & 0xFFFF == 0xFFFF
    if has_avx(regs):                                 # AVX in its initial state too
        assert all(regs.read(f"ymm{i}h") == 0 for i in range(16))


# -- x86-64 ----------------------------------------------------------------

@pytest.mark.parametrize("cpu", [p for p in CPUS if p.values[0][0] == "x86_64"], indirect=True)
@pytest.mark.parametrize("flags", [SA_SIGINFO, SA_SIGINFO | SA_RESTORER, 0])
def test_x86_64_round_trip(cpu, flags):
    spec, regs, memory = cpu
    frames = spec.signal_frames
    original = set_state(spec, regs)
    d = delivery(spec, regs, flags=flags)
    size = xstate_size(regs)
    frame, kept = frames.setup(regs, memory, d)

    # handler entry, as x64_setup_rt_frame leaves it
    assert frame == expected_x86_64_frame(original["rsp"], False, size)
    assert regs.read("rsp") == frame and (frame + 8) % 16 == 0
    assert regs.read("rip") == HANDLER
    assert regs.read("rdi") == 10 and regs.read("rax") == 0
    assert regs.read("rsi") == frame + 312 and regs.read("rdx") == frame + 8
    assert regs.read("rflags") == EFLAGS & ~DF
    assert_fpu_cleared(regs, 64)
    assert u64(memory, frame) == (RESTORER if flags & SA_RESTORER else TRAMPOLINE)
    # struct rt_sigframe {pretcode; struct ucontext uc; struct siginfo info}
    assert memory.read(frame + 312, 128) == SIGINFO
    uc = frame + 8
    assert u64(memory, uc) == 0x7 and u64(memory, uc + 8) == 0      # uc_flags, uc_link
    assert struct.unpack("<QixxxxQ", memory.read(uc + 16, 24)) == (ALT, 0, ALT_SIZE)
    assert u64(memory, uc + 296) == BLOCKED                           # uc_sigmask
    sc = uc + 40
    assert u64(memory, sc + 13 * 8) == original["rax"]                # sc.ax
    assert u64(memory, sc + 15 * 8) == original["rsp"]
    assert u64(memory, sc + 16 * 8) == original["rip"]
    assert u64(memory, sc + 17 * 8) == EFLAGS
    assert u64(memory, sc + 168) == BLOCKED & 0xFFFFFFFF              # sc.oldmask
    fpstate = u64(memory, sc + 184)
    assert fpstate % 64 == 0 and frame + 440 <= fpstate < original["rsp"] - 128 - size
    xfeatures = 7 if has_avx(regs) else 3
    assert struct.unpack("<IIQI", memory.read(fpstate + 464, 20)) == (0x46505853, size + 4,
                                                                      xfeatures, size)
    assert u32(memory, fpstate + size) == 0x46505845                  # FP_XSTATE_MAGIC2
    assert u64(memory, fpstate + 512) == xfeatures                    # xstate_bv: all in use
    # FXSAVE stack order: ST(0) is physical register TOP = 5
    assert memory.read(fpstate + 32, 10) == (original["fp5"][0] | original["fp5"][1] << 64
                                             ).to_bytes(10, "little")
    assert int.from_bytes(memory.read(fpstate + 160 + 16 * 15, 16), "little") == original["xmm15"]
    assert struct.unpack("<HHBxH", memory.read(fpstate, 8)) == (0x27F, original["fpsw"], 0xE0,
                                                                0x123)

    # the handler clobbers everything, returns (ret pops pretcode) into rt_sigreturn
    set_state(spec, regs, salt=0x5A5A5A5A)
    regs.write("rsp", frame + 8)
    assert frames.restore(regs, memory, True, {frame: kept}).blocked == BLOCKED
    assert_state(regs, original)


@pytest.mark.parametrize("cpu", [p for p in CPUS if p.values[0][0] == "x86_64"], indirect=True)
def test_x86_64_handler_edits_frame(cpu):
    spec, regs, memory = cpu
    original = set_state(spec, regs)
    frame, kept = spec.signal_frames.setup(regs, memory, delivery(spec, regs))
    sc = frame + 8 + 40
    memory.write(sc + 16 * 8, struct.pack("<Q", 0xDEAD0))            # rip
    memory.write(sc + 3 * 8, struct.pack("<Q", 0x1234))              # r11
    memory.write(sc + 17 * 8, struct.pack("<Q", 0x2 | 0x40000 | 0x1))  # AC CF; DF gone
    fpstate = u64(memory, sc + 184)
    memory.write(fpstate + 160, (7).to_bytes(16, "little"))          # xmm0
    memory.write(frame + 8 + 296, struct.pack("<Q", 0x4))            # the mask
    regs.write("rsp", frame + 8)
    assert spec.signal_frames.restore(regs, memory, True, {}).blocked == 0x4
    assert regs.read("rip") == 0xDEAD0 and regs.read("r11") == 0x1234
    assert regs.read("rflags") == 0x40003
    assert regs.read("xmm0") == 7 and regs.read("xmm1") == original["xmm1"]
    assert regs.read("rax") == original["rax"]


@pytest.mark.parametrize("cpu", [p for p in CPUS if p.values[0][0] == "x86_64"], indirect=True)
def test_x86_64_alternate_stack(cpu):
    spec, regs, memory = cpu
    set_state(spec, regs)
    size = xstate_size(regs)
    frame, _ = spec.signal_frames.setup(regs, memory, delivery(spec, regs, switched=True))
    assert frame == expected_x86_64_frame(ALT + ALT_SIZE, True, size)  # no red zone
    assert ALT + ALT_SIZE - 64 - size - 440 - 24 <= frame < ALT + ALT_SIZE - size - 440
    assert regs.read("rsp") == frame and (frame + 8) % 16 == 0


def test_x86_64_null_fpstate_and_bad_frame():
    from xemu.errors import GuestMemoryError
    from xemu.machine.accel.tcg import TcgAccelerator
    memory = Memory()
    memory.map(STACK, STACK_SIZE, PROT_READ | PROT_WRITE)
    spec = by_name("x86_64")
    map_reserved(memory, spec)
    regs = TcgAccelerator(spec, memory).regs
    set_state(spec, regs)
    frame, _ = spec.signal_frames.setup(regs, memory, delivery(spec, regs))
    set_state(spec, regs, salt=0x77)
    memory.write(frame + 8 + 40 + 184, bytes(8))          # fpstate = NULL: a clean FPU
    regs.write("rsp", frame + 8)
    spec.signal_frames.restore(regs, memory, True, {})
    assert_fpu_cleared(regs, 64)
    regs.write("rsp", 0x9000_0000)
    with pytest.raises(GuestMemoryError):
        spec.signal_frames.restore(regs, memory, True, {})


# -- i386 ------------------------------------------------------------------

I386 = [p for p in CPUS if p.values[0][0] == "i386"]


@pytest.mark.parametrize("cpu", I386, indirect=True)
@pytest.mark.parametrize("flags", [SA_SIGINFO, SA_SIGINFO | SA_RESTORER, 0, SA_RESTORER])
def test_i386_round_trip(cpu, flags):
    spec, regs, memory = cpu
    frames = spec.signal_frames
    original = set_state(spec, regs)
    segments = {name: regs.read(name) for name in ("cs", "ss", "ds", "es", "fs", "gs")}
    rt = bool(flags & SA_SIGINFO)
    frame, kept = frames.setup(regs, memory, delivery(spec, regs, flags=flags))

    size = 268 if rt else 732
    assert frame == expected_i386_frame(original["esp"], size)
    assert regs.read("esp") == frame and (frame + 4) % 16 == 0
    assert regs.read("eip") == HANDLER and regs.read("eax") == 10
    assert regs.read("eflags") == EFLAGS & ~DF
    assert_fpu_cleared(regs, 32)
    pretcode = u32(memory, frame)
    if flags & SA_RESTORER:
        assert pretcode == RESTORER
    else:
        assert pretcode == TRAMPOLINE + (0 if rt else OLD_SIGRETURN_OFFSET)
    assert u32(memory, frame + 4) == 10                              # the handler's argument
    if rt:
        info, uc = frame + 16, frame + 144
        assert (u32(memory, frame + 8), u32(memory, frame + 12)) == (info, uc)
        assert (regs.read("edx"), regs.read("ecx")) == (info, uc)
        assert memory.read(info, 128) == SIGINFO
        assert struct.unpack("<5I", memory.read(uc, 20)) == (1, 0, ALT, 0, ALT_SIZE)
        assert struct.unpack("<II", memory.read(uc + 108, 8)) == (BLOCKED & 0xFFFFFFFF,
                                                                   BLOCKED >> 32)
        sc = uc + 20
        assert memory.read(frame + 260, 7) == b"\xb8\xad\0\0\0\xcd\x80"  # gdb's signature
    else:
        sc = frame + 8
        assert (regs.read("edx"), regs.read("ecx")) == (0, 0)
        assert u32(memory, sc + 80) == BLOCKED & 0xFFFFFFFF            # sc.oldmask
        assert u32(memory, frame + 720) == BLOCKED >> 32               # extramask
        assert memory.read(frame + 724, 8) == b"\x58\xb8\x77\0\0\0\xcd\x80"
    assert u32(memory, sc + 44) == original["eax"] and u32(memory, sc + 12) == segments["ds"]
    assert (u32(memory, sc + 56), u32(memory, sc + 64)) == (original["eip"], EFLAGS)
    fpstate = u32(memory, sc + 76)
    assert (fpstate + 112) % 64 == 0 and fpstate >= frame + size
    # the FSAVE header: cw, sw, full tag word (5-7 valid, the rest empty),
    # ip, cs | opcode << 16, ...; ST(0) = physical 5; status, magic 0 (FXSR)
    header = struct.unpack("<7I", memory.read(fpstate, 28))
    assert header == (0xFFFF027F, 0xFFFF0000 | original["fpsw"], 0xFFFF03FF, original["fip"],
                      0x23 | 0x123 << 16, original["fdp"], 0x2B)
    assert memory.read(fpstate + 28, 10) == (original["fp5"][0] | original["fp5"][1] << 64
                                             ).to_bytes(10, "little")
    assert struct.unpack("<HH", memory.read(fpstate + 108, 4)) == (original["fpsw"], 0)
    # save_sw_bytes for an ia32 frame: extended_size counts the FSAVE header
    assert struct.unpack("<IIQI", memory.read(fpstate + 112 + 464, 20)) == (0x46505853,
                                                                            576 + 4 + 112, 3, 576)
    assert u32(memory, fpstate + 112 + 576) == 0x46505845             # FP_XSTATE_MAGIC2
    assert int.from_bytes(memory.read(fpstate + 112 + 160 + 16 * 7, 16), "little") == \
        original["xmm7"]

    set_state(spec, regs, salt=0x3C3C3C3C)
    # ret pops pretcode; __kernel_sigreturn also pops the signal number
    regs.write("esp", frame + (4 if rt else 8))
    assert frames.restore(regs, memory, rt, {frame: kept}).blocked == BLOCKED
    assert_state(regs, original)
    assert {name: regs.read(name) for name in segments} == segments


@pytest.mark.parametrize("cpu", I386, indirect=True)
@pytest.mark.parametrize("rt", [True, False])
def test_i386_handler_edits_frame(cpu, rt):
    spec, regs, memory = cpu
    original = set_state(spec, regs)
    frame, _ = spec.signal_frames.setup(
        regs, memory, delivery(spec, regs, flags=SA_SIGINFO if rt else 0))
    sc = frame + (144 + 20 if rt else 8)
    memory.write(sc + 56, struct.pack("<I", 0xDEAD0))               # eip
    memory.write(sc + 16, struct.pack("<I", 0x4321))                # edi
    fpstate = u32(memory, sc + 76)
    one = (0x8000_0000_0000_0000, 0x3FFF)
    memory.write(fpstate + 28, (one[0] | one[1] << 64).to_bytes(10, "little"))   # ST(0)
    regs.write("esp", frame + (4 if rt else 8))
    spec.signal_frames.restore(regs, memory, rt, {})
    assert regs.read("eip") == 0xDEAD0 and regs.read("edi") == 0x4321
    assert regs.read("fp5") == one and regs.read("fp6") == original["fp6"]
    assert regs.read("xmm3") == original["xmm3"]


@pytest.mark.parametrize("cpu", I386, indirect=True)
def test_i386_alternate_stack(cpu):
    spec, regs, memory = cpu
    set_state(spec, regs)
    frame, _ = spec.signal_frames.setup(regs, memory, delivery(spec, regs, switched=True))
    assert frame == expected_i386_frame(ALT + ALT_SIZE, 268)
    assert ALT + ALT_SIZE - 64 - 580 - 112 - 268 - 20 <= frame < ALT + ALT_SIZE - 580 - 268
    assert (frame + 4) % 16 == 0


# -- trampolines -----------------------------------------------------------

def disassemble(code: bytes, mode) -> list[str]:
    md = capstone.Cs(capstone.CS_ARCH_X86, mode)
    md.syntax = capstone.CS_OPT_SYNTAX_INTEL
    return [f"{i.mnemonic} {i.op_str}".strip() for i in md.disasm(code, 0)]


def test_x86_64_trampoline():
    spec = by_name("x86_64")
    code = spec.signal_frames.trampoline
    nr = spec.linux.syscall_numbers["rt_sigreturn"]
    assert nr == 15
    assert disassemble(code[:7], capstone.CS_MODE_64) == [f"mov eax, 0x{nr:x}", "syscall"]
    assert set(code[7:]) == {0xCC}


def test_i386_trampoline():
    spec = by_name("i386")
    code = spec.signal_frames.trampoline
    rt, old = (spec.linux.syscall_numbers[name] for name in ("rt_sigreturn", "sigreturn"))
    assert (rt, old) == (173, 119)
    assert disassemble(code[:7], capstone.CS_MODE_32) == [f"mov eax, 0x{rt:x}", "int 0x80"]
    assert disassemble(code[OLD_SIGRETURN_OFFSET:OLD_SIGRETURN_OFFSET + 8],
                       capstone.CS_MODE_32) == ["pop eax", f"mov eax, 0x{old:x}", "int 0x80"]
    assert set(code[7:OLD_SIGRETURN_OFFSET]) == {0xCC}


# -- x87 registers are physical under both accelerators --------------------

@pytest.mark.parametrize("accel", ["tcg", pytest.param("kvm", marks=pytest.mark.skipif(
    bool(kvm_reason()), reason=kvm_reason() or "KVM"))])
def test_x87_stack_after_real_code_lands_in_stack_order(accel):
    """finit; fld1; fldz: TOP = 6, physical 7 = 1.0, physical 6 = 0.0, under
    TCG and KVM alike; the frame's FXSAVE has ST(0) = 0.0, ST(1) = 1.0, and
    sigreturn puts them back."""
    spec = by_name("x86_64")
    memory = Memory()
    memory.map(STACK, STACK_SIZE, PROT_READ | PROT_WRITE)
    code = 0x600000
    memory.map(code, 0x1000, PROT_READ | PROT_EXEC)
    memory.write(code, b"\x9b\xdb\xe3" b"\xd9\xe8" b"\xd9\xee" b"\x0f\x05")
    if accel == "kvm":
        from xemu.machine.accel.kvm import KvmAccelerator
        machine = KvmAccelerator(spec, memory)
    else:
        from xemu.machine.accel.tcg import TcgAccelerator
        map_reserved(memory, spec)
        machine = TcgAccelerator(spec, memory)
    try:
        regs = machine.regs
        regs.write("rip", code)
        regs.write("rsp", STACK_TOP - 0x100)
        machine.syscall_handler = lambda number, args: Exit(0)
        assert machine.run() == Exit(0)
        one, zero = (1 << 63, 0x3FFF), (0, 0)
        assert regs.read("fpsw") >> 11 & 7 == 6
        assert (regs.read("fp7"), regs.read("fp6")) == (one, zero)
        frame, kept = spec.signal_frames.setup(regs, memory, delivery(spec, regs))
        fpstate = u64(memory, frame + 8 + 40 + 184)
        assert memory.read(fpstate + 32, 10) == bytes(10)                       # ST(0)
        assert memory.read(fpstate + 48, 10) == (1 << 63 | 0x3FFF << 64).to_bytes(10, "little")
        assert memory.read(fpstate + 4, 1) == b"\xc0"                           # abridged tags
        regs.write("rsp", frame + 8)
        spec.signal_frames.restore(regs, memory, True, {frame: kept})
        assert regs.read("fpsw") >> 11 & 7 == 6
        assert (regs.read("fp7"), regs.read("fp6")) == (one, zero)
    finally:
        machine.close()


# -- AVX: the ymm upper halves in the XSAVE buffer (issue 13) --------------

KVM = pytest.mark.skipif(bool(kvm_reason()), reason=kvm_reason() or "KVM")
CODE, DATA = 0x600000, 0x30000000
YMM_IN, YMM_CLOBBER, YMM_OUT, YMM_ENTRY = DATA, DATA + 0x200, DATA + 0x400, DATA + 0x600
RSI, RDI = 6, 7


def vmovdqu(load: bool, n: int, base: int, disp: int) -> bytes:
    """vmovdqu ymmN, [base + disp32] (load) or [base + disp32], ymmN:
    VEX.256.F3.0F 6F / 7F, three-byte VEX (R selects ymm8-15)."""
    return bytes([0xC4, (0 if n >= 8 else 0x80) | 0x60 | 0x01,   # ~R ~X ~B, map 0F
                  0x7E,                                            # W0, no vvvv, L=256, F3
                  0x6F if load else 0x7F, 0x80 | (n & 7) << 3 | base]) + struct.pack("<i", disp)


def all_ymm(load: bool, base: int, address: int) -> bytes:
    """movabs base, address; then ymm0-15 from or to 16 slots of 32 bytes."""
    return (bytes([0x48, 0xB8 + base]) + struct.pack("<Q", address)
            + b"".join(vmovdqu(load, n, base, 32 * n) for n in range(16)))


def syscall(number: int) -> bytes:
    return b"\xb8" + struct.pack("<I", number) + b"\x0f\x05"         # mov eax, n; syscall


def ymm_values(salt: int) -> bytes:
    """16 distinct ymm values, upper halves distinct from the lower."""
    return b"".join(bytes((salt + 32 * n + k) & 0xFF or 0x5A for k in range(32))
                    for n in range(16))


def test_vmovdqu_encoding():
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.syntax = capstone.CS_OPT_SYNTAX_INTEL
    (load,) = md.disasm(vmovdqu(True, 12, RSI, 0x180), 0)
    (store,) = md.disasm(vmovdqu(False, 3, RDI, 0x60), 0)
    assert f"{load.mnemonic} {load.op_str}" == "vmovdqu ymm12, ymmword ptr [rsi + 0x180]"
    assert f"{store.mnemonic} {store.op_str}" == "vmovdqu ymmword ptr [rdi + 0x60], ymm3"


def run_ymm_program(edit_frame=None) -> tuple[bytes, bytes, int]:
    """Real code under KVM: ymm0-15 loaded with distinct values, a signal,
    a handler that stores what it starts with and loads other values into
    all of them, sigreturn, then the registers stored. edit_frame(memory,
    fpstate) changes the frame as a handler could. Returns (the registers
    after sigreturn, at the handler's entry, the frame's fpstate)."""
    from xemu.machine.accel.kvm import KvmAccelerator
    spec = by_name("x86_64")
    memory = Memory()
    memory.map(STACK, STACK_SIZE, PROT_READ | PROT_WRITE)
    memory.map(DATA, 0x1000, PROT_READ | PROT_WRITE)
    memory.map(CODE, 0x1000, PROT_READ | PROT_EXEC)
    memory.map(HANDLER & ~0xFFF, 0x2000, PROT_READ | PROT_EXEC)   # HANDLER, RESTORER
    memory.write(CODE, all_ymm(True, RSI, YMM_IN) + syscall(500)
                 + all_ymm(False, RDI, YMM_OUT) + syscall(501))
    memory.write(HANDLER, all_ymm(False, RDI, YMM_ENTRY) + all_ymm(True, RSI, YMM_CLOBBER)
                 + b"\xc3")                                          # ret: to the restorer
    memory.write(RESTORER, syscall(15))                             # rt_sigreturn
    memory.write(YMM_IN, ymm_values(0x11))
    memory.write(YMM_CLOBBER, ymm_values(0x77))
    machine = KvmAccelerator(spec, memory)
    try:
        regs, frames = machine.regs, spec.signal_frames
        machine.syscall_handler = lambda number, args: Exit(number)   # the test is the kernel
        regs.write("rip", CODE)
        regs.write("rsp", STACK_TOP - 0x1000)
        assert machine.run() == Exit(500)
        if not has_avx(regs):
            pytest.skip("this host's CPU has no AVX on")
        # the registers xemu reads are the CPU's: ymmNh, the upper halves
        values = ymm_values(0x11)
        assert [regs.read(f"ymm{n}h") for n in range(16)] == [
            int.from_bytes(values[32 * n + 16:32 * n + 32], "little") for n in range(16)]
        frame, kept = frames.setup(regs, memory,
                                   delivery(spec, regs, flags=SA_SIGINFO | SA_RESTORER))
        fpstate = u64(memory, frame + 8 + 40 + 184)
        if edit_frame:
            edit_frame(memory, fpstate)
        assert machine.run() == Exit(15)
        assert regs.read("rsp") == frame + 8                        # `ret` popped pretcode
        frames.restore(regs, memory, True, {frame: kept})
        assert machine.run() == Exit(501)
        return memory.read(YMM_OUT, 512), memory.read(YMM_ENTRY, 512), fpstate
    finally:
        machine.close()


def halves(image: bytes, upper: bool) -> list[bytes]:
    return [image[32 * n + (16 if upper else 0):][:16] for n in range(16)]


@KVM
def test_x86_64_kvm_ymm_registers_survive_a_handler():
    """Every ymm register, upper half too, holds its value after a handler
    that used them all; the handler starts with AVX's initial state."""
    after, entry, _ = run_ymm_program()
    assert after == ymm_values(0x11)
    assert entry == bytes(512)          # fpu__clear_user_states: all zero


@KVM
def test_x86_64_kvm_frame_without_avx_restores():
    """A frame laid out for x87 and SSE only (what Linux writes on a CPU
    without AVX: xfeatures 3, xstate_size 576, MAGIC2 at 576) is taken:
    x87 and SSE from it, the ymm upper halves to their initial state."""
    def without_avx(memory, fpstate):
        memory.write(fpstate + 464, struct.pack("<IIQI", 0x46505853, 580, 3, 576))
        memory.write(fpstate + 512, struct.pack("<Q", 3))
        memory.write(fpstate + 576, struct.pack("<I", 0x46505845) + bytes(252))
    after, _, _ = run_ymm_program(without_avx)
    assert halves(after, False) == halves(ymm_values(0x11), False)
    assert halves(after, True) == [bytes(16)] * 16


@KVM
@pytest.mark.parametrize("edit", ["xstate_bv", "legacy"])
def test_x86_64_kvm_frame_with_avx_not_in_use_restores(edit):
    """XSTATE_BV without AVX's bit (the handler says the component is in
    its initial state), or a legacy FXSAVE-only frame (no MAGIC1:
    check_xstate_in_sigframe's fx_only): the upper halves come back zero,
    the lower halves from the frame."""
    def clear(memory, fpstate):
        if edit == "xstate_bv":
            memory.write(fpstate + 512, struct.pack("<Q", 3))
        else:
            memory.write(fpstate + 464, bytes(20))
    after, _, _ = run_ymm_program(clear)
    assert halves(after, False) == halves(ymm_values(0x11), False)
    assert halves(after, True) == [bytes(16)] * 16


@KVM
def test_x86_64_kvm_handler_edits_ymm_in_frame():
    """A handler's edit of the YMM_Hi128 component reaches the registers."""
    def edit(memory, fpstate):
        memory.write(fpstate + 576 + 16 * 9, b"\xab" * 16)          # ymm9's upper half
    after, _, _ = run_ymm_program(edit)
    expected = halves(ymm_values(0x11), True)
    expected[9] = b"\xab" * 16
    assert halves(after, True) == expected
    assert halves(after, False) == halves(ymm_values(0x11), False)


@pytest.mark.parametrize("cpu", [p for p in CPUS if p.values[0][0] == "x86_64"], indirect=True)
@pytest.mark.parametrize("upper", [True, False], ids=["ymm-in-use", "ymm-initial"])
def test_x86_64_xstate_layout(cpu, upper):
    """The XSAVE buffer as Linux writes it for the CPU's XCR0: with AVX on,
    _fpx_sw_bytes {MAGIC1, extended_size 836, xfeatures 7, xstate_size
    832}, XSTATE_BV with bit 2 set exactly when an upper half is not zero,
    the rest of the header zero, YMM_Hi128 at 576, MAGIC2 at 832, the
    buffer 64-byte aligned below the red zone (fpu__alloc_mathframe) and
    the frame below it; without AVX (TCG), 576 and x87/SSE only, as before."""
    spec, regs, memory = cpu
    original = set_state(spec, regs)
    avx = has_avx(regs)
    if avx and not upper:
        for i in range(16):
            regs.write(f"ymm{i}h", 0)
    size, xfeatures = (832, 7) if avx else (576, 3)
    frame, _ = spec.signal_frames.setup(regs, memory, delivery(spec, regs))
    fpstate = u64(memory, frame + 8 + 40 + 184)
    sp = original["rsp"] - 128
    assert fpstate == (sp - (size + 4)) & ~63
    assert frame == ((fpstate - 440) & ~15) - 8
    assert u64(memory, frame + 8) & 1                                # uc_flags: UC_FP_XSTATE
    assert struct.unpack("<IIQI", memory.read(fpstate + 464, 20)) == (0x46505853, size + 4,
                                                                      xfeatures, size)
    in_use = 7 if avx and upper else 3
    assert u64(memory, fpstate + 512) == in_use                       # xstate_bv
    assert memory.read(fpstate + 520, 56) == bytes(56)                # xcomp_bv, reserved
    assert u32(memory, fpstate + size) == 0x46505845                  # FP_XSTATE_MAGIC2
    if avx:
        component = memory.read(fpstate + 576, 256)
        assert component == (b"".join(original[f"ymm{i}h"].to_bytes(16, "little")
                                      for i in range(16)) if upper else bytes(256))
    assert_fpu_cleared(regs, 64)                                      # AVX too


@KVM
def test_kvm_xcr0_matches_the_cpu():
    """The registers' xcr0 says AVX exactly when the program's CPU has it on
    (xgetbv), and YMM_Hi128 sits where CPUID leaf 0xD sub-leaf 2 says."""
    from xemu.machine.accel.kvm import KvmAccelerator
    spec = by_name("x86_64")
    memory = Memory()
    memory.map(STACK, STACK_SIZE, PROT_READ | PROT_WRITE)
    memory.map(CODE, 0x1000, PROT_READ | PROT_EXEC)
    memory.write(CODE, b"\x31\xc9\x0f\x01\xd0" + b"\x48\x89\xc3" + syscall(500))  # xgetbv
    machine = KvmAccelerator(spec, memory)
    try:
        machine.syscall_handler = lambda number, args: Exit(number)
        machine.regs.write("rip", CODE)
        machine.regs.write("rsp", STACK_TOP - 0x100)
        assert machine.run() == Exit(500)
        xcr0 = machine.regs.read("rbx")
        assert machine.regs.read("xcr0") & 7 == xcr0 & 7
        cpuid = machine.space.cpuid
        leaves = {(e.function, e.index): e for e in cpuid.entries[:cpuid.nent]}
        if xcr0 & 4 and (0xD, 2) in leaves:
            assert (leaves[(0xD, 2)].ebx, leaves[(0xD, 2)].eax) == (576, 256)
    finally:
        machine.close()


def test_tcg_cpu_has_no_avx():
    """Unicorn's x86-64 (QEMU 5's TCG): no AVX in CPUID, XCR0 x87|SSE, a
    256-bit VEX instruction is illegal, and its registers name no xcr0 or
    ymmNh, so its frames stay x87/SSE (576 bytes)."""
    from xemu.machine.accel.tcg import TcgAccelerator
    spec = by_name("x86_64")
    memory = Memory()
    memory.map(STACK, STACK_SIZE, PROT_READ | PROT_WRITE)
    memory.map(CODE, 0x2000, PROT_READ | PROT_EXEC)
    map_reserved(memory, spec)
    memory.write(CODE, b"\xb8\x01\0\0\0\x0f\xa2" b"\x49\x89\xc8"            # cpuid 1; r8 = ecx
                 b"\x31\xc9\x0f\x01\xd0" b"\x48\x89\xc3" + syscall(500))      # xgetbv; rbx = eax
    memory.write(CODE + 0x1000, b"\xc5\xfd\x76\xc0")                      # vpcmpeqd ymm0 x3
    machine = TcgAccelerator(spec, memory)
    try:
        regs = machine.regs
        machine.syscall_handler = lambda number, args: Exit(number)
        regs.write("rip", CODE)
        regs.write("rsp", STACK_TOP - 0x100)
        assert machine.run() == Exit(500)
        assert not regs.read("r8") >> 28 & 1                  # CPUID.1:ECX.AVX
        assert regs.read("rbx") == 3
        for name in ("xcr0", "ymm0h"):
            with pytest.raises(KeyError):
                regs.read(name)
        assert not has_avx(regs)
        regs.write("rip", CODE + 0x1000)
        stop = machine.run()
        assert stop.signal == 4                               # SIGILL
    finally:
        machine.close()


# -- state the frame does not hold: AVX-512 under KVM (issue 13) ---------------

KMOVW_K1_EAX, KMOVW_EAX_K1 = bytes.fromhex("c5f892c8"), bytes.fromhex("c5f893c1")


def test_kmovw_encoding():
    md = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
    md.syntax = capstone.CS_OPT_SYNTAX_INTEL
    (into,) = md.disasm(KMOVW_K1_EAX, 0)
    (out,) = md.disasm(KMOVW_EAX_K1, 0)
    assert (into.mnemonic, into.op_str, out.mnemonic, out.op_str) == \
        ("kmovw", "k1, eax", "kmovw", "eax, k1")


@KVM
def test_x86_64_kvm_avx512_state_survives_a_handler():
    """On an AVX-512 host KVM runs the guest with opmask and zmm state on,
    which xemu's frame does not hold: it is kept aside and put back at
    sigreturn. An opmask register set before the signal and clobbered by
    the handler holds its value after (it was lost)."""
    from xemu.machine.accel.kvm import KvmAccelerator
    spec = by_name("x86_64")
    memory = Memory()
    memory.map(STACK, STACK_SIZE, PROT_READ | PROT_WRITE)
    memory.map(CODE, 0x1000, PROT_READ | PROT_EXEC)
    memory.map(HANDLER & ~0xFFF, 0x2000, PROT_READ | PROT_EXEC)   # HANDLER, RESTORER
    mov_eax = b"\xb8" + struct.pack("<I", 0x1234)
    memory.write(CODE, mov_eax + KMOVW_K1_EAX + syscall(500)
                 + b"\x31\xc0" + KMOVW_EAX_K1 + b"\x89\xc7" + syscall(501))  # edi = k1
    memory.write(HANDLER, b"\x31\xc0" + KMOVW_K1_EAX + b"\xc3")        # k1 = 0; ret
    memory.write(RESTORER, syscall(15))
    machine = KvmAccelerator(spec, memory)
    try:
        regs, frames = machine.regs, spec.signal_frames
        if not regs.read("xcr0") & 0xE0:
            pytest.skip("this host's CPU has no AVX-512 state on")
        machine.syscall_handler = lambda number, args: Exit(number)
        regs.write("rip", CODE)
        regs.write("rsp", STACK_TOP - 0x1000)
        assert machine.run() == Exit(500)
        frame, kept = frames.setup(regs, memory,
                                   delivery(spec, regs, flags=SA_SIGINFO | SA_RESTORER))
        assert kept is not None
        assert machine.run() == Exit(15)
        frames.restore(regs, memory, True, {frame: kept})
        assert machine.run() == Exit(501)
        assert regs.read("rdi") == 0x1234
    finally:
        machine.close()
