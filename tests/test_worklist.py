"""analytics/worklist.py: the practitioner's worklist on hand-worked patients with exact dates."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from analytics.flags import flag_patients
from analytics.sessions import derive_sessions
from analytics.settings import DEFAULT_SETTINGS
from analytics.worklist import (
    MIN_OWN_DURATIONS, WORKLIST_COLUMNS, build_worklist, clinic_typical_benefit, evidence_points, outside_filters,
    seen_patients,
)
from tests.helpers import session_table

AS_OF = pd.Timestamp("2026-05-01")
S = DEFAULT_SETTINGS.with_changes(as_of=date(2026, 5, 1))


def _rows() -> list[dict]:
    rows = []
    # A: diminished on pain; three recorded wearing-offs (100, 110, 120 days) make their own median 110.
    for day, after, off in (("2025-01-01", 2, 100), ("2025-04-01", 2, 110), ("2025-06-30", 2, 120),
                            ("2025-09-28", 7, None), ("2025-12-27", 8, None)):
        rows.append({"patient_id": "A", "session_date": day, "practitioner_id": "PR3", "site": "North",
                     "baseline_pain": 8, "followup_pain": after, "wearing_off_days": off})
    # B: fine; a 41-day interval; no recorded wearing-off: the clinic's median, never under 84 days.
    for day, after in (("2026-01-10", 2), ("2026-02-20", 3)):
        rows.append({"patient_id": "B", "session_date": day, "practitioner_id": "PR1", "site": "South",
                     "baseline_pain": 6, "followup_pain": after})
    # C: watch on TWSTRS only (drops 20, 20, then 2 points); the latest session by another practitioner.
    for day, after, who in (("2025-06-01", 30, "PR1"), ("2025-09-01", 30, "PR1"), ("2025-12-01", 48, "PR2")):
        rows.append({"patient_id": "C", "session_date": day, "practitioner_id": who, "site": "South",
                     "baseline_twstrs": 50.0, "followup_twstrs": float(after)})
    return rows


@pytest.fixture(scope="module")
def derived() -> pd.DataFrame:
    return derive_sessions(session_table(_rows()), S)


@pytest.fixture(scope="module")
def table(derived) -> pd.DataFrame:
    return build_worklist(derived, flag_patients(derived, S), AS_OF, S, clinic_benefit_days=70.0)


def row(table, patient) -> pd.Series:
    return table.set_index("patient_id").loc[patient]


def test_one_row_per_patient_fading_first(table):
    assert list(table.columns) == list(WORKLIST_COLUMNS)
    assert table["patient_id"].tolist() == ["A", "C", "B"]
    assert table["status"].tolist() == ["diminished", "watch", "fine"]


def test_next_due_from_the_patients_own_median_benefit(table):
    a = row(table, "A")
    assert MIN_OWN_DURATIONS == 3
    assert a["practitioner_id"] == "PR3"
    assert a["last_session"] == pd.Timestamp("2025-12-27")
    assert a["sessions"] == 5
    assert a["own_durations"] == 3
    assert a["typical_benefit_days"] == 110.0
    assert a["benefit_basis"] == "own (3 recorded)"
    assert a["next_due"] == pd.Timestamp("2026-04-16")  # 27 Dec 2025 + 110 days
    assert bool(a["overdue"]) and a["days_overdue"] == 15  # as of 1 May 2026


def test_too_few_own_durations_take_the_clinics_but_never_under_twelve_weeks(table):
    b = row(table, "B")
    assert b["own_durations"] == 0
    assert b["typical_benefit_days"] == 70.0
    assert b["benefit_basis"] == "clinic"
    assert b["next_due"] == pd.Timestamp("2026-05-15")  # 20 Feb 2026 + 84 days, not + 70
    assert not bool(b["overdue"]) and b["days_overdue"] == 0
    c = row(table, "C")
    assert c["next_due"] == pd.Timestamp("2026-02-23")  # 1 Dec 2025 + 84 days
    assert c["days_overdue"] == 67


def test_the_latest_practitioner_is_the_latest_sessions(table):
    assert row(table, "C")["practitioner_id"] == "PR2"


def test_the_latest_response_in_points_and_percent(table):
    b = row(table, "B")
    assert b["latest_response"] == "6 \u2192 3, \u221250%"
    assert b["latest_change_pct"] == -50.0 and b["latest_change_points"] == -3.0
    assert b["latest_date"] == pd.Timestamp("2026-02-20")
    a = row(table, "A")
    assert a["latest_response"] == "8 \u2192 8, \u00b10%"
    c = row(table, "C")
    assert c["latest_measure"] == "twstrs"
    assert c["latest_response"] == "TWSTRS 50 \u2192 48, \u22122 points"
    assert np.isnan(c["latest_change_pct"]) and c["latest_change_points"] == -2.0


def test_evidence_as_short_points_with_only_the_factors_present(table):
    assert row(table, "A")["evidence"].split("\n") == [
        "Last 2 pain responses: 12.5% (cycle 4, 2025-09-28); 0% (cycle 5, 2025-12-27)",
        "Below 50% of the reference 75% (mean of the two best earlier, cycles 3 and 2)",
        "Pain at least 5 points worse than the reference would leave it",
        "No listed factor found in the record",
    ]
    assert row(table, "C")["evidence"].split("\n") == [
        "Latest TWSTRS drop: 2 points (cycle 3, 2025-12-01)",
        "Below 50% of the reference 20 points (mean of the two best earlier, cycles 2 and 1)",
        "At least 18 TWSTRS points under the reference",
        "No listed factor found in the record",
    ]
    assert row(table, "B")["evidence"] == ""


def test_short_intervals_and_boosters_are_named_only_where_present():
    rows = []
    for day, after in (("2025-01-01", 2), ("2025-04-01", 2), ("2025-04-20", 7), ("2025-07-01", 8)):
        rows.append({"patient_id": "D", "session_date": day, "baseline_pain": 8, "followup_pain": after})
    derived = derive_sessions(session_table(rows), S)
    points = evidence_points(flag_patients(derived, S), S).loc["D"].split("\n")
    # 19 days (a booster, also a short interval) and 72 days (short): 2 short intervals, 1 of them a booster
    assert points[3] == "2 short intervals (under 84 days), 1 of them a booster (under 28 days)"
    no_booster = [{"patient_id": "E", "session_date": d, "baseline_pain": 8, "followup_pain": a} for d, a in
                  (("2025-01-01", 2), ("2025-04-01", 2), ("2025-06-01", 7), ("2025-09-01", 8))]
    derived = derive_sessions(session_table(no_booster), S)
    points = evidence_points(flag_patients(derived, S), S).loc["E"].split("\n")
    assert points[3] == "1 short interval (under 84 days)"
    assert not any("booster" in p for p in points)
    sentence = flag_patients(derived, S)["evidence"].iloc[0]  # the flags' own sentence (analysts' table, workbook)
    assert "Check: 1 interval(s) under 84 days. " in sentence and "booster" not in sentence


def test_the_clinics_median_is_the_km_median_and_a_missing_one_falls_back_to_twelve_weeks(derived):
    # responder sessions: A's three (wore off on days 100, 110, 120), B's first and second (censored at 41 and
    # at the as-of date), C's first two (censored at 92 and 91 days): KM median 110
    assert clinic_typical_benefit(derived) == 110.0
    none = build_worklist(derived, flag_patients(derived, S), AS_OF, S, clinic_benefit_days=float("nan"))
    b = row(none, "B")
    assert b["benefit_basis"] == "12-week minimum"
    assert b["next_due"] == pd.Timestamp("2026-05-15")


def test_outside_filters_says_what_a_filter_hides(derived):
    flags = flag_patients(derived, S)
    pr1 = derived.loc[derived["practitioner_id"] == "PR1"]
    notes = outside_filters(flags, pr1)
    assert notes["C"] == ("The current filters hide the latest low response (cycle 3, 2025-12-01); the flag is "
                          "judged on the whole history.")
    assert notes["A"].startswith("None of this patient's sessions is under the current filters")
    assert outside_filters(flags, derived).eq("").all()
    for patient in ("A", "C"):  # one flag alone (the Patients page's chosen patient) reads the same
        one = outside_filters(flags.loc[flags["patient_id"] == patient], pr1)
        assert one.to_dict() == {patient: notes[patient]}


def test_seen_patients_keeps_whole_history_rows(table, derived):
    pr1 = derived.loc[derived["practitioner_id"] == "PR1"]
    seen = seen_patients(table, pr1)
    assert seen["patient_id"].tolist() == ["C", "B"]
    assert seen.set_index("patient_id").loc["C", "practitioner_id"] == "PR2"  # still the latest session's


def test_empty_input_gives_the_columns():
    empty = build_worklist(derive_sessions(session_table(_rows()), S).iloc[0:0], flag_patients(
        derive_sessions(session_table(_rows()), S), S).iloc[0:0], AS_OF, S)
    assert list(empty.columns) == list(WORKLIST_COLUMNS) and len(empty) == 0


def test_a_typed_code_is_found_trimmed_and_in_any_case():
    from analytics.worklist import find_patient
    ids = pd.Series(["P00091", "P00092", "ab1", "AB1"])
    assert find_patient("  p00091 ", ids) == ["P00091"]
    assert find_patient("P00092", ids) == ["P00092"]
    assert find_patient("ab1", ids) == ["ab1"]  # an exact match wins
    assert find_patient("Ab1", ids) == ["AB1", "ab1"]  # two codes differ only by case: both, the page asks
    assert find_patient("nope", ids) == [] and find_patient("   ", ids) == []


def test_the_worklist_in_words(table):
    from analytics.worklist import worklist_in_words
    screen = worklist_in_words(table)
    assert list(screen.columns) == ["Patient", "Status", "Next due", "Overdue (days)", "Latest response",
                                    "Last session", "Practitioner", "Sessions", "Typical benefit (days)",
                                    "Benefit based on"]
    assert screen.iloc[0].tolist() == ["A", "Diminished", pd.Timestamp("2026-04-16"), 15, "8 \u2192 8, \u00b10%",
                                       pd.Timestamp("2025-12-27"), "PR3", 5, 110.0, "own (3 recorded)"]
    csv = worklist_in_words(table, for_csv=True)
    first = csv.iloc[0]
    assert first["Last session"] == "2025-12-27" and first["Next due"] == "2026-04-16"
    assert first["Evidence"].startswith("Last 2 pain responses: 12.5% (cycle 4, 2025-09-28); 0% (cycle 5, "
                                        "2025-12-27); Below 50% of the reference 75%")
    assert csv.iloc[2]["Evidence"] == "" and csv.iloc[2]["Status"] == "Fine"
