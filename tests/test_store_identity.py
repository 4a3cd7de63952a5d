"""One session identity: a session is its patient and date; session_id is an attribute that must agree with it.

The hostile case of issue 8: a file with session_id, then the same sessions without it (or the reverse), stored
every session twice and the summary counted 5,200 sessions for 2,600.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from analytics import store
from analytics.cli import main
from analytics.ingest import IngestResult, load_sessions
from tests.helpers import session_table

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample" / "sessions.csv"


def sample_files(tmp_path: Path) -> tuple[Path, Path]:
    """The first 2,600 sessions of the sample, with session_id and without the column."""
    lines = SAMPLE.read_text().splitlines()[:2601]
    with_ids = tmp_path / "with_ids.csv"
    with_ids.write_text("\n".join(lines) + "\n")
    header = lines[0].split(",")
    where = header.index("session_id")
    without = tmp_path / "without_ids.csv"
    without.write_text("\n".join(",".join(c for i, c in enumerate(line.split(",")) if i != where)
                                 for line in lines) + "\n")
    return with_ids, without


def run(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().out


@pytest.mark.parametrize("order", ["with_then_without", "without_then_with"])
def test_the_same_sessions_with_and_without_session_id_are_stored_once(tmp_path, capsys, order):
    with_ids, without = sample_files(tmp_path)
    first, second = (with_ids, without) if order == "with_then_without" else (without, with_ids)
    db = tmp_path / "outcomes.duckdb"
    code, out = run(capsys, "import", first, "--db", db)
    assert code == 0 and "2,600 new, 0 updated, 0 unchanged" in out
    code, out = run(capsys, "import", second, "--db", db)
    assert code == 0
    if order == "with_then_without":  # the file lacks session_id: the stored ones stay, nothing else differs
        assert "Nothing changed: all 2,600 accepted sessions of upload " in out  # a neutral label, not the file name
        assert "without_ids" not in out and "are already in the store" in out
        assert "Not in this file, kept as stored: session_id (2,600 value(s))." in out
    else:  # the second file adds the session_id of every session
        assert "0 new, 2,600 updated, 0 unchanged" in out
    code, out = run(capsys, "summary", "--db", db, "--json")
    assert code == 0 and json.loads(out)["sessions"] == 2600
    stored = store.read_sessions(db)
    assert len(stored) == 2600 and not stored.duplicated(["patient_id", "session_date"]).any()
    assert stored["session_id"].notna().all()  # the ids are there whichever file came first
    code, out = run(capsys, "summary", with_ids, "--json")
    assert json.loads(out)["sessions"] == 2600


def result_of(rows: list[dict], name: str = "file.csv") -> IngestResult:
    data = session_table(rows)
    data["line"] = range(2, len(data) + 2)
    result = IngestResult.from_accepted(data, name)
    result.column_map = {c: c for c in data.columns if c != "line"}
    return result


def test_a_session_id_the_store_holds_for_another_session_is_held_back_and_the_rest_imports(tmp_path):
    db = tmp_path / "outcomes.duckdb"
    store.import_result(result_of([{"session_id": "S1", "patient_id": "P1", "session_date": "2025-01-06"},
                                   {"session_id": "S2", "patient_id": "P2", "session_date": "2025-02-03"}]),
                        "h1", "jan.csv", None, db)
    report = store.import_result(result_of([
        {"session_id": "S3", "patient_id": "P3", "session_date": "2025-03-03"},
        {"session_id": "S1", "patient_id": "P9", "session_date": "2025-05-05"},  # S1 is P1's session
        {"session_id": "S2", "patient_id": "P2", "session_date": "2025-02-03", "total_units": 150.0},
    ], "feb.csv"), "h2", "feb.csv", None, db)
    assert (report.new, report.updated, report.unchanged) == (1, 1, 0)
    assert report.held_back == [{
        "line": 3, "session_id": "S1", "patient_id": "P9", "session_date": "2025-05-05",
        "stored_patient_id": "P1", "stored_session_date": "2025-01-06",
        "message": "session_id S1 already belongs to the session of patient P1 on 2025-01-06 in the store, not to "
                   "patient P9 on 2025-05-05: held back. Correct the session_id, or the patient or date, and "
                   "import the file again."}]
    assert "1 row(s) held back (not imported): their session_id belongs to another session" in report.message()
    stored = store.read_sessions(db)
    assert sorted(zip(stored["session_id"], stored["patient_id"])) == [("S1", "P1"), ("S2", "P2"), ("S3", "P3")]
    assert store.history(db).loc[0, "held_back"] == 1


def test_a_session_id_given_to_two_sessions_of_one_result_holds_both_back(tmp_path):
    db = tmp_path / "outcomes.duckdb"
    for target in (db, tmp_path / "other.duckdb"):  # into an empty store, then into one with rows
        if target == db:
            store.import_result(result_of([{"session_id": "S0", "patient_id": "P0", "session_date": "2025-01-01"}]),
                                "h0", "zero.csv", None, db)
        report = store.import_result(result_of([
            {"session_id": "S1", "patient_id": "P1", "session_date": "2025-01-06"},
            {"session_id": "S1", "patient_id": "P2", "session_date": "2025-01-06"},
            {"session_id": "S2", "patient_id": "P2", "session_date": "2025-02-06"},
        ]), "h1", "jan.csv", None, target)
        assert report.new == 1
        assert [(r["line"], r["patient_id"], r["message"]) for r in report.held_back] == [
            (2, "P1", "session_id S1 is given to more than one session in this file (lines 2, 3); here to patient "
                      "P1 on 2025-01-06: held back. A session_id names one session: correct it and import the file "
                      "again."),
            (3, "P2", "session_id S1 is given to more than one session in this file (lines 2, 3); here to patient "
                      "P2 on 2025-01-06: held back. A session_id names one session: correct it and import the file "
                      "again.")]
        assert "S1" not in set(store.read_sessions(target)["session_id"])


def test_a_file_giving_a_stored_session_a_new_session_id_updates_it(tmp_path):
    db = tmp_path / "outcomes.duckdb"
    store.import_result(result_of([{"session_id": "S1", "patient_id": "P1", "session_date": "2025-01-06"}]),
                        "h1", "a.csv", None, db)
    report = store.import_result(result_of([{"session_id": "X1", "patient_id": "P1",
                                             "session_date": "2025-01-06"}]), "h2", "b.csv", None, db)
    assert (report.new, report.updated, report.held_back) == (0, 1, [])
    assert store.read_sessions(db)["session_id"].tolist() == ["X1"]


def test_an_undo_that_would_give_one_session_id_to_two_sessions_is_refused(tmp_path):
    db = tmp_path / "outcomes.duckdb"
    store.import_result(result_of([{"session_id": "S1", "patient_id": "P1", "session_date": "2025-01-06"}]),
                        "h1", "a.csv", None, db)
    store.import_result(result_of([{"session_id": "X1", "patient_id": "P1", "session_date": "2025-01-06"}]),
                        "h2", "b.csv", None, db)  # batch 2: P1's session is now X1; S1 is free
    store.import_result(result_of([{"session_id": "S1", "patient_id": "P2", "session_date": "2025-02-02"}]),
                        "h3", "c.csv", None, db)  # batch 3 gives S1 to another session
    with pytest.raises(store.StoreError, match=r"Batch 2 \(b.csv\) cannot be undone yet: it would give a "
                                               r"session_id back to a session while a later import gave it to "
                                               r"another session: S1 \(batches 1, 3\)\. Undo batch\(es\) 3 first"):
        store.undo(2, db)
    assert sorted(store.read_sessions(db)["session_id"]) == ["S1", "X1"]
    store.undo(3, db)
    store.undo(2, db)
    assert store.read_sessions(db)["session_id"].tolist() == ["S1"]


def test_the_ingestion_rejects_one_session_id_on_two_sessions(tmp_path):
    path = tmp_path / "ids.csv"
    path.write_text("session_id,patient_id,session_date,product,total_units,baseline_pain\n"
                    "S1,P1,2025-01-06,Botox,100,5\nS1,P2,2025-02-06,Botox,100,5\nS2,P3,2025-02-06,Botox,100,5\n")
    result = load_sessions(path)
    assert result.data["session_id"].tolist() == ["S2"]
    assert result.rejected["reason"].tolist() == [
        "conflicts with line 3: session_id S1 is given to another session there, but here to patient P1 on "
        "2025-01-06; a session_id names one session: fix or remove one",
        "conflicts with line 2: session_id S1 is given to another session there, but here to patient P2 on "
        "2025-02-06; a session_id names one session: fix or remove one"]
