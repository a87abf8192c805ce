"""/proc/<pid> of the guest's own process, by construction.

xemu's own /proc entries (its maps, its memory, its exe, its descriptors)
must never reach the guest: writing xemu's /proc/PID/mem runs the guest's
code inside xemu. So every guest path is resolved the way the kernel would,
component by component (absolute against the guest's cwd or dirfd, `.` and
`..` and `//`, symlinks read in the guest's view of the tree), and a path
that lands in /proc/self, /proc/thread-self, /proc/<our pid> or
/proc/<our pid>/task/<tid> is served here, from the guest's state, or
refused; only other paths reach the host. `resolve` is a pure function of
the path and a readlink callback, unit-tested on its own.

A second line of defence (`refuse_host_fd`): a host descriptor a guest
path opened that turns out to be a procfs file of this process (a proc
mounted elsewhere, a race) is closed and refused, and so is any process's
`mem`.
"""
from __future__ import annotations

import ctypes
import errno
import os
import re
import stat as statmod
from dataclasses import dataclass
from typing import Callable

from ..machine.memory import SharedFile

MAX_SYMLINKS = 40                      # the kernel's MAXSYMLINKS
PROC_SUPER_MAGIC = 0x9FA0
DT_DIR, DT_REG, DT_LNK = 4, 8, 10

# Entries of /proc/<pid> the guest sees: name -> d_type. Nothing else exists.
FILES = ("auxv", "cmdline", "comm", "environ", "maps", "mem", "mounts", "stat", "status")
LINKS = ("cwd", "exe", "root")
DIRS = ("fd", "fdinfo", "task")
ENTRIES = {**{n: DT_REG for n in FILES}, **{n: DT_LNK for n in LINKS},
           **{n: DT_DIR for n in DIRS}}


@dataclass(frozen=True)
class Resolved:
    """Where a guest path leads. proc is not None: the guest's own /proc
    entry, as the components below /proc/<pid> (() is the directory itself;
    task/<tid>/ is folded into it). Else the host serves `path`: the guest's
    own spelling (rewritten False), or an absolute guest path a magic link
    of ours led to (/proc/self/cwd/x, /proc/self/fd/3/x)."""
    proc: tuple[bytes, ...] | None = None
    path: bytes = b""
    rewritten: bool = False


def _components(path: bytes) -> list[bytes]:
    return [c for c in path.split(b"/") if c]


