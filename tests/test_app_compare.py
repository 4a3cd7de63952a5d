"""The Compare page in AppTest: funnel plots with outliers named, breakdowns with counts and suppression."""
from __future__ import annotations

from tests.app_support import app, no_errors, plotly_charts, set_threshold, texts

PAGE = "views/compare.py"


def test_compare_renders_funnels_and_breakdowns():
    at = app(PAGE)
    no_errors(at)
    assert at.title[0].value == "Compare"
    assert len(plotly_charts(at)) == 7  # two funnels, four breakdowns, benefit duration by cycle
    said = texts(at)
    assert "Outside the 95% limits" in said or "is outside the 95% limits" in said
    assert "Adjusted for case mix" in said and "Not adjusted for dose" in said  # the funnel's caption
    assert "Limits not widened" in said or "Limits widened for variation" in said
    assert [t.value for t in at.toggle] == [True, True]  # "Adjust for case mix", on by default
    funnel_titles = [c.proto.spec for c in plotly_charts(at)[:2]]
    assert all("adjusted for case mix" in spec for spec in funnel_titles)
    tables = [d.value for d in at.dataframe]
    breakdown = next(t for t in tables if "responder rate" in t.columns and "with a response" in t.columns)
    assert {"sessions", "patients", "with a response", "responders"} <= set(breakdown.columns)


def test_the_case_mix_switch_shows_raw_rates():
    at = app(PAGE)
    at.toggle(key="funnel_adjust_practitioner_id").set_value(False).run()
    no_errors(at)
    assert "Raw rates, not adjusted for case mix" in texts(at)
    assert "raw: funnel plot" in plotly_charts(at)[0].proto.spec


def test_a_filter_changes_the_comparison():
    at = app(PAGE)
    before = [d.value.to_csv() for d in at.dataframe]
    at.multiselect(key="filter_product").select("onabotulinumtoxinA").run()
    no_errors(at)
    assert [d.value.to_csv() for d in at.dataframe] != before


def test_small_groups_are_suppressed():
    at = set_threshold(app(PAGE), "min_group_patients", 50)
    no_errors(at)
    tables = [d.value for d in at.dataframe]
    assert any((t.astype(str) == "suppressed").any().any() for t in tables)
    cycle = next(t for t in tables if "group" in t.columns and t["group"].astype(str).str.fullmatch(r"\d+").all()
                 and len(t) > 5)
    late = cycle.loc[cycle["group"].astype(int) > 15]
    assert (late["sessions"] == "suppressed").all() and (late["responder rate"] == "suppressed").all()


def test_breakdowns_name_products_and_indications_in_words():
    at = app(PAGE)
    no_errors(at)
    screen = [d.value for d in at.dataframe if "group" in d.value.columns]
    shown = set().union(*(set(t["group"].astype(str)) for t in screen))
    assert {"Botox (onabotulinumtoxinA)", "Dysport (abobotulinumtoxinA)", "Cervical dystonia"} <= shown
    assert not {"onabotulinumtoxinA", "abobotulinumtoxinA", "cervical_dystonia"} & shown
    spec = plotly_charts(at)[2].proto.spec  # the product breakdown's bars
    assert "Botox (onabotulinumtoxinA)" in spec and '"onabotulinumtoxinA"' not in spec
