"""Permission bits (issue 20, finding 5): a guest never makes a host file
set-user-ID or set-group-ID, by any call, nor sticky unless a directory."""
import os
import stat
import subprocess
import sys

import pytest

from tests.guests.cases import binary
from xemu.linux.syscalls.fs import allowed_mode

EXPECTED = """\
open O_CREAT 06755: 0755
fchmod 06777: 0777
chmod 04755: 0755
fchmodat 07755: 0755
creat 02755: 0755
mkdir 07777: 1755
chmod dir 07777: 1777
mknod file: 0
mknod 04755: 0755
mknod fifo: 0
fifo 02644: 0644
mknod char device: -1 Operation not permitted
fchmod stdout 06755: 0
"""


def test_allowed_mode():
    assert allowed_mode(0o7777, directory=False) == 0o777
    assert allowed_mode(0o7777, directory=True) == 0o1777
    assert allowed_mode(0o4755, directory=False) == 0o755
    assert allowed_mode(0o100644, directory=False) == 0o644


@pytest.mark.parametrize("arch", ["arm", "ppc", "x86_64"])
def test_no_setuid_bits_on_any_path(arch, tmp_path, guest_env):
    """Including fchmod on the inherited stdout: the host file behind it."""
    work = tmp_path / "work"
    work.mkdir()
    out = tmp_path / "stdout"
    with open(out, "wb") as stdout:
        result = subprocess.run([sys.executable, "-m", "xemu", "run", str(binary(arch)),
                                 "modes"], stdout=stdout, stderr=subprocess.PIPE,
                                env=guest_env, cwd=work, timeout=120)
    assert result.returncode == 0, result.stderr
    assert out.read_text() == EXPECTED
    mode = os.stat(out).st_mode
    assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX)
    assert list(work.iterdir()) == []
