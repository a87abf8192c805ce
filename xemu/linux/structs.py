"""Kernel struct layouts, described once and packed per arch.

A layout is a tuple of (field, type). Types: u8 u16 s16 u32 s32 u64 s64, "ulong"
and "long" (the arch's word), and "bytesN" (a char array). Offsets follow the
C rules of the arch: natural alignment, except that i386 aligns 8-byte
integers to 4 (ArchSpec.int64_align), which is why its stat64 is 96 bytes
where ARM's is 104. An arch package overrides a layout only where the kernel
really declares it differently (xemu/archs/<arch>/structs.py).
"""
from __future__ import annotations

import struct

from ..archs.base import ArchSpec

SCALARS = {"u8": "B", "u16": "H", "s16": "h", "u32": "I", "s32": "i", "u64": "Q",
           "s64": "q"}
# a u64 in a struct the kernel declares packed and aligned(4) (ARM's statfs64)
PACKED_U64 = "u64_aligned4"

# asm-generic/stat.h: the `struct stat` of 64-bit arches without their own.
STAT_GENERIC = (
    ("st_dev", "u64"), ("st_ino", "u64"), ("st_mode", "u32"), ("st_nlink", "u32"),
    ("st_uid", "u32"), ("st_gid", "u32"), ("st_rdev", "u64"), ("__pad1", "u64"),
    ("st_size", "s64"), ("st_blksize", "s32"), ("__pad2", "s32"), ("st_blocks", "s64"),
    ("st_atime", "s64"), ("st_atime_nsec", "u64"), ("st_mtime", "s64"),
    ("st_mtime_nsec", "u64"), ("st_ctime", "s64"), ("st_ctime_nsec", "u64"),
    ("__unused4", "u32"), ("__unused5", "u32"),
)

# The stat64 of i386 and ARM (asm/stat.h): identical text, different padding.
STAT64_GENERIC = (
    ("st_dev", "u64"), ("__pad0", "bytes4"), ("__st_ino", "ulong"), ("st_mode", "u32"),
    ("st_nlink", "u32"), ("st_uid", "ulong"), ("st_gid", "ulong"), ("st_rdev", "u64"),
    ("__pad3", "bytes4"), ("st_size", "s64"), ("st_blksize", "ulong"),
    ("st_blocks", "u64"), ("st_atime", "ulong"), ("st_atime_nsec", "ulong"),
    ("st_mtime", "ulong"), ("st_mtime_nsec", "ulong"), ("st_ctime", "ulong"),
    ("st_ctime_nsec", "ulong"), ("st_ino", "u64"),
)

STATX_TIMESTAMP = (("tv_sec", "s64"), ("tv_nsec", "u32"), ("__reserved", "s32"))

STATX = (
    ("stx_mask", "u32"), ("stx_blksize", "u32"), ("stx_attributes", "u64"),
    ("stx_nlink", "u32"), ("stx_uid", "u32"), ("stx_gid", "u32"), ("stx_mode", "u16"),
    ("__spare0", "u16"), ("stx_ino", "u64"), ("stx_size", "u64"), ("stx_blocks", "u64"),
    ("stx_attributes_mask", "u64"),
    *((f"stx_{t}_{f}", ty) for t in ("atime", "btime", "ctime", "mtime")
      for f, ty in STATX_TIMESTAMP),
    ("stx_rdev_major", "u32"), ("stx_rdev_minor", "u32"), ("stx_dev_major", "u32"),
    ("stx_dev_minor", "u32"), ("stx_mnt_id", "u64"), ("__spare2", "u64"),
    ("__spare3", "bytes96"),
)

# asm-generic/statfs.h: struct statfs counts in words, statfs64 in u64s
STATFS_HEAD = (("f_type", "long"), ("f_bsize", "long"))
STATFS_COUNTS = ("f_blocks", "f_bfree", "f_bavail", "f_files", "f_ffree")
STATFS_TAIL = (("f_fsid0", "s32"), ("f_fsid1", "s32"), ("f_namelen", "long"),
               ("f_frsize", "long"), ("f_flags", "long"),
               *((f"f_spare{i}", "long") for i in range(4)))

# System V IPC (asm-generic/ipcbuf.h, shmbuf.h, sembuf.h, msgbuf.h). mode
# is a u32 here; i386's and ARM's u16 and its padding make the same bytes,
# little-endian as they are. Times are one long on 64-bit arches and a low
# and a high word on 32-bit ones (IPC_BY_BITS).
IPC64_PERM = (("key", "s32"), ("uid", "u32"), ("gid", "u32"), ("cuid", "u32"),
              ("cgid", "u32"), ("mode", "u32"), ("seq", "u16"), ("__pad2", "u16"),
              ("__unused1", "ulong"), ("__unused2", "ulong"))


