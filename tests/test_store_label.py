"""File names are data too: the store keeps a label (typed, or neutral: time and row count), never a file's name.

tests/data/store_v2.duckdb was written by the code of commit e4c5a04 (tests/data/make_v2_store.py): its import log
holds `Jane_Doe_DOB_1961-03-02.csv` and other names, and the text of a batch undone then (`undonetext-v2fix`).
The upgrade to schema 3 replaces the names by neutral labels and rewrites the file: a byte search finds none.
"""
from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from analytics import store
from analytics.cli import main
from analytics.ingest import load_sessions
from tests.test_store_compaction import KEEP, found, leftovers, store_bytes, write

DATA = Path(__file__).resolve().parent / "data"
V1, V2 = DATA / "store_v1.duckdb", DATA / "store_v2.duckdb"
NAMES_V2 = ("Jane_Doe", "1961-03-02", "corrected_by", "wrong_file", "undonetext-v2fix")
NAMES_V1 = ("jan_with_ids", "jan_without_ids", "s2_corrected", "assessments.csv")


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "store" / "outcomes.duckdb"


@pytest.fixture
def v2(tmp_path) -> Path:
    target = tmp_path / "old" / "outcomes.duckdb"
    target.parent.mkdir()
    shutil.copyfile(V2, target)
    return target


def meta(db: Path, name: str):
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT value FROM meta WHERE name = ?", [name]).fetchall()
    return rows[0][0] if rows else None


# ---- the label rules ---------------------------------------------------------------------------------------
def test_neutral_labels_say_the_time_and_the_rows_and_pass_the_check():
    assert store.neutral_label(datetime(2026, 11, 30, 14, 5), 2600) == "upload 2026-11-30 14:05, 2,600 rows"
    assert store.neutral_label(datetime(2026, 11, 30, 14, 5), 1) == "upload 2026-11-30 14:05, 1 row"
    big = store.neutral_label(datetime(2026, 1, 2, 3, 4), 1_234_567)
    assert big == "upload 2026-01-02 03:04, 1,234,567 rows" and store.check_label(big) == big


@pytest.mark.parametrize("typed, kept", [
    ("March export, north clinic", "March export, north clinic"),
    ("  March\texport\n ", "March export"),
    ("Clinic v2.3 (pilot)", "Clinic v2.3 (pilot)"),
    ("", ""), (None, ""), ("   ", ""),
])
def test_a_typed_label_is_tidied(typed, kept):
    assert store.check_label(typed) == kept


@pytest.mark.parametrize("typed, why", [
    ("jane.doe@example.com", "holds '@'"),
    ("call 07700 900123", "six digits or more"),
    ("NHS 943 476 5919", "six digits or more"),
    ("MRN 1234567", "six digits or more"),
    ("x" * 81, "at most 80"),
    ("Jane_Doe_DOB_1961-03-02.csv", "looks like a file name"),
    ("export.XLSX", "looks like a file name"),
    ("exports/march", "looks like a file name"),
    ("C:\\exports\\march", "looks like a file name"),
])
def test_a_label_that_could_identify_someone_is_refused_without_echoing_it(typed, why):
    with pytest.raises(store.StoreError, match=why) as caught:
        store.check_label(typed)
    assert typed.strip() not in str(caught.value)


def test_the_store_keeps_the_neutral_label_for_a_file_name_or_a_refused_label():
    when = datetime(2025, 3, 14, 9, 5)
    assert store.stored_label("Jane_Doe_DOB_1961-03-02.csv", 3, when) == "upload 2025-03-14 09:05, 3 rows"
    assert store.stored_label("ring 07700900123", 3, when) == "upload 2025-03-14 09:05, 3 rows"
    assert store.stored_label(None, 3, when) == "upload 2025-03-14 09:05, 3 rows"
    assert store.stored_label("March export", 3, when) == "March export"


def test_an_import_given_a_file_name_stores_the_neutral_label_and_not_the_name(tmp_path, db):
    path = write(tmp_path / "Jane_Doe_DOB_1961-03-02.csv", KEEP)
    report = store.import_result(load_sessions(path), store.file_hash(path), path.name, None, db)
    assert report.label.startswith("upload ") and report.label.endswith(", 1 row")
    assert "Jane_Doe" not in report.message() and f"({report.label})" in report.message()
    assert store.history(db)["label"].tolist() == [report.label]
    assert found(db, "Jane_Doe", "1961-03-02") == {"Jane_Doe": False, "1961-03-02": False}
    assert store.history(db)["file_hash"].tolist() == [store.file_hash(path)]  # the file is known by its hash


# ---- upgrading a store that kept file names ----------------------------------------------------------------
def test_the_fixture_is_a_schema_2_store_that_kept_file_names_and_undone_text():
    assert meta(V2, "schema_version") == "2"
    assert all(found(V2, *NAMES_V2).values())


