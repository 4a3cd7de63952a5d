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
from typing import NamedTuple

import numpy as np
import pandas as pd

from .flags import flag_patients
from .presentation import kpi_tiles_shown, pchart_shown, too_few_message
from .selection import (
    DEFAULT_PERIOD, FILTER_COLUMNS, Selection, period_bounds, period_mask, period_positions, period_rows, take,
    value_mask,
)
from .sessions import DERIVED_COLUMNS
from .settings import Settings
from .spc import chart_window, followup_lag_days

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

# What the Headline's tiles, p-chart and too-few check read (analytics.headline's figures, the follow-up counts, the
# monthly counts): no text but the patient codes. tests/test_headline_window.py holds their figures equal to those
# from every column.
HEADLINE_COLUMNS = ("patient_id", "session_date", "has_response", "responder", "response_pct", "onset_days",
                    "peak_days", "duration_days", "duration_event", "interval_days", "short_interval",
                    "any_adverse_event")

# What headline_base is made of: a store reads only these (10M sessions: 0.8 s under its lock instead of 8 s).
HEADLINE_INPUT = (*HEADLINE_COLUMNS, *FILTER_COLUMNS.values())

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


def window_bounds(selection: Selection, as_of: pd.Timestamp) -> tuple[pd.Timestamp | None, pd.Timestamp]:
    """The first and last day the Headline reads for a selection: its period, the period of the same length before
    it (the tiles' comparison) and the p-chart's baseline months before the period's end (spc.chart_window). No
    start ("All data"): every day up to the end."""
    end = pd.Timestamp(selection.end or as_of).normalize()
    if selection.start is None:
        return None, end
    start = pd.Timestamp(selection.start).normalize()
    previous_start = start - (end - start + pd.Timedelta(days=1))
    return min(previous_start, chart_window(None, start, end)[0]), end


class Window(NamedTuple):
    """The sessions of a selection's filters dated within window_bounds (HEADLINE_COLUMNS, the patient codes
    categorical), and the first session date of those filters at any date (where the tiles' comparison and the
    p-chart begin when the data begin later)."""

    sessions: pd.DataFrame
    first: pd.Timestamp | None


def date_order(dates: pd.Series) -> np.ndarray:
    """The positions that put `dates` in day order, ties in their order (a stable sort). Days spanning less than
    65,536 are sorted as 16-bit offsets, which numpy sorts by radix in linear time (10M sessions: a tenth of the
    time of sorting the dates themselves); blank dates go last."""
    days = pd.to_datetime(dates).to_numpy().astype("datetime64[D]").astype("int64")
    known = ~pd.isna(dates).to_numpy()
    if known.any():
        lowest, span = days[known].min(), days[known].max() - days[known].min()
        if span < 65_535:
            offsets = np.where(known, days - lowest, 65_535).astype("uint16")
            return np.argsort(offsets, kind="stable")
    return np.argsort(np.where(known, days, np.iinfo("int64").max), kind="stable")


def headline_base(derived: pd.DataFrame) -> pd.DataFrame:
    """Every derived session's HEADLINE_COLUMNS and filter columns in date order, with the patient codes and the
    filter values as categoricals: made once per data and settings, so that each filter change compares small
    integer codes and copies no text (choosing a site among 10M sessions, and counting their patients, compared
    and copied strings for most of its time), and a period is a slice found by binary search, not a copy
    (selection.period_rows). Counting gives the same figures from codes in date order as from text in any order."""
    columns = [c for c in HEADLINE_INPUT if c in derived.columns]
    coded = [c for c in ("patient_id", *FILTER_COLUMNS.values()) if c in derived.columns]
    order = date_order(derived["session_date"])  # a period is then a slice of it
    coded_first = derived[columns].astype({c: "category" for c in coded})  # codes move faster than text
    return coded_first.take(order).reset_index(drop=True)


