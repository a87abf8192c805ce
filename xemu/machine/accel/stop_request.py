"""A precise way to stop a running Unicorn engine from another thread.

uc_emu_stop called from another thread is not precise in Unicorn 2.1.x:
the engine leaves the translated block where it is, and since 2.1.2 it
checks for that request after loads and stores too, so it can leave in the
middle of a block (even in the middle of an instruction, after its store)
with the pc still at the block's start. Resumed there, the instructions
already done run again: `lock add [counter], 1` under a stream of stops
counted 20,001,237 for 20,000,000 (Unicorn 2.1.4; 2.1.1 lost 2 in 78).

A stop asked for from a block hook is precise: the hook runs before any
instruction of the block, and the engine checks for a stop right after it.
So another thread only sets a flag, and a block hook written in machine
code (a Python hook would cost a microsecond per block; this one costs a
C call) sees it at the next block, clears it, and calls uc_emu_stop.
"""
from __future__ import annotations

import ctypes
import mmap
import platform
import struct

from unicorn import UC_HOOK_BLOCK, UcError
from unicorn.unicorn_py3.unicorn import uc_hook_h, uclib

# void hook(uc_engine *uc, uint64_t address, uint32_t size, void *flag)
# (System V x86-64: uc in rdi, flag in rcx):
#     if (*(int *)flag) { *(int *)flag = 0; uc_emu_stop(uc); }
_X86_64_CODE = (
    b"\x8b\x01"                      # mov eax, [rcx]
    b"\x85\xc0"                      # test eax, eax
    b"\x75\x01"                      # jnz +1
    b"\xc3"                          # ret
    b"\xc7\x01\x00\x00\x00\x00"      # mov dword [rcx], 0
    b"\x48\xb8%s"                    # movabs rax, uc_emu_stop
    b"\xff\xe0"                      # jmp rax (a tail call: uc still in rdi)
)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
_code: tuple[mmap.mmap, int] | None = None


def _machine_code_hook() -> int | None:
    """The hook's address, built once per process (x86-64 hosts; None
    elsewhere, or where the host refuses executable memory)."""
    global _code
    if _code is not None:
        return _code[1]
    if platform.machine() not in ("x86_64", "AMD64"):
        return None
    stop = ctypes.cast(uclib.uc_emu_stop, ctypes.c_void_p).value
    code = _X86_64_CODE.replace(b"%s", struct.pack("<Q", stop))
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE)
    page.write(code)
    address = ctypes.addressof(ctypes.c_char.from_buffer(page))
    if _libc.mprotect(address, mmap.PAGESIZE, mmap.PROT_READ | mmap.PROT_EXEC):
        return None
    _code = (page, address)
    return address


HOOK_BLOCK_CFUNC = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32,
                                    ctypes.c_void_p)


class StopRequest:
    """One engine's flag: request() from any thread stops it at the start
    of its next translated block."""

    def __init__(self, uc) -> None:
        self.flag = ctypes.c_int(0)
        hook = _machine_code_hook()
        if hook is None:                       # a Python hook: slow, but precise
            def check(handle, address, size, data):
                if self.flag.value:
                    self.flag.value = 0
                    uclib.uc_emu_stop(handle)
            self._callback = HOOK_BLOCK_CFUNC(check)
            hook = ctypes.cast(self._callback, ctypes.c_void_p).value
        handle = uc_hook_h()
        status = uclib.uc_hook_add(uc._uch, ctypes.byref(handle), UC_HOOK_BLOCK,
                                   ctypes.c_void_p(hook), ctypes.byref(self.flag),
                                   ctypes.c_uint64(1), ctypes.c_uint64(0))
        if status:
            raise UcError(status)

    def request(self) -> None:
        self.flag.value = 1

    def clear(self) -> None:
        self.flag.value = 0
