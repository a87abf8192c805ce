"""System V IPC: shared memory, semaphores and message queues.

The objects are the host kernel's, so two guest processes (two host
processes) share them as two native ones do, and their keys, ids,
permissions and SEM_UNDO are the kernel's own. What xemu translates: the
*id64_ds and *info structs (each arch's layout, linux/structs.py), sembuf
and msgbuf (the guest's byte order and word size), attached segments (host
memory mapped into the guest's address space), and the `ipc` multiplexer
that i386's and PowerPC's glibc calls.

A call that would block (semop, msgsnd to a full queue, msgrcv of an
empty one) is tried with IPC_NOWAIT and tried again after a short
interruptible wait, so other threads run and a signal ends it with EINTR,
as Linux never restarts these calls.
"""
from __future__ import annotations

import ctypes
import errno
import struct
import time
from dataclasses import dataclass

from ... import archs
from ...archs.base import PAGE
from ..process import Process
from ..signals import sleep
from ..structs import layout
from ..thread import Thread
from .hostlibc import LIBC, checked
from .registry import syscall
from .time import read_timeout

HOST = archs.host()             # the host kernel's struct layouts
IPC_64 = 0x100
IPC_NOWAIT = 0o4000
IPC_RMID, IPC_SET, IPC_STAT, IPC_INFO = 0, 1, 2, 3
SHM_STAT, SHM_INFO, SHM_STAT_ANY = 13, 14, 15
SEM_GETPID, SEM_GETVAL, SEM_GETALL, SEM_GETNCNT, SEM_GETZCNT = 11, 12, 13, 14, 15
SEM_SETVAL, SEM_SETALL, SEM_STAT, SEM_INFO, SEM_STAT_ANY = 16, 17, 18, 19, 20
MSG_STAT, MSG_INFO, MSG_STAT_ANY = 11, 12, 13
SHM_RDONLY, SHM_RND, SHM_REMAP, SHM_EXEC = 0o10000, 0o20000, 0o40000, 0o100000
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
MSGMAX_LIMIT = 1 << 24          # a msgsnd/msgrcv size xemu will buffer (Linux's msgmax: 8 KiB)

LIBC.shmat.restype = ctypes.c_void_p
LIBC.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
LIBC.shmdt.argtypes = [ctypes.c_void_p]
LIBC.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]
LIBC.msgrcv.restype = ctypes.c_ssize_t
LIBC.msgrcv.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_long,
                        ctypes.c_int]
LIBC.msgsnd.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
LIBC.semtimedop.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]

# the ds struct, the STAT commands and the INFO commands of each kind
DS = {"shm": "shmid64_ds", "sem": "semid64_ds", "msg": "msqid64_ds"}
INFO_LAYOUT = {("shm", IPC_INFO): "shminfo64", ("shm", SHM_INFO): "shm_info",
               ("sem", IPC_INFO): "seminfo", ("sem", SEM_INFO): "seminfo",
               ("msg", IPC_INFO): "msginfo", ("msg", MSG_INFO): "msginfo"}
STAT_OF = {"shm": {IPC_STAT, SHM_STAT, SHM_STAT_ANY},
           "sem": {IPC_STAT, SEM_STAT, SEM_STAT_ANY},
           "msg": {IPC_STAT, MSG_STAT, MSG_STAT_ANY}}


def _ctl(kind: str, ident: int, cmd: int, buffer=None) -> int:
    """shmctl, msgctl or semctl (whose semaphore number is 0 here) on the host."""
    if kind == "sem":
        return checked(LIBC.semctl(ident, 0, cmd, buffer))
    return checked((LIBC.shmctl if kind == "shm" else LIBC.msgctl)(ident, cmd, buffer))


# -- the *id64_ds structs ------------------------------------------------------

def _host_ds(kind: str, ident: int, cmd: int) -> tuple[int, dict]:
    """A STAT command on the host: (its result, the struct as fields)."""
    host = layout(HOST, DS[kind])
    buffer = ctypes.create_string_buffer(host.size)
    return _ctl(kind, ident, cmd, buffer), host.unpack(buffer.raw)


def _guest_fields(fields: dict) -> dict:
    """Host fields as a 32-bit guest's layout names them: each time also as
    a low and a high word."""
    out = dict(fields)
    for name, value in fields.items():
        if name.endswith("time"):
            out[name], out[f"{name}_high"] = value & 0xFFFFFFFF, (value >> 32) & 0xFFFFFFFF
    return out


