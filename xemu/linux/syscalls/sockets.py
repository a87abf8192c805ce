"""Sockets on the host's own, with every argument translated.

- Addresses: sa_family is a u16 in the guest's byte order; the rest of an
  AF_INET/AF_INET6 address is in network order already (only IPv6's
  scope id is the host's), AF_NETLINK's pid and groups are host-order
  u32s, AF_UNIX names a path, resolved inside --rootfs as every path is.
- Messages: msghdr, mmsghdr and cmsghdr in the guest's word size; SCM_RIGHTS
  carries guest descriptor numbers, turned into the host's on the way out
  and installed in the guest's table on the way in; SCM_CREDENTIALS is
  three u32s.
- Options: SOL_SOCKET option numbers are the arch's (PowerPC moves six,
  LinuxABI.socket_options); timeval-valued ones take the guest's timeval,
  linger and ucred their u32 pairs and triples, 4-byte values are ints.
- A call that would block waits in wait_for between non-blocking tries, so
  a signal interrupts it, other guest threads run, and SO_RCVTIMEO and
  SO_SNDTIMEO still end it with EAGAIN.
- Families: AF_UNIX, AF_INET, AF_INET6 and AF_NETLINK, whose addresses
  xemu translates; any other is EAFNOSUPPORT. A guest of the other byte
  order than the host gets NETLINK_ROUTE messages turned (linux/netlink.py)
  and text-only NETLINK_KOBJECT_UEVENT; other netlink protocols are refused.
- i386 (and any arch's libc that wants it) reaches them through socketcall.
"""
from __future__ import annotations

import contextlib
import ctypes
import errno
import inspect
import os
import select
import struct
import sys
import time
from collections.abc import Iterator

from .. import netlink
from ..process import Process
from ..signals import ERESTARTSYS, is_nonblocking, wait_for
from ..thread import Thread
from .hostlibc import LIBC, checked
from .fs import guest_iovecs
from .registry import HANDLERS, syscall

AF_UNIX, AF_INET, AF_INET6, AF_NETLINK = 1, 2, 10, 16
FAMILIES = (AF_UNIX, AF_INET, AF_INET6, AF_NETLINK)
NETLINK_ROUTE, NETLINK_KOBJECT_UEVENT = 0, 15
HOST_BIG_ENDIAN = sys.byteorder == "big"
SOCK_NONBLOCK, SOCK_CLOEXEC = os.O_NONBLOCK, os.O_CLOEXEC
SOCK_TYPE_MASK = 0xF
SOL_SOCKET = 1
SCM_RIGHTS, SCM_CREDENTIALS = 1, 2
MSG_DONTWAIT, MSG_CMSG_CLOEXEC, MSG_CTRUNC = 0x40, 0x40000000, 0x8
# the host's (asm-generic) numbers of the SOL_SOCKET options xemu reads
# itself or whose timeval value it converts (linger and ucred are u32s)
SO_ERROR, SO_RCVTIMEO, SO_SNDTIMEO = 4, 20, 21
SO_RCVTIMEO_NEW, SO_SNDTIMEO_NEW = 66, 67
MAX_ADDRESS = 128                      # sizeof(struct sockaddr_storage)
MAX_OPTION = 1 << 16
MAX_CONTROL = 1 << 16
UIO_MAXIOV = 1024
UNIX_PATH_MAX = 108

ssize = ctypes.c_ssize_t


class HostIovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class HostMsghdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.POINTER(HostIovec)), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


for _name in ("sendmsg", "recvmsg"):
    getattr(LIBC, _name).restype = ssize


# -- addresses -------------------------------------------------------------------

def read_address(p: Process, address: int, length: int) -> tuple[int, bytes]:
    """(family, the rest) of a guest sockaddr; EINVAL if too short or long."""
    length = p.int32(length)
    if not 2 <= length <= MAX_ADDRESS:
        raise OSError(errno.EINVAL, "bad address length")
    raw = p.mem.read(address, length)
    return struct.unpack(p.spec.endian + "H", raw[:2])[0], raw[2:]


def _swap_u32s(body: bytes, offsets: tuple[int, ...], source: str, target: str) -> bytes:
    """Re-encode the u32s at these offsets of body (no-ops where they match)."""
    out = bytearray(body)
    for offset in offsets:
        if offset + 4 <= len(out):
            value = struct.unpack_from(source + "I", out, offset)[0]
            struct.pack_into(target + "I", out, offset, value)
    return bytes(out)


