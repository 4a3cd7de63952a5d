"""The Overview page in AppTest: renders on the sample data, obeys the sidebar, shows the source and as-of."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np

from tests.app_support import app, metric, no_errors, plotly_charts, texts


def open_tab(at, name: str):
    """Choose an Overview tab, as a click on it does (the tabs rerun the page: only the open one is computed)."""
    at.session_state["overview_tab"] = name
    return at.run()


def test_overview_renders_sample_data_with_every_section():
    at = app()
    no_errors(at)
    assert at.title[0].value == "Overview"
    assert "Sample data" in texts(at)  # the banner
    assert [t.label for t in at.tabs] == ["Headline", "After an injection", "Over cycles", "Safety"]
    labels = [m.label for m in at.metric]
    assert labels[:3] == ["Patients", "Sessions", "Responder rate"] and len(labels) == 11
    assert int(metric(at, "Sessions").replace(",", "")) > 0
    responder = next(m for m in at.metric if m.label == "Responder rate")
    assert "95% CI" in responder.help and "Wilson" in responder.help
    # The first page: the KPI tiles and one chart (the p-chart); the other tabs are computed when opened.
    assert len(plotly_charts(at)) == 1 and "fig_pchart" in str(plotly_charts(at)[0].proto.id)
    assert [s.value for s in at.subheader if "month by month" in s.value]
    assert "Change per cycle" not in texts(at)  # the mixed model is not fitted for the first page
    expected = {"After an injection": (["fig_effect"], "After an injection"),  # one benefit chart (issue 13)
                "Over cycles": (["fig_waning"], "Across cycles"),
                "Safety": (["fig_safety"], "Adverse events")}
    for tab, (charts, heading) in expected.items():
        open_tab(at, tab)
        no_errors(at)
        ids = [str(c.proto.id) for c in plotly_charts(at)]
        assert len(ids) == len(charts) and all(any(c in i for i in ids) for c in charts), (tab, ids)
        assert any(heading in s.value for s in at.subheader), tab
        assert not at.metric  # the tiles are the Headline's
    open_tab(at, "After an injection")
    (at_risk,) = at.table  # the numbers at risk as a table under the chart, not text drawn in the plot
    assert list(at_risk.value.columns) == ["Day", "Sessions still followed up", "Still benefiting (95% CI)"]
    assert at_risk.value["Day"].iloc[0] == "0" and at_risk.value["Day"].iloc[3] == "84 (12 weeks)"
    assert "Median benefit" in texts(at)  # the chart's subtitle, written above it as text
    open_tab(at, "Over cycles")
    assert "Change per cycle" in texts(at)  # the mixed model's sentence
    assert "Shown: cycles 1 to " in texts(at) and "Not shown: cycles" not in texts(at)
    open_tab(at, "Headline")
    assert len(at.metric) == 11 and len(plotly_charts(at)) == 1


def test_source_and_as_of_are_always_in_the_sidebar():
    at = app()
    side = "\n".join(m.value for m in at.sidebar.markdown)
    assert "Data:" in side and "Sample data" in side
    assert "As of:" in side and "30 Sep 2026" in side


def test_a_site_filter_changes_the_figures():
    at = app()
    before = metric(at, "Sessions")
    at.multiselect(key="filter_site").select("North").run()
    no_errors(at)
    after = metric(at, "Sessions")
    assert after != before
    assert int(after.replace(",", "")) < int(before.replace(",", ""))
    assert "site: North" in texts(at)


def test_a_filter_change_works_the_chart_out_beside_the_tiles_and_shows_that_very_chart(monkeypatch):
    """Issue 12: on a filter change the p-chart's table (and the too-few check) is computed in a worker thread
    while the page's thread computes the tiles (two cores: at 10M sessions the tile waits for the slower, not
    both). It is computed once, for the selection on screen (the page takes the job it started, not a second
    computation), and the chart drawn is the one computed directly from the sample for that selection."""
    import threading

    import streamlit as st

    from analytics import first_page
    from analytics.ingest import load_sessions
    from analytics.sessions import derive_sessions

    sample = Path(__file__).resolve().parents[1] / "data" / "sample" / "sessions.csv"

    computed = first_page.pchart
    calls = []

    def counted(*args):
        calls.append((threading.current_thread().name, args[2]))
        return computed(*args)

    st.cache_data.clear()  # results of earlier tests of this process (the same sample and selections)
    monkeypatch.setattr(first_page, "pchart", counted)
    checked, too_few = [], first_page.too_few
    monkeypatch.setattr(first_page, "too_few",
                        lambda *a: checked.append(threading.current_thread().name) or too_few(*a))
    at = app()
    assert len(calls) == 1  # the sample's first page (no store keeps it ready)
    for site, chosen in (("North", ("North",)), ("South", ("North", "South"))):
        calls.clear()
        checked.clear()
        at.multiselect(key="filter_site").select(site).run()
        no_errors(at)
        assert len(calls) == 1 and calls[0][0].startswith("ahead"), calls
        assert len(checked) == 1 and checked[0].startswith("ahead")  # the too-few check too
        selection = calls[0][1]
        assert dict(selection.values)["site"] == chosen
        derived = derive_sessions(load_sessions(sample).data, first_page.Settings())
        as_of = derived["session_date"].max().normalize()
        direct, _ = computed(first_page.window(derived, selection, as_of), first_page.Settings(), selection,
                             derived["session_date"].min().normalize(), as_of,
                             first_page.followup_lag(derived, first_page.Settings()))
        (chart,) = plotly_charts(at)
        line = [t for t in json.loads(chart.proto.spec)["data"] if t.get("name") == "Monthly responder rate"][0]
        drawn = np.frombuffer(base64.b64decode(line["y"]["bdata"]), dtype=line["y"]["dtype"])
        complete = direct.loc[~direct["provisional"].to_numpy(dtype=bool), "rate"].to_numpy(dtype=float)
        assert len(complete) > 6 and np.allclose(drawn, complete, rtol=0, atol=1e-12)


def test_the_period_changes_the_figures():
    at = app()
    twelve = metric(at, "Sessions")
    at.selectbox(key="period").select("Last 3 months").run()
    no_errors(at)
    assert int(metric(at, "Sessions").replace(",", "")) < int(twelve.replace(",", ""))


def open_thresholds(at):
    at.session_state["exp_thresholds"] = True
    return at.run()


def test_a_threshold_changes_the_responder_rate_and_is_said():
    at = app()
    before = metric(at, "Responder rate")
    assert not at.number_input  # the thresholds are only drawn while their expander is open
    open_thresholds(at).number_input(key="w_setting_responder_threshold_pct").set_value(50.0).run()
    no_errors(at)
    assert metric(at, "Responder rate") != before
    side = "\n".join(c.value for c in at.sidebar.caption)
    assert "Thresholds changed from the defaults" in side and "Responder" in side
    at.session_state["exp_thresholds"] = False
    at.run()  # closed again: the threshold stays
    assert metric(at, "Responder rate") != before and not at.number_input
    at.switch_page("views/patients.py").run()
    assert "(50%)" in texts(at)  # every page uses it
    at.switch_page("views/overview.py").run()
    open_thresholds(at).button(key="reset_settings").click().run()
    assert metric(at, "Responder rate") == before


def test_as_of_date_moves_the_period():
    import datetime as dt
    at = open_thresholds(app())
    at.date_input(key="w_as_of").set_value(dt.date(2025, 6, 30)).run()
    no_errors(at)
    side = "\n".join(m.value for m in at.sidebar.markdown)
    assert "30 Jun 2025" in side
    assert "30 Jun 2025" in texts(at)


def test_filters_that_leave_nothing_say_what_to_do():
    at = app()
    at.multiselect(key="filter_site").select("South").run()
    at.multiselect(key="filter_practitioner_id").select("PR01").run()  # PR01 works at North only
    no_errors(at)
    message = "\n".join(w.value for w in at.warning)
    assert "No sessions match the filters" in message and "clear a filter" in message
    assert not at.metric


def test_tables_are_built_when_their_expander_opens_and_are_downloadable():
    at = app()
    assert not at.dataframe  # nothing built behind closed expanders: a faster first render
    for key in ("exp_kpis", "exp_effect", "exp_waning", "exp_pchart", "exp_safety"):
        at.session_state[key] = True
    at.run()
    no_errors(at)
    assert len(at.dataframe) == 2  # the Headline tab: the KPI and monthly tables
    kpis = at.dataframe[0].value
    assert "Responder rate" in kpis["figure"].tolist()
    downloads = {b.key for b in at.get("download_button")}
    for tab, tables in (("After an injection", 2), ("Over cycles", 1), ("Safety", 1)):
        open_tab(at, tab)
        no_errors(at)
        assert len(at.dataframe) == tables, tab
        downloads |= {b.key for b in at.get("download_button")}
    assert {"dl_kpis", "dl_effect", "dl_km", "dl_waning", "dl_pchart", "dl_safety"} <= downloads
