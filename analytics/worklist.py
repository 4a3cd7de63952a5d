"""A practitioner's worklist: one row per patient with who saw them last, when they are next due, whether they are
overdue, whether their response is fading, and their latest response (issue 13, "a practitioner's worklist").

Why: the question a practitioner brings is "which of my patients are fading, and who is due?". The flags
(analytics/flags.py) answer the first, judged on each patient's WHOLE history; this table puts them beside the
dates that answer the second, and writes the flag's evidence as short points to read in a side panel.

Rules (docs/metrics.md "Worklist"):
* last session, practitioner: the patient's latest session up to the as-of date, and its practitioner;
* typical benefit: the median of the patient's own recorded wearing-off durations (responder sessions whose
  benefit was recorded to wear off; a duration still running at the next injection is a lower bound, not a
  duration), when they have at least MIN_OWN_DURATIONS of them; otherwise the clinic's Kaplan-Meier median
  benefit duration (the "Benefit lasts" tile; every responder session, censored ones too);
* next due: last session + the typical benefit rounded up to a whole day, never earlier than the short-interval
  threshold after it (settings.short_interval_days, 12 weeks by default): the worklist never proposes an
  injection the flags would count as a short interval. Without any typical benefit (the clinic's median not
  reached and too few of the patient's own), that threshold alone;
* overdue: the as-of date is after the next-due date; days_overdue = as-of - next due (0 when not overdue);
* status: the patient's flag ("diminished" or "watch"), "fine" when not flagged;
* latest response: the latest session with a response on the flag's measure (unflagged: the latest session with
  a response, pain first when it has both), as its raw scores and their change ("6 -> 2, -67%"; TWSTRS in
  points).
Pure: DataFrames in, a DataFrame out; no per-patient loop.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.headline import duration_sample
from analytics.kaplan_meier import km_median
from analytics.labels import NOT_RECORDED, number_texts, score_change_texts
from analytics.sessions import numeric
from analytics.settings import DEFAULT_SETTINGS, Settings

# Fewer recorded wearing-off durations than this and the patient's own median is too noisy: the clinic's is used.
MIN_OWN_DURATIONS = 3
STATUSES = ("diminished", "watch", "fine")
WORKLIST_COLUMNS = (
    "patient_id", "status", "practitioner_id", "site", "last_session", "sessions", "next_due", "days_overdue",
    "overdue", "typical_benefit_days", "benefit_basis", "own_durations", "latest_measure", "latest_date",
    "latest_before", "latest_after", "latest_change_pct", "latest_change_points", "latest_response", "flag_measure",
    "evidence",
)


_NEEDED = ("patient_id", "session_date", "practitioner_id", "site", "baseline_pain", "followup_pain", "response_pct",
           "baseline_twstrs", "followup_twstrs", "twstrs_change", "duration_days", "duration_event", "responder")


def clinic_typical_benefit(derived: pd.DataFrame) -> float:
    """The clinic's Kaplan-Meier median benefit duration in days over every responder session (NaN when the
    median is not reached): the typical benefit of a patient with too few recorded durations of their own."""
    times, events = duration_sample(derived)
    median = km_median(times, events).median if len(times) else None
    return float(median) if median is not None else float("nan")


def _last_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The last row of each patient in a frame sorted by patient and date, indexed by patient_id."""
    return frame.drop_duplicates("patient_id", keep="last").set_index("patient_id")


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    return frame[name] if name in frame.columns else pd.Series(pd.NA, index=frame.index, dtype="object")


