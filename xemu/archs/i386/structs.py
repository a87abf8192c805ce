"""i386 uses the generic 32-bit layouts; what makes them differ from ARM's is
mostly the 4-byte alignment of 64-bit fields (ArchSpec.int64_align), which
also makes its epoll_event 12 bytes (the u64 data right after the events)."""

LAYOUTS: dict = {
    # A 32-bit program's timespec64: the kernel keeps only the low half of
    # tv_nsec (get_timespec64), and glibc leaves the other half unset.
    "timespec64": (("tv_sec", "s64"), ("tv_nsec", "s32"), ("__pad", "s32")),
    "epoll_event": (("events", "u32"), ("data", "bytes8")),
}