def window(base: pd.DataFrame, selection: Selection, as_of: pd.Timestamp) -> Window:
    """The rows of `base` (headline_base, or any derived sessions at any date) the Headline reads for `selection`:
    its filters' values within window_bounds, HEADLINE_COLUMNS only. A filter change on 10M sessions then copies
    the numbers of the days the tiles and the p-chart read, not every column of ten years (the same tiles and
    chart: tests/test_headline_window.py)."""
    chosen = value_mask(base, selection.values)
    start, end = window_bounds(selection, as_of)
    kept = base[[c for c in HEADLINE_COLUMNS if c in base.columns]]
    span = period_positions(base, start, end)  # headline_base is in date order: the window's days are a slice
    first = _first_date(base["session_date"], chosen, in_date_order=span is not None)
    if span is None:
        return Window(take(kept, chosen & period_mask(base, start, end)), first)
    return Window(take(kept.iloc[span], chosen[span]), first)


def _first_date(dates: pd.Series, chosen: np.ndarray, in_date_order: bool) -> pd.Timestamp | None:
    """The earliest of the chosen rows' dates (None: none chosen, or none dated): when `dates` are in date order
    with none blank (what period_positions found), the first chosen row's, found without copying the chosen
    dates; otherwise their minimum."""
    if not chosen.any():
        return None
    found = dates.iloc[int(np.argmax(chosen))] if in_date_order else dates[chosen].min()  # min skips blanks
    return None if pd.isna(found) else pd.Timestamp(found)


def in_period(rows: Window, selection: Selection) -> pd.DataFrame:
    """The window's sessions dated in the selection's period (what the too-few check counts)."""
    return period_rows(rows.sessions, selection.start, selection.end)


def flags(derived: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Diminished / watch patients over each patient's whole history."""
    return flag_patients(derived, settings)


def followup_lag(derived: pd.DataFrame, settings: Settings) -> int:
    """How long follow-ups take here (days): the same for the tiles, the p-chart and the completeness chart."""
    return followup_lag_days(derived, settings)


def kpis(rows: Window, settings: Settings, selection: Selection, flag_table: pd.DataFrame,
         lag: int) -> pd.DataFrame:
    """The tiles of the selection's period against the period before, small periods suppressed."""
    return kpi_tiles_shown(rows.sessions, settings, selection.start, selection.end, flag_table, due_days=lag,
                           first=rows.first)


def pchart(rows: Window, settings: Settings, selection: Selection, first: pd.Timestamp,
           as_of: pd.Timestamp, lag: int) -> tuple[pd.DataFrame, int]:
    """The responder rate's p-chart (small months suppressed) and the number of months hidden. `first`: the data's
    first session (where "All data" starts)."""
    return pchart_shown(rows.sessions, settings, period_start=selection.start or first,
                        period_end=selection.end or as_of, as_of=as_of, lag_days=lag, first=rows.first)


def too_few(sessions: pd.DataFrame, settings: Settings) -> str | None:
    """What the page says instead of any figure when the selection has too few patients; None otherwise."""
    return too_few_message(sessions, settings)


def compute(derived: pd.DataFrame, settings: Settings, options: dict[str, list[str]]) -> dict[tuple, object]:
    """Every STORED result of the default view of `derived` (derive_sessions' output under `settings`), keyed by
    cache_key: what an import writes into the store."""
    return compute_from(headline_base(derived), flags(derived, settings), followup_lag(derived, settings), settings,
                        options)


def compute_from(base: pd.DataFrame, flag_table: pd.DataFrame, lag: int, settings: Settings,
                 options: dict[str, list[str]]) -> dict[tuple, object]:
    """`compute` from its parts: the headline_base of the derived sessions, their flags and follow-up lag (the
    store makes each with as little in memory as it can: analytics.store._refresh_results)."""
    first = pd.Timestamp(base["session_date"].min()).normalize()
    latest = pd.Timestamp(base["session_date"].max()).normalize()
    as_of = pd.Timestamp(settings.as_of).normalize() if settings.as_of is not None else latest
    selection = default_selection(first, as_of, options)
    rows = window(base, selection, as_of)  # no filter chosen: every session of the window
    return {
        cache_key("flags", settings): flag_table,
        cache_key("followup_lag", settings): lag,
        cache_key("kpis", settings, selection): kpis(rows, settings, selection, flag_table, lag),
        cache_key("pchart", settings, selection): pchart(rows, settings, selection, first, as_of, lag),
        cache_key("too_few", settings, selection): too_few(in_period(rows, selection), settings),
    }
