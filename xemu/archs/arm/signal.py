"""32-bit ARM (EABI) signal frames, laid out as Linux's arch/arm/kernel/signal.c.

    struct sigframe    { struct ucontext uc; unsigned long retcode[4]; }      760 bytes
    struct rt_sigframe { struct siginfo info; struct sigframe sig; }          888 bytes

struct ucontext (arch/arm/include/asm/ucontext.h), offsets from its start:
    0 uc_flags, 4 uc_link, 8 uc_stack {ss_sp, ss_flags, ss_size},
    20 uc_mcontext (struct sigcontext, 21 words: trap_no, error_code, oldmask,
       arm_r0..arm_r10, arm_fp, arm_ip, arm_sp, arm_lr, arm_pc, arm_cpsr,
       fault_address), 104 uc_sigmask (2 words), 112 __unused[30],
    232 uc_regspace[128] (8-aligned): the aux frame, here the VFP record
       struct vfp_sigframe {magic 0x56465001, size 288, ufp {fpregs[32] (d0-d31),
       fpscr}, ufp_exc {fpexc, fpinst, fpinst2}} then end_magic 0.

The guest runs in user mode (USR), and the CPSR the frame shows is the
user-mode view (mode USR, A/I/F clear); sigreturn takes only the bits user
code may change back from the frame, as the kernel's valid_user_regs does.
"""
from __future__ import annotations

import signal as _signal
import struct

from ...errors import GuestMemoryError
from ..base import (OLD_SIGRETURN_OFFSET, SA_RESTORER, SA_SIGINFO, Restored, SignalDelivery,
                    stack_t)
from .syscalls import NUMBERS

SIGINFO_SIZE = 128
UC_SIZE = 744
SIGFRAME_SIZE = UC_SIZE + 4 * 4                 # + retcode[4]
RT_SIGFRAME_SIZE = SIGINFO_SIZE + SIGFRAME_SIZE

# offsets inside struct ucontext
UC_FLAGS, UC_LINK, UC_STACK, UC_MCONTEXT, UC_SIGMASK, UC_REGSPACE = 0, 4, 8, 20, 104, 232
RETCODE = UC_SIZE                               # inside struct sigframe
SIGCONTEXT = struct.Struct("<21I")
# The registers of struct sigcontext after trap_no, error_code, oldmask.
GPRS = tuple(f"r{i}" for i in range(11)) + ("r11", "r12", "sp", "lr")

VFP_MAGIC, VFP_STORAGE_SIZE = 0x56465001, 288
VFP_FPREGS, VFP_FPSCR, VFP_FPEXC = 8, 264, 272   # offsets in struct vfp_sigframe
END_MAGIC = UC_REGSPACE + VFP_STORAGE_SIZE
OLD_UC_FLAGS = 0x5ac3c35a                       # "a value sc.trap_no would never have"

PSR_T, PSR_E, USR_MODE = 1 << 5, 1 << 9, 0x10
PSR_F = 0xff000000                              # flags: NZCVQ, IT[1:0], J
PSR_IT_MASK = 0x0600fc00
# What sigreturn takes back from the frame (f, s, x fields less A, with T):
# mode and A/I/F stay as the CPU has them.
PSR_USER = 0xfffffe20
FPSCR_LENGTH_STRIDE = (7 << 16) | (3 << 20)
FPEXC_EX, FPEXC_EN, FPEXC_FP2V = 1 << 31, 1 << 30, 1 << 28

UDF = struct.pack("<I", 0xe7f000f0)             # udf #0: an undefined instruction


def _mov_r7(number: int) -> int:
    """mov r7, #number (ARM encoding, 8-bit immediate)."""
    assert 0 <= number < 256
    return 0xe3a07000 | number


