"""i386 signal frames, as Linux's arch/x86/kernel/signal_32.c builds them
(struct sigframe and struct rt_sigframe of arch/x86/include/asm/sigframe.h),
and the x87/SSE/AVX state both x86 arches keep in a frame (arch/x86/kernel/
fpu/signal.c): an XSAVE standard-format image of the components the CPU has
enabled (XCR0: x87 and SSE, and AVX's YMM_Hi128 where the CPU has AVX on),
the FXSAVE region's software-reserved bytes (struct _fpx_sw_bytes) saying
so, and FP_XSTATE_MAGIC2 after it; i386 puts the old FSAVE-format header
before it.

Registers fpN are physical x87 registers (Unicorn's naming, and KVM's in
xemu); FXSAVE and FSAVE keep them in stack order, ST(i) = fp[(TOP + i) & 7].
"""
import struct
from dataclasses import dataclass

from ..base import (OLD_SIGRETURN_OFFSET, SA_RESTORER, SA_SIGINFO, Restored, SignalDelivery,
                    stack_t)

# --- the x87/SSE/AVX state (shared with x86_64) -----------------------------

FXSAVE_SIZE = 512
XSAVE_HEADER_SIZE = 64
XSTATE_SIZE = FXSAVE_SIZE + XSAVE_HEADER_SIZE       # x87 and SSE: 576
XSTATE_BV = FXSAVE_SIZE                             # the header's first field
FP_XSTATE_MAGIC1, FP_XSTATE_MAGIC2 = 0x46505853, 0x46505845
FP_XSTATE_MAGIC2_SIZE = 4
SW_RESERVED = 464                                   # struct _fpx_sw_bytes in FXSAVE
SW_BYTES = struct.Struct("<IIQI")                   # magic1, extended_size, xfeatures, xstate_size
XFEATURE_MASK_FP, XFEATURE_MASK_SSE, XFEATURE_MASK_YMM = 0x1, 0x2, 0x4
XFEATURES_X87_SSE = XFEATURE_MASK_FP | XFEATURE_MASK_SSE
# AVX's YMM_Hi128 component in the XSAVE standard format: CPUID leaf 0xD
# sub-leaf 2 gives EBX = 576 (its offset), EAX = 256 (its size) on every CPU
# with AVX: the upper 128 bits of each ymm register, 16 bytes apiece.
YMM_OFFSET, YMM_SIZE = XSTATE_SIZE, 256
# the components a frame can carry; others the CPU has on stay out of it
XFEATURES_FRAMED = XFEATURES_X87_SSE | XFEATURE_MASK_YMM
MXCSR_MASK = 0xFFFF                                 # what the kernel reports (DAZ too)
X86_FXSR_MAGIC = 0x0000                             # _fpstate_32.magic: FXSR data follows
FREGS_STATE_SIZE = 112                              # struct fregs_state (FSAVE), i386 only
FPU_CONTROL_DEFAULT, MXCSR_DEFAULT = 0x37F, 0x1F80

# eflags bits sigreturn takes from the frame (FIX_EFLAGS in signal.c)
X86_EFLAGS_CF, X86_EFLAGS_PF, X86_EFLAGS_AF, X86_EFLAGS_ZF = 0x1, 0x4, 0x10, 0x40
X86_EFLAGS_SF, X86_EFLAGS_TF, X86_EFLAGS_DF, X86_EFLAGS_OF = 0x80, 0x100, 0x400, 0x800
X86_EFLAGS_RF, X86_EFLAGS_AC = 0x10000, 0x40000
FIX_EFLAGS = (X86_EFLAGS_AC | X86_EFLAGS_OF | X86_EFLAGS_DF | X86_EFLAGS_TF | X86_EFLAGS_SF
              | X86_EFLAGS_ZF | X86_EFLAGS_AF | X86_EFLAGS_PF | X86_EFLAGS_CF | X86_EFLAGS_RF)
