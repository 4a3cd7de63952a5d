"""The figures of one patient's own summary page (issue 16): what to expect from the next injection, from their
own history.

Why: the leaflet patients are given quotes population figures (onset within 3 days, peak within 2 weeks, benefit
for 4-6 months). This module turns a patient's own derived sessions (`derive_sessions`, whole history up to the
as-of date) into the figures a practitioner can hand to them. Pure functions, no Streamlit or plotly; the page is
written by reports/patient_summary.py.

Rules (docs/metrics.md where they exist):
* onset and peak: the ordinary median of the patient's recorded onset_days / peak_days, with how many sessions
  each rests on; benefit: the Kaplan-Meier median of their responder sessions' benefit durations, censored as
  everywhere (analytics/kaplan_meier.py). A figure resting on fewer than OWN_MINIMUM (3) of their sessions is
  replaced by the clinic's figure for patients like them: every session (theirs included) with the same
  indication and product as their last injection, shown only when it rests on at least min_group_patients
  patients (small-number suppression), and said as such ("clinic");
* trend: the diminished flag's rule (analytics/flags.py) on their own sessions: "diminished" -> their last N
  injections helped less, "watch" -> their last one did, no flag -> about the same, fewer than 2 sessions with a
  response -> too early to say. The page never uses the flag's names;
* next window: starts two weeks before the median benefit runs out, never before MIN_GAP_DAYS (12 weeks) after
  the last injection (nor before short_interval_days when that is set longer), and lasts WINDOW_DAYS (4 weeks);
  with no median (not reached, or too few figures anywhere) it is 12 to 26 weeks, the leaflet's "every 3 to 6
  months";
* lines to discuss: chosen from the data in a fixed order (dose change, product change, muscle change at the
  last injection; benefit shorter than before; responses lower; injections under 12 weeks apart; side effects),
  the first MAX_LINES, topped up to MIN_LINES with general questions.
"""
from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from analytics.flags import flag_levels
from analytics.kaplan_meier import km_median
from analytics.sessions import numeric
from analytics.settings import DEFAULT_SETTINGS, Settings

OWN_MINIMUM = 3  # fewer own sessions with a figure: the clinic's figure for patients like them
MIN_GAP_DAYS = 84  # never re-inject sooner than 12 weeks (neutralising antibodies)
LEAD_DAYS = 14  # the window opens two weeks before the benefit usually wears off
WINDOW_DAYS = 28  # and lasts four weeks
NO_MEDIAN_END_DAYS = 182  # without a median: 12 to 26 weeks (every 3 to 6 months)
MIN_LINES, MAX_LINES = 2, 3

#: The outcome of the audit row of a summary: a `view_patient` row whose object is the bare code (so that "who
#: looked at this patient" finds it), told from opening the record by this outcome.
AUDIT_OUTCOME = "ok: summary for the patient"

JSON_KEYS = ("patient", "sessions", "median_onset_days", "median_peak_days", "median_benefit_days",
             "benefit_basis", "trend", "next_window_start", "next_window_end", "adverse_events")

#: trend code -> the sentence on the page ({n}: the flag's number of last injections)
TREND_SENTENCES = {
    "helped_less": "Your last {n} injections helped less than your earlier ones.",
    "last_helped_less": "Your last injection helped less than your earlier ones.",
    "about_the_same": "Your last injection helped about as much as your earlier ones, or more.",
    "too_early": "It is too early to compare your injections. We need scores from at least two of them.",
}

#: adverse-event vocabulary -> plain words (anything else: "another side effect"; raw text is never printed)
EVENT_WORDS = {
    "injection_site_pain": "pain where the needle went in",
    "neck_weakness": "a weak neck",
    "dysphagia": "trouble swallowing",
    "flu_like": "feeling like you had flu",
    "headache": "a headache",
    "dry_mouth": "a dry mouth",
}
OTHER_EVENT = "another side effect"

GENERAL_LINES = (
    "Ask what result you can expect from your next injection.",
    "Ask what to do if the pain comes back before your next visit.",
)
DIARY_ADVICE = ("Keep a short diary after each injection. Write down the day it starts to work, the day it works "
                "best, and the day it wears off. Bring it to your next visit.")
