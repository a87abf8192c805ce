"""Teaching labs: each claim about QEMU, KVM and TCG shown live on this
machine, measured, and told in plain words (English or Vietnamese).

A lab is a module here with NAME, TITLE {lang: text}, TEXT {lang: {key:
format}} and run(lab) -> observations. The guest is `labguest`, a few KB
per arch shipped inside the package (guests/), run through `xemu run` in
a child process exactly as a student would type it. The sheets for
students are docs/labs/<lang>/<lab>.md.
"""
from __future__ import annotations

import sys

from . import arch, exits, kvm, ps, together, translation
from .common import Lab

LANGS = ("en", "vi")
LABS = {lab.NAME: lab for lab in (translation, kvm, together, ps, arch, exits)}
NAMES = tuple(LABS)


def run(name: str, lang: str = "en", out=sys.stdout) -> dict:
    """Run one lab: its observations (also printed, in words)."""
    lab = LABS[name]
    print(f"== {lab.TITLE[lang]} ==", file=out, flush=True)
    observations = lab.run(Lab(lab.TEXT[lang], out))
    print(file=out, flush=True)
    return observations
