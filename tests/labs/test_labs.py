"""Every lab is also a test: run as a student runs it (`xemu lab run`),
and the shape of what it observed checked, never absolute times."""
import json

import pytest

from tests.helpers import kvm_skip_reason, run_xemu


@pytest.fixture(scope="module")
def observed(tmp_path_factory, request):
    """xemu lab run --all, once, in English."""
    report = tmp_path_factory.mktemp("labs") / "labs.json"
    result = run_xemu("lab", "run", "--all", "--json", str(report), timeout=900)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    return json.loads(report.read_text()), result.stdout.decode()


def test_translation_runs_a_ppc_guest_block_by_block(observed):
    found = observed[0]["translation"]
    assert found["ran"] and found["accel"] == "tcg"
    assert 0 < found["blocks"] < found["instructions"]
    assert "checksum" in found["output"]


def test_together_kvm_beats_translation(observed):
    found = observed[0]["together"]
    assert found["tcg_seconds"] > 0
    if kvm_skip_reason():
        pytest.skip(kvm_skip_reason())
    assert found["kvm_faster"] and found["vm_exits"].get("syscall", 0) >= 1


def test_ps_shows_the_accelerator_of_each_guest(observed):
    found = observed[0]["ps"]
    assert any("accel=tcg" in line and "-cpu ppc" in line for line in found["lines"])
    if found["kvm"]:
        assert any("accel=kvm" in line and "-cpu x86_64" in line for line in found["lines"])


def test_arch_refuses_kvm_for_ppc_and_translation_pays(observed):
    found = observed[0]["arch"]
    assert found["refusal_status"] == 2
    assert "cannot run ppc guests" in found["refusal"]
    if kvm_skip_reason():
        pytest.skip(kvm_skip_reason())
    assert found["ppc_seconds"] > found["x86_kvm_seconds"]


def test_a_lab_speaks_vietnamese():
    result = run_xemu("lab", "run", "ps", "--lang", "vi", timeout=300)
    shown = result.stdout.decode()
    assert result.returncode == 0 and "Bài 4" in shown and "máy khách" in shown


def test_the_list_and_a_wrong_name():
    listing = run_xemu("lab")
    assert listing.returncode == 0 and "translation" in listing.stdout.decode()
    wrong = run_xemu("lab", "run", "nosuch")
    lines = wrong.stderr.decode().strip().splitlines()
    assert wrong.returncode == 2 and len(lines) == 1 and "no lab named" in lines[0]


def test_every_lab_has_a_sheet_in_each_language_and_the_same_words():
    from tests.helpers import ROOT
    from xemu.labs import LABS, LANGS
    for name, lab in LABS.items():
        assert set(lab.TITLE) == set(LANGS) and set(lab.TEXT) == set(LANGS), name
        assert set(lab.TEXT["en"]) == set(lab.TEXT["vi"]), name
        for lang in LANGS:
            sheet = ROOT / "docs" / "labs" / lang / f"{name}.md"
            assert f"xemu lab run {name}" in sheet.read_text(), sheet


def test_kvm_alone_prints_only_when_user_space_serves_the_exits(observed):
    found = observed[0]["kvm"]
    if kvm_skip_reason():
        pytest.skip(kvm_skip_reason())
    assert found["served_output"] == "Hi\n"
    assert found["exits"] == ["io 0x3f8", "io 0x3f8", "io 0x3f8", "hlt"]
    assert found["unserved_output"] == "" and found["unserved_exits"] == found["exits"]


def test_exits_cost_more_than_native_calls_and_each_call_is_an_exit(observed):
    """A call served up in Python costs more than one answered at TCG's
    trap in C (which may cost what the native call does) and than native."""
    found = observed[0]["exits"]
    assert found["tcg_python_us"] > found["tcg_us"]
    assert found["tcg_python_us"] > found["native_us"]
    if kvm_skip_reason():
        pytest.skip(kvm_skip_reason())
    assert found["kvm_exits"] >= 20_000 and found["kvm_us"] > found["native_us"]


def test_the_together_chart_is_a_png(tmp_path):
    pytest.importorskip("matplotlib", reason="the chart needs the bench extra (matplotlib)")
    from xemu.labs.together import chart
    path = tmp_path / "together.png"
    chart({"native_seconds": 0.2, "kvm_seconds": 0.4, "tcg_seconds": 4.0}, str(path), "vi")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_chart_without_the_together_lab_is_a_usage_error():
    result = run_xemu("lab", "run", "ps", "--chart", "x.png")
    assert result.returncode == 2 and "together" in result.stderr.decode()
