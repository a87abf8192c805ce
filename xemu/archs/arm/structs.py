"""ARM uses the generic 32-bit layouts (xemu/linux/structs.py) with 8-byte
alignment of 64-bit fields; its statfs64 alone is declared
__attribute__((packed, aligned(4))) (ARCH_PACK_STATFS64): 84 bytes, not 88.
("u64_aligned4" is a u64 of such a struct.)"""

LAYOUTS: dict = {
    # A 32-bit program's timespec64: the kernel keeps only the low half of
    # tv_nsec (get_timespec64), and glibc leaves the other half unset.
    "timespec64": (("tv_sec", "s64"), ("tv_nsec", "s32"), ("__pad", "s32")),
    "statfs64": (
        ("f_type", "long"), ("f_bsize", "long"),
        *((f, "u64_aligned4") for f in ("f_blocks", "f_bfree", "f_bavail", "f_files",
                                        "f_ffree")),
        ("f_fsid0", "s32"), ("f_fsid1", "s32"), ("f_namelen", "long"),
        ("f_frsize", "long"), ("f_flags", "long"),
        *((f"f_spare{i}", "long") for i in range(4)),
    ),
}