def resolve(path: bytes, base: bytes, readlink: Callable[[bytes], bytes | None],
            pid: int, tids=(), follow: bool = True,
            magic: Callable[[tuple[bytes, ...]], bytes | None] = lambda parts: None,
            rewrite: bool = False) -> Resolved:
    """Classify a guest path. base is the absolute guest directory relative
    paths start from; readlink(absolute guest path) gives a symlink's target,
    None for anything else, and raises OSError when the path does not exist
    (then the host gets the path and gives the error). magic(parts) gives
    the guest path our cwd, root or fd/N link stands for, None if it is not
    a directory path (a pipe, the exe). rewrite: hand the host the resolved
    absolute path even where no magic link was followed (base is ours)."""
    if not path:
        return Resolved(path=path)
    ours = {b"self", b"thread-self", str(pid).encode()}
    tid_names = {str(t).encode() for t in (*tids, pid)}
    todo = _components(path)
    if not path.startswith(b"/"):
        todo = _components(base) + todo
    trailing_slash = path.endswith(b"/")
    done: list[bytes] = []
    links = 0
    rewritten = rewrite
    while todo:
        name = todo.pop(0)
        last = not todo
        if name == b".":
            continue
        if name == b"..":
            if done:
                done.pop()
            continue
        if len(done) >= 2 and done[0] == b"proc" and done[1] in ours:
            # Inside our /proc/<pid>: no host lookups from here on.
            parts = _fold_task(tuple(done[2:]) + (name,), tid_names)
            if parts is None:
                return Resolved(proc=(b"\0",))        # does not exist
            if parts[:1] in ((b"cwd",), (b"root",)) or \
                    parts[:1] == (b"fd",) and len(parts) == 2:
                if not last or follow or trailing_slash:
                    target = magic(parts)
                    if target is None:
                        if last and parts[0] == b"fd":
                            return Resolved(proc=parts)      # reopened as itself
                        return Resolved(proc=(b"\0", b"ENOTDIR"))
                    links += 1
                    if links > MAX_SYMLINKS:
                        return Resolved(path=path)
                    todo = _components(target) + todo
                    done = []
                    rewritten = True
                    continue
            if parts == (b"exe",) and not last:
                return Resolved(proc=(b"\0", b"ENOTDIR"))
            done.append(name)
            continue
        done.append(name)
        if len(done) == 2 and done[0] == b"proc" and done[1] in ours:
            # /proc/self, ...: ours, never looked up; spelled out as the
            # kernel's symlinks say, so `..` after them goes where it would
            me = str(pid).encode()
            done[1:] = [me, b"task", me] if name == b"thread-self" else [me]
            continue
        if last and not follow and not trailing_slash:
            break
        try:
            target = readlink(b"/" + b"/".join(done))
        except OSError:
            if last:
                break
            done += todo                 # a missing directory: the host says so
            break
        if target is None:
            continue
        links += 1
        if links > MAX_SYMLINKS:
            return Resolved(path=path)   # the host gives ELOOP (from the start)
        done.pop()
        if target.startswith(b"/"):
            done = []
        todo = _components(target) + todo
    if len(done) >= 2 and done[0] == b"proc" and done[1] in ours:
        parts = _fold_task(tuple(done[2:]), tid_names)
        return Resolved(proc=(b"\0",) if parts is None else parts)
    if rewritten:
        joined = b"/" + b"/".join(done)
        return Resolved(path=joined + (b"/" if trailing_slash and done else b""),
                        rewritten=True)
    return Resolved(path=path)


def _fold_task(parts: tuple[bytes, ...], tid_names) -> tuple[bytes, ...] | None:
    """task/<tid>/X is X (a thread's view is its process's here); None for a
    task that is not one of ours."""
    if len(parts) >= 2 and parts[0] == b"task":
        if parts[1] not in tid_names:
            return None
        return parts[2:]
    return parts


def kind_of(parts: tuple[bytes, ...], fds=(), tids=()) -> int | None:
    """DT_DIR, DT_REG or DT_LNK for an entry of our /proc/<pid>, None if
    there is no such entry."""
    if not parts:
        return DT_DIR
    if parts[0] == b"\0":
        return None
    head = parts[0].decode("latin-1")
    if len(parts) == 1:
        return ENTRIES.get(head)
    if len(parts) == 2 and head in ("fd", "fdinfo"):
        try:
            number = int(parts[1])
        except ValueError:
            return None
        if parts[1] != str(number).encode() or number not in fds:
            return None
        return DT_LNK if head == "fd" else DT_REG
    if len(parts) == 2 and head == "task":
        return DT_DIR if parts[1] in {str(t).encode() for t in tids} else None
    return None


def listing(parts: tuple[bytes, ...], fds=(), tids=()) -> list[tuple[bytes, int]]:
    """The entries of one of our directories: (name, d_type)."""
    if not parts:
        return [(n.encode(), kind) for n, kind in sorted(ENTRIES.items())]
    if parts == (b"fd",):
        return [(str(fd).encode(), DT_LNK) for fd in sorted(fds)]
    if parts == (b"fdinfo",):
        return [(str(fd).encode(), DT_REG) for fd in sorted(fds)]
    if parts == (b"task",):
        return [(str(t).encode(), DT_DIR) for t in sorted(tids)]
    raise OSError(errno.ENOTDIR, "not a directory")


def mode_of(parts: tuple[bytes, ...], kind: int) -> int:
    if kind == DT_DIR:
        return statmod.S_IFDIR | 0o555
    if kind == DT_LNK:
        return statmod.S_IFLNK | 0o777
    if parts in ((b"mem",), (b"environ",), (b"auxv",)):
        return statmod.S_IFREG | 0o600 if parts == (b"mem",) else statmod.S_IFREG | 0o400
    return statmod.S_IFREG | 0o444


