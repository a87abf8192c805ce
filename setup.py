"""The package's one compiled part: the TCG accelerator's TLB-fill hook and
system call entry (xemu/machine/accel/_tcgfast.c), a plain C library that
xemu loads with ctypes. Optional: where it cannot be built (no C compiler), the install
goes on without it and xemu runs its pure-Python path
(xemu/machine/accel/tcgfast.py). Everything else is in pyproject.toml."""
from setuptools import Extension, setup

setup(ext_modules=[Extension("xemu.machine.accel._tcgfast",
                             sources=["xemu/machine/accel/_tcgfast.c"],
                             extra_compile_args=["-O2"], optional=True)])
