"""The patient's own summary page (issue 16): hand-worked patients, the page's words, privacy, reading level and
the command line.

The clinic below is built in code. Every hand-worked patient is in a group (indication + product) of their own,
except the first-timer, whose group has five other patients: the "patients like you" figures. The as-of date is
the latest session, 2025-06-30 (patient Z1's).
"""
from __future__ import annotations

import html.parser
import json
from pathlib import Path

import pandas as pd
import pytest

from analytics import audit
from analytics.cli import main
from analytics.patient_summary import JSON_KEYS, patient_summary, summary_json
from analytics.sessions import derive_sessions
from analytics.settings import Settings
from reports.patient_summary import days_words, patient_summary_html

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample" / "sessions.csv"
TWO_MUSCLES = "trapezius:100;splenius_capitis:100"


def session(patient, day, indication, product, units=200, muscles=TWO_MUSCLES, base=7, follow=2, onset=None,
            peak=None, wearing_off=None, events="none", practitioner="PRQ17", site="Harbourside"):
    return {"patient_id": patient, "session_date": day, "site": site, "practitioner_id": practitioner,
            "indication": indication, "product": product, "total_units": units, "muscles": muscles,
            "baseline_pain": base, "followup_pain": follow, "onset_days": onset, "peak_days": peak,
            "wearing_off_days": wearing_off, "adverse_events": events}


def clinic_rows() -> list[dict]:
    rows = []
    # the first-timer's group: tension headache, incobotulinumtoxinA, five others with one session each
    for i, (onset, peak, off) in enumerate([(2, 10, 80), (3, 12, 90), (4, 14, 100), (5, 16, 110), (6, 18, 120)]):
        rows.append(session(f"L{i + 1}", "2024-09-01", "tension_headache", "incobotulinumtoxinA", onset=onset,
                            peak=peak, wearing_off=off, practitioner="PRZ90", site="Elmfield"))
    rows.append(session("F1", "2025-06-01", "tension_headache", "incobotulinumtoxinA", onset=1, peak=7))
    # steady responder: 71% every time, about four months apart
    for day, onset, peak, off in [("2024-04-01", 2, 14, 100), ("2024-08-01", 3, 14, 110),
                                  ("2024-12-01", 3, 21, 105), ("2025-04-01", 4, 14, None)]:
        rows.append(session("S1", day, "cervical_dystonia", "onabotulinumtoxinA", onset=onset, peak=peak,
                            wearing_off=off))
    # fading responder: 75, 75, 62.5, then 12.5 and 12.5 (% pain drop)
    for day, follow, onset, off in [("2024-01-10", 2, 2, 100), ("2024-04-20", 2, 2, 95), ("2024-08-01", 3, 3, 90),
                                    ("2024-11-15", 7, 3, None), ("2025-03-01", 7, 4, None)]:
        rows.append(session("D1", day, "neck_pain", "onabotulinumtoxinA", base=8, follow=follow, onset=onset,
                            peak=14, wearing_off=off))
    # short intervals: 61, 70 and 70 days; re-injected before anything wore off
    for day in ("2024-10-01", "2024-12-01", "2025-02-09", "2025-04-20"):
        rows.append(session("Q1", day, "arm_pain", "onabotulinumtoxinA", base=6, onset=3, peak=14))
    # product switch at the last injection
    for day, product, units, onset, peak, off in [("2024-06-01", "onabotulinumtoxinA", 200, 2, 14, 110),
                                                  ("2024-10-01", "onabotulinumtoxinA", 200, 2, 14, 115),
                                                  ("2025-02-01", "abobotulinumtoxinA", 500, 3, 20, 100)]:
        rows.append(session("W1", day, "neck_pain", product, units=units, onset=onset, peak=peak, wearing_off=off))
    # side effects, with a dose raised 50% and other muscles at the last injection
    for day, units, muscles, onset, off, events in [
            ("2024-07-01", 200, TWO_MUSCLES, 2, 100, "none"),
            ("2024-11-01", 200, TWO_MUSCLES, 3, 100, "dysphagia;neck_weakness"),
            ("2025-03-03", 300, "levator_scapulae:150;scalenes:150", 4, None, "dysphagia")]:
        rows.append(session("E1", day, "upper_back_pain", "onabotulinumtoxinA", units=units, muscles=muscles,
                            onset=onset, peak=14, wearing_off=off, events=events))
    rows.append(session("Z1", "2025-06-30", "other", "rimabotulinumtoxinB", units=5000, practitioner="PRM55",
                        site="Quayhaven"))
    return rows


