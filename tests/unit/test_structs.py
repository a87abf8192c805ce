"""Struct layouts: the sizes and offsets the kernel uses on each arch."""
import struct

import pytest

from xemu.archs import by_name
from xemu.linux.structs import layout

# (arch, struct, size, {field: offset}) from the kernel's uapi headers
KERNEL_LAYOUTS = [
    ("i386", "stat64", 96, {"st_size": 44, "st_blocks": 56, "st_ino": 88}),
    ("arm", "stat64", 104, {"st_size": 48, "st_blocks": 64, "st_ino": 96}),
    ("ppc", "stat64", 104, {"st_ino": 8, "st_size": 48, "st_blocks": 64}),
    ("x86_64", "stat", 144, {"st_mode": 24, "st_size": 48, "st_mtime": 88}),
    ("aarch64", "stat", 128, {"st_mode": 16, "st_size": 48, "st_blocks": 64}),
    ("arm", "statx", 256, {"stx_size": 40, "stx_mtime_tv_sec": 112}),
    ("i386", "statx", 256, {"stx_size": 40, "stx_mtime_tv_sec": 112}),
    ("i386", "timespec", 8, {"tv_nsec": 4}),
    ("x86_64", "timespec", 16, {"tv_nsec": 8}),
    ("arm", "timespec64", 16, {"tv_nsec": 8}),
    ("ppc", "utsname", 390, {"machine": 260}),
    ("i386", "rlimit64", 16, {"rlim_max": 8}),
    ("aarch64", "stack_t", 24, {"ss_flags": 8, "ss_size": 16}),
    ("arm", "stack_t", 12, {"ss_size": 8}),
    ("x86_64", "sysinfo", 112, {"totalram": 32, "procs": 80, "mem_unit": 104}),
]


@pytest.mark.parametrize("arch,name,size,offsets", KERNEL_LAYOUTS,
                         ids=[f"{a}-{n}" for a, n, _, _ in KERNEL_LAYOUTS])
def test_kernel_layout(arch, name, size, offsets):
    found = layout(by_name(arch), name)
    assert found.size == size
    for field, offset in offsets.items():
        assert found.offset_of(field) == offset, field


def test_packing_follows_endianness():
    big = layout(by_name("ppc"), "timespec").pack(tv_sec=1, tv_nsec=2)
    little = layout(by_name("arm"), "timespec").pack(tv_sec=1, tv_nsec=2)
    assert big == struct.pack(">ii", 1, 2)
    assert little == struct.pack("<ii", 1, 2)


def test_values_wrap_to_the_field_width_like_c():
    packed = layout(by_name("i386"), "timespec").pack(tv_sec=-1, tv_nsec=(1 << 32) + 5)
    assert struct.unpack("<ii", packed) == (-1, 5)


def test_round_trip():
    spec = by_name("aarch64")
    fields = {"rlim_cur": 8 << 20, "rlim_max": (1 << 64) - 1}
    assert layout(spec, "rlimit").unpack(layout(spec, "rlimit").pack(**fields)) == fields
