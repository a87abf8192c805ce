"""Debugger watchpoints as page protection, shared by both accelerators: a
watched page loses the rights the watched access needs, so that access
faults before it has any effect, and the accelerator steps it with the
page open. Other accesses to the page are stepped over the same way."""
from __future__ import annotations

from ..memory import PAGE, PROT_READ, PROT_WRITE, page_down, page_up

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