def clinic() -> pd.DataFrame:
    frame = pd.DataFrame(clinic_rows())
    frame["session_date"] = pd.to_datetime(frame["session_date"])
    return frame


@pytest.fixture(scope="module")
def derived() -> pd.DataFrame:
    return derive_sessions(clinic())


def lines(summary) -> list[str]:
    return [line["reason"] for line in summary["discuss"]]


class Text(html.parser.HTMLParser):
    """The words of a page as a reader reads them: no style, no chart (its labels are numbers and months)."""

    def __init__(self):
        super().__init__()
        self.skip, self.parts = 0, []

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("style", "svg", "title")

    def handle_endtag(self, tag):
        self.skip -= tag in ("style", "svg", "title")

    def handle_data(self, data):
        if not self.skip and data.strip():
            self.parts.append(data.strip())


def page_text(page: str) -> str:
    parser = Text()
    parser.feed(page)
    return "\n".join(parser.parts)


# ---- hand-worked patients -----------------------------------------------------------------------------------
def test_first_timer_gets_the_clinic_figures_of_patients_like_them(derived):
    s = patient_summary(derived, "F1")
    # own: 1 session with onset 1 and peak 7 (< 3): the group's six patients, F1 included
    assert s["onset"] == {"median": 3.5, "basis": "clinic", "n": 6, "patients": 6, "own_n": 1}
    assert s["peak"]["median"] == 13.0 and s["peak"]["basis"] == "clinic"
    # KM over the group: F1 censored at 29 days (as-of 2025-06-30), then 80, 90, 100 ... -> S 0.8, 0.6, 0.4: 100
    assert s["benefit"]["median"] == 100.0 and s["benefit"]["basis"] == "clinic" and s["benefit"]["n"] == 6
    assert s["trend"] == "too_early"
    # 2025-06-01 + max(84, 100 - 14) = + 86 days; + 28 more
    assert (s["next_window_start"], s["next_window_end"]) == ("2025-08-26", "2025-09-23")
    assert lines(s) == ["general_1", "general_2"]
    assert summary_json(s) == {
        "patient": "F1", "sessions": 1, "median_onset_days": 3.5, "median_peak_days": 13.0,
        "median_benefit_days": 100.0, "benefit_basis": "clinic", "trend": "too_early",
        "next_window_start": "2025-08-26", "next_window_end": "2025-09-23", "adverse_events": []}
    text = page_text(patient_summary_html(s))
    assert "about 4 days" in text and "about 13 days" in text and "about 14 weeks" in text
    assert text.count("From patients like you at this clinic. You do not have enough of your own figures yet.") == 3
    assert "It is too early to compare your injections." in text
    assert "Between 26 August 2025 and 23 September 2025." in text
    assert "The next one should not be before 24 August 2025, which is 12 weeks later." in text
    assert "No side effects were noted after your injections." in text
    assert "Made from your 1 injection at this clinic, on 1 June 2025." in text


def test_too_few_patients_like_them_gives_no_clinic_figure():
    frame = clinic()
    frame = frame.loc[~frame["patient_id"].isin(["L1", "L2"])]  # F1 + 3 others: 4 patients < 5
    s = patient_summary(derive_sessions(frame), "F1")
    assert s["onset"]["median"] is None and s["benefit"]["median"] is None and s["benefit"]["basis"] == "clinic"
    # no median: 12 to 26 weeks after the last injection
    assert (s["next_window_start"], s["next_window_end"]) == ("2025-08-24", "2025-11-30")
    text = page_text(patient_summary_html(s))
    assert "not known yet" in text and "patients like you" not in text
    assert "We cannot yet tell when your benefit usually wears off, so this is the usual 3 to 6 months." in text


