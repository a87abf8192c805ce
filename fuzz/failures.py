"""Failures, grouped: one group per distinct bug, keyed by the traceback's
last frame (file, line, function) and exception type, or by the message
with numbers taken out where there is no traceback."""
from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field

FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<function>\S+)')
EXCEPTION = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)\b|"
                       r"[A-Za-z_][\w.]*Error)")
NUMBERS = re.compile(r"0x[0-9a-fA-F]+|\d+")


def is_bad(text: str) -> bool:
    """What no run may ever print."""
    return "Traceback" in text or "internal error" in text


def traceback_key(lines: list[str]) -> str | None:
    """`file:line function: ExceptionType` of the last traceback in lines:
    its last frame in xemu's own code (a library's frame, as ctypes', would
    lump together every caller), else its last frame."""
    last_frame, exception, seen = None, None, True    # (the header may be cut off)
    last_ours = None
    for i, line in enumerate(lines):
        if line.startswith("Traceback"):
            seen, last_frame, last_ours, exception = True, None, None, None
            continue
        if not seen:
            continue
        match = FRAME.match(line)
        if match:
            path = match["file"]
            short = path[path.rfind("/xemu/") + 1:] if "/xemu/" in path else path
            last_frame = f"{short}:{match['line']} {match['function']}"
            if "/xemu/" in path:
                last_ours = last_frame
        elif last_frame and line and not line.startswith(" ") and exception is None:
            exception = line.split(":", 1)[0]
    if last_frame is None:
        return None
    return f"{last_ours or last_frame}: {exception or '?'}"


def message_key(text: str) -> str:
    return NUMBERS.sub("N", text.strip())[:200]


@dataclass
class Failure:
    kind: str             # internal-error, status-70, escape, rss, hang, bad-output
    key: str              # the group
    reproducer: str       # one line
    details: list[str] = field(default_factory=list)   # the traceback or the message


class Failures:
    def __init__(self) -> None:
        self.groups: OrderedDict[str, list[Failure]] = OrderedDict()

    def add(self, failure: Failure) -> bool:
        """Keep it; True if it starts a new group."""
        group = self.groups.setdefault(f"{failure.kind}: {failure.key}", [])
        group.append(failure)
        return len(group) == 1

    def __len__(self) -> int:
        return sum(len(g) for g in self.groups.values())

    def as_json(self, limit: int = 20) -> list[dict]:
        return [{"group": key, "count": len(group),
                 "reproducers": [f.reproducer for f in group[:limit]],
                 "details": group[0].details} for key, group in self.groups.items()]

    def report(self, limit: int = 3) -> str:
        """Each group: its key, count, first reproducers and the first's details."""
        out = []
        for key, group in self.groups.items():
            out.append(f"== {key}  ({len(group)} failure{'s' * (len(group) != 1)})")
            for failure in group[:limit]:
                out.append(f"   {failure.reproducer}")
            out.extend(f"     | {line}" for line in group[0].details[-40:])
        return "\n".join(out)
