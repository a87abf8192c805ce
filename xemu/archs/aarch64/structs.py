"""AArch64 uses asm-generic's struct stat (xemu/linux/structs.py); nothing of
its own."""

LAYOUTS: dict = {}
