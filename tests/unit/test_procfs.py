"""The guest's own /proc (issue 20, finding 1): the path classifier that
decides which guest paths are served from the guest's state, and the host
descriptor check behind it."""
import errno
import os
import shutil

import pytest

from tests.guests.cases import binary
from tests.helpers import run_xemu
from xemu.linux import procfs
from xemu.linux.procfs import resolve

PID = 4242
TREE = {                                   # symlinks of a pretend guest tree
    b"/proc/self": b"4242",                # never read: /proc/self is ours by name
    b"/tmp/me": b"/proc/self",
    b"/tmp/rel": b"../proc/4242",
    b"/tmp/loop": b"/tmp/loop",
    b"/tmp/chain": b"/tmp/me",
    b"/home/ln": b"/proc",
}
MISSING = {b"/nope"}


def readlink(path):
    if path in MISSING or any(path.startswith(m + b"/") for m in MISSING):
        raise OSError(errno.ENOENT, "missing")
    return TREE.get(path)


def classify(path, base=b"/home", follow=True, tids=(PID, 4243)):
    magic = {b"cwd": b"/home", b"root": b"/"}
    return resolve(path, base, readlink, PID, tids, follow,
                   lambda parts: magic.get(parts[0]) if parts[0] != b"fd" else
                   (b"/srv" if parts[1] == b"3" else None))


@pytest.mark.parametrize("path", [
    b"/proc/self/maps", b"/proc//self/maps", b"/proc/./self/maps", b"//proc///self//maps",
    b"/proc/self/../self/maps", b"/proc/thread-self/maps", b"/proc/4242/maps",
    b"/proc/4242/task/4242/maps", b"/proc/self/task/4243/maps", b"/tmp/me/maps",
    b"/tmp/rel/maps", b"/tmp/chain/maps", b"/home/ln/self/maps", b"../proc/self/maps",
    b"/../../proc/self/maps", b"/proc/self/./maps", b"/tmp/../proc/4242/maps",
    b"/proc/thread-self/../../maps",
])
def test_every_spelling_of_our_maps_is_ours(path):
    assert classify(path).proc == (b"maps",)


def test_relative_paths_start_at_the_base():
    assert classify(b"self/mem", base=b"/proc").proc == (b"mem",)
    assert classify(b"mem", base=b"/proc/4242").proc == (b"mem",)
    assert classify(b"../4242/exe", base=b"/proc/self").proc == (b"exe",)
    assert classify(b"maps", base=b"/home").proc is None


@pytest.mark.parametrize("path", [
    b"/proc/1/maps", b"/proc/42420/maps", b"/proc/04242/maps", b"/proc/selfish/maps",
    b"/proc/cpuinfo", b"/etc/passwd", b"/proc", b"/proc/", b"relative/file", b"/nope/../proc/self/maps",
])
def test_other_paths_go_to_the_host_unchanged(path):
    found = classify(path)
    assert found.proc is None and found.path == path and not found.rewritten


def test_directories_and_unknown_entries():
    assert classify(b"/proc/self").proc == ()
    assert classify(b"/proc/self/").proc == ()
    assert classify(b"/proc/4242/task").proc == (b"task",)
    assert classify(b"/proc/self/task/4242").proc == ()
    assert classify(b"/proc/self/task/999/maps").proc == (b"\0",)      # not our task
    assert procfs.kind_of(classify(b"/proc/self/smaps").proc) is None
    assert procfs.kind_of(classify(b"/proc/thread-self/../../self/maps").proc) is None
    assert procfs.kind_of(classify(b"/proc/self/maps/x").proc) is None
    assert procfs.kind_of(classify(b"/proc/self/fd/7").proc, fds=[0, 1, 2]) is None
    assert procfs.kind_of(classify(b"/proc/self/fd/1").proc, fds=[0, 1, 2]) == procfs.DT_LNK
    assert procfs.kind_of((b"fd", b"01"), fds=[1]) is None


