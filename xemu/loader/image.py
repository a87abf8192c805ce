"""Opening what the user named: one read of the header tells an ELF program
from a raw image, and --arch is checked against it once, here."""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..archs import by_name
from ..archs.base import ArchSpec
from ..errors import ArchError, ImageError, shown
from .elf import Image, is_elf, parse_elf

HEADER_BYTES = 64
MAX_RAW_IMAGE = 256 << 20          # far above any board's image; bounds the read


@dataclass
class OpenedImage:
    """A file xemu was asked to run: its arch, and the ELF image if it is one
    (None: a raw image, whose bytes a board places at its load address)."""
    path: Path
    spec: ArchSpec
    elf: Image | None = None
    raw: bytes | None = None


def open_image(path: str | Path, arch: str | None, fd: int | None = None) -> OpenedImage:
    """Read path's header once: an ELF names its arch (--arch must agree),
    anything else is a raw image of the arch --arch names (required). With
    fd, the program is that open descriptor (which may be open for exec
    alone, and is closed once read) and path only names it."""
    path = Path(path)
    try:
        with (open(path, "rb") if fd is None else os.fdopen(fd, "rb")) as f:
            head = f.read(HEADER_BYTES)
            if not head:
                raise ImageError(f"{shown(path)} is empty")
            if is_elf(head):
                f.seek(0)
                image = parse_elf(path, f)
                check_arch(arch, image.arch, path)
                return OpenedImage(path, image.arch, elf=image)
            if arch is None:
                raise ImageError(f"{shown(path)} is not an ELF program (to run it as a raw "
                                 "image on a bare-metal board, give --arch)")
            return OpenedImage(path, by_name(arch), raw=head + read_raw(path, f))
    except OSError as e:
        raise ImageError(f"cannot read {shown(path)}: {e.strerror}") from None


def read_raw(path: Path, f) -> bytes:
    """The rest of a raw image: a regular file of at most MAX_RAW_IMAGE
    bytes (a pipe or a device such as /dev/zero could be read for ever)."""
    st = os.fstat(f.fileno())
    if not stat.S_ISREG(st.st_mode):
        raise ImageError(f"{shown(path)} is not a regular file (a raw image must be one)")
    rest = f.read(MAX_RAW_IMAGE + 1 - HEADER_BYTES) if st.st_size <= MAX_RAW_IMAGE else b""
    if st.st_size > MAX_RAW_IMAGE or len(rest) + HEADER_BYTES > MAX_RAW_IMAGE:   # told before read
        raise ImageError(f"{shown(path)} is larger than the {MAX_RAW_IMAGE >> 20} MiB a raw "
                         "image may be")
    return rest


def check_arch(wanted: str | None, found: ArchSpec, path: Path) -> None:
    """--arch, when given, must name the arch the header names."""
    if wanted is not None and by_name(wanted) is not found:
        raise ArchError(f"--arch {shown(wanted)} does not match {shown(path)}, which is a "
                        f"{found.name} program")
