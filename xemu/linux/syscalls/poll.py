"""I/O multiplexing: poll, ppoll, select, pselect6 (and the time64 forms of
32-bit arches), on the host's poll, woken by signals (linux/signals.py).

Guest descriptors become xemu's host descriptors for the wait; the event
bits (POLLIN...) are the same numbers on every arch here and on the host.
"""
from __future__ import annotations

import errno
import select
import struct
import time

from ..process import Process
from ..signals import ERESTARTNOHAND, set_blocked, sigset_value, wait_for
from ..thread import Thread
from .registry import syscall
from .time import read_timeout

POLLNVAL = select.POLLNVAL
# select's three sets as poll events: readable, writable, exceptional
SELECT_EVENTS = (select.POLLIN | select.POLLHUP | select.POLLERR,
                 select.POLLOUT | select.POLLERR, select.POLLPRI)
MAX_FDS = 1 << 20


def wait_with_mask(thread: Thread, wanted: list[tuple[int, int]], timeout: float | None,
                   mask: int | None) -> list[tuple[int, int]] | None:
    """Poll host fds with an optional temporary signal mask (ppoll,
    pselect6): None if a signal came first (its handler's frame saves the
    mask the thread had before the call)."""
    if mask is not None:
        thread.saved_mask = thread.blocked
        set_blocked(thread, mask)
    ready = wait_for(thread, wanted, timeout)
    if ready is not None and mask is not None:
        set_blocked(thread, thread.saved_mask)
        thread.saved_mask = None
    return ready


def read_sigmask(p: Process, address: int, size: int) -> int | None:
    if not address:
        return None
    if size != 8:
        raise OSError(errno.EINVAL, "bad sigset size")
    return sigset_value(p.spec, p.mem.read(address, 8))


# -- poll ---------------------------------------------------------------------------

def _poll(thread: Thread, fds: int, nfds: int, timeout: float | None,
          mask: int | None) -> int:
    p = thread.process
    if nfds > MAX_FDS:
        return -errno.EINVAL
    layout = p.layout("pollfd")
    entries = [layout.unpack(p.mem.read(fds + i * layout.size, layout.size))
               for i in range(nfds)]
    revents = [0] * nfds
    wanted: list[tuple[int, int]] = []
    where: dict[int, list[int]] = {}
    for index, entry in enumerate(entries):
        if entry["fd"] < 0:
            continue
        try:
            host = p.fds.host(entry["fd"])
        except OSError:
            revents[index] = POLLNVAL
            continue
        wanted.append((host, entry["events"] | select.POLLERR | select.POLLHUP))
        where.setdefault(host, []).append(index)
    if any(revents):
        timeout = 0                          # POLLNVAL is an event: do not wait
    ready = wait_with_mask(thread, wanted, timeout, mask)
    if ready is None:
        return -ERESTARTNOHAND
    for host, events in ready:
        for index in where.get(host, ()):
            revents[index] |= events & (entries[index]["events"] | select.POLLERR
                                        | select.POLLHUP | POLLNVAL)
    for index, entry in enumerate(entries):
        if revents[index] or entry["revents"]:
            p.mem.write(fds + index * layout.size + layout.offset_of("revents"),
                        struct.pack(p.spec.endian + "H", revents[index]))
    return sum(1 for r in revents if r)


@syscall("poll")
def poll(thread: Thread, fds: int, nfds: int, timeout_ms: int) -> int:
    timeout_ms = thread.process.int32(timeout_ms)
    return _poll(thread, fds, nfds, None if timeout_ms < 0 else timeout_ms / 1000, None)


@syscall("ppoll")
def ppoll(thread: Thread, fds: int, nfds: int, timeout: int, mask: int, size: int) -> int:
    p = thread.process
    return _poll(thread, fds, nfds, read_timeout(p, timeout, "timespec"),
                 read_sigmask(p, mask, size))


@syscall("ppoll_time64")
def ppoll_time64(thread: Thread, fds: int, nfds: int, timeout: int, mask: int,
                 size: int) -> int:
    p = thread.process
    return _poll(thread, fds, nfds, read_timeout(p, timeout, "timespec64"),
                 read_sigmask(p, mask, size))


# -- select --------------------------------------------------------------------------

