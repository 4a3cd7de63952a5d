"""The command-line summary (metrics.md "The command-line summary"): one JSON-ready dict of the headline figures.

A stable interface: the keys of metrics.md are always present; extras are added beside them. Values are plain
Python (str, int, float, list, None); nothing is rounded. Fast on a million sessions: no mixed model here.

Decisions where metrics.md is silent:
* sessions and patients count the accepted sessions up to the as-of date, i.e. the rows every other figure
  is computed from; accepted sessions after it are counted in `sessions_after_as_of` so none goes missing
  (with the default as-of, the latest session date, that count is 0);
* median_onset_days / median_peak_days: sample medians over every session with the value recorded;
* median_response_pct: sample median over sessions with a pain response (TWSTRS-only sessions have none);
* median_duration_days: KM median over responder sessions (None when not reached);
* short_interval_share: over all intervals, i.e. every session but each patient's first.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from analytics.flags import flag_levels
from analytics.kaplan_meier import km_summary
from analytics.sessions import derive_sessions, numeric, resolve_as_of
from analytics.settings import DEFAULT_SETTINGS, Settings

REQUIRED_KEYS = (
    "as_of", "sessions", "patients", "rejected_rows", "responder_threshold_pct", "sessions_with_response",
    "responder_rate", "median_response_pct", "median_onset_days", "median_peak_days", "median_duration_days",
    "short_interval_share", "diminished_patients",
)


def _num(value) -> float | None:
    """A plain float, or None for missing / not finite."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _median(values: np.ndarray) -> float | None:
    values = values[~np.isnan(values)]
    return float(np.median(values)) if len(values) else None


def _share(successes: int, n: int) -> tuple[float | None, list | None]:
    """successes / n with its Wilson 95% interval; (None, None) when n is 0."""
    if n == 0:
        return None, None
    low, high = proportion_confint(successes, n, alpha=0.05, method="wilson")
    return successes / n, [float(low), float(high)]


def summarise(sessions: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS, rejected_rows: int = 0) -> dict:
    """Headline figures of an accepted session table as a JSON-serialisable dict (metrics.md keys + extras)."""
    as_of = resolve_as_of(sessions, settings)
    derived = derive_sessions(sessions, settings)

    has_response = derived["has_response"].to_numpy(dtype=bool)
    responder = derived["responder"].to_numpy(dtype=bool, na_value=False) & has_response
    n_response = int(has_response.sum())
    n_responders = int(responder.sum())
    responder_rate, responder_ci = _share(n_responders, n_response)

    pct = numeric(derived, "response_pct")
    n_pct = int((~np.isnan(pct)).sum())
    substantial = int(derived["substantial"].to_numpy(dtype=bool, na_value=False).sum())
    substantial_rate, substantial_ci = _share(substantial, n_pct)

    has_interval = derived["interval_days"].notna().to_numpy()
    n_intervals = int(has_interval.sum())
    n_short = int(derived["short_interval"].to_numpy(dtype=bool).sum())
    n_booster = int(derived["booster"].to_numpy(dtype=bool).sum())
    short_share, short_ci = _share(n_short, n_intervals)
    booster_share, booster_ci = _share(n_booster, n_intervals)

    onset_within = derived["onset_within"].dropna().to_numpy(dtype=bool)
    peak_within = derived["peak_within"].dropna().to_numpy(dtype=bool)
    onset_share, _ = _share(int(onset_within.sum()), len(onset_within))
    peak_share, _ = _share(int(peak_within.sum()), len(peak_within))

    km_rows = derived["duration_days"].notna().to_numpy()
    km = km_summary(numeric(derived, "duration_days")[km_rows],
                    derived["duration_event"].to_numpy(dtype=bool)[km_rows], settings)

    levels = flag_levels(derived, settings)
    diminished = sorted(levels.loc[levels["flag"] == "diminished", "patient_id"].astype(str).tolist())
    watch = sorted(levels.loc[levels["flag"] == "watch", "patient_id"].astype(str).tolist())

    out = {
        "as_of": None if pd.isna(as_of) else as_of.date().isoformat(),
        "sessions": int(len(derived)),
        "patients": int(derived["patient_id"].nunique()),
        "rejected_rows": int(rejected_rows),
        "responder_threshold_pct": _num(settings.responder_threshold_pct),
        "sessions_with_response": n_response,
        "responder_rate": _num(responder_rate),
        "median_response_pct": _median(pct),
        "median_onset_days": _median(numeric(derived, "onset_days")),
        "median_peak_days": _median(numeric(derived, "peak_days")),
        "median_duration_days": _num(km["median"]),
        "short_interval_share": _num(short_share),
        "diminished_patients": diminished,
        # extras
        "sessions_after_as_of": int(len(sessions) - len(derived)),
        "responders": n_responders,
        "responder_rate_ci": responder_ci,
        "sessions_with_pain_response": n_pct,
        "substantial_rate": _num(substantial_rate),
        "substantial_rate_ci": substantial_ci,
        "onset_within_share": _num(onset_share),
        "sessions_with_onset": int(len(onset_within)),
        "peak_within_share": _num(peak_share),
        "sessions_with_peak": int(len(peak_within)),
        "median_duration_ci": [_num(km["median_ci_low"]), _num(km["median_ci_high"])],
        "duration_sessions": int(km["n"]),
        "duration_events": int(km["events"]),
        "intervals": n_intervals,
        "short_intervals": n_short,
        "short_interval_share_ci": short_ci,
        "boosters": n_booster,
        "booster_share": _num(booster_share),
        "booster_share_ci": booster_ci,
        "watch_patients": watch,
        "settings": settings.to_dict(),
    }
    for day in settings.landmark_days:
        out[f"still_benefiting_{day}d"] = _num(km[f"still_benefiting_{day}d"])
        out[f"still_benefiting_{day}d_ci"] = [_num(km[f"still_benefiting_{day}d_ci_low"]),
                                              _num(km[f"still_benefiting_{day}d_ci_high"])]
        out[f"at_risk_{day}d"] = int(km[f"at_risk_{day}d"])
    return out
