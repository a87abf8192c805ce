"""binfmt_misc: the kernel runs a foreign program by its own name through
xemu, as it does through qemu-user-static.

An entry is one line written to /proc/sys/fs/binfmt_misc/register:
`:name:M::magic:mask:interpreter:flags`. The magic is an ELF header's first
20 bytes for the arch (class, byte order, version, e_type, e_machine); the
mask ignores the OS ABI byte and e_type's low bit, so ET_EXEC and ET_DYN
(PIE) programs both match. Only arches the host kernel cannot run itself
get an entry (never the host's own, nor i386 on x86-64).

The interpreter is a static executable (`xemu-binfmt-static`, built from
binfmt_launcher.c with the package): registering writes a copy of it beside
this Python that names the `xemu-binfmt` Python launcher, and the copy runs
that launcher with the kernel's arguments. P keeps the program's argv[0].
O has the kernel open the program and hand it over as a descriptor
(AT_EXECFD, which the copy passes on as XEMU_BINFMT_EXECFD and xemu reads
the program from: one a user may run but not read still runs). F
(--persistent) opens the copy at registration, so it runs in containers,
mount namespaces and chroots where its path is not visible. In a chroot of
a foreign root file system the Python launcher is out of reach: the copy
then takes the real root from `xemu binfmt serve` (serve(), run outside the
chroot), leaves the chroot, and runs the launcher with XEMU_BINFMT_ROOTFS
naming the root it left, which becomes the program's --rootfs. Where the
static launcher could not be built, the Python launcher itself is
registered, with neither O nor chroots (a script cannot take AT_EXECFD).
C (the program's set-user-ID credentials) is not offered.
"""
from __future__ import annotations

import os
import socket
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable


from .archs import all_specs
from .archs.base import ArchSpec
from .errors import XemuError, shown
from .machine.select import host_arch, kvm_can_run

MOUNT = Path("/proc/sys/fs/binfmt_misc")
PREFIX = "xemu-"
LAUNCHER = "xemu-binfmt"
STATIC_LAUNCHER = "xemu-binfmt-static"
# Where the static launcher's template keeps the Python launcher's path
# (binfmt_launcher.c's `script`: the marker, then NULs, 4096 bytes in all).
SCRIPT_MARKER = b"@XEMU-BINFMT-SCRIPT@"
SCRIPT_ROOM = 4096
ROOTFS_VARIABLE = "XEMU_BINFMT_ROOTFS"   # the root the static launcher left
EXECFD_VARIABLE = "XEMU_BINFMT_EXECFD"   # the program the kernel opened (flag O)
SERVER_NAME = "xemu-binfmt-root-{uid}"   # serve()'s abstract socket
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
    """The binfmt_misc entry that sends spec's ELF programs to interpreter:
    flags P, O where the interpreter is the static launcher (which passes
    the descriptor on), F when persistent."""
    order = "big" if spec.endian == ">" else "little"
    ident = bytes([0x7F, *b"ELF", 2 if spec.bits == 64 else 1, 2 if order == "big" else 1, 1])
    magic = ident + bytes(9) + ET_EXEC.to_bytes(2, order) \
        + spec.elf.machine.to_bytes(2, order)
    mask = IDENT_MASK + (0xFFFE).to_bytes(2, order) + b"\xff\xff"
    flags = "P" + ("O" if interpreter.endswith("/" + STATIC_LAUNCHER) else "") \
        + ("F" if persistent else "")
    return Entry(PREFIX + spec.name, magic, mask, interpreter, flags)


def launcher_path() -> str:
    """The installed Python launcher, beside this Python (a venv's bin)."""
    candidate = Path(sys.executable).parent / LAUNCHER
    if not candidate.is_file():
        raise XemuError(f"the {LAUNCHER} launcher is not installed beside {sys.executable} "
                        "(install xemu with pip into this Python)")
    return str(candidate)


