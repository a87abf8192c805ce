"""The process itself: exit, ids, limits, uname, scheduling, randomness, futex."""
from __future__ import annotations

import errno
import os
import resource
import signal
import struct
import time as host_time

from ...machine.accel.base import Exit
from ..exec import prepare_exec, read_string_array
from .. import futex as futexes
from ..fork import CLONE_VFORK, CLONE_VM, clone_request, in_vfork_child
from ..process import AT_FDCWD, Process
from ..signals import ERESTARTSYS, SIGINFO_SIZE, Siginfo, host_signals, wait_for
from ..thread import Thread, ThreadExit
from .registry import host_fact, syscall
from .time import read_timeout

RLIM_INFINITY = (1 << 64) - 1
RLIM_NLIMITS = 16            # asm-generic/resource.h: resources 0..15


@syscall("exit")
def exit_(thread: Thread, status: int) -> ThreadExit:
    """The calling thread ends; the OS loop ends the process with the last one."""
    return ThreadExit(status & 0xFF)


@syscall("exit_group")
def exit_group(p: Process, status: int) -> Exit:
    return Exit(status & 0xFF)


@syscall("getppid", in_machine=host_fact("getppid"))
def getppid(thread: Thread) -> int:
    """A vfork child runs inside its parent's host process until it execs
    or exits: its parent is that process (busybox timeout's watcher kills
    the pid its vfork child found here, which must not be the shell's)."""
    return os.getpid() if in_vfork_child(thread) else os.getppid()


@syscall("gettid")
def gettid(thread: Thread) -> int:
    return thread.tid


# Calls that only report a fact of the host process, one row each.
FACTS = {
    ("getpid",): os.getpid,
    ("getpgrp",): os.getpgrp,
}


def _reporting(fact):
    def handler(p: Process) -> int:
        return fact()
    handler.__name__ = fact.__name__
    return handler


for _names, _fact in FACTS.items():
    syscall(*_names, in_machine=host_fact(_fact.__name__))(_reporting(_fact))


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
def sched_yield(thread: Thread) -> int:
    """Another thread that waits for the CPU runs first (sched.py)."""
    thread.process.cpu.hand_over(thread)
    return 0


