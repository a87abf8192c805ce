"""One Unicorn engine's memory map, with as few mappings as the guest's
regions allow.

Every uc_mem_map_ptr and uc_mem_unmap rebuilds QEMU's view of the whole
address space, so its cost grows with the mappings Unicorn has: with 4,000
one-page regions each guest mmap cost 30 ms. Guest regions that are
neighbours in guest and host memory alike (the Memory's `HostArena` places
them so) and have the same rights are therefore one Unicorn mapping, a span.
Unicorn's own checks, which watchpoints and the replay of a refused access
rely on, see exactly the guest's pages and rights as before.

Joining is an unmap and a map of the whole span, and unmapping costs time
in proportion to its pages (about 50 ns each: 0.4 ms a call for 8,000), so
regions join only while the span stays within SPAN_LIMIT (a region larger
than that is one span of its own).
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass

from unicorn import Uc

SPAN_LIMIT = 2 << 20


@dataclass
class Span:
    start: int
    end: int
    perms: int
    host: int            # host address of start


class UnicornMap:
    def __init__(self, uc: Uc):
        self.uc = uc
        self._starts: list[int] = []
        self._spans: list[Span] = []

    def add(self, start: int, end: int, perms: int, host: int) -> None:
        """Map [start, end), whose bytes are at host, joined with the spans
        it continues on both sides."""
        joined = []
        below = self._span_ending_at(start)
        if below is not None and below.perms == perms and \
                below.host + below.end - below.start == host and end - below.start <= SPAN_LIMIT:
            joined.append(below)
            start, host = below.start, below.host
        above = self._span_at(end)
        if above is not None and above.perms == perms and \
                above.host == host + end - start and above.end - start <= SPAN_LIMIT:
            joined.append(above)
            end = above.end
        for span in joined:
            self._unmap(span)
        try:
            self._map(Span(start, end, perms, host))
        except BaseException:
            for span in joined:          # the map stays as it was
                self._map(span)
            raise

    def remove(self, start: int, end: int) -> None:
        """Unmap [start, end), which lies within one span; the span's rest
        stays mapped."""
        i = bisect.bisect_right(self._starts, start) - 1
        span = self._spans[i]
        if not span.start <= start < end <= span.end:
            raise ValueError(f"{start:#x}-{end:#x} is not inside one mapping")
        self._unmap(span)
        for lo, hi in ((span.start, start), (end, span.end)):
            if hi > lo:
                self._map(Span(lo, hi, span.perms, span.host + lo - span.start))

    def _span_at(self, address: int) -> Span | None:
        i = bisect.bisect_left(self._starts, address)
        return self._spans[i] if i < len(self._starts) and self._starts[i] == address else None

    def _span_ending_at(self, address: int) -> Span | None:
        i = bisect.bisect_left(self._starts, address) - 1
        return self._spans[i] if i >= 0 and self._spans[i].end == address else None

    def _map(self, span: Span) -> None:
        self.uc.mem_map_ptr(span.start, span.end - span.start, span.perms, span.host)
        i = bisect.bisect_left(self._starts, span.start)
        self._starts.insert(i, span.start)
        self._spans.insert(i, span)

    def _unmap(self, span: Span) -> None:
        self.uc.mem_unmap(span.start, span.end - span.start)
        i = bisect.bisect_left(self._starts, span.start)
        del self._starts[i], self._spans[i]
