import os

import pytest

from tests.helpers import ROOT


@pytest.fixture
def guest_env():
    """A small, fixed environment for xemu and its guest (GREETING unset)."""
    keep = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return {**keep, "PYTHONPATH": str(ROOT)}
