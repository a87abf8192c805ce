"""Drive a guest under `xemu run --gdb 0` from a test: start xemu, learn
the port it listens on, talk to it (gdb-multiarch, or raw packets)."""
from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys

from tests.guests.cases import GUESTS
from tests.helpers import ROOT

GDB = shutil.which("gdb-multiarch")
GDB_MISSING = "gdb-multiarch is not installed (apt-get install gdb-multiarch)"


def debug_guest(arch: str) -> str:
    return str(GUESTS / "bin" / arch / "debugme")


class XemuUnderGdb:
    """xemu waiting for gdb; .port once it listens, .finish() for its output."""

    def __init__(self, *args: str, env: dict):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "xemu", "run", "--gdb", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
        line = self.process.stderr.readline().decode()
        found = re.search(r"localhost:(\d+)", line)
        if not found:
            self.process.kill()
            raise AssertionError(f"xemu did not say where it waits: {line!r}")
        self.port = int(found.group(1))

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        out, err = self.process.communicate(timeout=timeout)
        return self.process.returncode, out.decode(), err.decode()


def run_gdb(image: str, port: int, commands: list[str], timeout: float = 90) -> str:
    """gdb-multiarch in batch mode: connect, run the commands, all output."""
    argv = [GDB, "-nx", "-q", "-batch", "-ex", "set pagination off",
            "-ex", "set confirm off", "-ex", f"target remote localhost:{port}"]
    for command in commands:
        argv += ["-ex", command]
    result = subprocess.run(argv + [image], capture_output=True, timeout=timeout)
    return result.stdout.decode() + result.stderr.decode()


class Packets:
    """The remote protocol by hand: for tests that need no gdb."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buffer = b""

    def send(self, payload: bytes) -> None:
        self.sock.sendall(b"$" + payload + b"#%02x" % (sum(payload) & 0xFF))

    def ask(self, payload: bytes) -> bytes:
        self.send(payload)
        return self.receive()

    def receive(self) -> bytes:
        """The next packet from xemu (acknowledged)."""
        while True:
            self.buffer = self.buffer.lstrip(b"+")
            match = re.match(rb"\$([^#]*)#[0-9a-f]{2}", self.buffer, re.S)
            if match:
                self.buffer = self.buffer[match.end():]
                self.sock.sendall(b"+")
                return match.group(1)
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("xemu closed the connection")
            self.buffer += data

    def close(self) -> None:
        self.sock.close()