def _latest_response(ordered: pd.DataFrame, patients: pd.Index, flag_measure: pd.Series) -> pd.DataFrame:
    """Per patient: the measure, date, scores before and after and the change of the latest response (pain or
    TWSTRS as described in the module's docstring)."""
    pain = ordered.loc[~np.isnan(numeric(ordered, "response_pct"))]
    twstrs = ordered.loc[~np.isnan(numeric(ordered, "twstrs_change"))]
    last_pain, last_twstrs = _last_rows(pain).reindex(patients), _last_rows(twstrs).reindex(patients)
    pain_day = pd.to_datetime(last_pain["session_date"])
    twstrs_day = pd.to_datetime(last_twstrs["session_date"])
    later_twstrs = twstrs_day.notna() & (pain_day.isna() | (twstrs_day > pain_day))
    use_twstrs = flag_measure.reindex(patients).eq("twstrs").fillna(False) | (
        flag_measure.reindex(patients).isna() & later_twstrs)
    use_twstrs &= twstrs_day.notna()
    pain_before = pd.Series(numeric(last_pain, "baseline_pain"), index=patients)
    pain_after = pd.Series(numeric(last_pain, "followup_pain"), index=patients)
    pain_change = -pd.Series(numeric(last_pain, "response_pct"), index=patients) + 0.0  # + 0.0: no "-0"
    tw_before = pd.Series(numeric(last_twstrs, "baseline_twstrs"), index=patients)
    tw_after = pd.Series(numeric(last_twstrs, "followup_twstrs"), index=patients)
    has_pain = pain_day.notna()
    measure = pd.Series(np.where(use_twstrs, "twstrs", np.where(has_pain, "pain", None)), index=patients,
                        dtype="object")
    before = pain_before.where(~use_twstrs, tw_before)
    after = pain_after.where(~use_twstrs, tw_after)
    pain_text = score_change_texts(pain_before, pain_after, pain_change, "%")
    twstrs_text = "TWSTRS " + score_change_texts(tw_before, tw_after, unit=" points")
    text = pd.Series(np.where(use_twstrs, twstrs_text, np.where(has_pain, pain_text, NOT_RECORDED)), index=patients)
    return pd.DataFrame({
        "latest_measure": measure,
        "latest_date": pain_day.where(~use_twstrs, twstrs_day),
        "latest_before": before,
        "latest_after": after,
        "latest_change_pct": pain_change.where(~use_twstrs & has_pain),
        "latest_change_points": (after - before).where(measure.notna()),
        "latest_response": text,
    }, index=patients)


def _plural(count: pd.Series, word: str, words: str) -> pd.Series:
    n = count.astype("float64").fillna(0).astype("int64")
    return n.astype("str") + np.where(n == 1, f" {word}", f" {words}")


