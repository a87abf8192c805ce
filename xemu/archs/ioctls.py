"""struct termios as an arch numbers it, and the ioctl numbers xemu serves.

asm-generic's values (include/uapi/asm-generic/termbits.h, ioctls.h) are
the host's (x86-64) and every arch's here but PowerPC, whose own are in
archs/ppc/ioctls.py. linux/terminal.py translates by name between the
two; bits both share (termbits-common.h: IGNBRK, OPOST, the baud codes
B0..B38400, CRTSCTS...) are named in neither table and pass unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping


@dataclass(frozen=True)
class Termbits:
    # one-bit flags that arches number differently, per termios field
    flags: Mapping[str, Mapping[str, int]]
    # multi-bit fields (a delay, CSIZE): a value is translated by its index
    # within the field, so ppc's NL0..NL3 and generic's NL0..NL1 line up
    fields: Mapping[str, Mapping[str, int]]
    cbaud: int                  # the output speed's bits in c_cflag
    bother: int                 # the code meaning "speed in c_ospeed"
    extended_speeds: int        # the code of B57600; B115200..B4000000 follow
    cc: Mapping[str, int]       # c_cc slot of each control character


GENERIC = Termbits(
    flags={
        "c_iflag": {"IUCLC": 0x200, "IXON": 0x400, "IXOFF": 0x1000},
        "c_oflag": {"OLCUC": 0x2, "ONLCR": 0x4},
        "c_cflag": {"CSTOPB": 0x40, "CREAD": 0x80, "PARENB": 0x100, "PARODD": 0x200,
                    "HUPCL": 0x400, "CLOCAL": 0x800},
        "c_lflag": {"ISIG": 0x1, "ICANON": 0x2, "XCASE": 0x4, "ECHO": 0x8, "ECHOE": 0x10,
                    "ECHOK": 0x20, "ECHONL": 0x40, "NOFLSH": 0x80, "TOSTOP": 0x100,
                    "ECHOCTL": 0x200, "ECHOPRT": 0x400, "ECHOKE": 0x800, "FLUSHO": 0x1000,
                    "PENDIN": 0x4000, "IEXTEN": 0x8000, "EXTPROC": 0x10000},
    },
    fields={
        "c_oflag": {"NLDLY": 0x100, "CRDLY": 0x600, "TABDLY": 0x1800, "BSDLY": 0x2000,
                    "VTDLY": 0x4000, "FFDLY": 0x8000},
        "c_cflag": {"CSIZE": 0x30},
    },
    cbaud=0x100F, bother=0x1000, extended_speeds=0x1001,
    cc={"VINTR": 0, "VQUIT": 1, "VERASE": 2, "VKILL": 3, "VEOF": 4, "VTIME": 5, "VMIN": 6,
        "VSWTC": 7, "VSTART": 8, "VSTOP": 9, "VSUSP": 10, "VEOL": 11, "VREPRINT": 12,
        "VDISCARD": 13, "VWERASE": 14, "VLNEXT": 15, "VEOL2": 16},
)

# The input speed sits in CIBAUD, the output speed's bits shifted up (IBSHIFT).
INPUT_SPEED_SHIFT = 16

# asm-generic/ioctls.h: the terminal and file ioctls xemu serves, by name.
GENERIC_IOCTLS = {
    "TCGETS": 0x5401, "TCSETS": 0x5402, "TCSETSW": 0x5403, "TCSETSF": 0x5404,
    "TCSBRK": 0x5409, "TCXONC": 0x540A, "TCFLSH": 0x540B, "TIOCEXCL": 0x540C,
    "TIOCNXCL": 0x540D, "TIOCSCTTY": 0x540E, "TIOCGPGRP": 0x540F, "TIOCSPGRP": 0x5410,
    "TIOCOUTQ": 0x5411, "TIOCGWINSZ": 0x5413, "TIOCSWINSZ": 0x5414, "FIONREAD": 0x541B,
    "FIONBIO": 0x5421, "TIOCNOTTY": 0x5422, "TCSBRKP": 0x5425, "TIOCGSID": 0x5429,
    "TCGETS2": 0x802C542A, "TCSETS2": 0x402C542B, "TCSETSW2": 0x402C542C,
    "TCSETSF2": 0x402C542D, "TIOCGPTN": 0x80045430, "TIOCSPTLCK": 0x40045431,
    "TIOCGPTPEER": 0x5441, "FIONCLEX": 0x5450, "FIOCLEX": 0x5451, "FIOASYNC": 0x5452,
    # uapi/linux/sockios.h: the same on every arch here
    "SIOCGIFNAME": 0x8910, "SIOCGIFCONF": 0x8912, "SIOCGIFFLAGS": 0x8913,
    "SIOCGIFADDR": 0x8915, "SIOCGIFDSTADDR": 0x8917, "SIOCGIFBRDADDR": 0x8919,
    "SIOCGIFNETMASK": 0x891B, "SIOCGIFMETRIC": 0x891D, "SIOCGIFMTU": 0x8921,
    "SIOCGIFHWADDR": 0x8927, "SIOCGIFINDEX": 0x8933, "SIOCGIFTXQLEN": 0x8942,
}
