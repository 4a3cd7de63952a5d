"""charts.theme: the palette, the no-data figure, labelled reference lines, number words; no Streamlit in charts/."""
from __future__ import annotations

from pathlib import Path

import pytest

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.settings import Settings
from charts import theme

CHARTS = Path(__file__).resolve().parents[1] / "charts"


def test_palette_is_okabe_ito():
    assert set(theme.PALETTE) == {"#000000", "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00",
                                  "#CC79A7"}
    assert theme.colour(0) == "#0072B2" and theme.colour(len(theme.PALETTE)) == theme.colour(0)
    assert theme.rgba("#0072B2", 0.2) == "rgba(0,114,178,0.2)"


def test_empty_figure_has_no_traces_and_says_so():
    fig = theme.empty_figure("Nothing here.", "A title")
    assert len(fig.data) == 0
    assert theme.is_empty_figure(fig)
    assert [a.text for a in fig.layout.annotations] == ["Nothing here."]
    assert fig.layout.title.text == "A title"
    assert not theme.is_empty_figure(go.Figure())


def test_reference_lines_are_named_and_found_in_subplots():
    fig = make_subplots(rows=2, cols=1)
    theme.add_vline(fig, 84, "12 weeks (84 days)", row=1, col=1)
    theme.add_hline(fig, 30, "30% responder threshold", row=2, col=1)
    assert theme.reference_lines(fig) == [("v", 84, "12 weeks (84 days)"), ("h", 30, "30% responder threshold")]
    # the vertical line's label is an annotation in the same panel
    labels = [a for a in fig.layout.annotations if a.text == "12 weeks (84 days)"]
    assert len(labels) == 1 and labels[0].x == 84 and labels[0].xref == "x"
    assert fig.layout.shapes[1].label.text == "30% responder threshold"


def test_base_layout_white_background_and_subtitle():
    fig = theme.base_layout(go.Figure(), "Title", "line one<br>line two")
    assert fig.layout.plot_bgcolor == "white" and fig.layout.paper_bgcolor == "white"
    assert fig.layout.title.subtitle.text == "line one<br>line two"
    assert fig.layout.margin.t == theme.title_space("line one<br>line two")
    assert fig.layout.hovermode == "closest"


def test_words_and_numbers():
    assert theme.weeks_label(84) == "12 weeks (84 days)"
    assert theme.weeks_label(112) == "16 weeks (112 days)"
    assert theme.weeks_label(100) == "100 days"
    assert theme.fmt_pct(0.8691, 1) == "86.9%" and theme.fmt_pct(np.nan) == "-" and theme.fmt_pct(pd.NA) == "-"
    assert theme.fmt_num(3104) == "3,104" and theme.fmt_num(None) == "-"
    assert theme.responder_rule(Settings(responder_threshold_pct=50)).startswith("Responder: ≥ 50% pain reduction")
    assert "≥ 8 points" in theme.responder_rule(Settings())
    assert theme.floats(pd.array([1.5, None], dtype="Float64")).tolist()[0] == 1.5
    assert np.isnan(theme.floats(pd.array([1.5, None], dtype="Float64"))[1])


def test_observed_end_stops_where_few_are_still_observed():
    day = np.arange(0, 10)
    at_risk = np.array([100, 90, 50, 20, 10, 9, 2, 1, 1, 0])
    assert theme.observed_end(day, at_risk) == 4  # at least 10 of 100
    assert theme.observed_end(day, at_risk, minimum=7) == 7


def test_suppression_words():
    table = pd.DataFrame({"group": ["a", "b"], "suppressed": [True, True],
                          "suppression": ["fewer than 5 patients", "complementary"]})
    assert theme.suppression_label(table) == ["suppressed (fewer than 5 patients)",
                                              "suppressed (so a small group cannot be worked out)"]
    assert theme.suppressed_mask(table).tolist() == [True, True]
    assert theme.suppressed_mask(table.drop(columns="suppressed")).tolist() == [False, False]


def test_no_streamlit_in_charts():
    for path in CHARTS.glob("*.py"):
        assert "streamlit" not in path.read_text(), path.name


def test_the_legend_goes_in_rows_under_the_plot_never_beside_it():
    # issue 13: a legend on the right squeezed a phone's plot to about 60 px; one inside covered bars
    fig = theme.base_layout(go.Figure(go.Scatter(x=[1], y=[1], name="a")), "Title", legend_title="Product")
    legend = fig.layout.legend
    assert (legend.orientation, legend.yref, legend.y, legend.yanchor) == ("h", "container", 0.0, "bottom")
    assert legend.title.text == "Product"
    assert fig.layout.margin.l + fig.layout.margin.r <= (1 - theme.MIN_PLOT_SHARE) * 360 - 40


def test_without_heading_gives_the_title_as_wrapping_text_and_keeps_it_in_meta():
    fig = theme.base_layout(go.Figure(), "Rate by <b>site</b>", "A &amp; E line one<br>line <b>two</b>")
    title, subtitle, body = theme.without_heading(fig)
    assert title == "Rate by site" and subtitle == ["A & E line one", "line two"]
    assert body.layout.title.text == "" and body.layout.meta["title"] == "Rate by <b>site</b>"
    assert body.layout.margin.t == 20  # the title's room given back to the plot
    assert fig.layout.title.text == "Rate by <b>site</b>"  # the figure itself (cached, and in the report) unchanged


@pytest.mark.parametrize(("low", "high", "expected"), [(0.83, 0.875, ".1%"), (0.0, 1.02, ".0%"),
                                                       (0.5, 0.6, ".0%"), (0.5, 0.599, ".1%")])
def test_a_narrow_percentage_axis_shows_a_decimal_so_its_ticks_differ(low, high, expected):
    assert theme.percent_ticks(low, high) == expected

