"""A GDB remote-serial-protocol stub: `xemu run --gdb PORT` (or `-g PORT`,
as qemu-user) waits for gdb before the guest's first instruction.

gdb learns the CPU from target.xml, written from the arch's GdbTarget
(archs/<arch>/gdb.py), so gdb-multiarch needs no `set architecture`.
Breakpoints and watchpoints are the accelerator's (`set_breakpoint`,
`set_watchpoint`, `step`, `resume`): under TCG a code hook on the one
address, under KVM an int3; watchpoints are page protection under both
(machine/accel/debugging.py).

The protocol: https://sourceware.org/gdb/current/onlinedocs/gdb.html/Remote-Protocol.html
"""
from __future__ import annotations

import contextlib
import select
import signal
import socket
import sys
import threading
from typing import Callable

from ..archs.base import ArchSpec, GdbRegister
from ..errors import GuestMemoryError, XemuError
from ..machine.accel.base import (KICK_SIGNAL, Breakpoint, Exit, Fault, Interrupted, Killed,
                                  Stop, Timeout, Watchpoint)

PACKET_SIZE = 0x4000
THREAD = 1                       # one guest thread, gdb's thread 1
# Linux signal -> gdb's own signal number, where they differ (gdb/signals.def)
GDB_SIGNALS = {signal.SIGBUS: 10, signal.SIGUSR1: 30, signal.SIGUSR2: 31,
               signal.SIGSYS: 12, signal.SIGCHLD: 20, signal.SIGSTKFLT: 7}
WATCH_KINDS = {"2": "write", "3": "read", "4": "access"}
STOP_WORD = {"write": "watch", "read": "rwatch", "access": "awatch"}


def gdb_signal(number: int) -> int:
    return GDB_SIGNALS.get(number, number)


def checksum(payload: bytes) -> bytes:
    return b"%02x" % (sum(payload) & 0xFF)


def escape(payload: bytes) -> bytes:
    """# $ } and * are sent as } and the byte xor 0x20."""
    out = bytearray()
    for byte in payload:
        if byte in b"#$}*":
            out += bytes((0x7D, byte ^ 0x20))
        else:
            out.append(byte)
    return bytes(out)


def unescape(data: bytes) -> bytes:
    out, escaped = bytearray(), False
    for byte in data:
        if escaped:
            out.append(byte ^ 0x20)
            escaped = False
        elif byte == 0x7D:
            escaped = True
        else:
            out.append(byte)
    return bytes(out)


def target_xml(spec: ArchSpec) -> str:
    """The target description gdb reads with qXfer:features:read."""
    lines = ['<?xml version="1.0"?>', '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
             "<target>", f"  <architecture>{spec.gdb.architecture}</architecture>",
             "  <osabi>GNU/Linux</osabi>"]
    for feature, registers in spec.gdb.features:
        lines.append(f'  <feature name="{feature}">')
        if feature in spec.gdb.types:
            lines.append(spec.gdb.types[feature].strip("\n"))
        for register in registers:
            extra = "".join(f' {key}="{value}"' for key, value in (
                ("regnum", register.regnum), ("group", register.group)) if value is not None)
            lines.append(f'    <reg name="{register.name}" bitsize="{register.bits}" '
                         f'type="{register.type}"{extra}/>')
        lines.append("  </feature>")
    lines.append("</target>")
    return "\n".join(lines) + "\n"


