"""struct termios between a guest's numbering and the host's.

The host is x86-64, whose termbits are asm-generic's (archs/ioctls.py);
an arch with its own (PowerPC) names in its ArchSpec which bit, field,
speed code and control-character slot means what, and values are carried
across by those names. Bits neither side names are common to both and
pass as they are.
"""
from __future__ import annotations

from ..archs.ioctls import GENERIC, INPUT_SPEED_SHIFT, Termbits

FLAG_FIELDS = ("c_iflag", "c_oflag", "c_cflag", "c_lflag")
NCCS = 19


def _low_bit(mask: int) -> int:
    return (mask & -mask).bit_length() - 1


def _named_mask(bits: Termbits, field: str) -> int:
    mask = 0
    for table in (bits.flags, bits.fields):
        for value in table.get(field, {}).values():
            mask |= value
    if field == "c_cflag":
        mask |= bits.cbaud | bits.cbaud << INPUT_SPEED_SHIFT
    return mask


def _speed_code(code: int, source: Termbits, target: Termbits) -> int:
    """B0..B38400 are 0..15 everywhere; BOTHER and B57600..B4000000 move."""
    if code == source.bother:
        return target.bother
    if code >= source.extended_speeds:
        return target.extended_speeds + code - source.extended_speeds
    return code


def convert_flags(field: str, value: int, source: Termbits, target: Termbits) -> int:
    """One tcflag_t field from source's numbering to target's."""
    if source is target:
        return value
    out = value & ~(_named_mask(source, field) | _named_mask(target, field))
    for name, bit in source.flags.get(field, {}).items():
        if value & bit:
            out |= target.flags[field][name]
    for name, mask in source.fields.get(field, {}).items():
        index = (value & mask) >> _low_bit(mask)
        target_mask = target.fields[field][name]
        out |= (index << _low_bit(target_mask)) & target_mask
    if field == "c_cflag":
        out |= _speed_code(value & source.cbaud, source, target)
        input_code = (value >> INPUT_SPEED_SHIFT) & source.cbaud
        out |= _speed_code(input_code, source, target) << INPUT_SPEED_SHIFT
    return out


def convert_cc(cc: bytes, source: Termbits, target: Termbits) -> bytes:
    """c_cc from source's slots to target's; unnamed slots stay where they are."""
    if source is target:
        return bytes(cc)
    out = bytearray(cc)
    for name, slot in source.cc.items():
        out[target.cc[name]] = cc[slot]
    return bytes(out)


def to_host(fields: dict, bits: Termbits) -> dict:
    """A guest's termios fields (as unpacked) in the host's numbering."""
    out = dict(fields)
    for name in FLAG_FIELDS:
        out[name] = convert_flags(name, fields[name], bits, GENERIC)
    out["c_cc"] = convert_cc(fields["c_cc"][:NCCS].ljust(NCCS, b"\0"), bits, GENERIC)
    return out


def to_guest(fields: dict, bits: Termbits) -> dict:
    """The host's termios fields in a guest's numbering."""
    out = dict(fields)
    for name in FLAG_FIELDS:
        out[name] = convert_flags(name, fields[name], GENERIC, bits)
    out["c_cc"] = convert_cc(fields["c_cc"], GENERIC, bits)
    return out