def test_magic_links_are_the_guests():
    # exe: the link itself, and nothing below it
    assert classify(b"/proc/self/exe").proc == (b"exe",)
    assert classify(b"/proc/self/exe", follow=False).proc == (b"exe",)
    assert classify(b"/proc/self/exe/x").proc == (b"\0", b"ENOTDIR")
    # cwd and root lead into the guest's tree, as the guest sees it
    assert classify(b"/proc/self/cwd/file") == procfs.Resolved(path=b"/home/file", rewritten=True)
    assert classify(b"/proc/self/root/etc/passwd").path == b"/etc/passwd"
    assert classify(b"/proc/self/root/proc/self/maps").proc == (b"maps",)
    assert classify(b"/proc/self/cwd", follow=False).proc == (b"cwd",)
    assert classify(b"/proc/self/cwd").path == b"/home"
    # fd/N: a directory descriptor's path, or the descriptor itself
    assert classify(b"/proc/self/fd/3/a").path == b"/srv/a"
    assert classify(b"/proc/self/fd/1").proc == (b"fd", b"1")
    assert classify(b"/proc/self/fd/1/a").proc == (b"\0", b"ENOTDIR")


def test_nofollow_leaves_the_last_symlink_alone():
    assert classify(b"/tmp/me", follow=False).proc is None
    assert classify(b"/tmp/me").proc == ()


def test_a_symlink_loop_goes_to_the_host_for_its_eloop():
    assert classify(b"/tmp/loop/x").path == b"/tmp/loop/x"


def test_host_descriptors_on_our_procfs_are_refused():
    fd = os.open(f"/proc/{os.getpid()}/status", os.O_RDONLY)
    with pytest.raises(OSError) as caught:
        procfs.refuse_host_fd(fd, {os.getpid()})
    assert caught.value.errno == errno.EACCES
    with pytest.raises(OSError):
        os.fstat(fd)                       # closed
    other = os.open("/proc/1/stat", os.O_RDONLY)
    procfs.refuse_host_fd(other, {os.getpid()})       # another process's: allowed
    os.close(other)
    plain = os.open("/etc/passwd", os.O_RDONLY)
    procfs.refuse_host_fd(plain, {os.getpid()})
    os.close(plain)


def test_our_proc_inside_a_rootfs(tmp_path, guest_env):
    """Under --rootfs, /proc of the guest's tree (here a plain directory with
    a fake entry named as xemu's would be) and links to it are the guest's."""
    root = tmp_path / "root"
    (root / "proc" / "self").mkdir(parents=True)
    (root / "proc" / "self" / "mem").write_text("fake host entry\n")
    os.symlink("/proc/self", root / "selflink")
    os.symlink("proc/thread-self", root / "rel-selflink")
    ops = ["cat:/proc/self/mem", "cat:/selflink/mem", "cat:/rel-selflink/comm",
           "cat:/proc/self/comm", "cat:/proc//self/comm", "link:/selflink/exe",
           "cat:/proc/self/smaps", "link:/proc/self/root", "link:/proc/self/cwd"]
    (root / "bin").mkdir()
    shutil.copy(binary("arm"), root / "bin" / "xtest")
    result = run_xemu("run", "--rootfs", str(root), "/bin/xtest", "jail", *ops,
                      env=guest_env, cwd=root)
    assert result.returncode == 0, result.stderr
    answers = dict(line.split(": ", 1) for line in result.stdout.decode().splitlines())
    assert answers == {
        "cat:/proc/self/mem": "Permission denied", "cat:/selflink/mem": "Permission denied",
        "cat:/rel-selflink/comm": "xtest", "cat:/proc/self/comm": "xtest",
        "cat:/proc//self/comm": "xtest", "link:/selflink/exe": "/bin/xtest",
        "cat:/proc/self/smaps": "No such file or directory",
        "link:/proc/self/root": "/", "link:/proc/self/cwd": "/"}
