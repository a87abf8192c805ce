"""32-bit PowerPC signal frames, laid out as Linux's
arch/powerpc/kernel/signal_32.c builds them (handle_signal32,
handle_rt_signal32, sys_sigreturn, sys_rt_sigreturn) with the structs of
arch/powerpc/include/uapi/asm/{sigcontext,ucontext,ptrace,elf}.h.

The old frame (no SA_SIGINFO), 1248 bytes, 16-aligned:
    struct sigframe { struct sigcontext sctx;   // 0,   32 bytes
                      struct mcontext mctx;     // 32,  992 bytes
                      int abigap[56]; }         // 1024, 224 bytes
The rt frame (SA_SIGINFO), 1536 bytes, 16-aligned:
    struct rt_sigframe { siginfo_t info;        // 0,   128 bytes
                         struct ucontext uc;    // 128, 1184 bytes
                         int abigap[56]; }      // 1312, 224 bytes
Below the frame the kernel leaves a caller's stack frame of
__SIGNAL_FRAMESIZE (64) bytes (+16 for rt) whose first word, the back chain,
holds the interrupted r1; the handler runs with r1 there.

Unicorn's PowerPC names no AltiVec register, so the frame's mc_vregs are
zeros (MSR_VEC clear in the saved msr says they are not valid, as the kernel
does for a thread that never used AltiVec) and setup keeps the whole Unicorn
context, which restore puts back before writing what the frame holds.
"""
from __future__ import annotations

import struct
from typing import Mapping

from ..base import (OLD_SIGRETURN_OFFSET, SA_SIGINFO, Registers, Restored, SignalDelivery,
                    stack_t)
from .syscalls import NUMBERS

MASK32 = 0xFFFFFFFF

SIGNAL_FRAMESIZE = 64          # __SIGNAL_FRAMESIZE (asm/ptrace.h), ppc32
ABIGAP = 56 * 4                # int abigap[56]: below the interrupted r1, never written
SIGINFO_SIZE = 128

MSR_LE = 1 << 0
MSR_FE1 = 1 << 8
MSR_FE0 = 1 << 11
MSR_FP = 1 << 13
MSR_VEC = 1 << 25

# struct sigcontext (ppc32): _unused[4], signal, handler, oldmask, regs
SIGCONTEXT = struct.Struct(">4IiIII")
SIGCONTEXT_SIZE = SIGCONTEXT.size                   # 32

# struct mcontext: mc_gregs[48] (elf_gregset_t), mc_fregs[33] (double),
# mc_pad[2], then mc_vregs[33] (16 bytes each, 16-aligned)
NGREG, NFPREG, NVRREG = 48, 33, 33
MC_GREGS = 0
MC_FREGS = MC_GREGS + NGREG * 4                     # 192
MC_PAD = MC_FREGS + NFPREG * 8                      # 456
MC_VREGS = MC_PAD + 2 * 4                           # 464 (16-aligned)
MCONTEXT_SIZE = MC_VREGS + NVRREG * 16              # 992

# mc_gregs indexes (struct pt_regs, asm/ptrace.h)
PT_NIP, PT_MSR, PT_ORIG_R3, PT_CTR, PT_LNK, PT_XER, PT_CCR = 32, 33, 34, 35, 36, 37, 38
PT_MQ, PT_TRAP, PT_DAR, PT_DSISR, PT_RESULT = 39, 40, 41, 42, 43

# struct ucontext (ppc32): uc_flags, uc_link, uc_stack (ss_sp, ss_flags,
# ss_size), uc_pad[7], uc_regs, uc_sigmask (2 words), uc_maskext[30],
# uc_pad2[3], uc_mcontext
UC_FLAGS, UC_LINK, UC_STACK = 0, 4, 8
UC_REGS = UC_STACK + 12 + 7 * 4                     # 48
UC_SIGMASK = UC_REGS + 4                            # 52
UC_MCONTEXT = UC_SIGMASK + 8 + 30 * 4 + 3 * 4       # 192
UCONTEXT_SIZE = UC_MCONTEXT + MCONTEXT_SIZE         # 1184

