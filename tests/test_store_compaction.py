"""After an undo the store file is rewritten: the text of the rows it removed cannot be read from its bytes.

Each test plants unique strings (in a patient code and an extra column), checks that a byte search of the store
file finds them while they are stored (so the search works), and that it finds none after the removal.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

import duckdb
import pytest

from analytics import store
from analytics.ingest import load_sessions
from tests.test_store import dump

HEADER = "patient_id,session_date,product,total_units,baseline_pain,followup_pain,Programme"
KEEP = "ZQXKEEP02,2025-01-06,Botox,200,8,4,keeptext-5b7c"
GONE = "ZQXPURGE01,2025-02-03,Dysport,500,6,2,plantedtext-9f3a"


def write(path: Path, *rows: str) -> Path:
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    return path


def do_import(path: Path, db: Path, label: str | None = None) -> store.ImportReport:
    return store.import_result(load_sessions(path), store.file_hash(path), label, None, db)


def store_bytes(db: Path) -> bytes:
    """Every byte of the store on disk: the database file and its write-ahead log, if any."""
    wal = Path(str(db) + ".wal")
    return db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def found(db: Path, *texts: str) -> dict[str, bool]:
    data = store_bytes(db)
    return {t: t.encode() in data for t in texts}


def leftovers(db: Path) -> list[str]:
    """Files beside the store other than the store and its lock (a temporary copy, a .wal)."""
    return sorted(p.name for p in db.parent.iterdir() if p.name not in (db.name, db.name + ".lock"))


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "store" / "outcomes.duckdb"


def test_after_an_undo_the_removed_rows_cannot_be_read_from_the_file(tmp_path, db):
    do_import(write(tmp_path / "a.csv", KEEP), db)
    do_import(write(tmp_path / "b.csv", GONE), db)
    assert found(db, "ZQXPURGE01", "plantedtext-9f3a", "keeptext-5b7c") == {
        "ZQXPURGE01": True, "plantedtext-9f3a": True, "keeptext-5b7c": True}
    done = store.undo(2, db)
    assert (done.removed, done.restored) == (1, 0)
    assert found(db, "ZQXPURGE01", "plantedtext-9f3a", "ZQXKEEP02", "keeptext-5b7c") == {
        "ZQXPURGE01": False, "plantedtext-9f3a": False, "ZQXKEEP02": True, "keeptext-5b7c": True}
    assert leftovers(db) == []  # no .wal, no temporary copy
    assert store.read_sessions(db)["patient_id"].tolist() == ["ZQXKEEP02"]
    assert store.history(db)["status"].tolist() == ["undone", "active"]
    with duckdb.connect(str(db), read_only=True) as con:  # the compaction mark went with the rewrite
        assert con.execute("SELECT name FROM meta ORDER BY name").fetchall() == [("hash_probe",),
                                                                                 ("schema_version",)]


def test_undoing_a_correction_removes_the_corrected_values_and_keeps_the_old_ones(tmp_path, db):
    do_import(write(tmp_path / "a.csv", KEEP), db)
    do_import(write(tmp_path / "fix.csv", KEEP.replace("keeptext-5b7c", "correction-77aa")), db)
    assert found(db, "correction-77aa", "keeptext-5b7c") == {"correction-77aa": True, "keeptext-5b7c": True}
    assert (store.undo(2, db).restored) == 1
    assert found(db, "correction-77aa", "keeptext-5b7c") == {"correction-77aa": False, "keeptext-5b7c": True}
    assert store.read_sessions(db)["Programme"].tolist() == ["keeptext-5b7c"]


def test_compaction_keeps_every_row_constraint_and_the_file_permissions(tmp_path, db):
    do_import(write(tmp_path / "a.csv", KEEP, GONE), db)
    do_import(write(tmp_path / "fix.csv", GONE.replace(",6,2,", ",6,1,")), db)
    os.chmod(db, 0o640)
    before = dump(db)
    done = store.compact(db)
    assert done.bytes_before > 0 and done.bytes_after > 0 and done.seconds >= 0
    assert dump(db) == before  # the same rows in every table, history included
    assert stat.S_IMODE(db.stat().st_mode) == 0o640
    assert leftovers(db) == []
    with duckdb.connect(str(db)) as con:
        with pytest.raises(duckdb.ConstraintException):  # meta keeps its primary key
            con.execute("INSERT INTO meta VALUES ('schema_version', 'x')")
        con.execute("INSERT INTO import_log (batch_id, kind, imported_at, status) VALUES (9, 'x', now(), 'x')")
        assert con.execute("SELECT held_back FROM import_log WHERE batch_id = 9").fetchone() == (0,)  # default
    assert store.undo(2, db).restored == 1  # and the store works as before


def test_a_compaction_that_failed_is_done_by_the_next_writer(tmp_path, db, monkeypatch):
    do_import(write(tmp_path / "a.csv", KEEP), db)
    do_import(write(tmp_path / "b.csv", GONE), db)
    real = store.compact_file

    def full_disk(path):
        raise store.StoreError("The change was saved, but the store file could not be rewritten (No space left)")

    monkeypatch.setattr(store, "compact_file", full_disk)
    with pytest.raises(store.StoreError, match="The change was saved"):
        store.undo(2, db)
    assert store.history(db)["status"].tolist() == ["undone", "active"]  # the undo itself was committed
    monkeypatch.setattr(store, "compact_file", real)
    report = do_import(tmp_path / "a.csv", db)  # changes nothing (rolled back), but the mark is still there
    assert report.batch_id is None
    assert found(db, "plantedtext-9f3a", "keeptext-5b7c") == {"plantedtext-9f3a": False, "keeptext-5b7c": True}


def test_a_store_reached_through_a_symlink_is_rewritten_in_place(tmp_path):
    real = tmp_path / "real" / "outcomes.duckdb"
    real.parent.mkdir()
    link = tmp_path / "link.duckdb"
    link.symlink_to(real)
    do_import(write(tmp_path / "a.csv", KEEP), link)
    do_import(write(tmp_path / "b.csv", GONE), link)
    store.undo(2, link)
    assert link.is_symlink() and link.resolve() == real.resolve()
    assert found(real, "plantedtext-9f3a", "keeptext-5b7c") == {"plantedtext-9f3a": False, "keeptext-5b7c": True}
    assert leftovers(real) == []


def test_compacting_a_missing_or_foreign_file_is_refused(tmp_path):
    with pytest.raises(store.StoreMissing):
        store.compact(tmp_path / "none.duckdb")
    other = tmp_path / "other.duckdb"
    with duckdb.connect(str(other)) as con:
        con.execute("CREATE TABLE t (x INTEGER)")
    with pytest.raises(store.StoreError, match="not an outcome store"):
        store.compact(other)
