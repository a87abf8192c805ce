"""AArch64 signal frames, laid out as Linux's arch/arm64/kernel/signal.c (rt only).

    struct rt_sigframe { struct siginfo info; struct ucontext uc; }     4688 bytes

struct ucontext (arch/arm64/include/uapi/asm/ucontext.h), from its start:
    0 uc_flags, 8 uc_link, 16 uc_stack {ss_sp, ss_flags, ss_size}, 40 uc_sigmask,
    48 __unused[120], 176 uc_mcontext: struct sigcontext {0 fault_address,
    8 regs[31], 256 sp, 264 pc, 272 pstate, 288 __reserved[4096] (16-aligned)}.
__reserved holds the context records the kernel's rt_sigframe_user_layout
places (setup_sigframe_layout): fpsimd_context {magic 0x46508001, size 528,
fpsr, fpcr, vregs[32]} first, then the null terminator. Above the frame,
16-aligned, is the frame record {fp, lr} x29 points at while the handler
runs (get_sigframe), so unwinders go through the signal.

The guest runs at EL0 and the pstate the frame shows is the EL0 view: NZCV
only (DAIF clear, EL0t); sigreturn puts back NZCV, all that valid_user_regs
leaves to user code that the CPU model has.
"""
from __future__ import annotations

import signal as _signal
import struct

from ...errors import GuestMemoryError
from ..base import SA_RESTORER, SA_SIGINFO, Restored, SignalDelivery, stack_t
from .syscalls import NUMBERS

SIGINFO_SIZE = 128
UC = SIGINFO_SIZE                               # rt_sigframe.uc
UC_FLAGS, UC_LINK, UC_STACK, UC_SIGMASK, UC_MCONTEXT = 0, 8, 16, 40, 176
SC_FAULT, SC_REGS, SC_SP, SC_PC, SC_PSTATE, SC_RESERVED = 0, 8, 256, 264, 272, 288
RESERVED_SIZE = 4096
RT_SIGFRAME_SIZE = UC + UC_MCONTEXT + SC_RESERVED + RESERVED_SIZE          # 4688
RESERVED = UC + UC_MCONTEXT + SC_RESERVED       # __reserved, from the frame: 592
FRAME_RECORD_SIZE = 16

FPSIMD_MAGIC, FPSIMD_SIZE = 0x46508001, 528
ESR_MAGIC = 0x45535201
NZCV = 0xf0000000
UDF = bytes(4)                                  # udf #0


def _trampoline() -> bytes:
    number = NUMBERS["rt_sigreturn"]
    assert 0 <= number < 1 << 16
    mov_x8 = 0xd2800000 | number << 5 | 8       # movz x8, #number
    svc0 = 0xd4000001
    return struct.pack("<II", mov_x8, svc0) + UDF * 6


def _fault_address(delivery: SignalDelivery) -> int:
    """thread.fault_address: the faulting address of a fault the kernel raised."""
    _, _, code, _, addr = struct.unpack_from("<iiiiQ", delivery.siginfo)
    if delivery.signum in (_signal.SIGSEGV, _signal.SIGBUS) and code > 0:
        return addr
    return 0


def _round_down(value: int, align: int) -> int:
    return value & ~(align - 1)


