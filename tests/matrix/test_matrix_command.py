"""`xemu matrix` end to end: the test programs as a project's tests, run on
every arch, judged, and reported for a person and for CI."""
import json
import shutil
import signal
import subprocess
import sys
import time
from xml.etree import ElementTree

import pytest

from tests.guests.cases import GUESTS
from tests.helpers import run_xemu

ARCHES = ("x86_64", "i386", "arm", "aarch64", "ppc")
MANIFEST = f'''
[matrix]
program = "{GUESTS}/bin/{{arch}}/xtest"
timeout = 60

[[test]]
name = "hello"
args = ["hello"]
expected = "{GUESTS}/expected/hello-noargs.out"

[[test]]
name = "divzero"
args = ["divzero"]
status = {{ "*" = -8, aarch64 = 0, ppc = 1 }}
'''


def test_a_manifest_on_every_arch_passes_and_reports(tmp_path, guest_env):
    manifest = tmp_path / "tests.toml"
    manifest.write_text(MANIFEST)
    result = run_xemu("matrix", str(manifest), "--json", str(tmp_path / "r.json"),
                      "--junit", str(tmp_path / "r.xml"), env=guest_env, timeout=600)
    shown = result.stdout.decode()
    assert result.returncode == 0, shown + result.stderr.decode()
    report = json.loads((tmp_path / "r.json").read_text())["results"]
    assert {r["arch"] for r in report} == set(ARCHES)
    assert {r["outcome"] for r in report} == {"pass"}
    assert {(r["test"], r["arch"], r["status"]) for r in report if r["test"] == "divzero"} >= {
        ("divzero", "ppc", "exit 1"), ("divzero", "arm", "killed by SIGFPE")}
    suites = ElementTree.parse(tmp_path / "r.xml").getroot().findall("testsuite")
    assert sum(int(s.get("tests")) for s in suites) == len(report)
    assert "runs of 2 tests" in shown and "pass" in shown


def test_arches_that_differ_fail_with_the_difference(tmp_path, guest_env):
    # uname's machine differs on every arch: compared across arches, the
    # majority is only one of them
    result = run_xemu("matrix", str(GUESTS / "bin" / "{arch}" / "xtest"), "-a", "proc",
                      "--arch", "arm", "--arch", "aarch64", "--accel", "tcg",
                      env=guest_env, timeout=600)
    shown = result.stdout.decode()
    assert result.returncode == 1, shown
    assert "fail" in shown and "stdout differs from the other arches" in shown
    assert "-" in shown and "+" in shown


def test_a_native_reference_and_shards_merged(tmp_path, guest_env):
    pattern = str(GUESTS / "bin" / "{arch}" / "xtest")
    reports = []
    for k in (1, 2):
        report = tmp_path / f"shard{k}.json"
        result = run_xemu("matrix", pattern, "-a", "hello", "--arch", "x86_64", "--arch", "arm",
                          "--reference", "x86_64", "--shard", f"{k}/2", "--json", str(report),
                          env=guest_env, timeout=600)
        assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
        reports.append(str(report))      # (one shard is empty: one test, two shards)
    merged = run_xemu("matrix", "merge", *reports, "--junit", str(tmp_path / "all.xml"),
                      env=guest_env)
    assert merged.returncode == 0, merged.stdout.decode() + merged.stderr.decode()
    assert "x86_64/native" in merged.stdout.decode()
    full = next(path for path in reports if json.loads(open(path).read())["results"])
    again = run_xemu("matrix", "merge", full, full, env=guest_env)
    assert again.returncode == 2 and "the same shard twice" in again.stderr.decode()


def test_bad_input_is_one_line_and_status_2(tmp_path, guest_env):
    for args, words in ((["no-such-{arch}/*"], "finds no executable"),
                        (["x", "--shard", "3/2"], "not K/N"),
                        ([str(tmp_path / "missing")], "no such file")):
        result = run_xemu("matrix", *args, env=guest_env)
        lines = result.stderr.decode().strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1 and words in lines[0], lines


def test_ctrl_c_ends_children_and_writes_what_ran(tmp_path, guest_env):
    # the programs are copies under tmp_path: their command lines are this
    # test's alone, whatever else runs on the machine
    for arch in ARCHES:
        copy = tmp_path / arch / "xtest"
        copy.parent.mkdir()
        shutil.copy(GUESTS / "bin" / arch / "xtest", copy)
    manifest = tmp_path / "slow.toml"
    manifest.write_text(f'''
[matrix]
program = "{tmp_path}/{{arch}}/xtest"
timeout = 60

[[test]]
name = "spin"
args = ["spin"]

[[test]]
name = "spin-again"
args = ["spin"]
''')
    report = tmp_path / "partial.json"
    # (SIGINT back to its default first: a process that inherits it ignored,
    # as from some test runners, never sees Ctrl-C, and neither does Python)
    child = subprocess.Popen([sys.executable, "-m", "xemu", "matrix", str(manifest), "-j", "2",
                              "--json", str(report)], env=guest_env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not _spinning(tmp_path):
        time.sleep(0.2)
    child.send_signal(signal.SIGINT)
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 130, out.decode()
    outcomes = [r["outcome"] for r in json.loads(report.read_text())["results"]]
    assert set(outcomes) == {"not run"} and len(outcomes) >= 2 * len(ARCHES)
    time.sleep(0.5)
    assert not _spinning(tmp_path), "a guest was left running"


def _spinning(where) -> bool:
    found = subprocess.run(["pgrep", "-f", f"{where}/.*xtest spin"], capture_output=True)
    return found.returncode == 0


if not shutil.which("pgrep"):
    test_ctrl_c_ends_children_and_writes_what_ran = pytest.mark.skip(
        reason="pgrep is not installed")(test_ctrl_c_ends_children_and_writes_what_ran)
