"""Markup in the data is drawn as text by every chart (issue 9, item 6).

Plotly reads a subset of HTML in every text it draws (titles, tick labels, legends, hover labels, annotations, text
on bars): a site named `<a href=...>` would be a live link. Each builder is given tables whose labels (site,
practitioner, product, muscle, adverse event, patient code, grouping column and its name) carry markup; the whole
figure (fig.to_dict(), walked recursively) must hold them only escaped, once, with the numbers and the order of
the groups as with plain names.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analytics import breakdowns, funnel, kaplan_meier, safety
from analytics.assessments import timeline
from analytics.ingest import load_assessments, load_sessions
from analytics.sessions import derive_sessions
from analytics.settings import Settings
from analytics.suppression import suppress_small_groups
from charts import theme
from charts.assessments import assessment_timeline_figure
from charts.breakdown import METRICS, breakdown_figure
from charts.funnel import funnel_figure
from charts.patient import patient_timeline_figure
from charts.safe_text import plotly_labels, plotly_text
from charts.safety import adverse_events_figure
from charts.survival import km_figure

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
S = Settings(min_group_patients=1)  # every group drawn, so every hostile label reaches the figure

LINK = '<a href="https://evil.example">x</a>'
BOLD = "<b>bold</b>"
IMG = "<img src=x onerror=alert(1)>"
TEX = "$\\href{https://evil.example}{y}$"
AMP = "A&E"
HOSTILE = (LINK, BOLD, IMG, TEX)
RAW = ("<a ", "</a>", "<img", "<b>bold", "bold</b>", "$", "https://evil.example\">")  # never in a figure
ESCAPED = ("&lt;a href=\"https://evil.example\"&gt;x&lt;/a&gt;", "&lt;b&gt;bold&lt;/b&gt;",
           "&lt;img src=x onerror=alert(1)&gt;", "&#36;\\href{https://evil.example}{y}&#36;")

SITES = {"North": LINK, "Central": BOLD, "South": IMG}
PRACTITIONERS = {"PR01": LINK, "PR02": BOLD, "PR03": IMG, "PR04": TEX, "PR05": AMP}
PRODUCTS = {"onabotulinumtoxinA": LINK, "abobotulinumtoxinA": BOLD, "incobotulinumtoxinA": IMG,
            "rimabotulinumtoxinB": AMP}
MUSCLES = {"trapezius": BOLD, "scalenes": IMG}  # no ':' or ';' (they separate muscles and units)
EVENTS = {"headache": IMG, "dysphagia": BOLD}


def strings(node):
    """Every string anywhere in a figure's dict (keys and values)."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from strings(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            yield from strings(value)
    elif hasattr(node, "tolist"):  # numpy arrays of labels
        yield from strings(node.tolist())


def assert_inert(fig, expected=ESCAPED) -> str:
    """No raw markup from the data anywhere in the figure, each expected escaped form somewhere, nothing escaped
    twice; returns all its text."""
    text = "\n".join(strings(fig.to_dict()))
    for raw in RAW:
        assert raw not in text, raw
    for escaped in expected:
        assert escaped in text, escaped
    assert "&amp;amp;" not in text and "&amp;lt;" not in text
    return text


def renamed(cell, names: dict[str, str]):
    """A list cell ('trapezius;splenius') with each name replaced by its hostile form."""
    if not isinstance(cell, str):
        return cell
    for old, new in names.items():
        cell = cell.replace(old, new)
    return cell


@pytest.fixture(scope="module")
def plain():
    return derive_sessions(load_sessions(SAMPLE / "sessions.csv").data, S)


@pytest.fixture(scope="module")
def hostile():
    data = load_sessions(SAMPLE / "sessions.csv").data
    data["site"] = data["site"].replace(SITES)
    data["practitioner_id"] = data["practitioner_id"].replace(PRACTITIONERS)
    data["product"] = data["product"].replace(PRODUCTS)
    data["muscles"] = data["muscles"].map(lambda cell: renamed(cell, MUSCLES))
    data["adverse_events"] = data["adverse_events"].map(lambda cell: renamed(cell, EVENTS))
    return derive_sessions(data, S)


