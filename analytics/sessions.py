"""Per-session derived metrics (docs/metrics.md "Per session"): cycle, interval, response, responder, duration.

`derive_sessions` is the one place these columns are computed; every other metric reads them. It is vectorised
over sorted numpy arrays (no per-patient Python) so that it runs on a million sessions in about a second.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.settings import DEFAULT_SETTINGS, Settings

#: The columns `derive_sessions` adds, in order. Other modules code against these names.
DERIVED_COLUMNS = (
    "cycle",
    "interval_days",
    "short_interval",
    "booster",
    "response_pct",
    "twstrs_change",
    "twstrs_responder",
    "has_response",
    "responder",
    "substantial",
    "onset_within",
    "peak_within",
    "next_session_date",
    "duration_days",
    "duration_event",
    "any_adverse_event",
)

#: The label of a missing group value (product, site, ...) in every grouped table and chart.
NOT_RECORDED = "(not recorded)"

_NS_PER_DAY = 86_400


def resolve_as_of(sessions: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS) -> pd.Timestamp:
    """The analysis date: settings.as_of, else the latest session_date (NaT for an empty table without as_of).

    Sessions after it are left out of every metric, and benefit still running at it is censored there.
    """
    if settings.as_of is not None:
        return pd.Timestamp(settings.as_of).normalize()
    if len(sessions) == 0:
        return pd.NaT
    latest = pd.to_datetime(sessions["session_date"]).max()
    return pd.NaT if pd.isna(latest) else pd.Timestamp(latest).normalize()


def as_of_after_data(sessions: pd.DataFrame, as_of) -> str | None:
    """A message when `as_of` falls after the latest session_date, else None.

    Why: an as-of date after the data would stretch every censored benefit to a day nobody has seen (the
    median grows by the gap), so the command line refuses it and the app clamps it to the latest session.
    """
    if as_of is None or len(sessions) == 0:
        return None
    latest = pd.to_datetime(sessions["session_date"]).max()
    if pd.isna(latest) or pd.Timestamp(as_of).normalize() <= pd.Timestamp(latest).normalize():
        return None
    return (f"the as-of date {pd.Timestamp(as_of):%Y-%m-%d} is after the latest session in the data "
            f"({pd.Timestamp(latest):%Y-%m-%d}); nothing is known about the days between, so choose a date on or "
            "before it")


def numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    """A column as float64 with NaN for missing; all-NaN when the column is absent (optional columns)."""
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    values = frame[column]
    if not pd.api.types.is_numeric_dtype(values.dtype):
        values = pd.to_numeric(values, errors="coerce")
    return values.to_numpy(dtype="float64", na_value=np.nan)


def group_labels(sessions: pd.DataFrame, by: str) -> pd.Series:
    """A grouping column as text, NOT_RECORDED where missing or blank (all of it when the column is absent)."""
    if by not in sessions.columns:
        return pd.Series(NOT_RECORDED, index=sessions.index, dtype="str")
    labels = sessions[by].astype("str")
    return labels.where(sessions[by].notna() & (labels.str.strip() != ""), NOT_RECORDED)


def _float_array(values: np.ndarray, missing: np.ndarray) -> pd.arrays.FloatingArray:
    return pd.arrays.FloatingArray(np.where(missing, 0.0, values).astype("float64"), missing.copy())


def _bool_array(values: np.ndarray, missing: np.ndarray) -> pd.arrays.BooleanArray:
    return pd.arrays.BooleanArray(np.where(missing, False, values).astype(bool), missing.copy())


def _int_array(values: np.ndarray, missing: np.ndarray) -> pd.arrays.IntegerArray:
    return pd.arrays.IntegerArray(np.where(missing, 0, values).astype("int64"), missing.copy())


def any_adverse_event(frame: pd.DataFrame) -> pd.arrays.BooleanArray:
    """Per session: True when any listed adverse event is not 'none'; NA where the cell is blank.

    Evaluated once per distinct value (clinics repeat a few values). Test fixtures call it too.
    """
    n = len(frame)
    if "adverse_events" not in frame.columns:
        return _bool_array(np.zeros(n, bool), np.ones(n, bool))
    codes, uniques = pd.factorize(frame["adverse_events"], use_na_sentinel=True)
    cleaned = pd.Series(uniques, dtype="str").str.lower().str.replace(r"[\s;|,]+", " ", regex=True).str.strip()
    blank = cleaned.isna() | (cleaned == "")
    items_other = cleaned.str.replace(r"\bnone\b", "", regex=True).str.strip() != ""
    unique_value = np.asarray(items_other.fillna(False), dtype=bool)
    unique_blank = np.asarray(blank, dtype=bool)
    missing = codes < 0
    safe = np.where(missing, 0, codes)
    if len(uniques) == 0:
        return _bool_array(np.zeros(n, bool), np.ones(n, bool))
    return _bool_array(unique_value[safe], missing | unique_blank[safe])


def sorted_codes(values: pd.Series) -> np.ndarray:
    """Codes 0..K-1 of a text column in sorted order of its distinct values: pd.factorize(values, sort=True)[0].

    For pyarrow-backed text (what ingestion and the store give) the distinct values are found by arrow's hash
    kernel and only they are sorted (byte order of UTF-8 is code-point order, as Python sorts): about twice as
    fast as pandas on a million sessions, which matters because every summary starts here."""
    array = values.array
    if isinstance(array, pd.arrays.ArrowStringArray) and not values.hasnans:
        import pyarrow.compute as pc  # noqa: PLC0415 - pyarrow is loaded with pandas' arrow strings already

        encoded = pc.dictionary_encode(array._pa_array).combine_chunks()
        order = pc.sort_indices(encoded.dictionary).to_numpy()
        rank = np.empty(len(order), np.int64)
        rank[order] = np.arange(len(order))
        return rank[encoded.indices.to_numpy()]
    return pd.factorize(values.astype("str"), sort=True)[0]


def patient_day_order(codes: np.ndarray, day: np.ndarray) -> np.ndarray:
    """The row order by patient code, then day, same-day rows in input order: np.lexsort((day, codes)).

    One stable sort of a single int64 key (code x day span + day) is about twice as fast as the two-key lexsort
    on a million rows; lexsort stays for spans that could overflow the key (never for real dates)."""
    if len(day) == 0:
        return np.zeros(0, np.int64)
    low, span = int(day.min()), int(day.max()) - int(day.min()) + 1
    if (int(codes.max()) + 1) * span >= 2**62:
        return np.lexsort((day, codes))
    return np.argsort(codes.astype(np.int64) * span + (day - low), kind="stable")


def _empty_derived(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.iloc[0:0].copy().reset_index(drop=True)
    empty = np.zeros(0)
    missing = np.zeros(0, bool)
    out["cycle"] = _int_array(empty, missing)
    out["interval_days"] = _int_array(empty, missing)
    out["short_interval"] = np.zeros(0, bool)
    out["booster"] = np.zeros(0, bool)
    for name in ("response_pct", "twstrs_change"):
        out[name] = _float_array(empty, missing)
    out["twstrs_responder"] = _bool_array(empty, missing)
    out["has_response"] = np.zeros(0, bool)
    for name in ("responder", "substantial", "onset_within", "peak_within"):
        out[name] = _bool_array(empty, missing)
    out["next_session_date"] = pd.Series(np.array([], dtype="datetime64[s]"))
    out["duration_days"] = _float_array(empty, missing)
    out["duration_event"] = np.zeros(0, bool)
    out["any_adverse_event"] = _bool_array(empty, missing)
    return out


def add_outcomes(frame: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS) -> tuple[np.ndarray, np.ndarray]:
    """Add the threshold columns short_interval .. peak_within to a table that has interval_days, in place.

    The per-session rules of docs/metrics.md that need no ordering: interval flags, pain and TWSTRS response,
    responder, substantial, onset/peak within. `derive_sessions` calls it after computing the intervals; test
    fixtures call it on hand-written intervals so they apply the same rules. Returns (has_response, responder)
    as numpy arrays for the benefit-duration step.
    """
    interval = numeric(frame, "interval_days")
    no_interval = np.isnan(interval)
    frame["short_interval"] = ~no_interval & (interval < settings.short_interval_days)
    frame["booster"] = ~no_interval & (interval < settings.booster_days)

    # Pain response.
    base = numeric(frame, "baseline_pain")
    follow = numeric(frame, "followup_pain")
    has_pct = (base > 0) & ~np.isnan(follow)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = 100.0 * (base - follow) / base
    frame["response_pct"] = _float_array(pct, ~has_pct)

    # TWSTRS change (rounded to 1e-9 so decimal scores such as 32.7 - 24.7 compare exactly with the 8-point drop).
    tw_change = np.round(numeric(frame, "followup_twstrs") - numeric(frame, "baseline_twstrs"), 9)
    has_tw = ~np.isnan(tw_change)
    tw_responder = -tw_change >= settings.twstrs_responder_drop
    frame["twstrs_change"] = _float_array(tw_change, ~has_tw)
    frame["twstrs_responder"] = _bool_array(tw_responder, ~has_tw)

    has_response = has_pct | has_tw
    frame["has_response"] = has_response
    pain_responder = pct >= settings.responder_threshold_pct
    responder = np.where(has_pct, pain_responder, tw_responder)
    frame["responder"] = _bool_array(responder, ~has_response)
    frame["substantial"] = _bool_array(pct >= settings.substantial_threshold_pct, ~has_pct)

    onset = numeric(frame, "onset_days")
    peak = numeric(frame, "peak_days")
    frame["onset_within"] = _bool_array(onset <= settings.onset_within_days, np.isnan(onset))
    frame["peak_within"] = _bool_array(peak <= settings.peak_within_days, np.isnan(peak))
    return has_response, responder


def derive_sessions(sessions: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS) -> pd.DataFrame:
    """Drop sessions after as-of, sort by patient and date, and add the per-session metrics of docs/metrics.md.

    Same-day sessions of one patient keep their input order. The index is reset to 0..n-1. Every input column
    is kept. Raises ValueError when a patient_id or session_date is missing (ingestion guarantees both).
    """
    for column in ("patient_id", "session_date"):
        if column not in sessions.columns:
            raise ValueError(f"the session table has no {column} column")
    if sessions["patient_id"].isna().any() or sessions["session_date"].isna().any():
        raise ValueError("patient_id and session_date must be present on every session")

    as_of = resolve_as_of(sessions, settings)
    if len(sessions) == 0 or pd.isna(as_of):
        return _empty_derived(sessions)

    day_all = pd.to_datetime(sessions["session_date"]).to_numpy().astype("datetime64[D]").astype("int64")
    as_of_day = int(np.datetime64(as_of.date(), "D").astype("int64"))
    keep = day_all <= as_of_day
    frame = sessions if keep.all() else sessions.loc[keep]
    if len(frame) == 0:
        return _empty_derived(sessions)
    day_all = day_all[keep]

    codes_all = sorted_codes(frame["patient_id"])
    order = patient_day_order(codes_all, day_all)
    if np.array_equal(order, np.arange(len(order))):
        out = frame.reset_index(drop=True)
    else:
        out = frame.take(order).reset_index(drop=True)
    # pandas copy-on-write: adding columns below never writes into the caller's frame.
    codes = codes_all[order]
    day = day_all[order]
    n = len(out)
    idx = np.arange(n)

    # Patient blocks in the sorted table.
    first = np.ones(n, bool)
    first[1:] = codes[1:] != codes[:-1]
    last = np.ones(n, bool)
    last[:-1] = codes[1:] != codes[:-1]
    block = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    ends = np.flatnonzero(last)
    pos = idx - starts[block]  # 0-based rank in the patient's own series

    # cycle: cycle_number where given; else count on from the last given number (or back from the next one
    # when none is given earlier); else the rank. Never below 1.
    given_cycle = numeric(out, "cycle_number")
    given = ~np.isnan(given_cycle)
    anchor = np.where(given, given_cycle - pos, np.nan)
    last_given = np.maximum.accumulate(np.where(given, idx, -1))
    has_prev = (last_given >= 0) & (last_given >= starts[block])
    next_given = np.minimum.accumulate(np.where(given, idx, n)[::-1])[::-1]
    has_next = (next_given < n) & (next_given <= ends[block])
    anchor_row = np.where(
        given,
        anchor,
        np.where(has_prev, anchor[np.clip(last_given, 0, n - 1)],
                 np.where(has_next, anchor[np.clip(next_given, 0, n - 1)], 1.0)),
    )
    cycle = np.where(given, given_cycle, np.maximum(anchor_row + pos, 1.0))
    out["cycle"] = _int_array(cycle, np.zeros(n, bool))

    # Intervals.
    prev_day = np.empty(n, "int64")
    prev_day[0] = 0
    prev_day[1:] = day[:-1]
    out["interval_days"] = _int_array(day - prev_day, first)
    has_response, responder = add_outcomes(out, settings)

    # Next session and benefit duration (responder sessions only).
    next_day = np.empty(n, "int64")
    next_day[-1] = 0
    next_day[:-1] = day[1:]
    has_next_session = ~last
    out["next_session_date"] = pd.Series(
        np.where(has_next_session, next_day, 0).astype("datetime64[D]").astype("datetime64[s]")
    ).where(has_next_session)
    # A wearing-off is an ending only when it fell on or before the as-of date: on that date a benefit that
    # wore off later was still running, so it is censored at the as-of date (or at the next session before it).
    wearing_off = numeric(out, "wearing_off_days")
    with np.errstate(invalid="ignore"):
        event = ~np.isnan(wearing_off) & (day + wearing_off <= as_of_day)
    censor_at = np.where(has_next_session, next_day - day, as_of_day - day).astype("float64")
    duration = np.where(event, wearing_off, censor_at)
    is_responder = has_response & responder
    out["duration_days"] = _float_array(duration, ~is_responder)
    out["duration_event"] = event
    out["any_adverse_event"] = any_adverse_event(out)
    return out
