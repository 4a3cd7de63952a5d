"""The first page the store keeps ready (analytics/first_page.py, analytics/store_results.py): equal to the one
computed from the sessions, never used for another state of the store, and enough to draw the Overview of a fresh
server without reading a session."""
from __future__ import annotations

import math
import threading
from datetime import date, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import streamlit as st

from analytics import first_page, store, store_results
from analytics.ingest import load_sessions
from analytics.selection import choices
from analytics.sessions import derive_sessions
from analytics.settings import DEFAULT_SETTINGS
from tests.app_support import app, metric, no_errors, texts

SAMPLE_BYTES = (Path(__file__).resolve().parent.parent / "data" / "sample" / "sessions.csv").read_bytes()


def _import(db, data: bytes = SAMPLE_BYTES, name: str = "sessions.csv", **options):
    result = load_sessions(data, name=name)
    return store.import_result(result, store.file_hash(data), None, db_path=db, **options)


def _same(got, expected) -> None:
    if isinstance(expected, pd.DataFrame):
        pd.testing.assert_frame_equal(got, expected)
        assert got.attrs == expected.attrs
    elif isinstance(expected, tuple):
        assert isinstance(got, tuple) and len(got) == len(expected)
        for g, e in zip(got, expected):
            _same(g, e)
    else:
        assert type(got) is type(expected) and got == expected


@pytest.fixture
def db(tmp_path, monkeypatch):
    from views import context

    path = tmp_path / "outcomes.duckdb"
    monkeypatch.setenv("OUTCOMES_DB", str(path))
    st.cache_data.clear()
    st.cache_resource.clear()
    context._PRELOADED.clear()  # two stores imported in the same second share a version
    yield path
    st.cache_data.clear()
    st.cache_resource.clear()
    context._PRELOADED.clear()


def test_the_store_keeps_each_result_equal_to_the_one_computed_from_the_file(db):
    _import(db)
    data = load_sessions(SAMPLE_BYTES, name="sessions.csv").data
    expected = first_page.compute(derive_sessions(data, DEFAULT_SETTINGS), DEFAULT_SETTINGS, choices(data))
    assert [key[0] for key in expected] == list(first_page.STORED)
    version = store.data_version(db)
    for key, value in expected.items():
        _same(store.read_result(key, version, db), value)
    tiles = store.read_result(first_page.cache_key("kpis", DEFAULT_SETTINGS, first_page.default_selection(
        pd.Timestamp("2023-10-01"), pd.Timestamp("2026-09-30"), choices(data))), version, db)
    assert tiles.loc[tiles["kpi"] == "sessions", "value"].iloc[0] == len(data[data["session_date"] >= "2025-10-01"])


def test_a_result_of_another_state_of_the_store_is_never_read(db):
    _import(db)
    old = store.data_version(db)
    key = first_page.cache_key("followup_lag", DEFAULT_SETTINGS)
    assert store.read_result(key, old, db) == 32
    lines = SAMPLE_BYTES.decode("utf-8").splitlines()
    more = "\n".join(lines[:1] + ["Q" + line[1:].replace(",S0", ",T0", 1) for line in lines[1:40]]) + "\n"
    assert _import(db, more.encode("utf-8"), "more.csv", first_page=False).new == 39  # a part of a big import
    new = store.data_version(db)
    assert new != old
    assert store.read_result(key, old, db) is store_results.MISSING
    assert store.read_result(key, new, db) is store_results.MISSING
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM page_results").fetchone()[0] == 0


def test_undo_and_erasure_write_the_results_again_and_an_erased_code_is_gone_from_them(db):
    first = _import(db)
    flags = store.read_result(first_page.cache_key("flags", DEFAULT_SETTINGS), store.data_version(db), db)
    erased = str(flags["patient_id"].iloc[0])
    store.purge(erased, db)
    after = store.read_result(first_page.cache_key("flags", DEFAULT_SETTINGS), store.data_version(db), db)
    assert erased not in set(after["patient_id"]) and len(after) == len(flags) - 1
    assert erased.encode("utf-8") not in db.read_bytes()  # the old results were rewritten out of the file
    store.undo(first.batch_id, db)
    assert store.data_version(db) is None
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM page_results").fetchone()[0] == 0


