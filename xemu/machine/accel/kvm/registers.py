"""A vCPU's registers by name, cached between exits."""
from __future__ import annotations

from . import structs


class KvmRegisters:
    """Registers by name, cached between exits: one KVM_GET_REGS when first
    read after an exit, one KVM_SET_REGS before the next run if written."""

    GENERAL = {name for name, _ in structs.kvm_regs._fields_}
    # i386 names: under KVM they are the low halves of the same registers
    ALIASES = {"eax": "rax", "ebx": "rbx", "ecx": "rcx", "edx": "rdx", "esi": "rsi",
               "edi": "rdi", "ebp": "rbp", "esp": "rsp", "eip": "rip", "eflags": "rflags"}
    SEGMENT_BASES = {"fs_base": "fs", "gs_base": "gs"}
    SEGMENTS = {"cs", "ss", "ds", "es", "fs", "gs"}     # selectors, read only
    SYSTEM = {"cr0", "cr2", "cr3", "cr4", "efer"}
    FPU = {"fpcw": "fcw", "fpsw": "fsw", "mxcsr": "mxcsr", "fop": "last_opcode"}

    def __init__(self, vcpu):
        self.vcpu = vcpu
        self.regs = structs.kvm_regs()
        self.sregs = structs.kvm_sregs()
        self._have_regs = self._have_sregs = False
        self.regs_dirty = self.sregs_dirty = False
        self._fpu: structs.kvm_fpu | None = None    # read only for a debugger

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
        return self._read_fpu(name)

    def _read_fpu(self, name: str):
        """x87 and SSE state (KVM_GET_FPU), as Unicorn gives it: fpN as
        (mantissa, exponent), xmmN as one integer."""
        if self._fpu is None:
            self._fpu = self.vcpu.get_fpu(structs.kvm_fpu())
        fpu = self._fpu
        if name in self.FPU:
            return getattr(fpu, self.FPU[name])
        bank = name.rstrip("0123456789")
        index = int(name[len(bank):]) if name[len(bank):] else -1
        if bank == "xmm" and 0 <= index < 16:
            return int.from_bytes(bytes(fpu.xmm[16 * index:16 * index + 16]), "little")
        if bank == "fp" and 0 <= index < 8:
            raw = bytes(fpu.fpr[16 * index:16 * index + 10])     # 80 bits in a 16-byte slot
            return int.from_bytes(raw[:8], "little"), int.from_bytes(raw[8:], "little")
        raise KeyError(f"no register named {name!r}")

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
            raise KeyError(f"no register named {name!r}")

    def reset(self) -> None:
        """Every general register zero (as Linux starts a process; KVM's reset
        leaves the CPU signature in RDX, which the x86-64 ABI reads at _start
        as a function to register with atexit), to be handed to KVM."""
        self.regs = structs.kvm_regs(rflags=0x2)
        self._have_regs = self.regs_dirty = True

    def save(self) -> tuple:
        """The whole CPU context: general, system and FPU/SSE registers."""
        self.sync()
        return (self.vcpu.get_regs(structs.kvm_regs()), self.vcpu.get_sregs(structs.kvm_sregs()),
                self.vcpu.get_fpu(structs.kvm_fpu()))

    def restore(self, context: tuple) -> None:
        """Put back a saved context; the page-table root stays this vCPU's
        own (a context saved in another VM, as a fork's, names that VM's)."""
        regs, sregs, fpu = context
        sregs.cr3 = self.vcpu.get_sregs(structs.kvm_sregs()).cr3
        self.vcpu.set_regs(regs)
        self.vcpu.set_sregs(sregs)
        self.vcpu.set_fpu(fpu)
        self.regs_dirty = self.sregs_dirty = False
        self._have_regs = self._have_sregs = False
        self._fpu = None

    def sync(self) -> None:
        """Hand written registers to KVM, and forget the cache."""
        if self.regs_dirty:
            self.vcpu.set_regs(self.regs)
        if self.sregs_dirty:
            self.vcpu.set_sregs(self.sregs)
        self.regs_dirty = self.sregs_dirty = False
        self._have_regs = self._have_sregs = False
        self._fpu = None
