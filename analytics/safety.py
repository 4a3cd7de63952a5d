"""Adverse events per session, by type and by product, with Wilson 95% intervals and counts beside every rate.

The adverse_events cell lists events separated by ';' (also '|' or ','). "none" means the session was asked
about and had no event; a blank cell means nothing was recorded, and such sessions are left out of the
denominator (counting them as "no event" would understate the rate). A session counts once per event type
however often the type is listed. The "any" row counts sessions with at least one event other than "none".

Output (long): group_by, group, event, sessions_recorded (denominator), patients (distinct patients in the
denominator), sessions_with_event, patients_with_event, rate, ci_low, ci_high. Every event seen anywhere in the
table appears for every group (0 of n is shown, not left out). Events follow the schema vocabulary order.
For small-number suppression the group is the product (or the whole table) and each event is its own table:
suppress_small_groups(result, settings, **SUPPRESSION_OPTIONS).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.proportions import proportion, rate_table
from analytics.schema import ADVERSE_EVENTS
from analytics.sessions import group_labels

ANY_EVENT = "any"
ALL_SESSIONS = "all sessions"
SUPPRESSION_OPTIONS = {"group_cols": ["group_by", "group"], "partition_cols": ["group_by", "event"]}
COLUMNS = ["group_by", "group", "event", "sessions_recorded", "patients", "sessions_with_event",
           "patients_with_event", "rate", "ci_low", "ci_high"]


def _parse_distinct(cells: pd.Series) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """Parse each distinct cell once: (code per session, rows code/event of the distinct values with an event,
    recorded flag per distinct value). Clinics repeat a few values, so this is far cheaper than per session."""
    codes, uniques = pd.factorize(cells, use_na_sentinel=True)
    distinct = pd.Series(uniques, dtype="str")
    recorded = (distinct.str.strip().str.strip(";|,").str.strip() != "").to_numpy(dtype=bool)
    tokens = distinct.str.lower().str.split(r"[;|,]", regex=True).explode().str.strip()
    tokens = tokens.loc[tokens.notna() & (tokens != "") & (tokens != "none")]
    rows = pd.DataFrame({"code": tokens.index.to_numpy(), "event": tokens.to_numpy()}).drop_duplicates()
    return codes, rows, recorded


def recorded_mask(sessions: pd.DataFrame) -> pd.Series:
    """True where the adverse_events cell is filled in (a 'none' counts as recorded)."""
    if "adverse_events" not in sessions:
        return pd.Series(False, index=sessions.index)
    codes, _, recorded = _parse_distinct(sessions["adverse_events"])
    flags = np.zeros(len(codes), dtype=bool)
    known = codes >= 0
    flags[known] = recorded[codes[known]]
    return pd.Series(flags, index=sessions.index)


def event_rows(sessions: pd.DataFrame) -> pd.DataFrame:
    """One row per (session, event) for the recorded sessions with an event: columns session (the row label
    in `sessions`) and event. 'none' and duplicates within a session are dropped."""
    if "adverse_events" not in sessions or len(sessions) == 0:
        return pd.DataFrame({"session": pd.Series([], dtype=sessions.index.dtype),
                             "event": pd.Series([], dtype="str")})
    codes, rows, _ = _parse_distinct(sessions["adverse_events"])
    per_session = pd.DataFrame({"position": np.arange(len(codes)), "code": codes})
    joined = per_session.merge(rows, on="code", how="inner").sort_values(["position", "event"], kind="stable")
    return pd.DataFrame({"session": sessions.index.to_numpy()[joined["position"].to_numpy()],
                         "event": joined["event"].to_numpy(dtype=object)}).astype({"event": "str"})


def _event_order(events: pd.Series) -> list[str]:
    """The vocabulary order of the schema, unknown events after it alphabetically; 'any' first."""
    seen = set(events.dropna().unique()) - {ANY_EVENT}
    known = [e for e in ADVERSE_EVENTS if e in seen and e != "none"]
    return [ANY_EVENT, *known, *sorted(seen - set(known))]


def adverse_event_rates(sessions: pd.DataFrame, by: str | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """Sessions with each adverse event type per recorded session, overall (by=None) or per `by` (e.g. product)."""
    sessions = sessions.reset_index(drop=True)
    if by is None:
        group = pd.Series(ALL_SESSIONS, index=sessions.index, dtype="str")
    else:
        group = group_labels(sessions, by)
    recorded = recorded_mask(sessions)
    base = pd.DataFrame({"group": group[recorded], "patient_id": sessions.loc[recorded, "patient_id"]})
    denominators = (base.groupby("group", sort=True)
                    .agg(sessions_recorded=("patient_id", "size"), patients=("patient_id", "nunique")))

    events = event_rows(sessions)
    any_rows = events.drop_duplicates("session").assign(event=ANY_EVENT)
    events = pd.concat([any_rows, events], ignore_index=True)
    events["group"] = group.reindex(events["session"]).to_numpy()
    events["patient_id"] = sessions["patient_id"].reindex(events["session"]).to_numpy()
    numerators = (events.groupby(["group", "event"], sort=False)
                  .agg(sessions_with_event=("session", "size"), patients_with_event=("patient_id", "nunique")))

    order = _event_order(events["event"]) if len(events) else [ANY_EVENT]
    full = pd.MultiIndex.from_product([denominators.index, order], names=["group", "event"])
    table = (numerators.reindex(full, fill_value=0).reset_index()
             .merge(denominators.reset_index(), on="group", how="left"))
    rates = rate_table(table["sessions_with_event"], table["sessions_recorded"], alpha)
    table[list(rates.columns)] = rates
    table["group_by"] = "all" if by is None else by
    table = table[COLUMNS].astype({"sessions_recorded": "int64", "patients": "int64",
                                   "sessions_with_event": "int64", "patients_with_event": "int64",
                                   "rate": "float64", "ci_low": "float64", "ci_high": "float64"})
    return table.reset_index(drop=True)


def recording_coverage(sessions: pd.DataFrame) -> dict[str, float]:
    """How many sessions have adverse events recorded at all: a low share makes every rate less certain."""
    recorded = recorded_mask(sessions)
    n = int(len(sessions))
    return {"sessions": n, "recorded": int(recorded.sum()),
            "share_recorded": float(proportion(int(recorded.sum()), n)) if n else np.nan}
