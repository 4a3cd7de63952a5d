"""`python -m analytics validate`: the report a person reads, JSON for machines, and the exit codes."""
import json
import re
import subprocess
import sys
from pathlib import Path


from analytics.cli import main
from tests.helpers import csv_bytes, good_row

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path, rows, header=None, name="f.csv", sep=","):
    path = tmp_path / name
    path.write_bytes(csv_bytes(rows, header, sep=sep))
    return path


def test_exit_0_when_every_row_is_accepted(tmp_path, capsys):
    path = write(tmp_path, [good_row(), good_row("P2")])
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    # the file's name is never shown (it may name a patient): a neutral label with the time and the rows
    assert re.fullmatch(r"upload \d{4}-\d\d-\d\d \d\d:\d\d, 2 rows: 2 accepted, 0 rejected \(0 exact "
                        r"duplicate\(s\), 0 conflicting\), 0 warning\(s\)\.", out.splitlines()[0])


def test_exit_1_lists_each_rejected_cell(tmp_path, capsys):
    path = write(tmp_path, [good_row(), good_row("P2", after="12")])
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "  line 3: followup_pain = '12': must be between 0 and 10" in out.splitlines()


def test_exit_2_when_the_file_is_refused(tmp_path, capsys):
    path = write(tmp_path, [["P1", "x"]], ["who", "what"])
    assert main(["validate", str(path)]) == 2
    out = capsys.readouterr().out
    assert re.match(r"upload \d{4}-\d\d-\d\d \d\d:\d\d, 1 row: REFUSED\. Nothing was taken from this file\.", out)


def test_date_order_and_mapping_options(tmp_path, capsys):
    header = ["Code", "session_date", "product", "total_units", "baseline_pain", "followup_pain"]
    path = write(tmp_path, [good_row(day="04/05/2025"), good_row("P2", day="01/02/2025")], header)
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"Code": "patient_id"}))
    assert main(["validate", str(path), "--mapping", str(mapping)]) == 2
    assert "can be read as day-first or month-first" in capsys.readouterr().out
    assert main(["validate", str(path), "--mapping", str(mapping), "--dayfirst", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["date_order"] == "dayfirst"
    assert report["columns"]["Code"] == "patient_id"
    assert report["accepted_rows"] == 2


def test_identifier_options(tmp_path, capsys, monkeypatch):
    header = ["patient_id", "session_date", "product", "total_units", "baseline_pain", "Email"]
    path = write(tmp_path, [["9434765919", "2025-01-01", "Botox", "100", "5", "a@b.org"]], header)
    assert main(["validate", str(path)]) == 2
    out = capsys.readouterr().out
    assert "'Email': the header looks like an e-mail address" in out and "a@b.org" not in out
    assert "9434765919" not in out
    assert main(["validate", str(path), "--drop-identifiers"]) == 2
    assert "Patient codes look like direct identifiers" in capsys.readouterr().out
    monkeypatch.setenv("OUTCOMES_PSEUDONYM_KEY", "secret")
    assert main(["validate", str(path), "--drop-identifiers", "--pseudonymise", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["notes"][0] == "Dropped identifying column(s): 'Email'."
    assert "9434765919" not in json.dumps(report)


def test_json_lists_every_rejected_cell(tmp_path, capsys):
    path = write(tmp_path, [good_row(), ["P2", "2025-01-01", "Botax", "-1", "5", "3"], good_row()])
    assert main(["validate", str(path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["rows"] == 3 and report["accepted_rows"] == 1 and report["rejected_rows"] == 2
    listed = [(c["line"], g["field"]) for g in report["rejected_groups"] for c in g["listed"]]
    assert sorted(listed) == [(3, "product"), (3, "total_units"), (4, "(row)")]
    assert all(g["not_listed"] == 0 for g in report["rejected_groups"])
    assert report["duplicates"] == [{"line": 4, "duplicate_of": 2}]
    assert "rejected" not in report and "warnings_list" not in report
    assert main(["validate", str(path), "--json", "--all"]) == 1  # --all: the per-cell lists, as before
    report = json.loads(capsys.readouterr().out)
    assert [(c["line"], c["field"]) for c in report["rejected"]] == [
        (3, "product"), (3, "total_units"), (4, "(row)")]
    assert report["warnings_list"] == []


def test_unreadable_mapping_file_is_a_clear_error(tmp_path, capsys):
    path = write(tmp_path, [good_row()])
    assert main(["validate", str(path), "--mapping", str(tmp_path / "nope.json")]) == 2
    assert "The mapping file" in capsys.readouterr().err


def test_module_entry_point_runs(tmp_path):
    path = write(tmp_path, [good_row()])
    done = subprocess.run([sys.executable, "-m", "analytics", "validate", str(path)], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "1 accepted" in done.stdout


def test_warnings_are_listed_after_the_rejected_cells(tmp_path, capsys):
    path = write(tmp_path, [good_row(units="700"), good_row("P2", after="12")])
    assert main(["validate", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("Rejected cells (line, column, value as written, reason):")
    assert lines[start + 1] == "  line 3: followup_pain = '12': must be between 0 and 10"
    assert lines[start + 2:start + 5] == [
        "", "Warnings (rows accepted, worth a look; the first 20 of each kind):",
        "  line 2: total_units = '700': an unusually high dose for this product (please check)"]


def test_long_reports_are_cut_with_a_pointer_to_json():
    from analytics.cli import _listing
    import pandas as pd

    table = pd.DataFrame({"line": [2, 3, 4], "column": "c", "value": "v", "reason": "r"})
    assert _listing("T", table, "reason", 2) == ["", "T", "  line 2: c = 'v': r", "  line 3: c = 'v': r",
                                                 "  ... and 1 more (use --json for all)."]


def test_a_refusal_says_why_in_words_and_by_code(tmp_path, capsys):
    path = write(tmp_path, [["P1", "x"]], ["who", "what"])
    assert main(["validate", str(path)]) == 2
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "  Why (missing_columns): a required column is missing."
    assert main(["summary", str(path), "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["refusal"] == "missing_columns"


def test_every_refusal_has_words_for_the_terminal():
    from analytics.cli import REFUSAL_WORDS
    from analytics.reason_codes import Refusal

    assert set(REFUSAL_WORDS) == set(Refusal)
