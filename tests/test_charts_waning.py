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
    fig = waning_figure(by_cycle(), S, min_patients=3)
    t = traces(fig)
    assert list(t) == [MEAN_NAME, RATE_NAME]
    table = by_cycle()
    mean, rate = t[MEAN_NAME], t[RATE_NAME]
    assert list(mean.x) == [1, 2, 3] and list(mean.y) == [55.0, 50.0, 40.0]
    np.testing.assert_allclose(mean.error_y.array, [5.0, 6.0, 30.0])
    np.testing.assert_allclose(mean.error_y.arrayminus, [5.0, 6.0, 30.0])
    np.testing.assert_allclose(rate.y, table["responder_rate"].to_numpy(dtype=float))
    np.testing.assert_allclose(rate.error_y.array, (table["rate_ci_high"] - table["responder_rate"]).to_numpy(float))
    assert rate.yaxis == "y2" and mean.yaxis == "y"
    # counts: in the hover, and the range in one line (a row of numbers under the plot ran together on a phone)
    assert "38 sessions with a pain score; 40 patients" in mean.hovertext[0]
    assert "35 responders of 39 sessions with a response" in rate.hovertext[0]
    assert "Patients per cycle: 40 in cycle 1 to 3 in cycle 3." in fig.layout.title.subtitle.text


def test_threshold_line_and_labels():
    fig = waning_figure(by_cycle(), S)
    assert ("h", 30.0, "30% responder threshold") in theme.reference_lines(fig)
    fig = waning_figure(by_cycle(), Settings(responder_threshold_pct=50))
    assert ("h", 50.0, "50% responder threshold") in theme.reference_lines(fig)
    assert "≥ 50% pain reduction" in fig.layout.title.subtitle.text
    assert fig.layout.yaxis.title.text == "Pain reduction (%)"
    assert fig.layout.yaxis2.title.text == "Responders (% of sessions)"
    assert fig.layout.xaxis2.title.text.startswith("Treatment cycle")


def test_slope_sentence_in_the_subtitle():
    slope = {"sentence": "The typical patient's response falls 0.5 points per cycle (95% CI 0.2 to 0.8).", "note": ""}
    fig = waning_figure(by_cycle(), S, slope=slope)
    assert slope["sentence"] in fig.layout.title.subtitle.text


def test_suppressed_cycles_are_not_plotted():
    table = suppress_small_groups(by_cycle(), S, patients_col="n_patients", group_cols=["cycle"], total_shown=False)
    fig = waning_figure(table, S, min_patients=1)  # even below the chart's minimum, suppression holds
    for trace in fig.data:
        assert 3 not in list(trace.x)
    assert "Shown: cycles 1 to 2, each with at least 1 patients; the later cycle has fewer (see the table)." in \
        fig.layout.title.subtitle.text
    fig = duration_by_cycle_figure(table, S, min_patients=1)
    assert 3 not in list(fig.data[0].x)


def sample_like() -> pd.DataFrame:
    """38 cycles as the sample has them: many patients early, 5-patient cycles at 100% at the end (issue 13)."""
    patients = [970, 700, 480, 300, 200, 120, 80, 50, 35, 25, 21, 19, 15] + [5] * 25
    cycles = len(patients)
    return pd.DataFrame({
        "cycle": range(1, cycles + 1), "n_patients": patients, "n_sessions": patients, "n_pain": patients,
        "mean_response_pct": [50.0] * 13 + [70.0] * 25, "mean_ci_low": [45.0] * cycles, "mean_ci_high": [75.0] * cycles,
        "n_response": patients, "responders": [int(p * 0.8) for p in patients[:13]] + [5] * 25,
        "responder_rate": [0.8] * 13 + [1.0] * 25, "rate_ci_low": [0.6] * cycles, "rate_ci_high": [1.0] * cycles,
        "n_duration": patients, "duration_events": patients, "median_duration_days": [100.0] * cycles,
        "duration_ci_low": [90.0] * cycles, "duration_ci_high": [110.0] * cycles,
    })


def test_the_chart_stops_at_the_last_cycle_with_20_patients_and_says_so_in_one_line():
    # issue 13: the chart ended with 5-patient cycles at 100% and a "Not shown: cycles 26, 27, ... 38" list
    table = suppress_small_groups(sample_like(), S, patients_col="n_patients", group_cols=["cycle"],
                                  total_shown=False)
    for fig in (waning_figure(table, S), duration_by_cycle_figure(table, S)):
        assert max(max(t.x) for t in fig.data) == 11  # cycle 11 has 21 patients, cycle 12 has 19
        subtitle = fig.layout.title.subtitle.text
        assert "Shown: cycles 1 to 11, each with at least 20 patients; the 27 later cycles have fewer (see the " \
               "table)." in subtitle
        assert "Not shown" not in subtitle and "26, 27" not in subtitle
    rate = traces(waning_figure(table, S))[RATE_NAME]
    assert 1.0 not in list(rate.y)  # no 100% from five patients


def test_no_cycle_with_enough_patients_gives_a_message_not_a_chart():
    small = by_cycle().assign(n_patients=[12, 8, 3])
    fig = waning_figure(small, S)
    assert theme.is_empty_figure(fig)
    assert fig.layout.meta["message"] == "No cycle has 20 or more patients: the figures by cycle are in the table."


def test_duration_by_cycle_points_open_intervals_and_landmarks():
    fig = duration_by_cycle_figure(by_cycle(), S, min_patients=1)
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
