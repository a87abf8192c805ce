"""The command line a user sees: messages, statuses, argument passing."""
import signal

from tests.guests.cases import binary
from tests.helpers import run_xemu


def one_line(result):
    text = result.stderr.decode()
    assert text.count("\n") == 1 and "Traceback" not in text, text
    return text


def test_version():
    result = run_xemu("--version")
    assert result.returncode == 0 and b"xemu" in result.stdout


def test_guest_options_after_the_image_go_to_the_guest(guest_env):
    result = run_xemu("run", str(binary("aarch64")), "hello", "-v", "--exit=3", env=guest_env)
    assert b"argv[1]=-v\n" in result.stdout
    assert result.returncode == 3


def test_environment_options(guest_env):
    result = run_xemu("run", "-E", "GREETING=hey", str(binary("ppc")), "hello", env=guest_env)
    assert b"GREETING=hey\n" in result.stdout
    env = {**guest_env, "GREETING": "host"}
    result = run_xemu("run", "-U", "GREETING", str(binary("ppc")), "hello", env=env)
    assert b"GREETING=(unset)\n" in result.stdout


def test_unknown_arch():
    result = run_xemu("run", "--arch", "mips", str(binary("arm")))
    assert result.returncode == 2
    assert "unknown arch 'mips'" in one_line(result)


def test_arch_mismatch():
    result = run_xemu("run", "--arch", "arm", str(binary("ppc")))
    assert result.returncode == 2
    assert "ppc program" in one_line(result)


def test_missing_and_non_elf_images(tmp_path):
    result = run_xemu("run", str(tmp_path / "nope"))
    assert result.returncode == 2 and "cannot read" in one_line(result)
    script = tmp_path / "script"
    script.write_text("#!/bin/sh\n")
    result = run_xemu("run", str(script))
    assert result.returncode == 2 and "not an ELF program" in one_line(result)


def test_segfault_report_names_signal_address_and_instruction(guest_env):
    result = run_xemu("run", str(binary("ppc")), "segv", env=guest_env)
    assert result.returncode == -signal.SIGSEGV
    line = result.stderr.decode().strip().splitlines()[-1]
    assert "SIGSEGV" in line and "write at 0x0" in line and "stw" in line


def test_unsupported_syscall_warns_once_unless_quiet(guest_env):
    loud = run_xemu("run", str(binary("arm")), "badsys", env=guest_env)
    assert b"unsupported syscall #4000" in loud.stderr
    quiet = run_xemu("run", "-q", str(binary("arm")), "badsys", env=guest_env)
    assert quiet.stderr == b""
    assert loud.stdout == quiet.stdout == b"result=-1 errno=Function not implemented\n"


def test_info_lists_every_arch():
    result = run_xemu("info")
    assert result.returncode == 0
    for arch in ("x86_64", "i386", "arm", "aarch64", "ppc"):
        assert arch.encode() in result.stdout


def test_output_to_a_character_device_that_is_not_a_terminal(guest_env):
    """glibc asks TCGETS of stdout; /dev/null must answer ENOTTY, not crash xemu."""
    import subprocess
    import sys
    with open("/dev/null", "wb") as null:
        result = subprocess.run([sys.executable, "-m", "xemu", "run", str(binary("arm")),
                                 "hello"], stdout=null, stderr=subprocess.PIPE, env=guest_env)
    assert result.returncode == 0, result.stderr
