"""KPI tiles for the clinic overview: each figure for a period beside the previous period of the same length.

Input is the derived session table (`analytics.sessions.derive_sessions`). The period is a closed range of
calendar days [start, end] on session_date; the previous period is the same number of days ending the day
before `start`. Without a start the period begins at the earliest session; without an end it ends at the
as-of date (settings.as_of, else the latest session_date). A session belongs to the period of its
session_date; its outcomes (response, benefit duration, ...) are what is known at the as-of date.

Output is one tidy row per KPI: kpi, value, ci_low, ci_high, previous, change, n, unit, plus label (words for
the tile) and previous_n. `change` is value - previous in the KPI's own unit (a change in a proportion is in
proportion points: 0.05 = 5 percentage points). Rates are proportions 0..1 with Wilson 95% intervals.
Each figure is computed by analytics.headline, as in the command-line summary.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics import headline
from analytics.kaplan_meier import KMMedian, km_median as default_km_median
from analytics.settings import DEFAULT_SETTINGS, Settings

KPI_COLUMNS = ["kpi", "value", "ci_low", "ci_high", "previous", "change", "n", "unit", "label", "previous_n"]

KPI_LABELS = {
    "patients": ("Patients", "patients"),
    "sessions": ("Sessions", "sessions"),
    "responder_rate": ("Responder rate", "proportion"),
    "median_response_pct": ("Median response", "%"),
    "median_onset_days": ("Median onset", "days"),
    "median_peak_days": ("Median time to peak", "days"),
    "median_duration_days": ("Median benefit duration (Kaplan-Meier)", "days"),
    "short_interval_share": ("Short intervals", "proportion"),
    "adverse_event_rate": ("Sessions with an adverse event", "proportion"),
    "patients_flagged": ("Patients flagged", "patients"),
}


@dataclass(frozen=True)
class Period:
    """A closed range of days and the same-length range right before it."""

    start: pd.Timestamp
    end: pd.Timestamp
    previous_start: pd.Timestamp
    previous_end: pd.Timestamp

    @property
    def days(self) -> int:
        """Length in days, both ends counted."""
        return int((self.end - self.start).days) + 1


def period_bounds(sessions: pd.DataFrame, start=None, end=None, settings: Settings = DEFAULT_SETTINGS) -> Period:
    """The period [start, end] (whole days) and the previous period of the same length, ending the day before."""
    dates = pd.to_datetime(sessions["session_date"]) if len(sessions) else pd.Series(dtype="datetime64[s]")
    if end is None:
        end = settings.as_of if settings.as_of is not None else (dates.max() if len(dates) else pd.Timestamp.today())
    if start is None:
        start = dates.min() if len(dates) else end
    start = pd.Timestamp(start).normalize()
    end = pd.Timestamp(end).normalize()
    if end < start:
        raise ValueError(f"period end {end.date()} is before its start {start.date()}")
    length = end - start + pd.Timedelta(days=1)
    return Period(start, end, start - length, start - pd.Timedelta(days=1))


def _in_range(sessions: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Sessions whose session_date falls on a day in [start, end]."""
    day = pd.to_datetime(sessions["session_date"]).dt.normalize()
    return sessions.loc[(day >= start) & (day <= end)]


def _share(figure: headline.Share) -> tuple[float, float, float, int]:
    """A tile's (value, ci_low, ci_high, n) from a share."""
    return figure.value, figure.ci_low, figure.ci_high, figure.n


def _km_tile(period: pd.DataFrame, km_median: Callable[[np.ndarray, np.ndarray], KMMedian]
             ) -> tuple[float, float, float, int]:
    """KM median benefit duration over the responder sessions of the period, with its 95% CI."""
    times, events = headline.duration_sample(period)
    if len(times) == 0:
        return np.nan, np.nan, np.nan, 0
    result = km_median(times, events)

    def num(value) -> float:
        return np.nan if value is None else float(value)

    return num(result.median), num(result.ci_low), num(result.ci_high), len(times)


