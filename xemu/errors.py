"""Errors xemu reports to its user. The CLI maps each class to an exit status
(see DESIGN.md): a user's mistake or a bad image is 2, a timeout 124, a bug
of ours 70. Guest faults are not errors: they end the run with 128 + signal."""

EXIT_USAGE = 2
EXIT_TIMEOUT = 124
EXIT_INTERNAL = 70


class XemuError(Exception):
    """Something the user can fix: bad options, bad image, unusable accelerator."""

    exit_status = EXIT_USAGE


class ImageError(XemuError):
    """The image cannot be loaded: unreadable, malformed, or for no known arch."""


class ArchError(XemuError):
    """Unknown arch name, or --arch disagrees with the image."""


class AccelError(XemuError):
    """The requested accelerator cannot run this guest on this host."""


class GuestMemoryError(Exception):
    """A guest address xemu was asked to touch is not mapped (becomes EFAULT)."""

    def __init__(self, address: int, size: int = 1):
        super().__init__(f"guest address {address:#x} (+{size}) is not mapped")
        self.address = address
        self.size = size


class GuestTimeout(Exception):
    """--timeout elapsed while the guest ran or waited in a system call."""
