"""The initial process stack, laid out as Linux's binfmt_elf builds it.

From the stack pointer up: argc, argv[] and NULL, envp[] and NULL, the
auxiliary vector (type, value pairs ending with AT_NULL), then the strings and
the 16 AT_RANDOM bytes near the top. The stack pointer is 16-byte aligned.
`layout_stack` is pure: it returns the bytes and where they go.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

from ..archs.base import PAGE, ArchSpec

AT_NULL, AT_PHDR, AT_PHENT, AT_PHNUM, AT_PAGESZ, AT_BASE, AT_FLAGS, AT_ENTRY = \
    0, 3, 4, 5, 6, 7, 8, 9
AT_UID, AT_EUID, AT_GID, AT_EGID, AT_PLATFORM, AT_HWCAP, AT_CLKTCK = \
    11, 12, 13, 14, 15, 16, 17
AT_SECURE, AT_RANDOM, AT_HWCAP2, AT_EXECFN = 23, 25, 26, 31
AT_MINSIGSTKSZ = 51


@dataclass(frozen=True)
class ProcessInfo:
    """What the auxiliary vector tells the program about itself and the host."""
    phdr: int
    phent: int
    phnum: int
    entry: int
    base: int = 0          # the interpreter's load address (0: static)
    uid: int = 0
    euid: int = 0
    gid: int = 0
    egid: int = 0
    page_size: int = PAGE
    clock_ticks: int = 100


@dataclass(frozen=True)
class StackImage:
    sp: int                # initial stack pointer (points at argc)
    data: bytes            # bytes from sp up to the stack top
    auxv: tuple[tuple[int, int], ...]


def layout_stack(spec: ArchSpec, top: int, argv: list[bytes], envp: list[bytes],
                 execfn: bytes, random: bytes, info: ProcessInfo) -> StackImage:
    """Build the stack that sits just below `top`."""
    if len(random) != 16:
        raise ValueError("AT_RANDOM needs exactly 16 bytes")
    word = spec.word_size
    # Strings and blobs go at the top, in the order Linux places them.
    blobs: list[bytes] = [execfn + b"\0", *(s + b"\0" for s in envp),
                          *(s + b"\0" for s in argv), spec.linux.platform.encode() + b"\0",
                          random]
    position = top - 8                      # the kernel keeps a word of zero at the top
    addresses = []
    for blob in blobs:
        position -= len(blob)
        addresses.append(position)
    execfn_at = addresses[0]
    env_at = addresses[1:1 + len(envp)]
    argv_at = addresses[1 + len(envp):1 + len(envp) + len(argv)]
    platform_at, random_at = addresses[-2], addresses[-1]
    strings_start = position & ~15

    min_stack = spec.signal_frames.min_stack
    auxv = (*spec.linux.auxv_extra,
            *(((AT_MINSIGSTKSZ, min_stack),) if min_stack is not None else ()),
            (AT_HWCAP, spec.linux.hwcap), (AT_PAGESZ, info.page_size),
            (AT_CLKTCK, info.clock_ticks), (AT_PHDR, info.phdr),
            (AT_PHENT, info.phent), (AT_PHNUM, info.phnum), (AT_BASE, info.base),
            (AT_FLAGS, 0), (AT_ENTRY, info.entry), (AT_UID, info.uid),
            (AT_EUID, info.euid), (AT_GID, info.gid), (AT_EGID, info.egid),
            (AT_SECURE, 0), (AT_RANDOM, random_at), (AT_HWCAP2, spec.linux.hwcap2),
            (AT_EXECFN, execfn_at), (AT_PLATFORM, platform_at), (AT_NULL, 0))
    words = [len(argv), *argv_at, 0, *env_at, 0, *(x for pair in auxv for x in pair)]
    sp = (strings_start - len(words) * word) & ~15
    fmt = spec.endian + ("Q" if word == 8 else "I") * len(words)
    table = struct.pack(fmt, *words)
    data = bytearray(top - sp)
    data[:len(table)] = table
    for address, blob in zip(addresses, blobs, strict=True):
        data[address - sp:address - sp + len(blob)] = blob
    return StackImage(sp, bytes(data), auxv)