# offsets into the sockaddr after sa_family of u32s kept in host order
HOST_ORDER_FIELDS = {AF_INET6: (22,), AF_NETLINK: (2, 6)}


@contextlib.contextmanager
def host_address(p: Process, address: int, length: int) -> Iterator[bytes]:
    """The host's sockaddr for a guest one (an AF_UNIX path resolved as the
    guest's paths are: inside --rootfs through its directory's descriptor,
    held open for the call)."""
    family, body = read_address(p, address, length)
    body = _swap_u32s(body, HOST_ORDER_FIELDS.get(family, ()), p.spec.endian, "=")
    if family == AF_UNIX and p.rootfs is not None and body[:1] not in (b"", b"\0"):
        guest = p.rootfs.absolute(body.split(b"\0", 1)[0])
        parent, name = p.rootfs.parent(guest)
        try:
            path = b"/proc/self/fd/%d/%s" % (parent, name)
            if len(path) >= UNIX_PATH_MAX:
                raise OSError(errno.ENAMETOOLONG, "socket path too long")
            yield struct.pack("=H", family) + path + b"\0"
        finally:
            os.close(parent)
        return
    yield struct.pack("=H", family) + body


def guest_address(p: Process, raw: bytes) -> bytes:
    """A host sockaddr as the guest reads it."""
    if len(raw) < 2:
        return raw
    family = struct.unpack("=H", raw[:2])[0]
    body = _swap_u32s(raw[2:], HOST_ORDER_FIELDS.get(family, ()), "=", p.spec.endian)
    return struct.pack(p.spec.endian + "H", family) + body


def write_address(p: Process, raw: bytes, address: int, length_at: int) -> None:
    """The accept/getsockname/recvfrom convention: write at most *length_at
    bytes, then store the address's full length there."""
    if not address or not length_at:
        return
    code = p.spec.endian + "I"
    room = struct.unpack(code, p.mem.read(length_at, 4))[0]
    if room > 0x7FFFFFFF:
        raise OSError(errno.EINVAL, "negative address length")
    data = guest_address(p, raw)
    p.mem.write(address, data[:room])
    p.mem.write(length_at, struct.pack(code, len(data)))


# -- blocking --------------------------------------------------------------------

class WouldBlock(Exception):
    """A non-blocking try found nothing, where the guest's call would wait.
    (Not OSError(EAGAIN), which Python makes a BlockingIOError: that one is
    the guest's answer when it asked not to wait.)"""


def _timeout(host: int, option: int) -> float | None:
    """SO_RCVTIMEO/SO_SNDTIMEO of the host socket (None: none set)."""
    seconds, micros = struct.unpack("qq", socket_option(host, SOL_SOCKET, option, 16))
    return seconds + micros / 1e6 if seconds or micros else None


def socket_option(host: int, level: int, option: int, size: int) -> bytes:
    buffer = ctypes.create_string_buffer(size)
    length = ctypes.c_uint32(size)
    checked(LIBC.getsockopt(host, level, option, buffer, ctypes.byref(length)))
    return buffer.raw[:length.value]


def _ready(host: int, events: int) -> bool:
    poller = select.poll()
    poller.register(host, events)
    return bool(poller.poll(0))


def blocking(thread: Thread, host: int, events: int, attempt, timeout_option: int | None):
    """attempt() (which must not block) until it does not raise WouldBlock,
    waiting for events between tries as the kernel's call would block: a
    signal makes it -ERESTARTSYS, the socket's timeout -EAGAIN."""
    if is_nonblocking(host):
        return attempt()
    timeout = _timeout(host, timeout_option) if timeout_option else None
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            return attempt()
        except WouldBlock:
            pass
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0:
            return -errno.EAGAIN
        if wait_for(thread, [(host, events)], left) is None:
            return -ERESTARTSYS


# -- sockets ---------------------------------------------------------------------

