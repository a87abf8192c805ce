"""i386 uses the generic 32-bit layouts; what makes them differ from ARM's is
mostly the 4-byte alignment of 64-bit fields (ArchSpec.int64_align), which
also makes its epoll_event 12 bytes (the u64 data right after the events)."""

LAYOUTS: dict = {
    "epoll_event": (("events", "u32"), ("data", "bytes8")),
}
