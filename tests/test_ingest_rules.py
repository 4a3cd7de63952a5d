"""Every rule of the data contract: each bad cell is rejected with its line, column, value and reason."""
from datetime import date

import pytest

from analytics.ingest import load_assessments, load_sessions
from tests.helpers import csv_bytes, good_row

TODAY = date(2026, 11, 25)


def load(rows, header=None, **options):
    return load_sessions(csv_bytes(rows, header), today=TODAY, **options)


def cells(result):
    return [tuple(r) for r in result.rejected[["line", "column", "value", "reason"]].itertuples(index=False)]


def test_clean_file_is_accepted_whole_with_canonical_types():
    result = load([good_row(), good_row("P2", "2025-04-01", "dysport", "500", "8", "4")])
    assert result.exit_code == 0 and result.n_rows == 2 and result.n_accepted == 2
    data = result.data
    assert data["product"].tolist() == ["onabotulinumtoxinA", "abobotulinumtoxinA"]
    assert str(data["session_date"].dtype) == "datetime64[s]"
    assert data["total_units"].tolist() == [200.0, 500.0]
    assert str(data["baseline_pain"].dtype) == "Int64"
    assert data["line"].tolist() == [2, 3]


@pytest.mark.parametrize("cell, value, reason", [
    (0, "", "blank, but patient_id is required"),
    (0, "x" * 65, "longer than 64 characters"),
    (1, "", "blank, but session_date is required"),
    (1, "2027-01-01", "in the future (after 2026-11-25)"),
    (1, "soon", "not a date (write it as 2025-03-14, or 14/03/2025 with one order for the whole file)"),
    (1, "2025-02-30", "not a real calendar date"),
    (2, "", "blank, but product is required"),
    (2, "Botax", "unknown product (accepted: Botox, Dysport, Xeomin, Myobloc/NeuroBloc, their generic names, "
                 "or other)"),
    (3, "", "blank, but total_units is required"),
    (3, "0", "must be above 0"),
    (3, "-50", "must be above 0"),
    (3, "lots", "not a number"),
    (4, "11", "must be between 0 and 10"),
    (4, "-1", "must be between 0 and 10"),
    (4, "6.5", "not a whole number"),
    (5, "seven", "not a number"),
])
def test_one_bad_cell_rejects_its_row_only(cell, value, reason):
    bad = good_row("P2", "2025-04-01")
    bad[cell] = value
    result = load([good_row(), bad, good_row("P3")])
    header = ["patient_id", "session_date", "product", "total_units", "baseline_pain", "followup_pain"][cell]
    assert cells(result) == [(3, header, value, reason)]
    assert result.data["line"].tolist() == [2, 4]
    assert result.exit_code == 1


def test_every_bad_cell_of_a_row_is_listed():
    result = load([["P1", "2030-01-01", "Botax", "abc", "12", "x"]])
    assert [c[1] for c in cells(result)] == ["session_date", "product", "total_units", "baseline_pain",
                                             "followup_pain"]
    assert result.n_rejected_rows == 1 and result.n_accepted == 0


@pytest.mark.parametrize("column, value, reason", [
    ("followup_days", "121", "must be between 0 and 120"),
    ("onset_days", "61", "must be between 0 and 60"),
    ("peak_days", "-2", "must be between 0 and 120"),
    ("wearing_off_days", "0", "must be between 1 and 365"),
    ("wearing_off_days", "366", "must be between 1 and 365"),
    ("pgic", "9", "must be between 1 and 7"),
    ("pgic", "0", "must be between 1 and 7"),
    ("baseline_twstrs", "88", "must be between 0 and 87"),
    ("followup_twstrs", "-0.5", "must be between 0 and 87"),
    ("cycle_number", "0", "must be 1 or more"),
    ("indication", "knee", "unknown indication (accepted: cervical_dystonia, neck_pain, tension_headache, "
                           "upper_back_pain, arm_pain, other)"),
    ("adverse_events", "rash", "unknown adverse event 'rash' (accepted: none, injection_site_pain, neck_weakness,"
                               " dysphagia, flu_like, headache, dry_mouth, other)"),
    ("adverse_events", "none;dysphagia", "says none and also names an adverse event"),
    ("muscles", "trapezius:lots", "the units of 'trapezius:lots' are not a number"),
    ("muscles", "42:10", "'42:10' is not a muscle name (write muscle[:units] separated by ;)"),
])
def test_optional_column_rules(column, value, reason):
    header = ["patient_id", "session_date", "product", "total_units", "baseline_pain", column]
    result = load([good_row()[:5] + [""], good_row("P2")[:5] + [value]], header)
    assert cells(result) == [(3, column, value, reason)]
    assert result.n_accepted == 1


def test_a_baseline_score_is_required():
    header = ["patient_id", "session_date", "product", "total_units", "baseline_pain", "baseline_twstrs"]
    result = load([["P1", "2025-01-01", "Botox", "100", "", "40"], ["P2", "2025-01-01", "Botox", "100", "", ""]],
                  header)
    assert cells(result) == [(3, "baseline_pain", "", "no baseline score: baseline_pain or baseline_twstrs is "
                                                      "required")]


