"""ioctl: the terminal, file and network-interface requests programs make,
each translated.

A guest's request number is looked up by name in its arch's table
(LinuxABI.ioctls); the host then gets its own number for that name and
arguments in its own layout. A number not in the table is refused with
ENOTTY, as Linux refuses a request no driver knows: no guest request
reaches the host untranslated.
"""
from __future__ import annotations

import ctypes
import errno
import fcntl as host_fcntl
import os
import struct
from typing import Callable

from ...archs.ioctls import GENERIC_IOCTLS as HOST
from ..process import OpenFile, Process
from ..terminal import to_guest, to_host
from .fs import open_flags_to_host
from .registry import syscall

# struct termios2 on the host (x86-64): flags, c_line, c_cc[19], speeds
HOST_TERMIOS2 = struct.Struct("=4IB19s2I")
TERMIOS_FIELDS = ("c_iflag", "c_oflag", "c_cflag", "c_lflag", "c_line", "c_cc",
                  "c_ispeed", "c_ospeed")
WINSIZE = struct.Struct("=4H")
INT = struct.Struct("=i")


def _host_termios(host: int) -> dict:
    raw = host_fcntl.ioctl(host, HOST["TCGETS2"], bytes(HOST_TERMIOS2.size))
    return dict(zip(TERMIOS_FIELDS, HOST_TERMIOS2.unpack(raw)))


def _get_termios(layout: str) -> Callable:
    def get(p: Process, entry: OpenFile, arg: int) -> int:
        fields = to_guest(_host_termios(entry.host_fd), p.spec.linux.termbits)
        names = p.layout(layout).names
        p.write_struct(arg, layout, **{k: v for k, v in fields.items() if k in names})
        return 0
    return get


def _set_termios(layout: str, host_request: str) -> Callable:
    def set_(p: Process, entry: OpenFile, arg: int) -> int:
        fields = _host_termios(entry.host_fd)       # the speeds, if the layout lacks them
        fields.update(p.read_struct(arg, layout))
        fields = to_host(fields, p.spec.linux.termbits)
        raw = HOST_TERMIOS2.pack(*(fields[name] for name in TERMIOS_FIELDS))
        host_fcntl.ioctl(entry.host_fd, HOST[host_request], raw)
        return 0
    return set_


def _int_out(host_request: str) -> Callable:
    """A request that fills an int (FIONREAD, TIOCGPGRP, TIOCGPTN...)."""
    def get(p: Process, entry: OpenFile, arg: int) -> int:
        raw = host_fcntl.ioctl(entry.host_fd, HOST[host_request], bytes(INT.size))
        p.write_int(arg, INT.unpack(raw)[0])
        return 0
    return get


def _int_in(host_request: str) -> Callable:
    """A request that reads an int the guest points at (TIOCSPGRP, FIONBIO...)."""
    def set_(p: Process, entry: OpenFile, arg: int) -> int:
        value = p.read_int(arg)
        host_fcntl.ioctl(entry.host_fd, HOST[host_request], INT.pack(value))
        return 0
    return set_


def _int_value(host_request: str) -> Callable:
    """A request whose argument is the value itself (TCFLSH, TCSBRK...)."""
    def call(p: Process, entry: OpenFile, arg: int) -> int:
        return host_fcntl.ioctl(entry.host_fd, HOST[host_request], p.int32(arg))
    return call


def _no_argument(host_request: str) -> Callable:
    def call(p: Process, entry: OpenFile, arg: int) -> int:
        return host_fcntl.ioctl(entry.host_fd, HOST[host_request], 0)
    return call


def _get_winsize(p: Process, entry: OpenFile, arg: int) -> int:
    raw = host_fcntl.ioctl(entry.host_fd, HOST["TIOCGWINSZ"], bytes(WINSIZE.size))
    rows, cols, xpixel, ypixel = WINSIZE.unpack(raw)
    p.write_struct(arg, "winsize", ws_row=rows, ws_col=cols, ws_xpixel=xpixel,
                   ws_ypixel=ypixel)
    return 0


def _set_winsize(p: Process, entry: OpenFile, arg: int) -> int:
    size = p.read_struct(arg, "winsize")
    raw = WINSIZE.pack(size["ws_row"], size["ws_col"], size["ws_xpixel"], size["ws_ypixel"])
    host_fcntl.ioctl(entry.host_fd, HOST["TIOCSWINSZ"], raw)
    return 0


# struct ifreq: a name, then a union of 16 bytes (24 with a 64-bit word,
# whose struct ifmap has longs); the host's is 40 bytes.
IFNAMSIZ = 16
HOST_IFREQ = 40


def _ifreq_size(p: Process) -> int:
    return IFNAMSIZ + (24 if p.spec.bits == 64 else 16)


def _interface(host_request: str, value: str) -> Callable:
    """An SIOCGIF* request: the interface named (or, for SIOCGIFNAME,
    numbered) in the guest's ifreq; the answer, an int, a short or a
    sockaddr (whose family is a host-order u16), goes back in its order."""
    def get(p: Process, entry: OpenFile, arg: int) -> int:
        size = _ifreq_size(p)
        request = bytearray(p.mem.read(arg, size))
        host = bytearray(HOST_IFREQ)
        host[:IFNAMSIZ] = request[:IFNAMSIZ]
        if value == "name":
            index = struct.unpack_from(p.spec.endian + "i", request, IFNAMSIZ)[0]
            struct.pack_into("=i", host, IFNAMSIZ, index)
        answer = bytearray(host_fcntl.ioctl(entry.host_fd, HOST[host_request], bytes(host)))
        out = bytearray(request)
        if value == "name":
            out[:IFNAMSIZ] = answer[:IFNAMSIZ]
        else:
            out[IFNAMSIZ:size] = _union_to_guest(p, answer[IFNAMSIZ:], value)[:size - IFNAMSIZ]
        p.mem.write(arg, bytes(out))
        return 0
    return get