def evidence_points(flags: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS) -> pd.Series:
    """The flag's evidence as short points, one per line (joined with '\\n'), per row of a flag_patients table:
    what is low, against which reference, by how much, then each factor to check that is present (and only
    those: no '0 boosters'). Index: the flags' patient_id."""
    f = flags.reset_index(drop=True)
    if len(f) == 0:
        return pd.Series(dtype="object")
    pain = (f["measure"] == "pain").to_numpy()
    unit = pd.Series(np.where(pain, "%", " points"))
    diminished = (f["flag"] == "diminished").to_numpy()
    what = np.where(pain, "pain responses", "TWSTRS drops")
    head = pd.Series(np.where(
        diminished, "Last " + str(settings.waning_last_n) + " " + pd.Series(what) + ": ",
        "Latest " + pd.Series(np.where(pain, "pain response", "TWSTRS drop")) + ": ")) + f["last_responses"]
    fraction = number_texts(pd.Series([settings.waning_fraction_pct])).iloc[0]
    best_cycle = f["best_cycle"].astype("str")
    has_second = f["second_best_response"].notna().to_numpy()
    second_cycle = f["second_best_cycle"].astype("Float64").astype("Int64").astype("str")
    source = pd.Series(np.where(has_second, "mean of the two best earlier, cycles " + best_cycle + " and "
                                + second_cycle, "the one earlier response, cycle " + best_cycle))
    reference = (f"Below {fraction}% of the reference " + number_texts(f["reference_response"]) + unit
                 + " (" + source + ")")
    shortfall = number_texts(f["shortfall_points"])
    noise = pd.Series(np.where(pain, "Pain at least " + shortfall + " points worse than the reference would leave it",
                               "At least " + shortfall + " TWSTRS points under the reference"))
    short = f["short_intervals"].astype("float64").fillna(0)
    boost = f["boosters"].astype("float64").fillna(0)
    boosters = boost.astype("int64").astype("str")
    booster_text = pd.Series(np.where(boost > 0, ", " + pd.Series(np.where(boost == 1, "1 of them a booster",
                                                                            boosters + " of them boosters"))
                                      + f" (under {settings.booster_days} days)", ""))
    compared = f["dose_compared_cycle"].astype("Float64").astype("Int64").astype("str")
    switched_before = f["product_switch"].astype(bool).to_numpy() & (
        f["dose_compared_cycle"].astype("float64").to_numpy() < f["latest_cycle"].astype("float64").to_numpy())
    factors = [
        (short > 0, _plural(short, "short interval", "short intervals") + f" (under {settings.short_interval_days} "
         "days)" + booster_text),
        (f["dose_raised"].astype(bool), "Dose raised " + number_texts(f["dose_change_pct"]) + "% from cycle "
         + best_cycle + " to cycle " + compared + pd.Series(np.where(switched_before, " (before the switch)", ""))
         + ", same product"),
        (f["product_switch"].astype(bool), "Product switched since cycle " + best_cycle),
        (f["muscle_change"].astype(bool), "Only " + number_texts(100 * f["muscles_kept_fraction"].astype("float64"))
         + "% of cycle " + best_cycle + "'s muscles still injected"),
        (f["duration_shortened"].astype(bool), "Benefit lasted " + number_texts(f["duration_latest_days"])
         + " days, earlier median " + number_texts(f["duration_earlier_median_days"]) + " days"),
        (f["treatment_break"].astype(bool), "Treatment break of " + number_texts(f["longest_interval_days"])
         + " days since cycle " + best_cycle),
    ]
    lines = head + "\n" + reference + "\n" + noise
    any_factor = np.zeros(len(f), bool)
    for present, text in factors:
        present = np.asarray(present, dtype=bool)
        any_factor |= present
        lines = lines + pd.Series(np.where(present, "\n" + text, ""))
    lines = lines + pd.Series(np.where(any_factor, "", "\nNo listed factor found in the record"))
    return pd.Series(lines.to_numpy(), index=f["patient_id"].astype("str").to_numpy(), dtype="object")


