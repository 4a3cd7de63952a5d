"""The command-line summary (docs/metrics.md "The command-line summary"): a JSON-ready dict of the headline figures.

A stable interface: the keys of REQUIRED_KEYS (documented in docs/metrics.md) are always present; extras are
added beside them. Values are plain Python (str, int, float, list, None); nothing is rounded. Every figure comes
from analytics.headline, which the app's KPI tiles use too. Fast on a million sessions: no mixed model here.

Decisions where docs/metrics.md is silent:
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
from typing import TYPE_CHECKING

import pandas as pd

from analytics import headline
from analytics.flags import patients_by_flag
from analytics.kaplan_meier import km_summary
from analytics.selection import Selection, select
from analytics.sessions import derive_sessions, resolve_as_of
from analytics.settings import DEFAULT_SETTINGS, Settings

if TYPE_CHECKING:
    from analytics.store import DerivedRead

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


def _ci(figure: headline.Share) -> list | None:
    """[low, high] of a share, None when it rests on nothing."""
    return [float(figure.ci_low), float(figure.ci_high)] if figure.n else None


#: The input columns the summary's figures and flags read (derive_sessions needs no others for them).
SUMMARY_INPUTS = ("patient_id", "session_date", "cycle_number", "baseline_pain", "followup_pain",
                  "baseline_twstrs", "followup_twstrs", "onset_days", "peak_days", "wearing_off_days")


def summary_inputs(sessions: pd.DataFrame, selection: Selection | None = None) -> pd.DataFrame:
    """The columns the summary reads (and those the selection filters on), so that sorting and deriving do not
    carry the free-text and code columns along: on a million sessions that is a third of the time."""
    wanted = [*SUMMARY_INPUTS, *(column for column, _ in (selection.values if selection else ()))]
    return sessions[[c for c in dict.fromkeys(wanted) if c in sessions.columns]]


def summarise(sessions: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS, rejected_rows: int = 0,
              selection: Selection | None = None, *, ready: DerivedRead | None = None) -> dict:
    """Headline figures of an accepted session table as a JSON-serialisable dict (REQUIRED_KEYS + extras).

    selection: only the sessions it keeps are counted, as in the app; each patient's whole history is worked
    out first (a session outside the selection is still the previous injection of the next one), and a patient
    is flagged from that whole history.
    ready: the sessions already derived (store.read_derived_with, from the store's derived table: at least the
    whole history of the patients the selection keeps, up to the as-of date); `sessions` is then ignored."""
    if ready is not None:
        sessions, history, as_of = ready.frame, ready.frame, ready.as_of
    else:
        as_of = resolve_as_of(sessions, settings)
        history = derive_sessions(summary_inputs(sessions, selection), settings)
    derived = history if selection is None else select(history, selection)

    responders = headline.responder_share(derived)
    substantial = headline.known_share(derived, "substantial")
    short = headline.interval_share(derived, "short_interval")
    booster = headline.interval_share(derived, "booster")
    onset = headline.known_share(derived, "onset_within")
    peak = headline.known_share(derived, "peak_within")
    median_response, _ = headline.median_of(derived, "response_pct")
    median_onset, _ = headline.median_of(derived, "onset_days")
    median_peak, _ = headline.median_of(derived, "peak_days")
    km = km_summary(*headline.duration_sample(derived), settings)
    flagged = patients_by_flag(history, settings)
    if derived is not history:
        seen = set(derived["patient_id"].astype(str))
        flagged = {flag: [p for p in patients if p in seen] for flag, patients in flagged.items()}

    out = {
        "as_of": None if pd.isna(as_of) else as_of.date().isoformat(),
        "sessions": int(len(derived)),
        "patients": int(derived["patient_id"].nunique()),
        "rejected_rows": int(rejected_rows),
        "responder_threshold_pct": _num(settings.responder_threshold_pct),
        "sessions_with_response": responders.n,
        "responder_rate": _num(responders.value),
        "median_response_pct": _num(median_response),
        "median_onset_days": _num(median_onset),
        "median_peak_days": _num(median_peak),
        "median_duration_days": _num(km["median"]),
        "short_interval_share": _num(short.value),
        "diminished_patients": flagged["diminished"],
        # extras
        "sessions_after_as_of": int(len(sessions) - len(history)) if ready is None else ready.after_as_of,
        "responders": responders.successes,
        "responder_rate_ci": _ci(responders),
        "sessions_with_pain_response": substantial.n,
        "substantial_rate": _num(substantial.value),
        "substantial_rate_ci": _ci(substantial),
        "onset_within_share": _num(onset.value),
        "sessions_with_onset": onset.n,
        "peak_within_share": _num(peak.value),
        "sessions_with_peak": peak.n,
        "median_duration_ci": [_num(km["median_ci_low"]), _num(km["median_ci_high"])],
        "duration_sessions": int(km["n"]),
        "duration_events": int(km["events"]),
        "intervals": short.n,
        "short_intervals": short.successes,
        "short_interval_share_ci": _ci(short),
        "boosters": booster.successes,
        "booster_share": _num(booster.value),
        "booster_share_ci": _ci(booster),
        "watch_patients": flagged["watch"],
        "settings": settings.to_dict(),
    }
    for day in settings.landmark_days:
        out[f"still_benefiting_{day}d"] = _num(km[f"still_benefiting_{day}d"])
        out[f"still_benefiting_{day}d_ci"] = [_num(km[f"still_benefiting_{day}d_ci_low"]),
                                              _num(km[f"still_benefiting_{day}d_ci_high"])]
        out[f"at_risk_{day}d"] = int(km[f"at_risk_{day}d"])
    return out