def _stat(p: Process, kind: str, ident: int, cmd: int, buf: int) -> int:
    result, fields = _host_ds(kind, ident, cmd)
    p.write_struct(buf, DS[kind], **_guest_fields(fields))
    return result


def _set(p: Process, kind: str, ident: int, buf: int) -> int:
    """IPC_SET: the owner, mode (and msg_qbytes) the guest gives; the rest
    as the host has it."""
    wanted = p.read_struct(buf, DS[kind])
    _, fields = _host_ds(kind, ident, IPC_STAT)
    for name in ("uid", "gid", "mode", "msg_qbytes"):
        if name in fields:
            fields[name] = wanted[name]
    raw = ctypes.create_string_buffer(layout(HOST, DS[kind]).pack(**fields))
    return _ctl(kind, ident, IPC_SET, raw)


def _info(p: Process, kind: str, cmd: int, buf: int) -> int:
    name = INFO_LAYOUT[(kind, cmd)]
    host = layout(HOST, name)
    raw = ctypes.create_string_buffer(host.size)
    result = _ctl(kind, 0, cmd, raw)
    p.write_struct(buf, name, **host.unpack(raw.raw))
    return result


def _control(p: Process, kind: str, ident: int, cmd: int, buf: int) -> int | None:
    """The commands every kind shares; None for one it has alone."""
    cmd &= ~IPC_64      # every layout here is the 64-bit (IPC_64) one
    if cmd in STAT_OF[kind]:
        return _stat(p, kind, ident, cmd, buf)
    if cmd == IPC_SET:
        return _set(p, kind, ident, buf)
    if (kind, cmd) in INFO_LAYOUT:
        return _info(p, kind, cmd, buf)
    if cmd == IPC_RMID:
        return _ctl(kind, ident, IPC_RMID)
    return None


# -- waiting -------------------------------------------------------------------------

