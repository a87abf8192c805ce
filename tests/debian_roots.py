"""Root file systems of Debian's own foreign packages, for the tests that run
real distribution programs (tests/matrix/test_debian_packages.py).

    python -m tests.debian_roots [DIR]

downloads, for each arch in ARCHES, the packages in PACKAGES and everything
they depend on from Debian's archive, with an apt of its own (its lists,
cache and empty dpkg status live under DIR/.apt, so the host's apt and dpkg
learn nothing of foreign architectures), and unpacks each with `dpkg -x`
into DIR/<arch>: what debootstrap's first stage does, without running any
package's scripts. .ci/run builds them; the tests skip where they are
missing. DIR defaults to DEFAULT_DIR, or $XEMU_DEBIAN_ROOTS.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from xemu.archs import by_name

DEFAULT_DIR = Path("/var/tmp/xemu-debian-roots")
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
# Debian's main archive has these foreign arches (its powerpc is in ports).
ARCHES = ("arm", "aarch64")
PACKAGES = ("dash", "coreutils", "grep", "sed", "gawk", "findutils", "python3.11")


def roots_dir() -> Path:
    return Path(os.environ.get("XEMU_DEBIAN_ROOTS", DEFAULT_DIR))


def root_of(arch: str) -> Path | None:
    """The unpacked root for arch, None if it has not been built."""
    root = roots_dir() / arch
    return root if (root / ".complete").exists() else None


def build(arch: str, directory: Path) -> Path:
    """Download and unpack arch's root into directory/arch."""
    debian = by_name(arch).elf.debian
    state = directory / ".apt" / debian
    for sub in ("etc/apt/apt.conf.d", "etc/apt/preferences.d", "etc/apt/sources.list.d",
                "lists/partial", "archives/partial"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    (state / "status").touch()
    (state / "etc/apt/sources.list").write_text(
        f"deb [arch={debian} signed-by={KEYRING}] {MIRROR} {SUITE} main\n")
    options = [f"-oDir::Etc={state}/etc/apt", f"-oDir::State={state}",
               f"-oDir::State::Lists={state}/lists", f"-oDir::Cache={state}",
               f"-oDir::Cache::Archives={state}/archives",
               f"-oDir::State::status={state}/status", f"-oAPT::Architecture={debian}",
               f"-oAPT::Architectures::={debian}", "-oDebug::NoLocking=1", "-q"]
    subprocess.run(["apt-get", *options, "update"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", *options, "-y", "--no-install-recommends", "--download-only",
                    "install", *PACKAGES], check=True, stdout=subprocess.DEVNULL)
    root = directory / arch
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for package in sorted((state / "archives").glob("*.deb")):
        subprocess.run(["dpkg", "-x", str(package), str(root)], check=True)
    (root / ".complete").write_text(" ".join(PACKAGES) + "\n")
    return root


def main(argv: list[str]) -> int:
    directory = Path(argv[0]) if argv else roots_dir()
    for arch in ARCHES:
        print(f"{arch}: {build(arch, directory)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
