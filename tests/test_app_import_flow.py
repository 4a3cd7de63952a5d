"""The Data page's import flow (issue 13, item 6), each hostile case of the review as a test: the import is the
primary action and says as which batch once done; undo asks first and says what it removes; the banner after an
import counts the rows it rejected; the report opens on its problems by type and 1,177 identical warnings never
hide 4 rejected rows; "Back to ..." names what the pages go back to; no server path and no doubled "Download" on
screen; no period, filters or thresholds on the Data page."""
from __future__ import annotations

import pytest

from analytics import store
from analytics.ingest import load_sessions
from tests.app_support import MESSY, app, no_errors, texts
from tests.helpers import csv_bytes, good_row
from tests.test_app_data import messy_dropped, report_groups, report_rows, upload

PAGE = "views/data.py"

# 1,177 accepted rows with the same warning (a Botox dose above 600 units), then 4 rejected rows (3 doses that are
# not numbers, 1 date before 1900) and 20 clean rows: by line, the rejected rows come after every warning.
WARNED, REJECTED = 1177, 4
FLOOD = ([good_row(f"P{i:04d}", units="700") for i in range(WARNED)]
         + [good_row(f"R{i}", units="Infinity") for i in range(3)] + [good_row("R3", day="1899-12-30")]
         + [good_row(f"G{i:02d}") for i in range(20)])


@pytest.fixture
def db(tmp_path, monkeypatch):
    path = tmp_path / "outcomes.duckdb"
    monkeypatch.setenv("OUTCOMES_DB", str(path))
    return path


def button(at, key):
    return next(b for b in at.button if b.key == key)


def flooded():
    return upload(app(PAGE), "flood.csv", csv_bytes(FLOOD))


def test_the_import_is_the_primary_action_and_then_says_as_which_batch(db):
    at = messy_dropped()
    no_errors(at)
    first = button(at, "store_import")
    assert first.label == "Import into the clinic's store"
    assert first.proto.type == "primary" and not first.disabled
    other = button(at, "use_data")
    assert other.label == "Look at this file without importing" and other.proto.type != "primary"

    first.click().run()
    no_errors(at)
    done = button(at, "store_import")
    assert done.label == "Imported as batch 1" and done.disabled
    assert "use_data" not in {b.key for b in at.button}  # nothing else to choose once imported
    assert "store_label" not in {t.key for t in at.text_input}
    assert "Imported batch 1 (upload" in texts(at)
    assert store.history(db)["batch_id"].tolist() == [1]


def test_an_import_undone_elsewhere_offers_the_import_again(db):
    at = messy_dropped()
    button(at, "store_import").click().run()
    store.undo(1, db)
    at.run()
    no_errors(at)
    again = button(at, "store_import")
    assert again.label == "Import into the clinic's store" and not again.disabled
    assert "This file was imported before" not in texts(at)  # batch 1 is undone: not in the store any more


def test_undo_asks_first_says_what_it_removes_and_cancel_keeps_everything(db):
    result = load_sessions(MESSY, drop_identifiers=True)
    store.import_result(result, store.file_hash(MESSY), "March export: north", None, db)
    at = app(PAGE)
    assert at.selectbox(key="undo_batch").options == ["Batch 1: March export: north"]  # plain text, no escapes
    button(at, "undo_button").click().run()
    no_errors(at)
    words = texts(at)
    assert "**Undo batch 1** (March export: north, imported " in words
    assert "507 rows in the file, 496 accepted, 11 rejected" in words
    assert "This will remove the **496 sessions** it added. Every user's figures change" in words
    assert len(store.read_sessions(db)) == 496  # asked, nothing removed yet
    assert {"undo_confirm", "undo_cancel"} <= {b.key for b in at.button}

    button(at, "undo_cancel").click().run()
    no_errors(at)
    assert len(store.read_sessions(db)) == 496
    assert store.history(db)["status"].tolist() == ["active"]
    assert "undo_confirm" not in {b.key for b in at.button}  # the dialog is closed

    button(at, "undo_button").click().run()
    button(at, "undo_confirm").click().run()
    no_errors(at)
    assert store.is_empty(db)
    assert store.history(db)["status"].tolist() == ["undone"]
    assert "Undid batch 1 (March export: north): removed 496 session(s)" in texts(at)