def test_patients_like_them_still_benefiting_gives_no_median_but_says_so():
    frame = clinic()
    frame.loc[frame["patient_id"].str.startswith("L"), "wearing_off_days"] = None  # none has worn off yet
    s = patient_summary(derive_sessions(frame), "F1")
    assert (s["benefit"]["median"], s["benefit"]["basis"], s["benefit"]["patients"]) == (None, "clinic", 6)
    assert (s["next_window_start"], s["next_window_end"]) == ("2025-08-24", "2025-11-30")
    text = page_text(patient_summary_html(s))
    assert "It keeps working for\nlonger than we could measure\nFrom patients like you at this clinic." in text


def test_steady_responder(derived):
    s = patient_summary(derived, "S1")
    assert s["onset"] == {"median": 3.0, "basis": "own", "n": 4, "patients": 1}
    assert s["peak"]["median"] == 14.0 and s["peak"]["n"] == 4
    # 100, 110, 105 wore off; the last is still running at the as-of date (90 days, censored): median 105
    assert (s["benefit"]["median"], s["benefit"]["basis"], s["benefit"]["n"], s["benefit"]["events"]) == \
        (105.0, "own", 4, 3)
    assert s["trend"] == "about_the_same"
    assert (s["next_window_start"], s["next_window_end"]) == ("2025-07-01", "2025-07-29")
    assert lines(s) == ["general_1", "general_2"]
    assert s["points"]["response"].round(1).tolist() == [71.4] * 4
    text = page_text(patient_summary_html(s))
    assert "Your last injection helped about as much as your earlier ones, or more." in text
    assert "about 3 days" in text and "about 2 weeks" in text and "about 15 weeks" in text
    assert text.count("From 4 of your injections.") == 3
    assert "This is around the time your benefit usually wears off." in text
    assert "These dates have passed." not in text and "has no score yet" not in text


def test_a_window_already_past_and_a_last_injection_without_a_score():
    frame = clinic()
    last = (frame["patient_id"] == "S1") & (frame["session_date"] == pd.Timestamp("2025-04-01"))
    frame.loc[last, "followup_pain"] = None
    s = patient_summary(derive_sessions(frame), "D1")
    # D1's window ends on 2025-06-21, before the as-of date 2025-06-30
    assert s["window_passed"] and "These dates have passed. Ask the team when your next injection should be." in \
        page_text(patient_summary_html(s))
    s = patient_summary(derive_sessions(frame), "S1")
    assert s["last_unscored"] and not s["window_passed"] and s["trend"] == "about_the_same"
    assert "Your last injection, on 1 April 2025, has no score yet, so it is not counted." in \
        page_text(patient_summary_html(s))
    assert s["points"]["response"].isna().tolist() == [False, False, False, True]


def test_fading_responder_uses_the_diminished_rule_without_its_words(derived):
    s = patient_summary(derived, "D1")
    assert s["trend"] == "helped_less"
    assert s["onset"]["median"] == 3.0 and s["benefit"]["median"] == 95.0 and s["benefit"]["n"] == 3
    # 2025-03-01 + max(84, 95 - 14 = 81) = 84 days
    assert (s["next_window_start"], s["next_window_end"]) == ("2025-05-24", "2025-06-21")
    assert lines(s) == ["helped_less", "general_1"]
    page = patient_summary_html(s)
    text = page_text(page)
    assert "Your last 2 injections helped less than your earlier ones." in text
    assert "Your last injections helped less than before. Ask what could be changed." in text
    for word in ("diminish", "non-responder", "nonresponder", "antibod", "watch"):
        assert word not in page.lower()


def test_one_low_response_after_good_ones_is_the_watch_rule():
    frame = clinic()
    frame = frame.loc[~((frame["patient_id"] == "D1") & frame["session_date"].isin(
        pd.to_datetime(["2024-08-01", "2024-11-15"])))]  # D1: 75, 75, then 12.5
    s = patient_summary(derive_sessions(frame), "D1")
    assert s["trend"] == "last_helped_less"
    assert s["trend_sentence"] == "Your last injection helped less than your earlier ones."
    assert lines(s)[0] == "helped_less" and s["discuss"][0]["text"].startswith("Your last injection helped less")


