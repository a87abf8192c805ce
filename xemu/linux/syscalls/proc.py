"""The process itself: exit, ids, limits, uname, scheduling, randomness, futex."""
from __future__ import annotations

import errno
import os
import resource
import signal
import struct

from ...machine.accel.base import Exit
from ..exec import prepare_exec, read_string_array
from ..fork import CLONE_VFORK, CLONE_VM, clone_request
from ..process import AT_FDCWD, Process
from ..signals import ERESTARTSYS, SIGINFO_SIZE, Siginfo, host_signals, wait_for
from ..thread import Thread, ThreadExit
from .registry import syscall

FUTEX_WAIT, FUTEX_WAKE, FUTEX_WAIT_BITSET, FUTEX_WAKE_BITSET = 0, 1, 9, 10
FUTEX_COMMAND_MASK = 0x7F
RLIM_INFINITY = (1 << 64) - 1
RLIM_NLIMITS = 16            # asm-generic/resource.h: resources 0..15


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
    if not 0 <= p.int32(which) < RLIM_NLIMITS:
        return -errno.EINVAL
    if p.int32(pid) not in (0, os.getpid()):
        return -errno.EPERM
    if old:
        soft, hard = resource.getrlimit(p.int32(which))
        p.write_struct(old, "rlimit64", rlim_cur=_limit(soft), rlim_max=_limit(hard))
    return 0            # a new limit is accepted and not enforced


@syscall("getrlimit", "ugetrlimit")
def getrlimit(p: Process, which: int, buf: int) -> int:
    if not 0 <= p.int32(which) < RLIM_NLIMITS:
        return -errno.EINVAL
    soft, hard = resource.getrlimit(p.int32(which))
    cap = (1 << p.spec.bits) - 1
    p.write_struct(buf, "rlimit", rlim_cur=min(_limit(soft), cap),
                   rlim_max=min(_limit(hard), cap))
    return 0


@syscall("setrlimit")
def setrlimit(p: Process, which: int, buf: int) -> int:
    if not 0 <= p.int32(which) < RLIM_NLIMITS:
        return -errno.EINVAL
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


# -- new processes and programs (fork.py, exec.py; the OS loop makes them) ----

@syscall("clone")
def clone(thread: Thread, a0: int, a1: int, a2: int, a3: int, a4: int):
    """clone's five arguments in the order this arch's kernel takes them."""
    p = thread.process
    given = dict(zip(p.spec.linux.clone.args, (a0, a1, a2, a3, a4), strict=True))
    return clone_request(thread, given["flags"] & 0xFFFFFFFF, given["stack"],
                         given["parent_tid"], given["child_tid"], given["tls"])


@syscall("fork")
def fork(thread: Thread):
    return clone_request(thread, signal.SIGCHLD, 0, 0, 0, 0)


@syscall("vfork")
def vfork(thread: Thread):
    return clone_request(thread, CLONE_VM | CLONE_VFORK | signal.SIGCHLD, 0, 0, 0, 0)


CLONE_ARGS_FIELDS = ("flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack",
                     "stack_size", "tls")
CLONE_ARGS_SIZE_VER0 = 64
CLONE_PIDFD, CLONE_NEWNS_AND_MORE = 0x1000, 0x7E020000   # pidfds; namespaces, cgroups


@syscall("clone3")
def clone3(thread: Thread, args: int, size: int):
    """clone3(struct clone_args *, size): the same as clone, from a struct of
    u64s; the stack is given as its lowest address and size."""
    p = thread.process
    if size < CLONE_ARGS_SIZE_VER0:
        return -errno.EINVAL
    given = dict(zip(CLONE_ARGS_FIELDS,
                     struct.unpack(p.spec.endian + "8Q", p.mem.read(args, 64)), strict=True))
    flags = given["flags"]
    if flags & (CLONE_PIDFD | CLONE_NEWNS_AND_MORE) or flags >> 32 \
            or given["exit_signal"] > 64:
        return -errno.EINVAL
    if flags & CLONE_VM and not flags & CLONE_VFORK:
        return -errno.ENOSYS      # threads: glibc falls back to clone on ENOSYS
    stack = given["stack"] + given["stack_size"] if given["stack"] else 0
    return clone_request(thread, flags | given["exit_signal"], stack, given["parent_tid"],
                         given["child_tid"], given["tls"])