def test_the_overview_of_a_fresh_server_reads_no_session_and_shows_the_computed_figures(db, monkeypatch):
    _import(db)
    with duckdb.connect(str(db)) as con:  # set the kept results aside: the figures computed from the sessions
        con.execute("CREATE TABLE kept AS SELECT * FROM page_results")
        con.execute("DELETE FROM page_results")
    computed = app()
    no_errors(computed)
    with duckdb.connect(str(db)) as con:
        con.execute("INSERT INTO page_results SELECT * FROM kept")
        assert con.execute("SELECT count(*) FROM page_results").fetchone()[0] == len(first_page.STORED)
        con.execute("DROP TABLE kept")
    st.cache_data.clear()
    st.cache_resource.clear()

    def no_reading(*args, **kwargs):
        raise AssertionError("the first page read the store's sessions")

    monkeypatch.setattr(store, "read_derived_base", no_reading)
    monkeypatch.setattr(store, "read_sessions", no_reading)
    fresh = app()
    no_errors(fresh)
    for label in ("Patients", "Sessions", "Responder rate", "Median response", "Benefit lasts", "Patients flagged",
                  "Followed up"):
        assert metric(fresh, label) == metric(computed, label)
    assert "Clinic store" in texts(fresh)
    assert len(fresh.get("plotly_chart")) == 1  # the p-chart, drawn from the kept table


def test_without_kept_results_the_overview_computes_them(db):
    _import(db, first_page=False)
    assert store.read_result(first_page.cache_key("followup_lag", DEFAULT_SETTINGS), store.data_version(db),
                             db) is store_results.MISSING
    at = app()
    no_errors(at)
    dates = load_sessions(SAMPLE_BYTES, name="sessions.csv").data["session_date"]
    assert metric(at, "Sessions") == f"{int((dates >= '2025-10-01').sum()):,}" == "1,075"  # the last 12 months


@pytest.mark.parametrize("value", [
    32, None, "fewer than 5 patients", 0.1 + 0.2, math.inf,
    {"a": pd.Timestamp("2026-09-30"), "b": pd.Timestamp("2026-09-30 12:00").as_unit("us"), "c": date(2026, 1, 2),
     "d": datetime(2026, 1, 2, 3, 4), "e": [1, (2, "x")], "f": np.int64(7), "g": np.float32(0.5),
     "h": np.bool_(True), "i": pd.NA, 3: "int key"},
])
def test_values_come_back_as_they_went_in(value):
    meta, frame = store_results.encode(value)
    assert frame is None
    back = store_results.decode(meta, frame)
    assert back == value and type(back) is type(value)
    if isinstance(value, dict):
        assert all(type(back[k]) is type(v) for k, v in value.items() if v is not pd.NA)
        assert back["b"].unit == "us" and back["a"].unit == value["a"].unit


def test_nan_comes_back_as_nan_and_a_table_keeps_its_dtypes_index_and_attrs():
    assert math.isnan(store_results.decode(*store_results.encode(float("nan"))))
    frame = pd.DataFrame({"text": pd.array(["a", None], dtype="str"), "n": pd.array([1, None], dtype="Int64"),
                          "x": pd.array([0.5, None], dtype="Float64"), "flag": pd.array([True, None], dtype="boolean"),
                          "month": pd.to_datetime(["2026-01-01", "2026-02-01"]).as_unit("us")}, index=[3, 9])
    frame.attrs = {"as_of": pd.Timestamp("2026-09-30"), "ratio": float("nan"), "hidden": ["month"]}
    back, hidden = store_results.decode(*store_results.encode((frame, 2)))
    pd.testing.assert_frame_equal(back, frame)
    assert hidden == 2 and back.attrs["as_of"] == frame.attrs["as_of"] and math.isnan(back.attrs["ratio"])
    assert back.attrs["hidden"] == ["month"]


def test_an_unknown_type_is_refused_rather_than_kept_wrong():
    with pytest.raises(TypeError, match="cannot be kept"):
        store_results.encode({"when": object()})


def _join_preloads() -> None:
    for thread in threading.enumerate():
        if thread.name == "preload-store-sessions":
            thread.join(60)


def _counted_reads(monkeypatch) -> list:
    """A list that gets one item each time the store's sessions are read (store.read_derived_base)."""
    reads = []
    real = store.read_derived_base
    monkeypatch.setattr(store, "read_derived_base", lambda *a, **k: reads.append(1) or real(*a, **k))
    return reads


