"""The GDB stub, driven by the real client: gdb-multiarch connects, breaks
at main, reads registers and memory, steps, watches, runs to the exit."""
import re
import signal
import time

import pytest

from tests.debug.gdb_session import (GDB, GDB_MISSING, Packets, XemuUnderGdb,
                                     debug_guest, run_gdb)
from tests.guests.cases import binary
from tests.helpers import kvm_skip_reason

ACCELS = [("ppc", "tcg"), ("arm", "tcg"), ("aarch64", "tcg"), ("x86_64", "tcg"),
          ("i386", "tcg"), ("x86_64", "kvm")]


def skip_unless_usable(arch: str, accel: str, needs_gdb: bool = True) -> None:
    if needs_gdb and not GDB:
        pytest.skip(GDB_MISSING)
    if accel == "kvm" and kvm_skip_reason(arch):
        pytest.skip(kvm_skip_reason(arch))


@pytest.mark.parametrize("arch,accel", ACCELS)
def test_break_step_watch_and_exit(arch, accel, guest_env):
    skip_unless_usable(arch, accel)
    image = debug_guest(arch)
    xemu = XemuUnderGdb("--accel", accel, image, env=guest_env)
    output = run_gdb(image, xemu.port, [
        "break main", "continue", "print $pc == main + 0 || $pc > main", "print counter",
        "next", "step", "info frame", "stepi", "print/x $pc",
        "watch counter", "continue", "continue",
        "delete", "rwatch counter", "continue",
        "delete", "continue"])
    status, stdout, stderr = xemu.finish()
    assert re.search(r"Breakpoint 1, main \(\) at .*debugme\.c:\d+", output), output
    assert "$1 = 1" in output and "$2 = 0" in output, output          # at main; counter 0
    assert re.search(r"add \(amount=1\) at .*debugme\.c:45", output), output   # step into
    assert "Old value = 0\nNew value = 1" in output, output
    assert "Old value = 1\nNew value = 3" in output, output
    assert re.search(r"read watchpoint 3: counter\s+Value = 3", output), output
    assert "exited with code 06" in output, output
    assert (status, stdout) == (6, "counted\n"), stderr


@pytest.mark.parametrize("arch", ["arm", "aarch64", "ppc", "x86_64"])
def test_registers_and_memory_by_name(arch, guest_env):
    skip_unless_usable(arch, "tcg")
    image = debug_guest(arch)
    xemu = XemuUnderGdb("--accel", "tcg", image, env=guest_env)
    output = run_gdb(image, xemu.port, [
        "break add", "continue", "info registers", "x/4xb &counter",
        "set var counter = 40", "print counter", "delete", "finish", "kill"])
    status, _, stderr = xemu.finish()
    sp = {"arm": "sp", "aarch64": "sp", "ppc": "r1", "x86_64": "rsp"}[arch]
    assert re.search(rf"^{sp}\s+0x[0-9a-f]+", output, re.M), output
    assert re.search(r"<&?counter>:\s+0x00\s+0x00\s+0x00\s+0x00", output), output
    assert "$1 = 40" in output, output
    assert "Value returned is $2 = 41" in output, output              # 40 + 1
    assert status == 137 and "killed by SIGKILL (from gdb)" in stderr, stderr


@pytest.mark.parametrize("arch", ["arm", "ppc", "x86_64"])
def test_a_fatal_signal_reaches_gdb_then_ends_the_guest(arch, guest_env):
    skip_unless_usable(arch, "tcg")
    image = str(binary(arch))
    xemu = XemuUnderGdb("--accel", "tcg", image, "segv", env=guest_env)
    output = run_gdb(image, xemu.port, ["continue", "continue"])
    status, stdout, stderr = xemu.finish()
    assert "Program received signal SIGSEGV, Segmentation fault." in output, output
    assert "Program terminated with signal SIGSEGV, Segmentation fault." in output, output
    assert status == -signal.SIGSEGV and "xemu: guest killed by SIGSEGV" in stderr
    assert stdout == "about to fault\n"


@pytest.mark.parametrize("arch,accel", [("aarch64", "tcg"), ("x86_64", "kvm")])
def test_the_protocol_without_gdb(arch, accel, guest_env):
    """The packets gdb relies on, by hand: the stub itself, wherever gdb is
    missing."""
    skip_unless_usable(arch, accel, needs_gdb=False)
    xemu = XemuUnderGdb("--accel", accel, debug_guest(arch), env=guest_env)
    link = Packets(xemu.port)
    supported = link.ask(b"qSupported:multiprocess+;swbreak+")
    assert b"qXfer:features:read+" in supported and b"PacketSize=" in supported
    xml = link.ask(b"qXfer:features:read:target.xml:0,ffff")
    assert xml.startswith(b"l<?xml") and b"<architecture>" in xml
    assert link.ask(b"?") == b"S05"
    assert link.ask(b"vCont?") == b"vCont;c;C;s;S"
    registers = link.ask(b"g")
    assert len(registers) > 100 and re.fullmatch(rb"[0-9a-fx]+", registers)
    assert link.ask(b"m0,4") == b"E14"                                 # unmapped
    assert link.ask(b"s").startswith(b"T05")
    assert link.ask(b"vCont;c:1") == b"W06"
    link.close()
    status, stdout, _ = xemu.finish()
    assert (status, stdout) == (6, "counted\n")