def test_after_importing_the_banner_counts_the_rows_the_import_rejected(db):
    at = flooded()
    button(at, "store_import").click().run()
    no_errors(at)
    banner = next(i.value for i in at.info if "In use now" in i.value)
    assert banner == ("**In use now:** the clinic's store: 1,197 sessions from 1 import. 4 rows of the imported "
                      "files were rejected and are not in the store (batch 1: 4).")
    assert "0 rows rejected" not in texts(at)


def test_the_report_opens_on_problems_by_type_and_the_warnings_do_not_hide_the_rejected_rows(db):
    at = flooded()
    no_errors(at)
    first_table = at.dataframe[0].value  # the first table of the page: the summary
    assert list(first_table.columns)[:3] == ["kind", "cells", "rows"]
    summary = report_groups(at)[["kind", "reason code", "column", "cells", "rows", "first lines"]]
    assert summary.values.tolist() == [
        ["rejected", "not_finite", "total_units", 3, 3, "1179, 1180, 1181"],
        ["rejected", "too_early", "session_date", 1, 1, "1182"],
        ["warning", "high_dose", "total_units", WARNED, WARNED, "2, 3, 4, 5, 6, ..."]]
    entries = report_rows(at)
    assert len(entries) == REJECTED + 20  # every rejected cell, the first 20 of the warnings
    assert entries["kind"].tolist() == ["rejected"] * REJECTED + ["warning"] * 20
    assert entries["line"].tolist()[:REJECTED] == [1179, 1180, 1181, 1182]
    assert f"{WARNED - 20:,} more warnings like them are in the full report" in texts(at)
    # a search still reaches every entry
    at.text_input(key="report_search").input("unusually high").run()
    assert len(report_rows(at)) == WARNED


def test_back_names_the_clinics_data_when_the_store_is_the_default(db):
    first = csv_bytes([good_row(f"S{i}", "2025-01-06") for i in range(6)])
    store.import_result(load_sessions(first), store.file_hash(first), "January", None, db)
    at = upload(app(PAGE), "other.csv", csv_bytes([good_row(f"U{i}", "2025-02-03") for i in range(6)]))
    button(at, "use_data").click().run()
    no_errors(at)
    assert button(at, "data_back_to_default").label == "Back to the clinic's data"
    assert next(b for b in at.sidebar.button if b.key == "back_to_default").label == "Back to the clinic's data"
    assert "Back to the sample data" not in [b.label for b in at.button]


def test_back_names_the_sample_when_the_sample_is_the_default(db):
    at = upload(app(PAGE), "other.csv", csv_bytes([good_row(f"U{i}", "2025-02-03") for i in range(6)]))
    button(at, "use_data").click().run()
    assert button(at, "data_back_to_default").label == "Back to the sample data"


def test_no_server_path_and_no_doubled_download_on_the_data_page(db):
    empty = app(PAGE)
    no_errors(empty)
    words = texts(empty)
    assert "data/sample" not in words and str(db) not in words and "duckdb" not in words
    assert "dl_messy_example" in {b.key for b in empty.get("download_button")}  # the example instead of a path
    at = messy_dropped()
    button(at, "store_import").click().run()
    page = app(PAGE)
    no_errors(page)
    everything = texts(page) + "\n".join(m.value for m in page.sidebar.markdown)
    assert str(db.parent) not in everything and "duckdb" not in everything
    labels = [b.label for b in page.get("download_button")]
    assert "Import history (CSV)" in labels
    assert not [label for label in labels if label.startswith("Download")]  # the icon already says it


def test_the_data_page_has_no_period_filters_or_thresholds_and_keeps_them_for_the_other_pages(db):
    at = app()
    at.multiselect(key="filter_site").select("North").run()
    at.selectbox(key="period").select("Last 6 months").run()
    at.switch_page(PAGE).run()
    no_errors(at)
    assert not at.sidebar.selectbox and not at.sidebar.multiselect and not at.sidebar.expander
    assert any("**Data:**" in m.value for m in at.sidebar.markdown)
    at.switch_page("views/overview.py").run()
    no_errors(at)
    assert at.multiselect(key="filter_site").value == ["North"]
    assert at.selectbox(key="period").value == "Last 6 months"