class RegisterFile:
    """gdb's registers over the accelerator's: bytes in the guest's order;
    a register the accelerator does not keep reads as unavailable (x)."""

    def __init__(self, spec: ArchSpec, regs):
        self.regs = regs
        self.byteorder = "big" if spec.big_endian else "little"
        self.numbered = spec.gdb.registers

    def read(self, register: GdbRegister) -> bytes:
        size = register.bits // 8
        try:
            value = self.regs.read(register.source or register.name)
        except KeyError:
            return b"xx" * size
        if isinstance(value, tuple):                       # x87: (mantissa, exponent)
            mantissa, exponent = value
            value = mantissa | (exponent << 64)
        return (value & ((1 << register.bits) - 1)).to_bytes(size, self.byteorder).hex().encode()

    def write(self, register: GdbRegister, data: bytes) -> None:
        value = int.from_bytes(data, self.byteorder)
        name = register.source or register.name
        if register.type == "i387_ext":
            value = (value & ((1 << 64) - 1), value >> 64)
        try:
            if register.user_bits is not None:       # never a privileged mode
                value = self.regs.read(name) & ~register.user_bits | value & register.user_bits
            self.regs.write(name, value)
        except KeyError:
            pass                                           # not kept: as gdb's 'x'

    def read_all(self) -> bytes:
        return b"".join(self.read(r) for _, r in sorted(self.numbered.items()))

    def write_all(self, hex_data: bytes) -> None:
        """A 'G' packet: each register's hex in turn; 'xx...' (unavailable)
        leaves that one alone."""
        offset = 0
        for _, register in sorted(self.numbered.items()):
            chunk = hex_data[offset:offset + register.bits // 4]
            if len(chunk) < register.bits // 4:
                break
            if b"x" not in chunk:
                self.write(register, bytes.fromhex(chunk.decode()))
            offset += len(chunk)


class Connection:
    """Packets over one TCP connection: $payload#checksum, acknowledged."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> bool:
        data = self.sock.recv(PACKET_SIZE)
        self.buffer += data
        return bool(data)

    def read_packet(self) -> bytes | None:
        """The next command (b"\\x03" for an interrupt); None when gdb left."""
        while True:
            self.buffer = self.buffer.lstrip(b"+-")
            if self.buffer[:1] == b"\x03":
                self.buffer = self.buffer[1:]
                return b"\x03"
            start = self.buffer.find(b"$")
            end = self.buffer.find(b"#", start)
            if start >= 0 and end >= 0 and len(self.buffer) >= end + 3:
                payload = self.buffer[start + 1:end]
                good = self.buffer[end + 1:end + 3].lower() == checksum(payload)
                self.buffer = self.buffer[end + 3:]
                self.sock.sendall(b"+" if good else b"-")
                if good:
                    return payload
                continue
            if not self._fill():
                return None

    def send(self, payload: bytes) -> None:
        body = escape(payload)
        self.sock.sendall(b"$" + body + b"#" + checksum(body))
        # gdb acknowledges each packet with '+'; read_packet skips them.


def listen(port: int, out=None) -> socket.socket:
    """The listening socket, on this machine only: the stub reads and writes
    guest memory and registers for whoever connects."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        server.bind(("127.0.0.1", port))
    except OSError as e:
        server.close()
        raise XemuError(f"--gdb {port}: cannot listen there: {e.strerror}") from None
    server.listen(1)
    print(f"xemu: waiting for gdb on localhost:{server.getsockname()[1]} "
          f"(target remote :{server.getsockname()[1]})", file=out or sys.stderr, flush=True)
    return server


@contextlib.contextmanager
def kick_signal_handled():
    """While gdb is attached, KICK_SIGNAL only interrupts KVM_RUN (its
    default action would end xemu)."""
    previous = signal.signal(KICK_SIGNAL, lambda number, frame: None)
    try:
        yield
    finally:
        signal.signal(KICK_SIGNAL, previous)


class GdbStub:
    """Serves one gdb for one run: the guest stands still between commands."""

    def __init__(self, accel, server: socket.socket):
        self.accel = accel
        self.spec: ArchSpec = accel.spec
        self.server = server
        self.registers = RegisterFile(self.spec, accel.regs)
        self.xml = target_xml(self.spec).encode()
        self.last_stop = b"S05"
        self.pending_fault: Fault | None = None
        self.connection: Connection | None = None
        self.detached = False
        self.ended = False                  # gdb was told the process is gone
        self.commands: dict[str, Callable[[bytes], bytes | None]] = {
            "?": lambda _: self.last_stop, "g": lambda _: self.registers.read_all(),
            "G": self._write_registers, "p": self._read_register, "P": self._write_register,
            "m": self._read_memory, "M": self._write_memory, "X": self._write_binary,
            "Z": self._insert, "z": self._remove, "H": lambda _: b"OK",
            "T": lambda _: b"OK", "q": self._query, "Q": lambda _: b"",
        }

    def serve(self, timeout: float | None) -> Stop:
        """Run the guest from its current registers as gdb says, to a Stop
        that ends the run or that the OS loop must serve (a fork, an exec).
        The first call waits for gdb; a later one goes on where gdb said
        continue, and reports the next stop to it."""
        if self.detached:
            return self.accel.resume(timeout)
        with kick_signal_handled():
            if self.connection is None:
                sock, _ = self.server.accept()
                self.server.close()
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.connection = Connection(sock)
                return self._session(self.connection, timeout)
            stop = self._while_watching(self.connection, self.accel.resume, timeout)
            if self._report(self.connection, stop) is not True:
                return stop
            return self._session(self.connection, timeout)

    def follow(self, accel) -> None:
        """Debug this CPU from now on (the program exec started)."""
        self.accel, self.spec = accel, accel.spec
        self.registers = RegisterFile(self.spec, accel.regs)
        self.xml = target_xml(self.spec).encode()

    def finish(self, stop: Stop) -> None:
        """The run ended with a Stop gdb has not heard of (the OS loop made
        it: the last thread's exit): tell gdb the process exited."""
        if self.connection is not None and not self.ended and isinstance(stop, Exit):
            self.connection.send(b"W%02x" % (stop.status & 0xFF))
            self.ended = True

    def leave(self) -> None:
        """Close the connection to gdb (the run ended, or this is a forked child)."""
        if self.connection is not None:
            self.connection.sock.close()
            self.connection = None
        self.detached = True

    def _session(self, connection: Connection, timeout: float | None) -> Stop:
        while True:
            packet = connection.read_packet()
            if packet is None:                 # gdb went away: run on, undebugged
                self._forget_all()
                self.detached = True
                return self.accel.resume(timeout)
            if not packet:
                connection.send(b"")
                continue
            kind = packet[:1].decode("latin-1")
            if kind in "cCsS" or packet.startswith(b"vCont;"):
                stop = self._while_watching(connection, self._resume, packet, timeout)
                if self._report(connection, stop) is not True:
                    return stop
            elif kind == "k" or packet.startswith(b"vKill"):
                if packet.startswith(b"vKill"):
                    connection.send(b"OK")
                return Killed("gdb")
            elif kind == "D":
                connection.send(b"OK")
                self._forget_all()
                self.detached = True
                return self.accel.resume(timeout)
            elif packet == b"vCont?":
                connection.send(b"vCont;c;C;s;S")
            elif packet == b"\x03":
                continue                       # the guest is already stopped
            else:
                handler = self.commands.get(kind)
                try:
                    reply = handler(packet[1:]) if handler else b""
                except (ValueError, IndexError):
                    reply = b"E01"
                connection.send(reply if reply is not None else b"")

    # -- running ------------------------------------------------------------

    def _resume(self, packet: bytes, timeout: float | None) -> Stop | None:
        """c, s, C sig, S sig or vCont;ACTION[:thread]...: the first action."""
        if packet.startswith(b"vCont;"):
            action = packet[6:].split(b";")[0].split(b":")[0]
        else:
            action = packet.split(b";")[0]
        kind, argument = action[:1], action[1:]
        if kind in b"cs" and argument:               # c ADDR: resume there
            self.accel.regs.write(self.spec.pc, int(argument, 16))
        delivered = int(argument, 16) if kind in b"CS" and argument else 0
        if self.pending_fault is not None and delivered:
            return self.pending_fault                # the fatal signal goes through
        self.pending_fault = None
        if kind in b"sS":
            return self.accel.step()
        return self.accel.resume(timeout)

    def _while_watching(self, connection: Connection, run: Callable[..., Stop | None],
                        *args) -> Stop | None:
        """run(*args) while a thread waits for gdb's interrupt (\\x03,
        Ctrl-C) and stops the guest for it."""
        done = threading.Event()

        def watch() -> None:
            while not done.is_set():
                ready, _, _ = select.select([connection.sock], [], [], 0.05)
                if not ready or done.is_set():
                    continue
                byte = connection.sock.recv(1, socket.MSG_PEEK)
                if byte in (b"+", b"\x03"):
                    connection.sock.recv(1)
                if byte == b"\x03":
                    self.accel.interrupt()
                if byte != b"+":
                    return              # interrupted, gdb gone, or a packet for later

        watcher = threading.Thread(target=watch, name="gdb-interrupt", daemon=True)
        watcher.start()
        try:
            return run(*args)
        finally:
            done.set()
            watcher.join()

    def _report(self, connection: Connection, stop: Stop | None) -> bool | None:
        """Tell gdb why the guest stopped: True, and the session goes on;
        False when the run is over; None for a Stop that is not gdb's (the
        OS loop serves it and the guest goes on: gdb hears nothing yet)."""
        told = self._tell(connection, stop)
        self.ended |= told is False
        return told

    def _tell(self, connection: Connection, stop: Stop | None) -> bool | None:
        if stop is not None and stop is self.pending_fault:
            connection.send(b"X%02x" % gdb_signal(stop.signal))
            return False
        if isinstance(stop, Exit):
            connection.send(b"W%02x" % (stop.status & 0xFF))
            return False
        if isinstance(stop, Timeout):
            connection.send(b"X%02x" % gdb_signal(signal.SIGALRM))
            return False
        reason = b""
        if isinstance(stop, Breakpoint):
            reason = b"swbreak:;"
        elif isinstance(stop, Watchpoint):
            reason = b"%s:%x;" % (STOP_WORD[stop.access].encode(), stop.address)
        number = signal.SIGTRAP
        if isinstance(stop, Interrupted):
            number = signal.SIGINT
        elif isinstance(stop, Fault):
            self.pending_fault = stop
            number = stop.signal
        elif isinstance(stop, Killed):
            connection.send(b"X%02x" % gdb_signal(signal.SIGKILL))
            return False
        elif stop is not None and not isinstance(stop, (Breakpoint, Watchpoint, Interrupted)):
            return None
        self.last_stop = b"T%02xthread:%x;%s" % (gdb_signal(number), THREAD, reason)
        connection.send(self.last_stop)
        return True

    def _forget_all(self) -> None:
        """Detach: take every breakpoint and watchpoint out."""
        self.accel.clear_debug()

    # -- registers and memory -----------------------------------------------

    def _register(self, number: bytes) -> GdbRegister:
        register = self.spec.gdb.registers.get(int(number, 16))
        if register is None:
            raise ValueError(f"no register {number!r}")
        return register

    def _read_register(self, argument: bytes) -> bytes:
        return self.registers.read(self._register(argument))

    def _write_register(self, argument: bytes) -> bytes:
        number, _, value = argument.partition(b"=")
        self.registers.write(self._register(number), bytes.fromhex(value.decode()))
        return b"OK"

    def _write_registers(self, argument: bytes) -> bytes:
        self.registers.write_all(argument)
        return b"OK"

    def _read_memory(self, argument: bytes) -> bytes:
        address, length = (int(x, 16) for x in argument.split(b","))
        try:
            return self.accel.read_memory(address, min(length, PACKET_SIZE // 2)).hex().encode()
        except GuestMemoryError:
            return b"E14"                                    # EFAULT

    def _write_memory(self, argument: bytes) -> bytes:
        where, _, data = argument.partition(b":")
        return self._store(where, bytes.fromhex(data.decode()))

    def _write_binary(self, argument: bytes) -> bytes:
        where, _, data = argument.partition(b":")
        return self._store(where, unescape(data))

    def _store(self, where: bytes, data: bytes) -> bytes:
        address = int(where.split(b",")[0], 16)
        try:
            self.accel.write_memory(address, data)
        except GuestMemoryError:
            return b"E14"
        return b"OK"

    # -- breakpoints and watchpoints ---------------------------------------

    def _points(self, argument: bytes) -> tuple[str, int, int]:
        kind, address, size = argument.split(b";")[0].split(b",")
        return kind.decode(), int(address, 16), int(size, 16)

    def _insert(self, argument: bytes) -> bytes:
        kind, address, size = self._points(argument)
        if kind in ("0", "1"):
            return b"OK" if self.accel.set_breakpoint(address) is not False else b"E28"
        if kind in WATCH_KINDS:
            ok = self.accel.set_watchpoint(WATCH_KINDS[kind], address, size)
            return b"OK" if ok is not False else b"E28"          # ENOSPC: out of slots
        return b""

    def _remove(self, argument: bytes) -> bytes:
        kind, address, size = self._points(argument)
        if kind in ("0", "1"):
            self.accel.clear_breakpoint(address)
        elif kind in WATCH_KINDS:
            self.accel.clear_watchpoint(WATCH_KINDS[kind], address, size)
        else:
            return b""
        return b"OK"

    # -- queries --------------------------------------------------------------

    def _query(self, argument: bytes) -> bytes:
        name, _, rest = argument.partition(b":")
        if name == b"Supported":
            return (b"PacketSize=%x;qXfer:features:read+;swbreak+;hwbreak+;vContSupported+"
                    % PACKET_SIZE)
        if name == b"Xfer" and rest.startswith(b"features:read:target.xml:"):
            offset, length = (int(x, 16) for x in rest.rsplit(b":", 1)[1].split(b","))
            chunk = self.xml[offset:offset + length]
            return (b"m" if offset + length < len(self.xml) else b"l") + chunk
        if name == b"Attached":
            return b"1"
        if name == b"C":
            return b"QC%x" % THREAD
        if name == b"fThreadInfo":
            return b"m%x" % THREAD
        if name == b"sThreadInfo":
            return b"l"
        if name == b"Symbol":
            return b"OK"
        return b""