# struct sigframe
SF_SCTX = 0
SF_MCTX = SIGCONTEXT_SIZE                           # 32
SIGFRAME_SIZE = SF_MCTX + MCONTEXT_SIZE + ABIGAP    # 1248

# struct rt_sigframe
RT_INFO = 0
RT_UC = SIGINFO_SIZE                                # 128
RT_MCTX = RT_UC + UC_MCONTEXT                       # 320
RT_SIGFRAME_SIZE = RT_UC + UCONTEXT_SIZE + ABIGAP   # 1536

LI_R0 = 0x38000000             # addi r0, 0, imm (li r0, imm)
SC = 0x44000002
TRAP_PAD = 0                   # an illegal instruction: SIGILL if run


def _trampoline() -> bytes:
    """li r0, __NR_rt_sigreturn; sc at 0 and li r0, __NR_sigreturn; sc at
    OLD_SIGRETURN_OFFSET, as the vDSO's __kernel_sigtramp_rt32 and
    __kernel_sigtramp32; zeros (illegal instructions) between."""
    rt = struct.pack(">II", LI_R0 | NUMBERS["rt_sigreturn"], SC)
    old = struct.pack(">II", LI_R0 | NUMBERS["sigreturn"], SC)
    return rt.ljust(OLD_SIGRETURN_OFFSET, bytes([TRAP_PAD])) + old


def _pack_mcontext(regs: Registers) -> bytes:
    """save_user_regs: the general registers as struct pt_regs, the FP
    registers and fpscr, mc_pad left zero, the AltiVec area zero (vrsave 0)."""
    gregs = [0] * NGREG
    for i in range(32):
        gregs[i] = regs.read(f"r{i}") & MASK32
    gregs[PT_NIP] = regs.read("pc") & MASK32
    # prepare_save_user_regs gave the FP (and AltiVec) state to the thread,
    # which clears MSR_FP/FE0/FE1 (and MSR_VEC) in the saved regs->msr; the
    # kernel sets MSR_VEC back only when mc_vregs hold the thread's vectors,
    # which under Unicorn they cannot.
    gregs[PT_MSR] = regs.read("msr") & MASK32 & ~(MSR_FP | MSR_FE0 | MSR_FE1 | MSR_VEC)
    gregs[PT_CTR] = regs.read("ctr") & MASK32
    gregs[PT_LNK] = regs.read("lr") & MASK32
    gregs[PT_XER] = regs.read("xer") & MASK32
    gregs[PT_CCR] = regs.read("cr") & MASK32
    # orig_gpr3, mq, trap, dar, dsisr, result: kernel bookkeeping xemu does
    # not keep; zero (sigreturn does not act on them).
    fregs = [regs.read(f"fpr{i}") & (2**64 - 1) for i in range(32)]
    fregs.append(regs.read("fpscr") & MASK32)   # mc_fregs[32]: fpscr as a u64
    return (struct.pack(f">{NGREG}I", *gregs) + struct.pack(f">{NFPREG}Q", *fregs)
            + bytes(MCONTEXT_SIZE - MC_PAD))


def _apply_mcontext(regs: Registers, mc: bytes) -> None:
    """restore_user_regs(sig=1): every general register but the msr, of
    which only MSR_LE comes back; the FP registers and fpscr."""
    gregs = struct.unpack_from(f">{NGREG}I", mc, MC_GREGS)
    fregs = struct.unpack_from(f">{NFPREG}Q", mc, MC_FREGS)
    for i in range(32):
        regs.write(f"r{i}", gregs[i])
    regs.write("pc", gregs[PT_NIP])
    regs.write("ctr", gregs[PT_CTR])
    regs.write("lr", gregs[PT_LNK])
    regs.write("xer", gregs[PT_XER])
    regs.write("cr", gregs[PT_CCR])
    msr = regs.read("msr")
    if (msr ^ gregs[PT_MSR]) & MSR_LE:
        regs.write("msr", (msr & ~MSR_LE) | (gregs[PT_MSR] & MSR_LE))
    for i in range(32):
        regs.write(f"fpr{i}", fregs[i])
    regs.write("fpscr", fregs[32] & MASK32)


