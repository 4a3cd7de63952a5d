"""Shared pytest set-up."""
from __future__ import annotations

import sys

import pytest


@pytest.fixture(autouse=True)
def _restore_main_module():
    """Streamlit's AppTest runs the app as `__main__` and leaves it there; a later test that starts processes
    with multiprocessing's spawn would then re-run the app's script in the child. Put the real one back."""
    main = sys.modules.get("__main__")
    yield
    if main is not None and sys.modules.get("__main__") is not main:
        sys.modules["__main__"] = main
