"""What both reports start from: the derived sessions, the as-of date in words, the title."""
from __future__ import annotations

import pandas as pd

from analytics.flags import flag_patients, seen_in
from analytics.sessions import DERIVED_COLUMNS, derive_sessions, resolve_as_of
from analytics.settings import Settings

TITLE = "Botulinum toxin outcomes"


def derived_of(sessions: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """The sessions with their per-session metrics (as given when they already have them)."""
    if all(c in sessions.columns for c in DERIVED_COLUMNS):
        return sessions
    return derive_sessions(sessions, settings)


def as_of_text(sessions: pd.DataFrame, settings: Settings) -> str:
    """The as-of date as YYYY-MM-DD, or 'no sessions'."""
    if len(sessions) == 0:
        return "no sessions"
    as_of = resolve_as_of(sessions, settings)
    return "no sessions" if pd.isna(as_of) else as_of.date().isoformat()


def flags_of(derived: pd.DataFrame, settings: Settings, history: pd.DataFrame | None) -> pd.DataFrame:
    """The flagged patients of the selection, each judged on their whole history (as the app judges them) when
    the history is given, else on the selected sessions."""
    if history is None:
        return flag_patients(derived, settings)
    return seen_in(flag_patients(derived_of(history, settings), settings), derived)
