"""charts.waning: response and responder rate by cycle with CIs and counts; median duration by cycle."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.settings import Settings
from analytics.suppression import suppress_small_groups
from analytics.waning import BY_CYCLE_COLUMNS
from charts import theme
from charts.waning import DURATION_NAME, MEAN_NAME, RATE_NAME, duration_by_cycle_figure, waning_figure

S = Settings()


def by_cycle() -> pd.DataFrame:
    table = pd.DataFrame({
        "cycle": [1, 2, 3],
        "n_patients": [40, 30, 3],
        "n_sessions": [40, 30, 3],
        "n_pain": [38, 28, 3],
        "mean_response_pct": [55.0, 50.0, 40.0],
        "mean_ci_low": [50.0, 44.0, 10.0],
        "mean_ci_high": [60.0, 56.0, 70.0],
        "n_response": [39, 29, 3],
        "responders": [35, 24, 2],
        "responder_rate": [35 / 39, 24 / 29, 2 / 3],
        "rate_ci_low": [0.76, 0.65, 0.21],
        "rate_ci_high": [0.96, 0.92, 0.94],
        "n_duration": [35, 24, 2],
        "duration_events": [20, 10, 0],
        "median_duration_days": [110.0, 100.0, np.nan],
        "duration_ci_low": [104.0, 90.0, np.nan],
        "duration_ci_high": [116.0, np.nan, np.nan],
    })
    for column in ("mean_response_pct", "mean_ci_low", "mean_ci_high", "responder_rate", "rate_ci_low",
                   "rate_ci_high", "median_duration_days", "duration_ci_low", "duration_ci_high"):
        table[column] = table[column].astype("Float64")
    assert list(table.columns) == list(BY_CYCLE_COLUMNS)
    return table


def traces(fig):
    return {t.name: t for t in fig.data}


def test_two_panels_hold_the_table_values_with_intervals():
    fig = waning_figure(by_cycle(), S)
    t = traces(fig)
    assert list(t) == [MEAN_NAME, RATE_NAME, "Patients in the cycle"]
    table = by_cycle()
    mean, rate = t[MEAN_NAME], t[RATE_NAME]
    assert list(mean.x) == [1, 2, 3] and list(mean.y) == [55.0, 50.0, 40.0]
    np.testing.assert_allclose(mean.error_y.array, [5.0, 6.0, 30.0])
    np.testing.assert_allclose(mean.error_y.arrayminus, [5.0, 6.0, 30.0])
    np.testing.assert_allclose(rate.y, table["responder_rate"].to_numpy(dtype=float))
    np.testing.assert_allclose(rate.error_y.array, (table["rate_ci_high"] - table["responder_rate"]).to_numpy(float))
    assert rate.yaxis == "y2" and mean.yaxis == "y"
    # counts: in the hover and as a row of numbers under the chart
    assert "38 sessions with a pain score; 40 patients" in mean.hovertext[0]
    assert "35 responders of 39 sessions with a response" in rate.hovertext[0]
    assert list(t["Patients in the cycle"].text) == ["40", "30", "3"]


def test_threshold_line_and_labels():
    fig = waning_figure(by_cycle(), S)
    assert ("h", 30.0, "30% responder threshold") in theme.reference_lines(fig)
    fig = waning_figure(by_cycle(), Settings(responder_threshold_pct=50))
    assert ("h", 50.0, "50% responder threshold") in theme.reference_lines(fig)
    assert "≥ 50% pain reduction" in fig.layout.title.subtitle.text
    assert fig.layout.yaxis.title.text == "Pain reduction (%)"
    assert fig.layout.yaxis2.title.text == "Responders (% of sessions)"
    assert fig.layout.xaxis3.title.text.startswith("Treatment cycle")


def test_slope_sentence_in_the_subtitle():
    slope = {"sentence": "The typical patient's response falls 0.5 points per cycle (95% CI 0.2 to 0.8).", "note": ""}
    fig = waning_figure(by_cycle(), S, slope=slope)
    assert slope["sentence"] in fig.layout.title.subtitle.text


def test_suppressed_cycles_are_not_plotted():
    table = suppress_small_groups(by_cycle(), S, patients_col="n_patients", group_cols=["cycle"], total_shown=False)
    fig = waning_figure(table, S)
    for trace in fig.data:
        assert 3 not in list(trace.x)
    assert "Not shown: cycle 3 (fewer than 5 patients)" in fig.layout.title.subtitle.text
    fig = duration_by_cycle_figure(table, S)
    assert 3 not in list(fig.data[0].x)


def test_duration_by_cycle_points_open_intervals_and_landmarks():
    fig = duration_by_cycle_figure(by_cycle(), S)
    assert [t.name for t in fig.data] == [DURATION_NAME]
    line = fig.data[0]
    assert list(line.x) == [1, 2] and list(line.y) == [110.0, 100.0]  # cycle 3: median not reached
    top = fig.layout.yaxis.range[1]
    np.testing.assert_allclose(line.error_y.array, [6.0, top - 100.0])  # cycle 2's upper limit not reached
    np.testing.assert_allclose(line.error_y.arrayminus, [6.0, 10.0])
    assert "not reached" in line.hovertext[1]
    assert "Median not reached" in fig.layout.title.subtitle.text and "cycle 3" in fig.layout.title.subtitle.text
    assert {("h", 84, "12 weeks (84 days)"), ("h", 112, "16 weeks (112 days)")} <= set(theme.reference_lines(fig))
    assert fig.layout.yaxis.title.text == "Median benefit duration (days)"


def test_empty_tables_give_the_no_data_figure():
    assert theme.is_empty_figure(waning_figure(by_cycle().iloc[0:0], S))
    assert theme.is_empty_figure(duration_by_cycle_figure(by_cycle().iloc[0:0], S))
    assert theme.is_empty_figure(duration_by_cycle_figure(by_cycle().drop(columns="median_duration_days"), S))
