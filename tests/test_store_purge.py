"""`purge`: the right to erasure. Every row of one patient goes, in every batch, from the live tables, the history
and the rows set aside by an upgrade; the file is rewritten so that a byte search finds none of it; the log gets
one line that names no patient and cannot be undone; undoing an older batch cannot bring the patient back.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from analytics import store
from analytics.identifiers import pseudonymise
from analytics.ingest import load_assessments, load_sessions
from tests.test_store_compaction import GONE, KEEP, do_import, found, leftovers, store_bytes, write

ROOT = Path(__file__).resolve().parent.parent
V1 = ROOT / "tests" / "data" / "store_v1.duckdb"
PLANTED = ("ZQXPURGE01", "plantedtext-9f3a")
KEPT = ("ZQXKEEP02", "keeptext-5b7c")


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "store" / "outcomes.duckdb"


def assessments(tmp_path: Path, db: Path) -> None:
    path = tmp_path / "scores.csv"
    path.write_text("patient_id,session_date,days_after,pain,Visit\n"
                    "ZQXPURGE01,2025-02-03,14,3,scoretext-1c2d\nZQXKEEP02,2025-01-06,14,4,scoretext-8e9f\n")
    store.import_result(load_assessments(path), store.file_hash(path), None, None, db)


def test_purge_erases_one_patient_from_every_table_and_the_bytes_and_keeps_the_other(tmp_path, db):
    do_import(write(tmp_path / "a.csv", KEEP, GONE), db)
    assessments(tmp_path, db)
    assert all(found(db, *PLANTED, *KEPT, "scoretext-1c2d").values())  # the search finds what is stored
    done = store.purge("ZQXPURGE01", db)
    assert (done.batch_id, done.sessions, done.assessments, done.history_rows, done.set_aside) == (3, 1, 1, 0, 0)
    assert done.erased == 2 and done.emptied_batches == []
    assert found(db, *PLANTED, "scoretext-1c2d") == dict.fromkeys((*PLANTED, "scoretext-1c2d"), False)
    assert found(db, *KEPT, "scoretext-8e9f") == dict.fromkeys((*KEPT, "scoretext-8e9f"), True)
    assert leftovers(db) == []
    assert store.read_sessions(db)["patient_id"].tolist() == ["ZQXKEEP02"]
    assert store.read_assessments(db)["patient_id"].tolist() == ["ZQXKEEP02"]
    line = store.history(db).iloc[0]
    assert (line["batch_id"], line["kind"], line["status"], line["can_undo"], line["rows"]) == (
        3, "purge", "active", False, 2)
    assert line[["file_hash", "mapping"]].isna().all() and line["extra_columns"] == "[]"
    assert line["label"].startswith("erasure ") and line["label"].endswith(", 2 rows")
    assert "ZQXPURGE01" not in done.message() and "ZQXPURGE01" not in json.dumps(done.to_dict())
    assert done.message().startswith("Erased the patient's 1 session(s) and 1 assessment(s) from the store, in "
                                     "every import; recorded as batch 3 (erasure ")


def test_purge_after_a_later_update_erases_the_history_rows_and_undo_cannot_bring_the_patient_back(tmp_path, db):
    do_import(write(tmp_path / "a.csv", KEEP, GONE), db)
    do_import(write(tmp_path / "fix.csv", GONE.replace("plantedtext-9f3a", "plantednewer-4d5e")), db)
    assert all(found(db, "plantedtext-9f3a", "plantednewer-4d5e").values())  # the old version is in the history
    done = store.purge("ZQXPURGE01", db)
    assert (done.sessions, done.history_rows, done.emptied_batches) == (1, 1, [2])
    assert not any(found(db, "ZQXPURGE01", "plantedtext-9f3a", "plantednewer-4d5e").values())
    assert found(db, *KEPT) == dict.fromkeys(KEPT, True)
    log = store.history(db).set_index("batch_id")
    assert log.loc[2, ["status", "new", "updated", "can_undo"]].tolist() == ["active", 0, 1, True]  # as it was
    assert log.loc[1, "can_undo"]  # batch 2 no longer holds a row of batch 1
    undone = store.undo(2, db)  # undoing the update: nothing comes back
    assert (undone.removed, undone.restored) == (0, 0)
    assert store.read_sessions(db)["patient_id"].tolist() == ["ZQXKEEP02"]
    with pytest.raises(store.StoreError, match=r"Batch 3 \(erasure [^)]*\) is the erasure of a patient's rows: it "
                                               "cannot be undone"):
        store.undo(3, db)
    assert store.undo(1, db).removed == 1
    assert store.is_empty(db) and not any(found(db, *PLANTED).values())


def test_a_batch_whose_only_rows_were_the_patients_stays_in_the_log(tmp_path, db):
    do_import(write(tmp_path / "a.csv", KEEP), db)
    do_import(write(tmp_path / "b.csv", GONE), db)
    done = store.purge("ZQXPURGE01", db)
    assert done.emptied_batches == [2]
    assert "Batch(es) 2 held only this patient's rows: they stay in the import history with their counts as they " \
           "were; undoing them now changes nothing." in done.message()
    log = store.history(db).set_index("batch_id")
    assert log.loc[2, ["status", "accepted", "new", "can_undo"]].tolist() == ["active", 1, 1, True]
    assert (store.undo(2, db).removed, store.read_sessions(db)["patient_id"].tolist()) == (0, ["ZQXKEEP02"])


def test_purging_a_code_the_store_does_not_hold_changes_nothing(tmp_path, db):
    do_import(write(tmp_path / "a.csv", KEEP), db)
    before = store_bytes(db)
    with pytest.raises(store.PatientNotFound) as caught:
        store.purge("ZQXNOSUCH9", db)
    assert "ZQXNOSUCH9" not in str(caught.value) and "nothing was changed" in str(caught.value)
    assert store_bytes(db) == before
    with pytest.raises(store.StoreError, match="Give the code"):
        store.purge("  ", db)
    with pytest.raises(store.StoreMissing):
        store.purge("ZQXKEEP02", db.with_name("none.duckdb"))
    assert not db.with_name("none.duckdb").exists()


def test_purging_a_schema_1_store_upgrades_it_and_erases_the_rows_set_aside(tmp_path):
    db = tmp_path / "v1.duckdb"
    shutil.copyfile(V1, db)
    done = store.purge("P1", db)
    # P1: two live sessions, two assessments, two earlier versions (one set aside by the upgrade, one corrected)
    assert (done.sessions, done.assessments, done.history_rows, done.set_aside) == (2, 2, 2, 1)
    assert any("schema 3" in n for n in done.notes)
    with duckdb.connect(str(db), read_only=True) as con:
        for table in ("sessions", "assessments", "sessions_history", "assessments_history"):
            assert con.execute(f"SELECT count(*) FROM {table} WHERE patient_id = 'P1'").fetchone() == (0,)
        assert con.execute("SELECT json_extract_string(row_json, '$.patient_id') FROM migration_set_aside"
                           ).fetchall() == [("P2",)]
        assert con.execute("SELECT count(*) FROM migration_set_aside WHERE reason LIKE '%P1%'").fetchone() == (0,)
    assert sorted(store.read_sessions(db)["patient_id"]) == ["P2", "P3"]


def test_a_pseudonymised_store_is_purged_by_the_clinics_own_code(tmp_path, db, monkeypatch, capsys):
    from analytics.cli import main

    monkeypatch.setenv("OUTCOMES_PSEUDONYM_KEY", "clinic-secret-1")
    path = write(tmp_path / "a.csv", KEEP, GONE)
    result = load_sessions(path, pseudonymise_ids=True)
    store.import_result(result, store.file_hash(path), None, None, db)
    code = pseudonymise(__import__("pandas").Series(["ZQXPURGE01"]), b"clinic-secret-1").iloc[0]
    assert code in set(store.read_sessions(db)["patient_id"])
    assert main(["purge", "--patient", "ZQXPURGE01", "--db", str(db)]) == 1  # the raw code is not stored
    assert "the store holds pseudonymised codes" in capsys.readouterr().err
    monkeypatch.setenv("OUTCOMES_PSEUDONYM_KEY", "a-rotated-key")  # not the key the codes were made with
    assert main(["purge", "--patient", "ZQXPURGE01", "--pseudonymise", "--db", str(db)]) == 2
    assert "not the one the store's codes were made with" in capsys.readouterr().err
    assert len(store.read_sessions(db)) == 2
    monkeypatch.setenv("OUTCOMES_PSEUDONYM_KEY", "clinic-secret-1")
    assert main(["purge", "--patient", "ZQXPURGE01", "--pseudonymise", "--db", str(db)]) == 0
    assert code not in set(store.read_sessions(db)["patient_id"]) and len(store.read_sessions(db)) == 1
    assert not any(found(db, code, "plantedtext-9f3a").values())
    monkeypatch.delenv("OUTCOMES_PSEUDONYM_KEY")
    assert main(["purge", "--patient", "ZQXKEEP02", "--pseudonymise", "--db", str(db)]) == 2
    assert "needs the clinic's key" in capsys.readouterr().err and len(store.read_sessions(db)) == 1


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "analytics", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_the_purge_command_exit_codes_and_its_log_line(tmp_path, db):
    assert run("import", str(write(tmp_path / "a.csv", KEEP, GONE)), "--db", str(db)).returncode == 0
    done = run("purge", "--patient", "ZQXPURGE01", "--db", str(db))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Erased the patient's 1 session(s) and 0 assessment(s) from the store")
    assert "ZQXPURGE01" not in done.stdout + done.stderr
    assert not any(found(db, *PLANTED).values()) and all(found(db, *KEPT).values())
    again = run("purge", "--patient", "ZQXPURGE01", "--db", str(db))
    assert (again.returncode, again.stdout) == (1, "")
    assert again.stderr.startswith("error: No row of the patient code given is in the store") and \
           "ZQXPURGE01" not in again.stderr
    as_json = run("purge", "--patient", "ZQXNOSUCH9", "--db", str(db), "--json")
    assert as_json.returncode == 1 and json.loads(as_json.stdout)["purge"] is None
    missing = run("purge", "--patient", "ZQXPURGE01", "--db", str(tmp_path / "none.duckdb"))
    assert missing.returncode == 2 and "There is no outcome store" in missing.stderr
    history = run("history", "--db", str(db), "--json")
    line = json.loads(history.stdout)["imports"][0]
    assert {k: line[k] for k in ("batch_id", "kind", "status", "can_undo", "rows", "accepted")} == {
        "batch_id": 2, "kind": "purge", "status": "active", "can_undo": False, "rows": 1, "accepted": 0}
    text = run("history", "--db", str(db)).stdout
    assert "purge  erasure " in text and "1 rows erased (one patient, in every import); cannot be undone" in text
    refused = run("undo", "2", "--db", str(db))
    assert refused.returncode == 2 and "cannot be undone" in refused.stderr