@pytest.mark.parametrize("arch,accel", [("aarch64", "tcg"), ("ppc", "tcg"), ("x86_64", "kvm")])
def test_an_interrupt_stops_a_spinning_guest(arch, accel, guest_env):
    """gdb's Ctrl-C (\\x03) while the guest runs without ever trapping: the
    guest stops with SIGINT, its registers readable, and can be killed."""
    skip_unless_usable(arch, accel, needs_gdb=False)
    xemu = XemuUnderGdb("--accel", accel, str(binary(arch)), "spin", env=guest_env)
    link = Packets(xemu.port)
    link.send(b"c")
    time.sleep(0.5)                         # well inside the loop by now
    link.sock.sendall(b"\x03")
    assert link.receive() == b"T02thread:1;"            # the stop reply to c
    assert re.fullmatch(rb"[0-9a-f]+", link.ask(b"g")[:16])
    link.send(b"k")
    link.close()
    status, _, stderr = xemu.finish()
    assert status == 137 and "killed by SIGKILL (from gdb)" in stderr


@pytest.mark.parametrize("arch,accel", [("ppc", "tcg"), ("arm", "tcg"), ("x86_64", "kvm")])
def test_register_and_memory_writes_then_detach(arch, accel, guest_env):
    """P, G and X by hand: written values read back in the guest's byte
    order; D lets the guest run on to its own exit."""
    skip_unless_usable(arch, accel, needs_gdb=False)
    xemu = XemuUnderGdb("--accel", accel, debug_guest(arch), env=guest_env)
    link = Packets(xemu.port)
    registers = link.ask(b"g")
    assert link.ask(b"G" + registers) == b"OK"                       # all back unchanged
    assert link.ask(b"g") == registers
    scratch = {"ppc": 3, "arm": 3, "x86_64": 3}[arch]                # r3, r3, rdx
    size = {"ppc": 4, "arm": 4, "x86_64": 8}[arch]
    value = bytes(range(1, size + 1))
    assert link.ask(b"P%x=%s" % (scratch, value.hex().encode())) == b"OK"
    assert link.ask(b"p%x" % scratch) == value.hex().encode()
    stack = int.from_bytes(bytes.fromhex(link.ask(b"p%x" % {"ppc": 1, "arm": 13, "x86_64": 7}[arch]
                                                  ).decode()),
                           "big" if arch == "ppc" else "little")
    where = b"%x,4" % (stack - 64)
    assert link.ask(b"X" + where + b":}\x03}\x04}]}\x0a") == b"OK"    # # $ } *, escaped
    assert link.ask(b"m" + where) == b"23247d2a"
    assert link.ask(b"P%x=%s" % (scratch, bytes(size).hex().encode())) == b"OK"
    assert link.ask(b"D") == b"OK"
    link.close()
    status, stdout, _ = xemu.finish()
    assert (status, stdout) == (6, "counted\n")


@pytest.mark.parametrize("arch,commands,expected", [
    ("x86_64", ["set $xmm1.v4_int32 = {1, 2, 3, 4}", "print $xmm1.v2_int64",
                "set $st0 = 1.5", "print $st0"],
     ["= {8589934593, 17179869187}", "= 1.5"]),
    ("aarch64", ["set $v1.s.u = {1, 2, 3, 4}", "print $v1.d.u", "print $d1.u"],
     ["= {8589934593, 17179869187}", "= 8589934593"]),
])
def test_vector_and_x87_registers_as_gdb_shows_them(arch, commands, expected, guest_env):
    """The target description's vector unions and the 80-bit x87 format,
    written and read back through xemu."""
    skip_unless_usable(arch, "tcg")
    image = debug_guest(arch)
    xemu = XemuUnderGdb("--accel", "tcg", image, env=guest_env)
    output = run_gdb(image, xemu.port, commands + ["kill"])
    xemu.finish()
    for line in expected:
        assert line in output, output


@pytest.mark.parametrize("arch,accel", [("aarch64", "tcg"), ("arm", "tcg"),
                                        ("x86_64", "kvm")])
def test_writing_code_under_a_breakpoint_then_removing_it(arch, accel, guest_env):
    """gdb writes an instruction where a breakpoint sits (after probing X
    with an empty write): reads show the instruction, never an int3, and
    the breakpoint still fires; deleted, it lets the guest run on."""
    skip_unless_usable(arch, accel)
    image = debug_guest(arch)
    xemu = XemuUnderGdb("--accel", accel, image, env=guest_env)
    output = run_gdb(image, xemu.port, [
        "break add", "continue", "set $saved = *(unsigned int *)$pc",
        "set *(unsigned int *)$pc = $saved", "print *(unsigned int *)$pc == $saved",
        "print *(unsigned char *)$pc != 0xcc", "continue", "delete", "continue"])
    status, stdout, _ = xemu.finish()
    assert "Breakpoint 1, add (amount=1)" in output, output
    assert "Breakpoint 1, add (amount=2)" in output, output
    assert "$1 = 1\n$2 = 1" in output, output
    assert "exited with code 06" in output and "amount=3" not in output, output
    assert (status, stdout) == (6, "counted\n")


def test_detaching_at_a_breakpoint_lets_the_guest_finish(guest_env):
    """gdb removes the breakpoint and detaches with the pc on it: the guest
    runs on from there (Unicorn keeps calling a deleted code hook from code
    it translated already, unless that code is dropped)."""
    skip_unless_usable("ppc", "tcg")
    image = debug_guest("ppc")
    xemu = XemuUnderGdb("--accel", "tcg", image, env=guest_env)
    output = run_gdb(image, xemu.port, ["break add", "continue"])    # batch ends: detach
    status, stdout, _ = xemu.finish()
    assert "Breakpoint 1, add (amount=1)" in output and "detached" in output, output
    assert (status, stdout) == (6, "counted\n")
