"""PowerPC kernel structs that differ from the generic ones
(arch/powerpc/include/uapi/asm/stat.h, termbits.h)."""

LAYOUTS = {
    # A 32-bit program's timespec64: the kernel keeps only the low half of
    # tv_nsec (get_timespec64), and glibc leaves the other half unset.
    "timespec64": (("tv_sec", "s64"), ("__pad", "s32"), ("tv_nsec", "s32")),
    "stat64": (
        ("st_dev", "u64"), ("st_ino", "u64"), ("st_mode", "u32"),
        ("st_nlink", "u32"), ("st_uid", "u32"), ("st_gid", "u32"),
        ("st_rdev", "u64"), ("__pad2", "u16"), ("st_size", "s64"),
        ("st_blksize", "s32"), ("st_blocks", "s64"),
        ("st_atime", "s32"), ("st_atime_nsec", "u32"),
        ("st_mtime", "s32"), ("st_mtime_nsec", "u32"),
        ("st_ctime", "s32"), ("st_ctime_nsec", "u32"),
        ("__unused4", "u32"), ("__unused5", "u32"),
    ),
    # c_cc before c_line, and the speeds that asm-generic keeps to termios2
    "termios": (("c_iflag", "u32"), ("c_oflag", "u32"), ("c_cflag", "u32"),
                ("c_lflag", "u32"), ("c_cc", "bytes19"), ("c_line", "u8"),
                ("c_ispeed", "u32"), ("c_ospeed", "u32")),
}