@syscall("socket")
def socket_(p: Process, family: int, kind: int, protocol: int) -> int:
    family, kind, protocol = p.int32(family), p.int32(kind), p.int32(protocol)
    if family not in FAMILIES:
        return -errno.EAFNOSUPPORT
    turned = family == AF_NETLINK and p.spec.big_endian != HOST_BIG_ENDIAN
    if turned and protocol not in (NETLINK_ROUTE, NETLINK_KOBJECT_UEVENT):
        p.warn(f"netlink protocol {protocol} is not translated for a {p.spec.name} guest")
        return -errno.EPROTONOSUPPORT
    host = checked(LIBC.socket(family, (kind & ~SOCK_CLOEXEC) | SOCK_CLOEXEC, protocol))
    fd = p.fds.add(host, cloexec=bool(kind & SOCK_CLOEXEC))
    p.fds.get(fd).netlink = turned and protocol == NETLINK_ROUTE
    return fd


@syscall("socketpair")
def socketpair(p: Process, family: int, kind: int, protocol: int, pair: int) -> int:
    kind = p.int32(kind)
    if p.int32(family) not in FAMILIES:
        return -errno.EAFNOSUPPORT
    ends = (ctypes.c_int * 2)()
    checked(LIBC.socketpair(p.int32(family), (kind & ~SOCK_CLOEXEC) | SOCK_CLOEXEC,
                            p.int32(protocol), ends))
    cloexec = bool(kind & SOCK_CLOEXEC)
    guest = [p.fds.add(host, cloexec=cloexec) for host in ends]
    p.mem.write(pair, struct.pack(p.spec.endian + "ii", *guest))
    return 0


@syscall("bind")
def bind(p: Process, fd: int, address: int, length: int) -> int:
    entry = p.fds.get(p.int32(fd))
    with host_address(p, address, length) as raw:
        checked(LIBC.bind(entry.host_fd, raw, len(raw)))
    family, body = read_address(p, address, length)
    if family == AF_UNIX and p.rootfs is not None and body[:1] not in (b"", b"\0"):
        entry.unix_name = body.split(b"\0", 1)[0]
    return 0


@syscall("connect")
def connect(thread: Thread, fd: int, address: int, length: int) -> int:
    """A blocking connect that is in progress waits for the socket to be
    writable and answers its SO_ERROR, as the kernel's own wait does."""
    p = thread.process
    host = p.fds.host(p.int32(fd))
    with host_address(p, address, length) as raw:
        result = LIBC.connect(host, raw, len(raw))
    if result == 0:
        return 0
    error = ctypes.get_errno()
    if error != errno.EINPROGRESS or is_nonblocking(host):
        return -error
    if wait_for(thread, [(host, select.POLLOUT)], None) is None:
        return -ERESTARTSYS
    return -struct.unpack("i", socket_option(host, SOL_SOCKET, SO_ERROR, 4))[0]


@syscall("listen")
def listen(p: Process, fd: int, backlog: int) -> int:
    checked(LIBC.listen(p.fds.host(p.int32(fd)), p.int32(backlog)))
    return 0


@syscall("accept4")
def accept4(thread: Thread, fd: int, address: int, length: int, flags: int) -> int:
    p = thread.process
    host, flags = p.fds.host(p.int32(fd)), p.int32(flags)
    if flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC):
        return -errno.EINVAL
    storage = ctypes.create_string_buffer(MAX_ADDRESS)
    size = ctypes.c_uint32(MAX_ADDRESS)

    def attempt() -> int:
        # accept(2) on a blocking listener would block here, holding the
        # CPU lock: it is called only once poll says a connection waits.
        if not is_nonblocking(host) and not _ready(host, select.POLLIN):
            raise WouldBlock
        result = LIBC.accept4(host, storage, ctypes.byref(size),
                              (flags & SOCK_NONBLOCK) | SOCK_CLOEXEC)
        if result < 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error))
        return result

    accepted = blocking(thread, host, select.POLLIN, attempt, SO_RCVTIMEO)
    if accepted < 0:
        return accepted
    write_address(p, storage.raw[:size.value], address, length)
    return p.fds.add(accepted, cloexec=bool(flags & SOCK_CLOEXEC))


@syscall("accept")
def accept(thread: Thread, fd: int, address: int, length: int) -> int:
    return accept4(thread, fd, address, length, 0)


