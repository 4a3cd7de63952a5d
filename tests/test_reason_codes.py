"""Reason codes: every refusal kind, rejected cell and warning carries its code beside the human message."""
from datetime import date

import pandas as pd
import pytest

from analytics.ingest import IngestResult, load_assessments, load_sessions
from analytics.reason_codes import Caution, Refusal, Rejection
from tests.helpers import HEADER, csv_bytes, good_row

TODAY = date(2026, 11, 25)


def load(data, **options):
    return load_sessions(data, today=TODAY, **options)


@pytest.mark.parametrize("data, options, code", [
    (b"\x00\x01\x02binary", {}, Refusal.UNREADABLE_FILE),
    (b"PAR1 not really parquet", {}, Refusal.UNREADABLE_FILE),
    (csv_bytes([good_row()]), {"max_bytes": 4}, Refusal.TOO_LARGE),
    (b"  \n\n", {}, Refusal.EMPTY_FILE),
    (csv_bytes([]), {}, Refusal.NO_DATA_ROWS),
    (csv_bytes([good_row()]), {"mapping": {"patient_id": "nonsense"}}, Refusal.BAD_MAPPING),
    (csv_bytes([["P1", "2025-03-14"]], ["patient_id", "session_date"]), {}, Refusal.MISSING_COLUMNS),
    (csv_bytes([good_row()[:5] + ["Jane Doe"]], HEADER[:5] + ["Patient Name"]), {}, Refusal.IDENTIFIERS_FOUND),
    (csv_bytes([good_row("9434765919")]), {}, Refusal.IDENTIFYING_PATIENT_CODES),
    (csv_bytes([good_row(day="04/05/2025"), good_row("P2", "01/02/2025")]), {}, Refusal.AMBIGUOUS_DATE_ORDER),
])
def test_each_refusal_kind_has_its_code(data, options, code):
    result = load(data, **options)
    assert result.refused and result.refusal is code
    assert result.exit_code == 2 and len(result.file_errors) == 1
    assert result.summary()["refusal"] == code.value


def test_missing_pseudonym_key_has_its_code(monkeypatch):
    monkeypatch.delenv("OUTCOMES_PSEUDONYM_KEY", raising=False)
    result = load(csv_bytes([good_row("9434765919")]), pseudonymise_ids=True)
    assert result.refusal is Refusal.NO_PSEUDONYM_KEY
    assert "no key is set" in result.file_errors[0]


def test_a_missing_file_is_unreadable(tmp_path):
    result = load_sessions(tmp_path / "nope.csv")
    assert result.refusal is Refusal.UNREADABLE_FILE and result.file_errors == ["File not found: check the path."]


def test_accepted_files_have_no_refusal_code():
    result = load(csv_bytes([good_row()]))
    assert result.refusal is None and result.summary()["refusal"] is None


def test_rejected_cells_carry_codes_beside_their_reasons():
    header = HEADER + ["pgic"]
    rows = [good_row() + ["1"],
            ["", "2025-03-14", "Botox", "200", "7", "3", "1"],
            ["P3", "2027-01-01", "Botax", "-5", "7", "x", "2.5"],
            ["P4", "soon", "Botox", "200", "11", "3", "9"],
            good_row() + ["1"]]
    result = load(csv_bytes(rows, header))
    got = [(line, field, code) for line, field, code in result.rejected[["line", "field", "code"]].itertuples(index=False)]
    assert got == [
        (3, "patient_id", Rejection.BLANK_REQUIRED),
        (4, "session_date", Rejection.FUTURE_DATE),
        (4, "product", Rejection.UNKNOWN_VALUE),
        (4, "total_units", Rejection.OUT_OF_RANGE),
        (4, "followup_pain", Rejection.NOT_A_NUMBER),
        (4, "pgic", Rejection.NOT_WHOLE),
        (5, "session_date", Rejection.BAD_DATE),
        (5, "baseline_pain", Rejection.OUT_OF_RANGE),
        (5, "pgic", Rejection.OUT_OF_RANGE),
        (6, "(row)", Rejection.EXACT_COPY),
    ]
    assert result.rejected.loc[result.rejected["code"] == "out_of_range", "reason"].tolist() == [
        "must be above 0", "must be between 0 and 10", "must be between 1 and 7"]
    assert result.summary()["rejected_cells_by_code"] == {
        "bad_date": 1, "blank_required": 1, "exact_copy": 1, "future_date": 1, "not_a_number": 1,
        "not_whole_number": 1, "out_of_range": 3, "unknown_value": 1}


