"""Arch-private system calls, served against real guest memory."""
import struct

from xemu.archs import by_name
from xemu.archs.i386 import GDT_BASE, segment_descriptor
from xemu.linux.process import Process
from xemu.linux.syscalls import Dispatcher
from xemu.linux.thread import Thread
from xemu.machine.memory import PROT_READ, PROT_WRITE, Memory

RW = PROT_READ | PROT_WRITE


def i386_process():
    spec = by_name("i386")
    mem = Memory()
    mem.map(0x10000, 0x1000, RW)
    mem.map(GDT_BASE, 0x1000, RW)
    process = Process(spec, mem, exe=None, brk_start=0x20000)
    return process, Dispatcher(Thread(process, tid=1))


def test_old_mmap_reads_its_arguments_from_memory():
    process, dispatcher = i386_process()
    args = struct.pack("<6I", 0, 0x2000, RW, 0x22, 0xFFFFFFFF, 0)   # private anonymous
    process.mem.write(0x10000, args)
    address = dispatcher(90, (0x10000, 0, 0, 0, 0, 0))
    assert address == process.spec.linux.mmap_base
    assert process.mem.is_mapped(address, 0x2000)


def test_set_thread_area_picks_the_first_tls_slot_and_writes_the_gdt():
    process, dispatcher = i386_process()
    # entry_number -1, base, limit 0xfffff, flags: 32-bit, in pages, useable
    process.mem.write(0x10000, struct.pack("<iIII", -1, 0x12345678, 0xFFFFF, 0x51))
    assert dispatcher(243, (0x10000, 0, 0, 0, 0, 0)) == 0
    assert struct.unpack("<i", process.mem.read(0x10000, 4))[0] == 6
    assert process.mem.read(GDT_BASE + 6 * 8, 8) == segment_descriptor(0x12345678, 0xFFFFF, 0x51)


def test_segment_descriptor_encoding():
    # limit 15:0 | base 23:0 | access: present, DPL 3, data read/write |
    # granularity 4K, 32-bit, available + limit 19:16 | base 31:24
    assert segment_descriptor(0x12345678, 0xFFFFF, 0x51) == bytes.fromhex("ffff785634f2df12")
