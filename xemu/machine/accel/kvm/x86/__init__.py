"""The x86 machines xemu builds under KVM on an x86 host: the CPU modes for
Linux programs, by the name an arch's spec gives (ArchSpec.kvm_mode), and
real mode for the pc board (realmode.py)."""
from __future__ import annotations

from .....archs.base import ArchSpec
from .compat import CompatMode
from .longmode import LongMode

MODES = {"long": LongMode(), "compat": CompatMode()}


def mode_for(spec: ArchSpec) -> LongMode | None:
    """The CPU mode a Linux program of this arch runs in, or None."""
    return MODES.get(spec.kvm_mode) if spec.kvm_mode else None
