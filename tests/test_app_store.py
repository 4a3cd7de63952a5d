"""The Data page and the clinic's store: import after the report, the pages then show the store, history, undo."""
from __future__ import annotations

import pytest

from analytics import store
from tests.app_support import app, metric, no_errors, texts
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
    assert "The store (" in texts(data_page) and "is empty" in texts(data_page)


def test_import_then_every_page_reads_the_store_and_undo_empties_it(db):
    at = messy_dropped()
    at.button(key="store_import").click().run()
    no_errors(at)
    assert ("Imported messy_export.csv as batch 1: 496 new, 0 updated, 0 unchanged sessions; 11 rejected row(s) "
            "not imported.") in texts(at)
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
    no_errors(again)
    assert store.is_empty(db)
    assert "Undid batch 1 (messy_export.csv)" in texts(again)


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
    assert "Nothing changed: all 496 accepted sessions of messy_export.csv are already in the store" in texts(second)
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
    assert ("blanks.csv has blank cells where the store holds values: importing it would clear 2 stored value(s). "
            "Nothing has been imported.") in texts(at)
    assert "- followup_pain: 2 stored value(s)" in texts(at)
    assert len(store.history(db)) == 1  # nothing imported yet
    assert store.read_sessions(db)["followup_pain"].tolist() == [3, 3, 3]
    confirm = at.button(key="store_import_clearing")
    assert confirm.label == "Clear 2 stored values and import"
    confirm.click().run()
    no_errors(at)
    assert "Imported blanks.csv as batch 2: 0 new, 2 updated, 1 unchanged sessions" in texts(at)
    assert "Cleared as the file asked: followup_pain (2 value(s))." in texts(at)
    stored = store.read_sessions(db).sort_values("patient_id")
    assert stored["followup_pain"].isna().tolist() == [True, True, False]