def _retrying(thread: Thread, attempt, nowait: bool, timeout: float | None = None) -> int:
    """attempt() with IPC_NOWAIT; while it would block (EAGAIN, ENOMSG) and
    the guest did not ask for IPC_NOWAIT, wait a little (up to 20 ms) and try
    again. A signal ends the wait with EINTR; a timeout with EAGAIN."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.0005
    while True:
        try:
            return attempt()
        except OSError as e:
            if nowait or e.errno not in (errno.EAGAIN, errno.ENOMSG):
                raise
        pause = delay
        if deadline is not None:
            pause = min(pause, deadline - time.monotonic())
            if pause <= 0:
                return -errno.EAGAIN
        if not sleep(thread, pause):
            return -errno.EINTR
        delay = min(delay * 2, 0.02)


# -- shared memory -------------------------------------------------------------------

@dataclass
class Attachment:
    """A segment attached to the host process and mapped into the guest."""
    host_address: int
    size: int

    def detach(self) -> None:
        LIBC.shmdt(ctypes.c_void_p(self.host_address))


@syscall("shmget")
def shmget(p: Process, key: int, size: int, flags: int) -> int:
    if p.mem.limit is not None and size > p.mem.limit:
        return -errno.ENOMEM            # more than --memory lets the guest map
    return checked(LIBC.shmget(p.int32(key), size, p.int32(flags)))


@syscall("shmat")
def shmat(p: Process, ident: int, address: int, flags: int) -> int:
    ident, flags = p.int32(ident), p.int32(flags)
    fields = _host_ds("shm", ident, IPC_STAT)[1]
    size = (fields["shm_segsz"] + PAGE - 1) & ~(PAGE - 1)
    linux = p.spec.linux
    if address:
        if address & (linux.shmlba - 1):
            if not flags & SHM_RND:
                return -errno.EINVAL
            address &= ~(linux.shmlba - 1)
        if address < linux.mmap_min_addr or address + size > linux.user_top:
            return -errno.EINVAL
        if p.mem.overlaps(address, size) and not flags & SHM_REMAP:
            return -errno.EINVAL
    else:
        address = p.mem.find_free(size, linux.mmap_base, linux.mmap_top)
        if address is None:
            return -errno.ENOMEM
    if p.mem.limit is not None and p.mem.mapped_bytes + size > p.mem.limit:
        return -errno.ENOMEM
    # Attached for writing on the host even for SHM_RDONLY (the guest's
    # mapping is read-only): xemu's own stores into guest memory must never
    # meet a read-only host page.
    host = LIBC.shmat(ident, None, 0)
    if host in (None, ctypes.c_void_p(-1).value):
        error = ctypes.get_errno()
        if error == errno.EACCES and flags & SHM_RDONLY:
            p.warn("xemu attaches segments read-write; this one is readable only")
        raise OSError(error, "shmat")
    perms = PROT_READ | (0 if flags & SHM_RDONLY else PROT_WRITE) | \
        (PROT_EXEC if flags & SHM_EXEC else 0)
    buffer = (ctypes.c_char * size).from_address(host)
    p.mem.unmap(address, size)
    p.mem.map_buffer(address, buffer, perms, name=f"/SYSV{fields['key'] & 0xFFFFFFFF:08x}")
    p.shm_attached[address] = Attachment(host, size)
    return address


@syscall("shmdt")
def shmdt(p: Process, address: int) -> int:
    attachment = p.shm_attached.pop(address, None)
    if attachment is None:
        return -errno.EINVAL
    p.mem.unmap(address, attachment.size)
    attachment.detach()
    return 0


@syscall("shmctl")
def shmctl(p: Process, ident: int, cmd: int, buf: int) -> int:
    ident, cmd = p.int32(ident), p.int32(cmd)
    done = _control(p, "shm", ident, cmd, buf)
    if done is not None:
        return done
    return checked(LIBC.shmctl(ident, cmd & ~IPC_64, None))    # SHM_LOCK, SHM_UNLOCK


# -- semaphores ----------------------------------------------------------------------

@syscall("semget")
def semget(p: Process, key: int, count: int, flags: int) -> int:
    return checked(LIBC.semget(p.int32(key), p.int32(count), p.int32(flags)))


def _semop(thread: Thread, ident: int, sops: int, count: int, timeout: float | None) -> int:
    p = thread.process
    if not 0 < count <= 500:            # SEMOPM
        return -errno.E2BIG if count > 500 else -errno.EINVAL
    entry = layout(p.spec, "sembuf")
    raw = p.mem.read(sops, entry.size * count)
    host = layout(HOST, "sembuf")
    operations = [entry.unpack(raw[i * entry.size:]) for i in range(count)]
    nowait = all(op["sem_flg"] & IPC_NOWAIT for op in operations)
    packed = b"".join(host.pack(**{**op, "sem_flg": op["sem_flg"] | IPC_NOWAIT})
                      for op in operations)
    buffer = ctypes.create_string_buffer(packed)
    return _retrying(thread, lambda: checked(LIBC.semtimedop(p.int32(ident), buffer, count,
                                                             None)),
                     nowait, timeout)


@syscall("semop")
def semop(thread: Thread, ident: int, sops: int, count: int) -> int:
    return _semop(thread, ident, sops, count, None)


@syscall("semtimedop")
def semtimedop(thread: Thread, ident: int, sops: int, count: int, timeout: int) -> int:
    return _semop(thread, ident, sops, count, read_timeout(thread.process, timeout, "timespec"))


@syscall("semtimedop_time64")
def semtimedop_time64(thread: Thread, ident: int, sops: int, count: int, timeout: int) -> int:
    return _semop(thread, ident, sops, count,
                  read_timeout(thread.process, timeout, "timespec64"))


@syscall("semctl")
def semctl(p: Process, ident: int, number: int, cmd: int, arg: int) -> int:
    """arg is union semun itself: an int (SETVAL) or a pointer."""
    ident, number, cmd = p.int32(ident), p.int32(number), p.int32(cmd)
    done = _control(p, "sem", ident, cmd, arg)
    if done is not None:
        return done
    cmd &= ~IPC_64
    if cmd in (SEM_GETVAL, SEM_GETPID, SEM_GETNCNT, SEM_GETZCNT):
        return checked(LIBC.semctl(ident, number, cmd))
    if cmd == SEM_SETVAL:
        return checked(LIBC.semctl(ident, number, cmd, ctypes.c_int(p.int32(arg))))
    if cmd in (SEM_GETALL, SEM_SETALL):
        count = _host_ds("sem", ident, IPC_STAT)[1]["sem_nsems"]
        values = (ctypes.c_ushort * max(count, 1))()
        code = p.spec.endian + "H" * count
        if cmd == SEM_SETALL:
            values[:count] = struct.unpack(code, p.mem.read(arg, 2 * count))
        checked(LIBC.semctl(ident, 0, cmd, values))
        if cmd == SEM_GETALL:
            p.mem.write(arg, struct.pack(code, *values[:count]))
        return 0
    return -errno.EINVAL


# -- message queues ------------------------------------------------------------------

@syscall("msgget")
def msgget(p: Process, key: int, flags: int) -> int:
    return checked(LIBC.msgget(p.int32(key), p.int32(flags)))


def _message_size(p: Process, size: int, sending: bool) -> int:
    """A message's size: EINVAL if negative, or for a send past what any
    kernel's msgmax allows; a receive's room is only ever cut."""
    size = p.signed(size)
    if size < 0 or (sending and size > MSGMAX_LIMIT):
        raise OSError(errno.EINVAL, "bad message size")
    return min(size, MSGMAX_LIMIT)


@syscall("msgsnd")
def msgsnd(thread: Thread, ident: int, message: int, size: int, flags: int) -> int:
    """struct msgbuf is the guest's long mtype, then the text."""
    p = thread.process
    ident, flags, size = p.int32(ident), p.int32(flags), _message_size(p, size, True)
    word = p.spec.word_size
    mtype = p.signed(p.read_word(message))
    buffer = ctypes.create_string_buffer(struct.pack("=q", mtype) + p.mem.read(message + word,
                                                                              size))
    return _retrying(thread, lambda: checked(LIBC.msgsnd(ident, buffer, size,
                                                         flags | IPC_NOWAIT)),
                     bool(flags & IPC_NOWAIT))


