"""Shared pytest set-up."""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

# Tests never read or write the clinic's real store: every process started by the tests (the app under
# `streamlit run` too) inherits this empty store path unless a test sets its own.
_STORE_DIR = tempfile.mkdtemp(prefix="outcomes-test-store-")
os.environ["OUTCOMES_DB"] = str(Path(_STORE_DIR) / "outcomes.duckdb")


@pytest.fixture(autouse=True)
def _restore_main_module():
    """Streamlit's AppTest runs the app as `__main__` and leaves it there; a later test that starts processes
    with multiprocessing's spawn would then re-run the app's script in the child. Put the real one back."""
    main = sys.modules.get("__main__")
    yield
    if main is not None and sys.modules.get("__main__") is not main:
        sys.modules["__main__"] = main