def _name(call, own: bool):
    def handler(p: Process, fd: int, address: int, length: int) -> int:
        entry = p.fds.get(p.int32(fd))
        storage = ctypes.create_string_buffer(MAX_ADDRESS)
        size = ctypes.c_uint32(MAX_ADDRESS)
        checked(call(entry.host_fd, storage, ctypes.byref(size)))
        raw = storage.raw[:size.value]
        if own and entry.unix_name is not None:
            raw = struct.pack("=H", AF_UNIX) + entry.unix_name + b"\0"
        write_address(p, raw, address, length)
        return 0
    return handler


syscall("getsockname")(_name(LIBC.getsockname, own=True))
syscall("getpeername")(_name(LIBC.getpeername, own=False))


@syscall("shutdown")
def shutdown(p: Process, fd: int, how: int) -> int:
    checked(LIBC.shutdown(p.fds.host(p.int32(fd)), p.int32(how)))
    return 0


# -- options ---------------------------------------------------------------------

def _option(p: Process, level: int, option: int) -> tuple[int, int]:
    level, option = p.int32(level), p.int32(option)
    if level == SOL_SOCKET:
        option = p.spec.linux.socket_options.get(option, option)
    return level, option


def _option_to_host(p: Process, level: int, option: int, data: bytes) -> bytes:
    if level == SOL_SOCKET and option in (SO_RCVTIMEO, SO_SNDTIMEO):
        fields = p.layout("timeval").unpack(data)
        return struct.pack("qq", fields["tv_sec"], fields["tv_usec"])
    if level == SOL_SOCKET and option in (SO_RCVTIMEO_NEW, SO_SNDTIMEO_NEW):
        return struct.pack("=qq", *struct.unpack(p.spec.endian + "qq", data[:16]))
    if len(data) % 4 == 0 and len(data) <= 12:          # ints, linger, ucred
        count = len(data) // 4
        return struct.pack(f"={count}I", *struct.unpack(f"{p.spec.endian}{count}I", data))
    return data


def _option_to_guest(p: Process, level: int, option: int, data: bytes) -> bytes:
    if level == SOL_SOCKET and option in (SO_RCVTIMEO, SO_SNDTIMEO):
        seconds, micros = struct.unpack("qq", data[:16])
        return p.layout("timeval").pack(tv_sec=seconds, tv_usec=micros)
    if level == SOL_SOCKET and option in (SO_RCVTIMEO_NEW, SO_SNDTIMEO_NEW):
        return struct.pack(p.spec.endian + "qq", *struct.unpack("=qq", data[:16]))
    if len(data) % 4 == 0 and len(data) <= 12:
        count = len(data) // 4
        return struct.pack(f"{p.spec.endian}{count}I", *struct.unpack(f"={count}I", data))
    return data


@syscall("setsockopt")
def setsockopt(p: Process, fd: int, level: int, option: int, value: int, length: int) -> int:
    length = p.int32(length)
    if not 0 <= length <= MAX_OPTION:
        return -errno.EINVAL
    level, option = _option(p, level, option)
    data = _option_to_host(p, level, option, p.mem.read(value, length) if length else b"")
    checked(LIBC.setsockopt(p.fds.host(p.int32(fd)), level, option, data, len(data)))
    return 0


@syscall("getsockopt")
def getsockopt(p: Process, fd: int, level: int, option: int, value: int, length_at: int) -> int:
    code = p.spec.endian + "i"
    room = struct.unpack(code, p.mem.read(length_at, 4))[0]
    if room < 0:
        return -errno.EINVAL
    level, option = _option(p, level, option)
    raw = socket_option(p.fds.host(p.int32(fd)), level, option, max(16, min(room * 2, MAX_OPTION)))
    data = _option_to_guest(p, level, option, raw)[:room]
    p.mem.write(value, data)
    p.mem.write(length_at, struct.pack(code, len(data)))
    return 0


# -- messages --------------------------------------------------------------------

def _host_iovecs(views: list[memoryview]) -> tuple[ctypes.Array, list]:
    """A host iovec array over guest memory (the views are kept alive)."""
    array = (HostIovec * max(1, len(views)))()
    kept = []
    for i, view in enumerate(views):
        buffer = (ctypes.c_char * len(view)).from_buffer(view)
        kept.append(buffer)
        array[i] = HostIovec(ctypes.addressof(buffer), len(view))
    return array, kept


def _word(p: Process) -> int:
    return p.spec.word_size