def test_short_intervals_never_bring_the_window_before_12_weeks(derived):
    s = patient_summary(derived, "Q1")
    # 61, 70, 70 days apart, re-injected before anything wore off, the last still running: every duration is
    # censored, so the median is not reached (own figures, none of them an ending)
    assert (s["benefit"]["median"], s["benefit"]["basis"], s["benefit"]["n"], s["benefit"]["events"]) == \
        (None, "own", 4, 0)
    assert (s["next_window_start"], s["next_window_end"]) == ("2025-07-13", "2025-10-19")
    assert lines(s) == ["short_interval", "general_1"]
    text = page_text(patient_summary_html(s))
    assert "longer than we could measure" in text
    assert "Some of your injections were less than 12 weeks apart." in text
    assert "Injections are not given more often than every 3 months." in text
    assert "Between 13 July 2025 and 19 October 2025." in text


def test_product_switch(derived):
    s = patient_summary(derived, "W1")
    assert s["onset"]["median"] == 2.0 and s["peak"]["median"] == 14.0 and s["benefit"]["median"] == 110.0
    assert (s["next_window_start"], s["next_window_end"]) == ("2025-05-08", "2025-06-05")
    # 200 U of one product then 500 U of another: a product change, never a dose change across products
    assert lines(s) == ["product_change", "general_1"]
    assert "Your last injection used a different product from the one before." in s["discuss"][0]["text"]


def test_side_effects_dose_and_muscle_change(derived):
    s = patient_summary(derived, "E1")
    assert s["adverse_events"] == [
        {"event": "dysphagia", "words": "trouble swallowing", "times": 2, "last_date": "2025-03-03"},
        {"event": "neck_weakness", "words": "a weak neck", "times": 1, "last_date": "2024-11-01"}]
    assert lines(s) == ["dose_change", "muscle_change", "side_effects"]
    assert s["discuss"][0]["text"] == ("Your dose went up at your last injection, from 200 to 300 units. Ask if "
                                       "this dose is right for you.")
    assert s["benefit"]["median"] == 100.0
    assert (s["next_window_start"], s["next_window_end"]) == ("2025-05-28", "2025-06-25")
    text = page_text(patient_summary_html(s))
    assert "Trouble swallowing: 2 times, last in March 2025." in text
    assert "A weak neck: once, last in November 2024." in text
    assert "dysphagia" not in text and "neck_weakness" not in text


def test_shorter_benefit_is_a_line_to_discuss():
    rows = [session("B1", day, "neck_pain", "onabotulinumtoxinA", onset=2, peak=14, wearing_off=off)
            for day, off in [("2024-01-01", 120), ("2024-05-01", 120), ("2024-09-01", 60)]]
    rows.append(session("Z1", "2025-06-30", "other", "rimabotulinumtoxinB", units=5000))
    frame = pd.DataFrame(rows)
    frame["session_date"] = pd.to_datetime(frame["session_date"])
    s = patient_summary(derive_sessions(frame), "B1")
    assert lines(s) == ["shorter_benefit", "general_1"]
    assert s["discuss"][0]["text"] == ("Your latest benefit wore off sooner than before: after about 9 weeks, not "
                                       "17. Tell the team.")


def test_an_unknown_patient_is_refused(derived):
    with pytest.raises(ValueError, match="no sessions for patient code 'NOPE'"):
        patient_summary(derived, "NOPE")


def test_days_in_words():
    assert [days_words(d) for d in (1, 2.5, 3.5, 13, 14, 105, 110.5)] == [
        "about 1 day", "about 3 days", "about 4 days", "about 13 days", "about 2 weeks", "about 15 weeks",
        "about 16 weeks"]


