"""xemu matrix: planning, judging and reporting, without running guests."""
import json
import os
from xml.etree import ElementTree

import pytest

from xemu.matrix import plan
from xemu.matrix.judge import judge
from xemu.matrix.report import Result, junit, merge, passed, read_json, write_json
from xemu.matrix.run import Run


def executable(path, text="#!/bin/sh\n"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def test_a_pattern_finds_each_test_for_the_arches_that_have_it(tmp_path):
    executable(tmp_path / "build-arm" / "t_one")
    executable(tmp_path / "build-ppc" / "t_one")
    executable(tmp_path / "build-ppc" / "t_two")
    (tmp_path / "build-ppc" / "notes.txt").write_text("not a program")
    tests = plan.from_pattern(str(tmp_path / "build-{arch}" / "*"), ["arm", "ppc"], ("-v",))
    assert [(t.name, sorted(t.programs), t.args) for t in tests] == [
        ("t_one", ["arm", "ppc"], ("-v",)), ("t_two", ["ppc"], ("-v",))]
    with pytest.raises(plan.PlanError, match="no {arch}"):
        plan.from_pattern(str(tmp_path / "*"), ["arm"])
    with pytest.raises(plan.PlanError, match="finds no executable"):
        plan.from_pattern(str(tmp_path / "nothing-{arch}" / "*"), ["arm"])


def test_a_manifest_names_programs_expectations_per_arch_and_settings(tmp_path):
    for arch in ("arm", "ppc"):
        executable(tmp_path / f"b-{arch}" / "order")
    (tmp_path / "little.out").write_text("little\n")
    (tmp_path / "big.out").write_text("big\n")
    (tmp_path / "m.toml").write_text('''
[matrix]
program = "b-{arch}/{name}"
timeout = 5
reference = "arm"

[[test]]
name = "order"
args = ["x"]
stdin_text = "in"
expected = { "*" = "little.out", ppc = "big.out" }
status = { "*" = 0, ppc = 3 }
''')
    tests, settings = plan.from_manifest(str(tmp_path / "m.toml"), ["arm", "ppc", "i386"])
    (test,) = tests
    assert sorted(test.programs) == ["arm", "ppc"] and test.stdin == b"in"
    assert test.expected_output("arm") == b"little\n" and test.expected_output("ppc") == b"big\n"
    assert test.expected_status("arm") == 0 and test.expected_status("ppc") == 3
    assert settings["timeout"] == 5 and settings["reference"] == "arm"
    (tmp_path / "bad.toml").write_text('[[test]]\nname = "x"\nprogram = "p-{arch}"\n'
                                       'status = { sparc = 1 }\n')
    with pytest.raises(plan.PlanError, match="unknown arch 'sparc'"):
        plan.from_manifest(str(tmp_path / "bad.toml"), ["arm"])
    (tmp_path / "broken.toml").write_text("[[test]\n")
    with pytest.raises(plan.PlanError, match="broken.toml"):
        plan.from_manifest(str(tmp_path / "broken.toml"), ["arm"])


def test_shards_split_every_test_once_and_the_same_way_each_time():
    tests = [plan.Test(f"test{i}", {"arm": "p"}) for i in range(40)]
    parts = [plan.shard(tests, k, 3) for k in (1, 2, 3)]
    names = [t.name for part in parts for t in part]
    assert sorted(names) == sorted(t.name for t in tests) and len(names) == 40
    assert all(part for part in parts)
    assert plan.shard(tests, 2, 3) == parts[1]
    with pytest.raises(plan.PlanError):
        plan.shard(tests, 4, 3)


def runs_of(test, *outcomes):
    """Runs of one test: (arch, accel, status, stdout) each."""
    return [Run(plan.Cell(test, arch, accel), status, stdout, b"", 0.1)
            for arch, accel, status, stdout in outcomes]


def test_without_expectations_the_arches_must_agree():
    test = plan.Test("t", {a: "p" for a in ("x86_64", "arm", "ppc")})
    runs = runs_of(test, ("x86_64", "tcg", 0, b"1\n"), ("arm", "tcg", 0, b"1\n"),
                   ("ppc", "tcg", 0, b"256\n"))
    verdicts = judge(runs)
    assert [v.outcome for v in verdicts] == ["pass", "pass", "fail"]
    assert "stdout differs from the other arches (2 of 3)" in verdicts[2].reason
    assert "-1\n+256" in verdicts[2].diff


def test_a_reference_run_decides_and_a_killed_run_is_a_crash():
    test = plan.Test("t", {a: "p" for a in ("x86_64", "arm")})
    runs = runs_of(test, ("x86_64", "native", 0, b"ok\n"), ("x86_64", "kvm", 0, b"ok\n"),
                   ("arm", "tcg", -11, b""))
    verdicts = judge(runs, reference=("x86_64", "native"))
    assert [v.outcome for v in verdicts] == ["pass", "pass", "crash"]
    assert "killed by SIGSEGV, x86_64 natively exit 0" in verdicts[2].reason


def test_expectations_timeouts_internal_errors_and_runs_not_made():
    test = plan.Test("t", {"arm": "p", "ppc": "p", "i386": "p", "aarch64": "p"},
                     status={"*": 0}, expected={"*": b"ok\n"})
    runs = runs_of(test, ("arm", "tcg", 0, b"ok\n"), ("ppc", "tcg", 0, b"ok\n"),
                   ("i386", "tcg", 70, b""), ("aarch64", "tcg", None, b""))
    runs[1].timed_out = True
    runs[2].stderr = b"xemu: internal error: KeyError: 5\n"
    runs[3].note = "not run (interrupted)"
    verdicts = judge(runs)
    assert [v.outcome for v in verdicts] == ["pass", "timeout", "crash", "not run"]
    assert "KeyError" in verdicts[2].reason


def results():
    return [Result("t1", "arm", "tcg", "arm", "pass", "exit 0", 0.5),
            Result("t1", "ppc", "tcg", "ppc", "fail", "exit 1", 0.25, "stdout differs",
                   "--- a\n+++ b\n"),
            Result("t2", "ppc", "tcg", "ppc", "timeout", "exit 124", 9.0, "still running")]


def test_junit_xml_parses_back_with_the_counts():
    root = ElementTree.fromstring(junit(results()))
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert suites["ppc"].get("tests") == "2" and suites["ppc"].get("failures") == "1"
    assert suites["ppc"].get("errors") == "1" and suites["arm"].get("failures") == "0"
    failure = suites["ppc"].find("testcase[@name='t1']/failure")
    assert failure.get("message") == "stdout differs" and "+++ b" in failure.text


def test_json_reports_round_trip_and_merge_refuses_a_shard_twice(tmp_path):
    first, second = tmp_path / "1.json", tmp_path / "2.json"
    write_json(str(first), results()[:2], "1/2")
    write_json(str(second), results()[2:], "2/2")
    assert read_json(str(first)) == results()[:2]
    merged = merge([str(first), str(second)])
    assert len(merged) == 3 and not passed(merged)
    with pytest.raises(ValueError, match="the same shard twice"):
        merge([str(first), str(first)])
    (tmp_path / "other.json").write_text(json.dumps({"results": []}))
    with pytest.raises(ValueError, match="not an xemu matrix report"):
        read_json(str(tmp_path / "other.json"))


def test_accelerators_per_arch():
    assert plan.accelerators("ppc", "all") == ["tcg"]
    assert plan.accelerators("ppc", "kvm") == []
    assert plan.accelerators("x86_64", "tcg") == ["tcg"]
    if os.path.exists("/dev/kvm") and os.access("/dev/kvm", os.R_OK | os.W_OK):
        assert plan.accelerators("x86_64", "all") == ["kvm", "tcg"]


def test_the_command_line_beats_the_manifest_and_the_manifest_beats_defaults(tmp_path):
    from xemu.matrix import DEFAULT_MEMORY, DEFAULT_TIMEOUT, Options, tests_of
    executable(tmp_path / "b-arm" / "t")
    (tmp_path / "m.toml").write_text('[matrix]\nprogram = "b-{arch}/{name}"\ntimeout = 5\n'
                                     '[[test]]\nname = "t"\n')
    manifest = str(tmp_path / "m.toml")
    chosen = Options([manifest], ["arm"])
    tests_of(chosen)
    assert chosen.timeout == 5 and chosen.memory == DEFAULT_MEMORY
    given = Options([manifest], ["arm"], timeout=9.0, memory="2G")
    tests_of(given)
    assert given.timeout == 9.0 and given.memory == "2G"
    plain = Options([str(tmp_path / "b-{arch}" / "*")], ["arm"])
    tests_of(plain)
    assert plain.timeout == DEFAULT_TIMEOUT
