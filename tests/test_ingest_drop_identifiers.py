"""Issue 8, item 7 (ingestion): --drop-identifiers with identifying values in a recognised column. An optional
field is dropped and read as absent (a note names the column and the count, never the values); a required one
cannot be dropped, so the file is refused with a plain message; patient codes keep their pseudonymise rule."""
import re
from datetime import date

import numpy as np
import pandas as pd

from analytics.cli import main
from analytics.identifiers import guard
from analytics.ingest import load_sessions
from tests.helpers import HEADER, csv_bytes, good_row

TODAY = date(2026, 11, 25)
SITE_HEADER = HEADER + ["Clinic", "Notes"]


def site_rows():
    return [good_row() + ["North", "a"], good_row("P2") + ["jo@example.com", "b"],
            good_row("P3") + ["07700 900123", "c"], good_row("P4") + ["North", "d"]]


def test_identifying_values_in_an_optional_recognised_column_refuse_the_file_until_dropped():
    result = load_sessions(csv_bytes(site_rows(), SITE_HEADER), today=TODAY)
    assert result.refused and result.refusal == "identifiers_found"
    assert result.file_errors == [
        "The file holds direct identifiers: 'Clinic': 1 value(s) look like e-mail addresses (lines 3); 'Clinic': 1 "
        "value(s) look like phone numbers (lines 4). Drop these columns (--drop-identifiers) or cancel; identifying "
        "data is never stored."]


def test_dropping_an_optional_recognised_column_reads_the_field_as_absent():
    result = load_sessions(csv_bytes(site_rows(), SITE_HEADER), today=TODAY, drop_identifiers=True)
    assert result.exit_code == 0 and result.n_accepted == 4
    assert result.data["site"].isna().all()
    assert "Clinic" not in result.data.columns and "Clinic" not in result.column_map
    assert result.data["Notes"].tolist() == ["a", "b", "c", "d"]
    assert "Dropped column 'Clinic' (site): 1 value(s) look like e-mail addresses; 1 value(s) look like phone " \
           "numbers; site is read as not in the file." in result.notes
    assert "jo@example.com" not in " ".join(result.notes) + result.data.to_csv()
    assert "07700 900123" not in " ".join(result.notes) + result.data.to_csv()


def test_cli_validate_drop_identifiers_with_an_e_mail_in_site_does_not_crash(tmp_path, capsys):
    path = tmp_path / "site.csv"
    header = HEADER + ["site"]
    path.write_bytes(csv_bytes([good_row() + ["North"], good_row("P2") + ["jo@example.com"]], header))
    assert main(["validate", str(path), "--drop-identifiers"]) == 0
    out = capsys.readouterr().out
    assert re.fullmatch(r"upload \d{4}-\d\d-\d\d \d\d:\d\d, 2 rows: 2 accepted, 0 rejected \(0 exact duplicate\(s\), "
                        r"0 conflicting\), 0 warning\(s\)\.", out.splitlines()[0])  # the file's name is not shown
    assert "Dropped column 'site' (site): 1 value(s) look like e-mail addresses; site is read as not in the " \
           "file." in out
    assert "'site' -> site" not in out and "jo@example.com" not in out


def test_an_extra_column_and_a_recognised_one_dropped_together():
    header = HEADER + ["practitioner", "Contact"]
    rows = [good_row() + ["PR01", "jo@example.com"], good_row("P2") + ["dr.who@example.org", "x"]]
    result = load_sessions(csv_bytes(rows, header), today=TODAY, drop_identifiers=True)
    assert result.n_accepted == 2 and result.data["practitioner_id"].isna().all()
    assert result.notes[:2] == [
        "Dropped identifying column(s): 'Contact'.",
        "Dropped column 'practitioner' (practitioner_id): 1 value(s) look like e-mail addresses; practitioner_id is "
        "read as not in the file."]


def test_a_required_recognised_column_cannot_be_dropped():
    frame = pd.DataFrame({"Pt": ["P1", "P2"], "Where": ["North", "jo@example.com"]}, dtype="str")
    outcome = guard(frame, np.array([2, 3]), {"Pt": "patient_id", "Where": "site"}, drop=True,
                    pseudonymise_ids=False, key=None, required=frozenset({"patient_id", "site"}))
    assert outcome.refusal == "identifiers_found" and outcome.dropped == []
    assert outcome.message == (
        "The file holds direct identifiers in required column(s): 'Where': 1 value(s) look like e-mail addresses "
        "(lines 3). site is required, so it cannot be dropped: remove the identifying values from the file and "
        "upload it again; identifying data is never stored.")
    assert list(outcome.frame.columns) == ["Pt", "Where"]


def test_patient_codes_keep_their_own_rule_when_dropping(monkeypatch):
    monkeypatch.delenv("OUTCOMES_PSEUDONYM_KEY", raising=False)
    header = HEADER + ["site"]
    rows = [good_row("jo@example.com") + ["North"], good_row("P2") + ["x@example.org"]]
    result = load_sessions(csv_bytes(rows, header), today=TODAY, drop_identifiers=True)
    assert result.refused and result.refusal == "identifying_patient_codes"
    assert result.file_errors[0].startswith("Patient codes look like direct identifiers: 'patient_id': 1 value(s) "
                                            "look like e-mail addresses (lines 2).")
