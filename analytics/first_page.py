"""The Overview's first page (the Headline tab: KPI tiles and the monthly p-chart) computed from the derived
sessions, one small function per result, under the same cache keys the app uses.

Why a module of its own: the clinic's store keeps these results ready for the default view (the default settings,
the default period, no filter), written by every import, undo and erasure (analytics/store_results.py), so a lead's
first visit after the server started reads a few kB instead of deriving 1.3M sessions. The app computes each
result with these same functions (views/overview.py) and looks it up under the same key, so a stored result and a
computed one cannot differ (tests/test_first_page.py).
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import pandas as pd

from .flags import flag_patients
from .presentation import kpi_tiles_shown, pchart_shown, too_few_message
from .selection import DEFAULT_PERIOD, FILTER_COLUMNS, Selection, period_bounds, period_mask, take
from .sessions import DERIVED_COLUMNS
from .settings import Settings
from .spc import followup_lag_days

# The columns the filtered views need (every analytics call of the Overview, Patients and Compare pages reads only
# these): the grouping columns, the baselines the case-mix adjustment bands on, and every derived column. Filtering
# a slim frame is several times faster than filtering all ~40 columns of 1.3M sessions.
ANALYSIS_COLUMNS = tuple(dict.fromkeys((
    "patient_id", "session_date", "site", "practitioner_id", "indication", "product", "total_units",
    "baseline_pain", "baseline_twstrs", "followup_days", "onset_days", "peak_days", "adverse_events",
    *DERIVED_COLUMNS,
)))

# What `compute` reads: the filtered views' columns and the muscles (the flags' "muscles changed" factor). An
# import reads only these from the store (every column of 10M sessions would not fit in its memory).
INPUT_COLUMNS = (*ANALYSIS_COLUMNS, "muscles")

# The results the store keeps for the default view, and whether each depends on the selection ("sessions") or
# only on the data and settings ("all"): the scopes of views.context.Context.cached.
STORED = {"flags": "all", "followup_lag": "all", "kpis": "sessions", "pchart": "sessions", "too_few": "sessions"}


@functools.cache
def code_version() -> str:
    """A hash of the analytics package's source: part of every kept result's version, so a result computed by an
    earlier version of the program (whose definitions may differ) is never read; the next import computes it
    again, and until then the app does."""
    digest = hashlib.blake2b(digest_size=8)
    for path in sorted(Path(__file__).resolve().parent.glob("*.py")):
        digest.update(path.name.encode("utf-8") + b"\0" + path.read_bytes())
    return digest.hexdigest()


def cache_key(name: str, settings: Settings, selection: Selection | None = None) -> tuple:
    """The key a result is cached under, without the data's own key: (name, settings) for a result of the whole
    data, plus the selection's key for a result of the selection (views.context.Context.cached)."""
    key = (name, settings.key())
    return key + selection.key() if selection is not None else key


def slim(derived: pd.DataFrame) -> pd.DataFrame:
    """The derived sessions with only ANALYSIS_COLUMNS (those it has)."""
    return derived[[c for c in ANALYSIS_COLUMNS if c in derived.columns]]


def default_selection(first: pd.Timestamp, as_of: pd.Timestamp, options: dict[str, list[str]]) -> Selection:
    """What the sidebar starts with: the default period up to the as-of date and every filter column that offers
    values, nothing chosen."""
    start, end = period_bounds(DEFAULT_PERIOD, as_of, first)
    values = tuple((column, ()) for column in FILTER_COLUMNS.values() if options.get(column))
    return Selection(DEFAULT_PERIOD, start, end, values)


def flags(derived: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Diminished / watch patients over each patient's whole history."""
    return flag_patients(derived, settings)


def followup_lag(derived: pd.DataFrame, settings: Settings) -> int:
    """How long follow-ups take here (days): the same for the tiles, the p-chart and the completeness chart."""
    return followup_lag_days(derived, settings)


def kpis(scoped: pd.DataFrame, settings: Settings, selection: Selection, flag_table: pd.DataFrame,
         lag: int) -> pd.DataFrame:
    """The tiles of the selection's period against the period before, small periods suppressed."""
    return kpi_tiles_shown(scoped, settings, selection.start, selection.end, flag_table, due_days=lag)


def pchart(scoped: pd.DataFrame, settings: Settings, selection: Selection, first: pd.Timestamp,
           as_of: pd.Timestamp, lag: int) -> tuple[pd.DataFrame, int]:
    """The responder rate's p-chart (small months suppressed) and the number of months hidden."""
    return pchart_shown(scoped, settings, period_start=selection.start or first, period_end=selection.end or as_of,
                        as_of=as_of, lag_days=lag)


def too_few(sessions: pd.DataFrame, settings: Settings) -> str | None:
    """What the page says instead of any figure when the selection has too few patients; None otherwise."""
    return too_few_message(sessions, settings)


def compute(derived: pd.DataFrame, settings: Settings, options: dict[str, list[str]]) -> dict[tuple, object]:
    """Every STORED result of the default view of `derived` (derive_sessions' output under `settings`), keyed by
    cache_key: what an import writes into the store."""
    first = pd.Timestamp(derived["session_date"].min()).normalize()
    latest = pd.Timestamp(derived["session_date"].max()).normalize()
    as_of = pd.Timestamp(settings.as_of).normalize() if settings.as_of is not None else latest
    selection = default_selection(first, as_of, options)
    scoped = slim(derived)  # no filter chosen: every session
    flag_table = flags(derived, settings)
    lag = followup_lag(derived, settings)
    in_period = take(scoped, period_mask(scoped, selection.start, selection.end))
    return {
        cache_key("flags", settings): flag_table,
        cache_key("followup_lag", settings): lag,
        cache_key("kpis", settings, selection): kpis(scoped, settings, selection, flag_table, lag),
        cache_key("pchart", settings, selection): pchart(scoped, settings, selection, first, as_of, lag),
        cache_key("too_few", settings, selection): too_few(in_period, settings),
    }
