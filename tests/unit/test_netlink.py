"""rtnetlink messages turned between host and a guest of the other byte order."""
import struct

from xemu.linux.netlink import turn


def attribute(kind: int, body: bytes, order: str = "<") -> bytes:
    raw = struct.pack(order + "HH", 4 + len(body), kind) + body
    return raw + bytes(-len(raw) % 4)


def message(kind: int, body: bytes, order: str = "<") -> bytes:
    return struct.pack(order + "IHHII", 16 + len(body), kind, 2, 7, 1234) + body


def test_an_address_message_turns_and_back():
    body = struct.pack("<BBBBI", 2, 8, 0x80, 254, 1) + \
        attribute(1, bytes([127, 0, 0, 1])) + attribute(6, struct.pack("<4I", 1, 2, 3, 4)) + \
        attribute(8, struct.pack("<I", 0x80))
    host = message(20, body)
    data = bytearray(host)
    turn(data, len(data), from_host=True)
    expected = message(20, struct.pack(">BBBBI", 2, 8, 0x80, 254, 1) +
                       attribute(1, bytes([127, 0, 0, 1]), ">") +
                       attribute(6, struct.pack(">4I", 1, 2, 3, 4), ">") +
                       attribute(8, struct.pack(">I", 0x80), ">"), ">")
    assert bytes(data) == expected
    turn(data, len(data), from_host=False)
    assert bytes(data) == host


def test_nested_link_attributes_and_several_messages():
    inet6 = attribute(10, attribute(1, struct.pack("<I", 5)) +
                      attribute(3, struct.pack("<2Q", 1, 2)))
    link = struct.pack("<BBHiII", 0, 0, 772, 1, 0x49, 0) + attribute(3, b"lo\0") + \
        attribute(4, struct.pack("<I", 65536)) + attribute(26 | 0x8000, inet6)
    host = message(16, link) + message(3, struct.pack("<i", 0))
    data = bytearray(host)
    turn(data, len(data), from_host=True)
    size, kind = struct.unpack_from(">IH", data)
    assert kind == 16 and size == 16 + len(link)
    assert struct.unpack_from(">HiI", data, 18) == (772, 1, 0x49)
    assert data.find(struct.pack(">I", 65536)) > 0 and data.find(struct.pack(">2Q", 1, 2)) > 0
    assert struct.unpack_from(">IH", data, size) == (20, 3)
    turn(data, len(data), from_host=False)
    assert bytes(data) == host


def test_a_truncated_buffer_stops_without_reading_past_it():
    host = message(20, struct.pack("<BBBBI", 2, 8, 0, 0, 1) + attribute(8, b"\1\0\0\0"))
    data = bytearray(host[:22])
    turn(data, len(data), from_host=True)
    assert len(data) == 22 and struct.unpack_from(">I", data)[0] == len(host)
