"""The registry of guest architectures: the only list of them in xemu."""
from __future__ import annotations

import importlib
import platform

from ..errors import ArchError
from .base import ArchSpec

NAMES = ("x86_64", "i386", "arm", "aarch64", "ppc")


def all_specs() -> list[ArchSpec]:
    return [by_name(name) for name in NAMES]


def by_name(name: str) -> ArchSpec:
    """The spec for an arch name or alias (case-insensitive)."""
    wanted = name.lower().replace("-", "_")
    for canonical in NAMES:
        spec = importlib.import_module(f"{__name__}.{canonical}").SPEC
        if wanted == canonical or wanted in (a.replace("-", "_") for a in spec.aliases):
            return spec
    choices = ", ".join(NAMES)
    raise ArchError(f"unknown arch '{name}' (choose from {choices})")


def host() -> ArchSpec:
    """The spec of the machine xemu runs on: its struct layouts are the
    host kernel's, for calls answered through a host buffer."""
    return by_name(platform.machine())


def by_elf(machine: int, bits: int, big_endian: bool) -> ArchSpec:
    """The spec matching an ELF header's e_machine, class and data encoding."""
    for spec in all_specs():
        if spec.elf.machine == machine:
            if spec.bits != bits or spec.big_endian != big_endian:
                order = "big" if big_endian else "little"
                raise ArchError(f"{bits}-bit {order}-endian {machine} programs are "
                                f"not supported (xemu runs {spec.name} as "
                                f"{spec.bits}-bit {'big' if spec.big_endian else 'little'}-endian)")
            return spec
    raise ArchError(f"no supported arch for ELF machine {machine} ({machine:#x})")
