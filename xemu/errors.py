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
    """A guest address xemu was asked to touch is not mapped, or not with the
    rights the access needs (becomes EFAULT)."""

    def __init__(self, address: int, size: int = 1):
        super().__init__(f"guest address {address:#x} (+{size}) is not mapped for this access")
        self.address = address
        self.size = size


class GuestTimeout(Exception):
    """--timeout elapsed while the guest ran or waited in a system call."""


# -- untrusted text in messages ----------------------------------------------
# File names and strings from images (PT_INTERP) come from whoever wrote the
# guest. Printed raw they could move the cursor, recolour or clear a
# terminal, or split one message into several lines.

def _unsafe(ch: str) -> bool:
    code = ord(ch)
    return (code < 0x20 or 0x7F <= code < 0xA0 or 0xDC80 <= code <= 0xDCFF
            or code in (0x2028, 0x2029, 0xFEFF) or 0x200B <= code <= 0x200F
            or 0x202A <= code <= 0x202E or 0x2066 <= code <= 0x2069
            or 0xD800 <= code <= 0xDFFF)


def _escape(ch: str) -> str:
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:            # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def shown(value) -> str:
    """An untrusted name (str, bytes or path) as text safe to print on one
    line: control and invisible-formatting characters and bytes that are not
    UTF-8 become \\xNN / \\uNNNN escapes, and a backslash is doubled, so the
    escapes cannot be forged."""
    if isinstance(value, (bytes, bytearray)):
        text = bytes(value).decode("utf-8", errors="surrogateescape")
    else:
        text = str(value)           # str and os.PathLike (fsdecoded: surrogateescape)
    return "".join("\\\\" if ch == "\\" else _escape(ch) if _unsafe(ch) else ch
                   for ch in text)


def one_line(message: str) -> str:
    """A whole message made safe to print: every unsafe character escaped
    (backslashes are left alone: names in it went through shown())."""
    return "".join(_escape(ch) if _unsafe(ch) else ch for ch in message)