# what handle_signal clears before the handler runs
HANDLER_CLEARS = X86_EFLAGS_DF | X86_EFLAGS_RF | X86_EFLAGS_TF

UC_FP_XSTATE, UC_SIGCONTEXT_SS, UC_STRICT_RESTORE_SS = 0x1, 0x2, 0x4
FRAME_ALIGNMENT = 16


def _optional(regs, name: str) -> int:
    """A register one accelerator may not name (fcs, fds under KVM): 0."""
    try:
        return regs.read(name)
    except KeyError:
        return 0


def _fp80(value) -> bytes:
    """An x87 register as its 10 bytes, from (mantissa, exponent) or an int."""
    if isinstance(value, tuple):
        value = value[0] | value[1] << 64
    return (value & (1 << 80) - 1).to_bytes(10, "little")


def _fp_tuple(raw: bytes) -> tuple[int, int]:
    return int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:10], "little")


def user_xfeatures(regs) -> int:
    """The state components a frame carries: those the thread's CPU has
    enabled (XCR0, the kernel's user_xfeatures) that xemu frames. x87 and
    SSE always; AVX where the accelerator's CPU has it on (KVM on an AVX
    host). A CPU whose registers name no XCR0 (Unicorn's: QEMU 5's TCG has
    no AVX) has x87 and SSE only."""
    try:
        xcr0 = regs.read("xcr0")
    except KeyError:
        return XFEATURES_X87_SSE
    return xcr0 & XFEATURES_FRAMED | XFEATURES_X87_SSE


def xstate_size(xfeatures: int) -> int:
    """The XSAVE standard-format size of these components (the kernel's
    fpstate->user_size): where the last one ends."""
    return YMM_OFFSET + YMM_SIZE if xfeatures & XFEATURE_MASK_YMM else XSTATE_SIZE


def unframed_state(regs) -> object | None:
    """What the frame cannot hold, kept aside (SignalFrames.setup's second
    value): the thread's whole context where its CPU has state components
    on that xemu does not frame (AVX-512's opmask and zmm registers, under
    KVM on such a host; glibc's string functions use ymm16-31 there, so a
    handler calling strlen would clobber the interrupted code's). restore
    puts it back first, then the frame's registers over it."""
    try:
        xcr0 = regs.read("xcr0")
    except KeyError:
        return None
    return regs.save() if xcr0 & ~XFEATURES_FRAMED else None


def xstate_sigframe_size(xfeatures: int) -> int:
    """The room the XSAVE buffer takes in a frame: the image and MAGIC2."""
    return xstate_size(xfeatures) + FP_XSTATE_MAGIC2_SIZE


def _vector_count(bits: int) -> int:
    """xmm/ymm registers a mode reaches: 8 in 32-bit code, 16 in 64-bit."""
    return 16 if bits == 64 else 8


def save_fxsave(regs, bits: int) -> bytearray:
    """The FXSAVE image of the thread's x87/SSE state (64-bit format for
    x86_64, 32-bit with FCS/FDS for i386); its software-reserved bytes are
    zero (xstate_image fills them)."""
    area = bytearray(FXSAVE_SIZE)
    fsw = regs.read("fpsw") & 0xFFFF
    top = fsw >> 11 & 7
    tags = regs.read("fptag")
    abridged = sum(1 << i for i in range(8) if tags >> 2 * i & 3 != 3)
    struct.pack_into("<HHBxH", area, 0, regs.read("fpcw") & 0xFFFF, fsw, abridged,
                     regs.read("fop") & 0x7FF)
    if bits == 64:
        struct.pack_into("<QQ", area, 8, regs.read("fip") & (1 << 64) - 1,
                         regs.read("fdp") & (1 << 64) - 1)
    else:
        struct.pack_into("<IHxxIHxx", area, 8, regs.read("fip") & 0xFFFFFFFF,
                         _optional(regs, "fcs") & 0xFFFF, regs.read("fdp") & 0xFFFFFFFF,
                         _optional(regs, "fds") & 0xFFFF)
    struct.pack_into("<II", area, 24, regs.read("mxcsr") & 0xFFFFFFFF, MXCSR_MASK)
    for i in range(8):
        area[32 + 16 * i:32 + 16 * i + 10] = _fp80(regs.read(f"fp{(top + i) & 7}"))
    for i in range(_vector_count(bits)):
        area[160 + 16 * i:176 + 16 * i] = (regs.read(f"xmm{i}") & (1 << 128) - 1).to_bytes(
            16, "little")
    return area


