"""x86-64's struct stat predates asm-generic's and differs from it
(arch/x86/include/uapi/asm/stat.h), its epoll_event is packed, and its
semid64_ds keeps a spare word after each time (asm/sembuf.h)."""

LAYOUTS = {
    # packed (EPOLL_PACKED in uapi/linux/eventpoll.h): 12 bytes
    "epoll_event": (("events", "u32"), ("data", "bytes8")),
    "stat": (
        ("st_dev", "u64"), ("st_ino", "u64"), ("st_nlink", "u64"),
        ("st_mode", "u32"), ("st_uid", "u32"), ("st_gid", "u32"), ("__pad0", "u32"),
        ("st_rdev", "u64"), ("st_size", "s64"), ("st_blksize", "s64"),
        ("st_blocks", "s64"),
        ("st_atime", "s64"), ("st_atime_nsec", "u64"),
        ("st_mtime", "s64"), ("st_mtime_nsec", "u64"),
        ("st_ctime", "s64"), ("st_ctime_nsec", "u64"),
        ("__unused0", "s64"), ("__unused1", "s64"), ("__unused2", "s64"),
    ),
    "semid64_ds": (
        ("key", "s32"), ("uid", "u32"), ("gid", "u32"), ("cuid", "u32"), ("cgid", "u32"),
        ("mode", "u32"), ("seq", "u16"), ("__pad2", "u16"), ("__unused1", "u64"),
        ("__unused2", "u64"),
        ("sem_otime", "s64"), ("__unused_o", "u64"), ("sem_ctime", "s64"),
        ("__unused_c", "u64"), ("sem_nsems", "u64"), ("__unused3", "u64"),
        ("__unused4", "u64"),
    ),
}
