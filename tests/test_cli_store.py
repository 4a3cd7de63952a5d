"""`python -m analytics import / history / undo` and `summary --db`: output, exit codes, JSON, the default store."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from analytics import store
from analytics.cli import main
from analytics.summary import REQUIRED_KEYS

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
HEADER = "session_id,patient_id,session_date,product,total_units,baseline_pain,followup_pain,onset_days"
ROWS = ["S1,P1,2025-01-06,Botox,200,8,4,3", "S2,P1,2025-04-07,Botox,200,8,5,", "S3,P2,2025-02-03,Dysport,500,6,2,5"]


def run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture
def db(tmp_path):
    return tmp_path / "outcomes.duckdb"


def test_import_prints_the_validation_report_then_the_counts(tmp_path, db, capsys):
    path = write(tmp_path / "jan.csv", ROWS)
    code, out, _ = run(capsys, "import", path, "--db", db, "--label", "January")
    assert code == 0
    assert "January: 3 rows: 3 accepted, 0 rejected" in out
    assert out.index("3 accepted") < out.index("Imported batch 1 (January): 3 new, 0 updated, 0 unchanged")
    code, out, _ = run(capsys, "import", path, "--db", db, "--label", "January")
    assert code == 0 and "Nothing changed" in out and "imported before as batch 1" in out


def test_import_exit_codes_follow_validate(tmp_path, db, capsys):
    some_bad = write(tmp_path / "feb.csv", ROWS + ["S4,P3,2025-02-03,Botox,-1,6,2,5"])
    code, out, _ = run(capsys, "import", some_bad, "--db", db)
    assert code == 1 and "1 rejected" in out and "3 new" in out
    refused = write(tmp_path / "ids.csv", ["S1,P1,2025-01-06,Botox,200,8,4,3,x@y.org"], HEADER + ",Email")
    other_db = tmp_path / "other.duckdb"
    code, out, _ = run(capsys, "import", refused, "--db", other_db)
    assert code == 2 and "REFUSED" in out and "Nothing was imported" in out
    assert not other_db.exists()
    code, out, _ = run(capsys, "import", refused, "--db", other_db, "--drop-identifiers")
    assert code == 0 and "1 new" in out
    assert "x@y.org" not in repr(store.read_sessions(other_db).to_dict())


def test_import_json(tmp_path, db, capsys):
    path = write(tmp_path / "jan.csv", ROWS)
    code, out, _ = run(capsys, "import", path, "--db", db, "--json")
    data = json.loads(out)
    assert code == 0
    assert data["validation"]["accepted_rows"] == 3
    assert {k: data["import"][k] for k in ("batch_id", "new", "updated", "unchanged", "rejected", "changed")} == {
        "batch_id": 1, "new": 3, "updated": 0, "unchanged": 0, "rejected": 0, "changed": True}
    assert data["import"]["file_hash"] == store.file_hash(path)


def test_import_assessments(tmp_path, db, capsys):
    code, out, _ = run(capsys, "import", SAMPLE / "assessments.csv", "--assessments", "--db", db)
    assert code == 0 and "new, 0 updated, 0 unchanged assessments" in out
    assert len(store.read_assessments(db)) > 0 and store.is_empty(db)


def test_history_text_and_json(tmp_path, db, capsys):
    run(capsys, "import", write(tmp_path / "jan.csv", ROWS), "--db", db, "--label", "January")
    run(capsys, "import", write(tmp_path / "fix.csv", [ROWS[0].replace(",8,4,", ",8,1,")]), "--db", db,
        "--label", "January fix")
    code, out, _ = run(capsys, "history", "--db", db)
    assert code == 0
    lines = out.splitlines()
    assert "batch 2" in lines[1] and "January fix" in lines[1] and "0 new, 1 updated" in lines[1]
    assert "fix.csv" not in out and "jan.csv" not in out  # labels, never file names
    assert "batch 1" in lines[2] and "undo batch 2 first" in lines[2]
    code, out, _ = run(capsys, "history", "--db", db, "--json")
    data = json.loads(out)
    assert [r["batch_id"] for r in data["imports"]] == [2, 1]
    assert data["imports"][1]["can_undo"] is False and data["imports"][1]["blocked_by"] == "2"
    assert data["imports"][0]["mapping"]["session_id"] == "session_id"


def test_undo_and_its_refusals(tmp_path, db, capsys):
    run(capsys, "import", write(tmp_path / "jan.csv", ROWS), "--db", db)
    run(capsys, "import", write(tmp_path / "fix.csv", [ROWS[0].replace(",8,4,", ",8,1,")]), "--db", db)
    code, out, err = run(capsys, "undo", "1", "--db", db)
    assert code == 2 and "cannot be undone yet" in err and "Undo batch(es) 2 first" in err
    code, out, _ = run(capsys, "undo", "2", "--db", db)
    assert code == 0 and "Undid batch 2" in out and "restored 1" in out
    code, out, _ = run(capsys, "undo", "1", "--db", db)
    assert code == 0 and "removed 3" in out
    code, out, err = run(capsys, "undo", "1", "--db", db)
    assert code == 2 and "already undone" in err
    assert store.is_empty(db)


def test_summary_from_the_store_has_the_same_keys_and_values_as_from_the_file(tmp_path, db, capsys):
    path = SAMPLE / "sessions.csv"
    run(capsys, "import", path, "--db", db)
    code, from_file, _ = run(capsys, "summary", path, "--json", "--threshold", "50")
    assert code == 0
    code, from_store, _ = run(capsys, "summary", "--db", db, "--json", "--threshold", "50")
    assert code == 0
    file_summary, store_summary = json.loads(from_file), json.loads(from_store)
    assert set(REQUIRED_KEYS) <= set(store_summary)
    assert store_summary == file_summary
    code, text, _ = run(capsys, "summary", "--db", db)
    assert code == 0 and text.startswith(f"outcome store {db}, as of")


def test_summary_needs_a_file_or_the_store_not_both(tmp_path, db, capsys):
    code, _, err = run(capsys, "summary")
    assert code == 2 and "--db" in err
    code, _, err = run(capsys, "summary", SAMPLE / "sessions.csv", "--db", db)
    assert code == 2 and "not both" in err


def test_the_default_store_comes_from_outcomes_db(tmp_path, capsys, monkeypatch):
    target = tmp_path / "env" / "clinic.duckdb"
    monkeypatch.setenv("OUTCOMES_DB", str(target))
    code, out, _ = run(capsys, "import", write(tmp_path / "jan.csv", ROWS))
    assert code == 0 and f"Store: {target}" in out
    code, out, _ = run(capsys, "history")
    assert "jan.csv" not in out and "sessions  upload " in out  # a neutral label, never the file's name
    assert len(store.read_sessions(target)) == 3


def test_two_import_commands_at_once_store_each_session_once(tmp_path, db):
    days = pd.date_range("2020-01-01", periods=60).strftime("%Y-%m-%d")
    rows = [f"S{i},P{i % 50},{days[i // 50]},Botox,200,8,{i % 10},3" for i in range(3000)]  # 3,000 sessions
    path = write(tmp_path / "big.csv", rows)
    command = [sys.executable, "-m", "analytics", "import", str(path), "--db", str(db), "--json"]
    workers = [subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(2)]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    reports = sorted((json.loads(out)["import"] for out, _ in outputs), key=lambda r: r["new"])
    assert [(r["new"], r["unchanged"]) for r in reports] == [(0, 3000), (3000, 0)]
    stored = store.read_sessions(db)
    assert len(stored) == 3000 and stored["session_id"].is_unique
    assert len(store.history(db)) == 1


@pytest.mark.parametrize("command", [["summary", "--json"], ["history"], ["report", "--out", "{out}"]])
def test_reading_commands_refuse_a_mistyped_store_path_and_create_nothing(tmp_path, db, capsys, command):
    """`summary --db` with a typo exited 0 with an empty summary; now every reading command exits 2."""
    run(capsys, "import", SAMPLE / "sessions.csv", "--db", db)
    typo = tmp_path / "outcome.duckdb"
    args = [a.replace("{out}", str(tmp_path / "r.html")) for a in command]
    code, out, err = run(capsys, *args, "--db", typo)
    assert code == 2 and out == ""
    assert err == (f"error: There is no outcome store at {typo}: check the path (--db or OUTCOMES_DB), or import a "
                   "file to create one.\n")
    assert not typo.exists() and not (tmp_path / "r.html").exists()


def test_history_of_an_empty_default_store_is_refused_plainly(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OUTCOMES_DB", str(tmp_path / "none.duckdb"))
    code, _, err = run(capsys, "history")
    assert code == 2 and err.startswith("error: There is no outcome store at ")
