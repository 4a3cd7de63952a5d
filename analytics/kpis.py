"""KPI tiles for the clinic overview: each figure for a period beside the previous period of the same length.

Input is the derived session table (`analytics.sessions.derive_sessions`). The period is a closed range of
calendar days [start, end] on session_date; the previous period is the same number of days ending the day
before `start`. Without a start the period begins at the earliest session; without an end it ends at the
as-of date (settings.as_of, else the latest session_date). A session belongs to the period of its
session_date; its outcomes (response, benefit duration, ...) are what is known at the as-of date.

Output is one tidy row per KPI: kpi, value, ci_low, ci_high, previous, change, n, unit, plus label (words for
the tile), previous_n, ci_too_few, clear_change and at_least (a KM median not reached is at least the longest
follow-up: "≥ 92 days"). attrs["followup"] counts the period's sessions with a follow-up score, those not yet due
and those missing (analytics.completeness), for the tiles that rest on follow-up (FOLLOWUP_KPIS). `change` is value - previous in the KPI's own unit (a change
in a proportion is in proportion points: 0.05 = 5 percentage points). Each figure is computed by
analytics.headline, as in the command-line summary.

Every estimate has a 95% interval: rates (proportions 0..1) Wilson; medians of recorded values a distribution-free
interval from order statistics (none from fewer than 6 values); the Kaplan-Meier median Brookmeyer-Crowley (none
from fewer than 2 wearing-offs). ci_too_few is True where the figure exists but rests on too few values for an
interval. clear_change says whether the change against the previous period is more than chance (docs/metrics.md
"KPI tiles"): the 95% interval of the difference between the two periods (change_ci_low, change_ci_high) excludes
0. That interval is built from the two periods' own intervals by the MOVER (Zou & Donner 2008; for rates it is
Newcombe's hybrid score interval), so a previous value inside the current interval is never a clear change; a
figure without an interval (too few values) never shows one. Counts (patients, sessions, patients flagged) are not
estimates: clear_change is NA and their change is shown neutrally. NA too when there is nothing to compare.
"""
from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analytics import headline
from analytics.completeness import followup_counts
from analytics.kaplan_meier import KMMedian, km_median as default_km_median, too_few_events
from analytics.selection import period_rows
from analytics.settings import DEFAULT_SETTINGS, Settings
from analytics.spc import followup_lag_days

KPI_COLUMNS = ["kpi", "value", "ci_low", "ci_high", "previous", "change", "n", "unit", "label", "previous_n",
               "ci_too_few", "change_ci_low", "change_ci_high", "clear_change", "at_least"]

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
    "followup_recorded": ("Follow-up recorded (of the sessions due one)", "proportion"),
}

#: The tiles whose figure rests only on the sessions with a follow-up score (they say how many have one).
FOLLOWUP_KPIS = ("responder_rate", "median_response_pct", "median_duration_days")


#: Which way is better for each KPI: +1 higher, -1 lower, 0 neither (a count, whose change is shown neutrally).
KPI_DIRECTION = {
    "patients": 0, "sessions": 0, "responder_rate": 1, "median_response_pct": 1, "median_onset_days": -1,
    "median_peak_days": -1, "median_duration_days": 1, "short_interval_share": -1, "adverse_event_rate": -1,
    "patients_flagged": 0, "followup_recorded": 1,
}

#: How each estimate's 95% interval is worked out, in words for the tile's help (counts have none).
KPI_INTERVAL = {
    "responder_rate": "Wilson", "short_interval_share": "Wilson", "adverse_event_rate": "Wilson",
    "followup_recorded": "Wilson",
    "median_response_pct": "distribution-free, from the ordered values",
    "median_onset_days": "distribution-free, from the ordered values",
    "median_peak_days": "distribution-free, from the ordered values",
    "median_duration_days": "Brookmeyer-Crowley",
}
#: Why an estimate has no interval when ci_too_few is True.
TOO_FEW_REASON = {
    "median_response_pct": "fewer than 6 sessions with a response",
    "median_onset_days": "fewer than 6 sessions with the onset recorded",
    "median_peak_days": "fewer than 6 sessions with the peak recorded",
    "median_duration_days": "fewer than 2 sessions whose benefit was seen to wear off",
}


@dataclass(frozen=True)
class Figure:
    """One period's figure of a tile: value with its 95% interval (NaN: none), n, the successes of a rate, and
    whether the figure rests on too few values for an interval."""

    value: float
    ci_low: float = np.nan
    ci_high: float = np.nan
    n: int = 0
    successes: int | None = None
    too_few: bool = False
    at_least: float = np.nan  # a lower bound when the value is not reached (the KM median: the longest follow-up)


