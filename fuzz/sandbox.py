"""One xemu run in a namespace sandbox of its own, and what it left behind.

Each run is `unshare --user --map-root-user --pid --fork --kill-child
--mount --net --ipc --uts sh -c INIT sh WORKSPACE xemu ...`: root of a
fresh user namespace (mounts, network, System V IPC objects and the host
name are the namespaces' own), with `sh` as the pid namespace's init so
xemu is an ordinary process (a pid-1 xemu could not end itself by its
guest's signal), and --kill-child so killing unshare ends everything
inside.

That root is, seen from outside, the user who started the fuzzer: when
that is the machine's root it owns the host's files (the Python that runs
xemu lives in root's home, so it cannot drop to another user). So nothing
it does may reach them: INIT remounts every mount read-only in the
sandbox's mount namespace but the workspace, and stdin and stdout are
pipes, never a host file (a guest's fchmod of an inherited /dev/null once
changed the host's /dev/null). Its workspace is a fresh temporary
directory:

    root/      the --rootfs, holding the guest
    canary/    files beside the root that no run may change
    cwd/       xemu's own working directory (a relative host path would land here)

Everything in the workspace but root/'s contents is snapshot before and
after: a difference is an escape.
"""
from __future__ import annotations

import hashlib
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUESTS = ROOT / "tests" / "guests" / "bin"
UNSHARE = ["unshare", "--user", "--map-root-user", "--pid", "--fork", "--kill-child",
           "--mount", "--net", "--ipc", "--uts"]
# The pid namespace's init: the workspace ($1) stays writable, every other
# mount is made read-only, then the command runs.
INIT = """ws=$1; shift
mount --bind "$ws" "$ws" || exit 97
for mount_point in $(awk '{print $5}' /proc/self/mountinfo); do
    [ "$mount_point" = "$ws" ] || mount -o remount,bind,ro "$mount_point" || exit 97
done
"$@"; exit $?"""
MEMORY = "64M"
MEMORY_BYTES = 64 << 20


def sandbox_skip_reason() -> str:
    """Why runs cannot be sandboxed here, or "" if they can."""
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    with tempfile.TemporaryDirectory(prefix="xemu-fuzz-probe-") as workspace:
        probe = subprocess.run([*UNSHARE, "sh", "-c", INIT, "sh", workspace, "true"],
                               capture_output=True)
    if probe.returncode != 0:
        return ("unprivileged user, pid, mount, net, ipc and uts namespaces are not available: "
                + probe.stderr.decode(errors="replace").strip())
    return ""


def xemu_command(*arguments: str, shim: bool = False) -> list[str]:
    """The real CLI (`python -m xemu`), or fuzz/shim.py's, which adds the
    traceback of a system call handler's internal error."""
    return [sys.executable, "-m", "fuzz.shim" if shim else "xemu", *arguments]


