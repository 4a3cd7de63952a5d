"""charts.survival: KM step curves, CI band, landmark and median marks, and the at-risk row under the chart."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.kaplan_meier import at_risk_at, km_by_group, km_curve, km_curves_by_group, median_from_curve
from analytics.schema import SESSION_DTYPES
from analytics.sessions import derive_sessions
from analytics.settings import Settings
from analytics.suppression import suppress_small_groups
from charts import theme
from charts.survival import ALL, at_risk_table, km_figure

S = Settings()
DURATIONS = [30, 60, 60, 90, 100, 120, 150, 200]
EVENTS = [True, True, False, True, True, False, True, False]


def curve_traces(fig):
    return [t for t in fig.data if t.mode == "lines" and t.fill is None]


def text_traces(fig):
    return [t for t in fig.data if t.mode == "text"]


def test_single_curve_steps_band_and_values():
    curve = km_curve(DURATIONS, EVENTS)
    fig = km_figure(curve, None, S)
    names = [t.name for t in fig.data]
    assert names[0] == "95% confidence band"
    line = curve_traces(fig)[0]
    assert line.name == f"{ALL} (8 sessions)" and line.line.shape == "hv"
    # starts at 100% on day 0, then the table's values
    np.testing.assert_array_equal(line.x, np.r_[0.0, curve["time"]])
    np.testing.assert_array_equal(line.y, np.r_[1.0, curve["survival"]])
    assert "sessions still observed" in line.hovertext[1]


def test_median_marker_and_reference_lines():
    curve = km_curve(DURATIONS, EVENTS)
    fig = km_figure(curve, None, S)
    med = median_from_curve(curve)
    marker = [t for t in fig.data if t.mode == "markers"][0]
    assert list(marker.x) == [med.median] and list(marker.y) == [0.5]
    lines = theme.reference_lines(fig)
    assert ("v", 84, "12 weeks (84 days)") in lines
    assert ("v", 112, "16 weeks (112 days)") in lines
    assert ("h", 0.5, "50% still benefiting (median)") in lines
    assert f"Median {med.median:.0f} days" in fig.layout.title.subtitle.text
    assert fig.layout.xaxis.title.text == "Days after injection"
    assert fig.layout.yaxis.title.text == "Still benefiting (% of sessions)"


def test_landmarks_follow_the_settings():
    fig = km_figure(km_curve(DURATIONS, EVENTS), None, Settings(landmark_days=(70,)))
    assert [line for line in theme.reference_lines(fig) if line[0] == "v"] == [("v", 70, "10 weeks (70 days)")]


def test_at_risk_row_under_the_chart_matches_at_risk_at():
    times = [0, 28, 56, 84, 112, 140, 168]
    fig = km_figure(km_curve(DURATIONS, EVENTS), times, S)
    row = text_traces(fig)[0]
    assert row.xaxis == "x2" and row.yaxis == "y2"  # the second (lower) panel
    assert list(row.x) == times
    assert list(row.text) == [str(n) for n in at_risk_at(DURATIONS, times)]
    assert any("Number at risk" in a.text for a in fig.layout.annotations)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_at_risk_table_reads_the_curve_like_at_risk_at(seed):
    rng = np.random.default_rng(seed)
    durations = rng.integers(1, 200, size=60).astype(float)
    events = rng.random(60) < 0.6
    times = [0, 1, 28, 56, 84, 112, 150, 199, 250]
    table = at_risk_table(km_curve(durations, events), times)
    assert table["at_risk"].tolist() == at_risk_at(durations, times).tolist()


def derived_two_products() -> pd.DataFrame:
    rows = []
    for i in range(12):
        product = "onabotulinumtoxinA" if i < 7 else "abobotulinumtoxinA"
        rows.append({"patient_id": f"p{i:02d}", "session_date": "2024-01-01", "product": product,
                     "baseline_pain": 8, "followup_pain": 2, "wearing_off_days": 60 + 10 * i})
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        frame[column] = frame[column].astype(SESSION_DTYPES[column])
    # as of the end of 2024, so every wearing-off (days 60-170) has happened (later ones would be censored)
    return derive_sessions(frame, S.with_changes(as_of=pd.Timestamp("2024-12-31").date()))


def test_one_curve_per_group_with_patients_and_an_at_risk_row_each():
    derived = derived_two_products()
    curves = km_curves_by_group(derived, "product")
    fig = km_figure(curves, None, S, group_label="Product", summary=km_by_group(derived, "product", S))
    lines = curve_traces(fig)
    assert [t.name for t in lines] == ["abobotulinumtoxinA (5 sessions, 5 patients)",
                                       "onabotulinumtoxinA (7 sessions, 7 patients)"]
    assert "95% confidence band" not in [t.name for t in fig.data]  # no band with several curves
    for trace, product in zip(lines, ["abobotulinumtoxinA", "onabotulinumtoxinA"]):
        part = curves[curves["product"] == product]
        np.testing.assert_array_equal(trace.y[1:], part["survival"])
    rows = text_traces(fig)
    assert [r.y[0] for r in rows] == ["abobotulinumtoxinA", "onabotulinumtoxinA"]
    assert fig.layout.title.text == "How long the benefit lasts (Kaplan-Meier) by product"
    assert fig.layout.legend.title.text == "Product"


def test_suppressed_groups_are_not_plotted():
    derived = derived_two_products()
    summary = suppress_small_groups(km_by_group(derived, "product", S), S, patients_col="n_patients",
                                    group_cols=["product"], total_shown=False)
    summary.loc[summary["product"] == "abobotulinumtoxinA", "suppressed"] = True  # as if it had < 5 patients
    fig = km_figure(km_curves_by_group(derived, "product"), None, S, summary=summary)
    plotted = {str(t.name) for t in fig.data} | {str(y) for t in fig.data for y in (t.y if t.mode == "text" else [])}
    assert not any("abobotulinumtoxinA" in name for name in plotted)
    assert "Not shown: 1 group" in fig.layout.title.subtitle.text


def test_empty_curves_give_the_no_data_figure():
    assert theme.is_empty_figure(km_figure(km_curve([], []), None, S))
    assert theme.is_empty_figure(km_figure(km_curves_by_group(derived_two_products().iloc[0:0], "product"), None, S))
