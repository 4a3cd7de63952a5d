"""Rules across the fields of a row, and across a patient's rows, on the parsed table (all vectorised)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .distinct import encode
from .ingest_report import Report
from .reason_codes import Caution, Rejection
from .schema import IMPLAUSIBLE_UNITS

SCORES = ("pain", "twstrs", "pgic")


def check_sessions(parsed: pd.DataFrame, report: Report) -> None:
    """A baseline score is required; warn on peak before onset, implausible doses and muscle units that do not add
    up."""
    no_baseline = parsed["baseline_pain"].isna() & parsed["baseline_twstrs"].isna()
    bad_baseline_cell = report.rejected_mask({"baseline_pain", "baseline_twstrs"})
    report.reject("baseline_pain", no_baseline & ~bad_baseline_cell,
                  "no baseline score: baseline_pain or baseline_twstrs is required", Rejection.NO_BASELINE)
    onset, peak = parsed["onset_days"], parsed["peak_days"]
    report.warn("peak_days", (peak < onset).fillna(False), "peak_days is before onset_days",
                Caution.PEAK_BEFORE_ONSET, parsed["peak_days"])
    limits = pd.Series(_per_value_map(parsed["product"], IMPLAUSIBLE_UNITS), index=parsed.index, copy=False)
    too_much = (parsed["total_units"] > limits).fillna(False)
    report.warn("total_units", too_much, "an unusually high dose for this product (please check)",
                Caution.HIGH_DOSE, parsed["total_units"])
    muscle_units, counted = muscle_unit_totals(parsed["muscles"])
    mismatch = muscle_units.notna() & ((muscle_units - parsed["total_units"]).abs()
                                       > muscle_units_tolerance(counted, parsed["total_units"]))
    report.warn("muscles", mismatch.fillna(False), "the muscles' units do not add up to total_units",
                Caution.MUSCLE_UNITS_MISMATCH)


def check_assessments(parsed: pd.DataFrame, report: Report, present: set[str]) -> pd.DataFrame:
    """Each score needs a time after its injection (days_after, week x 7, or the dates' difference) and a score.

    present: the canonical columns the file has. Returns the table with days_after filled in and no week.
    """
    days = parsed["days_after"].astype("Float64")
    days = days.fillna(parsed["week"].astype("Float64") * 7)
    if {"assessment_date", "session_date"} <= present:
        gap = (parsed["assessment_date"] - parsed["session_date"]).dt.days.astype("Float64")
        report.reject("assessment_date", (gap < 0).fillna(False), "before the injection date",
                      Rejection.BEFORE_INJECTION)
        days = days.fillna(gap.where(gap >= 0))
    no_time = days.isna() & ~report.rejected_mask({"days_after", "week", "assessment_date", "session_date"})
    report.reject("days_after", no_time, "no time after the injection: give days_after, week or assessment_date",
                  Rejection.NO_TIME)
    scores = [s for s in SCORES if s in present]
    no_score = parsed[scores].isna().all(axis=1) & ~report.rejected_mask(set(scores))
    report.reject(scores[0], no_score, "no score: give pain, twstrs or pgic", Rejection.NO_SCORE)
    return parsed.assign(days_after=days).drop(columns=["week"])


def _per_value_map(values: pd.Series, table: dict) -> np.ndarray:
    """values.map(table) as float64 (NaN where not in it), looked up once per distinct value."""
    encoded = encode(values)
    per_value = np.array([table.get(v, np.nan) for v in encoded.values.to_pylist()], dtype="float64")
    return encoded.spread(per_value, np.nan)


def late_followups(data: pd.DataFrame, patient_codes: np.ndarray, report: Report) -> None:
    """Warn where a follow-up review is dated after the same patient's next injection.

    patient_codes: integer codes of data's patient_id (equal code = same patient).
    """
    if data.empty or data["followup_days"].isna().all():
        return
    day = data["session_date"].to_numpy().astype("datetime64[D]").astype(np.int64)
    order = _by_patient_then_day(np.asarray(patient_codes, dtype=np.int64), day)
    same_patient_next = np.append(patient_codes[order][1:] == patient_codes[order][:-1], False)
    gap = np.append(day[order][1:] - day[order][:-1], 0).astype(float)
    gap[~same_patient_next] = np.nan
    followup = data["followup_days"].to_numpy(dtype=float, na_value=np.nan)[order]
    late = order[followup > gap]
    if not len(late):
        return
    report.warn_rows(data.iloc[np.sort(late)], "followup_days",
                     "the follow-up review is dated after the patient's next injection",
                     Caution.FOLLOWUP_AFTER_NEXT_INJECTION)


def _by_patient_then_day(codes: np.ndarray, day: np.ndarray) -> np.ndarray:
    """np.lexsort((day, codes)): rows by patient, then day, ties in row order; one stable sort of a packed
    integer key when patient and day fit in one (a radix sort, several times faster than lexsort)."""
    if not len(codes) or (day == np.iinfo(np.int64).min).any():  # none, or a missing date: lexsort itself
        return np.lexsort((day, codes))
    patient, days = codes - codes.min(), day - day.min()
    span = int(days.max()) + 1
    if (int(patient.max()) + 1) * span >= 2**62:
        return np.lexsort((day, codes))
    return np.argsort(patient * span + days, kind="stable")


def muscle_units_tolerance(muscles_with_units: pd.Series, total_units: pd.Series) -> pd.Series:
    """How far the muscles' units may be from total_units before a warning: per-muscle doses are written rounded
    (3 muscles x 33 U for 100 U), so 1 U per muscle or 1% of the total, whichever is larger (a hair more, so that
    a difference exactly at the limit is not a warning through floating-point noise)."""
    return np.maximum(muscles_with_units.astype("float64"), total_units.astype("float64") / 100) + 1e-9


def muscle_unit_totals(muscles: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(sum of the per-muscle units, number of muscles) where every muscle in the list gives its units; NA otherwise.

    Worked out once per distinct muscle list (Arrow string kernels), then spread back to the rows.
    """
    encoded = encode(muscles)  # the parser's encoding when the ingestion made one (distinct.py)
    codes, array = encoded.codes, encoded.values
    items = pc.split_pattern(array, ";")
    flat = pc.list_flatten(items)
    parents = pc.list_parent_indices(items).to_numpy()
    units = pc.replace_substring_regex(flat, r"^[^:]*:?", "")
    units = pc.if_else(pc.equal(units, ""), pa.scalar(None, units.type), units)
    amounts = pc.cast(units, pa.float64()).to_numpy(zero_copy_only=False)
    n = len(array)
    missing = np.bincount(parents, weights=np.isnan(amounts), minlength=n)
    totals = np.bincount(parents, weights=np.nan_to_num(amounts), minlength=n)
    has_items = np.bincount(parents, minlength=n) > 0
    complete = has_items & (missing == 0)
    per_unique = np.append(np.where(complete, totals, np.nan), np.nan)
    counts = np.append(np.where(complete, np.bincount(parents, minlength=n), 0), 0)
    totals = pd.arrays.FloatingArray(np.nan_to_num(per_unique[codes]), np.isnan(per_unique[codes]))
    return (pd.Series(totals, index=muscles.index, copy=False),
            pd.Series(counts[codes], index=muscles.index, dtype="int64", copy=False))