def ipc_times(bits: int, *names: str) -> tuple:
    """The time fields of an *id64_ds on a 64- or 32-bit arch."""
    if bits == 64:
        return tuple((name, "long") for name in names)
    return tuple(field for name in names for field in ((name, "ulong"), (f"{name}_high", "ulong")))


def _words(*names: str) -> tuple:
    return tuple((name, "ulong") for name in names)


def ipc_layouts(bits: int, perm: tuple = IPC64_PERM) -> dict[str, tuple]:
    unused = _words
    return {
        "shmid64_ds": (*perm, ("shm_segsz", "ulong"),
                       *ipc_times(bits, "shm_atime", "shm_dtime", "shm_ctime"),
                       ("shm_cpid", "s32"), ("shm_lpid", "s32"), ("shm_nattch", "ulong"),
                       *unused("__unused4", "__unused5")),
        "semid64_ds": (*perm, *ipc_times(bits, "sem_otime", "sem_ctime"),
                       ("sem_nsems", "ulong"), *unused("__unused3", "__unused4")),
        "msqid64_ds": (*perm, *ipc_times(bits, "msg_stime", "msg_rtime", "msg_ctime"),
                       ("msg_cbytes", "ulong"), ("msg_qnum", "ulong"), ("msg_qbytes", "ulong"),
                       ("msg_lspid", "s32"), ("msg_lrpid", "s32"),
                       *unused("__unused4", "__unused5")),
    }


IPC_BY_BITS = {bits: ipc_layouts(bits) for bits in (32, 64)}

GENERIC: dict[str, tuple] = {
    # IPC_INFO and the *_INFO commands (uapi/linux/shm.h, sem.h, msg.h)
    "shminfo64": tuple((name, "ulong") for name in (
        "shmmax", "shmmin", "shmmni", "shmseg", "shmall", "__unused1", "__unused2",
        "__unused3", "__unused4")),
    "shm_info": (("used_ids", "s32"), *((name, "ulong") for name in (
        "shm_tot", "shm_rss", "shm_swp", "swap_attempts", "swap_successes"))),
    "seminfo": tuple((name, "s32") for name in (
        "semmap", "semmni", "semmns", "semmnu", "semmsl", "semopm", "semume", "semusz",
        "semvmx", "semaem")),
    "msginfo": (*((name, "s32") for name in (
        "msgpool", "msgmap", "msgmax", "msgmnb", "msgmni", "msgssz", "msgtql")),
        ("msgseg", "u16")),
    "sembuf": (("sem_num", "u16"), ("sem_op", "s16"), ("sem_flg", "s16")),
    "stat": STAT_GENERIC,
    "stat64": STAT64_GENERIC,
    "statx": STATX,
    "timespec": (("tv_sec", "long"), ("tv_nsec", "long")),
    "timespec64": (("tv_sec", "s64"), ("tv_nsec", "s64")),
    "timeval": (("tv_sec", "long"), ("tv_usec", "long")),
    "itimerval": (("it_interval_sec", "long"), ("it_interval_usec", "long"),
                  ("it_value_sec", "long"), ("it_value_usec", "long")),
    "pollfd": (("fd", "s32"), ("events", "u16"), ("revents", "u16")),
    # the data is the guest's 8 bytes, kept as they are (syscalls/epoll.py)
    "epoll_event": (("events", "u32"), ("__pad", "u32"), ("data", "bytes8")),
    "rlimit": (("rlim_cur", "ulong"), ("rlim_max", "ulong")),
    "rlimit64": (("rlim_cur", "u64"), ("rlim_max", "u64")),
    "utsname": tuple((f, "bytes65") for f in ("sysname", "nodename", "release",
                                               "version", "machine", "domainname")),
    "iovec": (("iov_base", "ulong"), ("iov_len", "ulong")),
    "dirent64": (("d_ino", "u64"), ("d_off", "s64"), ("d_reclen", "u16"), ("d_type", "u8")),
    "winsize": (("ws_row", "u16"), ("ws_col", "u16"), ("ws_xpixel", "u16"),
                ("ws_ypixel", "u16")),
    "termios": (("c_iflag", "u32"), ("c_oflag", "u32"), ("c_cflag", "u32"),
                ("c_lflag", "u32"), ("c_line", "u8"), ("c_cc", "bytes19")),
    "termios2": (("c_iflag", "u32"), ("c_oflag", "u32"), ("c_cflag", "u32"),
                 ("c_lflag", "u32"), ("c_line", "u8"), ("c_cc", "bytes19"),
                 ("c_ispeed", "u32"), ("c_ospeed", "u32")),
    "stack_t": (("ss_sp", "ulong"), ("ss_flags", "s32"), ("ss_size", "ulong")),
    "sysinfo": (("uptime", "long"), ("loads0", "ulong"), ("loads1", "ulong"),
                ("loads2", "ulong"), ("totalram", "ulong"),
                ("freeram", "ulong"), ("sharedram", "ulong"), ("bufferram", "ulong"),
                ("totalswap", "ulong"), ("freeswap", "ulong"), ("procs", "u16"),
                ("pad", "u16"), ("totalhigh", "ulong"), ("freehigh", "ulong"),
                ("mem_unit", "u32")),
    "rusage": (("ru_utime_sec", "long"), ("ru_utime_usec", "long"),
               ("ru_stime_sec", "long"), ("ru_stime_usec", "long"),
               *((f"ru_{name}", "long") for name in (
                   "maxrss", "ixrss", "idrss", "isrss", "minflt", "majflt", "nswap",
                   "inblock", "oublock", "msgsnd", "msgrcv", "nsignals", "nvcsw",
                   "nivcsw"))),
    "tms": (("tms_utime", "long"), ("tms_stime", "long"), ("tms_cutime", "long"),
            ("tms_cstime", "long")),
    "msghdr": (("msg_name", "ulong"), ("msg_namelen", "u32"), ("msg_iov", "ulong"),
               ("msg_iovlen", "ulong"), ("msg_control", "ulong"), ("msg_controllen", "ulong"),
               ("msg_flags", "s32")),
    "cmsghdr": (("cmsg_len", "ulong"), ("cmsg_level", "s32"), ("cmsg_type", "s32")),
    "statfs": STATFS_HEAD + tuple((f, "long") for f in STATFS_COUNTS) + STATFS_TAIL,
    "statfs64": STATFS_HEAD + tuple((f, "u64") for f in STATFS_COUNTS) + STATFS_TAIL,
}


