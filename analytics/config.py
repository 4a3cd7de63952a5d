"""Configuration read from the environment: secrets and limits never come from the data itself."""
from __future__ import annotations

import os
import zoneinfo

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


TIMEZONE_ENV = "OUTCOMES_TIMEZONE"
DEFAULT_TIMEZONE = "Europe/London"


def timezone() -> str:
    """The clinic's time zone (OUTCOMES_TIMEZONE, an IANA name; default Europe/London): a timestamp that carries
    a zone is converted to it before its date is taken.

    An unknown name raises ValueError naming the setting rather than falling back: a silent fallback would move
    dates by a day without anyone being told.
    """
    name = os.environ.get(TIMEZONE_ENV, "").strip() or DEFAULT_TIMEZONE
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # unknown name, a path, a folder
        raise ValueError(f"{TIMEZONE_ENV} is set to '{name}', which is not a time zone name "
                         f"(use an IANA name such as {DEFAULT_TIMEZONE} or America/New_York).") from None
    return name
