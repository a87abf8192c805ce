"""What the process uses and how it is scheduled: getrusage, times,
priorities, scheduling policies, personality. The guest process is xemu's
host process, so each answer is the host's for it (its CPU time includes
the translating; a program that compares two readings sees its own work)."""
from __future__ import annotations

import ctypes
import errno
import os
import resource
import struct

from ..process import Process
from ..thread import Thread
from .hostlibc import LIBC, checked, host_syscall
from .proc import write_rusage
from .registry import syscall

RUSAGE_WHO = {0: resource.RUSAGE_SELF, -1: resource.RUSAGE_CHILDREN,
              1: resource.RUSAGE_THREAD}
# struct sched_attr: size, policy, flags, nice, priority, runtime, deadline,
# period, util_min, util_max. Naturally aligned, so the same on every arch
# but for its byte order. The first version ended before util_min.
SCHED_ATTR = "IIQiIQQQII"
SCHED_ATTR_SIZE, SCHED_ATTR_SIZE_VER0 = 56, 48
PERSONALITY_QUERY = 0xFFFFFFFF            # personality(0xffffffff) only asks


@syscall("getrusage")
def getrusage(p: Process, who: int, usage: int) -> int:
    kind = RUSAGE_WHO.get(p.int32(who))
    if kind is None:
        return -errno.EINVAL
    write_rusage(p, usage, resource.getrusage(kind))
    return 0


@syscall("times")
def times(p: Process, buf: int) -> int:
    """Clock ticks of CPU time (tms) and, returned, of wall time since an
    arbitrary point (the host's, as its own times(2) gives)."""
    ticks = os.sysconf("SC_CLK_TCK")
    now = os.times()
    if buf:
        p.write_struct(buf, "tms", tms_utime=int(now.user * ticks),
                       tms_stime=int(now.system * ticks),
                       tms_cutime=int(now.children_user * ticks),
                       tms_cstime=int(now.children_system * ticks))
    return int(now.elapsed * ticks) & ((1 << p.spec.bits) - 1) & ~(1 << (p.spec.bits - 1))


@syscall("getpriority")
def getpriority(p: Process, which: int, who: int) -> int:
    """The kernel's form: 20 - nice (1..40), so no result looks like an error."""
    return 20 - os.getpriority(p.int32(which), p.int32(who))


@syscall("setpriority")
def setpriority(p: Process, which: int, who: int, priority: int) -> int:
    os.setpriority(p.int32(which), p.int32(who), max(-20, min(19, p.int32(priority))))
    return 0


@syscall("sched_getscheduler")
def sched_getscheduler(p: Process, pid: int) -> int:
    return os.sched_getscheduler(_pid(p, pid))


@syscall("sched_setscheduler")
def sched_setscheduler(p: Process, pid: int, policy: int, param: int) -> int:
    os.sched_setscheduler(_pid(p, pid), p.int32(policy), os.sched_param(_priority(p, param)))
    return 0


@syscall("sched_getparam")
def sched_getparam(p: Process, pid: int, param: int) -> int:
    priority = os.sched_getparam(_pid(p, pid)).sched_priority
    p.write_int(param, priority)
    return 0


@syscall("sched_setparam")
def sched_setparam(p: Process, pid: int, param: int) -> int:
    os.sched_setparam(_pid(p, pid), os.sched_param(_priority(p, param)))
    return 0


@syscall("sched_get_priority_max")
def sched_get_priority_max(p: Process, policy: int) -> int:
    return os.sched_get_priority_max(p.int32(policy))


@syscall("sched_get_priority_min")
def sched_get_priority_min(p: Process, policy: int) -> int:
    return os.sched_get_priority_min(p.int32(policy))


@syscall("sched_getattr")
def sched_getattr(p: Process, pid: int, attr: int, size: int, flags: int) -> int:
    """The host's answer for the pid, in the guest's byte order, cut to the
    size the guest's struct has (and its size field saying so)."""
    size = size & 0xFFFFFFFF
    if not attr or p.int32(pid) < 0 or flags or not SCHED_ATTR_SIZE_VER0 <= size <= 4096:
        return -errno.EINVAL
    host = ctypes.create_string_buffer(SCHED_ATTR_SIZE)
    host_syscall("sched_getattr", ctypes.c_int(p.int32(pid)), host,
                 ctypes.c_uint(SCHED_ATTR_SIZE), ctypes.c_uint(0))
    fields = list(struct.unpack("<" + SCHED_ATTR, host.raw))
    fields[0] = min(size, SCHED_ATTR_SIZE)
    p.mem.write(attr, struct.pack(p.spec.endian + SCHED_ATTR, *fields)[:fields[0]])
    return 0