def _read_fdset(p: Process, address: int, nfds: int) -> set[int]:
    if not address:
        return set()
    bits = p.spec.bits
    words = (nfds + bits - 1) // bits
    code = p.spec.endian + ("Q" if bits == 64 else "I") * words
    values = struct.unpack(code, p.mem.read(address, words * p.spec.word_size))
    return {fd for fd in range(nfds) if values[fd // bits] >> (fd % bits) & 1}


def _write_fdset(p: Process, address: int, nfds: int, fds: set[int]) -> None:
    if not address:
        return
    bits = p.spec.bits
    words = [0] * ((nfds + bits - 1) // bits)
    for fd in fds:
        words[fd // bits] |= 1 << (fd % bits)
    p.mem.write(address, struct.pack(p.spec.endian + ("Q" if bits == 64 else "I") * len(words),
                                     *words))


def _select(thread: Thread, nfds: int, sets: tuple[int, int, int], timeout: float | None,
            mask: int | None, timeout_address: int = 0, layout: str = "") -> int:
    p = thread.process
    nfds = p.int32(nfds)
    if not 0 <= nfds <= MAX_FDS:
        return -errno.EINVAL
    wanted_sets = [_read_fdset(p, address, nfds) for address in sets]
    events: dict[int, int] = {}
    for wanted, kind in zip(wanted_sets, SELECT_EVENTS):
        for fd in wanted:
            events[fd] = events.get(fd, 0) | kind
    host_of = {}
    for fd in events:
        host_of[fd] = p.fds.host(fd)             # EBADF, as select answers
    started = time.monotonic()
    ready = wait_with_mask(thread, [(host_of[fd], ev) for fd, ev in events.items()],
                           timeout, mask)
    if ready is None:
        return -ERESTARTNOHAND
    happened = {}
    for host, revents in ready:
        happened[host] = happened.get(host, 0) | revents
    count = 0
    results = []
    for wanted, kind in zip(wanted_sets, SELECT_EVENTS):
        hit = {fd for fd in wanted if happened.get(host_of[fd], 0) & kind}
        count += len(hit)
        results.append(hit)
    for address, hit in zip(sets, results):
        _write_fdset(p, address, nfds, hit)
    if timeout_address and layout == "timeval" and timeout is not None:
        left = max(0.0, timeout - (time.monotonic() - started))   # Linux updates it
        p.write_struct(timeout_address, "timeval", tv_sec=int(left),
                       tv_usec=int(left % 1 * 1e6))
    return count


@syscall("select")
def select_(thread: Thread, nfds: int, readfds: int, writefds: int, exceptfds: int,
            timeout: int) -> int:
    return _select(thread, nfds, (readfds, writefds, exceptfds),
                   read_timeout(thread.process, timeout, "timeval"), None, timeout, "timeval")


@syscall("_newselect")
def newselect(thread: Thread, nfds: int, readfds: int, writefds: int, exceptfds: int,
              timeout: int) -> int:
    return select_(thread, nfds, readfds, writefds, exceptfds, timeout)


@syscall("old_select")
def old_select(thread: Thread, args: int) -> int:
    """i386's select (82): one pointer to the five arguments."""
    p = thread.process
    values = struct.unpack(p.spec.endian + "5I", p.mem.read(args, 20))
    return select_(thread, *values)


def _pselect(thread: Thread, nfds: int, sets: tuple[int, int, int], timeout: int,
             sigmask: int, layout: str) -> int:
    """pselect6's sixth argument points at {const sigset_t *ss; size_t ss_len}."""
    p = thread.process
    mask = None
    if sigmask:
        code = p.spec.endian + ("QQ" if p.spec.bits == 64 else "II")
        address, size = struct.unpack(code, p.mem.read(sigmask, 2 * p.spec.word_size))
        mask = read_sigmask(p, address, size)
    return _select(thread, nfds, sets, read_timeout(p, timeout, layout), mask)


@syscall("pselect6")
def pselect6(thread: Thread, nfds: int, readfds: int, writefds: int, exceptfds: int,
             timeout: int, sigmask: int) -> int:
    return _pselect(thread, nfds, (readfds, writefds, exceptfds), timeout, sigmask, "timespec")


@syscall("pselect6_time64")
def pselect6_time64(thread: Thread, nfds: int, readfds: int, writefds: int, exceptfds: int,
                    timeout: int, sigmask: int) -> int:
    return _pselect(thread, nfds, (readfds, writefds, exceptfds), timeout, sigmask,
                    "timespec64")