WHY_NOT_SOONER = ("Injections are not given more often than every 3 months. If they are given too close "
                  "together, your body can learn to fight the medicine, and then it may stop working.")


def _iso(day) -> str | None:
    return None if day is None or pd.isna(day) else pd.Timestamp(day).date().isoformat()


def _median(values: pd.Series) -> float | None:
    values = values.dropna()
    return None if len(values) == 0 else float(values.median())


def _label(frame: pd.DataFrame, column: str) -> pd.Series:
    """A grouping column as stripped text, NA where missing or blank."""
    if column not in frame.columns:
        return pd.Series(pd.NA, index=frame.index, dtype="object")
    text = frame[column].astype("string").str.strip()
    return text.where(text != "")


def patient_rows(derived: pd.DataFrame, patient: str) -> pd.DataFrame:
    """One patient's derived sessions, in date order (derive_sessions' order)."""
    return derived.loc[derived["patient_id"].astype("str") == str(patient)].reset_index(drop=True)


def like_group(derived: pd.DataFrame, own: pd.DataFrame) -> pd.DataFrame:
    """The clinic's sessions with the same indication and product as the patient's last injection (theirs
    included); empty when either is not recorded there."""
    indication, product = _label(own, "indication").iloc[-1], _label(own, "product").iloc[-1]
    if pd.isna(indication) or pd.isna(product):
        return derived.iloc[0:0]
    return derived.loc[(_label(derived, "indication") == indication) & (_label(derived, "product") == product)]


def _figure(own: pd.DataFrame, like: pd.DataFrame, column: str, k: int) -> dict:
    """Median of a recorded column: own when at least OWN_MINIMUM sessions have it, else the like group's (None
    when that rests on fewer than k patients)."""
    values = numeric(own, column)
    n_own = int((~np.isnan(values)).sum())
    if n_own >= OWN_MINIMUM:
        return {"median": float(np.median(values[~np.isnan(values)])), "basis": "own", "n": n_own, "patients": 1}
    theirs = pd.Series(numeric(like, column), index=like.index)
    has = theirs.notna()
    patients = int(like.loc[has, "patient_id"].nunique()) if len(like) else 0
    median = _median(theirs) if patients >= k else None
    return {"median": median, "basis": "clinic", "n": int(has.sum()) if median is not None else 0,
            "patients": patients if median is not None else 0, "own_n": n_own}


def _benefit(own: pd.DataFrame, like: pd.DataFrame, k: int) -> dict:
    """KM median benefit duration: own responder sessions when at least OWN_MINIMUM have a duration (event or
    censored), else the like group's (None when fewer than k patients)."""
    has = own["duration_days"].notna()
    n_own = int(has.sum())
    if n_own >= OWN_MINIMUM:
        km = km_median(own.loc[has, "duration_days"], own.loc[has, "duration_event"])
        return {"median": km.median, "basis": "own", "n": km.n, "events": km.events, "patients": 1}
    rows = like.loc[like["duration_days"].notna()]
    patients = int(rows["patient_id"].nunique())
    if patients < k:
        return {"median": None, "basis": "clinic", "n": 0, "events": 0, "patients": 0, "own_n": n_own}
    km = km_median(rows["duration_days"], rows["duration_event"])
    return {"median": km.median, "basis": "clinic", "n": km.n, "events": km.events, "patients": patients,
            "own_n": n_own}


def _measure(own: pd.DataFrame, flagged_measure: str | None) -> str:
    """The measure the chart and trend read: the flag's, else pain where any pain response, else TWSTRS."""
    if flagged_measure:
        return flagged_measure
    pain = numeric(own, "response_pct")
    if (~np.isnan(pain)).any():
        return "pain"
    return "twstrs" if (~np.isnan(numeric(own, "twstrs_change"))).any() else "pain"


def _trend(own: pd.DataFrame, settings: Settings) -> tuple[str, str | None]:
    """(trend code, the flag's measure or None), by the diminished flag's rule on the patient's own sessions."""
    levels = flag_levels(own, settings)
    if len(levels):
        flag, measure = levels["flag"].iloc[0], levels["measure"].iloc[0]
        return ("helped_less" if flag == "diminished" else "last_helped_less"), measure
    if int(own["has_response"].astype(bool).sum()) < 2:
        return "too_early", None
    return "about_the_same", None


