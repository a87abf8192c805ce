"""The initial stack: what glibc's start-up code reads before main."""
import struct

import pytest

from xemu.archs import all_specs, by_name
from xemu.loader.stack import (AT_EXECFN, AT_HWCAP, AT_NULL, AT_PAGESZ, AT_PHDR,
                               AT_PLATFORM, AT_RANDOM, ProcessInfo, layout_stack)

TOP = 0x80000000
INFO = ProcessInfo(phdr=0x10034, phent=32, phnum=7, entry=0x10400, uid=1000)


def parse(spec, image):
    """Read the stack back the way a C start-up routine does."""
    word = spec.word_size
    code = spec.endian + ("Q" if word == 8 else "I")

    def word_at(address):
        offset = address - image.sp
        return struct.unpack(code, image.data[offset:offset + word])[0]

    def string_at(address):
        offset = address - image.sp
        return image.data[offset:image.data.index(b"\0", offset)]

    address = image.sp
    argc = word_at(address)
    argv = [string_at(word_at(address + word * (1 + i))) for i in range(argc)]
    address += word * (argc + 2)
    envp = []
    while word_at(address):
        envp.append(string_at(word_at(address)))
        address += word
    address += word
    auxv = []
    while True:
        pair = (word_at(address), word_at(address + word))
        auxv.append(pair)
        address += 2 * word
        if pair[0] == AT_NULL:
            break
    return argc, argv, envp, auxv, string_at, word_at


@pytest.mark.parametrize("spec", all_specs(), ids=lambda s: s.name)
def test_stack_reads_back(spec):
    random = bytes(range(16))
    image = layout_stack(spec, TOP, [b"prog", b"-v", b""], [b"A=1", b"B="],
                         b"/bin/prog", random, INFO)
    assert image.sp % 16 == 0
    assert image.sp + len(image.data) == TOP
    argc, argv, envp, auxv, string_at, _ = parse(spec, image)
    assert (argc, argv, envp) == (3, [b"prog", b"-v", b""], [b"A=1", b"B="])
    values = dict(auxv)
    assert values[AT_PHDR] == INFO.phdr
    assert values[AT_PAGESZ] == 4096
    assert values[AT_HWCAP] == spec.linux.hwcap
    assert string_at(values[AT_EXECFN]) == b"/bin/prog"
    assert string_at(values[AT_PLATFORM]) == spec.linux.platform.encode()
    offset = values[AT_RANDOM] - image.sp
    assert image.data[offset:offset + 16] == random
    assert auxv[-1] == (AT_NULL, 0)


def test_ppc_cache_line_entries_come_first_and_match_the_cpu():
    spec = by_name("ppc")
    image = layout_stack(spec, TOP, [b"p"], [], b"p", bytes(16), INFO)
    auxv = parse(spec, image)[3]
    assert auxv[:5] == [(22, 22), (22, 22), (19, 32), (20, 32), (21, 0)]


def test_ppc_stack_is_big_endian():
    image = layout_stack(by_name("ppc"), TOP, [b"p", b"q"], [], b"p", bytes(16), INFO)
    assert image.data[:4] == b"\0\0\0\2"


def test_random_must_be_sixteen_bytes():
    with pytest.raises(ValueError):
        layout_stack(by_name("arm"), TOP, [b"p"], [], b"p", bytes(8), INFO)


@pytest.mark.parametrize("spec", all_specs(), ids=lambda s: s.name)
def test_at_minsigstksz_is_there_where_the_arch_kernel_gives_it(spec):
    from xemu.loader.stack import AT_MINSIGSTKSZ
    image = layout_stack(spec, TOP, [b"prog"], [], b"/bin/prog", bytes(16), INFO)
    values = dict(parse(spec, image)[3])
    if spec.signal_frames.min_stack is None:            # 32-bit ARM's kernel has none
        assert AT_MINSIGSTKSZ not in values
    else:
        assert values[AT_MINSIGSTKSZ] == spec.signal_frames.min_stack


@pytest.mark.parametrize("spec", [s for s in all_specs() if s.signal_frames.min_stack],
                         ids=lambda s: s.name)
def test_a_signal_frame_takes_no_more_stack_than_at_minsigstksz_says(spec):
    """The handler's stack pointer, after the frame is built at the top of
    an alternate stack, lies within AT_MINSIGSTKSZ of that top."""
    from xemu.archs.base import SA_SIGINFO, SignalDelivery
    from xemu.machine.accel.tcg import TcgAccelerator
    from xemu.machine.memory import PROT_READ, PROT_WRITE, Memory
    memory = Memory()
    for page in spec.linux.reserved:
        memory.map(page.start, page.size, page.perms, page.name)
    base, size = 0x10000000, 0x4000
    memory.map(base, size, PROT_READ | PROT_WRITE)
    accel = TcgAccelerator(spec, memory)
    try:
        top = base + size - 0x40                   # an unaligned top costs the most
        accel.regs.write(spec.sp, base + 0x100)
        delivery = SignalDelivery(signum=10, handler=0x1000, flags=SA_SIGINFO, restorer=0,
                                  siginfo=bytes(128), blocked=0, sp=top - 12,
                                  altstack=(base, 0, size), trampoline=0x2000, switched=True)
        spec.signal_frames.setup(accel.regs, memory, delivery)
        used = top - 12 - accel.regs.read(spec.sp)
        assert 0 < used <= spec.signal_frames.min_stack, used
    finally:
        accel.close()
