"""The registers gdb knows x86-64 by (gdb's i386 64bit-core, 64bit-sse and
segments features): the x87 and SSE parts as on i386, and the FS and GS
bases, where glibc keeps its thread pointer."""
from ..base import GdbRegister, GdbTarget
from ..i386.gdb import EFLAGS, SEGMENTS, VEC128, X87, sse

TARGET = GdbTarget(
    architecture="i386:x86-64",
    features=(
        ("org.gnu.gdb.i386.core", tuple(
            GdbRegister(name, 64, type) for name, type in (
                ("rax", "int"), ("rbx", "int"), ("rcx", "int"), ("rdx", "int"),
                ("rsi", "int"), ("rdi", "int"), ("rbp", "data_ptr"), ("rsp", "data_ptr")))
         + tuple(GdbRegister(f"r{i}", 64) for i in range(8, 16))
         + (GdbRegister("rip", 64, "code_ptr"), EFLAGS)
         + SEGMENTS + X87),
        ("org.gnu.gdb.i386.sse", sse(16)),
        ("org.gnu.gdb.i386.segments", (GdbRegister("fs_base", 64), GdbRegister("gs_base", 64))),
    ),
    watch_stops_before_access=False,
    types={"org.gnu.gdb.i386.sse": VEC128},
)
