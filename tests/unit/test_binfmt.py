"""binfmt_misc: the entries (the same magic and mask as qemu-user's), the
commands, and foreign programs run by their own name. Registering happens
only inside `unshare --user --map-root-user --mount --net`, whose
binfmt_misc is its own on Linux 6.7 and later: the host's registrations are
never touched (and `xemu binfmt serve`'s abstract socket is the network
namespace's own)."""
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.guests.cases import GUESTS, binary
from tests.helpers import run_xemu
from xemu.archs import by_name
from xemu.binfmt import LAUNCHER, STATIC_LAUNCHER, entry_for, foreign_specs, register
from xemu.errors import XemuError

# qemu's scripts/qemu-binfmt-conf.sh, for the same arches
QEMU_LINES = {
    "arm": r"\x7f\x45\x4c\x46\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x28\x00:"
           r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff",
    "aarch64": r"\x7f\x45\x4c\x46\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00"
               r"\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff"
               r"\xfe\xff\xff\xff",
    "ppc": r"\x7f\x45\x4c\x46\x01\x02\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x14:"
           r"\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff",
}
ON_X86_64 = pytest.mark.skipif(platform.machine() != "x86_64",
                               reason="the foreign arches named here are an x86-64 host's")


@pytest.mark.parametrize("arch", list(QEMU_LINES))
def test_entries_match_what_qemu_user_registers(arch):
    entry = entry_for(by_name(arch), "/usr/bin/xemu-binfmt")
    assert entry.line() == f":xemu-{arch}:M::{QEMU_LINES[arch]}:/usr/bin/xemu-binfmt:P"
    assert entry_for(by_name(arch), "/x", persistent=True).flags == "PF"
    # the static launcher passes the program's descriptor on: flag O
    assert entry_for(by_name(arch), f"/v/bin/{STATIC_LAUNCHER}").flags == "PO"


@ON_X86_64
def test_only_arches_the_host_kernel_cannot_run_are_registered():
    assert [spec.name for spec in foreign_specs()] == ["arm", "aarch64", "ppc"]
    refused = run_xemu("binfmt", "register", "--arch", "i386")
    assert refused.returncode == 2
    assert refused.stderr.decode() == ("xemu: error: i386 programs run on this host's own "
                                       "kernel; binfmt_misc is for foreign ones\n")


def test_register_without_binfmt_misc_says_how_to_mount_it(tmp_path):
    with pytest.raises(XemuError, match="binfmt_misc is not mounted"):
        register(foreign_specs(), mount=tmp_path)


@ON_X86_64
def test_export_writes_systemd_binfmt_files(tmp_path):
    result = run_xemu("binfmt", "register", "--persistent", "--export", str(tmp_path))
    assert result.returncode == 0, result.stderr
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["xemu-aarch64.conf", "xemu-arm.conf", "xemu-ppc.conf"]
    line = (tmp_path / "xemu-arm.conf").read_text().splitlines()[-1]
    assert line.startswith(":xemu-arm:M::")
    interpreter = line.split(":")[-2]
    assert interpreter.endswith((f"/{LAUNCHER}", f"/{STATIC_LAUNCHER}"))
    if interpreter.endswith(STATIC_LAUNCHER):       # a copy that names the Python launcher
        assert os.fsencode(str(Path(interpreter).with_name(LAUNCHER))) + b"\0" in \
            Path(interpreter).read_bytes()


def test_the_launcher_alone_says_what_it_is_for():
    launcher = Path(sys.executable).parent / LAUNCHER
    if not launcher.exists():
        pytest.skip(f"{LAUNCHER} is not installed beside {sys.executable}")
    result = subprocess.run([str(launcher)], capture_output=True)
    assert result.returncode == 2 and b"binfmt_misc runs this" in result.stderr


def test_argv0_option_sets_the_guests_argv0(guest_env):
    result = run_xemu("run", "-0", "chosen-name", str(binary("arm")), "argv0", env=guest_env)
    assert result.stdout == b"argv[0]=chosen-name\n"
    by_variable = run_xemu("run", str(binary("arm")), "argv0",
                           env={**guest_env, "XEMU_ARGV0": "from-env"})
    assert by_variable.stdout == b"argv[0]=from-env\n"


