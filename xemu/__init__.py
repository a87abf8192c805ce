"""xemu: run programs built for one instruction set on a machine of another."""

__version__ = "0.1.0"
