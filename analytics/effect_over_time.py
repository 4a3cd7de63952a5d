"""The effect within one cycle from session records (docs/metrics.md "Within one cycle"): begun, lasting,
in benefit.

Why: patients are told benefit starts within days, peaks within weeks and lasts months; this curve shows what
the clinic's own records say, day by day after an injection. Population: responder sessions.

* onset_share(t): the share of responder sessions with onset_days recorded whose onset_days <= t (empirical CDF);
* still_benefiting(t): the Kaplan-Meier S(t) of benefit duration over all responder sessions (censored as in
  `derive_sessions`), with its log(-log) 95% CI; NaN after the last observed duration unless S reached 0;
* in_benefit(t) = onset_share(t) x still_benefiting(t): begun and not yet worn off. The product treats the
  time to onset and the duration as independent; since onsets come within days and durations last months,
  the product is close to the share of sessions in benefit on day t.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.headline import duration_sample, median_of
from analytics.kaplan_meier import at_risk_at, km_curve, km_median, survival_at
from analytics.sessions import numeric
from analytics.settings import DEFAULT_SETTINGS, Settings

CURVE_COLUMNS = ("day", "onset_share", "still_benefiting", "still_ci_low", "still_ci_high", "at_risk", "in_benefit")


def _responders(derived: pd.DataFrame) -> pd.DataFrame:
    if len(derived) == 0:
        return derived
    return derived.loc[derived["responder"].fillna(False).to_numpy(dtype=bool)]


def _none(value: float) -> float | None:
    """None for NaN (the markers are plain values for the chart's hover text)."""
    return None if np.isnan(value) else value


def effect_markers(derived: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS) -> dict:
    """Markers for the curve, over responder sessions: median onset and peak (sample medians) and KM median duration.

    Returns median_onset_days, n_onset, median_peak_days, n_peak, median_duration_days, duration_ci_low,
    duration_ci_high, n_duration (None where there is nothing to summarise or the median is not reached).
    """
    rows = _responders(derived)
    onset, n_onset = median_of(rows, "onset_days")
    peak, n_peak = median_of(rows, "peak_days")
    med = km_median(*duration_sample(rows))
    return {
        "median_onset_days": _none(onset), "n_onset": n_onset,
        "median_peak_days": _none(peak), "n_peak": n_peak,
        "median_duration_days": med.median, "duration_ci_low": med.ci_low, "duration_ci_high": med.ci_high,
        "n_duration": med.n,
    }


def effect_over_time(derived: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS,
                     max_day: int | None = None) -> pd.DataFrame:
    """Day-by-day curve (day 0..max_day) of onset_share, still_benefiting (+ CI, at-risk) and in_benefit.

    max_day defaults to the longest observed duration or onset among responder sessions. An empty population
    gives an empty table.
    """
    rows = _responders(derived)
    onset = numeric(rows, "onset_days")
    onset = np.sort(onset[~np.isnan(onset)])
    duration = numeric(rows, "duration_days")
    events = rows["duration_event"].to_numpy(dtype=bool) if len(rows) else np.zeros(0, bool)
    observed = duration[~np.isnan(duration)]
    if max_day is None:
        candidates = [x.max() for x in (observed, onset) if len(x)]
        if not candidates:
            return pd.DataFrame({c: pd.Series(dtype="float64") for c in CURVE_COLUMNS})
        max_day = int(np.ceil(max(candidates)))
    days = np.arange(0, int(max_day) + 1, dtype="float64")
    onset_share = (np.searchsorted(onset, days, side="right") / len(onset)) if len(onset) else np.full(len(days), np.nan)
    curve = km_curve(duration, events)
    at = survival_at(curve, days)
    still = at["survival"].to_numpy()
    return pd.DataFrame({
        "day": days.astype("int64"),
        "onset_share": onset_share,
        "still_benefiting": still,
        "still_ci_low": at["ci_low"].to_numpy(),
        "still_ci_high": at["ci_high"].to_numpy(),
        "at_risk": at_risk_at(duration, days),
        "in_benefit": onset_share * still,
    })