class PpcSignalFrames:
    """The ppc32 signal frames (the kernel's, with its vDSO trampolines at
    SignalDelivery.trampoline). The kernel ignores sa_restorer on powerpc:
    the return address is always its trampoline."""

    # the rt frame, 16-byte aligned, and the handler's stack frame below it
    min_stack = RT_SIGFRAME_SIZE + 15 + SIGNAL_FRAMESIZE + 16
    trampoline = _trampoline()

    def setup(self, regs: Registers, memory, delivery: SignalDelivery) -> tuple[int, object]:
        kept = regs.save()
        old_sp = regs.read("r1") & MASK32
        rt = bool(delivery.flags & SA_SIGINFO)
        size = RT_SIGFRAME_SIZE if rt else SIGFRAME_SIZE
        frame = ((delivery.sp & MASK32) - size) & ~0xF       # get_sigframe
        mcontext = _pack_mcontext(regs)
        low, high = delivery.blocked & MASK32, (delivery.blocked >> 32) & MASK32
        if rt:
            ss_sp, ss_flags, ss_size = delivery.altstack
            uc = bytearray(UC_MCONTEXT)
            struct.pack_into(">II", uc, UC_FLAGS, 0, 0)             # uc_flags, uc_link
            struct.pack_into(">III", uc, UC_STACK, ss_sp & MASK32, ss_flags,
                             ss_size & MASK32)
            struct.pack_into(">I", uc, UC_REGS, frame + RT_MCTX)    # uc_regs
            struct.pack_into(">II", uc, UC_SIGMASK, low, high)
            info = bytes(delivery.siginfo[:SIGINFO_SIZE]).ljust(SIGINFO_SIZE, b"\0")
            memory.write(frame, info + bytes(uc) + mcontext)         # not the abigap
            newsp = frame - (SIGNAL_FRAMESIZE + 16)
            tramp = delivery.trampoline
        else:
            sc = SIGCONTEXT.pack(0, 0, 0, high,                      # _unused[3]: mask's high word
                                 delivery.signum, delivery.handler & MASK32, low,
                                 frame + SF_MCTX)
            memory.write(frame, sc + mcontext)
            newsp = frame - SIGNAL_FRAMESIZE
            tramp = delivery.trampoline + OLD_SIGRETURN_OFFSET
        memory.write(newsp, struct.pack(">I", old_sp))              # the back chain

        regs.write("r1", newsp)
        regs.write("r3", delivery.signum)
        if rt:
            regs.write("r4", frame + RT_INFO)
            regs.write("r5", frame + RT_UC)
            regs.write("r6", frame)
        else:
            regs.write("r4", frame + SF_SCTX)
        regs.write("lr", tramp & MASK32)
        regs.write("pc", delivery.handler & MASK32)
        regs.write("fpscr", 0)                      # "turn off all fp exceptions"
        msr = regs.read("msr")
        if msr & MSR_LE:                            # the handler runs big-endian
            regs.write("msr", msr & ~MSR_LE)
        return frame, kept

    def restore(self, regs: Registers, memory, rt: bool,
                kept: Mapping[int, object]) -> Restored:
        sp = regs.read("r1") & MASK32
        if rt:
            # sys_rt_sigreturn -> do_setcontext: the mask and uc_regs from
            # the ucontext, the registers from where uc_regs points.
            frame = (sp + SIGNAL_FRAMESIZE + 16) & MASK32
            uc = frame + RT_UC
            head = memory.read(uc, UC_REGS + 12)
            mcp, low, high = struct.unpack_from(">III", head, UC_REGS)
            altstack = stack_t(">", "I", head, UC_STACK)
        else:
            # sys_sigreturn: the mask from the sigcontext (oldmask, _unused[3]),
            # the registers from where sc->regs points.
            frame = (sp + SIGNAL_FRAMESIZE) & MASK32
            sc = SIGCONTEXT.unpack(memory.read(frame + SF_SCTX, SIGCONTEXT_SIZE))
            high, low, mcp = sc[3], sc[6], sc[7]
            altstack = None
        mc = memory.read(mcp, MCONTEXT_SIZE)
        saved = kept.get(frame)
        if saved is not None:
            regs.restore(saved)
        _apply_mcontext(regs, mc)
        return Restored(low | (high << 32), altstack)
