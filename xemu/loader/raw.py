"""A raw image (boot sector, flat binary) -> Image: its bytes at one address."""
from __future__ import annotations

from .elf import PF_R, PF_W, PF_X, Image, Segment
from .image import OpenedImage


def raw_image(opened: OpenedImage, load: int, entry: int | None) -> Image:
    """The raw bytes open_image read, placed at load; entry defaults to load."""
    segment = Segment(load, len(opened.raw), opened.raw, PF_R | PF_W | PF_X)
    return Image(path=opened.path, arch=opened.spec, entry=load if entry is None else entry,
                 segments=[segment])
