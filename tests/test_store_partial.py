"""Partial files update only what they carry; blank cells clear stored values only when the user allows it.

The hostile case of issue 8: an export lacking an optional column (followup_pain) marked every matched session
"updated" and erased the column; the responder rate became empty.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from analytics import store
from analytics.cli import main
from analytics.ingest import load_sessions
from analytics.store import ClearingNeeded
from tests.test_store import dump

HEADER = "session_id,patient_id,session_date,product,total_units,baseline_pain,followup_pain,wearing_off_days,Referral"
ROWS = [
    "S1,P1,2025-01-06,Botox,200,8,4,80,GP",
    "S2,P1,2025-04-07,Botox,200,8,5,,GP",
    "S3,P2,2025-02-03,Dysport,500,6,2,90,",
    "S4,P2,2025-05-05,Dysport,500,6,3,,self",
]


def write(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def drop(rows: list[str], header: str, *names: str) -> tuple[list[str], str]:
    """The rows and header without the named columns."""
    columns = header.split(",")
    keep = [i for i, c in enumerate(columns) if c not in names]
    return ([",".join(r.split(",")[i] for i in keep) for r in rows], ",".join(columns[i] for i in keep))


def do_import(path: Path, db: Path, **options) -> store.ImportReport:
    return store.import_result(load_sessions(path), store.file_hash(path), path.name, None, db, **options)


def values(db: Path, column: str) -> list:
    stored = store.read_sessions(db).sort_values("session_id")
    return [None if v is None or v is pd.NA or v != v else v for v in stored[column].astype(object)]


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "outcomes.duckdb"


def test_a_file_without_an_optional_column_keeps_its_stored_values(tmp_path, db, capsys):
    full = write(tmp_path / "jan.csv", ROWS)
    assert main(["import", str(full), "--db", str(db)]) == 0
    capsys.readouterr()
    assert main(["summary", "--db", str(db), "--json"]) == 0
    before = json.loads(capsys.readouterr().out)
    rows, header = drop(ROWS, HEADER, "followup_pain")
    partial = write(tmp_path / "export_without_followup.csv", rows, header)
    report = do_import(partial, db)
    assert (report.new, report.updated, report.unchanged, report.batch_id) == (0, 0, 4, None)
    assert report.absent_columns == {"followup_pain": 4}
    assert ("Not in this file, kept as stored: followup_pain (4 value(s))." in report.message())
    assert values(db, "followup_pain") == [4, 5, 2, 3]
    assert main(["summary", "--db", str(db), "--json"]) == 0
    after = json.loads(capsys.readouterr().out)
    assert after["responder_rate"] == before["responder_rate"] and after["responder_rate"] is not None
    assert after == before


def test_a_partial_file_updates_the_columns_it_has_and_keeps_the_others(tmp_path, db):
    do_import(write(tmp_path / "jan.csv", ROWS), db)
    rows, header = drop(ROWS, HEADER, "followup_pain", "Referral")
    rows[1] = rows[1].replace(",200,8,", ",250,8,")  # S2: 200 -> 250 units
    report = do_import(write(tmp_path / "fix.csv", rows, header), db)
    assert (report.new, report.updated, report.unchanged) == (0, 1, 3)
    assert report.absent_columns == {"followup_pain": 4, "Referral": 3}
    assert values(db, "total_units") == [200.0, 250.0, 500.0, 500.0]
    assert values(db, "followup_pain") == [4, 5, 2, 3]
    assert values(db, "Referral") == ["GP", "GP", None, "self"]
    done = store.undo(report.batch_id, db)
    assert (done.removed, done.restored) == (0, 1)
    assert values(db, "total_units") == [200.0, 200.0, 500.0, 500.0]


def test_blank_cells_that_would_clear_stored_values_need_allow_clearing(tmp_path, db):
    do_import(write(tmp_path / "jan.csv", ROWS), db)
    before = dump(db)
    blanked = [ROWS[0].replace(",8,4,80,GP", ",8,,80,"), ROWS[1].replace(",8,5,,GP", ",8,,,GP"), ROWS[2], ROWS[3]]
    path = write(tmp_path / "blanks.csv", blanked)
    with pytest.raises(ClearingNeeded) as caught:
        do_import(path, db)
    assert caught.value.counts == {"followup_pain": 2, "Referral": 1}
    assert re.fullmatch(
        r"Importing this file \(upload [\d-]+ [\d:]+, 4 rows\) would clear 3 stored value\(s\) \(followup_pain: 2, "
        r"Referral: 1\): its cells are blank where the store holds a value\. Nothing was imported\. Import again "
        r"allowing clearing to clear them, or fill the cells in\.", str(caught.value))
    assert isinstance(caught.value, store.StoreError)
    assert dump(db) == before  # nothing written
    report = do_import(path, db, allow_clearing=True)
    assert (report.updated, report.unchanged) == (2, 2)
    assert report.cleared == {"followup_pain": 2, "Referral": 1}
    assert "Cleared as the file asked: followup_pain (2 value(s)), Referral (1 value(s))." in report.message()
    assert values(db, "followup_pain") == [None, None, 2, 3]
    assert values(db, "Referral") == [None, "GP", None, "self"]
    store.undo(report.batch_id, db)  # the history kept the old rows
    assert values(db, "followup_pain") == [4, 5, 2, 3]
    assert dump(db)["sessions"] == before["sessions"]


def test_extra_columns_absent_from_the_file_keep_their_values_key_by_key(tmp_path, db):
    header = HEADER + ",Arm"
    do_import(write(tmp_path / "jan.csv", [r + ",A" for r in ROWS], header), db)
    rows, partial_header = drop([r + ",B" for r in ROWS], header, "Referral")  # Arm changes, Referral absent
    report = do_import(write(tmp_path / "arm.csv", rows, partial_header), db)
    assert (report.updated, report.unchanged) == (4, 0)
    assert report.absent_columns == {"Referral": 3}
    assert values(db, "Arm") == ["B", "B", "B", "B"]
    assert values(db, "Referral") == ["GP", "GP", None, "self"]
    again = do_import(tmp_path / "arm.csv", db)  # the merged rows hash like the stored ones: nothing changes
    assert (again.updated, again.unchanged, again.batch_id) == (0, 4, None)


def test_the_import_command_lists_what_it_would_clear_and_needs_allow_clearing(tmp_path, db, capsys):
    main(["import", str(write(tmp_path / "jan.csv", ROWS)), "--db", str(db)])
    capsys.readouterr()
    path = write(tmp_path / "blanks.csv", [ROWS[0].replace(",8,4,80,GP", ",8,,80,GP"), *ROWS[1:]])
    code = main(["import", str(path), "--db", str(db), "--label", "blanks"])
    out, err = capsys.readouterr()
    assert code == 2
    assert err == ("This file (blanks) has blank cells where the store holds values; importing it would clear 1 "
                   "stored value(s):\n  followup_pain: 1 stored value(s)\nNothing was imported: run again with "
                   "--allow-clearing to clear them.\n")
    assert len(store.history(db)) == 1 and values(db, "followup_pain") == [4, 5, 2, 3]
    code = main(["import", str(path), "--db", str(db), "--allow-clearing"])
    out, _ = capsys.readouterr()
    assert code == 0 and "0 new, 1 updated, 3 unchanged" in out and "followup_pain (1 value(s))" in out
    assert values(db, "followup_pain") == [None, 5, 2, 3]