def test_conflicts_lists_malformed_rows_and_no_baseline_have_codes():
    header = ["session_id", "patient_id", "session_date", "product", "total_units", "baseline_pain", "muscles",
              "adverse_events"]
    rows = [["S1", "P1", "2025-03-14", "Botox", "200", "7", "trapezius", "none"],
            ["S1", "P1", "2025-03-14", "Botox", "300", "7", "trapezius", "none"],
            ["S2", "P2", "2025-03-14", "Botox", "200", "", "trapezius", "none"],
            ["S3", "P3", "2025-03-14", "Botox", "200", "7", "1nose", "sneezing"],
            ["S4", "P4", "2025-03-14", "Botox"]]
    result = load(csv_bytes(rows, header))
    got = result.rejected[["line", "code"]].itertuples(index=False, name=None)
    assert list(got) == [(2, Rejection.CONFLICT), (3, Rejection.CONFLICT), (4, Rejection.NO_BASELINE),
                         (5, Rejection.BAD_LIST), (5, Rejection.BAD_LIST), (6, Rejection.MALFORMED_ROW)]


def test_warnings_carry_codes():
    header = ["patient_id", "session_date", "product", "total_units", "baseline_pain", "muscles", "onset_days",
              "peak_days", "followup_days"]
    rows = [["P1", "2025-01-06", "Botox", "900", "7", "trapezius:50", "10", "5", "60"],
            ["P1", "2025-02-03", "Botox", "100", "7", "", "", "", ""]]
    result = load(csv_bytes(rows, header))
    got = list(result.warnings[["line", "field", "code"]].itertuples(index=False, name=None))
    assert got == [(2, "followup_days", Caution.FOLLOWUP_AFTER_NEXT_INJECTION),
                   (2, "muscles", Caution.MUSCLE_UNITS_MISMATCH), (2, "peak_days", Caution.PEAK_BEFORE_ONSET),
                   (2, "total_units", Caution.HIGH_DOSE)]
    assert result.summary()["warnings_by_code"] == {
        "followup_after_next_injection": 1, "high_dose": 1, "muscle_units_mismatch": 1, "peak_before_onset": 1}


def test_assessment_rules_have_codes():
    header = ["patient_id", "session_date", "assessment_date", "pain"]
    rows = [["P1", "2025-03-14", "2025-03-01", "5"], ["P1", "2025-03-14", "", "5"], ["P1", "2025-03-14", "2025-03-20", ""]]
    result = load_assessments(csv_bytes(rows, header), today=TODAY)
    got = list(result.rejected[["line", "code"]].itertuples(index=False, name=None))
    assert got == [(2, Rejection.BEFORE_INJECTION), (3, Rejection.NO_TIME), (4, Rejection.NO_SCORE)]


def test_refused_with_and_from_accepted_build_empty_reports():
    refused = IngestResult.refused_with("sessions", Refusal.NO_DATA_ROWS, "No rows.", "f.csv")
    assert (refused.refused, refused.refusal, refused.file_errors, refused.source_name) == (
        True, Refusal.NO_DATA_ROWS, ["No rows."], "f.csv")
    data = load(csv_bytes([good_row(), good_row("P2")])).data
    accepted = IngestResult.from_accepted(data, "outcomes.duckdb")
    assert (accepted.kind, accepted.n_rows, accepted.n_accepted, accepted.n_rejected_rows) == ("sessions", 2, 2, 0)
    assert (accepted.refused, accepted.refusal, accepted.exit_code, accepted.source_name) == (
        False, None, 0, "outcomes.duckdb")
    for result in (refused, accepted):
        assert list(result.rejected.columns) == ["line", "column", "field", "value", "reason", "code"]
        assert list(result.warnings.columns) == ["line", "column", "field", "value", "warning", "code"]
        assert list(result.duplicates.columns) == ["line", "duplicate_of"]
        assert list(result.conflicts.columns) == ["line", "key", "other_lines"]
        assert len(result.rejected) == len(result.warnings) == len(result.duplicates) == len(result.conflicts) == 0
    pd.testing.assert_frame_equal(accepted.data, data)
