"""i386 uses the generic 32-bit layouts; what makes them differ from ARM's is
only the 4-byte alignment of 64-bit fields (ArchSpec.int64_align)."""

LAYOUTS: dict = {}
