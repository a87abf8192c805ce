"""Stopping a running engine from another thread lands between two
translated blocks, never inside one: nothing runs twice. (Unicorn's own
uc_emu_stop from another thread re-ran the interrupted instructions: see
xemu/machine/accel/stop_request.py.)"""
import threading
import time

from unicorn import UC_ARCH_X86, UC_MODE_64, Uc
from unicorn.x86_const import UC_X86_REG_RCX, UC_X86_REG_RIP

from xemu.machine.accel.stop_request import StopRequest

CODE, DATA = 0x10000, 0x18000


def counting_loop() -> bytes:
    """mov rax, DATA; loop: lock add qword [rax], 1; dec rcx; jnz loop; hlt"""
    code = bytes.fromhex("48b8") + DATA.to_bytes(8, "little")
    loop = len(code)
    code += bytes.fromhex("f048830001") + bytes.fromhex("48ffc9")
    code += b"\x75" + bytes([(loop - (len(code) + 2)) & 0xFF])
    return code + b"\xf4"


def test_stops_from_another_thread_never_repeat_an_instruction():
    code = counting_loop()
    uc = Uc(UC_ARCH_X86, UC_MODE_64)
    uc.mem_map(CODE, 0x10000)
    uc.mem_write(CODE, code)
    iterations = 3_000_000
    uc.reg_write(UC_X86_REG_RCX, iterations)
    request = StopRequest(uc)
    running = True

    def stopper():
        while running:
            time.sleep(0.0002)
            request.request()
    thread = threading.Thread(target=stopper)
    thread.start()
    pc, stops, end = CODE, 0, CODE + len(code)
    try:
        while pc != end:
            uc.emu_start(pc, end + 0x100)
            pc = uc.reg_read(UC_X86_REG_RIP)
            stops += 1
    finally:
        running = False
        thread.join()
    assert stops > 5, "the stops must really have happened for this to test anything"
    assert int.from_bytes(uc.mem_read(DATA, 8), "little") == iterations
    assert uc.reg_read(UC_X86_REG_RCX) == 0


def test_a_request_made_while_stopped_stops_the_next_run_at_once():
    code = counting_loop()
    uc = Uc(UC_ARCH_X86, UC_MODE_64)
    uc.mem_map(CODE, 0x10000)
    uc.mem_write(CODE, code)
    uc.reg_write(UC_X86_REG_RCX, 10)
    request = StopRequest(uc)
    request.request()
    uc.emu_start(CODE, CODE + len(code) + 0x100)
    assert uc.reg_read(UC_X86_REG_RIP) == CODE
    request.clear()
    uc.emu_start(CODE, CODE + len(code))
    assert int.from_bytes(uc.mem_read(DATA, 8), "little") == 10