def test_once_the_first_page_is_drawn_the_sessions_are_read_once_in_the_background(db, monkeypatch):
    _import(db)
    reads = _counted_reads(monkeypatch)
    at = app()
    no_errors(at)
    _join_preloads()
    assert reads == [1]  # read after the page was drawn from the kept results, so a filter change need not
    again = app()
    no_errors(again)
    _join_preloads()
    assert reads == [1]  # a later visit finds them read
    at.selectbox(key="period").select("Last 3 months").run()
    no_errors(at)
    assert reads == [1] and metric(at, "Sessions") != metric(again, "Sessions")


def test_a_result_computed_by_another_version_of_the_program_is_never_read(db, monkeypatch):
    _import(db)
    key = first_page.cache_key("followup_lag", DEFAULT_SETTINGS)
    assert store.read_result(key, store.data_version(db), db) == 32
    monkeypatch.setattr(first_page, "code_version", lambda: "a later version")
    assert store.read_result(key, store.data_version(db), db) is store_results.MISSING


def test_the_first_page_needs_only_its_input_columns():
    # an import reads only first_page.INPUT_COLUMNS from the store: every result must be the same as from every
    # column (the sample has patients whose flag rests on a change of muscles, so dropping them would show)
    data = load_sessions(SAMPLE_BYTES, name="sessions.csv").data
    derived = derive_sessions(data, DEFAULT_SETTINGS)
    full = first_page.compute(derived, DEFAULT_SETTINGS, choices(data))
    narrow = first_page.compute(derived[list(first_page.INPUT_COLUMNS)], DEFAULT_SETTINGS, choices(data))
    for key, value in full.items():
        _same(narrow[key], value)
    assert full[first_page.cache_key("flags", DEFAULT_SETTINGS)]["muscle_change"].any()


def test_the_first_page_command_computes_what_an_import_in_parts_skipped(db, capsys):
    from analytics.cli import main

    _import(db, first_page=False)
    key = first_page.cache_key("followup_lag", DEFAULT_SETTINGS)
    assert store.read_result(key, store.data_version(db), db) is store_results.MISSING
    assert main(["first-page", "--db", str(db)]) == 0
    assert "first page is kept ready" in capsys.readouterr().out
    assert store.read_result(key, store.data_version(db), db) == 32
    assert len(store.history(db)) == 1  # no batch: the sessions are as they were


def _counted_headline_reads(monkeypatch) -> list:
    """A list that gets one item each time the Headline's columns alone are read (store.read_derived of
    first_page.HEADLINE_INPUT)."""
    reads = []
    real = store.read_derived

    def counted(*args, **kwargs):
        if list(kwargs.get("columns") or ()) == list(first_page.HEADLINE_INPUT):
            reads.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "read_derived", counted)
    return reads


def test_a_registry_sized_store_reads_only_the_headline_in_the_background(db, monkeypatch):
    # reading every column holds the store's lock, and every visitor's audit row waits for it: at registry scale
    # (8 s at 10M sessions) only the Headline's columns are read in the background (0.8 s), enough for a filter
    # or period change on the Headline; every column is read when another tab needs them
    from views import context

    _import(db)
    monkeypatch.setattr(context, "PRELOAD_MAX_SESSIONS", 3_000)  # the sample holds 3,104 sessions
    reads, headline = _counted_reads(monkeypatch), _counted_headline_reads(monkeypatch)
    at = app()
    no_errors(at)
    before = metric(at, "Sessions")
    _join_preloads()
    assert (reads, headline) == ([], [1])
    at.selectbox(key="period").select("Last 3 months").run()
    no_errors(at)
    assert (reads, headline) == ([], [1]) and metric(at, "Sessions") != before
    at.multiselect(key="filter_site").select("North").run()
    no_errors(at)
    assert (reads, headline) == ([], [1])


def test_the_background_read_also_reads_what_every_filter_change_needs(db, monkeypatch):
    # issue 12: the flags and the follow-up lag the store keeps are read with the Headline's columns in the
    # background, so the first filter change reads nothing from the store (at 10M sessions 0.3 s + 0.1 s)
    from views import cache
    from views import context

    _import(db)
    cache._kept_keys.clear()  # listed for another store of an earlier test in this second
    monkeypatch.setattr(context, "PRELOAD_MAX_SESSIONS", 3_000)
    kept = []
    real = store.read_result
    monkeypatch.setattr(store, "read_result", lambda key, *a, **k: kept.append(key[0]) or real(key, *a, **k))
    at = app()
    no_errors(at)
    _join_preloads()
    assert {"flags", "followup_lag"} <= set(kept)
    assert {"kpis", "pchart", "too_few"} <= set(kept)  # the first page itself: read from the store
    kept.clear()
    at.multiselect(key="filter_site").select("North").run()
    no_errors(at)
    # nothing looked up at all: the store lists what it keeps (the default view's results), and a filter's
    # tiles, chart and too-few check are not among them, so it is not opened three times to find nothing
    assert kept == []
    assert int(metric(at, "Patients flagged").replace(",", "")) > 0