@syscall("sched_setattr")
def sched_setattr(p: Process, pid: int, attr: int, flags: int) -> int:
    if not attr or p.int32(pid) < 0 or flags & 0xFFFFFFFF:
        return -errno.EINVAL
    size = struct.unpack(p.spec.endian + "I", p.mem.read(attr, 4))[0] or SCHED_ATTR_SIZE_VER0
    if not SCHED_ATTR_SIZE_VER0 <= size <= 4096:
        p.mem.write(attr, struct.pack(p.spec.endian + "I", SCHED_ATTR_SIZE))
        return -errno.E2BIG                     # sched_copy_attr: the size it knows
    raw = p.mem.read(attr, min(size, SCHED_ATTR_SIZE)).ljust(SCHED_ATTR_SIZE, b"\0")
    fields = list(struct.unpack(p.spec.endian + SCHED_ATTR, raw))
    fields[0] = min(size, SCHED_ATTR_SIZE)
    host = ctypes.create_string_buffer(struct.pack("<" + SCHED_ATTR, *fields), SCHED_ATTR_SIZE)
    host_syscall("sched_setattr", ctypes.c_int(p.int32(pid)), host, ctypes.c_uint(0))
    return 0


@syscall("ioprio_get")
def ioprio_get(p: Process, which: int, who: int) -> int:
    return host_syscall("ioprio_get", ctypes.c_int(p.int32(which)),
                        ctypes.c_int(p.int32(who)))


@syscall("ioprio_set")
def ioprio_set(p: Process, which: int, who: int, ioprio: int) -> int:
    host_syscall("ioprio_set", ctypes.c_int(p.int32(which)), ctypes.c_int(p.int32(who)),
                 ctypes.c_int(p.int32(ioprio)))
    return 0


@syscall("sched_rr_get_interval")
def sched_rr_get_interval(p: Process, pid: int, interval: int) -> int:
    return _write_interval(p, pid, interval, "timespec")


@syscall("sched_rr_get_interval_time64")
def sched_rr_get_interval_time64(p: Process, pid: int, interval: int) -> int:
    return _write_interval(p, pid, interval, "timespec64")


def _write_interval(p: Process, pid: int, address: int, layout: str) -> int:
    seconds = os.sched_rr_get_interval(_pid(p, pid))
    p.write_struct(address, layout, tv_sec=int(seconds), tv_nsec=round(seconds % 1 * 1e9))
    return 0


def _pid(p: Process, pid: int) -> int:
    pid = p.int32(pid)
    if pid < 0:
        raise OSError(errno.EINVAL, "negative pid")
    return pid


def _priority(p: Process, param: int) -> int:
    if not param:
        raise OSError(errno.EINVAL, "no sched_param")
    return p.read_int(param)


@syscall("personality")
def personality(p: Process, persona: int) -> int:
    """The execution domain: PER_LINUX with whatever flags the guest set
    (setarch -R sets ADDR_NO_RANDOMIZE, which xemu's layout already is).
    Returns the previous value; 0xffffffff only asks."""
    old = p.persona
    persona &= 0xFFFFFFFF
    if persona != PERSONALITY_QUERY:
        p.persona = persona
    return old


@syscall("sync")
def sync(p: Process) -> int:
    os.sync()
    return 0


@syscall("syncfs")
def syncfs(p: Process, fd: int) -> int:
    checked(LIBC.syncfs(p.fds.host(p.int32(fd))))
    return 0


@syscall("mincore")
def mincore(p: Process, address: int, length: int, vector: int) -> int:
    """Every mapped guest page is resident (xemu's buffers are ordinary
    memory): one byte of 1 per page; ENOMEM where a page is not mapped."""
    page = os.sysconf("SC_PAGE_SIZE")
    if address % page:
        return -errno.EINVAL
    pages = (length + page - 1) // page
    if pages == 0:
        return 0
    if not p.mem.is_mapped(address, pages * page):
        return -errno.ENOMEM
    p.mem.write(vector, b"\x01" * pages)
    return 0