AT_EMPTY_PATH = 0x1000


@syscall("execve")
def execve(thread: Thread, path: int, argv: int, envp: int):
    return execveat(thread, AT_FDCWD, path, argv, envp, 0)


@syscall("execveat")
def execveat(thread: Thread, dirfd: int, path: int, argv: int, envp: int, flags: int):
    p = thread.process
    return prepare_exec(p, p.int32(dirfd), p.guest_path(path), read_string_array(p, argv),
                        read_string_array(p, envp), empty_path=bool(flags & AT_EMPTY_PATH))


# wait options are the same numbers on every arch and on the host
WAIT_OPTIONS = 0x1 | 0x2 | 0x4 | 0x8 | 0x01000000 | 0x20000000 | 0x40000000 | 0x80000000


@syscall("wait4")
def wait4(thread: Thread, pid: int, status: int, options: int, rusage: int) -> int:
    p = thread.process
    options = p.int32(options)
    if options & ~WAIT_OPTIONS & 0xFFFFFFFF:
        return -errno.EINVAL
    waited = _wait_child(thread, lambda flags: os.wait4(p.int32(pid), flags),
                         options, lambda result: result[0])
    if waited is None:
        return -ERESTARTSYS
    found, code, usage = waited
    if found and status:
        p.mem.write(status, struct.pack(p.spec.endian + "i", code))
    if rusage:
        write_rusage(p, rusage, usage)
    return found


@syscall("waitpid")
def waitpid(thread: Thread, pid: int, status: int, options: int) -> int:
    return wait4(thread, pid, status, options, 0)


def _wait_child(thread: Thread, call, options: int, found):
    """A wait that blocks, interruptible: poll the host's wait with WNOHANG
    between wake-ups (SIGCHLD and every other signal ring the wake pipe).
    None if a signal the guest takes came first."""
    if options & os.WNOHANG or host_signals() is None:
        return call(options)
    while True:
        result = call(options | os.WNOHANG)
        if result is not None and found(result):
            return result
        if wait_for(thread, [], None, wake_returns=True) is None:
            return None


CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_TRAPPED, CLD_STOPPED, CLD_CONTINUED = 1, 2, 3, 4, 5, 6


@syscall("waitid")
def waitid(thread: Thread, idtype: int, ident: int, infop: int, options: int,
           rusage: int) -> int:
    p = thread.process
    options = p.int32(options)
    result = _wait_child(thread, lambda flags: os.waitid(p.int32(idtype), p.int32(ident),
                                                         flags),
                         options, lambda found: found is not None)
    if result is None and not options & os.WNOHANG:
        return -ERESTARTSYS
    if infop:
        p.mem.write(infop, child_siginfo(p, result))
    if rusage:
        write_rusage(p, rusage, resource.getrusage(resource.RUSAGE_CHILDREN))
    return 0


def child_siginfo(p: Process, result) -> bytes:
    """A SIGCHLD siginfo_t for waitid; a WNOHANG that found nothing leaves
    it all zero, as Linux does."""
    if result is None:
        return bytes(SIGINFO_SIZE)
    return Siginfo(signal.SIGCHLD, result.si_code, result.si_pid, result.si_uid,
                   status=result.si_status).pack(p.spec)


def write_rusage(p: Process, address: int, usage) -> None:
    seconds = lambda t: (int(t), int(t % 1 * 1e6))       # noqa: E731
    (user_s, user_us), (sys_s, sys_us) = seconds(usage.ru_utime), seconds(usage.ru_stime)
    p.write_struct(address, "rusage", ru_utime_sec=user_s, ru_utime_usec=user_us,
                   ru_stime_sec=sys_s, ru_stime_usec=sys_us,
                   **{f"ru_{name}": getattr(usage, f"ru_{name}") for name in RUSAGE_LONGS})


RUSAGE_LONGS = ("maxrss", "ixrss", "idrss", "isrss", "minflt", "majflt", "nswap", "inblock",
                "oublock", "msgsnd", "msgrcv", "nsignals", "nvcsw", "nivcsw")


@syscall("setpgid")
def setpgid(p: Process, pid: int, pgid: int) -> int:
    os.setpgid(p.int32(pid), p.int32(pgid))
    return 0


@syscall("setsid")
def setsid(p: Process) -> int:
    os.setsid()
    return os.getsid(0)
