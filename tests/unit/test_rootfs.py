"""--rootfs: every way out of the guest's root is tried, and a file outside
it stays unreachable; ordinary programs work inside it unchanged."""
import os
import shutil

import pytest

from tests.guests.cases import CASES, binary
from tests.helpers import run_xemu

SECRET = b"host secret 7d1f"
ESCAPES = {
    "cat:/etc/passwd": "inside",
    "cat:../../../../etc/passwd": "inside",
    "cat:/abs-link": "inside",                        # symlink to /etc/passwd
    "cat:/rel-link": "No such file or directory",     # ../../.. then the secret
    "cat:/loop": "Too many levels of symbolic links",
    "cat:/proc/self/root/etc/passwd": "No such file or directory",
    "cat:/proc-link": "No such file or directory",    # symlink into /proc/self/root
    "at:/sub:../../../../secret": "No such file or directory",
    "at:/sub:../etc/passwd": "inside",
    "cd:../../../..": "ok /",
    "cd:/sub": "ok /sub",
    "stat:/etc/passwd": "size 7",
    "link:/abs-link": "/etc/passwd",
    "auxv": "AT_PAGESZ 4096",
}


@pytest.fixture
def jail(tmp_path):
    """tmp_path/root is the guest's /; tmp_path/secret is outside it."""
    (tmp_path / "secret").write_bytes(SECRET)
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "sub").mkdir()
    (root / "etc" / "passwd").write_text("inside\n")
    os.symlink("/etc/passwd", root / "abs-link")
    os.symlink("../" * 8 + str(tmp_path / "secret").lstrip("/"), root / "rel-link")
    os.symlink("loop", root / "loop")
    os.symlink("/proc/self/root" + str(tmp_path / "secret"), root / "proc-link")
    return root


def install(root, arch: str) -> str:
    """The test program copied into the guest's tree: its guest path."""
    (root / "bin").mkdir(exist_ok=True)
    shutil.copy(binary(arch), root / "bin" / "xtest")
    return "/bin/xtest"


@pytest.mark.parametrize("arch", ["arm", "ppc", "x86_64"])
def test_every_escape_stays_inside(arch, jail, guest_env):
    result = run_xemu("run", "--rootfs", str(jail), install(jail, arch), "jail", *ESCAPES,
                      env=guest_env, cwd=jail / "sub")
    assert result.returncode == 0, result.stderr
    answers = dict(line.split(": ", 1) for line in result.stdout.decode().splitlines())
    assert answers == ESCAPES
    assert SECRET not in result.stdout


@pytest.mark.parametrize("name", ["fileio", "dirs"])
def test_programs_run_unchanged_inside_a_rootfs(name, jail, guest_env):
    case = next(c for c in CASES if c.name == name)
    program = install(jail, "aarch64")
    before = set(jail.iterdir())
    result = run_xemu("run", "-q", "--rootfs", str(jail), program, *case.args,
                      env=guest_env, cwd=jail.parent)
    assert result.stdout == case.expected("aarch64", program)
    assert result.returncode == 0
    assert set(jail.iterdir()) == before           # cleaned up after itself, inside
    assert sorted(p.name for p in jail.parent.iterdir()) == ["root", "secret"]


def test_the_program_is_looked_up_inside_the_rootfs(jail, guest_env):
    """As `chroot DIR /bin/xtest`: DIR/bin/xtest runs, a relative name starts
    from the guest's /, and a program only the host has is not found."""
    program = install(jail, "arm")
    inside = run_xemu("run", "--rootfs", str(jail), program, "hello", env=guest_env)
    assert inside.returncode == 0 and inside.stdout.startswith(b"hello, world\n")
    relative = run_xemu("run", "--rootfs", str(jail), "bin/xtest", "hello", env=guest_env)
    assert relative.returncode == 0
    outside = run_xemu("run", "--rootfs", str(jail), str(binary("arm")), "hello",
                       env=guest_env)
    assert outside.returncode == 2
    assert outside.stderr.decode() == (
        f"xemu: error: {binary('arm')}: No such file or directory inside --rootfs {jail} "
        "(the program is looked up there, as chroot does)\n")


def test_rootfs_must_be_a_directory(tmp_path):
    result = run_xemu("run", "--rootfs", str(tmp_path / "nope"), str(binary("arm")), "hello")
    assert result.returncode == 2
    expected = f"xemu: error: --rootfs {tmp_path / 'nope'} is not a directory\n"
    assert result.stderr.decode() == expected


@pytest.mark.parametrize("accel", ["tcg", "kvm"])
def test_guest_descriptors_cannot_reach_xemus_own(accel, guest_env, tmp_path):
    """xemu holds descriptors of its own (under KVM: /dev/kvm, the VM, the
    vCPU). The guest's table is its own, /proc/self/fd included."""
    from tests.helpers import kvm_skip_reason
    if accel == "kvm" and kvm_skip_reason():
        pytest.skip(kvm_skip_reason())
    (tmp_path / "data").write_text("guest file\n")
    probes = [f"cat:/proc/self/fd/{fd}" for fd in range(3, 24)]
    result = run_xemu("run", "--accel", accel, str(binary("x86_64")), "jail",
                      "at:/proc/self/fd/3:data", *probes, "at:.:/proc/self/fd/3/data",
                      env=guest_env, cwd=tmp_path)
    lines = result.stdout.decode().splitlines()
    # the guest's own fd 3 (not yet open) is no directory of xemu's either
    assert lines[0] == "at:/proc/self/fd/3:data: No such file or directory"
    assert lines[1:-1] == [f"{p}: No such file or directory" for p in probes]
    # once the guest opens "." as its fd 3, /proc/self/fd/3 is that directory
    assert lines[-1] == "at:.:/proc/self/fd/3/data: guest file"


def test_unix_socket_names_are_paths_inside_the_rootfs(jail, guest_env):
    """A named AF_UNIX socket is bound inside the root (through its
    directory's descriptor) and getsockname gives the guest's own name."""
    case = next(c for c in CASES if c.name == "unixfd")
    program = install(jail, "arm")
    result = run_xemu("run", "-q", "--rootfs", str(jail), program, *case.args,
                      env=guest_env, cwd=jail.parent)
    assert result.stdout == case.expected("arm", program), result.stderr
    assert sorted(p.name for p in jail.parent.iterdir()) == ["root", "secret"]


def test_open_ignores_a_mode_it_does_not_use(tmp_path):
    """openat2 refuses a mode without O_CREAT, and mode bits past 07777,
    which open(2) ignores: a guest's open("f", O_RDONLY, 0644) failed with
    EINVAL under --rootfs."""
    from xemu.linux.rootfs import RootFs
    (tmp_path / "f").write_text("x")
    root = RootFs(str(tmp_path))
    os.close(root.open(b"/f", os.O_RDONLY, 0o644))
    mask = os.umask(0)
    os.umask(mask)
    os.close(root.open(b"/g", os.O_CREAT | os.O_WRONLY, 0o170644))
    assert (tmp_path / "g").stat().st_mode & 0o7777 == 0o644 & ~mask


def test_a_directory_whose_name_is_not_utf8_has_a_guest_path(tmp_path):
    """chdir into such a directory was an internal error under --rootfs."""
    from xemu.linux.rootfs import RootFs
    name = b"caf\xe9"
    os.mkdir(os.fsencode(tmp_path) + b"/" + name)
    root = RootFs(str(tmp_path))
    fd = root.open(b"/" + name, os.O_PATH | os.O_DIRECTORY)
    try:
        assert root.guest_path_of(fd) == b"/" + name
    finally:
        os.close(fd)