def _align(p: Process, size: int) -> int:
    word = _word(p)
    return (size + word - 1) & ~(word - 1)


def _control_to_host(p: Process, address: int, length: int) -> bytes:
    """A guest control buffer as the host's cmsghdrs."""
    if not address or not length:
        return b""
    if length > MAX_CONTROL:
        raise OSError(errno.ENOBUFS, "control buffer too large")
    raw = p.mem.read(address, length)
    header = p.layout("cmsghdr")
    out, at = b"", 0
    while at + header.size <= len(raw):
        fields = header.unpack(raw[at:])
        size = fields["cmsg_len"]
        if size < header.size or at + size > len(raw):
            raise OSError(errno.EINVAL, "bad cmsg_len")
        data = raw[at + header.size:at + size]
        level, kind = fields["cmsg_level"], fields["cmsg_type"]
        if level == SOL_SOCKET and kind == SCM_RIGHTS:
            numbers = struct.unpack(f"{p.spec.endian}{len(data) // 4}i", data[:len(data) // 4 * 4])
            data = struct.pack(f"={len(numbers)}i", *(p.fds.host(n) for n in numbers))
        elif level == SOL_SOCKET and kind == SCM_CREDENTIALS:
            data = struct.pack("=3I", *struct.unpack(p.spec.endian + "3I", data[:12]))
        out += struct.pack("=Qii", 16 + len(data), level, kind) + data
        out += bytes(-len(out) % 8)
        at += _align(p, size)
    return out


def _control_to_guest(p: Process, raw: bytes, room: int, cloexec: bool) -> tuple[bytes, bool]:
    """Host cmsghdrs as the guest's, within room bytes: (bytes, truncated).
    Descriptors received join the guest's table (or close if cut off)."""
    header = p.layout("cmsghdr")
    out, at, truncated = b"", 0, False
    while at + 16 <= len(raw):
        size, level, kind = struct.unpack_from("=Qii", raw, at)
        data = raw[at + 16:at + size]
        at += (size + 7) & ~7
        if level == SOL_SOCKET and kind == SCM_RIGHTS:
            hosts = struct.unpack(f"={len(data) // 4}i", data)
            fits = max(0, (room - len(out) - header.size) // 4)
            for extra in hosts[fits:]:
                os.close(extra)
            truncated = truncated or len(hosts) > fits
            numbers = [p.fds.add(h, cloexec=cloexec) for h in hosts[:fits]]
            data = struct.pack(f"{p.spec.endian}{len(numbers)}i", *numbers)
        elif level == SOL_SOCKET and kind == SCM_CREDENTIALS:
            data = struct.pack(p.spec.endian + "3I", *struct.unpack("=3I", data[:12]))
        entry = header.pack(cmsg_len=header.size + len(data), cmsg_level=level,
                            cmsg_type=kind) + data
        entry += bytes(-len(entry) % _word(p))
        if len(out) + header.size + len(data) > room:
            truncated = True
            break
        out += entry
    return out[:room], truncated


def _send(thread: Thread, fd: int, views: list[memoryview], flags: int, name: bytes = b"",
          control: bytes = b"") -> int:
    p = thread.process
    entry = p.fds.get(p.int32(fd))
    host = entry.host_fd
    if entry.netlink:       # the host reads netlink headers in its own byte order
        data = bytearray(b"".join(views))
        netlink.turn(data, len(data), from_host=False)
        views = [memoryview(data)]
    iov, kept = _host_iovecs(views)
    name_buffer = ctypes.create_string_buffer(name, len(name)) if name else None
    control_buffer = ctypes.create_string_buffer(control, len(control)) if control else None
    message = HostMsghdr(ctypes.cast(name_buffer, ctypes.c_void_p) if name else None,
                         len(name), iov, len(views),
                         ctypes.cast(control_buffer, ctypes.c_void_p) if control else None,
                         len(control), 0)
    flags = p.int32(flags)

    def attempt() -> int:
        result = LIBC.sendmsg(host, ctypes.byref(message), flags | _dontwait(host, flags))
        return _result(result, host, flags)
    return blocking(thread, host, select.POLLOUT, attempt, SO_SNDTIMEO)


MAX_CONTROL = 1 << 16


def _receive(thread: Thread, fd: int, views: list[memoryview], flags: int,
             name_room: int = 0, control_room: int = 0) -> tuple[int, bytes, bytes, int]:
    """(count or -errno, the sender's address, host control bytes, msg_flags)."""
    p = thread.process
    entry = p.fds.get(p.int32(fd))
    host = entry.host_fd
    iov, kept = _host_iovecs(views)
    name_buffer = ctypes.create_string_buffer(MAX_ADDRESS)
    # host cmsgs are at most twice the guest's (a 32-bit guest's headers are
    # smaller); bounded as the kernel's optmem_max bounds what it queues,
    # so a huge msg_controllen cannot make xemu allocate it
    control_size = min(2 * control_room + 64, MAX_CONTROL) if control_room else 0
    control_buffer = ctypes.create_string_buffer(control_size) if control_size else None
    message = HostMsghdr(ctypes.cast(name_buffer, ctypes.c_void_p), MAX_ADDRESS, iov,
                         len(views),
                         ctypes.cast(control_buffer, ctypes.c_void_p) if control_size else None,
                         control_size, 0)
    flags = p.int32(flags) & ~MSG_CMSG_CLOEXEC

    def attempt() -> int:
        message.namelen, message.controllen = MAX_ADDRESS, control_size
        result = LIBC.recvmsg(host, ctypes.byref(message), flags | _dontwait(host, flags))
        return _result(result, host, flags)
    count = blocking(thread, host, select.POLLIN, attempt, SO_RCVTIMEO)
    if count < 0:
        return count, b"", b"", 0
    if entry.netlink:
        _turn_received(views, count)
    control = control_buffer.raw[:message.controllen] if control_size else b""
    return count, name_buffer.raw[:message.namelen], control, message.flags


def _turn_received(views: list[memoryview], count: int) -> None:
    """Netlink messages the host wrote into guest memory, in the guest's order."""
    data = bytearray(b"".join(views))
    netlink.turn(data, min(count, len(data)), from_host=True)
    at = 0
    for view in views:
        view[:] = data[at:at + len(view)]
        at += len(view)


def _dontwait(host: int, flags: int) -> int:
    return 0 if is_nonblocking(host) else MSG_DONTWAIT


def _result(result: int, host: int, flags: int) -> int:
    if result >= 0:
        return result
    error = ctypes.get_errno()
    if error == errno.EAGAIN and not is_nonblocking(host) and not flags & MSG_DONTWAIT:
        raise WouldBlock
    raise OSError(error, os.strerror(error))


@syscall("sendto")
def sendto(thread: Thread, fd: int, buf: int, length: int, flags: int, address: int,
           address_length: int) -> int:
    p = thread.process
    views = p.mem.mapped_views(buf, length)
    if not address:
        return _send(thread, fd, views, flags)
    with host_address(p, address, address_length) as name:
        return _send(thread, fd, views, flags, name)


@syscall("send")
def send(thread: Thread, fd: int, buf: int, length: int, flags: int) -> int:
    return sendto(thread, fd, buf, length, flags, 0, 0)


@syscall("recvfrom")
def recvfrom(thread: Thread, fd: int, buf: int, length: int, flags: int, address: int,
             address_length: int) -> int:
    p = thread.process
    count, name, _, _ = _receive(thread, fd, p.mem.mapped_views(buf, length, writing=True),
                                 flags)
    if count >= 0 and address:
        write_address(p, name, address, address_length)
    return count


@syscall("recv")
def recv(thread: Thread, fd: int, buf: int, length: int, flags: int) -> int:
    return recvfrom(thread, fd, buf, length, flags, 0, 0)


def _message(p: Process, header: int, receiving: bool) -> tuple[dict, list[memoryview]]:
    """A guest msghdr's fields and the guest memory its iovecs name."""
    fields = p.read_struct(header, "msghdr")
    if fields["msg_iovlen"] > UIO_MAXIOV:
        raise OSError(errno.EMSGSIZE, "too many iovecs")
    return fields, guest_iovecs(p, fields["msg_iov"], fields["msg_iovlen"], receiving)


def _sendmsg(thread: Thread, fd: int, header: int, flags: int) -> int:
    p = thread.process
    fields, views = _message(p, header, receiving=False)
    control = _control_to_host(p, fields["msg_control"], fields["msg_controllen"])
    if fields["msg_name"] and fields["msg_namelen"]:
        with host_address(p, fields["msg_name"], fields["msg_namelen"]) as name:
            return _send(thread, fd, views, flags, name, control)
    return _send(thread, fd, views, flags, b"", control)


def _recvmsg(thread: Thread, fd: int, header: int, flags: int) -> int:
    p = thread.process
    fields, views = _message(p, header, receiving=True)
    count, name, control, message_flags = _receive(
        thread, fd, views, flags, control_room=fields["msg_controllen"])
    if count < 0:
        return count
    layout = p.layout("msghdr")
    if fields["msg_name"]:
        data = guest_address(p, name)
        p.mem.write(fields["msg_name"], data[:fields["msg_namelen"]])
        fields["msg_namelen"] = len(data)
    if fields["msg_control"]:
        guest_control, truncated = _control_to_guest(
            p, control, fields["msg_controllen"], bool(p.int32(flags) & MSG_CMSG_CLOEXEC))
        p.mem.write(fields["msg_control"], guest_control)
        fields["msg_controllen"] = len(guest_control)
        message_flags |= MSG_CTRUNC if truncated else 0
    fields["msg_flags"] = message_flags
    p.mem.write(header, layout.pack(**fields))
    return count


@syscall("sendmsg")
def sendmsg(thread: Thread, fd: int, header: int, flags: int) -> int:
    return _sendmsg(thread, fd, header, flags)


@syscall("recvmsg")
def recvmsg(thread: Thread, fd: int, header: int, flags: int) -> int:
    return _recvmsg(thread, fd, header, flags)


def _each_message(thread: Thread, fd: int, vector: int, count: int, flags: int, one) -> int:
    """sendmmsg/recvmmsg: one message after another, msg_len filled in;
    the count done, or the first error if none was. (recvmmsg waits for
    the first message only, as with MSG_WAITFORONE; its timeout is not
    kept.)"""
    p = thread.process
    # struct mmsghdr { struct msghdr msg_hdr; unsigned int msg_len; }
    offset = p.layout("msghdr").size
    size = _align(p, offset + 4)
    done = 0
    for index in range(min(p.int32(count), UIO_MAXIOV)):
        entry = vector + index * size
        try:
            result = one(thread, fd, entry, flags if done == 0 or one is _sendmsg
                         else flags | MSG_DONTWAIT)
        except OSError as error:         # after the first, an error only ends the batch
            if done == 0:
                raise
            result = -(error.errno or errno.EIO)
        if result < 0:
            if done == 0:
                return result
            break
        p.mem.write(entry + offset, struct.pack(p.spec.endian + "I", result))
        done += 1
    return done


@syscall("sendmmsg")
def sendmmsg(thread: Thread, fd: int, vector: int, count: int, flags: int) -> int:
    return _each_message(thread, fd, vector, count, flags, _sendmsg)


@syscall("recvmmsg", "recvmmsg_time64")
def recvmmsg(thread: Thread, fd: int, vector: int, count: int, flags: int,
             timeout: int) -> int:
    return _each_message(thread, fd, vector, count, flags, _recvmsg)


# -- socketcall: one entry point for all of them (i386) ----------------------------

SOCKETCALL = {1: "socket", 2: "bind", 3: "connect", 4: "listen", 5: "accept",
              6: "getsockname", 7: "getpeername", 8: "socketpair", 9: "send", 10: "recv",
              11: "sendto", 12: "recvfrom", 13: "shutdown", 14: "setsockopt",
              15: "getsockopt", 16: "sendmsg", 17: "recvmsg", 18: "accept4",
              19: "recvmmsg", 20: "sendmmsg"}


@syscall("socketcall")
def socketcall(thread: Thread, call: int, arguments: int) -> int:
    """The call's arguments are words in guest memory, as many as the
    kernel's own call takes."""
    p = thread.process
    name = SOCKETCALL.get(p.int32(call))
    if name is None:
        return -errno.EINVAL
    handler = HANDLERS[name]
    parameters = list(inspect.signature(handler).parameters)
    count = len(parameters) - 1
    code = p.spec.endian + ("Q" if p.spec.bits == 64 else "I") * count
    words = struct.unpack(code, p.mem.read(arguments, count * p.spec.word_size))
    return handler(thread if parameters[0] == "thread" else p, *words)