def test_the_store_lists_the_results_it_keeps_for_its_state(db):
    _import(db)
    version = store.data_version(db)
    data = load_sessions(SAMPLE_BYTES, name="sessions.csv").data
    computed = first_page.compute(derive_sessions(data, DEFAULT_SETTINGS), DEFAULT_SETTINGS, choices(data))
    expected = {store_results.key_text(key) for key in computed}
    assert len(expected) == 5  # flags, follow-up lag, tiles, p-chart, too-few check of the default view
    assert store.kept_result_keys(version, db) == expected
    assert store.kept_result_keys("another state", db) == frozenset()


def test_the_headline_read_from_the_store_is_the_one_made_from_every_column(db):
    from analytics.settings import DEFAULT_SETTINGS as defaults

    _import(db)
    for settings, sessions in ((defaults, 3104),
                               (defaults.with_changes(as_of=date(2025, 6, 30), responder_threshold_pct=40), 1767)):
        narrow = store.read_derived(db, settings=settings, columns=list(first_page.HEADLINE_INPUT))
        every = store.derived_for(store.read_derived_base(db), settings)
        assert len(narrow) == sessions
        pd.testing.assert_frame_equal(first_page.headline_base(narrow), first_page.headline_base(every))


def test_a_store_judging_flags_in_parts_keeps_the_same_first_page(db, monkeypatch):
    # at registry scale the import judges the flags on parts of whole patients (10M sessions' columns at once do
    # not fit); the sample cut into four parts keeps exactly what every session at once gives
    monkeypatch.setattr(store, "FIRST_PAGE_PART_SESSIONS", 1_000)  # 3,104 sessions: 4 parts
    seen = []
    real = store._read_derived
    monkeypatch.setattr(store, "_read_derived", lambda *a, **k: seen.append(a[5] if len(a) > 5 else None)
                        or real(*a, **k))
    _import(db)
    assert [p for p in seen if p is not None] == [(0, 4), (1, 4), (2, 4), (3, 4)]
    data = load_sessions(SAMPLE_BYTES, name="sessions.csv").data
    expected = first_page.compute(derive_sessions(data, DEFAULT_SETTINGS), DEFAULT_SETTINGS, choices(data))
    version = store.data_version(db)
    for key, value in expected.items():
        _same(store.read_result(key, version, db), value)


def _import_assessments(db, data: bytes, name: str = "assessments.csv"):
    from analytics.ingest import load_assessments

    result = load_assessments(data, name=name)
    return store.import_result(result, store.file_hash(data), name, db_path=db)


ASSESSMENTS_BYTES = (Path(__file__).resolve().parent.parent / "data" / "sample" / "assessments.csv").read_bytes()


def test_assessments_alone_keep_the_first_page_without_computing_it_again(db, monkeypatch):
    # the first page reads no assessment: a batch of them (or its undo) keeps what was kept, under the new state
    _import(db)
    key = first_page.cache_key("kpis", DEFAULT_SETTINGS, first_page.default_selection(
        pd.Timestamp("2023-10-01"), pd.Timestamp("2026-09-30"), choices(load_sessions(SAMPLE_BYTES).data)))
    tiles = store.read_result(key, store.data_version(db), db)

    def no_computing(*args, **kwargs):
        raise AssertionError("the first page was computed again for assessments")

    monkeypatch.setattr(store, "_refresh_results", no_computing)
    sessions_only = store.data_version(db)
    batch = _import_assessments(db, ASSESSMENTS_BYTES).batch_id
    version = store.data_version(db)
    assert batch == 2 and version != sessions_only
    assert store.read_result(key, sessions_only, db) is store_results.MISSING  # kept for the new state only
    _same(store.read_result(key, version, db), tiles)
    store.undo(batch, db)
    assert store.data_version(db) != version
    _same(store.read_result(key, store.data_version(db), db), tiles)


def test_assessments_after_an_import_that_kept_nothing_compute_the_first_page(db):
    _import(db, first_page=False)  # a part of a big import: nothing kept
    _import_assessments(db, ASSESSMENTS_BYTES)
    assert store.read_result(first_page.cache_key("followup_lag", DEFAULT_SETTINGS), store.data_version(db),
                             db) == 32