# -- the second line: host descriptors on procfs ----------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_PID_COMPONENT = re.compile(rb"/(\d+)(?=/|$)")


def _is_procfs(fd: int) -> bool:
    buffer = ctypes.create_string_buffer(256)
    if _libc.fstatfs(ctypes.c_int(fd), buffer) != 0:
        return False
    return int.from_bytes(buffer.raw[:8], "little") == PROC_SUPER_MAGIC


def refuse_host_fd(fd: int, own: set[int]) -> None:
    """Close fd and raise EACCES if it is a procfs file of this process (any
    spelling, any mount of proc) or any process's mem; else leave it."""
    if not _is_procfs(fd):
        return
    try:
        where = os.readlink(f"/proc/self/fd/{fd}").encode()
    except OSError:
        where = b""
    pids = {int(m) for m in _PID_COMPONENT.findall(where)}
    if pids & own or where.endswith(b"/mem"):
        os.close(fd)
        raise OSError(errno.EACCES, "xemu's own /proc entry")


# -- serving our entries from the guest's state -----------------------------
# `process` is a linux.process.Process (not imported: it imports this module).

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_TRUNC | os.O_CREAT


def _missing(parts) -> OSError:
    if parts[:2] == (b"\0", b"ENOTDIR"):
        return OSError(errno.ENOTDIR, "not a directory")
    return OSError(errno.ENOENT, "no such entry in the guest's /proc")


def entry_kind(process, parts) -> int:
    kind = kind_of(parts, process.fds.numbers(), process.threads or (os.getpid(),))
    if kind is None:
        raise _missing(parts)
    return kind


def open_entry(process, parts: tuple, flags: int) -> int:
    """A host descriptor for one of our entries, opened with host flags."""
    kind = entry_kind(process, parts)
    if kind == DT_DIR:
        if flags & WRITE_FLAGS:
            raise OSError(errno.EISDIR, "is a directory")
        return _placeholder_dir(process, parts)
    if parts[0] == b"fd":                       # the guest's own descriptor, reopened
        if flags & os.O_NOFOLLOW:
            raise OSError(errno.ELOOP, "a symbolic link")
        host = process.fds.host(int(parts[1]))
        if process.proc_dir_of(host) is not None:
            return _placeholder_dir(process, process.proc_dir_of(host))
        return os.open(f"/proc/self/fd/{host}", flags & ~os.O_CREAT)
    if kind == DT_LNK:
        if parts == (b"exe",) and not flags & (WRITE_FLAGS | os.O_NOFOLLOW):
            return os.open(process.exe, os.O_RDONLY | os.O_CLOEXEC)
        raise OSError(errno.ELOOP if flags & os.O_NOFOLLOW else errno.EACCES,
                      "the guest's /proc link")
    if parts == (b"mem",):
        # Serving the guest's memory needs pread/pwrite at guest addresses; an
        # fd of xemu's would not do it. Refused, as for a process one may not trace.
        raise OSError(errno.EACCES, "the guest's /proc/self/mem")
    if flags & WRITE_FLAGS:
        raise OSError(errno.EACCES, "read-only")
    return _memfd(parts[0].decode(), content(process, parts))


def _memfd(name: str, data: bytes) -> int:
    fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    import fcntl
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_WRITE | fcntl.F_SEAL_GROW |
                fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_SEAL)
    return fd


