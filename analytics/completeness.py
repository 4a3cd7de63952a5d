"""Follow-up completeness: how many sessions have a follow-up score, and of those without one, how many were not
yet due at the as-of date (recent injections whose review is still to come) rather than missing.

Why: every response figure (responder rate, median response, benefit duration) rests only on the sessions with a
follow-up score. When 105 of 265 recent sessions have none, the reader must see it beside the figure, and tell a
review not yet due from one that was never recorded.

A session's follow-up is "recorded" when it has a response (`has_response` of analytics.sessions: a follow-up pain
score against a baseline, or a TWSTRS pair); otherwise "not yet due" when the session was less than `due_days`
before the as-of date (how long follow-ups take here: analytics.spc.followup_lag_days), else "missing".
Pure functions, vectorised; small groups are suppressed by `completeness_shown` like every other breakdown.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.settings import DEFAULT_SETTINGS, Settings
from analytics.suppression import suppress_small_groups

RECORDED, NOT_YET_DUE, MISSING = "recorded", "not yet due", "missing"
COMPLETENESS_COLUMNS = ["month", "sessions", "patients", "recorded", "not_yet_due", "missing", "share_recorded",
                        "share_of_due"]


def followup_status(sessions: pd.DataFrame, as_of, due_days: int) -> pd.Series:
    """Per session: 'recorded', 'not yet due' (no score, and the session less than due_days before as_of) or
    'missing' (no score though it was due)."""
    has, due = _scored_and_due(sessions, as_of, due_days)
    status = np.where(has, RECORDED, np.where(due, MISSING, NOT_YET_DUE))
    return pd.Series(status, index=sessions.index, dtype="object")


def _scored_and_due(sessions: pd.DataFrame, as_of, due_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Per session: whether it has a follow-up score, and whether one was due by as_of."""
    if "has_response" in sessions.columns:
        has = sessions["has_response"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    else:
        has = np.zeros(len(sessions), bool)
    day = pd.to_datetime(sessions["session_date"]).to_numpy().astype("datetime64[D]")
    due = day + np.timedelta64(int(due_days), "D") <= np.datetime64(pd.Timestamp(as_of).date(), "D")
    return has, due


def followup_counts(sessions: pd.DataFrame, as_of, due_days: int) -> dict:
    """{'sessions', 'recorded', 'not_yet_due', 'missing', 'due_days'} over the given sessions (one period): the
    counts of followup_status's three values."""
    has, due = _scored_and_due(sessions, as_of, due_days)
    missing = int((~has & due).sum())
    return {"sessions": int(len(has)), "recorded": int(has.sum()), "not_yet_due": int(len(has) - has.sum() - missing),
            "missing": missing, "due_days": int(due_days)}


def followup_completeness(sessions: pd.DataFrame, as_of, due_days: int, by: str | None = None) -> pd.DataFrame:
    """Follow-up completeness per calendar month of the session date (and per value of `by`: site,
    practitioner_id): sessions, patients, recorded, not_yet_due, missing, share_recorded (recorded / sessions)
    and share_of_due (recorded / the sessions whose follow-up was due; NaN when none was). With `by`, a `group`
    column follows `month` (a blank value reads 'not recorded')."""
    columns = ["month", *(["group"] if by else []), *COMPLETENESS_COLUMNS[1:]]
    if len(sessions) == 0:
        return pd.DataFrame(columns=columns)
    status = followup_status(sessions, as_of, due_days)
    frame = pd.DataFrame({
        "month": pd.to_datetime(sessions["session_date"]).dt.to_period("M").dt.to_timestamp().to_numpy(),
        "patient_id": sessions["patient_id"].astype("str").to_numpy(),
        "recorded": (status == RECORDED).to_numpy(), "not_yet_due": (status == NOT_YET_DUE).to_numpy(),
        "missing": (status == MISSING).to_numpy(),
    })
    keys = ["month"]
    if by:
        frame["group"] = sessions[by].astype("string").fillna("not recorded").to_numpy() \
            if by in sessions.columns else "not recorded"
        keys.append("group")
    table = frame.groupby(keys, sort=True).agg(
        sessions=("recorded", "size"), patients=("patient_id", "nunique"), recorded=("recorded", "sum"),
        not_yet_due=("not_yet_due", "sum"), missing=("missing", "sum")).reset_index()
    table[["sessions", "patients", "recorded", "not_yet_due", "missing"]] = table[
        ["sessions", "patients", "recorded", "not_yet_due", "missing"]].astype("int64")
    table["share_recorded"] = table["recorded"] / table["sessions"]
    due = table["sessions"] - table["not_yet_due"]
    table["share_of_due"] = np.where(due > 0, table["recorded"] / due.where(due > 0, 1), np.nan)
    return table[columns]


def completeness_shown(table: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS) -> pd.DataFrame:
    """The monthly completeness by group with small groups suppressed: within each month, a group with fewer than
    settings.min_group_patients patients (and a complement, so it cannot be worked out from the month's total)
    shows no figures (analytics.suppression.suppress_small_groups)."""
    if "group" not in table.columns:
        return suppress_small_groups(table, settings, patients_col="patients", group_cols=["month"],
                                     partition_cols=[], total_shown=False)
    return suppress_small_groups(table, settings, patients_col="patients", group_cols=["month", "group"],
                                 partition_cols=["month"])
