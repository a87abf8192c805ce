"""Bad and hostile images: one line `xemu: error: ...`, status 2, never a
traceback or a hang. Each case patches a real binary from tests/guests."""
import os
import struct
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.guests.cases import binary
from tests.helpers import run_xemu
from xemu.errors import XemuError
from xemu.linux.exec import load_image, map_segments
from xemu.machine.memory import Memory

ARM = binary("arm").read_bytes()          # ELF32, little-endian
E_MACHINE, E_ENTRY, E_PHOFF, E_PHENTSIZE, E_PHNUM = 0x12, 0x18, 0x1C, 0x2A, 0x2C
PHDR_SIZE = 32
PT_LOAD, PT_INTERP = 1, 3


def phdrs(data: bytes) -> list[tuple[int, tuple]]:
    """(offset, fields) of each program header: type, offset, vaddr, paddr,
    filesz, memsz, flags, align."""
    phoff = struct.unpack_from("<I", data, E_PHOFF)[0]
    count = struct.unpack_from("<H", data, E_PHNUM)[0]
    return [(phoff + i * PHDR_SIZE, struct.unpack_from("<8I", data, phoff + i * PHDR_SIZE))
            for i in range(count)]


def patched_load(index: int, **changes) -> bytes:
    """The ARM binary with fields of its index-th PT_LOAD changed."""
    names = ("type", "offset", "vaddr", "paddr", "filesz", "memsz", "flags", "align")
    data = bytearray(ARM)
    offset, fields = [p for p in phdrs(ARM) if p[1][0] == PT_LOAD][index]
    values = dict(zip(names, fields, strict=True), **changes)
    struct.pack_into("<8I", data, offset, *(values[n] for n in names))
    return bytes(data)


def patched(offset: int, fmt: str, value: int) -> bytes:
    data = bytearray(ARM)
    struct.pack_into(fmt, data, offset, value)
    return bytes(data)


def with_interpreter() -> bytes:
    """A PT_INTERP naming a path that does not exist."""
    data = bytearray(ARM)
    name = data.index(b"xemu-fileio.tmp\0")
    offset, fields = next(p for p in phdrs(ARM) if p[1][0] not in (PT_LOAD,))
    struct.pack_into("<8I", data, offset, PT_INTERP, name, 0, 0, 16, 16, 4, 1)
    return bytes(data)


first = [p for p in phdrs(ARM) if p[1][0] == PT_LOAD][0][1]
BAD = {
    "empty": (b"", "is empty"),
    "truncated header": (ARM[:40], "malformed"),
    "truncated segments": (ARM[:3000], "truncated"),
    "wrong magic": (b"\x7fELG" + ARM[4:], "not an ELF program"),
    "unknown machine": (patched(E_MACHINE, "<H", 0x1234), "no supported arch"),
    "class disagrees": (patched(4, "B", 2), ""),
    "endianness disagrees": (patched(5, "B", 2), ""),
    "overlapping segments": (patched_load(1, vaddr=first[2] + 0x100), "overlap"),
    "outside the address space": (patched_load(1, vaddr=0xFFF00000), "outside"),
    "file bytes beyond memory bytes": (patched_load(1, memsz=4), "more file bytes"),
    "huge memory size": (patched_load(1, memsz=0x7FFF0000), "segments ask for"),
    "entry outside code": (patched(E_ENTRY, "<I", 0x00100000), "entry point"),
    "missing interpreter": (with_interpreter(), "its loader xemu-fileio.tmp cannot be opened"),
    # e_phnum = PN_XNUM with e_phentsize 0 made the parser walk 4 billion headers
    "PN_XNUM program headers": (patched(E_PHNUM, "<H", 0xFFFF), "program headers"),
    "program headers of no size": (patched(E_PHENTSIZE, "<H", 0), "program headers"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_image_is_one_line_and_status_2(name, tmp_path):
    content, message = BAD[name]
    path = tmp_path / "bad.elf"
    path.write_bytes(content)
    result = run_xemu("run", str(path), timeout=30)
    text = result.stderr.decode()
    assert result.returncode == 2, text
    assert text.startswith("xemu: error: ") and text.count("\n") == 1, text
    assert message in text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_images_load_or_fail_cleanly(data, tmp_path_factory):
    """Random corruption of the headers, or truncation: loading either works
    or raises an XemuError (which the CLI turns into one line and status 2)."""
    image = bytearray(ARM)
    edits = data.draw(st.lists(st.tuples(st.integers(0, 0x1FF), st.integers(0, 255)),
                               min_size=1, max_size=16))
    for position, value in edits:
        image[position] = value
    if data.draw(st.booleans()):
        image = image[:data.draw(st.integers(0, len(image)))]
    path = tmp_path_factory.mktemp("fuzz") / "image"
    path.write_bytes(bytes(image))
    try:
        loaded = load_image(str(path), None)
        map_segments(Memory(), loaded)
    except XemuError:
        pass


def test_a_sparse_image_is_refused_before_its_bytes_are_read(tmp_path):
    """A segment of 2 GiB in a sparse file: refused from its headers, not
    after reading it (xemu peaked at 3.1 GB doing so)."""
    path = tmp_path / "sparse.elf"
    path.write_bytes(patched_load(1, filesz=0x7FFF0000, memsz=0x7FFF0000))
    with open(path, "r+b") as f:
        f.truncate(0x90000000)
    process = subprocess.Popen([sys.executable, "-m", "xemu", "run", str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stderr = process.stderr.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 2
    assert "segments ask for" in stderr
    assert usage.ru_maxrss < 512 * 1024           # KiB: far below the segment's size


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/stdin"])
def test_a_raw_image_must_be_a_regular_file(device):
    """A device or a pipe as a raw image would be read until the host ran out."""
    result = run_xemu("run", "--arch", "arm", device, stdin=b"\0" * 100, timeout=30)
    text = result.stderr.decode()
    assert result.returncode == 2, text
    assert "is not a regular file" in text and text.count("\n") == 1


def test_a_raw_image_over_a_boards_device_is_one_line(tmp_path):
    """The ppc virt board's test device sits inside its RAM at 1 MiB: an
    image running over it was an internal error (status 70)."""
    path = tmp_path / "big.raw"
    path.write_bytes(bytes(1_200_000))
    result = run_xemu("run", "--arch", "ppc", str(path), timeout=30)
    text = result.stderr.decode()
    assert result.returncode == 2, text
    assert "runs over a device of the virt board" in text and text.count("\n") == 1


def test_a_sparse_raw_image_is_refused_by_its_size_before_reading(tmp_path):
    """4 GiB of holes: refused from its size, nothing read (xemu read 256
    MiB of it first). Measured against a refused empty image: a child's
    peak RSS starts from its parent's."""
    def peak_kib(path) -> tuple[int, str]:
        process = subprocess.Popen([sys.executable, "-m", "xemu", "run", "--arch", "ppc",
                                    str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stderr = process.stderr.read().decode()
        _, status, usage = os.wait4(process.pid, 0)
        assert os.waitstatus_to_exitcode(status) == 2, stderr
        return usage.ru_maxrss, stderr
    sparse, empty = tmp_path / "sparse.raw", tmp_path / "empty.raw"
    with open(sparse, "wb") as f:
        f.truncate(4 << 30)
    empty.write_bytes(b"")
    baseline, _ = peak_kib(empty)
    peak, stderr = peak_kib(sparse)
    assert "larger than the 256 MiB a raw image may be" in stderr
    assert peak - baseline < 64 * 1024             # KiB: far below the 256 MiB it read
