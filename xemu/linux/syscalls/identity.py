"""Who the process is: user and group ids, supplementary groups,
capabilities, and the kernel's 16-bit forms of the id calls.

The guest's ids are xemu's own (one host process per guest process), so
each call is the host's, checked and translated; setuid in the guest
changes xemu's credentials as it would the program's.

ARM and i386 kept Linux's first, 16-bit uid_t: their tables' `getuid`,
`chown`, `getgroups`... are the kernel's *16 entry points (kernel/uid16.c,
named in each arch's syscall_entry_points), and the `*32` calls are the
plain ones. A 16-bit id of -1 (0xffff) means "leave it", and an id above
65535 reads as the overflow id 65534.
"""
from __future__ import annotations

import ctypes
import errno
import os
import struct

from ..process import Process
from .hostlibc import LIBC, host_syscall
from .registry import host_fact, syscall

NO_CHANGE16 = 0xFFFF
OVERFLOW_ID = 65534                      # /proc/sys/kernel/overflowuid
NGROUPS_MAX = 65536
CAP_VERSIONS = {0x19980330: 1, 0x20071026: 2, 0x20080522: 2}   # -> data structs
CAP_VERSION_3 = 0x20080522


def high(value: int) -> int:
    """A 16-bit id as the 32-bit one it stands for (-1 stays -1)."""
    value &= 0xFFFF
    return -1 if value == NO_CHANGE16 else value


def low(value: int) -> int:
    """A 32-bit id as a 16-bit call reports it."""
    return OVERFLOW_ID if value > 0xFFFF else value


def host_id(p: Process, value: int) -> int:
    """A 32-bit id argument: -1 (no change) as the host call wants it."""
    value = p.int32(value)
    return -1 if value == -1 else value & 0xFFFFFFFF


# -- reading ids ------------------------------------------------------------

IDS = {"getuid": os.getuid, "geteuid": os.geteuid, "getgid": os.getgid,
       "getegid": os.getegid}


def _reader(read, narrow):
    def handler(p: Process) -> int:
        return narrow(read())
    return handler


for _name, _read in IDS.items():
    syscall(_name, in_machine=host_fact(_name))(_reader(_read, lambda value: value))
    syscall(_name + "16", in_machine=host_fact(_name, limit=0xFFFF, overflow=OVERFLOW_ID))(
        _reader(_read, low))


@syscall("getresuid")
def getresuid(p: Process, ruid: int, euid: int, suid: int) -> int:
    return _write_ids(p, (ruid, euid, suid), os.getresuid(), "I")


@syscall("getresgid")
def getresgid(p: Process, rgid: int, egid: int, sgid: int) -> int:
    return _write_ids(p, (rgid, egid, sgid), os.getresgid(), "I")


@syscall("getresuid16")
def getresuid16(p: Process, ruid: int, euid: int, suid: int) -> int:
    return _write_ids(p, (ruid, euid, suid), [low(i) for i in os.getresuid()], "H")


@syscall("getresgid16")
def getresgid16(p: Process, rgid: int, egid: int, sgid: int) -> int:
    return _write_ids(p, (rgid, egid, sgid), [low(i) for i in os.getresgid()], "H")


def _write_ids(p: Process, addresses, values, code: str) -> int:
    for address, value in zip(addresses, values, strict=True):
        p.mem.write(address, struct.pack(p.spec.endian + code, value))
    return 0


# -- changing ids -----------------------------------------------------------

def _set(call, count: int, widen):
    """A handler of `count` id arguments (the dispatcher passes as many
    registers as the handler names parameters)."""
    def one(p: Process, a: int) -> int:
        call(widen(p, a))
        return 0

    def two(p: Process, a: int, b: int) -> int:
        call(widen(p, a), widen(p, b))
        return 0

    def three(p: Process, a: int, b: int, c: int) -> int:
        call(widen(p, a), widen(p, b), widen(p, c))
        return 0
    return (one, two, three)[count - 1]