def _flagged(period: pd.DataFrame, flags, history: pd.DataFrame | None) -> tuple[float, int]:
    """Patients seen in the period who carry a flag, from a count, a flags table or a callable."""
    if flags is None:
        return np.nan, 0
    if callable(flags):
        if history is None:
            return np.nan, 0
        flags = flags(history)
    if isinstance(flags, pd.DataFrame):
        table = flags
        if "flag" in table:
            table = table.loc[table["flag"].notna() & (table["flag"].astype("str") != "")]
        seen = set(period["patient_id"].dropna().astype("str"))
        flagged = set(table["patient_id"].dropna().astype("str")) & seen
        return float(len(flagged)), len(seen)
    return float(flags), int(period["patient_id"].nunique())


def _period_values(period: pd.DataFrame, flags, history, km_median) -> dict[str, tuple[float, float, float, int]]:
    """Every KPI for one period: (value, ci_low, ci_high, n)."""
    nan = np.nan
    out: dict[str, tuple[float, float, float, int]] = {}
    patients = int(period["patient_id"].nunique())
    out["patients"] = (float(patients), nan, nan, patients)
    out["sessions"] = (float(len(period)), nan, nan, len(period))

    out["responder_rate"] = _share(headline.responder_share(period))
    for kpi, column in (("median_response_pct", "response_pct"), ("median_onset_days", "onset_days"),
                        ("median_peak_days", "peak_days")):
        value, n = headline.median_of(period, column)
        out[kpi] = (value, nan, nan, n)
    out["median_duration_days"] = _km_tile(period, km_median)
    out["short_interval_share"] = _share(headline.interval_share(period, "short_interval"))
    out["adverse_event_rate"] = _share(headline.known_share(period, "any_adverse_event"))

    value, n = _flagged(period, flags, history)
    out["patients_flagged"] = (value, nan, nan, n)
    return out


def kpi_tiles(
    sessions: pd.DataFrame,
    settings: Settings = DEFAULT_SETTINGS,
    start=None,
    end=None,
    flags: pd.DataFrame | int | Callable[[pd.DataFrame], pd.DataFrame | int] | None = None,
    km_median: Callable[[np.ndarray, np.ndarray], KMMedian] | None = None,
) -> pd.DataFrame:
    """KPI tiles for [start, end] against the previous period of the same length.

    flags: patients flagged for review. A flags table (one row per flagged patient, patient_id column; rows
    whose `flag` column is blank are ignored) is counted over the patients seen in the period and has no
    previous value; an int is shown as is; a callable gets the sessions up to each period's end and returns
    such a table or count, so the previous period gets its own figure.
    km_median: f(times, events) -> KMMedian; default analytics.kaplan_meier.km_median.
    """
    km_median = km_median or default_km_median
    bounds = period_bounds(sessions, start, end, settings)
    current = _in_range(sessions, bounds.start, bounds.end)
    previous = _in_range(sessions, bounds.previous_start, bounds.previous_end)
    day = pd.to_datetime(sessions["session_date"]).dt.normalize()
    history_now = sessions.loc[day <= bounds.end] if callable(flags) else None
    history_before = sessions.loc[day <= bounds.previous_end] if callable(flags) else None
    prev_flags = flags if (callable(flags) or flags is None) else None

    now = _period_values(current, flags, history_now, km_median)
    before = _period_values(previous, prev_flags, history_before, km_median)
    rows = []
    for kpi, (label, unit) in KPI_LABELS.items():
        value, low, high, n = now[kpi]
        prev_value, _, _, prev_n = before[kpi]
        rows.append({
            "kpi": kpi, "value": value, "ci_low": low, "ci_high": high, "previous": prev_value,
            "change": value - prev_value, "n": n, "unit": unit, "label": label, "previous_n": prev_n,
        })
    table = pd.DataFrame(rows, columns=KPI_COLUMNS).astype({
        "value": "float64", "ci_low": "float64", "ci_high": "float64", "previous": "float64",
        "change": "float64", "n": "int64", "previous_n": "int64",
    })
    table.attrs["period"] = {
        "start": bounds.start.date().isoformat(), "end": bounds.end.date().isoformat(),
        "previous_start": bounds.previous_start.date().isoformat(),
        "previous_end": bounds.previous_end.date().isoformat(), "days": bounds.days,
    }
    return table
