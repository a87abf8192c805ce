"""rtnetlink messages between a guest of the other byte order and the host.

Netlink headers and most attribute values are in the host's byte order.
A big-endian guest on a little-endian host (PowerPC here) needs them
turned: the nlmsghdr, the family header of each message kind (ifinfomsg,
ifaddrmsg, rtmsg), every rtattr header, and the attribute values that are
integers, named below per attribute table (uapi/linux/if_link.h,
if_addr.h, rtnetlink.h). Addresses, names and unknown attributes are bytes
and stay as they are. The turn is its own inverse, so one function serves
both directions; lengths never change.
"""
from __future__ import annotations

import struct

NLMSG_HEADER = struct.Struct("=IHHII")      # len, type, flags, seq, pid
RTATTR = struct.Struct("=HH")               # len, type
NLA_TYPE_MASK = 0x3FFF                      # without NLA_F_NESTED, NLA_F_NET_BYTEORDER
NLMSG_ERROR, NLMSG_DONE = 2, 3

# Each value kind: the struct code of its integers ("" for bytes), or a
# nested attribute table.
U8, U16, U32, U64, RAW = "B", "H", "I", "Q", ""
U32S, U64S = "I*", "Q*"     # an array of them, as long as the attribute

INET_SPEC = {1: U32S}                                   # IFLA_INET_CONF
INET6_SPEC = {1: U32, 2: U32S, 3: U64S, 4: RAW, 5: U32S, 6: U64S, 7: RAW, 8: U8, 9: U32}
AF_SPEC = {2: INET_SPEC, 10: INET6_SPEC}                # by address family
LINKINFO = {1: RAW, 2: RAW, 3: RAW, 4: RAW, 5: RAW}     # kind, its data: driver-specific
XDP = {1: "i", 2: U8, 3: U32, 4: U32, 5: U32, 6: U32, 7: U32, 8: "i"}
LINK = {
    1: RAW, 2: RAW, 3: RAW, 4: U32, 5: U32, 6: RAW, 7: U32S, 8: RAW, 9: RAW, 10: U32,
    13: U32, 14: "QQQHBB", 15: U32, 16: U8, 17: U8, 18: LINKINFO, 19: U32, 20: RAW,
    21: U32, 23: U64S, 26: AF_SPEC, 27: U32, 28: "i", 29: U32, 30: U32, 31: U32, 32: U32,
    33: U8, 35: U32, 37: "i", 39: U8, 40: U32, 41: U32, 43: XDP, 44: U32, 45: "i", 46: "i",
    47: U32, 48: U32, 49: "i", 50: U32, 51: U32, 58: U32, 59: U32, 60: U32, 61: U32,
}
ADDRESS = {1: RAW, 2: RAW, 3: RAW, 4: RAW, 5: RAW, 6: U32S, 7: RAW, 8: U32, 9: U32,
           10: "i", 11: U8}
METRICS = {number: U32 for number in range(1, 18)}
ROUTE = {1: RAW, 2: RAW, 3: U32, 4: U32, 5: RAW, 6: U32, 7: RAW, 8: METRICS, 9: RAW,
         11: U32, 12: U32S, 15: U32, 16: U32, 17: U64S, 20: U8, 21: U16, 23: U32, 25: U32,
         26: U8, 27: U8, 30: U32}

# message type -> (its fixed header's format, its attribute table)
MESSAGES = {
    **{kind: ("BBHiII", LINK) for kind in (16, 17, 18, 19)},      # RTM_*LINK: ifinfomsg
    **{kind: ("BBBBI", ADDRESS) for kind in (20, 21, 22)},        # RTM_*ADDR: ifaddrmsg
    **{kind: ("BBBBBBBBI", ROUTE) for kind in (24, 25, 26)},      # RTM_*ROUTE: rtmsg
    NLMSG_DONE: ("i", {}),
}


def _align(length: int) -> int:
    return (length + 3) & ~3


def _turn_integers(data: bytearray, start: int, end: int, code: str) -> None:
    """Reverse each integer of a fixed format, or of an array, in place."""
    if code.endswith("*"):
        size = struct.calcsize(code[0])
        fields = [(offset, size) for offset in range(start, end - size + 1, size)]
    else:
        fields, offset = [], start
        for letter in code:
            size = struct.calcsize(letter)
            fields.append((offset, size))
            offset += size
    for offset, size in fields:
        if size > 1 and offset + size <= end:
            data[offset:offset + size] = data[offset:offset + size][::-1]


def _turn_attributes(data: bytearray, start: int, end: int, table: dict,
                     from_host: bool) -> None:
    at = start
    while at + RTATTR.size <= end:
        header = data[at:at + RTATTR.size]
        if from_host:
            length, kind = RTATTR.unpack(header)
        _turn_integers(data, at, at + RTATTR.size, "HH")
        if not from_host:
            length, kind = RTATTR.unpack(data[at:at + RTATTR.size])
        if length < RTATTR.size or at + length > end:
            return
        value = table.get(kind & NLA_TYPE_MASK, RAW)
        body, body_end = at + RTATTR.size, at + length
        if isinstance(value, dict):
            _turn_attributes(data, body, body_end, value, from_host)
        elif value:
            _turn_integers(data, body, body_end, value)
        at += _align(length)


def turn(data: bytearray, length: int, from_host: bool) -> None:
    """Turn the first `length` bytes of a netlink buffer to the other byte
    order, in place: from_host for what the host sent (its lengths are
    read before they are turned), else for what a guest sends."""
    at = 0
    while at + NLMSG_HEADER.size <= length:
        if from_host:
            size, kind = NLMSG_HEADER.unpack_from(data, at)[:2]
        _turn_integers(data, at, at + NLMSG_HEADER.size, "IHHII")
        if not from_host:
            size, kind = NLMSG_HEADER.unpack_from(data, at)[:2]
        end = min(at + size, length)
        if size < NLMSG_HEADER.size:
            return
        body = at + NLMSG_HEADER.size
        if kind == NLMSG_ERROR:             # the error, then the request's header
            _turn_integers(data, body, end, "i")
            _turn_integers(data, body + 4, min(end, body + 4 + NLMSG_HEADER.size), "IHHII")
        elif kind in MESSAGES:
            code, table = MESSAGES[kind]
            fixed_end = body + _align(struct.calcsize("=" + code))
            _turn_integers(data, body, min(end, fixed_end), code)
            _turn_attributes(data, fixed_end, end, table, from_host)
        at += _align(size)
