"""The audit trail (analytics/audit.py): rows written and read back exactly, filters, tidy text, append-only
through undo, purge and compaction, older stores, a read-only store, and concurrent writers losing nothing."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analytics import audit, store
from analytics.ingest import load_sessions
from analytics.store_compaction import is_pending, mark_pending
from tests.test_store_compaction import GONE, KEEP, do_import, found, write

ROOT = Path(__file__).resolve().parent.parent
V2 = ROOT / "tests" / "data" / "store_v2.duckdb"
V1 = ROOT / "tests" / "data" / "store_v1.duckdb"
T0 = datetime(2025, 3, 14, 9, 5, 0)


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "store" / "outcomes.duckdb"


def rows(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(r) for r in frame[audit.COLUMNS].itertuples(index=False, name=None)]


def meta(db: Path, name: str) -> str | None:
    with duckdb.connect(str(db), read_only=True) as con:
        found_ = con.execute("SELECT value FROM meta WHERE name = ?", [name]).fetchall()
    return found_[0][0] if found_ else None


def tables(db: Path) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'")
                .fetchall()}


def test_a_row_written_is_read_back_exactly_and_a_missing_store_is_created_empty(db):
    assert not db.exists()
    audit.record("Lead@Clinic.example", "lead", "view_patient", "P0042", db_path=db, when=T0)
    frame = audit.read(db)
    assert list(frame.columns) == audit.COLUMNS
    assert rows(frame) == [(pd.Timestamp("2025-03-14 09:05:00"), "Lead@Clinic.example", "lead", "view_patient",
                            "P0042", "ok")]
    assert str(frame["at"].dtype) == "datetime64[us]"
    assert store.is_empty(db) and store.history(db).empty  # a new store, every table, no session
    assert {"sessions", "assessments", "import_log", "meta", "audit_log"} <= tables(db)
    assert meta(db, "schema_version") == "4"


def test_rows_come_newest_first_and_an_aware_time_is_stored_in_utc(db):
    audit.record("a@x.org", "lead", "view_page", "Overview", db_path=db, when=T0)
    audit.record("a@x.org", "lead", "view_page", "Compare", db_path=db,
                 when=datetime(2025, 3, 14, 11, 0, tzinfo=timezone(timedelta(hours=1))))  # 10:00 UTC
    audit.record("a@x.org", "lead", "view_page", "Patients", db_path=db, when=T0)  # a tie: the later row first
    assert [(str(at), obj) for at, obj in audit.read(db)[["at", "object"]].itertuples(index=False)] == [
        ("2025-03-14 10:00:00", "Compare"), ("2025-03-14 09:05:00", "Patients"), ("2025-03-14 09:05:00", "Overview")]


def test_the_default_time_is_now_in_utc(db):
    before = datetime.now(timezone.utc).replace(tzinfo=None)
    audit.record("a@x.org", "lead", "sign_in", db_path=db)
    after = datetime.now(timezone.utc).replace(tzinfo=None)
    at = audit.read(db)["at"].iloc[0].to_pydatetime()
    assert before <= at <= after


def test_filters_by_since_user_any_case_and_action(db):
    for day, user, action, obj in ((1, "dr.khan@clinic.example", "view_patient", "P1"),
                                   (2, "Dr.Khan@Clinic.Example", "download", "patients.csv"),
                                   (3, "lead@clinic.example", "view_patient", "P2"),
                                   (4, "dr.khan@clinic.example", "view_patient", "P3")):
        audit.record(user, "practitioner", action, obj, db_path=db, when=datetime(2025, 3, day, 12))
    assert audit.read(db)["object"].tolist() == ["P3", "P2", "patients.csv", "P1"]
    assert audit.read(db, user="DR.KHAN@clinic.example")["object"].tolist() == ["P3", "patients.csv", "P1"]
    assert audit.read(db, action="view_patient")["object"].tolist() == ["P3", "P2", "P1"]
    assert audit.read(db, since=date(2025, 3, 2))["object"].tolist() == ["P3", "P2", "patients.csv"]
    assert audit.read(db, since="2025-03-03")["object"].tolist() == ["P3", "P2"]
    assert audit.read(db, since="2025-03-03T12:00:01Z")["object"].tolist() == ["P3"]
    assert audit.read(db, since=datetime(2025, 3, 3, 13, 0, tzinfo=timezone(timedelta(hours=2))))[
        "object"].tolist() == ["P3", "P2"]  # 11:00 UTC
    assert audit.read(db, since="2025-03-02", user="dr.khan@clinic.example", action="view_patient")[
        "object"].tolist() == ["P3"]
    assert rows(audit.read(db, user="nobody@clinic.example")) == []
    with pytest.raises(ValueError, match="since must be a date like 2025-03-14"):
        audit.read(db, since="14/03/2025")
    with pytest.raises(ValueError, match="'look' is not an audit action"):
        audit.read(db, action="look")


def test_an_unknown_action_is_a_value_error_and_writes_nothing(db):
    with pytest.raises(ValueError, match="'delete_everything' is not an audit action; the actions are: sign_in, "):
        audit.record("a@x.org", "lead", "delete_everything", db_path=db)
    assert not db.exists()


def test_control_characters_are_stripped_and_long_text_cut(db):
    audit.record("a@x.org\n", "lead\x00", "view_page", "Over\x1b[31mview\r\nFAKE 2025-01-01 root purge ok",
                 "refused:\tno\u2028role", db_path=db, when=T0)
    audit.record("b@x.org", "lead", "view_page", "x" * 500, db_path=db, when=T0)
    got = audit.read(db)
    assert rows(got.iloc[[1]]) == [(pd.Timestamp(T0), "a@x.org", "lead", "view_page",
                                    "Over [31mview FAKE 2025-01-01 root purge ok", "refused: no role")]
    assert got["object"].iloc[0] == "x" * 199 + "\u2026"


def test_no_store_gives_an_empty_frame_with_the_columns(tmp_path):
    frame = audit.read(tmp_path / "none.duckdb")
    assert list(frame.columns) == audit.COLUMNS and len(frame) == 0
    assert not (tmp_path / "none.duckdb").exists()
    assert audit.read(tmp_path / "none.duckdb", user="x@y.org", action="sign_in", since="2025-01-01").empty


def test_a_store_from_before_the_audit_trail_reads_empty_then_gets_the_table_without_a_rewrite(tmp_path, db):
    do_import(write(tmp_path / "a.csv", KEEP), db)
    with duckdb.connect(str(db)) as con:  # a schema-3 store written before the audit trail existed
        con.execute("DROP TABLE audit_log")
    assert "audit_log" not in tables(db)
    assert rows(audit.read(db)) == []  # a reader gets nothing, not an error
    inode = db.stat().st_ino
    audit.record("a@x.org", "analyst", "import", "batch 1", db_path=db, when=T0)
    assert "audit_log" in tables(db) and db.stat().st_ino == inode  # added in place, not rewritten
    assert audit.read(db)["object"].tolist() == ["batch 1"]
    assert store.read_sessions(db)["patient_id"].tolist() == ["ZQXKEEP02"]


@pytest.mark.parametrize("fixture, version", [(V2, "2"), (V1, "1")])
def test_an_older_store_reads_and_gets_the_table_on_the_first_audit_row_without_an_upgrade(tmp_path, fixture,
                                                                                           version):
    db = tmp_path / "old" / "outcomes.duckdb"
    db.parent.mkdir()
    shutil.copyfile(fixture, db)
    history_before = store.history(db)
    assert rows(audit.read(db)) == []
    audit.record("a@x.org", "lead", "view_page", "Data", db_path=db, when=T0)
    assert meta(db, "schema_version") == version  # a page visit does not upgrade (nor rewrite) the store
    assert audit.read(db)["object"].tolist() == ["Data"]
    assert store.history(db).equals(history_before)
    path = write(tmp_path / "apr.csv", KEEP)  # the next import upgrades it, and the audit row stays
    report = store.import_result(load_sessions(path), store.file_hash(path), "April", None, db)
    assert report.notes and meta(db, "schema_version") == "4"
    assert rows(audit.read(db)) == [(pd.Timestamp(T0), "a@x.org", "lead", "view_page", "Data", "ok")]


def test_undo_purge_and_compaction_keep_every_audit_row(tmp_path, db):
    do_import(write(tmp_path / "a.csv", KEEP, GONE), db)
    audit.record("a@x.org", "analyst", "import", "batch 1", db_path=db, when=T0)
    do_import(write(tmp_path / "b.csv", GONE.replace(",6,2,", ",6,1,")), db)
    audit.record("a@x.org", "analyst", "import", "batch 2", db_path=db, when=T0 + timedelta(minutes=1))
    store.undo(2, db)
    audit.record("a@x.org", "analyst", "undo", "batch 2", db_path=db, when=T0 + timedelta(minutes=2))
    done = store.purge("ZQXPURGE01", db)
    audit.record("a@x.org", "analyst", "purge", f"batch {done.batch_id}", db_path=db, when=T0 + timedelta(minutes=3))
    store.compact(db)
    assert audit.read(db)["object"].tolist() == ["batch 3", "batch 2", "batch 2", "batch 1"]
    assert audit.read(db)["action"].tolist() == ["purge", "undo", "import", "import"]
    assert not any(found(db, "ZQXPURGE01", "plantedtext-9f3a").values())  # the purge left no trace of the patient
    assert store.history(db)["kind"].tolist() == ["purge", "sessions", "sessions"]  # no audit row in the history


def test_record_never_compacts_even_when_a_compaction_is_pending(tmp_path, db):
    do_import(write(tmp_path / "a.csv", KEEP), db)
    with duckdb.connect(str(db)) as con:
        mark_pending(con)
    inode = db.stat().st_ino
    audit.record("a@x.org", "lead", "view_page", "Overview", db_path=db, when=T0)
    assert db.stat().st_ino == inode  # the file was not swapped for a rewritten one
    with duckdb.connect(str(db), read_only=True) as con:
        assert is_pending(con)  # left for the next import, undo or purge
    store.compact(db)
    assert audit.read(db)["object"].tolist() == ["Overview"]


def test_a_read_only_store_gives_an_audit_error_in_plain_words(tmp_path, db):
    do_import(write(tmp_path / "a.csv", KEEP), db)
    audit.record("a@x.org", "lead", "view_page", "Overview", db_path=db, when=T0)
    os.chmod(db, 0o444)
    try:
        with pytest.raises(audit.AuditError) as caught:
            audit.record("a@x.org", "lead", "view_page", "Compare", db_path=db)
        assert str(caught.value) == (f"The audit row could not be written: the outcome store {db} is read-only (no "
                                     "write permission). Make it writable for the program, or run on a copy that is.")
        assert isinstance(caught.value, store.StoreError)
        assert audit.read(db)["object"].tolist() == ["Overview"]  # still readable
    finally:
        os.chmod(db, 0o644)


def test_a_read_only_folder_without_a_lock_file_gives_an_audit_error(tmp_path, monkeypatch):
    db = tmp_path / "ro" / "outcomes.duckdb"
    real_open = os.open

    def denied(path, flags, *args):
        if str(path).endswith(".lock") and flags & os.O_CREAT:
            raise PermissionError(13, "Permission denied")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", denied)  # chmod does not stop root, so the OS answer is simulated
    with pytest.raises(audit.AuditError, match="The audit row could not be written: The outcome store .* cannot be "
                                                "written here \\(Permission denied\\)"):
        audit.record("a@x.org", "lead", "view_page", "Overview", db_path=db)


def test_a_busy_store_past_the_timeout_gives_an_audit_error(tmp_path, db):
    do_import(write(tmp_path / "a.csv", KEEP), db)
    with store.store_lock(db, exclusive=False):  # a reader in another thread holds the store
        errors = []
        worker = threading.Thread(target=lambda: errors.append(_try_record(db, 0.2)))
        worker.start()
        worker.join()
    assert len(errors) == 1 and isinstance(errors[0], audit.AuditError)
    assert str(errors[0]).startswith("The audit row could not be written: The outcome store ") and "busy" in str(
        errors[0])


def _try_record(db: Path, timeout: float):
    try:
        audit.record("a@x.org", "lead", "view_page", "Overview", db_path=db, lock_timeout=timeout)
    except Exception as err:  # noqa: BLE001 - the test looks at what was raised
        return err
    return None


def test_a_path_that_is_not_a_store_gives_an_audit_error(tmp_path):
    csv = write(tmp_path / "a.csv", KEEP)
    with pytest.raises(audit.AuditError, match="is not an outcome store"):
        audit.record("a@x.org", "lead", "view_page", "Overview", db_path=csv)
    assert csv.read_text().startswith("patient_id,")
    with pytest.raises(audit.AuditError, match="is a folder, not an outcome store"):
        audit.record("a@x.org", "lead", "view_page", "Overview", db_path=tmp_path)


def test_two_threads_recording_50_rows_each_lose_none(db):
    audit.record("setup@x.org", "lead", "sign_in", db_path=db, when=T0)
    failures = []

    def writer(name: str) -> None:
        for i in range(50):
            try:
                audit.record(f"{name}@x.org", "lead", "view_page", f"{name} {i}", db_path=db)
            except Exception as err:  # noqa: BLE001
                failures.append(err)

    threads = [threading.Thread(target=writer, args=(n,)) for n in ("one", "two")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    got = audit.read(db, action="view_page")
    assert len(got) == 100
    for name in ("one", "two"):
        mine = got[got["user"] == f"{name}@x.org"]
        assert sorted(mine["object"]) == sorted(f"{name} {i}" for i in range(50))
        assert mine["object"].tolist()[::-1] == [f"{name} {i}" for i in range(50)]  # newest first, in order


WRITER = """
import sys
from analytics import audit
for i in range(50):
    audit.record(sys.argv[2] + "@x.org", "lead", "view_page", f"{sys.argv[2]} {i}", db_path=sys.argv[1])
