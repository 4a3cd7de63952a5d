"""What both reports start from: the derived sessions, the as-of date in words, the title, the flags and the
monthly p-chart (with its baseline months before the period, as the Overview draws it)."""
from __future__ import annotations

import pandas as pd

from analytics.flags import flag_patients, seen_in
from analytics.presentation import pchart_shown
from analytics.sessions import DERIVED_COLUMNS, derive_sessions, resolve_as_of
from analytics.settings import Settings
from analytics.spc import followup_lag_days

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


def tile_sessions(derived: pd.DataFrame, settings: Settings, baseline: pd.DataFrame | None) -> pd.DataFrame:
    """The sessions the KPI tiles are computed from: the same filters at every date when given (as the Overview's
    tiles: the previous period of the same length is then in the data, so the tiles have a change to show), else the
    selection."""
    return derived if baseline is None else derived_of(baseline, settings)


def due_days_of(derived: pd.DataFrame, settings: Settings, history: pd.DataFrame | None) -> int:
    """How long follow-ups take (analytics.spc.followup_lag_days) from the whole history when given, as the app's
    tiles and p-chart take it: the KPI tiles' "not yet due" count and the p-chart's provisional months agree."""
    return followup_lag_days(derived_of(history, settings) if history is not None else derived, settings)


def pchart_of(derived: pd.DataFrame, settings: Settings, start=None, end=None, baseline: pd.DataFrame | None = None,
              history: pd.DataFrame | None = None) -> tuple[pd.DataFrame, int]:
    """The report's p-chart as the Overview draws it: the months of `baseline` (the same filters at every date;
    default: the selection itself) from 24 months before the period's end, the period [start, end] shaded, the
    follow-up delay from the whole history, months whose follow-ups are still due provisional."""
    data = derived if baseline is None else derived_of(baseline, settings)
    if len(data) == 0:
        return pchart_shown(data, settings)
    as_of = resolve_as_of(data, settings)
    first = pd.to_datetime(derived["session_date"]).min() if len(derived) else as_of
    lag = followup_lag_days(derived_of(history, settings) if history is not None else data, settings)
    return pchart_shown(data, settings, period_start=pd.Timestamp(start) if start else first,
                        period_end=pd.Timestamp(end) if end else as_of, as_of=as_of, lag_days=lag)
