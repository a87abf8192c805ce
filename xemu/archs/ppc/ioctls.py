"""PowerPC's own struct termios numbering and terminal ioctls
(arch/powerpc/include/uapi/asm/termbits.h and ioctls.h): its flags, delay
fields, speed codes and c_cc slots all differ from asm-generic's, and its
ioctl numbers carry the _IOR/_IOW direction bits."""
from ..ioctls import GENERIC_IOCTLS, Termbits

TERMBITS = Termbits(
    flags={
        "c_iflag": {"IXON": 0x200, "IXOFF": 0x400, "IUCLC": 0x1000},
        "c_oflag": {"ONLCR": 0x2, "OLCUC": 0x4},
        "c_cflag": {"CSTOPB": 0x400, "CREAD": 0x800, "PARENB": 0x1000, "PARODD": 0x2000,
                    "HUPCL": 0x4000, "CLOCAL": 0x8000},
        "c_lflag": {"ECHOKE": 0x1, "ECHOE": 0x2, "ECHOK": 0x4, "ECHO": 0x8, "ECHONL": 0x10,
                    "ECHOPRT": 0x20, "ECHOCTL": 0x40, "ISIG": 0x80, "ICANON": 0x100,
                    "IEXTEN": 0x400, "XCASE": 0x4000, "TOSTOP": 0x400000,
                    "FLUSHO": 0x800000, "EXTPROC": 0x10000000, "PENDIN": 0x20000000,
                    "NOFLSH": 0x80000000},
    },
    fields={
        "c_oflag": {"NLDLY": 0x300, "TABDLY": 0xC00, "CRDLY": 0x3000, "FFDLY": 0x4000,
                    "BSDLY": 0x8000, "VTDLY": 0x10000},
        "c_cflag": {"CSIZE": 0x300},
    },
    cbaud=0xFF, bother=0x1F, extended_speeds=0x10,
    cc={"VINTR": 0, "VQUIT": 1, "VERASE": 2, "VKILL": 3, "VEOF": 4, "VMIN": 5, "VEOL": 6,
        "VTIME": 7, "VEOL2": 8, "VSWTC": 9, "VWERASE": 10, "VREPRINT": 11, "VSUSP": 12,
        "VSTART": 13, "VSTOP": 14, "VLNEXT": 15, "VDISCARD": 16},
)

_IO, _IOR, _IOW = 0x20000000, 0x40000000, 0x80000000

IOCTLS = {
    **{name: number for name, number in GENERIC_IOCTLS.items()
       if not name.endswith("2")},       # no termios2: its termios has the speeds
    "TCGETS": _IOR | 44 << 16 | 0x7413, "TCSETS": _IOW | 44 << 16 | 0x7414,
    "TCSETSW": _IOW | 44 << 16 | 0x7415, "TCSETSF": _IOW | 44 << 16 | 0x7416,
    "TCSBRK": _IO | 0x741D, "TCXONC": _IO | 0x741E, "TCFLSH": _IO | 0x741F,
    "TIOCSWINSZ": _IOW | 8 << 16 | 0x7467, "TIOCGWINSZ": _IOR | 8 << 16 | 0x7468,
    "TIOCOUTQ": _IOR | 4 << 16 | 0x7473, "TIOCSPGRP": _IOW | 4 << 16 | 0x7476,
    "TIOCGPGRP": _IOR | 4 << 16 | 0x7477,
    "FIOCLEX": _IO | 0x6601, "FIONCLEX": _IO | 0x6602, "FIOASYNC": _IOW | 4 << 16 | 0x667D,
    "FIONBIO": _IOW | 4 << 16 | 0x667E, "FIONREAD": _IOR | 4 << 16 | 0x667F,
    "TIOCGPTN": _IOR | 4 << 16 | 0x5430, "TIOCSPTLCK": _IOW | 4 << 16 | 0x5431,
    "TIOCGPTPEER": _IO | 0x5441,
}
