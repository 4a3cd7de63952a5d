"""Effect over time from repeated assessments (docs/metrics.md "Within one cycle"): change from baseline.

Why: trials and symptom diaries score patients several times after one injection; the mean change from the
day-0 score, by days after the injection and group, is the effect curve of that cycle.

Definitions:
* the assessment's injection is identified by patient_id plus session_id, else plus session_date, else by
  patient_id alone (one injection per patient), whichever columns the table has;
* baseline = the score at days_after == 0 of the same injection (the mean if it was scored more than once);
  rows of an injection without a baseline are left out;
* change = score - baseline (negative = better for pain and TWSTRS);
* responder: TWSTRS drop >= twstrs_responder_drop points (8); pain: a drop of >= responder_threshold_pct % of
  the baseline (30%), counted only where the baseline pain is above 0;
* days_after is taken as given; else week x 7; else assessment_date - session_date in days.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.proportions import t_ci
from analytics.settings import DEFAULT_SETTINGS, Settings

SCORES = ("pain", "twstrs")


def days_after(assessments: pd.DataFrame) -> pd.Series:
    """Days since the injection for each row, from days_after, week or assessment_date - session_date."""
    if "days_after" in assessments.columns:
        return pd.to_numeric(assessments["days_after"], errors="coerce").astype("float64")
    if "week" in assessments.columns:
        return pd.to_numeric(assessments["week"], errors="coerce").astype("float64") * 7.0
    if {"assessment_date", "session_date"} <= set(assessments.columns):
        delta = pd.to_datetime(assessments["assessment_date"]) - pd.to_datetime(assessments["session_date"])
        return (delta.dt.days).astype("float64")
    raise ValueError("the assessments need days_after, week, or assessment_date with session_date")


def _keys(assessments: pd.DataFrame) -> list[str]:
    for extra in ("session_id", "session_date"):
        if extra in assessments.columns and assessments[extra].notna().any():
            return ["patient_id", extra]
    return ["patient_id"]


def timeline(assessments: pd.DataFrame, score: str = "twstrs", by=None,
             settings: Settings = DEFAULT_SETTINGS, alpha: float = 0.05) -> pd.DataFrame:
    """Mean change from baseline by group and days_after, with 95% t CI, n, and the responder share.

    Columns: the `by` columns, days_after, n, mean_change, ci_low, ci_high, responder_share, responders
    (pain: responder_share is over the rows with a baseline above 0). Day 0 rows are kept (change 0).
    """
    if score not in SCORES:
        raise ValueError(f"score must be one of {SCORES}; pgic is itself a change rating, not a score to subtract")
    groups = [] if by is None else ([by] if isinstance(by, str) else list(by))
    columns = groups + ["days_after", "n", "mean_change", "ci_low", "ci_high", "responder_share", "responders"]
    if score not in assessments.columns or len(assessments) == 0:
        return pd.DataFrame(columns=columns)
    keys = _keys(assessments)
    frame = assessments[list(dict.fromkeys(keys + groups))].copy()
    frame["days_after"] = days_after(assessments)
    frame["score"] = pd.to_numeric(assessments[score], errors="coerce").astype("float64")
    frame = frame.loc[frame["score"].notna() & frame["days_after"].notna()]
    baseline = (frame.loc[frame["days_after"] == 0].groupby(keys, dropna=False)["score"].mean()
                .rename("baseline").reset_index())
    frame = frame.merge(baseline, on=keys, how="inner")
    frame["change"] = np.round(frame["score"] - frame["baseline"], 9)
    if score == "twstrs":
        frame["responder"] = (-frame["change"] >= settings.twstrs_responder_drop).astype("float64")
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            pct = 100.0 * (frame["baseline"] - frame["score"]) / frame["baseline"]
        frame["responder"] = np.where(frame["baseline"] > 0, (pct >= settings.responder_threshold_pct), np.nan)
    if len(frame) == 0:
        return pd.DataFrame(columns=columns)
    grouped = frame.groupby(groups + ["days_after"], dropna=False, sort=True)
    out = pd.DataFrame({
        "n": grouped["change"].count(),
        "mean_change": grouped["change"].mean(),
        "sd": grouped["change"].std(ddof=1),
        "responder_share": grouped["responder"].mean(),
        "responders": grouped["responder"].sum(min_count=0),
    }).reset_index()
    low, high = t_ci(out["mean_change"].to_numpy(), out["sd"].fillna(0.0).to_numpy(),
                           out["n"].to_numpy(), alpha)
    out["ci_low"], out["ci_high"] = low, high
    out["n"] = out["n"].astype("int64")
    out["responders"] = out["responders"].astype("int64")
    return out[columns]