# ---- privacy --------------------------------------------------------------------------------------------------
def _no_other_data(page: bytes, patient: str, frame: pd.DataFrame, show_code: bool) -> None:
    others = set(frame["patient_id"].astype(str)) - {patient}
    found = [code for code in others if code.encode() in page]
    found += [v for v in set(frame["practitioner_id"].dropna().astype(str)) | set(frame["site"].dropna().astype(str))
              if v.encode() in page]
    assert not found, (patient, found)
    assert (patient.encode() in page) is show_code


def test_the_page_names_no_other_patient_practitioner_or_site(derived):
    frame = clinic()
    for patient in frame["patient_id"].unique():
        for show_code in (False, True):
            page = patient_summary_html(patient_summary(derived, patient), show_code=show_code).encode()
            _no_other_data(page, patient, frame, show_code)


def test_the_code_is_printed_only_when_asked_and_escaped():
    frame = clinic()
    hostile = '<img src=x onerror=alert(1)>'
    frame["patient_id"] = frame["patient_id"].replace({"E1": hostile})
    s = patient_summary(derive_sessions(frame), hostile)
    page = patient_summary_html(s, show_code=True)
    assert "Patient code: &lt;img src=x onerror=alert(1)&gt;" in page and "<img" not in page
    assert "Patient code" not in patient_summary_html(s)


@pytest.fixture(scope="module")
def sample_pages():
    from analytics.ingest import load_sessions

    sessions = load_sessions(SAMPLE).data
    d = derive_sessions(sessions)
    return sessions, {p: patient_summary_html(patient_summary(d, p)) for p in d["patient_id"].unique()}


def test_sample_pages_name_no_other_patient_practitioner_or_site(sample_pages):
    sessions, pages = sample_pages
    assert len(pages) == 500
    for patient, page in pages.items():
        _no_other_data(page.encode(), patient, sessions, show_code=False)


def test_reading_level_of_every_sample_patients_page(sample_pages):
    import textstat

    _, pages = sample_pages
    scores = {patient: textstat.flesch_reading_ease(page_text(page)) for patient, page in pages.items()}
    worst = min(scores, key=scores.get)
    assert scores[worst] >= 60, (worst, scores[worst], page_text(pages[worst]))


# ---- the command line -----------------------------------------------------------------------------------------
def test_command_line_json_keys_page_and_audit(tmp_path, monkeypatch, capsys):
    db = tmp_path / "outcomes.duckdb"
    monkeypatch.setenv("OUTCOMES_DB", str(db))
    csv = tmp_path / "clinic.csv"
    frame = clinic()
    frame["session_date"] = frame["session_date"].dt.strftime("%Y-%m-%d")
    frame.to_csv(csv, index=False)
    out = tmp_path / "e1.html"
    assert main(["patient-summary", str(csv), "--patient", "E1", "--out", str(out), "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert tuple(figures) == JSON_KEYS
    assert figures == summary_json(patient_summary(derive_sessions(clinic()), "E1"))
    assert out.read_bytes() == patient_summary_html(patient_summary(derive_sessions(clinic()), "E1")).encode()
    rows = audit.read(db, action="view_patient")  # a FILE: the row goes to the default store
    assert rows[["role", "object", "outcome"]].values.tolist() == [
        ["command line", "E1", "ok: summary for the patient"]]

    store_db = tmp_path / "store.duckdb"
    assert main(["import", str(csv), "--db", str(store_db)]) == 0
    capsys.readouterr()
    from_store = tmp_path / "e1_store.html"
    assert main(["patient-summary", "--db", str(store_db), "--patient", "E1", "--out", str(from_store),
                 "--show-code", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == figures
    assert b"Patient code: E1" in from_store.read_bytes()
    assert audit.read(store_db, action="view_patient")[["object", "outcome"]].values.tolist() == [
        ["E1", "ok: summary for the patient"]]

    assert main(["patient-summary", "--db", str(store_db), "--patient", "NOPE", "--out", str(out)]) == 2
    assert "no sessions for patient code 'NOPE'" in capsys.readouterr().err
    assert len(audit.read(store_db, action="view_patient")) == 1  # nothing shown, nothing recorded
    assert main(["patient-summary", str(csv), "--db", str(store_db), "--patient", "E1", "--out", str(out)]) == 2
