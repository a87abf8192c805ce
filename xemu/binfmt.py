"""binfmt_misc: the kernel runs a foreign program by its own name through
xemu, as it does through qemu-user-static.

An entry is one line written to /proc/sys/fs/binfmt_misc/register:
`:name:M::magic:mask:interpreter:flags`. The magic is an ELF header's first
20 bytes for the arch (class, byte order, version, e_type, e_machine); the
mask ignores the OS ABI byte and e_type's low bit, so ET_EXEC and ET_DYN
(PIE) programs both match. Only arches the host kernel cannot run itself
get an entry (never the host's own, nor i386 on x86-64).

The interpreter is the `xemu-binfmt` launcher installed with the package.
It is a Python script, so the kernel finds its Python by path at each
exec: flags O and C (which hand the program over as an open descriptor)
need a native ELF interpreter and are not offered. P keeps the program's
argv[0]; F (--persistent) opens the launcher at registration, for mount
namespaces and containers where its path is not visible.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path


from .archs import all_specs
from .archs.base import ArchSpec
from .errors import XemuError, shown
from .machine.select import host_arch, kvm_can_run

MOUNT = Path("/proc/sys/fs/binfmt_misc")
PREFIX = "xemu-"
LAUNCHER = "xemu-binfmt"
ET_EXEC = 2
# e_ident[EI_OSABI] (byte 7) may be anything; e_type's low bit tells ET_EXEC
# from ET_DYN, both wanted.
IDENT_MASK = b"\xff" * 7 + b"\x00" + b"\xff" * 8


@dataclass(frozen=True)
class Entry:
    name: str
    magic: bytes
    mask: bytes
    interpreter: str
    flags: str

    def line(self) -> str:
        """The register line (also a systemd binfmt.d file's content)."""
        return f":{self.name}:M::{_escaped(self.magic)}:{_escaped(self.mask)}:" \
               f"{self.interpreter}:{self.flags}"


def foreign_specs() -> list[ArchSpec]:
    """The arches whose programs this host's kernel cannot run itself."""
    return [spec for spec in all_specs() if not kvm_can_run(spec, host_arch())]


def entry_for(spec: ArchSpec, interpreter: str, persistent: bool = False) -> Entry:
    """The binfmt_misc entry that sends spec's ELF programs to interpreter."""
    order = "big" if spec.endian == ">" else "little"
    ident = bytes([0x7F, *b"ELF", 2 if spec.bits == 64 else 1, 2 if order == "big" else 1, 1])
    magic = ident + bytes(9) + ET_EXEC.to_bytes(2, order) \
        + spec.elf.machine.to_bytes(2, order)
    mask = IDENT_MASK + (0xFFFE).to_bytes(2, order) + b"\xff\xff"
    return Entry(PREFIX + spec.name, magic, mask, interpreter, "PF" if persistent else "P")


def launcher_path() -> str:
    """The installed launcher, beside this Python (a venv's bin)."""
    candidate = Path(sys.executable).parent / LAUNCHER
    if not candidate.is_file():
        raise XemuError(f"the {LAUNCHER} launcher is not installed beside {sys.executable} "
                        "(install xemu with pip into this Python)")
    return str(candidate)


def register(specs: list[ArchSpec], persistent: bool = False,
             mount: Path = MOUNT) -> list[Entry]:
    """Register each arch (replacing xemu's own entry if there is one)."""
    control = mount / "register"
    if not control.exists():
        raise XemuError(f"binfmt_misc is not mounted at {mount} (mount -t binfmt_misc "
                        f"binfmt_misc {mount})")
    entries = [entry_for(spec, launcher_path(), persistent) for spec in specs]
    for entry in entries:
        existing = mount / entry.name
        try:
            if existing.exists():
                existing.write_text("-1")
            control.write_text(entry.line())
        except OSError as e:
            raise XemuError(f"cannot register {entry.name} in {mount}: {e.strerror} "
                            "(registering needs root, or a user namespace of your own)") \
                from None
    return entries


def unregister(specs: list[ArchSpec], mount: Path = MOUNT) -> list[str]:
    """Remove xemu's entries for these arches; the names removed."""
    removed = []
    for spec in specs:
        entry = mount / (PREFIX + spec.name)
        if entry.exists():
            try:
                entry.write_text("-1")
            except OSError as e:
                raise XemuError(f"cannot remove {entry.name}: {e.strerror}") from None
            removed.append(entry.name)
    return removed


def export(specs: list[ArchSpec], directory: str, persistent: bool = False) -> list[Path]:
    """Write binfmt.d files for systemd-binfmt instead of registering now."""
    target = Path(directory)
    if not target.is_dir():
        raise XemuError(f"--export {shown(directory)} is not a directory")
    written = []
    for spec in specs:
        entry = entry_for(spec, launcher_path(), persistent)
        path = target / f"{entry.name}.conf"
        path.write_text(f"# written by `xemu binfmt register --export`\n{entry.line()}\n")
        written.append(path)
    return written


def status(mount: Path = MOUNT) -> list[tuple[str, str]]:
    """(arch, state) for each foreign arch: xemu's entry, or who else has it."""
    if not (mount / "status").exists():
        return [(spec.name, f"binfmt_misc is not mounted at {mount}") for spec in foreign_specs()]
    others = {name: _read_entry(mount / name) for name in os.listdir(mount)
              if name not in ("register", "status")}
    rows = []
    for spec in foreign_specs():
        ours = others.get(PREFIX + spec.name)
        wanted = entry_for(spec, "", False)
        if ours is not None:
            state = f"{ours.get('state', '?')}, {ours.get('interpreter')} " \
                    f"(flags {ours.get('flags') or '-'})"
        else:
            rivals = [name for name, fields in others.items()
                      if fields.get("magic") == wanted.magic.hex()]
            state = "not registered" + (f" (handled by {', '.join(sorted(rivals))})"
                                        if rivals else "")
        rows.append((spec.name, state))
    return rows


def run_arguments(argv: list[str]) -> list[str] | None:
    """What the kernel gives the launcher (flag P: [launcher, path, argv0,
    args...]) as `xemu run` arguments; None if it is not that."""
    if len(argv) < 3:
        return None
    path, argv0, args = argv[1], argv[2], argv[3:]
    if path.startswith("-"):
        path = "./" + path                  # a file, never an option
    return ["run", "-0", argv0, path, *args]


def _read_entry(path: Path) -> dict[str, str]:
    fields = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return fields
    for line in lines:
        if line in ("enabled", "disabled"):
            fields["state"] = line
        else:
            key, _, value = line.partition(" ")
            fields[key.rstrip(":")] = value
    return fields


def _escaped(data: bytes) -> str:
    return "".join(f"\\x{b:02x}" for b in data)
