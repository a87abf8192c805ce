"""ELF executable -> Image: what to map where, and where to start."""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass, replace
from pathlib import Path

from ..archs import by_elf
from ..archs.base import PAGE, ArchSpec
from ..errors import ArchError, ImageError, shown

PF_X, PF_W, PF_R = 1, 2, 4
# Where a position-independent executable (ET_DYN) is placed, as Linux does
# for programs without an interpreter (ELF_ET_DYN_BASE-like, page aligned).
PIE_BASE = {32: 0x00400000, 64: 0x0000555555554000}
# An image may ask for this much memory in all; more is a bad or hostile file.
MAX_IMAGE_MEMORY = 1 << 30
# binfmt_elf's limits on program headers, and PATH_MAX for PT_INTERP
PN_XNUM = 0xFFFF
PHDR_SIZE = {32: 32, 64: 56}              # sizeof(Elf32_Phdr), sizeof(Elf64_Phdr)
MAX_PHDR_BYTES = 65536
MAX_INTERP_BYTES = 4096
ELFCLASS = {1: 32, 2: 64}                  # e_ident[EI_CLASS]
ELFDATA = {1: "<", 2: ">"}                 # e_ident[EI_DATA]
ET_EXEC, ET_DYN = 2, 3
ET_NAMES = {0: "ET_NONE", 1: "ET_REL", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE"}
PT_LOAD, PT_INTERP, PT_PHDR, PT_GNU_STACK = 1, 3, 6, 0x6474E551
# The ELF header after e_ident, and one program header, by class: the
# fields binfmt_elf reads, in the file's order.
HEADER_FIELDS = ("e_type", "e_machine", "e_version", "e_entry", "e_phoff", "e_shoff",
                 "e_flags", "e_ehsize", "e_phentsize", "e_phnum", "e_shentsize", "e_shnum",
                 "e_shstrndx")
HEADER = {32: ("HHIIIIIHHHHHH", HEADER_FIELDS), 64: ("HHIQQQIHHHHHH", HEADER_FIELDS)}
PHDR = {32: ("IIIIIIII", ("p_type", "p_offset", "p_vaddr", "p_paddr", "p_filesz", "p_memsz",
                          "p_flags", "p_align")),
        64: ("IIQQQQQQ", ("p_type", "p_flags", "p_offset", "p_vaddr", "p_paddr", "p_filesz",
                          "p_memsz", "p_align"))}


@dataclass
class Segment:
    vaddr: int
    memsz: int
    data: bytes          # the file's bytes (p_filesz of them); the rest is zero
    flags: int           # PF_R | PF_W | PF_X

    @property
    def end(self) -> int:
        return self.vaddr + self.memsz


@dataclass
class Image:
    path: Path
    arch: ArchSpec
    entry: int
    segments: list[Segment]
    phdr: int = 0        # guest address of the program headers (AT_PHDR)
    phent: int = 0
    phnum: int = 0
    interpreter: str | None = None
    position_independent: bool = False      # ET_DYN: it may be placed anywhere
    executable_stack: bool = False          # PT_GNU_STACK asks for PF_X (trampolines)

    @property
    def end(self) -> int:
        """First address past the last segment: where the heap (brk) starts."""
        return max(s.end for s in self.segments)

    @property
    def start(self) -> int:
        """The first page any segment touches."""
        return min(s.vaddr for s in self.segments) & ~(PAGE - 1)

    def moved(self, delta: int) -> Image:
        """The same position-independent image, delta bytes further up (the
        dynamic loader goes where free memory is, as the kernel mmaps it)."""
        return replace(self, entry=self.entry + delta,
                       segments=[replace(s, vaddr=s.vaddr + delta) for s in self.segments],
                       phdr=self.phdr + delta if self.phdr else 0)


def is_elf(data: bytes) -> bool:
    return data[:4] == b"\x7fELF"


def load_elf(path: Path) -> Image:
    """Parse and validate the ELF program at path."""
    try:
        with open(path, "rb") as f:
            return parse_elf(path, f)
    except OSError as e:
        raise ImageError(f"cannot read {shown(path)}: {e.strerror}") from None


def parse_elf(path: Path, f) -> Image:
    """Parse and validate an ELF program from an open file."""
    try:
        image = _parse(path, f)
    except OSError:
        raise
    except (ImageError, ArchError):
        raise
    except Exception as e:      # any parser failure on untrusted bytes
        detail = str(e) or type(e).__name__
        raise ImageError(f"{shown(path)}: malformed ELF file ({shown(detail)})") from None
    validate(image)
    return image


def validate(image: Image) -> None:
    """Refuse images no kernel would load, before any memory is mapped."""
    path, spec = image.path, image.arch
    limit = spec.linux.mmap_top
    previous = None
    for segment in sorted(image.segments, key=lambda s: s.vaddr):
        if segment.end > limit:
            raise ImageError(f"{shown(path)}: segment at {segment.vaddr:#x} (+{segment.memsz:#x}) "
                             f"lies outside the {spec.name} user address space")
        if previous is not None and segment.vaddr < previous.end:
            raise ImageError(f"{shown(path)}: segments at {previous.vaddr:#x} and "
                             f"{segment.vaddr:#x} overlap")
        previous = segment
    if not any(s.flags & PF_X and s.vaddr <= image.entry < s.end for s in image.segments):
        raise ImageError(f"{shown(path)}: entry point {image.entry:#x} is not in any "
                         "executable segment")


def _check_headers(path: Path, header, elfclass: int) -> None:
    """What binfmt_elf checks before it reads a program header: their size
    is the class's own, there are 1 to 64 KiB of them, and never PN_XNUM
    (which would make the parser walk up to 4 billion headers)."""
    entry = PHDR_SIZE[elfclass]
    count = header["e_phnum"]
    if header["e_phentsize"] != entry or not 0 < count < PN_XNUM or \
            count * entry > MAX_PHDR_BYTES:
        raise ImageError(f"{shown(path)}: malformed ELF file (program headers: "
                         f"{count} of {header['e_phentsize']} bytes)")


def _check_sizes(path: Path, loads: list, file_size: int) -> None:
    """Before any segment's bytes are read: each lies within the file, and
    together they ask for no more memory than xemu maps for a program (a
    sparse file must not make xemu read gigabytes to refuse it)."""
    total = 0
    for p in loads:
        if p["p_filesz"] > p["p_memsz"]:
            raise ImageError(f"{shown(path)}: segment at {p['p_vaddr']:#x} has more file "
                             "bytes than memory bytes")
        if p["p_filesz"] and p["p_offset"] + p["p_filesz"] > file_size:
            raise ImageError(f"{shown(path)}: segment at {p['p_vaddr']:#x} is truncated")
        total += p["p_memsz"]
    if total > MAX_IMAGE_MEMORY:
        raise ImageError(f"{shown(path)}: segments ask for {total} bytes, more than the "
                         f"{MAX_IMAGE_MEMORY} xemu maps for a program image")


def _read_at(path: Path, f, offset: int, size: int) -> bytes:
    """size bytes of the file at offset, all of them or a clear refusal."""
    f.seek(offset)
    data = f.read(size)
    if len(data) != size:
        raise ImageError(f"{shown(path)}: malformed ELF file (it ends at byte "
                         f"{offset + len(data)}, inside a header or segment)")
    return data


def _read_header(path: Path, f) -> tuple[int, str, dict]:
    """(class in bits, struct byte order, the header's fields by name)."""
    ident = _read_at(path, f, 0, 16)
    bits, order = ELFCLASS.get(ident[4]), ELFDATA.get(ident[5])
    if bits is None or order is None:
        raise ImageError(f"{shown(path)}: malformed ELF file (class {ident[4]}, "
                         f"data encoding {ident[5]})")
    code, names = HEADER[bits]
    raw = _read_at(path, f, 16, struct.calcsize(order + code))
    return bits, order, dict(zip(names, struct.unpack(order + code, raw)))


def _read_phdrs(path: Path, f, bits: int, order: str, header: dict) -> list[dict]:
    code, names = PHDR[bits]
    size, count = header["e_phentsize"], header["e_phnum"]
    raw = _read_at(path, f, header["e_phoff"], size * count)
    return [dict(zip(names, struct.unpack_from(order + code, raw, i * size)))
            for i in range(count)]


def _parse(path: Path, f) -> Image:
    bits, order, header = _read_header(path, f)
    _check_headers(path, header, bits)
    spec = by_elf(header["e_machine"], bits, order == ">")
    if header["e_type"] not in (ET_EXEC, ET_DYN):
        kind = ET_NAMES.get(header["e_type"], header["e_type"])
        raise ImageError(f"{shown(path)}: not an executable (ELF type {kind})")
    position_independent = header["e_type"] == ET_DYN
    bias = PIE_BASE[spec.bits] if position_independent else 0
    segments, phdr, interpreter, executable_stack = [], 0, None, False
    headers = _read_phdrs(path, f, bits, order, header)
    loads = [p for p in headers if p["p_type"] == PT_LOAD]
    if not loads:
        raise ImageError(f"{shown(path)}: no loadable segments")
    _check_sizes(path, loads, os.fstat(f.fileno()).st_size)
    for p in headers:
        if p["p_type"] == PT_INTERP:
            if p["p_filesz"] > MAX_INTERP_BYTES:
                raise ImageError(f"{shown(path)}: malformed ELF file (interpreter name of "
                                 f"{p['p_filesz']} bytes)")
            name = _read_at(path, f, p["p_offset"], p["p_filesz"])
            interpreter = os.fsdecode(name.rstrip(b"\0"))
        elif p["p_type"] == PT_PHDR:
            phdr = p["p_vaddr"] + bias
        elif p["p_type"] == PT_GNU_STACK:
            executable_stack = bool(p["p_flags"] & PF_X)
    for p in loads:
        data = _read_at(path, f, p["p_offset"], p["p_filesz"]) if p["p_filesz"] else b""
        segments.append(Segment(p["p_vaddr"] + bias, p["p_memsz"], data, p["p_flags"]))
    if not phdr:
        # No PT_PHDR: the headers are in the segment that maps file offset e_phoff.
        for p in loads:
            if p["p_offset"] <= header["e_phoff"] < p["p_offset"] + p["p_filesz"]:
                phdr = p["p_vaddr"] + bias + header["e_phoff"] - p["p_offset"]
    return Image(path=path, arch=spec, entry=header["e_entry"] + bias,
                 segments=segments, phdr=phdr, phent=header["e_phentsize"],
                 phnum=header["e_phnum"], interpreter=interpreter,
                 position_independent=position_independent,
                 executable_stack=executable_stack)