# ---- the helper ------------------------------------------------------------------------------------------------
def test_plotly_text_escapes_what_plotly_reads_as_markup_and_nothing_else():
    assert plotly_text(LINK) == "&lt;a href=\"https://evil.example\"&gt;x&lt;/a&gt;"
    assert plotly_text(BOLD) == "&lt;b&gt;bold&lt;/b&gt;"
    assert plotly_text(TEX) == "&#36;\\href{https://evil.example}{y}&#36;"
    assert plotly_text(AMP) == "A&amp;E"  # drawn 'A&E'
    assert plotly_text("&lt;") == "&amp;lt;"  # a literal entity stays literal
    assert plotly_text("North Wing 'B' \"C\" %{y} 50%") == "North Wing 'B' \"C\" %{y} 50%"
    assert plotly_text(12) == "12"


def test_plotly_labels_is_the_same_escape_vectorised_and_keeps_order_and_index():
    values = pd.Series([LINK, AMP, "North", "<", ">&", TEX, "A&amp;E"], index=[5, 3, 9, 1, 0, 2, 7])
    out = plotly_labels(values)
    assert list(out.index) == [5, 3, 9, 1, 0, 2, 7]
    assert out.tolist() == [plotly_text(v) for v in values]
    assert out.nunique() == values.nunique()  # one-to-one: groups stay apart
    assert out.tolist()[4] == "&gt;&amp;"


# ---- every builder ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("by, names", [("site", SITES), ("practitioner_id", PRACTITIONERS), ("product", PRODUCTS)])
def test_breakdown_bars_show_markup_as_text_with_the_same_numbers_and_order(plain, hostile, by, names):
    for metric in METRICS:
        clean = breakdown_figure(breakdowns.breakdown(plain, by, S, km=True), by, metric, settings=S)
        fig = breakdown_figure(breakdowns.breakdown(hostile, by, S, km=True), by, metric, settings=S,
                               by_label=f"{BOLD} column")
        expected = [plotly_text(n) for n in names.values() if n in HOSTILE]
        assert_inert(fig, expected + ["&lt;b&gt;bold&lt;/b&gt; column"])
        # the bars in the table's order (each label escaped in its place) ...
        table = breakdowns.breakdown(hostile, by, S, km=True)
        groups = table.loc[~table["is_total"].astype(bool), "group"] if "is_total" in table else table["group"]
        assert list(fig.layout.yaxis.categoryarray) == plotly_labels(groups).tolist()[::-1]
        # ... with the same numbers as with the plain names
        hover = dict(zip(fig.data[0].y, fig.data[0].hovertext))
        counts = theme.bar_labels(fig)  # the line above each bar
        clean_counts = theme.bar_labels(clean)
        for group, text in zip(clean.data[0].y, clean.data[0].hovertext):
            escaped = plotly_text(names.get(group, group))
            assert hover[escaped] == text.replace(f"<b>{group}</b>", f"<b>{escaped}</b>"), (metric, group)
            # the same figures after the escaped name (on the name's line, or the next when the name is long)
            clean_label = clean_counts[group]
            assert clean_label.startswith(group)
            figures = clean_label[len(group):].removeprefix(": ").removeprefix("<br>")
            assert counts[escaped] in ((f"{escaped}: {figures}", f"{escaped}<br>{figures}") if figures else
                                       (escaped,)), (metric, group)


def test_suppressed_breakdown_groups_show_markup_as_text(hostile):
    table = suppress_small_groups(breakdowns.breakdown(hostile, "practitioner_id", Settings(), km=False),
                                  Settings())
    table.loc[table["group"] == LINK, "suppressed"] = True  # force the hatched bar for the link
    fig = breakdown_figure(table, "practitioner_id", settings=Settings())
    assert_inert(fig, [ESCAPED[0]])
    suppressed = [t for t in fig.data if t.name == "Suppressed (too few patients)"][0]
    assert ESCAPED[0] in suppressed.y and any(ESCAPED[0] in h for h in suppressed.hovertext)


def test_funnel_points_labels_and_hover_show_markup_as_text(plain, hostile):
    result = funnel.funnel(hostile, "practitioner_id")
    result["groups"] = result["groups"].assign(position="above 99.8%")  # every point labelled by its name
    fig = funnel_figure(result, f"Practitioner {IMG}", S)
    assert_inert(fig)
    points = [t for t in fig.data if t.mode == "markers+text"][0]
    assert sorted(points.text) == sorted(plotly_text(n) for n in PRACTITIONERS.values()) + \
        sorted(plotly_text(f"PR{i:02d}") for i in range(6, 11))
    clean = funnel_figure(funnel.funnel(plain, "practitioner_id"), "Practitioner", S)
    assert [t.name for t in clean.data][:5] == [t.name for t in funnel_figure(funnel.funnel(
        hostile, "practitioner_id"), "Practitioner", S).data][:5]  # the limits and overall rate as before