def change_tone(kpi: str, change, clear) -> str:
    """'better', 'worse' or 'neutral': how a tile's change is coloured. Only a clear change (clear_change True) of
    an estimate is better or worse; a count's change, an unclear change and a missing one are neutral (grey)."""
    if clear is None or pd.isna(clear) or not bool(clear) or change is None or pd.isna(change) or change == 0 \
            or not KPI_DIRECTION.get(kpi):
        return "neutral"
    return "better" if np.sign(change) == KPI_DIRECTION[kpi] else "worse"


def change_words(kpi: str, change, clear, change_ci_low=np.nan, change_ci_high=np.nan) -> str:
    """A sentence for the tile's help: whether its change is clear, with the interval of the difference; '' when
    nothing is judged."""
    if not KPI_DIRECTION.get(kpi, 0):
        return "A count, not an estimate: its change is shown in grey."
    if change is None or pd.isna(change) or clear is None or pd.isna(clear):
        return ""
    verdict = "A clear change" if bool(clear) else "No clear change"
    if change_ci_low is None or pd.isna(change_ci_low):
        return f"{verdict}: this period's figure or the previous one has no interval."
    scale = 100.0 if KPI_LABELS[kpi][1] == "proportion" else 1.0
    unit = " points" if KPI_LABELS[kpi][1] in ("proportion", "%") else " days"
    high = "not reached" if pd.isna(change_ci_high) or np.isinf(change_ci_high) else f"{scale * change_ci_high:+.1f}"
    low = "not reached" if np.isinf(change_ci_low) else f"{scale * change_ci_low:+.1f}"
    return (f"{verdict}: the 95% interval of the difference between the two periods, {low} to {high}{unit}, "
            f"{'excludes' if clear else 'includes'} 0.")


def change_interval(kpi: str, now: Figure, before: Figure) -> tuple[float, float]:
    """The 95% interval of now - before (NaN, NaN when not judged): Newcombe's for a rate (from the counts), the
    MOVER from the two periods' own intervals for a median (headline.mover_difference_ci)."""
    if not KPI_DIRECTION.get(kpi) or np.isnan(now.value) or np.isnan(before.value):
        return np.nan, np.nan
    if now.successes is not None and before.successes is not None:
        return headline.difference_ci(now.successes, now.n, before.successes, before.n)
    return headline.mover_difference_ci((now.value, now.ci_low, now.ci_high),
                                        (before.value, before.ci_low, before.ci_high))


def clear_change(kpi: str, now: Figure, before: Figure) -> bool | None:
    """Whether the change from `before` to `now` is clear: its 95% interval (`change_interval`) excludes 0. None
    for a count or when there is nothing to compare; False when either period's figure has no interval."""
    if not KPI_DIRECTION.get(kpi) or np.isnan(now.value) or np.isnan(before.value):
        return None
    low, high = change_interval(kpi, now, before)
    if np.isnan(low):
        return False
    return bool(low > 0 or high < 0)


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


# Text columns no tile reads (groups and free text): left out of a period's rows, since copying 1.3M strings is
# most of the time a period's selection takes. patient_id stays (patients, flagged patients).
NOT_READ = ("site", "practitioner_id", "indication", "product", "adverse_events", "muscles", "session_id", "notes")


def _days(sessions: pd.DataFrame) -> np.ndarray:
    """Each session's day (datetime64[D]): compared with a period's days without making Timestamps."""
    return pd.to_datetime(sessions["session_date"]).to_numpy().astype("datetime64[D]")


def _day(value) -> np.datetime64:
    return np.datetime64(pd.Timestamp(value).date(), "D")


