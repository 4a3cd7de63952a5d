"""The Data page and the clinic's store: import after the report, the pages then show the store, history, undo."""
from __future__ import annotations

import re

import pytest

from analytics import audit, store
from tests.app_support import MESSY, app, metric, no_errors, texts
from tests.test_app_data import messy_dropped


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "outcomes.duckdb"
    monkeypatch.setenv("OUTCOMES_DB", str(path))
    return path


def test_empty_store_shows_the_sample_with_a_banner(db):
    at = app()
    no_errors(at)
    assert "the clinic's store is empty" in texts(at)
    data_page = app("views/data.py")
    assert "The clinic's store is empty" in texts(data_page) and str(db) not in texts(data_page)


def test_import_then_every_page_reads_the_store_and_undo_empties_it(db):
    at = messy_dropped()
    at.button(key="store_import").click().run()
    no_errors(at)
    assert re.search(r"Imported batch 1 \(upload [\d-]+ [\d:]+, 507 rows\): 496 new, 0 updated, 0 unchanged "
                     r"sessions; 11 rejected row\(s\) not imported\.", texts(at))
    assert store.history(db)["label"].str.startswith("upload ").all()  # never the file's name
    log = store.history(db)
    assert log[["batch_id", "accepted", "new", "rejected"]].values.tolist() == [[1, 496, 496, 11]]
    assert len(store.read_sessions(db)) == 496

    overview = app()
    no_errors(overview)
    assert "Clinic store" in texts(overview) and "Sample data" not in texts(overview)
    assert metric(overview, "Sessions") != metric(app_with_sample(), "Sessions")

    again = app("views/data.py")
    assert "1 import(s)" in texts(again)
    again.button(key="undo_button").click().run()
    assert len(store.read_sessions(db)) == 496  # the dialog asks first
    again.button(key="undo_confirm").click().run()
    no_errors(again)
    assert store.is_empty(db)
    assert re.search(r"Undid batch 1 \(upload [\d-]+ [\d:]+, 507 rows\)", texts(again))
    assert b"messy_export" not in db.read_bytes()
    changes = audit.read(db).query("action in ('import', 'undo')")  # local mode: the OS user, role local
    digest = store.file_hash(MESSY)[:16]
    assert changes[["user", "role", "action", "object", "outcome"]].values.tolist() == [
        [audit.os_user(), "local", "undo", "batch 1", "ok"],
        [audit.os_user(), "local", "import", f"batch 1, file {digest}", "ok"]]


def app_with_sample():
    """The Overview over the sample file (no store), for comparison."""
    import os

    saved = os.environ.pop("OUTCOMES_DB")
    os.environ["OUTCOMES_DB"] = saved + ".none"
    try:
        return app()
    finally:
        os.environ["OUTCOMES_DB"] = saved


def test_reimporting_the_same_file_changes_nothing_and_says_so(db):
    first = messy_dropped()
    first.button(key="store_import").click().run()
    second = messy_dropped()
    second.button(key="store_import").click().run()
    no_errors(second)
    assert re.search(r"Nothing changed: all 496 accepted sessions of this file \(upload [^)]*\) are already in the "
                     "store", texts(second))
    assert len(store.history(db)) == 1


def test_stored_assessments_are_shown_and_downloadable(db):
    from analytics.ingest import load_assessments
    from tests.app_support import ASSESSMENTS

    result = load_assessments(ASSESSMENTS)
    store.import_result(result, store.file_hash(ASSESSMENTS), ASSESSMENTS.name, None, db)
    at = app("views/data.py")
    no_errors(at)
    assert any(f"The stored repeated assessments ({result.n_accepted:,})" in e.label for e in at.expander)
    shown = next(d.value for d in at.dataframe if "days_after" in d.value.columns and "pain" in d.value.columns)
    assert len(shown) == result.n_accepted


def test_an_import_that_would_clear_stored_values_asks_first_with_the_counts(db):
    from analytics.ingest import load_sessions
    from tests.helpers import csv_bytes, good_row
    from tests.test_app_data import upload

    header = ["patient_id", "session_date", "product", "total_units", "baseline_pain", "followup_pain"]
    first = csv_bytes([good_row("P1", "2025-01-06"), good_row("P2", "2025-01-07"), good_row("P3", "2025-01-08")],
                      header)
    store.import_result(load_sessions(first), store.file_hash(first), "jan.csv", None, db)
    blanks = csv_bytes([good_row("P1", "2025-01-06", after=""), good_row("P2", "2025-01-07", after=""),
                        good_row("P3", "2025-01-08")], header)
    at = upload(app("views/data.py"), "blanks.csv", blanks)
    at.button(key="store_import").click().run()
    no_errors(at)
    assert re.search(r"This file \(upload [\d-]+ [\d:]+, 3 rows\) has blank cells where the store holds values: "
                     r"importing it would clear 2 stored value\(s\)\. Nothing has been imported\.", texts(at))
    assert "- followup_pain: 2 stored value(s)" in texts(at)
    assert len(store.history(db)) == 1  # nothing imported yet
    assert store.read_sessions(db)["followup_pain"].tolist() == [3, 3, 3]
    confirm = at.button(key="store_import_clearing")
    assert confirm.label == "Clear 2 stored values and import"
    confirm.click().run()
    no_errors(at)
    assert re.search(r"Imported batch 2 \(upload [^)]*\): 0 new, 2 updated, 1 unchanged sessions", texts(at))
    assert "Cleared as the file asked: followup_pain (2 value(s))." in texts(at)
    stored = store.read_sessions(db).sort_values("patient_id")
    assert stored["followup_pain"].isna().tolist() == [True, True, False]


def test_a_typed_label_is_kept_and_shown_and_one_that_could_identify_someone_is_refused(db):
    at = messy_dropped()
    at.text_input(key="store_label").input("Jane 07700900123").run()
    assert "six digits or more" in "\n".join(e.value for e in at.error)
    assert "store_import" not in {b.key for b in at.button} and store.history(db).empty  # no import (audit rows only)
    at.text_input(key="store_label").input("March export, north clinic").run()
    at.button(key="store_import").click().run()
    no_errors(at)
    assert "Imported batch 1 (March export, north clinic): 496 new" in texts(at)
    assert store.history(db)["label"].tolist() == ["March export, north clinic"]
    page = app("views/data.py")
    shown = next(d.value for d in page.dataframe if "Label" in d.value.columns)
    assert shown["Label"].tolist() == ["March export, north clinic"] and "File" not in shown.columns