SETTERS = {   # name: (host call, number of ids)
    "setuid": (os.setuid, 1), "setgid": (os.setgid, 1),
    "setreuid": (os.setreuid, 2), "setregid": (os.setregid, 2),
    "setresuid": (os.setresuid, 3), "setresgid": (os.setresgid, 3),
}

for _name, (_call, _count) in SETTERS.items():
    syscall(_name)(_set(_call, _count, host_id))
    syscall(_name + "16")(_set(_call, _count, lambda p, value: high(value)))


syscall("setfsuid")(lambda p, value: LIBC.setfsuid(ctypes.c_uint(host_id(p, value))))
syscall("setfsgid")(lambda p, value: LIBC.setfsgid(ctypes.c_uint(host_id(p, value))))
syscall("setfsuid16")(lambda p, value: low(LIBC.setfsuid(ctypes.c_uint(high(value)))))
syscall("setfsgid16")(lambda p, value: low(LIBC.setfsgid(ctypes.c_uint(high(value)))))


# -- supplementary groups ----------------------------------------------------

@syscall("getgroups")
def getgroups(p: Process, size: int, address: int) -> int:
    return _get_groups(p, size, address, "I", lambda g: g)


@syscall("getgroups16")
def getgroups16(p: Process, size: int, address: int) -> int:
    return _get_groups(p, size, address, "H", low)


def _get_groups(p: Process, size: int, address: int, code: str, narrow) -> int:
    size = p.int32(size)
    if size < 0:
        return -errno.EINVAL
    groups = os.getgroups()
    if size == 0:
        return len(groups)
    if size < len(groups):
        return -errno.EINVAL
    p.mem.write(address, struct.pack(f"{p.spec.endian}{len(groups)}{code}",
                                     *(narrow(g) for g in groups)))
    return len(groups)


@syscall("setgroups")
def setgroups(p: Process, size: int, address: int) -> int:
    return _set_groups(p, size, address, "I", lambda g: g)


@syscall("setgroups16")
def setgroups16(p: Process, size: int, address: int) -> int:
    return _set_groups(p, size, address, "H", high)


def _set_groups(p: Process, size: int, address: int, code: str, widen) -> int:
    size = p.int32(size)
    if not 0 <= size <= NGROUPS_MAX:
        return -errno.EINVAL
    width = struct.calcsize(code)
    raw = p.mem.read(address, size * width) if size else b""
    os.setgroups([widen(g) for g in struct.unpack(f"{p.spec.endian}{size}{code}", raw)])
    return 0


# -- capabilities -----------------------------------------------------------

@syscall("capget")
def capget(p: Process, header: int, data: int) -> int:
    return _capabilities(p, "capget", header, data)


@syscall("capset")
def capset(p: Process, header: int, data: int) -> int:
    return _capabilities(p, "capset", header, data)


def _capabilities(p: Process, name: str, header: int, data: int) -> int:
    """capget/capset through the host's: the header (version, pid) and the
    data (effective, permitted, inheritable per 32 capabilities) are u32s
    in the guest's byte order. An unknown version is answered as Linux
    does: EINVAL, with the version it prefers written back."""
    code = p.spec.endian + "Ii"
    version, pid = struct.unpack(code, p.mem.read(header, 8))
    entries = CAP_VERSIONS.get(version)
    if entries is None:
        p.mem.write(header, struct.pack(code, CAP_VERSION_3, pid))
        return -errno.EINVAL if data or name == "capset" else 0
    host_header = (ctypes.c_uint32 * 2)(version, pid & 0xFFFFFFFF)
    host_data = (ctypes.c_uint32 * (3 * entries))()
    if name == "capset":
        host_data[:] = struct.unpack(f"{p.spec.endian}{3 * entries}I",
                                     p.mem.read(data, 12 * entries))
    host_syscall(name, host_header, host_data if data or name == "capset" else None)
    if name == "capget" and data:
        p.mem.write(data, struct.pack(f"{p.spec.endian}{3 * entries}I", *host_data))
    return 0