class Aarch64SignalFrames:
    """The rt frame of AArch64 Linux, with the FP/SIMD record."""

    # the frame record and the frame, each 16-byte aligned (the kernel's
    # signal_minsigstksz without SVE)
    min_stack = FRAME_RECORD_SIZE + 15 + RT_SIGFRAME_SIZE + 15
    trampoline = _trampoline()

    def setup(self, regs, memory, delivery: SignalDelivery) -> tuple[int, object]:
        # get_sigframe: the frame record, then the frame, both 16-aligned
        record = _round_down(delivery.sp - FRAME_RECORD_SIZE, 16)
        frame = _round_down(record, 16) - RT_SIGFRAME_SIZE
        blocked = delivery.blocked & ((1 << 64) - 1)
        x = [regs.read(f"x{i}") for i in range(31)]

        data = bytearray(RT_SIGFRAME_SIZE)
        siginfo = delivery.flags & SA_SIGINFO
        if siginfo:                         # copied only for SA_SIGINFO, as the kernel does
            data[0:SIGINFO_SIZE] = bytes(delivery.siginfo[:SIGINFO_SIZE]).ljust(SIGINFO_SIZE, b"\0")
        ss_sp, ss_flags, ss_size = delivery.altstack
        struct.pack_into("<QQQI4xQQ", data, UC, 0, 0, ss_sp, ss_flags, ss_size, blocked)
        sc = UC + UC_MCONTEXT
        struct.pack_into("<Q31QQQQ", data, sc, _fault_address(delivery), *x,
                         regs.read("sp"), regs.read("pc"), regs.read("nzcv") & NZCV)
        struct.pack_into("<IIII", data, RESERVED, FPSIMD_MAGIC, FPSIMD_SIZE,
                         regs.read("fpsr"), regs.read("fpcr"))
        vregs = b"".join(regs.read(f"q{i}").to_bytes(16, "little") for i in range(32))
        data[RESERVED + 16:RESERVED + FPSIMD_SIZE] = vregs
        # the terminator after it is already zero
        memory.write(frame, bytes(data))
        memory.write(record, struct.pack("<QQ", x[29], x[30]))

        # setup_return
        regs.write("x0", delivery.signum)
        if siginfo:
            regs.write("x1", frame)
            regs.write("x2", frame + UC)
        regs.write("sp", frame)
        regs.write("x29", record)
        regs.write("pc", delivery.handler)
        regs.write("x30", delivery.restorer if delivery.flags & SA_RESTORER
                   else delivery.trampoline)
        return frame, None

    def restore(self, regs, memory, rt: bool, kept) -> Restored:
        frame = regs.read("sp")
        if frame & 15:                      # the kernel's badframe: SIGSEGV
            raise GuestMemoryError(frame, 8)
        data = memory.read(frame, RT_SIGFRAME_SIZE)
        blocked = struct.unpack_from("<Q", data, UC + UC_SIGMASK)[0]
        sc = UC + UC_MCONTEXT
        saved = struct.unpack_from("<31QQQQ", data, sc + SC_REGS)
        fpsimd = self._find_fpsimd(data, frame)

        for i, value in enumerate(saved[:31]):
            regs.write(f"x{i}", value)
        regs.write("sp", saved[31])
        regs.write("pc", saved[32])
        regs.write("nzcv", saved[33] & NZCV)
        fpsr, fpcr = struct.unpack_from("<II", data, fpsimd + 8)
        regs.write("fpsr", fpsr)
        regs.write("fpcr", fpcr)
        for i in range(32):
            start = fpsimd + 16 + 16 * i
            regs.write(f"q{i}", int.from_bytes(data[start:start + 16], "little"))
        return Restored(blocked, stack_t("<", "Q", data, UC + UC_STACK))

    @staticmethod
    def _find_fpsimd(data: bytes, frame: int) -> int:
        """parse_user_sigframe: walk the records in __reserved to the
        terminator; the fpsimd record's offset in the frame. A malformed list
        is the kernel's badframe (SIGSEGV), reported as a bad frame address."""
        offset, found = 0, None
        while True:
            if RESERVED_SIZE - offset < 8 or offset % 16:
                break
            magic, size = struct.unpack_from("<II", data, RESERVED + offset)
            if RESERVED_SIZE - offset < size:
                break
            if magic == 0:
                if size == 0 and found is not None:
                    return found
                break
            if magic == FPSIMD_MAGIC:
                if found is not None or size != FPSIMD_SIZE:
                    break
                found = RESERVED + offset
            elif magic != ESR_MAGIC:        # SVE, ZA, EXTRA...: not on this CPU
                break
            if size < 8:
                break
            offset += size
        raise GuestMemoryError(frame + RESERVED + offset, 8)