def load_fxsave(regs, area: bytes, bits: int) -> None:
    """Put an FXSAVE image back in the registers (FSW first: its TOP maps
    the image's stack-order slots to physical registers)."""
    fcw, fsw, abridged, fop = struct.unpack_from("<HHBxH", area, 0)
    regs.write("fpsw", fsw)
    regs.write("fpcw", fcw)
    regs.write("fptag", sum((0 if abridged >> i & 1 else 3) << 2 * i for i in range(8)))
    regs.write("fop", fop & 0x7FF)
    if bits == 64:
        fip, fdp = struct.unpack_from("<QQ", area, 8)
    else:
        fip, fcs, fdp, fds = struct.unpack_from("<IHxxIHxx", area, 8)
        for name, value in (("fcs", fcs), ("fds", fds)):
            try:
                regs.write(name, value)
            except KeyError:
                pass
    regs.write("fip", fip)
    regs.write("fdp", fdp)
    regs.write("mxcsr", struct.unpack_from("<I", area, 24)[0] & MXCSR_MASK)
    top = fsw >> 11 & 7
    for i in range(8):
        regs.write(f"fp{(top + i) & 7}", _fp_tuple(area[32 + 16 * i:42 + 16 * i]))
    for i in range(_vector_count(bits)):
        regs.write(f"xmm{i}", int.from_bytes(area[160 + 16 * i:176 + 16 * i], "little"))


def _save_ymm(regs, bits: int) -> bytes:
    """The YMM_Hi128 component: ymmNh, the upper half of ymm register N."""
    return b"".join((regs.read(f"ymm{i}h") & (1 << 128) - 1).to_bytes(16, "little")
                    for i in range(_vector_count(bits))).ljust(YMM_SIZE, b"\0")


def _load_ymm(regs, component: bytes, bits: int) -> None:
    for i in range(_vector_count(bits)):
        regs.write(f"ymm{i}h", int.from_bytes(component[16 * i:16 * i + 16], "little"))


def xstate_image(regs, bits: int, xfeatures: int, ia32_frame: bool = False,
                 fx: bytes | None = None) -> bytes:
    """The XSAVE-format state the kernel copies to a frame's buf_fx
    (copy_fpstate_to_sigframe): the FXSAVE region with save_sw_bytes' struct
    _fpx_sw_bytes, the header (XSTATE_BV: x87 and SSE always, as
    save_xstate_epilog sets them, and each other component not in its
    initial state; the rest of the header zero), the components, then
    FP_XSTATE_MAGIC2. An ia32 frame's extended_size counts the FSAVE
    header before the image too. fx: the FXSAVE image, if made already."""
    size = xstate_size(xfeatures)
    image = bytearray(size + FP_XSTATE_MAGIC2_SIZE)
    image[:FXSAVE_SIZE] = save_fxsave(regs, bits) if fx is None else fx
    extended = size + FP_XSTATE_MAGIC2_SIZE + (FREGS_STATE_SIZE if ia32_frame else 0)
    SW_BYTES.pack_into(image, SW_RESERVED, FP_XSTATE_MAGIC1, extended, xfeatures, size)
    xstate_bv = XFEATURES_X87_SSE
    if xfeatures & XFEATURE_MASK_YMM:
        # in use unless all zero (XSAVE's init tracking; either way,
        # XRSTOR gives the same registers back)
        component = _save_ymm(regs, bits)
        if any(component):
            xstate_bv |= XFEATURE_MASK_YMM
            image[YMM_OFFSET:YMM_OFFSET + YMM_SIZE] = component
    struct.pack_into("<Q", image, XSTATE_BV, xstate_bv)
    struct.pack_into("<I", image, size, FP_XSTATE_MAGIC2)
    return bytes(image)