def _placeholder_dir(process, parts: tuple) -> int:
    """An empty, deleted host directory that the guest reads as ours: its
    listing and the paths relative to it come from here (fs.getdents64)."""
    import tempfile
    made = tempfile.mkdtemp(prefix="xemu-proc-")
    try:
        fd = os.open(made, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    finally:
        os.rmdir(made)
    st = os.fstat(fd)
    process.proc_dirs[(st.st_dev, st.st_ino)] = tuple(parts)
    return fd


def directory_entries(process, parts: tuple) -> list[tuple[bytes, int, int]]:
    """(name, inode, d_type) for getdents64, with . and .."""
    names = listing(parts, process.fds.numbers(), process.threads or (os.getpid(),))
    return [(b".", 1, DT_DIR), (b"..", 1, DT_DIR)] + [
        (name, 0x1000 + i, kind) for i, (name, kind) in enumerate(names)]


def readlink_entry(process, parts: tuple) -> bytes:
    kind = entry_kind(process, parts)
    if kind != DT_LNK:
        raise OSError(errno.EINVAL, "not a symbolic link")
    if parts == (b"exe",):
        return process.exe_path()
    if parts == (b"cwd",):
        return process.cwd_path()
    if parts == (b"root",):
        return b"/"
    host = process.fds.host(int(parts[1]))
    virtual = process.proc_dir_of(host)
    if virtual is not None:
        return b"/proc/%d/" % os.getpid() + b"/".join(virtual)
    target = os.readlink(f"/proc/self/fd/{host}").encode()
    if process.rootfs is not None:
        root = process.rootfs.host_root.encode()
        if target == root:
            return b"/"
        if target.startswith(root + b"/"):
            return target[len(root):]
    return target


@dataclass
class Stat:
    """What os.stat_result gives the stat calls, for an entry of ours."""
    st_mode: int
    st_size: int = 0
    st_ino: int = 1
    st_dev: int = 0
    st_nlink: int = 1
    st_uid: int = 0
    st_gid: int = 0
    st_rdev: int = 0
    st_blksize: int = 1024
    st_blocks: int = 0
    st_atime: float = 0.0
    st_mtime: float = 0.0
    st_ctime: float = 0.0
    st_atime_ns: int = 0
    st_mtime_ns: int = 0
    st_ctime_ns: int = 0


def stat_entry(process, parts: tuple, follow: bool):
    kind = entry_kind(process, parts)
    if kind == DT_LNK and follow:
        if parts == (b"exe",):
            return os.stat(process.exe)
        if parts[0] == b"fd":
            return os.fstat(process.fds.host(int(parts[1])))
    now = int(process.start_time) if hasattr(process, "start_time") else 0
    return Stat(st_mode=mode_of(parts, kind), st_nlink=2 if kind == DT_DIR else 1,
                st_ino=0x1000 + (hash(parts) & 0xFFFFF), st_uid=os.geteuid(),
                st_gid=os.getegid(), st_atime=now, st_mtime=now, st_ctime=now,
                st_atime_ns=now * 10**9, st_mtime_ns=now * 10**9, st_ctime_ns=now * 10**9)


def access_entry(process, parts: tuple, mode: int) -> bool:
    kind = entry_kind(process, parts)
    if parts == (b"mem",):
        return False
    if mode & os.W_OK and kind != DT_DIR and parts[0] != b"fd":
        return False
    if mode & os.X_OK and kind != DT_DIR and parts != (b"exe",):
        return False
    return True


# -- the contents ------------------------------------------------------------

def content(process, parts: tuple) -> bytes:
    name = parts[0].decode()
    if name == "fdinfo":
        return _fdinfo(process, int(parts[1]))
    return {"maps": _maps, "auxv": lambda p: p.auxv, "cmdline": _cmdline,
            "environ": _environ, "comm": lambda p: _comm(p) + b"\n",
            "mounts": _mounts, "stat": _stat, "status": _status}[name](process)


def _mounts(process) -> bytes:
    """The host's mounts as the guest's root sees them: under --rootfs only
    those inside it, their mount points made the guest's paths (as Linux
    shows a chrooted process)."""
    with open("/proc/self/mounts", "rb") as f:
        lines = f.read().splitlines()
    if process.rootfs is None:
        return b"".join(line + b"\n" for line in lines)
    root = process.rootfs.host_root.encode()
    shown = []
    for line in lines:
        fields = line.split(b" ")
        if len(fields) < 2:
            continue
        point = fields[1]
        if point == root or point.startswith(root + b"/"):
            fields[1] = point[len(root):] or b"/"
            shown.append(b" ".join(fields) + b"\n")
    return b"".join(shown)


def _maps(process) -> bytes:
    """Guest mappings in /proc/PID/maps format."""
    width = process.spec.bits // 4
    exe_name = process.exe.name
    lines = []
    for region in process.mem.regions():
        rights = "".join(c if region.perms & bit else "-"
                         for c, bit in (("r", 1), ("w", 2), ("x", 4)))
        name = os.fsdecode(process.exe_path()) if region.name == exe_name else region.name
        sharing = "s" if isinstance(region.buffer, SharedFile) else "p"
        lines.append(f"{region.start:0{width}x}-{region.end:0{width}x} {rights}{sharing} "
                     f"00000000 00:00 0 {name}".rstrip())
    return ("\n".join(lines) + "\n").encode(errors="surrogateescape")


def _cmdline(process) -> bytes:
    return b"".join(arg + b"\0" for arg in process.argv)


def _environ(process) -> bytes:
    return b"".join(var + b"\0" for var in process.envp)


def _comm(process) -> bytes:
    return os.path.basename(process.exe_path())[:15]


def _vm_sizes(process) -> tuple[int, int, int]:
    """(total, stack, executable) bytes of guest memory."""
    total = stack = code = 0
    for region in process.mem.regions():
        size = region.end - region.start
        total += size
        if region.name == "[stack]":
            stack += size
        elif region.perms & 4:
            code += size
    return total, stack, code


def _stat(process) -> bytes:
    pid = os.getpid()
    total, _, _ = _vm_sizes(process)
    times = os.times()
    tick = os.sysconf("SC_CLK_TCK")
    fields = [pid, b"(" + _comm(process) + b")", b"R", os.getppid(), os.getpgid(0),
              os.getsid(0), 0, -1, 0x400000, 0, 0, 0, 0, int(times.user * tick),
              int(times.system * tick), 0, 0, 20, 0, max(1, len(process.threads)), 0, 0,
              total, total // 4096, (1 << 64) - 1] + [0] * 27
    return b" ".join(f if isinstance(f, bytes) else str(f).encode() for f in fields) + b"\n"


def _status(process) -> bytes:
    total, stack, code = _vm_sizes(process)
    kib = lambda n: f"{n // 1024:8d} kB"      # noqa: E731
    uid, euid, gid, egid = os.getuid(), os.geteuid(), os.getgid(), os.getegid()
    lines = [
        f"Name:\t{_comm(process).decode(errors='replace')}",
        f"Umask:\t{process.umask:04o}", "State:\tR (running)",
        f"Tgid:\t{os.getpid()}", "Ngid:\t0", f"Pid:\t{os.getpid()}",
        f"PPid:\t{os.getppid()}", "TracerPid:\t0",
        f"Uid:\t{uid}\t{euid}\t{euid}\t{euid}", f"Gid:\t{gid}\t{egid}\t{egid}\t{egid}",
        f"FDSize:\t{process.fds.limit}", "Groups:\t",
        f"VmPeak:\t{kib(total)}", f"VmSize:\t{kib(total)}", f"VmRSS:\t{kib(total)}",
        f"VmData:\t{kib(total - stack - code)}", f"VmStk:\t{kib(stack)}",
        f"VmExe:\t{kib(code)}", f"Threads:\t{max(1, len(process.threads))}",
        "SigPnd:\t0000000000000000", "ShdPnd:\t0000000000000000",
    ]
    return ("\n".join(lines) + "\n").encode()


def _fdinfo(process, number: int) -> bytes:
    entry = process.fds.get(number)
    try:
        position = os.lseek(entry.host_fd, 0, os.SEEK_CUR)
    except OSError:
        position = 0
    import fcntl
    flags = fcntl.fcntl(entry.host_fd, fcntl.F_GETFL) | (0o2000000 if entry.cloexec else 0)
    return f"pos:\t{position}\nflags:\t0{flags:o}\nmnt_id:\t0\n".encode()