def _in_range(sessions: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """Sessions whose session_date falls on a day in [start, end] (a slice when they are in date order), without
    the NOT_READ columns."""
    kept = [c for c in sessions.columns if c not in NOT_READ]
    return period_rows(sessions, start.date(), end.date())[kept]


def _share(figure: headline.Share) -> Figure:
    """A tile's figure from a share (Wilson interval)."""
    return Figure(figure.value, figure.ci_low, figure.ci_high, figure.n, figure.successes)


def _median_tile(period: pd.DataFrame, column: str) -> Figure:
    """The middle value of a column with its order-statistic interval (none from fewer than 6 values)."""
    value, low, high, n = headline.median_with_ci(period, column)
    return Figure(value, low, high, n, too_few=bool(n > 0 and np.isnan(low)))


def _km_tile(period: pd.DataFrame, km_median: Callable[[np.ndarray, np.ndarray], KMMedian]) -> Figure:
    """KM median benefit duration over the responder sessions of the period, with its 95% CI (none from fewer than
    2 wearing-offs; an upper limit not reached is NaN)."""
    times, events = headline.duration_sample(period)
    if len(times) == 0:
        return Figure(np.nan)
    result = km_median(times, events)

    def num(value) -> float:
        return np.nan if value is None else float(value)

    too_few = result.median is not None and too_few_events(result.events)
    at_least = float(np.max(times)) if result.median is None else np.nan  # not reached: at least the longest
    return Figure(num(result.median), num(result.ci_low), num(result.ci_high), len(times), too_few=too_few,
                  at_least=at_least)


def _flagged(period: pd.DataFrame, flags, history: pd.DataFrame | None) -> tuple[float, int]:
    """Patients seen in the period who carry a flag, from a count, a flags table or a callable."""
    if flags is None:
        return np.nan, 0
    if callable(flags):
        if history is None:
            return np.nan, 0
        flags = flags(history)
    if isinstance(flags, pd.DataFrame):
        ids = period["patient_id"]
        if isinstance(ids.dtype, pd.CategoricalDtype) and pd.api.types.is_string_dtype(ids.cat.categories):
            codes = ids.cat.codes.to_numpy()  # the patients seen, by code: no text copied
            seen = np.bincount(codes[codes >= 0], minlength=len(ids.cat.categories)) > 0
            return float((seen & _flagged_codes(ids.cat.categories, flags)).sum()), int(seen.sum())
        seen = pd.Index(ids.dropna().astype("str").unique())
        return float(_is_in(seen, _flagged_ids(flags)).sum()), len(seen)
    return float(flags), int(period["patient_id"].nunique())


# The last answer of _flagged_codes: (the categories, the flags table, which codes are flagged). Every filter change
# of one data and settings asks it again for the same two objects (10M sessions: 1.6M codes, 0.05 s each time).
_LAST_FLAGGED: list = [None]


def _flagged_ids(table: pd.DataFrame) -> np.ndarray:
    """The patient codes of a flags table's rows whose `flag` is not blank (every row without a `flag` column)."""
    if "flag" in table:
        table = table.loc[table["flag"].notna() & (table["flag"].astype("str") != "")]
    return table["patient_id"].dropna().astype("str").unique()


def _flagged_codes(categories: pd.Index, table: pd.DataFrame) -> np.ndarray:
    """Which of a categorical's patient codes carry a flag of `table` (_is_in), remembered for the last pair of
    objects asked about: held by weak references, so it keeps neither alive, and only the same objects (not equal
    ones) get the remembered answer."""
    last = _LAST_FLAGGED[0]
    if last is not None and last[0]() is categories and last[1]() is table:
        return last[2]
    found = _is_in(categories, _flagged_ids(table))
    _LAST_FLAGGED[0] = (weakref.ref(categories), weakref.ref(table), found)
    return found


def _is_in(values: pd.Index, wanted) -> np.ndarray:
    """values.isin(wanted) for text, by pyarrow's hash lookup (pandas' isin of Arrow strings walks the wanted values
    one by one in Python: a third of a second for 81,000 flagged patients)."""
    as_text = [pa.array(pd.Index(v).astype("str").array).cast(pa.large_string()) for v in (values, wanted)]
    return pc.is_in(as_text[0], value_set=as_text[1]).to_numpy(zero_copy_only=False).astype(bool)


def _period_values(period: pd.DataFrame, flags, history, km_median) -> dict[str, Figure]:
    """Every KPI for one period."""
    out: dict[str, Figure] = {}
    patients = headline.distinct_count(period["patient_id"])
    out["patients"] = Figure(float(patients), n=patients)
    out["sessions"] = Figure(float(len(period)), n=len(period))

    out["responder_rate"] = _share(headline.responder_share(period))
    for kpi, column in (("median_response_pct", "response_pct"), ("median_onset_days", "onset_days"),
                        ("median_peak_days", "peak_days")):
        out[kpi] = _median_tile(period, column)
    out["median_duration_days"] = _km_tile(period, km_median)
    out["short_interval_share"] = _share(headline.interval_share(period, "short_interval"))
    out["adverse_event_rate"] = _share(headline.known_share(period, "any_adverse_event"))

    value, n = _flagged(period, flags, history)
    out["patients_flagged"] = Figure(value, n=n)
    return out


def _followup_figure(counts: dict) -> Figure:
    """The share of the sessions whose follow-up was due that have a score (Wilson): sessions not yet due are left
    out, so a recent period is not shown as worse only because its reviews are still to come."""
    return _share(headline.share(counts["recorded"], counts["recorded"] + counts["missing"]))


# Threads for the previous period's figures (kpi_tiles); shared by every caller of the process, and never used
# from within one of its own threads, so no caller can wait on itself.
_POOL = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2), thread_name_prefix="kpi-previous-period")