@dataclass
class SavedXState:
    """The FP state a frame holds, read and checked as sigreturn's
    __fpu_restore_sig does, before any register changes."""
    fx: bytearray           # the FXSAVE region (i386 folds its FSAVE header in)
    loaded: int             # components XRSTOR takes from the image; the rest start clean
    mxcsr: bool             # MXCSR from the image (XRSTOR: when SSE or AVX is requested)
    ymm: bytes              # the YMM_Hi128 component, when loaded


def fetch_xstate(regs, memory, buf_fx: int) -> SavedXState:
    """Read the XSAVE image at buf_fx. check_xstate_in_sigframe: a frame
    whose _fpx_sw_bytes or MAGIC2 do not describe a buffer this CPU's state
    fits (a program's own legacy FXSAVE frame, or one with more components
    than the CPU has on) is x87 and SSE only, as FXRSTOR takes it. Else
    XRSTOR's rules: a component the frame's xfeatures asks for is loaded if
    its XSTATE_BV bit is set, and every other component the CPU has on
    returns to its initial state (a frame without AVX clears the ymm upper
    halves)."""
    enabled = user_xfeatures(regs)
    fx = bytearray(memory.read(buf_fx, FXSAVE_SIZE))
    magic1, extended, xfeatures, size = SW_BYTES.unpack_from(fx, SW_RESERVED)
    if (magic1 == FP_XSTATE_MAGIC1 and XSTATE_SIZE <= size <= xstate_size(enabled)
            and size <= extended
            and struct.unpack("<I", memory.read(buf_fx + size, 4))[0] == FP_XSTATE_MAGIC2):
        requested = enabled & xfeatures
        xstate_bv = struct.unpack("<Q", memory.read(buf_fx + XSTATE_BV, 8))[0]
    else:                                   # fx_only
        requested = xstate_bv = XFEATURES_X87_SSE
    loaded = requested & xstate_bv
    ymm = (memory.read(buf_fx + YMM_OFFSET, YMM_SIZE) if loaded & XFEATURE_MASK_YMM
           else bytes(YMM_SIZE))
    return SavedXState(fx, loaded, bool(requested & (XFEATURE_MASK_SSE | XFEATURE_MASK_YMM)),
                       ymm)


def load_xstate(regs, saved: SavedXState, bits: int) -> None:
    """Put a frame's FP state in the registers; what it does not load
    takes its initial state (FNINIT's x87, zero vectors, MXCSR's default)."""
    fx = saved.fx
    if not saved.loaded & XFEATURE_MASK_FP:
        fx[0:24] = struct.pack("<H", FPU_CONTROL_DEFAULT).ljust(24, b"\0")
        fx[32:160] = bytes(128)
    if not saved.loaded & XFEATURE_MASK_SSE:
        fx[160:416] = bytes(256)
    if not saved.mxcsr:
        struct.pack_into("<I", fx, 24, MXCSR_DEFAULT)
    load_fxsave(regs, fx, bits)
    if user_xfeatures(regs) & XFEATURE_MASK_YMM:
        _load_ymm(regs, saved.ymm, bits)


def clear_fpu(regs, bits: int) -> None:
    """The initial x87/SSE/AVX state the handler starts with (the kernel's
    fpu__clear_user_states), as a null fpstate in sigreturn also gives."""
    load_xstate(regs, SavedXState(bytearray(FXSAVE_SIZE), 0, False, bytes(YMM_SIZE)), bits)


