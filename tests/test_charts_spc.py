"""charts.spc: p-chart points, stepped limits, centre line, special causes in the Making Data Count colours."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.settings import Settings
from analytics.spc import p_chart_from_counts
from charts import theme
from charts.spc import (
    CENTRE_NAME, LANEY_LIMITS_NAME, LIMITS_NAME, PERIOD_TEXT, POINT_NAMES, PROVISIONAL_NAME, RATE_NAME, p_chart_figure,
)


def chart(last_responders: int = 5, months: int = 14) -> pd.DataFrame:
    counts = pd.DataFrame({
        "month": pd.date_range("2024-01-01", periods=months, freq="MS"),
        "n": [50 + 5 * (i % 3) for i in range(months)],
        "responders": [40 + (i % 3) for i in range(months)],
    })
    counts.loc[months - 1, "responders"] = last_responders  # far below the lower limit: a concern
    counts.loc[months - 2, "responders"] = counts.loc[months - 2, "n"]  # 100%: above the upper limit
    return p_chart_from_counts(counts, limits="p")


def by_name(fig):
    return {t.name: t for t in fig.data}


def test_points_are_split_by_type_with_the_nhs_colours_and_explanations():
    table = chart()
    fig = p_chart_figure(table, Settings())
    t = by_name(fig)
    concern = t[POINT_NAMES["special_cause_concern"]]
    improvement = t[POINT_NAMES["special_cause_improvement"]]
    common = t[POINT_NAMES["common_cause"]]
    assert concern.marker.color == theme.SPC_COLOURS["special_cause_concern"] == "#FAB428"
    assert improvement.marker.color == theme.SPC_COLOURS["special_cause_improvement"] == "#289DE0"
    assert common.marker.color == theme.SPC_COLOURS["common_cause"]
    kinds = table["point_type"].to_numpy()
    for trace, kind in ((concern, "special_cause_concern"), (improvement, "special_cause_improvement"),
                        (common, "common_cause")):
        rows = table.loc[kinds == kind]
        np.testing.assert_allclose(trace.y, rows["rate"])
        assert list(pd.to_datetime(trace.x)) == list(rows["month"])
        # the plain-words explanation of analytics.spc, with line breaks for the hover box
        assert [h.replace(".<br>", ". ") for h in trace.hovertext] == rows["explanation"].tolist()
    assert "Below the lower control limit" in concern.hovertext[-1]


def test_centre_line_and_limits_step_per_month():
    table = chart()
    fig = p_chart_figure(table)
    t = by_name(fig)
    centre = [trace for name, trace in t.items() if name.startswith(CENTRE_NAME)][0]
    assert centre.name == f"{CENTRE_NAME}: {theme.fmt_pct(table['centre'].iloc[0], 1)}"
    assert set(centre.y) == {table["centre"].iloc[0]}
    upper = t[LIMITS_NAME]
    lower = t["Lower control limit"]
    # two points (start and end of the month's step) per month
    np.testing.assert_allclose(upper.y, np.repeat(table["ucl"].to_numpy(), 2))
    np.testing.assert_allclose(lower.y, np.repeat(table["lcl"].to_numpy(), 2))
    assert len(upper.x) == 2 * len(table)


def test_titles_and_signal_summary():
    fig = p_chart_figure(chart(), Settings(responder_threshold_pct=40))
    sub = fig.layout.title.subtitle.text
    assert fig.layout.title.text.startswith("Is the responder rate changing?")
    assert "1 month of concern (Feb 2025)" in sub and "1 month of improvement (Jan 2025)" in sub
    assert "≥ 40% pain reduction" in sub
    assert fig.layout.yaxis.title.text == "Responders (%)"  # short: a long title ran off a phone
    assert fig.layout.xaxis.title.text == "Month of the injection"


def test_provisional_limits_are_said():
    fig = p_chart_figure(chart(months=8))
    assert "limits are provisional" in fig.layout.title.subtitle.text
    assert "limits are provisional" not in p_chart_figure(chart()).layout.title.subtitle.text


def test_empty_chart_gives_the_no_data_figure():
    assert theme.is_empty_figure(p_chart_figure(chart().iloc[0:0]))


# --- Laney p', the selected period, provisional months ------------------------------------------------------------

def windowed_chart() -> pd.DataFrame:
    """30 months of 100 sessions, rates alternating widely (overdispersed: Laney p'), the last two provisional,
    the period the last 6 months."""
    months = pd.date_range("2024-01-01", periods=30, freq="MS")
    counts = pd.DataFrame({"month": months, "n": 100,
                           "responders": [70 + (12 if i % 2 else -12) + (i % 5) for i in range(30)]})
    counts["provisional"] = [False] * 28 + [True] * 2
    table = p_chart_from_counts(counts)
    table.attrs.update(period_start=pd.Timestamp("2026-01-01"), period_end=pd.Timestamp("2026-06-30"))
    return table


def test_laney_limits_are_said_on_the_chart():
    table = windowed_chart()
    assert table.attrs["limits"] == "laney"
    fig = p_chart_figure(table)
    sub = fig.layout.title.subtitle.text
    assert f"Laney p' limits: months vary more than sessions alone explain (sigma_z = {table.attrs['sigma_z']:.1f})" \
        in sub
    assert "Laney p'" in fig.layout.title.text
    t = by_name(fig)
    assert LANEY_LIMITS_NAME in t and LIMITS_NAME not in t
    np.testing.assert_allclose(t[LANEY_LIMITS_NAME].y, np.repeat(table["ucl"].to_numpy(), 2))
    common = t[POINT_NAMES["common_cause"]]
    assert all("Laney p' limits for this month" in h for h in common.hovertext)
    # the binomial chart says so too
    plain = p_chart_figure(chart())
    assert "Binomial p-chart limits" in plain.layout.title.subtitle.text
    assert LIMITS_NAME in by_name(plain)


def test_provisional_months_are_hollow_with_a_dashed_connector():
    table = windowed_chart()
    fig = p_chart_figure(table)
    t = by_name(fig)
    provisional = t[PROVISIONAL_NAME]
    assert provisional.marker.symbol == "circle-open"
    assert list(pd.to_datetime(provisional.x)) == list(table["month"].iloc[-2:])
    assert all("Provisional: follow-ups still coming in" in h for h in provisional.hovertext)
    connector = t["Provisional connector"]
    assert connector.line.dash == "dash"
    assert list(pd.to_datetime(connector.x)) == list(table["month"].iloc[-3:])  # from the last complete month
    solid = t[RATE_NAME]
    assert len(solid.x) == 28
    # no other trace draws the provisional months as ordinary points
    others = [tr for tr in fig.data if tr.mode == "markers" and tr.name != PROVISIONAL_NAME]
    assert sum(len(tr.x) for tr in others) == 28


def test_selected_period_is_shaded_and_labelled():
    table = windowed_chart()
    fig = p_chart_figure(table)
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(rects) == 1
    assert isinstance(rects[0].x0, str)  # a datetime64 would reach the browser as nanoseconds, read as ms
    x0, x1 = pd.Timestamp(rects[0].x0), pd.Timestamp(rects[0].x1)
    assert pd.Timestamp("2025-12-01") < x0 < pd.Timestamp("2026-01-01")  # half-way to the month before
    assert pd.Timestamp("2026-06-01") < x1 < pd.Timestamp("2026-07-01")
    assert [a.text for a in fig.layout.annotations if a.text == PERIOD_TEXT] == [PERIOD_TEXT]
    # no period in the attrs (a report of the selection alone): nothing shaded
    assert not [s for s in p_chart_figure(chart()).layout.shapes if s.type == "rect"]


def test_a_big_clinic_s_narrow_chart_reads_its_ticks_with_a_decimal():
    # 40,000 sessions with a response a month: the limits are a point apart and whole percents read "85%, 85%"
    counts = pd.DataFrame({"month": pd.date_range("2024-01-01", periods=14, freq="MS"), "n": [40_000] * 14,
                           "responders": [34_000 + 40 * (i % 3) for i in range(14)]})
    fig = p_chart_figure(p_chart_from_counts(counts, limits="p"), Settings())
    assert fig.layout.yaxis.tickformat == ".1%"
    assert fig.layout.yaxis.range[1] - fig.layout.yaxis.range[0] < 0.1
    wide = p_chart_figure(chart(), Settings())  # 50 sessions a month, from 10% to 100%: whole percents
    assert wide.layout.yaxis.tickformat == ".0%"