def build_worklist(derived: pd.DataFrame, flags: pd.DataFrame, as_of, settings: Settings = DEFAULT_SETTINGS,
                   clinic_benefit_days: float | None = None) -> pd.DataFrame:
    """One row per patient of `derived` (every session up to the as-of date, the whole history): WORKLIST_COLUMNS.

    flags: flag_patients(derived, settings) (the same whole history). clinic_benefit_days: the clinic's typical
    benefit (default: clinic_typical_benefit(derived)). Sorted for the practitioner: diminished, watch, then fine;
    within a flag clearest first (the flags' order), then the most overdue, then patient_id.
    """
    if len(derived) == 0:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in WORKLIST_COLUMNS})
    if clinic_benefit_days is None:
        clinic_benefit_days = clinic_typical_benefit(derived)
    needed = [c for c in _NEEDED if c in derived.columns]  # a slim copy: the whole table may be millions of rows
    ordered = derived[needed].assign(patient_id=derived["patient_id"].astype("str"),
                                     session_date=pd.to_datetime(derived["session_date"]).dt.normalize())
    ordered = ordered.sort_values(["patient_id", "session_date"], kind="stable")
    last = _last_rows(ordered)
    patients = last.index
    sessions = ordered.groupby("patient_id", sort=False).size().reindex(patients)

    # Typical benefit: the patient's own recorded wearing-off durations, else the clinic's median.
    duration = numeric(ordered, "duration_days")
    recorded = (~np.isnan(duration) & ordered["duration_event"].astype("boolean").fillna(False).to_numpy(dtype=bool)
                & ordered["responder"].astype("boolean").fillna(False).to_numpy(dtype=bool))
    own = pd.Series(duration[recorded]).groupby(ordered["patient_id"].to_numpy()[recorded])
    own_median = own.median().reindex(patients)
    own_count = own.size().reindex(patients).fillna(0).astype("int64")
    use_own = own_count >= MIN_OWN_DURATIONS
    typical = own_median.where(use_own, clinic_benefit_days).astype("float64")
    basis = pd.Series(np.where(use_own, "own (" + own_count.astype("str") + " recorded)",
                               np.where(np.isnan(clinic_benefit_days), "12-week minimum", "clinic")),
                      index=patients)
    floor = float(settings.short_interval_days)
    wait = np.fmax(np.ceil(typical.to_numpy(dtype="float64")), floor)
    last_session = last["session_date"]
    next_due = last_session + pd.to_timedelta(wait, unit="D")
    as_of_day = pd.Timestamp(as_of).normalize()
    days = (as_of_day - next_due).dt.days
    overdue = days > 0

    flagged = flags.assign(patient_id=flags["patient_id"].astype("str")).drop_duplicates("patient_id")
    flagged = flagged.set_index("patient_id")
    status = flagged["flag"].reindex(patients).fillna("fine").astype("str")
    flag_measure = flagged["measure"].reindex(patients)
    flag_rank = pd.Series(np.arange(len(flagged), dtype="float64"), index=flagged.index).reindex(patients)
    evidence = evidence_points(flags, settings).reindex(patients).fillna("")
    latest = _latest_response(ordered, patients, flag_measure)

    out = pd.DataFrame({
        "patient_id": patients.to_numpy(),
        "status": status.to_numpy(),
        "practitioner_id": _column(last, "practitioner_id").to_numpy(),
        "site": _column(last, "site").to_numpy(),
        "last_session": last_session.to_numpy(),
        "sessions": sessions.to_numpy(dtype="int64"),
        "next_due": next_due.to_numpy(),
        "days_overdue": np.where(overdue, days, 0).astype("int64"),
        "overdue": overdue.to_numpy(dtype=bool),
        "typical_benefit_days": typical.to_numpy(),
        "benefit_basis": basis.to_numpy(),
        "own_durations": own_count.to_numpy(),
        **{c: latest[c].to_numpy() for c in latest.columns},
        "flag_measure": flag_measure.to_numpy(dtype="object"),
        "evidence": evidence.to_numpy(dtype="object"),
    })
    for column in ("last_session", "next_due", "latest_date"):
        out[column] = pd.to_datetime(out[column]).astype("datetime64[s]")
    rank = out["status"].map({s: i for i, s in enumerate(STATUSES)}).to_numpy()
    order = np.lexsort((out["patient_id"].to_numpy(dtype=str), -out["days_overdue"].to_numpy(),
                        np.nan_to_num(flag_rank.to_numpy(dtype="float64"), nan=np.inf), rank))
    return out.iloc[order].reset_index(drop=True)[list(WORKLIST_COLUMNS)]