def test_reading_a_schema_2_store_shows_neutral_labels_and_changes_nothing(v2, capsys):
    before = store_bytes(v2)
    log = store.history(v2)
    assert log["batch_id"].tolist() == [4, 3, 2, 1]
    assert [label.split(", ")[1] for label in log["label"]] == ["1 row", "2 rows", "1 row", "3 rows"]
    assert all(label.startswith("upload 2026-") for label in log["label"])
    assert "file_name" not in log.columns
    assert main(["history", "--db", str(v2), "--json"]) == 0
    shown = capsys.readouterr().out
    assert main(["history", "--db", str(v2)]) == 0
    shown += capsys.readouterr().out
    assert not any(name in shown for name in NAMES_V2[:4])
    assert store_bytes(v2) == before  # a reader does not upgrade


def test_the_first_write_upgrades_a_schema_2_store_and_no_file_name_is_left_in_its_bytes(v2, tmp_path):
    sessions_before = store.read_sessions(v2, meta=True)
    labels_before = store.history(v2)["label"].tolist()
    path = write(tmp_path / "apr.csv", KEEP)
    report = store.import_result(load_sessions(path), store.file_hash(path), "April", None, v2)
    assert report.batch_id == 5 and report.notes == [
        "The store was upgraded to schema 3: the import history now keeps a neutral label for each import (its time "
        "and row count) instead of the file's name (4 name(s) replaced), and the store file was rewritten so that "
        "the old names cannot be read from it.",
        "The store was upgraded to schema 4: it now keeps each session's cycle, interval, response and next session "
        "worked out (the derived session table), so the app and the summary read them ready."]
    assert meta(v2, "schema_version") == "4"
    assert found(v2, *NAMES_V2) == dict.fromkeys(NAMES_V2, False)
    assert leftovers(v2) == []
    log = store.history(v2)
    assert log["label"].tolist() == ["April", *labels_before]  # the labels readers showed are the ones written
    after = store.read_sessions(v2, meta=True)[sessions_before.columns].iloc[:-1]  # the new file adds a column
    assert after.reset_index(drop=True).equals(sessions_before.reset_index(drop=True))
    done = store.undo(3, v2)  # the upgraded store works: the assessments import is undone, named by its label
    assert done.message().startswith(f"Undid batch 3 ({labels_before[1]}): removed 2 assessment(s)")


def test_an_undo_refused_on_a_schema_2_store_names_the_label_and_leaves_it_as_it_was(v2):
    before = store_bytes(v2)
    with pytest.raises(store.StoreError) as caught:
        store.undo(4, v2)  # already undone
    assert str(caught.value).startswith("Batch 4 (upload 2026-") and "wrong_file" not in str(caught.value)
    assert store_bytes(v2) == before and meta(v2, "schema_version") == "2"


def test_upgrading_a_schema_1_store_removes_its_file_names_too(tmp_path):
    db = tmp_path / "v1" / "outcomes.duckdb"
    db.parent.mkdir()
    shutil.copyfile(V1, db)
    assert all(found(db, *NAMES_V1).values())
    store.undo(4, db)  # the assessments import
    assert meta(db, "schema_version") == "4"
    assert found(db, *NAMES_V1) == dict.fromkeys(NAMES_V1, False)
    assert store.history(db)["label"].str.startswith("upload ").all()


# ---- the command line --------------------------------------------------------------------------------------
def test_import_label_is_kept_and_a_bad_one_is_refused_before_any_work(tmp_path, db, capsys):
    path = write(tmp_path / "Jane_Doe_DOB_1961-03-02.csv", KEEP)
    code = main(["import", str(path), "--db", str(db), "--label", "ring 07700 900123"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and "six digits or more" in err and "07700" not in err
    assert not db.exists()
    code = main(["import", str(path), "--db", str(db), "--label", "Jane_Doe_DOB_1961-03-02.csv"])
    assert code == 2 and "looks like a file name" in capsys.readouterr().err and not db.exists()
    assert main(["import", str(path), "--db", str(db), "--label", "March export", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["import"]["label"] == "March export" and "file_name" not in data["import"]
    assert main(["history", "--db", str(db), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["imports"][0]["label"] == "March export"
    assert found(db, "Jane_Doe", "1961-03-02") == {"Jane_Doe": False, "1961-03-02": False}


def test_import_without_a_label_keeps_the_neutral_one(tmp_path, db, capsys):
    path = write(tmp_path / "Jane_Doe_DOB_1961-03-02.csv", KEEP)
    assert main(["import", str(path), "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "Imported batch 1 (upload " in out and "Jane_Doe" not in out.split("Imported batch 1")[1]
    assert store.history(db)["label"].iloc[0].endswith(", 1 row")
    assert not found(db, "Jane_Doe")["Jane_Doe"]