class Workspace:
    """A temporary directory with root/, canary/ and cwd/ (see above)."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="xemu-fuzz-"))
        self.root = self.path / "root"
        self.canary = self.path / "canary"
        self.cwd = self.path / "cwd"
        for d in (self.root, self.canary, self.cwd):
            d.mkdir()
        (self.canary / "file").write_text("the guest must not change this\n")
        (self.canary / "dir").mkdir()
        (self.canary / "dir" / "inner").write_text("nor this\n")
        os.symlink("file", self.canary / "link")
        self.before = self.snapshot()

    def snapshot(self) -> dict[str, tuple]:
        """Everything in the workspace outside root/: type, mode, size,
        modification time and content hash; root/ itself by inode."""
        found: dict[str, tuple] = {}
        top = os.lstat(self.path)
        found["."] = (top.st_mode, top.st_ino)
        found["root"] = (os.lstat(self.root).st_ino,) if self.root.exists() else ("missing",)
        for dirpath, dirnames, filenames in os.walk(self.path):
            here = Path(dirpath)
            if here == self.path:
                dirnames[:] = [d for d in dirnames if d != "root"]
                filenames = [f for f in filenames if f != "root"]
            for name in dirnames + filenames:
                path = here / name
                relative = str(path.relative_to(self.path))
                st = os.lstat(path)
                digest = ""
                if path.is_symlink():
                    digest = os.readlink(path)
                elif path.is_file():
                    digest = hashlib.sha1(path.read_bytes()).hexdigest()
                found[relative] = (st.st_mode, st.st_size, st.st_mtime_ns, digest)
        return found

    def escapes(self) -> list[str]:
        """What changed outside root/ since the workspace was made."""
        after = self.snapshot()
        changed = []
        for name in sorted(set(self.before) | set(after)):
            if self.before.get(name) != after.get(name):
                changed.append(f"{name}: {self.before.get(name)} -> {after.get(name)}")
        return changed

    def fresh_root(self) -> None:
        """An empty root/ again (a guest may have filled or unmade it)."""
        if self.root.exists() or self.root.is_symlink():
            make_writable(self.root)
            if self.root.is_dir() and not self.root.is_symlink():
                shutil.rmtree(self.root)
            else:
                self.root.unlink()
        self.root.mkdir()
        self.before["root"] = (os.lstat(self.root).st_ino,)

    def remove(self) -> None:
        make_writable(self.path)
        shutil.rmtree(self.path, ignore_errors=True)


def make_writable(path: Path) -> None:
    """A guest may chmod its files and directories to nothing: undo that so
    they can be removed."""
    if path.is_symlink() or not path.exists():
        return
    for dirpath, dirnames, _ in os.walk(path):     # (os.walk enters no symlink)
        for name in dirnames:
            inner = Path(dirpath) / name
            if not inner.is_symlink():
                try:
                    os.chmod(inner, 0o755)
                except OSError:
                    pass
    try:
        os.chmod(path, 0o755)
    except OSError:
        pass


@dataclass
class Result:
    status: int | None           # the exit status, None when killed by a signal
    signal: int | None           # the signal that ended the sandbox, if any
    stderr: bytes
    maxrss: int                  # peak RSS of the sandbox's processes, bytes
    seconds: float
    killed: str = ""             # why the driver killed it ("stall", "deadline"), if it did
    lines: list[bytes] = field(default_factory=list)


def run(command: list[str], workspace: Workspace, deadline: float, stall: float | None = None,
        on_line=None) -> Result:
    """Run the command in a sandbox with workspace.cwd as its directory;
    stdin is an empty pipe and stdout a pipe whose bytes are dropped.
    on_line(line) sees each line of stderr as it comes (and the stderr is
    then not kept whole). The driver kills the sandbox after `deadline`
    seconds, or after `stall` seconds without a line of stderr."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"}
    start = time.monotonic()
    child = subprocess.Popen([*UNSHARE, "sh", "-c", INIT, "sh", str(workspace.path), *command],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, cwd=workspace.cwd, env=env,
                             start_new_session=True)
    child.stdin.close()
    kept: list[bytes] = []
    pending = b""
    killed = ""
    last_output = start
    fd, out = child.stderr.fileno(), child.stdout.fileno()
    while True:
        now = time.monotonic()
        if now - start > deadline:
            killed = "deadline"
        elif stall is not None and now - last_output > stall:
            killed = "stall"
        if killed:
            kill(child)
            break
        ready, _, _ = select.select([fd, out] if out >= 0 else [fd], [], [], 0.5)
        if out in ready and not os.read(out, 1 << 16):
            child.stdout.close()
            out = -1
        if fd not in ready:
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        last_output = time.monotonic()
        if on_line is None:
            kept.append(chunk)
            continue
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            on_line(line)
    if pending and on_line is not None:
        on_line(pending)
    child.stderr.close()
    if out >= 0:
        child.stdout.close()
    _, wait_status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(wait_status)
    status = os.WEXITSTATUS(wait_status) if os.WIFEXITED(wait_status) else None
    sig = os.WTERMSIG(wait_status) if os.WIFSIGNALED(wait_status) else None
    return Result(status, sig, b"".join(kept), usage.ru_maxrss * 1024,
                  time.monotonic() - start, killed)


def kill(child: subprocess.Popen) -> None:
    """SIGKILL to unshare (--kill-child takes the pid namespace's init, and
    so every process inside, with it) and to its session."""
    for target in (lambda: os.killpg(child.pid, signal.SIGKILL),
                   lambda: os.kill(child.pid, signal.SIGKILL)):
        try:
            target()
        except ProcessLookupError:
            pass


def measure_overhead(arch: str, accel: str) -> int:
    """xemu's fixed overhead: the peak RSS of running hello (xtest hello)
    in the same sandbox, with the same options, bytes."""
    workspace = Workspace()
    try:
        shutil.copy(GUESTS / arch / "xtest", workspace.root / "xtest")
        result = run(xemu_command("run", "--arch", arch, "--accel", accel, "--rootfs",
                                  str(workspace.root), "--memory", MEMORY, "--timeout", "60",
                                  "/xtest", "hello", shim=True), workspace, deadline=120)
        if result.status != 0:
            raise RuntimeError(f"hello does not run on {arch}/{accel}: status {result.status}: "
                               f"{result.stderr.decode(errors='replace').strip()}")
        return result.maxrss
    finally:
        workspace.remove()