def test_km_curves_legend_hover_and_at_risk_row_show_markup_as_text(hostile):
    curves = kaplan_meier.km_curves_by_group(hostile, "site")
    summary = kaplan_meier.km_by_group(hostile, "site", S)
    fig = km_figure(curves, None, S, group_label=f"Site {BOLD}", summary=summary)
    text = assert_inert(fig, ESCAPED[:3])
    assert "Site &lt;b&gt;bold&lt;/b&gt;" in fig.layout.legend.title.text
    axis = fig.layout.yaxis2
    assert list(axis.tickvals) == list(axis.categoryarray)[::-1]
    assert all(plotly_text(n) in "".join(axis.ticktext) for n in SITES.values())
    assert sorted(axis.tickvals) == sorted(plotly_text(n) for n in SITES.values())
    assert "<span style='color:" in text  # our own markup still works


def test_km_by_two_columns_joins_then_escapes(hostile):
    curves = kaplan_meier.km_curves_by_group(hostile, ["site", "product"])
    fig = km_figure(curves, None, S)
    assert_inert(fig, ESCAPED[:3])
    assert any(" / " in t.name for t in fig.data if t.name)


def test_adverse_events_by_product_show_markup_as_text(hostile):
    by_type = safety.adverse_event_rates(hostile, None)
    by_product = safety.adverse_event_rates(hostile, "product")
    for rates in (by_type, by_product, {"type": by_type, "product": by_product}):
        fig = adverse_events_figure(rates)
        expected = ["&lt;img src=x onerror=alert(1)&gt;", "&lt;b&gt;bold&lt;/b&gt;"]
        text = assert_inert(fig, expected)
        if rates is not by_type:
            assert ESCAPED[0] in text and "A&amp;E" in text
    fig = adverse_events_figure(by_product.assign(group_by=f"product {IMG}"))
    assert "by product &lt;img" in fig.layout.title.text


def test_assessment_lines_show_markup_as_text():
    data = load_assessments(SAMPLE / "assessments.csv").data
    bands = sorted(data["dose_band"].dropna().unique())
    data["dose_band"] = data["dose_band"].replace(dict(zip(bands, (LINK, BOLD, IMG))))
    fig = assessment_timeline_figure(timeline(data, "pain", by="dose_band", settings=S), "pain", "dose_band",
                                     by_label=TEX, settings=S)
    assert_inert(fig)
    assert fig.layout.title.text.endswith("by " + ESCAPED[3])
    fig = assessment_timeline_figure(timeline(data, "pain", settings=S), BOLD, settings=S)  # a score by any name
    assert_inert(fig, [ESCAPED[1]])


def test_patient_timeline_shows_code_products_and_muscles_as_text(hostile):
    switched = hostile.groupby("patient_id")["product"].nunique()
    pid = switched[switched > 1].index[0]
    one = hostile.loc[hostile["patient_id"] == pid].copy()
    one["patient_id"] = BOLD
    one["muscles"] = one["muscles"].fillna("") + ";" + IMG  # every session names the img 'muscle'
    one.loc[one.index[::2], "muscles"] = "trapezius"  # the muscle set changes
    fig = patient_timeline_figure(one, S)
    text = assert_inert(fig, ESCAPED[1:3])
    assert fig.layout.title.text.startswith("Patient &lt;b&gt;bold&lt;/b&gt;:")
    switches = [a.text for a in fig.layout.annotations if str(a.text).startswith("product switch: ")]
    assert switches and all("<" not in s.removeprefix("product switch: ") for s in switches)
    assert "Dose: " + plotly_text(one["product"].iloc[0]) in text


def test_a_and_e_is_escaped_once(hostile):
    fig = breakdown_figure(breakdowns.breakdown(hostile, "product", S, km=False), "product", settings=S)
    assert "A&amp;E" in fig.data[0].y and "A&E" not in fig.data[0].y
    assert not any("&amp;amp;" in s for s in strings(fig.to_dict()))
