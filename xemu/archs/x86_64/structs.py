"""x86-64's struct stat predates asm-generic's and differs from it
(arch/x86/include/uapi/asm/stat.h), and its epoll_event is packed."""

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
}
