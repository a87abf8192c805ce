"""What a debugger needs of an accelerator, the part both share.

Watchpoints are page protection: a watched page loses the rights the
watched access needs, so that access faults before it has any effect, and
the accelerator steps it with the page open. Other accesses to the page
are stepped over the same way.
"""
from __future__ import annotations

from ..memory import PAGE, PROT_READ, PROT_WRITE, page_down, page_up
from .base import Stop

# What a watched page loses. A read watch takes writes too: under Unicorn a
# write loads a TLB entry through which reads then pass unchecked.
WATCH_TAKES = {"write": PROT_WRITE, "read": PROT_READ | PROT_WRITE,
               "access": PROT_READ | PROT_WRITE}


def watched_pages(watches: list[tuple[str, int, int]]) -> dict[int, int]:
    """page -> the rights taken from it, for (access, address, length) watches."""
    pages: dict[int, int] = {}
    for access, address, length in watches:
        for page in range(page_down(address), page_up(address + length), PAGE):
            pages[page] = pages.get(page, 0) | WATCH_TAKES[access]
    return pages


class Debugging:
    """The GDB stub's side of an accelerator, over what each one provides:
    `_breakpoints` (address -> anything), `set_breakpoint`,
    `clear_breakpoint`, `step`, `interrupt`, `read_memory`, `write_memory`,
    `_continue` (run on from the current pc) and `_protect_watched_pages`."""

    _watches: list[tuple[str, int, int]]

    def resume(self, timeout: float | None = None) -> Stop:
        """Continue from the current pc; a breakpoint there is stepped over."""
        if self.regs.read(self.spec.pc) in self._breakpoints:
            stop = self.step()
            if stop is not None:
                return stop
        return self._continue(timeout)

    def set_watchpoint(self, access: str, address: int, length: int) -> bool:
        self._protect_watched_pages(False)
        self._watches.append((access, address, length))
        self._protect_watched_pages(True)
        return True

    def clear_watchpoint(self, access: str, address: int, length: int) -> None:
        self._protect_watched_pages(False)
        if (access, address, length) in self._watches:
            self._watches.remove((access, address, length))
        self._protect_watched_pages(True)

    def clear_debug(self) -> None:
        """Every breakpoint and watchpoint out (a debugger detached)."""
        for address in list(self._breakpoints):
            self.clear_breakpoint(address)
        self._protect_watched_pages(False)
        self._watches.clear()