def _msgrcv(thread: Thread, ident: int, message: int, size: int, wanted: int,
            flags: int) -> int:
    p = thread.process
    ident, flags, size = p.int32(ident), p.int32(flags), _message_size(p, size, False)
    word = p.spec.word_size
    buffer = ctypes.create_string_buffer(8 + size)
    got = _retrying(thread, lambda: checked(LIBC.msgrcv(ident, buffer, size, wanted,
                                                        flags | IPC_NOWAIT)),
                    bool(flags & IPC_NOWAIT))
    if got < 0:
        return got
    mtype = struct.unpack_from("=q", buffer.raw)[0] & p.word_mask
    p.mem.write(message, p.pack_words(mtype))
    p.mem.write(message + word, buffer.raw[8:8 + got])
    return got


@syscall("msgrcv")
def msgrcv(thread: Thread, ident: int, message: int, size: int, wanted: int,
           flags: int) -> int:
    return _msgrcv(thread, ident, message, size, thread.process.signed(wanted), flags)


@syscall("msgctl")
def msgctl(p: Process, ident: int, cmd: int, buf: int) -> int:
    done = _control(p, "msg", p.int32(ident), p.int32(cmd), buf)
    return -errno.EINVAL if done is None else done


# -- the ipc multiplexer (i386, PowerPC) -------------------------------------------

SEMOP, SEMGET, SEMCTL, SEMTIMEDOP = 1, 2, 3, 4
MSGSND, MSGRCV, MSGGET, MSGCTL = 11, 12, 13, 14
SHMAT, SHMDT, SHMGET, SHMCTL = 21, 22, 23, 24


@syscall("ipc")
def ipc(thread: Thread, call: int, first: int, second: int, third: int, ptr: int,
        fifth: int) -> int:
    """ipc(2) as ipc/syscall.c spells each call out; `version` 0 forms, the
    ones glibc uses (msgrcv's pointer and type through an ipc_kludge)."""
    p = thread.process
    version, call = call >> 16, call & 0xFFFF
    if call == SEMOP:
        return _semop(thread, first, ptr, second, None)
    if call == SEMTIMEDOP:
        return _semop(thread, first, ptr, second, read_timeout(p, fifth, "timespec"))
    if call == SEMGET:
        return semget(p, first, second, third)
    if call == SEMCTL:
        if not ptr:
            return -errno.EINVAL
        return semctl(p, first, second, third, p.read_word(ptr))
    if call == MSGSND:
        return msgsnd(thread, first, ptr, second, third)
    if call == MSGRCV:
        if version == 0:
            if not ptr:
                return -errno.EINVAL
            word = p.spec.word_size
            ptr, fifth = p.read_word(ptr), p.signed(p.read_word(ptr + word))
        return _msgrcv(thread, first, ptr, second, p.signed(fifth), third)
    if call == MSGGET:
        return msgget(p, first, second)
    if call == MSGCTL:
        return msgctl(p, first, second, ptr)
    if call == SHMAT:
        if version == 1:
            return -errno.EINVAL        # the iBCS2 form
        address = shmat(p, first, ptr, second)
        if address < 0 and address > -4096:
            return address
        p.mem.write(third, p.pack_words(address))
        return 0
    if call == SHMDT:
        return shmdt(p, ptr)
    if call == SHMGET:
        return shmget(p, first, second, third)
    if call == SHMCTL:
        return shmctl(p, first, second, ptr)
    return -errno.ENOSYS