def interpreter_path() -> str:
    """What the kernel is to run: a copy of the static launcher that names
    the Python launcher, written beside it now; the Python launcher itself
    where the static one was not built."""
    script = launcher_path()
    template = next((folder / STATIC_LAUNCHER for folder in _package_folders()
                     if (folder / STATIC_LAUNCHER).is_file()), None)
    if template is None:
        return script
    data = template.read_bytes()
    at = data.find(SCRIPT_MARKER)
    encoded = os.fsencode(script)
    if data.count(SCRIPT_MARKER) != 1 or len(encoded) >= SCRIPT_ROOM:
        return script
    copy = Path(script).parent / STATIC_LAUNCHER
    written = data[:at] + encoded.ljust(SCRIPT_ROOM, b"\0") + data[at + SCRIPT_ROOM:]
    if not copy.is_file() or copy.read_bytes() != written:
        partial = copy.with_name(copy.name + ".new")
        partial.write_bytes(written)
        partial.chmod(0o755)
        partial.replace(copy)          # a running copy is never half written
    return str(copy)


def _package_folders() -> list[Path]:
    """This package's folder (an in-place or installed build), then the
    xemu of each sys.path entry: a checkout run with `python -m` imports its
    own xemu, while `pip install .` built the launcher into site-packages."""
    return [Path(__file__).resolve().parent] + \
        [Path(entry or ".") / "xemu" for entry in sys.path]


def register(specs: list[ArchSpec], persistent: bool = False,
             mount: Path = MOUNT) -> list[Entry]:
    """Register each arch (replacing xemu's own entry if there is one)."""
    control = mount / "register"
    if not control.exists():
        raise XemuError(f"binfmt_misc is not mounted at {mount} (mount -t binfmt_misc "
                        f"binfmt_misc {mount})")
    interpreter = interpreter_path()
    entries = [entry_for(spec, interpreter, persistent) for spec in specs]
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
    interpreter = interpreter_path()
    for spec in specs:
        entry = entry_for(spec, interpreter, persistent)
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


def run_arguments(argv: list[str], rootfs: str | None = None,
                  exec_fd: str | None = None) -> list[str] | None:
    """What the kernel gives the launcher (flag P: [launcher, path, argv0,
    args...]) as `xemu run` arguments, inside rootfs if the static launcher
    left that chroot, and reading the program from exec_fd where the kernel
    opened it (flag O); None if it is not that."""
    if len(argv) < 3:
        return None
    path, argv0, args = argv[1], argv[2], argv[3:]
    if path.startswith("-"):
        path = "./" + path                  # a file, never an option
    jail = ["--rootfs", rootfs] if rootfs else []
    opened = ["--exec-fd", exec_fd] if exec_fd and exec_fd.isdigit() else []
    return ["run", *jail, *opened, "-0", argv0, path, *args]


def serve(on_ready: Callable[[str], None] = lambda name: None) -> None:
    """Hand the real root to the static launchers of programs run inside a
    chroot (binfmt_launcher.c), until interrupted. A peer gets it only if it
    is of this user and user namespace and holds CAP_SYS_CHROOT: such a
    process could leave its chroot without help, so it learns nothing new."""
    name = SERVER_NAME.format(uid=os.getuid())
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind("\0" + name)
    except OSError as e:
        raise XemuError(f"cannot serve on @{name}: {e.strerror} (is another "
                        "`xemu binfmt serve` running?)") from None
    listener.listen(16)
    root = os.open("/", os.O_PATH | os.O_DIRECTORY)
    on_ready(name)
    with listener:
        while True:
            peer, _ = listener.accept()
            with peer:
                if may_leave_chroot(peer):
                    peer.sendmsg([b"r"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                           struct.pack("i", root))])


CAP_SYS_CHROOT = 18


def may_leave_chroot(peer: socket.socket) -> bool:
    """Is the peer of this user and user namespace, with CAP_SYS_CHROOT?"""
    pid, uid, _ = struct.unpack("3i", peer.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                      struct.calcsize("3i")))
    try:
        same_namespace = os.stat(f"/proc/{pid}/ns/user").st_ino == \
            os.stat("/proc/self/ns/user").st_ino
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    effective = next((int(line.split()[1], 16) for line in status.splitlines()
                      if line.startswith("CapEff:")), 0)
    return uid == os.getuid() and same_namespace and bool(effective >> CAP_SYS_CHROOT & 1)


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
