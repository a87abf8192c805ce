"""-L DIR / --sysroot DIR (qemu-user's -L and QEMU_LD_PREFIX): where a
foreign program's loader and libraries are, without a jail.

An absolute guest path names DIR/path when that exists and the host's own
path otherwise, so a dynamically linked program finds /lib/ld-linux-armhf.so.3
and libc in a cross sysroot while /tmp, /proc and the user's files stay
where they are. (--rootfs is the jail: see rootfs.py.)
"""
from __future__ import annotations

import os

from ..archs.base import ArchSpec
from ..errors import XemuError, shown


class Sysroot:
    def __init__(self, directory: str):
        self.directory = os.path.realpath(directory)
        self._prefix = os.fsencode(self.directory)

    def host_path(self, guest: bytes) -> bytes:
        """The host path an absolute guest path names: inside the sysroot
        when it exists there (a dangling symlink counts), else the same."""
        if guest.startswith(b"/"):
            inside = self._prefix + guest
            if os.path.lexists(inside):
                return inside
        return guest


def open_sysroot(directory: str | None) -> Sysroot | None:
    """-L DIR as a Sysroot (None: none given)."""
    if directory is None:
        return None
    if not os.path.isdir(directory):
        raise XemuError(f"--sysroot {shown(directory)} is not a directory")
    return Sysroot(directory)


def known_sysroots(spec: ArchSpec) -> list[str]:
    """Where a Debian host keeps an arch's libraries: the cross libc
    packages' /usr/<triplet>, and qemu-user's /etc/qemu-binfmt/<arch>."""
    return [f"/usr/{spec.elf.triplet}", f"/etc/qemu-binfmt/{spec.name}"]


def default_sysroot(spec: ArchSpec, interpreter: str) -> Sysroot | None:
    """No -L given: None when the host has the loader itself (x86-64's own,
    or qemu-user's setup), else the first known sysroot that holds it."""
    if os.path.exists(interpreter):
        return None
    for directory in known_sysroots(spec):
        if os.path.exists(directory + interpreter):
            return Sysroot(directory)
    return None
