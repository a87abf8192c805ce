"""A vCPU's registers by name, cached between exits."""
from __future__ import annotations

import ctypes

from . import structs

# ymmNh, the upper 128 bits of ymmN (gdb's name), are the XSAVE area's
# YMM_Hi128 component: at 576 in KVM_GET_XSAVE's standard format (CPUID
# leaf 0xD sub-leaf 2), 16 bytes a register
YMM_HI128 = 576


class KvmRegisters:
    """Registers by name, cached between exits: one KVM_GET_REGS when first
    read after an exit, one KVM_SET_REGS before the next run if written.

    Where KVM offers KVM_CAP_SYNC_REGS, the general registers live in the
    vCPU's kvm_run page instead: KVM writes them there at every exit and
    takes them back on entry when marked dirty, so a system call (read its
    arguments, write its result) costs no register ioctl at all (the run
    loop says `entering` and `exited`)."""

    GENERAL = {name for name, _ in structs.kvm_regs._fields_}
    # i386 names: under KVM they are the low halves of the same registers
    ALIASES = {"eax": "rax", "ebx": "rbx", "ecx": "rcx", "edx": "rdx", "esi": "rsi",
               "edi": "rdi", "ebp": "rbp", "esp": "rsp", "eip": "rip", "eflags": "rflags"}
    SEGMENT_BASES = {"fs_base": "fs", "gs_base": "gs"}
    SEGMENTS = {"cs", "ss", "ds", "es", "fs", "gs"}     # selectors, read only
    SYSTEM = {"cr0", "cr2", "cr3", "cr4", "efer"}
    # x87 and SSE registers: (offset, size) in the XSAVE area's FXSAVE region
    FPU = {"fpcw": (0, 2), "fpsw": (2, 2), "fop": (6, 2), "fip": (8, 8), "fdp": (16, 8),
           "mxcsr": (24, 4)}
    FTW, ST0, XMM0, XSTATE_BV = 4, 32, 160, 512
    XSTATE_X87_SSE = 0x3          # the components the FXSAVE region holds
    XSTATE_AVX = 0x4              # YMM_Hi128: the upper halves of ymm0-15
    YMM_HIGH = {f"ymm{i}h": YMM_HI128 + 16 * i for i in range(16)}

    def __init__(self, vcpu):
        self.vcpu = vcpu
        self.in_run_page = vcpu.syncs_registers()
        if self.in_run_page:
            page = vcpu.run_page
            self.regs = structs.kvm_regs.from_buffer(page, structs.RUN_SYNC_REGS)
            self._dirty = ctypes.c_uint64.from_buffer(page, structs.RUN_DIRTY_REGS)
            ctypes.c_uint64.from_buffer(page, structs.RUN_VALID_REGS).value = \
                structs.KVM_SYNC_X86_REGS
            self._dirty.value = 0
        else:
            self.regs = structs.kvm_regs()
        self.sregs = structs.kvm_sregs()
        self._have_regs = self._have_sregs = False
        self.regs_dirty = self.sregs_dirty = False
        # x87 and SSE, read when asked for. (KVM_GET/SET_FPU would be the
        # plain way, but the PVM host here drops MXCSR in both.)
        self._xsave: memoryview | None = None
        self._xsave_struct: structs.kvm_xsave | None = None
        self.fpu_dirty = False
        # The state components the program runs with (its XCR0), as the
        # accelerator set the vCPU up; read only, as "xcr0". ymmNh exist
        # only where it has AVX.
        self.xcr0 = self.XSTATE_X87_SSE

    def general(self) -> structs.kvm_regs:
        if not self._have_regs:
            self.vcpu.get_regs(self.regs)
            self._have_regs = True
        return self.regs

    def system(self) -> structs.kvm_sregs:
        if not self._have_sregs:
            self.vcpu.get_sregs(self.sregs)
            self._have_sregs = True
        return self.sregs

    def read(self, name: str) -> int:
        name = self.ALIASES.get(name, name)
        if name in self.GENERAL:
            return getattr(self.general(), name)
        if name in self.SEGMENT_BASES:
            return getattr(self.system(), self.SEGMENT_BASES[name]).base
        if name in self.SYSTEM:
            return getattr(self.system(), name)
        if name in self.SEGMENTS:
            return getattr(self.system(), name).selector
        if name == "xcr0":
            return self.xcr0
        return self._read_fpu(name)

    def fxsave(self) -> memoryview:
        """The FXSAVE region of the vCPU's XSAVE area (KVM_GET_XSAVE)."""
        if self._xsave is None:
            self._xsave_struct = self.vcpu.get_xsave(structs.kvm_xsave())
            self._xsave = memoryview(self._xsave_struct).cast("B")
        return self._xsave

    def _fpu_slot(self, name: str) -> tuple[int, int] | None:
        """(offset, size) of an x87/SSE/AVX register in the XSAVE area."""
        if name in self.FPU:
            return self.FPU[name]
        if name in self.YMM_HIGH:
            return (self.YMM_HIGH[name], 16) if self.xcr0 & self.XSTATE_AVX else None
        bank = name.rstrip("0123456789")
        index = int(name[len(bank):]) if name[len(bank):] else -1
        if bank == "xmm" and 0 <= index < 16:
            return self.XMM0 + 16 * index, 16
        if bank == "fp" and 0 <= index < 8:
            # fpN is physical register N, as Unicorn names it; FXSAVE keeps
            # the registers in stack order, ST(i) = physical (TOP + i) & 7
            return self.ST0 + 16 * ((index - self._top()) & 7), 10     # 80 of 16 bytes
        return None

    def _top(self) -> int:
        """The x87 stack top (FSW bits 11-13)."""
        return self.fxsave()[3] >> 3 & 7

    def _xstate_bv(self) -> int:
        """The XSAVE header's XSTATE_BV: the components not in their
        initial state (a clear bit's registers are zero, whatever the
        area's bytes)."""
        return int.from_bytes(self.fxsave()[self.XSTATE_BV:self.XSTATE_BV + 8], "little")

    def _read_fpu(self, name: str):
        """x87, SSE and AVX state, as Unicorn gives it: fpN (physical
        register N, not ST(N)) as (mantissa, exponent), xmmN and ymmNh as
        one integer, fptag as the full tag word (two bits a register, 3 =
        empty; FXSAVE keeps one bit, 1 = in use)."""
        area = self.fxsave()
        if name == "fptag":
            return sum((0 if area[self.FTW] >> i & 1 else 3) << 2 * i for i in range(8))
        slot = self._fpu_slot(name)
        if slot is None:
            raise KeyError(f"no register named {name!r}")
        offset, size = slot
        if offset >= YMM_HI128 and not self._xstate_bv() & self.XSTATE_AVX:
            return 0
        raw = bytes(area[offset:offset + size])
        if name.startswith("fp") and size == 10:
            return int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:], "little")
        return int.from_bytes(raw, "little")

    def write(self, name: str, value: int) -> None:
        name = self.ALIASES.get(name, name)
        if name in self.GENERAL:
            setattr(self.general(), name, value)
            self.regs_dirty = True
        elif name in self.SEGMENT_BASES:
            getattr(self.system(), self.SEGMENT_BASES[name]).base = value
            self.sregs_dirty = True
        elif name in self.SYSTEM:
            setattr(self.system(), name, value)
            self.sregs_dirty = True
        else:
            self._write_fpu(name, value)

    def _write_fpu(self, name: str, value) -> None:
        """The x87, SSE and AVX state, in the forms _read_fpu gives. The
        XSAVE header then says the x87 and SSE components are in use, or KVM
        would load them as their initial state; AVX is in use while an upper
        half is not zero (all zero, it is left in its initial state, as
        Linux gives a signal handler: no dirty upper state for SSE code)."""
        area = self.fxsave()
        bv = self._xstate_bv() | self.XSTATE_X87_SSE
        if name == "fptag":
            area[self.FTW] = sum(1 << i for i in range(8) if value >> 2 * i & 3 != 3)
        elif name == "fpsw":
            # a new TOP leaves the physical registers where they are: their
            # stack-order slots rotate, as fpN stays physical register N
            physical = [bytes(area[self.ST0 + 16 * ((i - self._top()) & 7):][:16])
                        for i in range(8)]
            area[2:4] = (value & 0xFFFF).to_bytes(2, "little")
            for i, raw in enumerate(physical):
                offset = self.ST0 + 16 * ((i - self._top()) & 7)
                area[offset:offset + 16] = raw
        else:
            slot = self._fpu_slot(name)
            if slot is None:
                raise KeyError(f"no register named {name!r}")
            offset, size = slot
            component = slice(YMM_HI128, YMM_HI128 + 16 * len(self.YMM_HIGH))
            if offset >= YMM_HI128 and not bv & self.XSTATE_AVX:   # from its initial state
                area[component] = bytes(16 * len(self.YMM_HIGH))
            if isinstance(value, tuple):                      # (mantissa, exponent)
                value = value[0] | value[1] << 64
            area[offset:offset + size] = value.to_bytes(size, "little")
            if offset >= YMM_HI128:
                bv = bv | self.XSTATE_AVX if any(area[component]) else bv & ~self.XSTATE_AVX
        area[self.XSTATE_BV:self.XSTATE_BV + 8] = bv.to_bytes(8, "little")
        self.fpu_dirty = True

    def reset(self) -> None:
        """Every general register zero (as Linux starts a process; KVM's reset
        leaves the CPU signature in RDX, which the x86-64 ABI reads at _start
        as a function to register with atexit), to be handed to KVM."""
        ctypes.memmove(ctypes.addressof(self.regs), ctypes.addressof(structs.kvm_regs(rflags=0x2)),
                       ctypes.sizeof(structs.kvm_regs))
        self._have_regs = self.regs_dirty = True

    def exited(self) -> None:
        """KVM_RUN returned (an exit, or a signal before entry): the run
        page holds the registers as they are now."""
        self._have_regs = self.in_run_page

    def save(self) -> tuple:
        """The whole CPU context: general, system, and the XSAVE area (x87,
        SSE, AVX)."""
        self.sync()
        return (self.vcpu.get_regs(structs.kvm_regs()), self.vcpu.get_sregs(structs.kvm_sregs()),
                self.vcpu.get_xsave(structs.kvm_xsave()))

    def restore(self, context: tuple) -> None:
        """Put back a saved context (another vCPU's: a new thread's copy of
        its parent, a fork's in a new VM). What belongs to this vCPU rather
        than to the program stays its own: the page-table root, the task
        register (its own TSS and exception stack) and the APIC base."""
        regs, sregs, xsave = context
        own = self.vcpu.get_sregs(structs.kvm_sregs())
        sregs = structs.kvm_sregs.from_buffer_copy(sregs)     # the context stays as saved
        sregs.cr3, sregs.tr, sregs.apic_base = own.cr3, own.tr, own.apic_base
        self.vcpu.set_regs(regs)
        self.vcpu.set_sregs(sregs)
        self.vcpu.set_xsave(xsave)
        self.regs_dirty = self.sregs_dirty = self.fpu_dirty = False
        self._have_regs = self._have_sregs = False
        self._xsave = self._xsave_struct = None

    def sync(self, entering: bool = False) -> None:
        """Hand written registers to KVM, and forget the cache. entering:
        KVM_RUN comes next, which takes the run page's registers itself."""
        if self.regs_dirty:
            if entering and self.in_run_page:
                self._dirty.value |= structs.KVM_SYNC_X86_REGS
            else:
                self.vcpu.set_regs(self.regs)
        if self.sregs_dirty:
            self.vcpu.set_sregs(self.sregs)
        if self.fpu_dirty:
            self._xsave.release()
            self.vcpu.set_xsave(self._xsave_struct)
        self.regs_dirty = self.sregs_dirty = self.fpu_dirty = False
        self._have_regs = self._have_sregs = False
        if self._xsave is not None:
            self._xsave.release()
        self._xsave = self._xsave_struct = None