def kpi_tiles(
    sessions: pd.DataFrame,
    settings: Settings = DEFAULT_SETTINGS,
    start=None,
    end=None,
    flags: pd.DataFrame | int | Callable[[pd.DataFrame], pd.DataFrame | int] | None = None,
    km_median: Callable[[np.ndarray, np.ndarray], KMMedian] | None = None,
    due_days: int | None = None,
    first=None,
) -> pd.DataFrame:
    """KPI tiles for [start, end] against the previous period of the same length.

    flags: patients flagged for review. A flags table (one row per flagged patient, patient_id column; rows
    whose `flag` column is blank are ignored) is counted over the patients seen in the period and has no
    previous value; an int is shown as is; a callable gets the sessions up to each period's end and returns
    such a table or count, so the previous period gets its own figure.
    km_median: f(times, events) -> KMMedian; default analytics.kaplan_meier.km_median.
    due_days: how long a follow-up takes here (default analytics.spc.followup_lag_days of `sessions`): a session
    without a follow-up score less than due_days before the period's end is "not yet due" (attrs["followup"]).
    first: the first session date of the data `sessions` was cut from, when it holds only a window of days around
    the period (first_page.window); default the first of `sessions`. It says whether the previous period is
    before the data began.
    """
    km_median = km_median or default_km_median
    bounds = period_bounds(sessions, start, end, settings)
    day = _days(sessions)
    current = _in_range(sessions, bounds.start, bounds.end)
    previous = _in_range(sessions, bounds.previous_start, bounds.previous_end)
    history_now = sessions.loc[day <= _day(bounds.end)] if callable(flags) else None
    history_before = sessions.loc[day <= _day(bounds.previous_end)] if callable(flags) else None
    prev_flags = flags if (callable(flags) or flags is None) else None

    if due_days is None:
        due_days = followup_lag_days(sessions, settings)

    def figures(period: pd.DataFrame, flagged, history) -> tuple[dict[str, Figure], dict]:
        values = _period_values(period, flagged, history, km_median)
        counts = followup_counts(period, bounds.end, due_days)
        values["followup_recorded"] = _followup_figure(counts)
        return values, counts

    # The two periods at once: their sorts and counts are numpy's and Arrow's, which run beside each other on two
    # cores (a filter change among 10M sessions waits for the slower period, not both).
    previous_figures = _POOL.submit(figures, previous, prev_flags, history_before)
    now, followup = figures(current, flags, history_now)
    before, _ = previous_figures.result()
    # A previous period that ends before the data's first session (the period "All data", or one starting at
    # the first session) has nothing to compare with: no previous figure and no change, rather than "+3,104
    # sessions" against a time before the clinic's records begin.
    if first is None:
        first = pd.Timestamp(day.min()) if len(sessions) else None
    before_the_data = first is None or pd.isna(first) or bounds.previous_end < pd.Timestamp(first).normalize()
    rows = []
    for kpi, (label, unit) in KPI_LABELS.items():
        fig, prev = now[kpi], before[kpi]
        if before_the_data:
            prev = Figure(np.nan, np.nan, np.nan, 0)
        clear = clear_change(kpi, fig, prev)
        change_low, change_high = change_interval(kpi, fig, prev)
        rows.append({
            "kpi": kpi, "value": fig.value, "ci_low": fig.ci_low, "ci_high": fig.ci_high, "previous": prev.value,
            "change": fig.value - prev.value, "n": fig.n, "unit": unit, "label": label, "previous_n": prev.n,
            "ci_too_few": fig.too_few, "change_ci_low": change_low, "change_ci_high": change_high,
            "clear_change": pd.NA if clear is None else clear, "at_least": fig.at_least,
        })
    table = pd.DataFrame(rows, columns=KPI_COLUMNS).astype({
        "value": "float64", "ci_low": "float64", "ci_high": "float64", "previous": "float64",
        "change": "float64", "n": "int64", "previous_n": "int64", "ci_too_few": "bool",
        "change_ci_low": "float64", "change_ci_high": "float64", "clear_change": "boolean", "at_least": "float64",
    })
    table.attrs["period"] = {
        "start": bounds.start.date().isoformat(), "end": bounds.end.date().isoformat(),
        "previous_start": bounds.previous_start.date().isoformat(),
        "previous_end": bounds.previous_end.date().isoformat(), "days": bounds.days,
        "previous_before_data": bool(before_the_data),
    }
    table.attrs["followup"] = followup
    return table
