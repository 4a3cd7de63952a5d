"""Issue 9, item 4 (ingest half): file names are data. A result is named by the label the user typed (scanned
and capped) or by a neutral 'upload <date time>, <n> rows'; the file's name is in no message, report or JSON."""
import json
from datetime import datetime, timezone

from analytics.cli import main, report_json, report_text
from analytics.ingest import LABEL_LIMIT, load_sessions
from analytics.reason_codes import Refusal
from tests.privacy_helpers import BASE, file_bytes, row

NOW = datetime(2026, 11, 30, 14, 5, tzinfo=timezone.utc)  # 14:05 in London in winter


def test_a_neutral_label_with_the_local_time_and_the_rows(monkeypatch):
    monkeypatch.setenv("OUTCOMES_TIMEZONE", "Europe/London")
    data = file_bytes([row(f"P{i}") for i in range(2600)], BASE)
    assert load_sessions(data, now=NOW).source_name == "upload 2026-11-30 14:05, 2,600 rows"
    monkeypatch.setenv("OUTCOMES_TIMEZONE", "Australia/Sydney")
    assert load_sessions(data, now=NOW).source_name == "upload 2026-12-01 01:05, 2,600 rows"


def test_a_typed_label_is_kept():
    result = load_sessions(file_bytes([row()], BASE), label="  March clinic export ")
    assert result.source_name == "March clinic export" and not result.refused


def test_a_label_with_an_identifier_or_too_long_is_refused():
    for label in ("Jane Doe notes", "export for jo@example.com", "NHS 943 476 5919", "Jane_Doe_DOB_1961-03-02"):
        result = load_sessions(file_bytes([row()], BASE), label=label)
        assert result.refused and result.refusal is Refusal.IDENTIFYING_LABEL, label
        assert label not in " ".join(result.file_errors) and result.source_name.startswith("upload ")
    long = load_sessions(file_bytes([row()], BASE), label="x" * (LABEL_LIMIT + 1))
    assert long.refusal is Refusal.IDENTIFYING_LABEL
    assert long.file_errors == ["The label is 81 characters long; keep it to 80."]


def test_a_file_named_after_a_patient_leaves_no_trace(tmp_path, capsys):
    path = tmp_path / "Jane_Doe_DOB_1961-03-02.csv"
    path.write_bytes(file_bytes([row(), row("P2")], BASE))
    for options in ({}, {"drop_identifiers": True}):
        result = load_sessions(path, **options)
        out = report_text(result) + json.dumps(report_json(result), default=str) + str(result.summary())
        assert "Jane" not in out and "1961" not in out and result.source_name.startswith("upload ")
    missing = load_sessions(tmp_path / "Jane_Doe_DOB_1961-03-02.xlsx")
    assert "Jane" not in " ".join(missing.file_errors) + missing.source_name
    for argv in (["validate", str(path)], ["validate", str(path), "--json"]):
        assert main(argv) == 0
        out = capsys.readouterr().out
        assert "Jane" not in out and "1961" not in out


def test_a_file_named_like_a_workbook_but_not_one_is_not_named():
    import io
    upload = io.BytesIO(b"\x00\x01 not a workbook")
    upload.name = "Mary_OBrien.xlsx"
    result = load_sessions(upload)
    assert result.refused and "Mary" not in " ".join(result.file_errors) + result.source_name
