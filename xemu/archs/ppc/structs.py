"""PowerPC kernel structs that differ from the generic ones
(arch/powerpc/include/uapi/asm/stat.h, termbits.h, ipcbuf.h, shmbuf.h,
sembuf.h, msgbuf.h)."""

# ipc64_perm with a 32-bit seq and 64-bit spares; the *id64_ds put each
# time's high word first, and shmid64_ds its size after the times.
IPC64_PERM = (("key", "s32"), ("uid", "u32"), ("gid", "u32"), ("cuid", "u32"),
              ("cgid", "u32"), ("mode", "u32"), ("seq", "u32"), ("__pad1", "u32"),
              ("__unused1", "u64"), ("__unused2", "u64"))


def _times(*names: str) -> tuple:
    return tuple(field for name in names for field in ((f"{name}_high", "u32"), (name, "u32")))


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
    "shmid64_ds": (*IPC64_PERM, *_times("shm_atime", "shm_dtime", "shm_ctime"),
                   ("__unused4", "u32"), ("shm_segsz", "u32"), ("shm_cpid", "s32"),
                   ("shm_lpid", "s32"), ("shm_nattch", "u32"), ("__unused5", "u32"),
                   ("__unused6", "u32")),
    "semid64_ds": (*IPC64_PERM, *_times("sem_otime", "sem_ctime"), ("sem_nsems", "u32"),
                   ("__unused3", "u32"), ("__unused4", "u32")),
    "msqid64_ds": (*IPC64_PERM, *_times("msg_stime", "msg_rtime", "msg_ctime"),
                   ("msg_cbytes", "u32"), ("msg_qnum", "u32"), ("msg_qbytes", "u32"),
                   ("msg_lspid", "s32"), ("msg_lrpid", "s32"), ("__unused4", "u32"),
                   ("__unused5", "u32")),
}
