"""A raw image (boot sector, flat binary) -> Image: its bytes at one address."""
from __future__ import annotations

from pathlib import Path

from ..archs.base import ArchSpec
from ..errors import ImageError
from .elf import PF_R, PF_W, PF_X, Image, Segment


def load_raw(path: Path, spec: ArchSpec, load: int, entry: int | None) -> Image:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ImageError(f"cannot read {path}: {e.strerror}") from None
    if not data:
        raise ImageError(f"{path} is empty")
    segment = Segment(load, len(data), data, PF_R | PF_W | PF_X)
    return Image(path=path, arch=spec, entry=load if entry is None else entry,
                 segments=[segment])
