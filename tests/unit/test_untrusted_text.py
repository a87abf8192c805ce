"""Untrusted strings (issue 20, finding 7): file names and the PT_INTERP
path reach the terminal escaped, on one line."""
import struct

import pytest

from tests.helpers import run_xemu
from tests.unit.test_bad_images import ARM, PT_INTERP, PT_LOAD, phdrs
from xemu.errors import one_line, shown


@pytest.mark.parametrize("value,expected", [
    ("plain/name", "plain/name"),
    ("ünïcode ok", "ünïcode ok"),
    (b"\x1b[2J\x1b]0;pwned\x07", "\\x1b[2J\\x1b]0;pwned\\x07"),
    (b"two\nlines\r", "two\\x0alines\\x0d"),
    (b"not utf-8 \xff\xfe", "not utf-8 \\xff\\xfe"),
    ("a\u202eb\u2028c", "a\\u202eb\\u2028c"),             # bidi override, line separator
    ("back\\x1b", "back\\\\x1b"),                         # an escape cannot be forged
    ("\x9b31m", "\\x9b31m"),                              # C1 CSI
])
def test_shown(value, expected):
    assert shown(value) == expected


def test_one_line_leaves_backslashes_of_shown_names():
    name = shown(b"a\x1b")
    assert one_line(f"error: {name}\n") == "error: a\\x1b\\x0a"


def interpreter_named(name: bytes) -> bytes:
    """The ARM test binary with a PT_INTERP naming `name`, appended to the file."""
    data = bytearray(ARM) + name + b"\0"
    offset, _ = next(p for p in phdrs(ARM) if p[1][0] != PT_LOAD)
    struct.pack_into("<8I", data, offset, PT_INTERP, len(ARM), 0, 0, len(name) + 1,
                     len(name) + 1, 4, 1)
    return bytes(data)


def test_hostile_interpreter_is_printed_escaped(tmp_path):
    path = tmp_path / "bad.elf"
    path.write_bytes(interpreter_named(b"/lib/\x1b[31mred\x1b[0m\nxemu: fake line\xff"))
    result = run_xemu("run", str(path), timeout=30)
    text = result.stderr.decode()
    assert result.returncode == 2, text
    assert text.count("\n") == 1 and "\x1b" not in text, text
    assert "/lib/\\x1b[31mred\\x1b[0m\\x0axemu: fake line\\xff" in text


def test_hostile_file_name_is_printed_escaped(tmp_path):
    path = tmp_path / "evil\x1b]2;title\x07\nname"
    path.write_bytes(b"")
    result = run_xemu("run", str(path), timeout=30)
    text = result.stderr.decode()
    assert result.returncode == 2
    assert text.count("\n") == 1 and "\x1b" not in text and "\x07" not in text, text
    assert "evil\\x1b]2;title\\x07\\x0aname is empty" in text