def fix_eflags(current: int, saved: int) -> int:
    return (current & ~FIX_EFLAGS) | (saved & FIX_EFLAGS)


# --- i386 frames ------------------------------------------------------------

# struct sigcontext_32
SIGCONTEXT = struct.Struct("<HxxHxxHxxHxx" "8I" "II" "I" "Hxx" "I" "I" "Hxx" "I" "I" "I")
SIGCONTEXT_SIZE = SIGCONTEXT.size                   # 88
SC_GPRS = ("edi", "esi", "ebp", "esp", "ebx", "edx", "ecx", "eax")
SC_EIP, SC_FPSTATE, SC_OLDMASK = 56, 76, 80         # offsets of sc.ip, sc.fpstate, sc.oldmask
FPSTATE_32_SIZE = 624                               # sizeof(struct _fpstate_32)

# struct sigframe: pretcode, sig, sc, fpstate_unused, extramask[1], retcode[8]
OLD_SC = 8
OLD_EXTRAMASK = OLD_SC + SIGCONTEXT_SIZE + FPSTATE_32_SIZE     # 720
OLD_RETCODE = OLD_EXTRAMASK + 4
OLD_FRAME_SIZE = OLD_RETCODE + 8                               # 732

# struct rt_sigframe: pretcode, sig, pinfo, puc, info, uc, retcode[8]
RT_INFO = 16
RT_UC = RT_INFO + 128                                           # 144
UC_STACK, UC_MCONTEXT = 8, 20                       # in struct ucontext (ia32)
UC_SIGMASK = UC_MCONTEXT + SIGCONTEXT_SIZE          # 108
UC_SIZE = UC_SIGMASK + 8                            # 116
RT_RETCODE = RT_UC + UC_SIZE                        # 260
RT_FRAME_SIZE = RT_RETCODE + 8                      # 268


def _numbers():
    from . import syscalls
    return syscalls.NUMBERS["sigreturn"], syscalls.NUMBERS["rt_sigreturn"]