def _union_to_guest(p: Process, union: bytes, value: str) -> bytes:
    code = {"int": "i", "short": "h", "address": "H"}[value]
    number = struct.unpack_from("=" + code, union)[0]
    turned = struct.pack(p.spec.endian + code, number)
    return turned + union[len(turned):]


def _interfaces(p: Process, entry: OpenFile, arg: int) -> int:
    """SIOCGIFCONF: struct ifconf {int length; a pointer to ifreqs}, each an
    interface's name and IPv4 address."""
    word = p.spec.word_size
    length = p.read_int(arg)
    buffer = p.read_word(arg + word)
    size = _ifreq_size(p)
    room = max(length, 0) // size if buffer else 0
    host_buffer = ctypes.create_string_buffer(room * HOST_IFREQ) if room else None
    host_conf = struct.pack("=iiQ", room * HOST_IFREQ, 0,
                            ctypes.addressof(host_buffer) if room else 0)
    answer = host_fcntl.ioctl(entry.host_fd, HOST["SIOCGIFCONF"], host_conf)
    count = struct.unpack_from("=i", answer)[0] // HOST_IFREQ
    if room:
        records = b""
        for i in range(count):
            record = host_buffer.raw[i * HOST_IFREQ:(i + 1) * HOST_IFREQ]
            union = _union_to_guest(p, record[IFNAMSIZ:], "address")
            records += (record[:IFNAMSIZ] + union)[:size]
        p.mem.write(buffer, records)
    p.write_int(arg, count * size)
    return 0


def _close_on_exec(flag: bool) -> Callable:
    def call(p: Process, entry: OpenFile, arg: int) -> int:
        entry.cloexec = flag        # the guest's flag: xemu's own fds stay as they are
        return 0
    return call


def _peer(p: Process, entry: OpenFile, arg: int) -> int:
    """TIOCGPTPEER: the slave of a pseudo-terminal master, as a new fd."""
    flags = open_flags_to_host(p.spec, p.int32(arg))
    host = host_fcntl.ioctl(entry.host_fd, HOST["TIOCGPTPEER"], flags | os.O_CLOEXEC)
    return p.fds.add(host, cloexec=bool(flags & os.O_CLOEXEC))


REQUESTS: dict[str, Callable[[Process, OpenFile, int], int]] = {
    "TCGETS": _get_termios("termios"),
    "TCSETS": _set_termios("termios", "TCSETS2"),
    "TCSETSW": _set_termios("termios", "TCSETSW2"),
    "TCSETSF": _set_termios("termios", "TCSETSF2"),
    "TCGETS2": _get_termios("termios2"),
    "TCSETS2": _set_termios("termios2", "TCSETS2"),
    "TCSETSW2": _set_termios("termios2", "TCSETSW2"),
    "TCSETSF2": _set_termios("termios2", "TCSETSF2"),
    "TIOCGWINSZ": _get_winsize,
    "TIOCSWINSZ": _set_winsize,
    "TIOCGPGRP": _int_out("TIOCGPGRP"),
    "TIOCSPGRP": _int_in("TIOCSPGRP"),
    "TIOCGSID": _int_out("TIOCGSID"),
    "TIOCOUTQ": _int_out("TIOCOUTQ"),
    "FIONREAD": _int_out("FIONREAD"),
    "TIOCGPTN": _int_out("TIOCGPTN"),
    "TIOCSPTLCK": _int_in("TIOCSPTLCK"),
    "FIONBIO": _int_in("FIONBIO"),
    "FIOASYNC": _int_in("FIOASYNC"),
    "TCFLSH": _int_value("TCFLSH"),
    "TCXONC": _int_value("TCXONC"),
    "TCSBRK": _int_value("TCSBRK"),
    "TCSBRKP": _int_value("TCSBRKP"),
    "TIOCSCTTY": _int_value("TIOCSCTTY"),
    "TIOCNOTTY": _no_argument("TIOCNOTTY"),
    "TIOCEXCL": _no_argument("TIOCEXCL"),
    "TIOCNXCL": _no_argument("TIOCNXCL"),
    "FIOCLEX": _close_on_exec(True),
    "FIONCLEX": _close_on_exec(False),
    "TIOCGPTPEER": _peer,
    "SIOCGIFCONF": _interfaces,
    "SIOCGIFNAME": _interface("SIOCGIFNAME", "name"),
    "SIOCGIFINDEX": _interface("SIOCGIFINDEX", "int"),
    "SIOCGIFMTU": _interface("SIOCGIFMTU", "int"),
    "SIOCGIFMETRIC": _interface("SIOCGIFMETRIC", "int"),
    "SIOCGIFTXQLEN": _interface("SIOCGIFTXQLEN", "int"),
    "SIOCGIFFLAGS": _interface("SIOCGIFFLAGS", "short"),
    **{name: _interface(name, "address") for name in (
        "SIOCGIFADDR", "SIOCGIFDSTADDR", "SIOCGIFBRDADDR", "SIOCGIFNETMASK", "SIOCGIFHWADDR")},
}


@syscall("ioctl")
def ioctl(p: Process, fd: int, request: int, arg: int) -> int:
    entry = p.fds.get(p.int32(fd))
    name = p.spec.linux.ioctl_names.get(request & 0xFFFFFFFF)
    if name is None:
        return -errno.ENOTTY
    return REQUESTS[name](p, entry, arg)