def test_missing_required_column_refuses_the_file_and_names_what_was_found():
    result = load([["P1", "2025-01-01", "100", "5"]], ["Pt ID", "Date", "Dose", "Pain before"])
    assert result.refused and result.exit_code == 2
    message = result.file_errors[0]
    assert message.startswith("Required column(s) missing: product. Columns found: 'Pt ID', 'Date', 'Dose', "
                              "'Pain before'. 'product' is also recognised as 'toxin', 'drug', 'brand',")
    assert result.n_accepted == 0


def test_canonical_values_and_lists_are_normalised():
    header = ["patient_id", "session_date", "product", "total_units", "baseline_pain", "indication", "muscles",
              "adverse_events"]
    result = load([["P1", "2025-01-01", "NeuroBloc", "5000", "6", "Cervical dystonia",
                    "Splenius Capitis: 2500 | trapezius:2500", "Dysphagia; Flu-like"]], header)
    row = result.data.iloc[0]
    assert (row["product"], row["indication"], row["muscles"], row["adverse_events"]) == (
        "rimabotulinumtoxinB", "cervical_dystonia", "splenius_capitis:2500;trapezius:2500", "dysphagia;flu_like")


def test_decimal_commas_with_semicolons():
    data = csv_bytes([["P1", "2025-01-01", "Botox", "232,5", "7", "3"]], sep=";")
    result = load_sessions(data, today=TODAY)
    assert result.data["total_units"].tolist() == [232.5]


def test_decimal_comma_is_not_accepted_in_a_comma_file():
    data = b'patient_id,session_date,product,total_units,baseline_pain\nP1,2025-01-01,Botox,"232,5",7\n'
    result = load_sessions(data, today=TODAY)
    assert cells(result) == [(2, "total_units", "232,5", "not a number")]


def test_undecidable_dates_refuse_the_file_until_the_user_chooses():
    rows = [good_row(day="04/05/2025"), good_row("P2", day="01/02/2025")]
    result = load(rows)
    assert result.refused
    assert "Dates such as 04/05/2025 can be read as day-first or month-first" in result.file_errors[0]
    chosen = load(rows, date_order="dayfirst")
    assert chosen.data["session_date"].dt.strftime("%Y-%m-%d").tolist() == ["2025-05-04", "2025-02-01"]
    assert chosen.date_order == "dayfirst"


def test_exact_duplicates_are_counted_once_and_listed():
    result = load([good_row(), good_row("P2"), good_row()])
    assert result.n_accepted == 2
    assert result.duplicates.to_dict(orient="records") == [{"line": 4, "duplicate_of": 2}]
    assert cells(result) == [(4, "(row)", "", "an exact copy of line 2; counted once")]


def test_conflicting_rows_for_one_session_are_both_held_back():
    result = load([good_row(), good_row(after="5"), good_row("P2")])
    assert result.n_accepted == 1
    assert result.conflicts["line"].tolist() == [2, 3]
    assert cells(result) == [
        (2, "(row)", "patient P1 on 2025-03-14", "conflicts with line 3: same session (patient P1 on 2025-03-14)"
                                               " with different values; fix or remove one"),
        (3, "(row)", "patient P1 on 2025-03-14", "conflicts with line 2: same session (patient P1 on 2025-03-14)"
                                               " with different values; fix or remove one"),
    ]


def test_a_session_is_its_patient_and_date_and_its_session_id_must_agree():
    # lines 2 and 4: one session (P1 on 2025-01-01) with different values; lines 2 and 3: one session_id given
    # to two sessions. Line 5 is fine.
    header = ["session_id", "patient_id", "session_date", "product", "total_units", "baseline_pain"]
    result = load([["S1", "P1", "2025-01-01", "Botox", "100", "5"], ["S1", "P2", "2025-02-01", "Botox", "100", "5"],
                   ["S2", "P1", "2025-01-01", "Botox", "120", "5"], ["S3", "P3", "2025-01-01", "Botox", "120", "5"]],
                  header)
    assert result.conflicts["line"].tolist() == [2, 3, 4]
    assert result.conflicts["key"].tolist() == ["patient P1 on 2025-01-01", "session_id S1",
                                                "patient P1 on 2025-01-01"]
    assert result.data["session_id"].tolist() == ["S3"]
    assert [c[3] for c in cells(result)] == [
        "conflicts with line 4: same session (patient P1 on 2025-01-01) with different values; fix or remove one",
        "conflicts with line 2: session_id S1 is given to another session there, but here to patient P2 on "
        "2025-02-01; a session_id names one session: fix or remove one",
        "conflicts with line 2: same session (patient P1 on 2025-01-01) with different values; fix or remove one"]


def test_implausible_values_are_warnings_not_rejections():
    header = ["patient_id", "session_date", "product", "total_units", "baseline_pain", "followup_days",
              "onset_days", "peak_days"]
    result = load([["P1", "2025-01-01", "Botox", "700", "5", "30", "5", "3"],
                   ["P1", "2025-01-20", "Botox", "200", "5", "", "", ""]], header)
    assert result.n_accepted == 2 and result.exit_code == 0
    assert [tuple(r) for r in result.warnings[["line", "column", "value", "warning"]].itertuples(index=False)] == [
        (2, "followup_days", "30", "the follow-up review is dated after the patient's next injection"),
        (2, "peak_days", "3", "peak_days is before onset_days"),
        (2, "total_units", "700", "an unusually high dose for this product (please check)"),
    ]


