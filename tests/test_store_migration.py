"""A store written by schema 1 (sessions keyed by session_id when given) opens, reads and upgrades to schema 2.

tests/data/store_v1.duckdb was written by the code of commit 787d403 (tests/data/make_v1_store.py): it holds
P1 on 2025-01-06 and P2 on 2025-02-03 twice (once with session_id S1/S3, once without), the bug of schema 1.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from analytics import store
from analytics.cli import main
from analytics.ingest import load_sessions

V1 = Path(__file__).resolve().parent / "data" / "store_v1.duckdb"
COLUMNS = ["patient_id", "session_date", "session_id", "followup_pain", "Referral", "batch_id", "line"]


@pytest.fixture
def db(tmp_path) -> Path:
    target = tmp_path / "outcomes.duckdb"
    shutil.copyfile(V1, target)
    return target


def rows(frame, columns=COLUMNS) -> list[tuple]:
    out = frame.reindex(columns=columns).astype(object).where(frame.reindex(columns=columns).notna(), None)
    out["session_date"] = out["session_date"].map(lambda d: d.strftime("%Y-%m-%d"))
    return [tuple(r) for r in out.itertuples(index=False)]


def table(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_the_fixture_is_a_schema_1_store_holding_two_sessions_twice(db):
    assert table(db, "SELECT value FROM meta WHERE name = 'schema_version'") == [("1",)]
    assert table(db, "SELECT count(*), count(DISTINCT (patient_id, session_date)) FROM sessions") == [(6, 4)]


def test_reading_a_schema_1_store_read_only_gives_each_session_once_and_changes_nothing(db):
    before = V1.read_bytes()
    stored = store.read_sessions(db, meta=True)
    assert rows(stored) == [
        ("P1", "2025-01-06", None, 4, None, 2, 2),
        ("P2", "2025-02-03", None, 1, None, 2, 3),
        ("P3", "2025-03-03", None, 7, None, 2, 4),
        ("P1", "2025-04-07", "S2", 3, "GP", 3, 2),
    ]
    assert store.stats(db)["sessions"] == 4 and store.stats(db)["patients"] == 3
    assert store.history(db)["held_back"].tolist() == [0, 0, 0, 0]
    store.require_store(db)
    assert db.read_bytes() == before  # a reader does not upgrade


def test_the_first_write_upgrades_in_one_transaction_and_sets_the_doubles_aside(db, tmp_path):
    path = tmp_path / "apr.csv"
    path.write_text("patient_id,session_date,product,total_units,baseline_pain,followup_pain\n"
                    "P4,2025-04-01,Botox,100,6,2\n")
    report = store.import_result(load_sessions(path), store.file_hash(path), "apr.csv", None, db)
    assert (report.batch_id, report.new, report.updated) == (5, 1, 0)
    assert report.notes == [
        "The store was upgraded to schema 2 (sessions are now matched by patient and date). It held 2 session(s) "
        "more than once (2 extra row(s)), from files given with and without session_id: the row of the newest "
        "import was kept and the other(s) set aside in the table migration_set_aside (and kept in the history, "
        "so undoing that import puts them back).",
        "The store was upgraded to schema 3: the import history now keeps a neutral label for each import (its time "
        "and row count) instead of the file's name (4 name(s) replaced), and the store file was rewritten so that "
        "the old names cannot be read from it.",
        "The store was upgraded to schema 4: it now keeps each session's cycle, interval, response and next session "
        "worked out (the derived session table), so the app and the summary read them ready."]
    assert report.notes[0] in report.message() and report.notes[1] in report.message()
    assert table(db, "SELECT value FROM meta WHERE name = 'schema_version'") == [("4",)]
    sep = "\x1f"
    assert table(db, "SELECT session_key, patient_id, session_id, followup_pain, extras, batch_id, line "
                     "FROM sessions ORDER BY batch_id, line") == [
        (f"{sep}P1{sep}2025-01-06", "P1", None, 4, None, 2, 2),
        (f"{sep}P2{sep}2025-02-03", "P2", None, 1, None, 2, 3),
        (f"{sep}P3{sep}2025-03-03", "P3", None, 7, None, 2, 4),
        (f"{sep}P1{sep}2025-04-07", "P1", "S2", 3, {"Referral": "GP"}, 3, 2),
        (f"{sep}P4{sep}2025-04-01", "P4", None, 2, None, 5, 2),
    ]
    assert table(db, "SELECT replaced_by, session_key, session_id, followup_pain, batch_id, line "
                     "FROM sessions_history ORDER BY replaced_by, line") == [
        (2, f"{sep}P1{sep}2025-01-06", "S1", 4, 1, 2),
        (2, f"{sep}P2{sep}2025-02-03", "S3", 2, 1, 4),
        (3, f"{sep}P1{sep}2025-04-07", "S2", 5, 1, 3),
    ]
    aside = table(db, "SELECT from_schema, reason, kept_batch, row_json, batch_id, line FROM migration_set_aside "
                      "ORDER BY line")
    assert [(a[0], a[2], a[4], a[5]) for a in aside] == [(1, 2, 1, 2), (1, 2, 1, 4)]
    assert aside[0][1] == ("upgrade to schema 2: patient P1 on 2025-01-06 was stored more than once (schema 1 keyed "
                           "sessions by session_id when a file gave one); kept the row of batch 2 line 2, set aside "
                           "this one (batch 1, line 2, session_id S1)")
    kept = json.loads(aside[1][3])
    assert (kept["session_id"], kept["followup_pain"], kept["extras"]) == ("S3", 2, {"Referral": "self"})
    assert len(table(db, "SELECT * FROM assessments")) == 2  # assessments keep their keys
    # nothing lost: undoing batch 2 (the file without session_id) puts S1 and S3 back as batch 1 wrote them
    done = store.undo(2, db)
    assert (done.removed, done.restored) == (1, 2) and done.notes == []
    assert rows(store.read_sessions(db, meta=True)) == [
        ("P1", "2025-01-06", "S1", 4, "GP", 1, 2),
        ("P2", "2025-02-03", "S3", 2, "self", 1, 4),
        ("P1", "2025-04-07", "S2", 3, "GP", 3, 2),
        ("P4", "2025-04-01", None, 2, None, 5, 2),
    ]


def test_a_refused_or_empty_write_leaves_the_schema_1_store_as_it_was(db, tmp_path):
    before = V1.read_bytes()
    path = tmp_path / "same.csv"  # the sessions of batch 2 again: nothing changes, so nothing is written
    path.write_text("patient_id,session_date,product,total_units,baseline_pain,followup_pain\n"
                    "P1,2025-01-06,Botox,200,8,4\nP2,2025-02-03,Dysport,500,6,1\nP3,2025-03-03,Xeomin,100,7,7\n")
    report = store.import_result(load_sessions(path), store.file_hash(path), "same.csv", None, db)
    assert (report.batch_id, report.unchanged, report.notes) == (None, 3, [])
    assert table(db, "SELECT value FROM meta WHERE name = 'schema_version'") == [("1",)]
    assert table(db, "SELECT count(*) FROM sessions") == [(6,)]
    with pytest.raises(store.StoreError, match="cannot be undone yet"):
        store.undo(1, db)
    assert table(db, "SELECT value FROM meta WHERE name = 'schema_version'") == [("1",)]
    assert db.read_bytes() == before


def test_the_cli_reads_a_schema_1_store_and_upgrades_it_on_undo(db, capsys):
    assert main(["summary", "--db", str(db), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sessions"] == 4
    assert main(["undo", "3", "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "Undid batch 3" in out and "The store was upgraded to schema 2" in out
    assert main(["summary", "--db", str(db), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["sessions"] == 4
