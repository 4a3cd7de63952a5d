"""Kaplan-Meier estimate of benefit duration (docs/metrics.md "How long the benefit lasts"), in vectorised numpy.

Why not a plain mean of durations: benefit still running at the next injection or at the as-of date is
censored, and a mean of the recorded durations is biased short. Conventions (they match statsmodels'
`SurvfuncRight`, which the tests check against):

* variance: Greenwood's formula, se(t) = S(t) * sqrt(sum d / (n (n - d))); undefined (NaN) once S reaches 0;
* pointwise 95% CI: the log(-log) ("cloglog") transform, S(t) ** exp(+-z * se / (S |log S|)); 1 to 1 while
  S = 1 (no event yet), NaN where S = 0;
* median: the smallest time with S(t) <= 0.5 (docs/metrics.md; statsmodels' `quantile` uses S < 0.5, which
  differs only when S lands exactly on 0.5); None when S never reaches 0.5 ("not reached");
* median 95% CI: Brookmeyer-Crowley by inverting the cloglog-transformed test, as statsmodels
  `quantile_ci(0.5)` (and SAS LIFETEST) computes it: the lower limit is the first event time whose S is
  not significantly different from 0.5, the upper limit the event time after the last such one
  (None = not reached, i.e. the upper limit is beyond the data). Where no event time qualifies but the median
  is reached (S jumps across 0.5 in one step, common with many sessions and whole days), the CI is
  [median, median] (statsmodels returns NaN there; R's band-crossing rule gives the same [median, median]),
  but only when the curve rests on at least MIN_EVENTS_FOR_CI events;
* too few events: with fewer than MIN_EVENTS_FOR_CI (2) events there is no interval at all (ci_low = ci_high =
  None, `KMMedian.too_few` True; "too few to give a range" on screen). One wearing-off says nothing about the
  spread: a single session that wore off on day 86 has median 86, and [86, 86] would claim it is known to the
  day.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from analytics.proportions import z_value
from analytics.settings import DEFAULT_SETTINGS, Settings

#: The fewest wearing-off events a median's 95% interval may rest on (fewer: "too few to give a range").
MIN_EVENTS_FOR_CI = 2
CURVE_COLUMNS = ("time", "at_risk", "events", "censored", "survival", "std_err", "ci_low", "ci_high")
_HALF = 0.5 + 1e-12  # S(t) <= 0.5, allowing for rounding in the product of (n - d) / n


@dataclass(frozen=True)
class KMMedian:
    """The KM median duration with its 95% CI and the counts it rests on: the one answer of `km_median`.

    median None = not reached; ci_high None = upper limit not reached; ci_low None = no event time is
    compatible with S = 0.5 and the median is not reached (e.g. no events). n sessions, of which `events` ended.
    too_few: fewer than MIN_EVENTS_FOR_CI events, so no interval is given (both limits None) even where the
    median is reached.
    """

    median: float | None
    ci_low: float | None
    ci_high: float | None
    n: int
    events: int

    @property
    def too_few(self) -> bool:
        """Fewer than MIN_EVENTS_FOR_CI events: the median, if reached, has no interval."""
        return too_few_events(self.events)


def too_few_events(events):
    """True where a KM median rests on fewer than MIN_EVENTS_FOR_CI events (scalar or array of event counts)."""
    return np.asarray(events) < MIN_EVENTS_FOR_CI if np.ndim(events) else bool(events < MIN_EVENTS_FOR_CI)


def _z(alpha: float) -> float:
    return z_value(alpha)


def _clean(durations, events) -> tuple[np.ndarray, np.ndarray]:
    """Durations and event flags as float/bool arrays, dropping pairs whose duration is missing."""
    t = pd.Series(durations).to_numpy(dtype="float64", na_value=np.nan)
    e_series = pd.Series(events)
    if len(e_series) != len(t):
        raise ValueError("durations and events differ in length")
    if e_series.isna().any():
        raise ValueError("events must be True/False on every row with a duration")
    e = e_series.to_numpy(dtype=bool)
    keep = ~np.isnan(t)
    t, e = t[keep], e[keep]
    if (t < 0).any():
        raise ValueError("durations must not be negative")
    return t, e


def km_curve(durations, events, alpha: float = 0.05) -> pd.DataFrame:
    """The KM table: one row per distinct observed time (event or censoring), with Greenwood SE and log(-log) CI.

    at_risk is the number still observed just before the time; survival is S(t) after the events at t.
    Missing durations are left out. An empty input gives an empty table.
    """
    t, e = _clean(durations, events)
    if len(t) == 0:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in CURVE_COLUMNS}).astype(
            {"at_risk": "int64", "events": "int64", "censored": "int64"})
    times, inverse = np.unique(t, return_inverse=True)
    d = np.bincount(inverse, weights=e.astype("float64"), minlength=len(times)).astype("int64")
    total = np.bincount(inverse, minlength=len(times)).astype("int64")
    n = np.cumsum(total[::-1])[::-1]
    survival = np.cumprod((n - d) / n)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(n > d, d / (n * (n - d)).astype("float64"), np.inf)
    greenwood = np.cumsum(terms)  # inf from the time S reaches 0 onward
    dead = ~np.isfinite(greenwood)
    std_err = np.where(dead, np.nan, survival * np.sqrt(np.where(dead, 0.0, greenwood)))
    z = _z(alpha)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_s = np.log(survival)
        sigma = np.sqrt(greenwood) / np.abs(log_s)
        ci_low = survival ** np.exp(z * sigma)
        ci_high = survival ** np.exp(-z * sigma)
    at_one = survival >= 1.0
    ci_low = np.where(at_one, 1.0, np.where(dead, np.nan, ci_low))
    ci_high = np.where(at_one, 1.0, np.where(dead, np.nan, ci_high))
    return pd.DataFrame({
        "time": times,
        "at_risk": n,
        "events": d,
        "censored": total - d,
        "survival": survival,
        "std_err": std_err,
        "ci_low": ci_low,
        "ci_high": ci_high,
    })


def median_from_curve(curve: pd.DataFrame, alpha: float = 0.05) -> KMMedian:
    """Median (smallest t with S <= 0.5) and its Brookmeyer-Crowley cloglog 95% CI from a `km_curve` table.

    No interval (None, None) from fewer than MIN_EVENTS_FOR_CI events."""
    ev = curve[curve["events"] > 0]
    s = ev["survival"].to_numpy(dtype="float64")
    times = ev["time"].to_numpy(dtype="float64")
    se = ev["std_err"].to_numpy(dtype="float64")
    reached = np.flatnonzero(s <= _HALF)
    median = float(times[reached[0]]) if len(reached) else None
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.log(-np.log(s))
        g_half = np.log(-np.log(0.5))
        gprime = -1.0 / (s * np.log(s))
        r = (g - g_half) / (gprime * se)
    inside = np.flatnonzero(np.abs(r) <= _z(alpha))
    n = int(curve["at_risk"].iloc[0]) if len(curve) else 0
    events = int(curve["events"].sum())
    if too_few_events(events):
        return KMMedian(median, None, None, n, events)
    if len(inside) == 0:
        # No event time has a band containing 0.5: with many sessions and whole-day times S can jump across
        # 0.5 in one step, so the median is known to the day. statsmodels gives NaN here; we give
        # [median, median], which is also where the band-crossing rule of R's survival package lands. Only with at
        # least MIN_EVENTS_FOR_CI events (returned above otherwise).
        ci_low = ci_high = median
    else:
        ci_low = float(times[inside[0]])
        ci_high = None if inside[-1] == len(times) - 1 else float(times[inside[-1] + 1])
    return KMMedian(median, ci_low, ci_high, n, events)


def km_median(durations, events, alpha: float = 0.05) -> KMMedian:
    """KM median duration with its 95% CI and counts; see `median_from_curve`."""
    return median_from_curve(km_curve(durations, events, alpha), alpha)


def survival_at(curve: pd.DataFrame, times: Iterable[float]) -> pd.DataFrame:
    """S(t) and its CI read off a `km_curve` table at chosen times (the step function, right-continuous).

    Before the first observed time S = 1; after the last observed time S is unknown (NaN) unless it has
    already reached 0.
    """
    times = np.asarray(list(times), dtype="float64")
    if len(curve) == 0:
        nan = np.full(len(times), np.nan)
        return pd.DataFrame({"time": times, "survival": nan, "ci_low": nan, "ci_high": nan})
    grid = curve["time"].to_numpy(dtype="float64")
    row = np.searchsorted(grid, times, side="right") - 1
    before = row < 0
    safe = np.clip(row, 0, len(grid) - 1)
    out = {}
    for column in ("survival", "ci_low", "ci_high"):
        values = curve[column].to_numpy(dtype="float64")[safe]
        out[column] = np.where(before, 1.0, values)
    last_s = float(curve["survival"].iloc[-1])
    beyond = (times > grid[-1]) & (last_s > 0)
    for column in out:
        out[column] = np.where(beyond, np.nan, out[column])
    return pd.DataFrame({"time": times, **out})


def at_risk_at(durations, times: Iterable[float]) -> np.ndarray:
    """Number still observed (duration >= t) at each chosen time: the at-risk row under a KM chart."""
    t = pd.Series(durations).to_numpy(dtype="float64", na_value=np.nan)
    t = np.sort(t[~np.isnan(t)])
    times = np.asarray(list(times), dtype="float64")
    return (len(t) - np.searchsorted(t, times, side="left")).astype("int64")


def landmark_columns(days: Sequence[int]) -> list[str]:
    """Column names of the landmark shares, e.g. still_benefiting_84d (+ _ci_low, _ci_high, at_risk_84d)."""
    names = []
    for day in days:
        names += [f"still_benefiting_{day}d", f"still_benefiting_{day}d_ci_low", f"still_benefiting_{day}d_ci_high",
                  f"at_risk_{day}d"]
    return names


def km_summary(durations, events, settings: Settings = DEFAULT_SETTINGS, alpha: float = 0.05) -> dict:
    """n, events, censored, median with CI, and the share still benefiting (with CI and at-risk) at each landmark."""
    curve = km_curve(durations, events, alpha)
    med = median_from_curve(curve, alpha)
    out = {
        "n": med.n,
        "events": med.events,
        "censored": int(curve["censored"].sum()),
        "median": med.median,
        "median_ci_low": med.ci_low,
        "median_ci_high": med.ci_high,
    }
    days = list(settings.landmark_days)
    at = survival_at(curve, days)
    risk = at_risk_at(durations, days)
    for i, day in enumerate(days):
        for column, key in (("survival", ""), ("ci_low", "_ci_low"), ("ci_high", "_ci_high")):
            value = at[column].iloc[i]
            out[f"still_benefiting_{day}d{key}"] = None if np.isnan(value) else float(value)
        out[f"at_risk_{day}d"] = int(risk[i])
    return out


def _durations(derived: pd.DataFrame) -> pd.DataFrame:
    """Responder sessions with a benefit duration (the KM population)."""
    return derived.loc[derived["duration_days"].notna()]


def _groups(frame: pd.DataFrame, by) -> list[tuple[tuple, np.ndarray]]:
    """(group key tuple, row positions) for each group; one group () when by is None. NA is its own group."""
    if by is None:
        return [((), np.arange(len(frame)))]
    keys = [by] if isinstance(by, str) else list(by)
    if len(frame) == 0:
        return []
    grouped = frame.groupby(keys, dropna=False, sort=True, observed=True)
    out = []
    for key, positions in grouped.indices.items():
        out.append((key if isinstance(key, tuple) else (key,), np.asarray(positions)))
    return out


def km_by_group(derived: pd.DataFrame, by=None, settings: Settings = DEFAULT_SETTINGS,
                alpha: float = 0.05) -> pd.DataFrame:
    """KM summary of benefit duration per group of a `derive_sessions` table (by=None: one overall row).

    One row per group value (missing values form their own group) with n_patients, n, events, censored,
    median and CI, and the landmark shares with CI and at-risk counts. A loop over groups, never patients.
    """
    keys = [] if by is None else ([by] if isinstance(by, str) else list(by))
    frame = _durations(derived)
    durations = frame["duration_days"].to_numpy(dtype="float64", na_value=np.nan)
    events = frame["duration_event"].to_numpy(dtype=bool)
    patients = frame["patient_id"].to_numpy()
    rows = []
    for key, positions in _groups(frame, by):
        summary = km_summary(durations[positions], events[positions], settings, alpha)
        row = dict(zip(keys, key))
        row["n_patients"] = int(pd.unique(patients[positions]).size)
        row.update(summary)
        rows.append(row)
    columns = keys + ["n_patients", "n", "events", "censored", "median", "median_ci_low", "median_ci_high"] \
        + landmark_columns(settings.landmark_days)
    if not rows:
        return pd.DataFrame(columns=columns)
    out = pd.DataFrame(rows, columns=columns)
    counts = {"n_patients", "n", "events", "censored"}
    for column in columns[len(keys):]:
        if column in counts or column.startswith("at_risk_"):
            out[column] = out[column].astype("int64")
        else:
            out[column] = pd.array(out[column].astype("float64"), dtype="Float64")
    return out


def km_curves_by_group(derived: pd.DataFrame, by=None, alpha: float = 0.05) -> pd.DataFrame:
    """The KM tables of `km_curve` stacked per group (group columns first), for plotting one line per group."""
    keys = [] if by is None else ([by] if isinstance(by, str) else list(by))
    frame = _durations(derived)
    durations = frame["duration_days"].to_numpy(dtype="float64", na_value=np.nan)
    events = frame["duration_event"].to_numpy(dtype=bool)
    parts = []
    for key, positions in _groups(frame, by):
        curve = km_curve(durations[positions], events[positions], alpha)
        for name, value in zip(keys, key):
            curve.insert(keys.index(name), name, value)
        parts.append(curve)
    if not parts:
        return pd.DataFrame(columns=keys + list(CURVE_COLUMNS))
    return pd.concat(parts, ignore_index=True)