def seen_patients(worklist: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """The worklist's rows whose patient has a session in `sessions` (the current period and filters): the rows
    a filtered view lists. Each row still describes the patient's whole history."""
    seen = pd.unique(sessions["patient_id"].astype("str"))
    return worklist.loc[worklist["patient_id"].astype("str").isin(seen)].reset_index(drop=True)


def outside_filters(flags: pd.DataFrame, sessions: pd.DataFrame) -> pd.Series:
    """Per flagged patient, what of the flag's reason the current filters hide ('' when nothing): the flag is
    judged on the whole history, so a filtered view must say when the sessions behind it are not in view.
    Checks the best earlier session and the latest low one (patient + date, the session key); index patient_id."""
    if len(flags) == 0:
        return pd.Series(dtype="object")
    f = flags.reset_index(drop=True)
    ids = f["patient_id"].astype("str")
    # only the flagged patients' sessions can answer: one patient's flag no longer writes a key for every
    # session in view (4 s for the Patients page's chosen patient among 460,000 sessions)
    sessions = sessions.loc[sessions["patient_id"].astype("str").isin(ids.unique()).to_numpy()]
    key = sessions["patient_id"].astype("str") + "|" + pd.to_datetime(sessions["session_date"]).dt.strftime(
        "%Y-%m-%d")
    shown = pd.Index(key.unique())
    seen = pd.Index(sessions["patient_id"].astype("str").unique())
    best_in = (ids + "|" + f["best_date"].astype("str")).isin(shown).to_numpy()
    latest_in = (ids + "|" + f["latest_date"].astype("str")).isin(shown).to_numpy()
    any_in = ids.isin(seen).to_numpy()
    best = "the best earlier response (cycle " + f["best_cycle"].astype("str") + ", " + f["best_date"].astype(
        "str") + ")"
    latest = "the latest low response (cycle " + f["latest_cycle"].astype("str") + ", " + f[
        "latest_date"].astype("str") + ")"
    both = pd.Series(np.where(~best_in & ~latest_in, best + " and " + latest,
                              np.where(~best_in, best, latest)))
    text = np.where(~any_in, "None of this patient's sessions is under the current filters; the flag is judged on "
                             "their whole history.",
                    np.where(best_in & latest_in, "",
                             "The current filters hide " + both + "; the flag is judged on the whole history."))
    return pd.Series(text, index=ids.to_numpy(), dtype="object")


def find_patient(typed: str, patient_ids) -> list[str]:
    """The patient codes a typed code means: trimmed, case-insensitive ('  p00091 ' finds 'P00091'). An exact
    match wins; otherwise every code equal to it ignoring case (more than one: the caller must ask, never pick)."""
    text = str(typed).strip()
    if not text:
        return []
    ids = pd.Index(pd.unique(pd.Series(patient_ids, dtype="object").dropna().astype("str")))
    if text in ids:
        return [text]
    return sorted(ids[ids.str.casefold() == text.casefold()].tolist())


def worklist_in_words(worklist: pd.DataFrame, for_csv: bool = False) -> pd.DataFrame:
    """The worklist as the page shows it (for_csv: as its download): headers in words, status and measure in
    words, the evidence points on one line each ('; ' in the CSV). Dates stay dates on screen (sortable). What a
    practitioner acts on comes first (a phone shows the first few columns)."""
    w = worklist.reset_index(drop=True)
    evidence = w["evidence"].fillna("").astype("str")
    out = pd.DataFrame({
        "Patient": w["patient_id"].astype("str"),
        "Status": w["status"].astype("str").str.capitalize(),
        "Next due": w["next_due"],
        "Overdue (days)": w["days_overdue"].astype("int64"),
        "Latest response": w["latest_response"].astype("str"),
        "Last session": w["last_session"],
        "Practitioner": w["practitioner_id"].astype("object").where(w["practitioner_id"].notna(), NOT_RECORDED),
        "Sessions": w["sessions"].astype("int64"),
        "Typical benefit (days)": w["typical_benefit_days"].astype("float64").round(1),
        "Benefit based on": w["benefit_basis"].astype("str"),
    })
    if for_csv:
        for column in ("Last session", "Next due"):
            out[column] = pd.to_datetime(out[column]).dt.strftime("%Y-%m-%d")
        out["Site"] = w["site"].astype("object").where(w["site"].notna(), NOT_RECORDED)
        latest = pd.to_datetime(w["latest_date"])
        out["Latest response date"] = latest.dt.strftime("%Y-%m-%d").where(latest.notna(), NOT_RECORDED)
        out["Evidence"] = evidence.str.replace("\n", "; ", regex=False)
    return out
