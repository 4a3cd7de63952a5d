"""Configuration read from the environment: secrets and limits never come from the data itself."""
from __future__ import annotations

import os

PSEUDONYM_KEY_ENV = "OUTCOMES_PSEUDONYM_KEY"
MAX_FILE_MB_ENV = "OUTCOMES_MAX_FILE_MB"
DEFAULT_MAX_FILE_MB = 1024


def pseudonym_key(explicit: str | bytes | None = None) -> bytes | None:
    """The clinic's secret for keyed pseudonymisation: an explicit value (e.g. Streamlit secrets) or the env var."""
    value = explicit if explicit not in (None, "", b"") else os.environ.get(PSEUDONYM_KEY_ENV)
    if not value:
        return None
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def max_file_bytes() -> int:
    """The largest file the importer accepts, in bytes (OUTCOMES_MAX_FILE_MB, default 1024 MB)."""
    raw = os.environ.get(MAX_FILE_MB_ENV, "")
    try:
        megabytes = float(raw) if raw else DEFAULT_MAX_FILE_MB
    except ValueError:
        megabytes = DEFAULT_MAX_FILE_MB
    return int(megabytes * 1024 * 1024)