def test_identifying_columns_refuse_the_file_until_dropped():
    header = ["patient_id", "session_date", "product", "total_units", "baseline_pain", "Patient Name"]
    rows = [good_row()[:5] + ["Jane Doe"]]
    refused = load(rows, header)
    assert refused.refused
    assert refused.file_errors[0].startswith("The file holds direct identifiers: 'Patient Name': the header looks "
                                             "like a person's name.")
    assert "Jane" not in refused.file_errors[0]
    dropped = load(rows, header, drop_identifiers=True)
    assert dropped.n_accepted == 1 and "Patient Name" not in dropped.data.columns
    assert "Jane Doe" not in dropped.data.to_csv()


def test_identifier_values_in_an_extra_column_are_found():
    header = ["patient_id", "session_date", "product", "total_units", "baseline_pain", "Contact"]
    result = load([good_row()[:5] + ["jane@example.org"]], header)
    assert result.refused
    assert "'Contact': 1 value(s) look like e-mail addresses (lines 2)" in result.file_errors[0]
    assert "jane@example.org" not in result.file_errors[0]


def test_identifying_patient_codes_need_pseudonymisation(monkeypatch):
    rows = [good_row("9434765919"), good_row("4010232137")]
    refused = load(rows)
    assert refused.refused
    assert "Patient codes look like direct identifiers: 'patient_id': 2 value(s) look like NHS numbers" \
        in refused.file_errors[0]
    monkeypatch.delenv("OUTCOMES_PSEUDONYM_KEY", raising=False)
    no_key = load(rows, pseudonymise_ids=True)
    assert no_key.refused and "no key is set" in no_key.file_errors[0]
    monkeypatch.setenv("OUTCOMES_PSEUDONYM_KEY", "clinic-secret")
    result = load(rows, pseudonymise_ids=True)
    assert result.n_accepted == 2
    codes = result.data["patient_id"].tolist()
    assert all(code.startswith("px-") for code in codes)
    assert codes == load(rows, pseudonymise_ids=True, key="clinic-secret").data["patient_id"].tolist()
    assert "9434765919" not in result.data.to_csv()


def test_extra_columns_are_kept_as_attributes():
    header = ["patient_id", "session_date", "product", "total_units", "baseline_pain", "Trial arm"]
    result = load([good_row()[:5] + ["A"]], header)
    assert result.data["Trial arm"].tolist() == ["A"]
    assert result.extra_columns == ["Trial arm"]


def test_rows_that_do_not_fit_the_header_are_rejected_not_lost():
    data = b"patient_id,session_date,product,total_units,baseline_pain\nP1,2025-01-01,Botox,100,5\nP2,2025-01-01\n"
    result = load_sessions(data, today=TODAY)
    assert result.n_rows == 2 and result.n_accepted == 1
    assert cells(result) == [(3, "(whole row)", "", "the row has 2 values but the header has 5 columns")]


def test_header_only_file_is_refused():
    result = load_sessions(b"patient_id,session_date,product,total_units,baseline_pain\n", today=TODAY)
    assert result.file_errors == ["The file has a header but no data rows."]


def test_assessments_weeks_dates_and_scores():
    data = (b"patient,week,treat,twstrs\n1,0,10000U,40\n1,2,10000U,30\n2,,Placebo,35\n2,4,Placebo,\n"
            b"3,1,Placebo,90\n")
    result = load_assessments(data, today=TODAY)
    assert result.data[["patient_id", "days_after", "twstrs"]].astype(str).values.tolist() == [
        ["1", "0.0", "40.0"], ["1", "14.0", "30.0"]]
    assert result.data["treat"].tolist() == ["10000U", "10000U"]
    assert cells(result) == [
        (4, "days_after", "", "no time after the injection: give days_after, week or assessment_date"),
        (5, "twstrs", "", "no score: give pain, twstrs or pgic"),
        (6, "twstrs", "90", "must be between 0 and 87"),
    ]


def test_assessment_dates_give_days_after():
    data = (b"patient_id,session_date,assessment_date,pain\nP1,2025-01-01,2025-01-15,3\n"
            b"P1,2025-01-01,2024-12-25,3\n")
    result = load_assessments(data, today=TODAY)
    assert result.data["days_after"].tolist() == [14.0]
    assert cells(result) == [(3, "assessment_date", "2024-12-25", "before the injection date")]


def test_an_assessments_file_loaded_as_sessions_says_what_it_is():
    result = load_sessions(b"patient,week,treat,twstrs\n1,0,A,40\n1,2,A,30\n", today=TODAY)
    assert result.file_errors[0].startswith("This looks like a repeated-assessments file (scores by time after an "
                                            "injection): load it as assessments (validate --assessments). "
                                            "Required column(s) missing: session_date, product,")