class I386SignalFrames:
    """struct sigframe / struct rt_sigframe with the FP state after them."""

    # the XSAVE buffer (every component framed) 64-byte aligned, the FSAVE
    # header, then the larger (rt) frame, 16-byte aligned less 4
    min_stack = xstate_sigframe_size(XFEATURES_FRAMED) + 63 + FREGS_STATE_SIZE \
        + RT_FRAME_SIZE + 15 + 4

    def __init__(self):
        nr_sigreturn, nr_rt_sigreturn = _numbers()
        self.nr_sigreturn, self.nr_rt_sigreturn = nr_sigreturn, nr_rt_sigreturn
        rt = b"\xb8" + struct.pack("<I", nr_rt_sigreturn) + b"\xcd\x80"     # mov eax; int 0x80
        old = b"\x58\xb8" + struct.pack("<I", nr_sigreturn) + b"\xcd\x80"   # pop eax; mov; int
        # padding: int3, which faults (SIGTRAP) if anything runs into it
        self.trampoline = (rt.ljust(OLD_SIGRETURN_OFFSET, b"\xcc") + old).ljust(0x40, b"\xcc")

    # -- setup --

    def setup(self, regs, memory, delivery: SignalDelivery):
        kept = unframed_state(regs)
        rt = bool(delivery.flags & SA_SIGINFO)
        frame_size = RT_FRAME_SIZE if rt else OLD_FRAME_SIZE
        sp = delivery.sp
        xfeatures = user_xfeatures(regs)
        # fpu__alloc_mathframe: the XSAVE buffer 64-byte aligned, the FSAVE
        # header below it
        buf_fx = (sp - xstate_sigframe_size(xfeatures)) & ~63
        fpstate = buf_fx - FREGS_STATE_SIZE
        frame = ((fpstate - frame_size + 4) & ~(FRAME_ALIGNMENT - 1)) - 4

        fx = save_fxsave(regs, 32)
        memory.write(fpstate, self._fsave_header(fx))
        memory.write(buf_fx, xstate_image(regs, 32, xfeatures, ia32_frame=True, fx=fx))

        blocked = delivery.blocked & (1 << 64) - 1
        if delivery.flags & SA_RESTORER:
            restorer = delivery.restorer
        else:
            restorer = delivery.trampoline + (0 if rt else OLD_SIGRETURN_OFFSET)
        if rt:
            info, uc = frame + RT_INFO, frame + RT_UC
            ss_sp, ss_flags, ss_size = delivery.altstack
            head = struct.pack("<IiII", restorer, delivery.signum, info, uc)
            ucontext = (struct.pack("<II", UC_FP_XSTATE, 0)
                        + struct.pack("<III", ss_sp & 0xFFFFFFFF, ss_flags, ss_size & 0xFFFFFFFF)
                        + self._sigcontext(regs, fpstate, blocked & 0xFFFFFFFF)
                        + struct.pack("<II", blocked & 0xFFFFFFFF, blocked >> 32))
            retcode = (b"\xb8" + struct.pack("<I", self.nr_rt_sigreturn) + b"\xcd\x80\0")
            memory.write(frame, head + bytes(delivery.siginfo[:128]).ljust(128, b"\0")
                         + ucontext + retcode)
            dx, cx = info, uc
        else:
            memory.write(frame, struct.pack("<Ii", restorer, delivery.signum)
                         + self._sigcontext(regs, fpstate, blocked & 0xFFFFFFFF)
                         + bytes(FPSTATE_32_SIZE)
                         + struct.pack("<I", blocked >> 32)
                         + b"\x58\xb8" + struct.pack("<I", self.nr_sigreturn) + b"\xcd\x80")
            dx = cx = 0

        regs.write("esp", frame)
        regs.write("eip", delivery.handler)
        regs.write("eax", delivery.signum)
        regs.write("edx", dx)
        regs.write("ecx", cx)
        regs.write("eflags", regs.read("eflags") & ~HANDLER_CLEARS)
        clear_fpu(regs, 32)
        return frame, kept

    @staticmethod
    def _sigcontext(regs, fpstate: int, oldmask: int) -> bytes:
        def seg(name):
            return _optional(regs, name) & 0xFFFF
        return SIGCONTEXT.pack(
            seg("gs"), seg("fs"), seg("es"), seg("ds"),
            *(regs.read(name) & 0xFFFFFFFF for name in SC_GPRS),
            0, 0,                                   # trapno, err
            regs.read("eip") & 0xFFFFFFFF, seg("cs"), regs.read("eflags") & 0xFFFFFFFF,
            regs.read("esp") & 0xFFFFFFFF,          # sp_at_signal
            seg("ss"), fpstate, oldmask, 0)         # ..., cr2

    @staticmethod
    def _fsave_header(fx: bytes) -> bytes:
        """struct fregs_state + status/magic, from the FXSAVE image (the
        native i386 kernel's convert_from_fxsr): the full tag word, CS with the
        opcode above it, FOS as FXSAVE's FDS."""
        fcw, fsw, abridged, fop, fip, fcs, fdp, fds = struct.unpack_from("<HHBxHIHxxIHxx", fx, 0)
        top = fsw >> 11 & 7
        tag = 0
        for phys in range(8):
            slot = (phys - top) & 7
            mantissa, exponent = _fp_tuple(fx[32 + 16 * slot:42 + 16 * slot])
            exponent &= 0x7FFF
            if not abridged >> phys & 1:
                t = 3                               # empty
            elif exponent == 0x7FFF:
                t = 2                               # NaN, infinity
            elif exponent == 0:
                t = 1 if mantissa == 0 else 2       # zero, denormal
            else:
                t = 0 if mantissa >> 63 else 2      # valid, unnormal
            tag |= t << 2 * phys
        st = b"".join(bytes(fx[32 + 16 * i:42 + 16 * i]) for i in range(8))
        return (struct.pack("<7I", fcw | 0xFFFF0000, fsw | 0xFFFF0000, tag | 0xFFFF0000,
                            fip, fcs | (fop & 0x7FF) << 16, fdp, fds)
                + st + struct.pack("<HH", fsw, X86_FXSR_MAGIC))

    # -- sigreturn --

    def restore(self, regs, memory, rt: bool, kept) -> Restored:
        sp = regs.read("esp") & 0xFFFFFFFF
        frame = sp - 4 if rt else sp - 8    # `ret` popped pretcode (and sigreturn sig)
        if rt:
            whole = memory.read(frame + RT_UC, UC_MCONTEXT + SIGCONTEXT_SIZE + 8)
            raw = whole[UC_MCONTEXT:]
            low, high = struct.unpack_from("<II", raw, SIGCONTEXT_SIZE)
            restored = Restored(low | high << 32, stack_t("<", "I", whole, UC_STACK))
        else:
            raw = memory.read(frame + OLD_SC, OLD_EXTRAMASK + 4 - OLD_SC)
            oldmask = struct.unpack_from("<I", raw, SC_OLDMASK)[0]
            extramask = struct.unpack_from("<I", raw, OLD_EXTRAMASK - OLD_SC)[0]
            restored = Restored(oldmask | extramask << 32)
        context = kept.get(frame)
        if context is not None:                    # what the frame could not hold
            regs.restore(context)
        self._restore_sigcontext(regs, memory, raw[:SIGCONTEXT_SIZE])
        return restored

    def _restore_sigcontext(self, regs, memory, raw: bytes) -> None:
        (gs, fs, es, ds, *gprs, _trapno, _err, eip, _cs, eflags, _sp_at_signal, _ss,
         fpstate, _oldmask, _cr2) = SIGCONTEXT.unpack(raw)
        saved = None
        if fpstate:
            header = memory.read(fpstate, FREGS_STATE_SIZE)
            saved = fetch_xstate(regs, memory, fpstate + FREGS_STATE_SIZE)
            # the x87 state comes from the FSAVE header, folded in before
            # XRSTOR's rules apply (__fpu_restore_sig's ia32_fxstate path)
            self._fsave_into_fxsave(header, saved.fx)
        for name, value in zip(SC_GPRS, gprs):
            regs.write(name, value)
        regs.write("eip", eip)
        regs.write("eflags", fix_eflags(regs.read("eflags"), eflags))
        # cs and ss stay xemu's own flat segments; the data segments come back
        for name, value in (("ds", ds), ("es", es), ("fs", fs), ("gs", gs)):
            try:
                if regs.read(name) & 0xFFFF != value:
                    regs.write(name, value)
            except Exception:                       # a selector the CPU refuses
                pass
        if saved is None:
            clear_fpu(regs, 32)
        else:
            load_xstate(regs, saved, 32)

    @staticmethod
    def _fsave_into_fxsave(header: bytes, fx: bytearray) -> None:
        """The kernel's convert_to_fxsr: the x87 state comes from the FSAVE
        header (a handler may have edited it there), SSE from the FXSAVE part."""
        cwd, swd, twd, fip, fcs, foo, fos = struct.unpack_from("<7I", header, 0)
        abridged = sum(1 << i for i in range(8) if twd >> 2 * i & 3 != 3)
        struct.pack_into("<HHBxHIHxxIHxx", fx, 0, cwd & 0xFFFF, swd & 0xFFFF, abridged,
                         fcs >> 16 & 0x7FF, fip, fcs & 0xFFFF, foo, fos & 0xFFFF)
        for i in range(8):
            fx[32 + 16 * i:48 + 16 * i] = header[28 + 10 * i:38 + 10 * i] + bytes(6)


FRAMES = I386SignalFrames()
