"""ARM uses the generic 32-bit layouts (xemu/linux/structs.py) with 8-byte
alignment of 64-bit fields; nothing of its own."""

LAYOUTS: dict = {}
