"""The process itself: exit, ids, limits, uname, scheduling, randomness, futex."""
from __future__ import annotations

import errno
import os
import resource
import struct

from ...machine.accel.base import Exit
from ..process import Process
from ..thread import Thread, ThreadExit
from .registry import syscall

FUTEX_WAIT, FUTEX_WAKE, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET = 0, 1, 9, 10
FUTEX_COMMAND_MASK = 0x7F
RLIM_INFINITY = (1 << 64) - 1


@syscall("exit")
def exit_(thread: Thread, status: int) -> ThreadExit:
    """The calling thread ends; the OS loop ends the process with the last one."""
    return ThreadExit(status & 0xFF)


@syscall("exit_group")
def exit_group(p: Process, status: int) -> Exit:
    return Exit(status & 0xFF)


@syscall("gettid")
def gettid(thread: Thread) -> int:
    return thread.tid


# Calls that only report a fact of the host process, one row each.
FACTS = {
    ("getpid",): os.getpid,
    ("getppid",): os.getppid,
    ("getuid", "getuid32"): os.getuid,
    ("geteuid", "geteuid32"): os.geteuid,
    ("getgid", "getgid32"): os.getgid,
    ("getegid", "getegid32"): os.getegid,
    ("getpgrp",): os.getpgrp,
}


def _reporting(fact):
    def handler(p: Process) -> int:
        return fact()
    handler.__name__ = fact.__name__
    return handler


for _names, _fact in FACTS.items():
    syscall(*_names)(_reporting(_fact))


@syscall("getpgid")
def getpgid(p: Process, pid: int) -> int:
    return os.getpgid(p.int32(pid))


@syscall("getsid")
def getsid(p: Process, pid: int) -> int:
    return os.getsid(p.int32(pid))


@syscall("set_tid_address")
def set_tid_address(thread: Thread, tidptr: int) -> int:
    """Where the thread's tid is cleared when it exits; returns its tid."""
    thread.clear_child_tid = tidptr
    return thread.tid


@syscall("set_robust_list")
def set_robust_list(p: Process, head: int, size: int) -> int:
    return 0


@syscall("uname")
def uname(p: Process, buf: int) -> int:
    host = os.uname()
    p.write_struct(buf, "utsname", sysname=b"Linux", nodename=host.nodename.encode(),
                   release=host.release.encode(), version=host.version.encode(),
                   machine=p.spec.linux.uname_machine.encode(), domainname=b"(none)")
    return 0


def _limit(value: int) -> int:
    """A host limit as the guest's type holds it (RLIM_INFINITY is all ones)."""
    return RLIM_INFINITY if value == resource.RLIM_INFINITY else value


@syscall("prlimit64")
def prlimit64(p: Process, pid: int, which: int, new: int, old: int) -> int:
    if p.int32(pid) not in (0, os.getpid()):
        return -errno.EPERM
    if old:
        soft, hard = resource.getrlimit(p.int32(which))
        p.write_struct(old, "rlimit64", rlim_cur=_limit(soft), rlim_max=_limit(hard))
    return 0            # a new limit is accepted and not enforced


@syscall("getrlimit", "ugetrlimit")
def getrlimit(p: Process, which: int, buf: int) -> int:
    soft, hard = resource.getrlimit(p.int32(which))
    cap = (1 << p.spec.bits) - 1
    p.write_struct(buf, "rlimit", rlim_cur=min(_limit(soft), cap),
                   rlim_max=min(_limit(hard), cap))
    return 0


@syscall("setrlimit")
def setrlimit(p: Process, which: int, buf: int) -> int:
    return 0


@syscall("sched_getaffinity")
def sched_getaffinity(p: Process, pid: int, size: int, mask: int) -> int:
    cpus = os.sched_getaffinity(0)
    bits = sum(1 << cpu for cpu in cpus)
    nbytes = max(p.spec.word_size, ((max(cpus) // 8) + p.spec.word_size)
                 // p.spec.word_size * p.spec.word_size)
    if size < nbytes:
        return -errno.EINVAL
    words = [(bits >> (i * p.spec.bits)) & p.word_mask
             for i in range(nbytes // p.spec.word_size)]
    p.mem.write(mask, p.pack_words(*words))
    return nbytes


@syscall("sched_yield")
def sched_yield(p: Process) -> int:
    os.sched_yield()
    return 0


@syscall("getrandom")
def getrandom(p: Process, buf: int, size: int, flags: int) -> int:
    size = min(size, 1 << 25)
    p.mem.write(buf, os.urandom(size))
    return size


@syscall("futex", "futex_time64")
def futex(p: Process, uaddr: int, op: int, val: int) -> int:
    """One thread: a wait whose value still matches could never be woken."""
    command = op & FUTEX_COMMAND_MASK
    if command in (FUTEX_WAKE, FUTEX_WAKE_BITSET):
        return 0
    if command in (FUTEX_WAIT, FUTEX_WAIT_BITSET):
        current = struct.unpack(p.spec.endian + "I", p.mem.read(uaddr, 4))[0]
        if current != val & 0xFFFFFFFF:
            return -errno.EAGAIN
        return -errno.ETIMEDOUT
    return -errno.ENOSYS


@syscall("rseq")
def rseq(p: Process, address: int, length: int, flags: int, signature: int) -> int:
    return -errno.ENOSYS            # glibc carries on without restartable sequences


@syscall("prctl")
def prctl(p: Process, option: int, arg2: int) -> int:
    return -errno.EINVAL


@syscall("sysinfo")
def sysinfo(p: Process, buf: int) -> int:
    with open("/proc/uptime") as f:
        uptime = int(float(f.read().split()[0]))
    pages = os.sysconf("SC_PHYS_PAGES")
    free = os.sysconf("SC_AVPHYS_PAGES")
    unit = os.sysconf("SC_PAGE_SIZE")
    p.write_struct(buf, "sysinfo", uptime=uptime, totalram=pages, freeram=free,
                   procs=1, mem_unit=unit)
    return 0