def _trampoline() -> bytes:
    svc0 = 0xef000000
    code = bytearray(UDF * (2 * OLD_SIGRETURN_OFFSET // 4))
    code[0:8] = struct.pack("<II", _mov_r7(NUMBERS["rt_sigreturn"]), svc0)
    code[OLD_SIGRETURN_OFFSET:OLD_SIGRETURN_OFFSET + 8] = struct.pack(
        "<II", _mov_r7(NUMBERS["sigreturn"]), svc0)
    return bytes(code)


def _thumb_svc(number: int) -> int:
    """movs r7, #number; svc #0 as one little-endian word."""
    return 0xdf00 << 16 | 0x2700 | number


# The kernel's sigreturn_codes (arch/arm/kernel/sigreturn_codes.S), which it
# also writes in the frame's retcode "to remain ABI compliant".
SIGRETURN_CODES = (
    _mov_r7(NUMBERS["sigreturn"]), 0xef900000 | NUMBERS["sigreturn"],
    _thumb_svc(NUMBERS["sigreturn"]),
    _mov_r7(NUMBERS["rt_sigreturn"]), 0xef900000 | NUMBERS["rt_sigreturn"],
    _thumb_svc(NUMBERS["rt_sigreturn"]), 0,
)


def _fault_address(delivery: SignalDelivery) -> int:
    """thread.address: the faulting address of a fault the kernel raised."""
    _, _, code, addr = struct.unpack_from("<iiiI", delivery.siginfo)
    if delivery.signum in (_signal.SIGSEGV, _signal.SIGBUS) and code > 0:
        return addr
    return 0


class ArmSignalFrames:
    """The old (sigreturn) and rt frames of 32-bit ARM Linux."""

    min_stack = None                  # 32-bit ARM's kernel gives no AT_MINSIGSTKSZ
    trampoline = _trampoline()

    def setup(self, regs, memory, delivery: SignalDelivery) -> tuple[int, object]:
        rt = bool(delivery.flags & SA_SIGINFO)
        size = RT_SIGFRAME_SIZE if rt else SIGFRAME_SIZE
        frame = (delivery.sp - size) & ~7 & 0xffffffff     # ATPCS: 8-byte aligned
        sigframe = frame + SIGINFO_SIZE if rt else frame
        uc = sigframe
        blocked = delivery.blocked & ((1 << 64) - 1)

        cpsr = regs.read("cpsr")
        values = [regs.read(name) for name in GPRS]
        pc = regs.read("pc")
        context = SIGCONTEXT.pack(0, 0, blocked & 0xffffffff, *values, pc,
                                  (cpsr & PSR_USER) | USR_MODE, _fault_address(delivery))
        ss_sp, ss_flags, ss_size = delivery.altstack
        head = struct.pack("<IIIII", 0 if rt else OLD_UC_FLAGS, 0,
                           ss_sp & 0xffffffff, ss_flags, ss_size & 0xffffffff)
        mask = struct.pack("<II", blocked & 0xffffffff, blocked >> 32)
        vfp = self._vfp_record(regs)

        ucontext = bytearray(UC_SIZE)
        ucontext[0:UC_MCONTEXT] = head
        ucontext[UC_MCONTEXT:UC_MCONTEXT + SIGCONTEXT.size] = context
        ucontext[UC_SIGMASK:UC_SIGMASK + 8] = mask
        ucontext[UC_REGSPACE:UC_REGSPACE + VFP_STORAGE_SIZE] = vfp
        ucontext[END_MAGIC:END_MAGIC + 4] = bytes(4)
        if rt:
            memory.write(frame, bytes(delivery.siginfo[:SIGINFO_SIZE]).ljust(SIGINFO_SIZE, b"\0"))
        memory.write(uc, bytes(ucontext))

        # setup_return
        handler = delivery.handler
        thumb = handler & 1
        entry_cpsr = cpsr & ~(PSR_F | PSR_E) & ~PSR_IT_MASK
        entry_cpsr = entry_cpsr | PSR_T if thumb else entry_cpsr & ~PSR_T
        if delivery.flags & SA_RESTORER:
            retcode = delivery.restorer
        else:
            idx = (thumb << 1) + (3 if rt else 0)
            memory.write(sigframe + RETCODE,
                         struct.pack("<II", SIGRETURN_CODES[idx], SIGRETURN_CODES[idx + 1]))
            retcode = delivery.trampoline + (0 if rt else OLD_SIGRETURN_OFFSET)
        # The kernel clears FPSCR's length and stride for the handler (PCS).
        regs.write("fpscr", regs.read("fpscr") & ~FPSCR_LENGTH_STRIDE)
        regs.write("r0", delivery.signum)
        if rt:
            regs.write("r1", frame)
            regs.write("r2", uc)
        regs.write("sp", frame)
        regs.write("lr", retcode & 0xffffffff)
        regs.write("pc", handler & ~1)      # Unicorn: pc's bit 0 sets T; cpsr decides next
        regs.write("cpsr", entry_cpsr)
        return frame, None

    @staticmethod
    def _vfp_record(regs) -> bytes:
        record = bytearray(VFP_STORAGE_SIZE)
        struct.pack_into("<II", record, 0, VFP_MAGIC, VFP_STORAGE_SIZE)
        struct.pack_into("<32Q", record, VFP_FPREGS, *(regs.read(f"d{i}") for i in range(32)))
        struct.pack_into("<I", record, VFP_FPSCR, regs.read("fpscr"))
        # fpinst and fpinst2 (VFP subarchitecture registers) are not
        # emulated by Unicorn: saved as 0, as on a CPU without them.
        struct.pack_into("<III", record, VFP_FPEXC, regs.read("fpexc"), 0, 0)
        return bytes(record)

    def restore(self, regs, memory, rt: bool, kept) -> Restored:
        sp = regs.read("sp")
        if sp & 7:                          # the kernel's badframe: SIGSEGV
            raise GuestMemoryError(sp, 4)
        uc = sp + SIGINFO_SIZE if rt else sp
        ucontext = memory.read(uc, UC_SIZE)
        lo, hi = struct.unpack_from("<II", ucontext, UC_SIGMASK)
        context = SIGCONTEXT.unpack_from(ucontext, UC_MCONTEXT)
        values, pc, cpsr = context[3:18], context[18], context[19]

        magic, size = struct.unpack_from("<II", ucontext, UC_REGSPACE)
        if magic != VFP_MAGIC or size != VFP_STORAGE_SIZE:     # restore_vfp_context: -EINVAL
            raise GuestMemoryError(uc + UC_REGSPACE, 8)

        for name, value in zip(GPRS, values):
            regs.write(name, value)
        live = regs.read("cpsr")
        regs.write("pc", pc & ~1)
        regs.write("cpsr", (cpsr & PSR_USER) | (live & ~PSR_USER))

        vfp = UC_REGSPACE
        for i, value in enumerate(struct.unpack_from("<32Q", ucontext, vfp + VFP_FPREGS)):
            regs.write(f"d{i}", value)
        regs.write("fpscr", struct.unpack_from("<I", ucontext, vfp + VFP_FPSCR)[0])
        fpexc = struct.unpack_from("<I", ucontext, vfp + VFP_FPEXC)[0]
        regs.write("fpexc", (fpexc | FPEXC_EN) & ~(FPEXC_EX | FPEXC_FP2V))
        return Restored(lo | hi << 32, stack_t("<", "I", ucontext, UC_STACK) if rt else None)