def in_user_namespace(script: str, tmp_path, env) -> subprocess.CompletedProcess:
    """Run a shell script as root of a fresh user and mount namespace with
    binfmt_misc of its own mounted; skip where the kernel cannot."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    xemu = Path(sys.executable).parent / "xemu"
    if not (Path(sys.executable).parent / LAUNCHER).exists():
        pytest.skip(f"{LAUNCHER} is not installed beside {sys.executable}")
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c",
                            "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc"],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip("binfmt_misc cannot be mounted in a user namespace here (Linux 6.7 "
                    f"or later needed): {probe.stderr.decode().strip()}")
    prologue = ("set -e; mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; "
                f"XEMU={xemu}; ")
    return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "--net", "bash", "-c",
                           prologue + script], capture_output=True, cwd=tmp_path, env=env,
                          timeout=120)


@ON_X86_64
def test_foreign_programs_run_by_name_once_registered(tmp_path, guest_env):
    """Registered: a host shell runs an ARM and a PowerPC program by name,
    argv[0] is kept (flag P), and a dynamically linked one finds Debian's
    cross libraries; unregistered, the kernel refuses them again."""
    for arch in ("arm", "ppc"):
        shutil.copy(binary(arch), tmp_path / f"xtest-{arch}")
    shutil.copy(GUESTS / "bin" / "aarch64" / "xdynamic", tmp_path / "xdynamic-aarch64")
    script = """
        $XEMU binfmt register
        $XEMU binfmt status
        ./xtest-arm hello
        ./xtest-ppc nosuch 2>/dev/null || echo "ppc status $?"
        (exec -a custom-name ./xtest-arm argv0)
        ./xdynamic-aarch64 exception || echo "no aarch64 libraries"
        $XEMU binfmt unregister --arch arm
        ./xtest-arm hello 2>/dev/null || echo "arm refused: $?"
        $XEMU binfmt status
    """
    result = in_user_namespace(script, tmp_path, guest_env)
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    assert "registered xemu-arm" in out
    assert out.count("enabled, ") == 3 + 2        # three arches, then two after one left
    assert "hello, world\nargc=1\n" in out
    assert "ppc status 127\n" in out                # its own "no program named"
    assert "argv[0]=custom-name\n" in out
    assert "caught: thrown and caught in libstdc++\n" in out or \
        "no aarch64 libraries\n" in out
    assert "arm refused: 126\n" in out
    assert "arm      not registered" in out


def test_the_kernels_argv_becomes_an_xemu_run():
    from xemu.binfmt import run_arguments
    assert run_arguments(["xemu-binfmt", "/bin/ls", "ls", "-l"]) == \
        ["run", "-0", "ls", "/bin/ls", "-l"]
    assert run_arguments(["xemu-binfmt", "-odd", "-odd"])[3] == "./-odd"   # never an option
    assert run_arguments(["xemu-binfmt"]) is None


@ON_X86_64
def test_a_chroot_into_a_debian_root_runs_its_programs(tmp_path, guest_env):
    """Registered with --persistent and served from outside, binfmt_misc
    runs Debian's armhf dash inside `chroot ROOT`: the static launcher
    leaves the chroot through the server's root, and the program runs
    jailed in ROOT, where its shell runs sed and python3 by name. Without
    the server the launcher says what is missing, in one line."""
    from tests.debian_roots import root_of
    root = root_of("arm")
    if root is None:
        pytest.skip("no Debian arm root: python -m tests.debian_roots")
    skip_without_static_launcher(tmp_path)
    script = f"""
        $XEMU binfmt register --persistent --arch arm >/dev/null
        chroot {root} /bin/sh -c 'echo unserved' 2>&1 || echo "status $?"
        $XEMU binfmt serve >/dev/null 2>serve.log &
        trap 'kill $(jobs -p) 2>/dev/null' EXIT
        for i in $(seq 50); do grep -q serving serve.log && break; sleep 0.1; done
        chroot {root} /bin/sh -c 'echo hello | /bin/sed s/h/j/; cd /usr;
            /usr/bin/python3.11 -c "import os, sys; print(sys.platform, os.getcwd())"; exit 5' \
            || echo "status $?"
    """
    result = in_user_namespace(script, tmp_path, guest_env)
    out = result.stdout.decode()
    assert result.returncode == 0, result.stderr.decode()
    unserved, rest = out.split("status 127\n", 1)
    assert unserved.count("\n") == 1 and "xemu binfmt serve" in unserved
    assert rest.startswith("jello\nlinux /usr\n")
    assert rest.endswith("status 5\n")


def skip_without_static_launcher(tmp_path) -> None:
    """Skip unless the installed xemu registers its static launcher."""
    exported = tmp_path / "exported"
    exported.mkdir()
    run_xemu_cli("binfmt", "register", "--export", str(exported))
    if f"/{STATIC_LAUNCHER}:" not in (exported / "xemu-arm.conf").read_text():
        pytest.skip("the installed xemu has no static launcher (no static C library?)")


def run_xemu_cli(*args: str) -> subprocess.CompletedProcess:
    """The installed `xemu` command (the one binfmt_misc is given), whose
    package is the installed one, not this checkout's."""
    return subprocess.run([str(Path(sys.executable).parent / "xemu"), *args],
                          capture_output=True, check=True, cwd="/")


@pytest.mark.parametrize("drop", [False, True], ids=["with-cap", "without-cap"])
def test_the_root_server_answers_only_who_could_leave_a_chroot(tmp_path, drop):
    """serve() hands the real root only to a process of this user and user
    namespace that holds CAP_SYS_CHROOT (it could leave a chroot anyway)."""
    import socket
    from xemu.binfmt import may_leave_chroot
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv (util-linux) to make a peer with and without "
                    "CAP_SYS_CHROOT")
    path = str(tmp_path / "server")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        listener.bind(path)
        listener.listen(1)
        prefix = ["setpriv", "--bounding-set=-sys_chroot", "--inh-caps=-sys_chroot"] \
            if drop else []
        peer = subprocess.Popen([*prefix, sys.executable, "-c",
                                 "import socket, sys; s = socket.socket(socket.AF_UNIX); "
                                 f"s.connect({path!r}); sys.stdin.read()"],
                                stdin=subprocess.PIPE)
        try:
            connection, _ = listener.accept()
            with connection:
                assert may_leave_chroot(connection) is not drop
        finally:
            peer.communicate(b"")


@ON_X86_64
def test_a_program_that_may_be_run_but_not_read_runs(tmp_path, guest_env):
    """Flag O: the kernel opens the program and hands xemu the descriptor,
    so a program of mode 0111 runs for a user who cannot read it (here,
    root without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH)."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    skip_without_static_launcher(tmp_path)
    shutil.copy(binary("arm"), tmp_path / "hidden-arm")
    (tmp_path / "hidden-arm").chmod(0o111)
    blind = "setpriv --bounding-set=-dac_override,-dac_read_search " \
            "--inh-caps=-dac_override,-dac_read_search"
    script = f"""
        $XEMU binfmt register --arch arm >/dev/null
        {blind} cat ./hidden-arm >/dev/null 2>&1 || echo "unreadable"
        {blind} ./hidden-arm hello
    """
    result = in_user_namespace(script, tmp_path, guest_env)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().startswith("unreadable\nhello, world\n")