class Layout:
    """A struct packed for one arch: pack(**fields) and unpack(bytes)."""

    def __init__(self, name: str, fields: tuple, spec: ArchSpec):
        self.name = name
        fmt, offset, max_align = [spec.endian], 0, 1
        self.names: list[str] = []
        self.offsets: dict[str, int] = {}
        for field, kind in fields:
            code, size, align = _field_code(kind, spec)
            pad = -offset % align
            if pad:
                fmt.append(f"{pad}x")
            fmt.append(code)
            self.names.append(field)
            self.offsets[field] = offset + pad
            offset += pad + size
            max_align = max(max_align, align)
        tail = -offset % max_align
        if tail:
            fmt.append(f"{tail}x")
        self._struct = struct.Struct("".join(fmt))
        self.size = self._struct.size
        # Integers are wrapped to their C width, as a C assignment would.
        self._wrap = {}
        for field, kind in fields:
            code = _field_code(kind, spec)[0]
            if not code.endswith("s"):
                bits = struct.calcsize(code) * 8
                self._wrap[field] = (bits, code.islower())

    def pack(self, **values) -> bytes:
        out = []
        for name in self.names:
            value = values.get(name)
            wrap = self._wrap.get(name)
            if wrap is None:
                out.append(value or b"")
                continue
            bits, signed = wrap
            value = (value or 0) & ((1 << bits) - 1)
            if signed and value >> (bits - 1):
                value -= 1 << bits
            out.append(value)
        return self._struct.pack(*out)

    def unpack(self, data: bytes) -> dict:
        return dict(zip(self.names, self._struct.unpack(data[:self.size]), strict=True))

    def offset_of(self, field: str) -> int:
        return self.offsets[field]


def _field_code(kind: str, spec: ArchSpec) -> tuple[str, int, int]:
    """(struct code, size, alignment) of one field type on this arch."""
    if kind == "ulong":
        kind = "u64" if spec.bits == 64 else "u32"
    elif kind == "long":
        kind = "s64" if spec.bits == 64 else "s32"
    if kind.startswith("bytes"):
        n = int(kind[5:])
        return f"{n}s", n, 1
    if kind == PACKED_U64:
        return "Q", 8, 4
    code = SCALARS[kind]
    size = struct.calcsize(code)
    return code, size, min(size, spec.linux.int64_align) if size == 8 else size


_cache: dict[tuple[str, str], Layout] = {}


def layout(spec: ArchSpec, name: str) -> Layout:
    """The arch's layout of a kernel struct: its own if it declares one."""
    found = _cache.get((spec.name, name))
    if found is None:
        fields = spec.linux.structs.get(name) or IPC_BY_BITS[spec.bits].get(name) or \
            GENERIC.get(name)
        if fields is None:
            raise KeyError(f"{spec.name} has no struct {name}")
        found = _cache[(spec.name, name)] = Layout(name, fields, spec)
    return found