@syscall("sched_setaffinity")
def sched_setaffinity(p: Process, pid: int, size: int, mask: int) -> int:
    """Accepted when the set names a CPU this host has (threads of one
    process share the host's CPUs as xemu schedules them)."""
    word = p.spec.word_size
    data = p.mem.read(mask, min(size, 128) // word * word)
    words = struct.unpack(f"{p.spec.endian}{len(data) // word}{'I' if word == 4 else 'Q'}",
                          data)
    wanted = sum(value << (i * p.spec.bits) for i, value in enumerate(words))
    if not wanted & sum(1 << cpu for cpu in os.sched_getaffinity(0)):
        return -errno.EINVAL
    return 0


@syscall("getcpu")
def getcpu(p: Process, cpu: int, node: int) -> int:
    number = _current_cpu()
    if cpu:
        p.mem.write(cpu, struct.pack(p.spec.endian + "I", number))
    if node:
        p.mem.write(node, struct.pack(p.spec.endian + "I", 0))
    return 0


def _current_cpu() -> int:
    try:
        with open("/proc/thread-self/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[37])
    except (OSError, IndexError, ValueError):
        return 0


MEMBARRIER_CMD_QUERY = 0
# GLOBAL, PRIVATE_EXPEDITED and its REGISTER: every thread's stores are
# seen by every other once the call returns (TCG: one runs at a time; KVM:
# the host's own barrier, the exit and entry of each vCPU)
MEMBARRIER_SUPPORTED = 0x1 | 0x8 | 0x10


@syscall("membarrier")
def membarrier(p: Process, cmd: int, flags: int) -> int:
    cmd = p.int32(cmd)
    if cmd == MEMBARRIER_CMD_QUERY:
        return MEMBARRIER_SUPPORTED
    if flags or cmd & ~MEMBARRIER_SUPPORTED or cmd & (cmd - 1):
        return -errno.EINVAL
    return 0


@syscall("getrandom")
def getrandom(p: Process, buf: int, size: int, flags: int) -> int:
    size = min(size, 1 << 25)
    p.mem.write(buf, os.urandom(size))
    return size


@syscall("futex")
def futex(thread: Thread, uaddr: int, op: int, val: int, timeout: int, uaddr2: int,
          val3: int) -> int:
    return _futex(thread, uaddr, op, val, timeout, uaddr2, val3, "timespec")


@syscall("futex_time64")
def futex_time64(thread: Thread, uaddr: int, op: int, val: int, timeout: int, uaddr2: int,
                 val3: int) -> int:
    return _futex(thread, uaddr, op, val, timeout, uaddr2, val3, "timespec64")


def _futex(thread: Thread, uaddr: int, op: int, val: int, timeout: int, uaddr2: int,
           val3: int, layout: str) -> int:
    """futex(2)'s operations (linux/futex.py); the fourth argument is a
    timeout for the waits and a count (val2) for requeue and wake_op."""
    p = thread.process
    command = op & futexes.FUTEX_COMMAND_MASK
    val, val3 = val & 0xFFFFFFFF, val3 & 0xFFFFFFFF
    count = min(p.int32(val), 1 << 30) if p.int32(val) >= 0 else 0
    count2 = timeout & 0x7FFFFFFF
    if command in (futexes.FUTEX_WAIT, futexes.FUTEX_WAIT_BITSET):
        realtime = op & futexes.FUTEX_CLOCK_REALTIME
        clock = host_time.time if realtime else host_time.monotonic
        seconds = read_timeout(p, timeout, layout)
        if seconds is None:
            deadline = None
        elif command == futexes.FUTEX_WAIT:    # relative
            deadline = clock() + seconds
        else:                                # absolute, on its clock
            deadline = seconds
        bitset = val3 if command == futexes.FUTEX_WAIT_BITSET else futexes.FUTEX_BITSET_MATCH_ANY
        return futexes.wait(thread, uaddr, val, deadline, bitset, clock)
    if command in (futexes.FUTEX_WAKE, futexes.FUTEX_WAKE_BITSET):
        bitset = val3 if command == futexes.FUTEX_WAKE_BITSET else futexes.FUTEX_BITSET_MATCH_ANY
        if not bitset:
            return -errno.EINVAL
        futexes.load(p, uaddr)                 # EFAULT for an unmapped word, as Linux
        return p.futexes.wake(uaddr, count, bitset)
    if command in (futexes.FUTEX_REQUEUE, futexes.FUTEX_CMP_REQUEUE):
        if p.int32(val) < 0 or p.int32(timeout) < 0:
            return -errno.EINVAL
        if command == futexes.FUTEX_CMP_REQUEUE and futexes.load(p, uaddr) != val3:
            return -errno.EAGAIN
        futexes.load(p, uaddr2)
        return p.futexes.requeue(uaddr, count, count2, uaddr2)
    if command == futexes.FUTEX_WAKE_OP:
        return futexes.wake_op(p, uaddr, count, uaddr2, count2, val3)
    return -errno.ENOSYS                     # priority inheritance, FUTEX_FD


@syscall("set_robust_list")
def set_robust_list(thread: Thread, head: int, size: int) -> int:
    if size != 3 * thread.process.spec.word_size:
        return -errno.EINVAL
    thread.robust_list = head
    return 0


@syscall("get_robust_list")
def get_robust_list(thread: Thread, pid: int, head_ptr: int, size_ptr: int) -> int:
    p = thread.process
    tid = p.int32(pid)
    target = thread if tid == 0 else p.threads.get(tid)
    if target is None:
        return -errno.ESRCH
    p.mem.write(head_ptr, p.pack_words(target.robust_list))
    p.mem.write(size_ptr, p.pack_words(3 * p.spec.word_size))
    return 0


@syscall("rseq")
def rseq(p: Process, address: int, length: int, flags: int, signature: int) -> int:
    return -errno.ENOSYS            # glibc carries on without restartable sequences


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
    between wake-ups (SIGCHLD and every other signal ring the thread's wake descriptor).
    None if a signal the guest takes came first."""
    if options & os.WNOHANG or host_signals() is None:
        return call(options)
    while True:
        result = call(options | os.WNOHANG)
        if result is not None and found(result):
            return result
        if wait_for(thread, [], None, wake_returns=True) is None:
            return None


P_PIDFD = 3
CLD_EXITED, CLD_KILLED, CLD_DUMPED, CLD_TRAPPED, CLD_STOPPED, CLD_CONTINUED = 1, 2, 3, 4, 5, 6


@syscall("waitid")
def waitid(thread: Thread, idtype: int, ident: int, infop: int, options: int,
           rusage: int) -> int:
    p = thread.process
    options, idtype, ident = p.int32(options), p.int32(idtype), p.int32(ident)
    if idtype == P_PIDFD:           # ident is a guest descriptor: the host's stands for it
        ident = p.fds.host(ident)
    result = _wait_child(thread, lambda flags: os.waitid(idtype, ident, flags),
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