"""


def test_two_processes_recording_50_rows_each_lose_none(db):
    audit.record("setup@x.org", "lead", "sign_in", db_path=db, when=T0)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(db), name], cwd=ROOT, stderr=subprocess.PIPE,
                              text=True) for name in ("p1", "p2")]
    for proc in procs:
        assert proc.wait(timeout=120) == 0, proc.stderr.read()
    got = audit.read(db, action="view_page")
    assert len(got) == 100
    assert sorted(got["object"]) == sorted(f"{n} {i}" for n in ("p1", "p2") for i in range(50))


def test_os_user_is_the_login_name_or_unknown(monkeypatch):
    monkeypatch.setattr(audit.getpass, "getuser", lambda: "clinic\tadmin")
    assert audit.os_user() == "clinic admin"

    def fails():
        raise OSError("No username set in the environment")

    monkeypatch.setattr(audit.getpass, "getuser", fails)
    assert audit.os_user() == "unknown"


def test_records_give_iso_times_with_z(db):
    audit.record("a@x.org", "lead", "report", "html", db_path=db, when=T0)
    audit.record("a@x.org", "lead", "report", "xlsx", db_path=db, when=T0 + timedelta(microseconds=250))
    assert audit.records(audit.read(db)) == [
        {"at": "2025-03-14T09:05:00.000250Z", "user": "a@x.org", "role": "lead", "action": "report",
         "object": "xlsx", "outcome": "ok"},
        {"at": "2025-03-14T09:05:00Z", "user": "a@x.org", "role": "lead", "action": "report", "object": "html",
         "outcome": "ok"}]