@syscall("prctl")
def prctl(thread: Thread, option: int, arg2: int, arg3: int, arg4: int, arg5: int) -> int:
    """The options programs and runtimes use (PR_* below); any other is
    EINVAL, as the kernel answers options it does not know."""
    p = thread.process
    handler = PRCTL.get(p.int32(option))
    if handler is None:
        return -errno.EINVAL
    return handler(thread, arg2, arg3, arg4, arg5)


def _set_name(thread: Thread, name: int, *_) -> int:
    thread.name = thread.process.mem.read_cstring(name, 16)[:15]
    return 0


def _get_name(thread: Thread, address: int, *_) -> int:
    name = thread.name if thread.name is not None else \
        os.path.basename(thread.process.exe_path())[:15]
    thread.process.mem.write(address, name + b"\0")
    return 0


def _host_prctl(option: int):
    """An option whose state is the host process's own (xemu's is the guest's)."""
    def handler(thread: Thread, arg2: int, arg3: int, arg4: int, arg5: int) -> int:
        return checked(LIBC.prctl(option, ctypes.c_ulong(arg2), ctypes.c_ulong(arg3),
                                  ctypes.c_ulong(arg4), ctypes.c_ulong(arg5)))
    return handler


def _get_int(option: int):
    """A PR_GET_* that writes an int to the guest's pointer."""
    def handler(thread: Thread, address: int, *_) -> int:
        value = ctypes.c_int()
        checked(LIBC.prctl(option, ctypes.byref(value), 0, 0, 0))
        thread.process.write_int(address, value.value)
        return 0
    return handler


PR_SET_PDEATHSIG, PR_GET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_DUMPABLE = 1, 2, 3, 4
PR_SET_NAME, PR_GET_NAME, PR_GET_SECCOMP, PR_CAPBSET_READ = 15, 16, 21, 23
PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 36, 37
PR_SET_NO_NEW_PRIVS, PR_GET_NO_NEW_PRIVS, PR_GET_TID_ADDRESS = 38, 39, 40
PR_SET_THP_DISABLE, PR_GET_THP_DISABLE = 41, 42
PR_SET_TIMERSLACK, PR_GET_TIMERSLACK, PR_SET_KEEPCAPS, PR_GET_KEEPCAPS = 29, 30, 8, 7
PR_CAP_AMBIENT = 47

PRCTL = {
    PR_SET_NAME: _set_name,
    PR_GET_NAME: _get_name,
    PR_SET_PDEATHSIG: _host_prctl(PR_SET_PDEATHSIG),
    PR_GET_PDEATHSIG: _get_int(PR_GET_PDEATHSIG),
    PR_GET_DUMPABLE: _host_prctl(PR_GET_DUMPABLE),
    PR_SET_DUMPABLE: _host_prctl(PR_SET_DUMPABLE),
    PR_GET_KEEPCAPS: _host_prctl(PR_GET_KEEPCAPS),
    PR_SET_KEEPCAPS: _host_prctl(PR_SET_KEEPCAPS),
    PR_GET_SECCOMP: _host_prctl(PR_GET_SECCOMP),
    PR_CAPBSET_READ: _host_prctl(PR_CAPBSET_READ),
    PR_CAP_AMBIENT: _host_prctl(PR_CAP_AMBIENT),
    PR_SET_CHILD_SUBREAPER: _host_prctl(PR_SET_CHILD_SUBREAPER),
    PR_GET_CHILD_SUBREAPER: _get_int(PR_GET_CHILD_SUBREAPER),
    PR_SET_NO_NEW_PRIVS: _host_prctl(PR_SET_NO_NEW_PRIVS),
    PR_GET_NO_NEW_PRIVS: _host_prctl(PR_GET_NO_NEW_PRIVS),
    PR_SET_THP_DISABLE: _host_prctl(PR_SET_THP_DISABLE),
    PR_GET_THP_DISABLE: _host_prctl(PR_GET_THP_DISABLE),
    PR_SET_TIMERSLACK: _host_prctl(PR_SET_TIMERSLACK),
    PR_GET_TIMERSLACK: _host_prctl(PR_GET_TIMERSLACK),
}
