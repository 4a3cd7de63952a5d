"""The app's shared machinery: the error guard, the per-session memo for uploads, the thresholds in the sidebar."""
from __future__ import annotations

import logging
from dataclasses import fields

import pandas as pd
from streamlit.testing.v1 import AppTest

from analytics import selection
from analytics.settings import Settings, knobs
from views import sources


def test_every_threshold_of_settings_is_in_the_sidebar():
    adjustable = set(knobs())
    expected = {f.name for f in fields(Settings)} - {"as_of", "landmark_days"}
    assert adjustable == expected  # as_of has its own date input; landmark days are fixed at 12 and 16 weeks


def test_a_page_error_shows_a_short_message_and_logs_the_traceback(caplog):
    def page():
        from views import components

        def body():
            raise ValueError("boom")
        components.run_page(body)

    with caplog.at_level(logging.ERROR, logger="outcomes.app"):
        at = AppTest.from_function(page).run()
    assert not at.exception
    message = at.error[0].value
    assert "Something went wrong" in message and "reference" in message and "boom" not in message
    assert any("page failed" in r.getMessage() and r.exc_info for r in caplog.records)


def test_uploads_are_memoised_in_the_session_and_shared_data_in_the_process_cache():
    def page():
        import uuid

        import streamlit as st

        from views.cache import memo
        from views.sources import DataSource
        calls = st.session_state.setdefault("calls", [])
        upload = DataSource("Upload: x.csv", "upload", "abc", shared=False)
        shared = DataSource("Sample", "sample", uuid.uuid4().hex, shared=True)
        for source in (upload, upload, shared, shared):
            memo(source, "double", ("k",), lambda x: calls.append(x) or 2 * x, lambda: ((21,), {}))
        st.markdown(str(len(calls)))

    at = AppTest.from_function(page).run()
    assert at.markdown[0].value == "2"  # once per source: the second call of each is a cache hit
    memo = at.session_state["_memo"]
    assert list(memo) == [("double", ("abc", "k"))]  # only the upload's result is in the session


def test_an_upload_keeps_every_big_table_a_page_run_uses():
    # an uploaded file's Overview uses three big tables per run (the derived sessions, the Headline's base and
    # the flags): kept fewer, they would push each other out and be computed again on every rerun
    def page():
        import streamlit as st

        from views.cache import memo
        from views.sources import DataSource
        calls = st.session_state.setdefault("big_calls", [])
        upload = DataSource("Upload: x.csv", "upload", "abc", shared=False)
        for name in ("derive", "headline_base", "flags"):
            memo(upload, name, (name,), lambda n: calls.append(n) or n, lambda name=name: ((name,), {}), big=True)
        st.markdown(",".join(calls))

    at = AppTest.from_function(page).run()
    at.run()
    at.run()
    assert at.markdown[0].value == "derive,headline_base,flags"  # computed once each over three runs


def test_content_hash_depends_on_bytes_and_options():
    assert sources.content_hash(b"a") == sources.content_hash(b"a")
    assert sources.content_hash(b"a") != sources.content_hash(b"b")
    assert sources.content_hash(b"a", mapping={"x": "y"}) != sources.content_hash(b"a", mapping={})


def test_period_bounds():
    as_of, first = pd.Timestamp("2026-09-30"), pd.Timestamp("2023-10-01")
    assert selection.period_bounds("Last 12 months", as_of, first) == (pd.Timestamp("2025-10-01").date(), as_of.date())
    assert selection.period_bounds("Last 3 months", as_of, first)[0] == pd.Timestamp("2026-07-01").date()
    assert selection.period_bounds("All data", as_of, first) == (None, as_of.date())
    assert selection.period_bounds("Last 12 months", as_of, pd.Timestamp("2026-08-01"))[0] == \
        pd.Timestamp("2026-08-01").date()


def test_filters_mask_and_period():
    frame = pd.DataFrame({"site": ["A", "B", None], "session_date": pd.to_datetime(
        ["2025-01-01", "2025-02-01", "2025-03-01"])})
    assert selection.value_mask(frame, (("site", ("A",)),)).tolist() == [True, False, False]
    assert selection.value_mask(frame, (("site", ()),)).tolist() == [True, True, True]
    assert selection.period_mask(frame, pd.Timestamp("2025-02-01").date(), None).tolist() == [False, True, True]


def test_default_file_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv(sources.DATA_FILE_ENV, raising=False)
    assert sources.default_file() == (sources.SAMPLE_FILE, "sample")
    monkeypatch.setenv(sources.DATA_FILE_ENV, str(tmp_path / "big.csv"))
    assert sources.default_file() == ((tmp_path / "big.csv").resolve(), "file")
