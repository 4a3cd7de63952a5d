"""KPI tiles for the clinic overview: each figure for a period beside the previous period of the same length.

Input is the derived session table (`analytics.sessions.derive_sessions`). The period is a closed range of
calendar days [start, end] on session_date; the previous period is the same number of days ending the day
before `start`. Without a start the period begins at the earliest session; without an end it ends at the
as-of date (settings.as_of, else the latest session_date). A session belongs to the period of its
session_date; its outcomes (response, benefit duration, ...) are what is known at the as-of date.

Output is one tidy row per KPI: kpi, value, ci_low, ci_high, previous, change, n, unit, plus label (words for
the tile) and previous_n. `change` is value - previous in the KPI's own unit (a change in a proportion is in
proportion points: 0.05 = 5 percentage points). Rates are proportions 0..1 with Wilson 95% intervals.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.proportions import proportion, wilson_ci
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


def _bool(series: pd.Series) -> pd.Series:
    """A nullable boolean series (NA kept)."""
    return series.astype("boolean")


def _median(series: pd.Series) -> tuple[float, int]:
    """Sample median (mean of the two middle values) and the count it is over."""
    values = pd.to_numeric(series, errors="coerce").astype("Float64").dropna()
    return (float(values.median()) if len(values) else np.nan), int(len(values))


def _rate(flags: pd.Series) -> tuple[float, float, float, int]:
    """Share of True among the non-missing values, with its Wilson 95% interval and denominator."""
    known = _bool(flags).dropna()
    n = int(len(known))
    x = int(known.sum())
    low, high = wilson_ci(x, n)
    return float(proportion(x, n)), float(low), float(high), n


def _km_result(result) -> tuple[float, float, float]:
    """Read km_median's answer: a number, (median, low, high), or a mapping with median/ci_low/ci_high."""
    if result is None:
        return np.nan, np.nan, np.nan
    if isinstance(result, (dict, pd.Series)):
        get = result.get
        median = get("median", get("median_days", np.nan))
        low = get("ci_low", get("low", np.nan))
        high = get("ci_high", get("high", np.nan))
    elif isinstance(result, (tuple, list)):
        median, low, high = (list(result) + [np.nan, np.nan])[:3]
    else:
        median, low, high = result, np.nan, np.nan

    def num(value) -> float:
        return np.nan if value is None or pd.isna(value) else float(value)

    return num(median), num(low), num(high)


def _km_tile(period: pd.DataFrame, km_median: Callable | None) -> tuple[float, float, float, int]:
    """KM median benefit duration over the responder sessions of the period, with its 95% CI."""
    if "duration_days" not in period:
        return np.nan, np.nan, np.nan, 0
    durations = pd.to_numeric(period["duration_days"], errors="coerce").astype("Float64")
    keep = durations.notna()
    if "responder" in period:
        keep &= _bool(period["responder"]).fillna(False)
    n = int(keep.sum())
    if n == 0:
        return np.nan, np.nan, np.nan, 0
    if km_median is None:
        try:  # lazily: kaplan_meier.py belongs to another module owner
            from analytics.kaplan_meier import km_median as km_median  # noqa: PLC0415
        except ImportError:
            return np.nan, np.nan, np.nan, n
    times = durations[keep].to_numpy(dtype="float64")
    events = period.loc[keep, "duration_event"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    median, low, high = _km_result(km_median(times, events))
    return median, low, high, n


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

    if "responder" in period:
        has_response = _bool(period["has_response"]).fillna(False) if "has_response" in period else None
        responder = _bool(period["responder"])
        if has_response is not None:
            responder = responder.where(has_response, pd.NA)
        value, low, high, n = _rate(responder)
    else:
        value, low, high, n = nan, nan, nan, 0
    out["responder_rate"] = (value, low, high, n)

    for kpi, column in (("median_response_pct", "response_pct"), ("median_onset_days", "onset_days"),
                        ("median_peak_days", "peak_days")):
        value, n = _median(period[column]) if column in period else (nan, 0)
        out[kpi] = (value, nan, nan, n)

    out["median_duration_days"] = _km_tile(period, km_median)

    if "short_interval" in period and "interval_days" in period:
        short = _bool(period["short_interval"]).where(period["interval_days"].notna(), pd.NA)
        out["short_interval_share"] = _rate(short)
    else:
        out["short_interval_share"] = (nan, nan, nan, 0)

    if "any_adverse_event" in period:
        out["adverse_event_rate"] = _rate(period["any_adverse_event"])
    else:
        out["adverse_event_rate"] = (nan, nan, nan, 0)

    value, n = _flagged(period, flags, history)
    out["patients_flagged"] = (value, nan, nan, n)
    return out


def kpi_tiles(
    sessions: pd.DataFrame,
    settings: Settings = DEFAULT_SETTINGS,
    start=None,
    end=None,
    flags: pd.DataFrame | int | Callable[[pd.DataFrame], pd.DataFrame | int] | None = None,
    km_median: Callable | None = None,
) -> pd.DataFrame:
    """KPI tiles for [start, end] against the previous period of the same length.

    flags: patients flagged for review. A flags table (one row per flagged patient, patient_id column; rows
    whose `flag` column is blank are ignored) is counted over the patients seen in the period and has no
    previous value; an int is shown as is; a callable gets the sessions up to each period's end and returns
    such a table or count, so the previous period gets its own figure.
    km_median: f(times, events) -> median or (median, low, high); default analytics.kaplan_meier.km_median.
    """
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