def response_points(own: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Per injection: injection number (cycle), date, and the response on the measure (pain: % drop; TWSTRS:
    points dropped), NaN where not scored: the chart's data."""
    value = numeric(own, "response_pct") if measure == "pain" else -numeric(own, "twstrs_change")
    return pd.DataFrame({
        "injection": numeric(own, "cycle").astype("int64"),
        "date": pd.to_datetime(own["session_date"]).dt.date.to_numpy(),
        "response": value,
    })


def next_window(last_day: date, median_days: float | None, settings: Settings = DEFAULT_SETTINGS) -> tuple[date, date]:
    """(start, end) of the next appointment window; see the module docstring."""
    gap = max(MIN_GAP_DAYS, int(settings.short_interval_days))
    if median_days is None:
        return last_day + timedelta(days=gap), last_day + timedelta(days=max(NO_MEDIAN_END_DAYS, gap + WINDOW_DAYS))
    start = max(gap, int(np.ceil(median_days)) - LEAD_DAYS)
    return last_day + timedelta(days=start), last_day + timedelta(days=start + WINDOW_DAYS)


def adverse_events(own: pd.DataFrame) -> list[dict]:
    """The side effects recorded, in words: [{"event", "words", "times", "last_date"}], the most frequent first.
    'none' and blanks are not events; a value outside the vocabulary is "another side effect" (never its text)."""
    if "adverse_events" not in own.columns:
        return []
    items = (own["adverse_events"].astype("string").str.lower()
             .str.split(r"[;|,]", regex=True).explode().str.strip())
    items = items.loc[items.notna() & (items != "") & (items != "none")]
    if not len(items):
        return []
    code = items.where(items.isin(list(EVENT_WORDS)), "other")
    days = pd.to_datetime(own["session_date"]).reindex(code.index)
    table = (pd.DataFrame({"event": code.to_numpy(), "day": days.to_numpy(), "row": code.index})
             .groupby("event", sort=False).agg(times=("row", "nunique"), last=("day", "max")).reset_index())
    table["order"] = [list(EVENT_WORDS).index(e) if e in EVENT_WORDS else len(EVENT_WORDS) for e in table["event"]]
    table = table.sort_values(["times", "order"], ascending=[False, True])
    return [{"event": e, "words": EVENT_WORDS.get(e, OTHER_EVENT), "times": int(t), "last_date": _iso(d)}
            for e, t, d in zip(table["event"], table["times"], table["last"])]


def _muscles(text) -> set[str]:
    if text is None or pd.isna(text):
        return set()
    names = (part.split(":", 1)[0].strip().lower() for part in str(text).replace("|", ";").split(";"))
    return {n for n in names if n}


def _weeks(days: float) -> int:
    return int(round(days / 7.0))


def discussion_lines(own: pd.DataFrame, trend: str, settings: Settings = DEFAULT_SETTINGS) -> list[dict]:
    """Two or three lines to discuss, chosen from the data: [{"reason", "text"}] (see the module docstring)."""
    lines: list[tuple[str, str]] = []
    if len(own) >= 2:
        last, prev = own.iloc[-1], own.iloc[-2]
        product_last, product_prev = _label(own, "product").iloc[-1], _label(own, "product").iloc[-2]
        same_product = not pd.isna(product_last) and product_last == product_prev
        units = numeric(own, "total_units")
        u_last, u_prev = units[-1], units[-2]
        if same_product and u_prev > 0 and not np.isnan(u_last):
            change = 100.0 * (u_last - u_prev) / u_prev
            if abs(change) >= settings.dose_raise_pct:
                way = "up" if change > 0 else "down"
                lines.append(("dose_change", f"Your dose went {way} at your last injection, from {u_prev:g} to "
                                             f"{u_last:g} units. Ask if this dose is right for you."))
        if not pd.isna(product_last) and not pd.isna(product_prev) and product_last != product_prev:
            lines.append(("product_change", "Your last injection used a different product from the one before. "
                                            "Ask how the two compare for you."))
        before, now = _muscles(prev.get("muscles")), _muscles(last.get("muscles"))
        if before and now and len(before & now) / len(before) < settings.muscle_keep_fraction:
            lines.append(("muscle_change", "Your last injection went into some different muscles. Ask which "
                                           "muscles help you most."))
    events = own.loc[own["duration_event"].astype(bool) & own["duration_days"].notna(), "duration_days"]
    if len(events) >= 2:
        latest, earlier = float(events.iloc[-1]), float(events.iloc[:-1].median())
        if (earlier - latest) * 100.0 >= settings.duration_shortened_pct * earlier:
            lines.append(("shorter_benefit", f"Your latest benefit wore off sooner than before: after about "
                                             f"{_weeks(latest)} weeks, not {_weeks(earlier)}. Tell the team."))
    if trend in ("helped_less", "last_helped_less"):
        which = "injections" if trend == "helped_less" else "injection"
        lines.append(("helped_less", f"Your last {which} helped less than before. Ask what could be changed."))
    if own["short_interval"].astype(bool).any():
        lines.append(("short_interval", "Some of your injections were less than 12 weeks apart. Ask about "
                                        "keeping them further apart."))
    if own["any_adverse_event"].fillna(False).astype(bool).any():
        lines.append(("side_effects", "Tell the team about the side effects you had, and if they came back."))
    chosen = lines[:MAX_LINES]
    for i, text in enumerate(GENERAL_LINES):
        if len(chosen) >= MIN_LINES:
            break
        chosen.append((f"general_{i + 1}", text))
    return [{"reason": reason, "text": text} for reason, text in chosen]


def patient_summary(derived: pd.DataFrame, patient: str, settings: Settings = DEFAULT_SETTINGS) -> dict:
    """Every figure of one patient's summary page from the clinic's derived sessions (each patient's whole
    history; the clinic's are used only for the "patients like you" figures). ValueError when the patient has no
    session up to the as-of date."""
    own = patient_rows(derived, patient)
    if len(own) == 0:
        raise ValueError(f"no sessions for patient code {str(patient)[:64]!r} up to the as-of date (codes are "
                         "case-sensitive)")
    like = like_group(derived, own)
    k = int(settings.min_group_patients)
    onset, peak = _figure(own, like, "onset_days", k), _figure(own, like, "peak_days", k)
    benefit = _benefit(own, like, k)
    trend, flagged_measure = _trend(own, settings)
    measure = _measure(own, flagged_measure)
    last_day = pd.Timestamp(own["session_date"].iloc[-1]).date()
    start, end = next_window(last_day, benefit["median"], settings)
    as_of = pd.Timestamp(settings.as_of or pd.to_datetime(derived["session_date"]).max()).date()
    return {
        "patient": str(patient),
        "sessions": int(len(own)),
        "first_date": _iso(own["session_date"].iloc[0]),
        "last_date": last_day.isoformat(),
        "onset": onset,
        "peak": peak,
        "benefit": benefit,
        "trend": trend,
        "trend_sentence": TREND_SENTENCES[trend].format(n=settings.waning_last_n),
        "measure": measure,
        "points": response_points(own, measure),
        "next_window_start": start.isoformat(),
        "next_window_end": end.isoformat(),
        "window_from_median": benefit["median"] is not None,
        "as_of": as_of.isoformat(),
        "window_passed": end < as_of,  # produced long after the last injection: the dates are history
        "last_unscored": len(own) > 1 and not bool(own["has_response"].astype(bool).iloc[-1]),
        "adverse_events": adverse_events(own),
        "discuss": discussion_lines(own, trend, settings),
        "diary": DIARY_ADVICE,
        "why_not_sooner": WHY_NOT_SOONER,
    }


def summary_json(summary: dict) -> dict:
    """The `--json` figures: exactly JSON_KEYS, the figures the page shows."""
    return {
        "patient": summary["patient"],
        "sessions": summary["sessions"],
        "median_onset_days": summary["onset"]["median"],
        "median_peak_days": summary["peak"]["median"],
        "median_benefit_days": summary["benefit"]["median"],
        "benefit_basis": summary["benefit"]["basis"],
        "trend": summary["trend"],
        "next_window_start": summary["next_window_start"],
        "next_window_end": summary["next_window_end"],
        "adverse_events": [{k: e[k] for k in ("event", "words", "times", "last_date")}
                           for e in summary["adverse_events"]],
    }
