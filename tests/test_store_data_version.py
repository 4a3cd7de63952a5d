"""store.data_version: the key the app reloads the store's sessions by. It must change with every import, undo
and erasure, and must not change when only an audit row was added (every page visit adds one)."""
from __future__ import annotations

from analytics import audit, store
from tests.test_store_compaction import GONE, KEEP, do_import, write


def test_the_data_version_follows_the_data_and_not_the_audit_rows(tmp_path):
    db = tmp_path / "outcomes.duckdb"
    assert store.data_version(db) is None  # no store
    audit.record("a@clinic.example", "lead", "view_page", "Overview", db_path=db)
    assert db.exists() and store.data_version(db) is None  # a store of audit rows only holds no session
    do_import(write(tmp_path / "a.csv", KEEP), db)
    first = store.data_version(db)
    assert first is not None and len(first) == 32
    audit.record("a@clinic.example", "lead", "view_page", "Patients", db_path=db)
    assert store.data_version(db) == first
    do_import(write(tmp_path / "a.csv", KEEP), db)  # the same file again: nothing changed, no batch
    assert store.data_version(db) == first
    do_import(write(tmp_path / "b.csv", KEEP, GONE), db)
    second = store.data_version(db)
    assert second not in (first, None)
    store.undo(2, db)
    undone = store.data_version(db)
    assert undone not in (first, second, None)
    do_import(write(tmp_path / "b.csv", KEEP, GONE), db)
    again = store.data_version(db)
    store.purge("ZQXPURGE01", db)
    assert store.data_version(db) not in (first, second, undone, again, None)
    store.undo(1, db)  # the last session gone: empty again
    assert store.data_version(db) is None
