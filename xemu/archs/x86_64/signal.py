"""x86-64 signal frames, as Linux's arch/x86/kernel/signal_64.c builds them:
struct rt_sigframe {pretcode, uc, info} (arch/x86/include/asm/sigframe.h)
with the XSAVE-format FP state 64-byte aligned above it: x87 and SSE, and
AVX where the CPU has it on (KVM on an AVX host), sized as Linux sizes it
for those components (i386/signal.py). x86-64 has only rt frames."""
import struct

from ..base import SA_RESTORER, Restored, SignalDelivery, stack_t
from ..i386.signal import (FRAME_ALIGNMENT, HANDLER_CLEARS, UC_FP_XSTATE, UC_SIGCONTEXT_SS,
                           UC_STRICT_RESTORE_SS, XFEATURES_FRAMED, clear_fpu, fetch_xstate,
                           fix_eflags, load_xstate, unframed_state, user_xfeatures,
                           xstate_image, xstate_sigframe_size)

RED_ZONE = 128
USER_CS, USER_DS = 0x33, 0x2B                       # __USER_CS, __USER_DS

# struct sigcontext_64
SC_GPRS = ("r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
           "rdi", "rsi", "rbp", "rbx", "rdx", "rax", "rcx", "rsp", "rip")
SIGCONTEXT = struct.Struct("<17Q" "Q" "HHHH" "4Q" "Q" "64x")   # ..., eflags, cs gs fs ss,
SIGCONTEXT_SIZE = SIGCONTEXT.size                                # err trapno oldmask cr2, fpstate
SC_RIP, SC_EFLAGS, SC_FPSTATE = 16 * 8, 17 * 8, 184

# struct ucontext: uc_flags, uc_link, uc_stack (ss_sp, ss_flags, ss_size), uc_mcontext, uc_sigmask
UC_STACK, UC_MCONTEXT = 16, 40
UC_SIGMASK = UC_MCONTEXT + SIGCONTEXT_SIZE          # 296
UC_SIZE = UC_SIGMASK + 8                            # 304
FRAME_UC = 8                                        # after pretcode
FRAME_INFO = FRAME_UC + UC_SIZE                     # 312
FRAME_SIZE = FRAME_INFO + 128                       # 440

MASK64 = (1 << 64) - 1


def _rt_sigreturn_number() -> int:
    from .syscalls import NUMBERS
    return NUMBERS["rt_sigreturn"]


class X86_64SignalFrames:
    # the XSAVE buffer with every component framed (AVX), 64-byte aligned,
    # below it the frame, 16-byte aligned less 8
    min_stack = xstate_sigframe_size(XFEATURES_FRAMED) + 63 + FRAME_SIZE + 15 + 8

    def __init__(self):
        self.nr_rt_sigreturn = _rt_sigreturn_number()
        # mov eax, NR_rt_sigreturn; syscall; then int3 padding (faults)
        code = b"\xb8" + struct.pack("<I", self.nr_rt_sigreturn) + b"\x0f\x05"
        self.trampoline = code.ljust(0x20, b"\xcc")

    def setup(self, regs, memory, delivery: SignalDelivery):
        kept = unframed_state(regs)
        sp = delivery.sp if delivery.switched else delivery.sp - RED_ZONE
        xfeatures = user_xfeatures(regs)
        # fpu__alloc_mathframe: the XSAVE buffer (as large as the CPU's
        # components make it), 64-byte aligned
        buf_fx = (sp - xstate_sigframe_size(xfeatures)) & ~63
        # get_sigframe: round_down(sp - frame_size, 16) - 8, so that at the
        # handler's entry (rsp + 8) % 16 == 0, as after a call
        frame = ((buf_fx - FRAME_SIZE) & ~(FRAME_ALIGNMENT - 1)) - 8

        memory.write(buf_fx, xstate_image(regs, 64, xfeatures))
        blocked = delivery.blocked & MASK64
        restorer = delivery.restorer if delivery.flags & SA_RESTORER else delivery.trampoline
        ss_sp, ss_flags, ss_size = delivery.altstack
        sigcontext = SIGCONTEXT.pack(
            *(regs.read(name) & MASK64 for name in SC_GPRS), regs.read("rflags") & MASK64,
            USER_CS, 0, 0, USER_DS,                 # cs gs fs ss
            0, 0, blocked & 0xFFFFFFFF, 0,          # err trapno oldmask cr2
            buf_fx)
        ucontext = (struct.pack("<QQ", UC_FP_XSTATE | UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS, 0)
                    + struct.pack("<QIxxxxQ", ss_sp & MASK64, ss_flags, ss_size & MASK64)
                    + sigcontext + struct.pack("<Q", blocked))
        memory.write(frame, struct.pack("<Q", restorer & MASK64) + ucontext
                     + bytes(delivery.siginfo[:128]).ljust(128, b"\0"))

        regs.write("rdi", delivery.signum)
        regs.write("rsi", frame + FRAME_INFO)
        regs.write("rdx", frame + FRAME_UC)
        regs.write("rax", 0)
        regs.write("rsp", frame)
        regs.write("rip", delivery.handler)
        regs.write("rflags", regs.read("rflags") & ~HANDLER_CLEARS)
        clear_fpu(regs, 64)
        return frame, kept

    def restore(self, regs, memory, rt: bool, kept) -> Restored:
        frame = (regs.read("rsp") - 8) & MASK64      # `ret` popped pretcode
        uc = frame + FRAME_UC
        whole = memory.read(uc, UC_MCONTEXT + SIGCONTEXT_SIZE + 8)
        context = kept.get(frame)
        if context is not None:                    # what the frame could not hold
            regs.restore(context)
        raw = whole[UC_MCONTEXT:]
        values = SIGCONTEXT.unpack(raw[:SIGCONTEXT_SIZE])
        blocked = struct.unpack_from("<Q", raw, SIGCONTEXT_SIZE)[0]
        gprs, rflags, fpstate = values[:17], values[17], values[26]
        saved = fetch_xstate(regs, memory, fpstate) if fpstate else None
        for name, value in zip(SC_GPRS, gprs):
            regs.write(name, value)
        regs.write("rflags", fix_eflags(regs.read("rflags"), rflags))
        if saved is None:
            clear_fpu(regs, 64)
        else:
            load_xstate(regs, saved, 64)
        return Restored(blocked, stack_t("<", "Q", whole, UC_STACK))


FRAMES = X86_64SignalFrames()
