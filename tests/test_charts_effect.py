"""charts.effect: begun / still benefiting / in benefit curves and the median markers."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.effect_over_time import effect_markers, effect_over_time
from analytics.schema import SESSION_DTYPES
from analytics.sessions import derive_sessions
from analytics.settings import Settings
from charts import theme
from charts.effect import BAND, BEGUN, IN_BENEFIT, STILL, benefit_table, effect_over_time_figure

S = Settings()


def curve() -> pd.DataFrame:
    return pd.DataFrame({
        "day": [0, 1, 2, 3, 4],
        "onset_share": [0.0, 0.5, 1.0, 1.0, 1.0],
        "still_benefiting": [1.0, 1.0, 0.75, 0.5, np.nan],
        "still_ci_low": [1.0, 1.0, 0.4, 0.2, np.nan],
        "still_ci_high": [1.0, 1.0, 0.9, 0.8, np.nan],
        "at_risk": [4, 4, 4, 2, 1],
        "in_benefit": [0.0, 0.5, 0.75, 0.5, np.nan],
    })


MARKERS = {"median_onset_days": 1.5, "n_onset": 4, "median_peak_days": 2.0, "n_peak": 4,
           "median_duration_days": 3.0, "duration_ci_low": 2.0, "duration_ci_high": None, "n_duration": 4}


def test_traces_hold_the_table_values():
    fig = effect_over_time_figure(curve(), MARKERS, S)
    assert [t.name for t in fig.data] == [BAND, IN_BENEFIT, BEGUN, STILL]
    table = curve()
    by_name = {t.name: t for t in fig.data}
    for name, column in ((IN_BENEFIT, "in_benefit"), (BEGUN, "onset_share"), (STILL, "still_benefiting")):
        np.testing.assert_array_equal(by_name[name].x, table["day"])
        np.testing.assert_array_equal(by_name[name].y, table[column].to_numpy(dtype=float))
    # the band: upper limits out, lower limits back, only where known
    band = by_name[BAND]
    assert list(band.x) == [0, 1, 2, 3, 3, 2, 1, 0]
    assert list(band.y) == [1.0, 1.0, 0.9, 0.8, 0.2, 0.4, 1.0, 1.0]
    # hover carries the number still observed
    assert "2 sessions still observed" in by_name[STILL].hovertext[3]


def test_marker_lines_and_axis_titles():
    fig = effect_over_time_figure(curve(), MARKERS, S)
    lines = theme.reference_lines(fig)
    assert ("v", 1.5, "median onset: day 1.5") in lines
    assert ("v", 2.0, "median peak: day 2") in lines
    assert ("v", 3.0, "median duration: day 3") in lines  # short: a long label ran off a phone's screen
    assert "Median benefit 3 days (95% CI 2 to not reached)" in fig.layout.title.subtitle.text
    assert fig.layout.xaxis.title.text == "Days after injection"
    assert fig.layout.yaxis.title.text == "Share of responder sessions (%)"
    assert "Responder: ≥ 30% pain reduction" in fig.layout.title.subtitle.text
    assert "4 responder sessions" in fig.layout.title.subtitle.text


def test_threshold_in_force_is_shown():
    fig = effect_over_time_figure(curve(), MARKERS, Settings(responder_threshold_pct=50))
    assert "≥ 50% pain reduction" in fig.layout.title.subtitle.text


def test_median_not_reached_is_said_not_drawn():
    markers = dict(MARKERS, median_duration_days=None, duration_ci_low=None)
    fig = effect_over_time_figure(curve(), markers, S)
    assert not [line for line in theme.reference_lines(fig) if line[2].startswith("median duration")]
    assert "Median duration not reached" in fig.layout.title.subtitle.text


def test_empty_table_gives_the_no_data_figure():
    assert theme.is_empty_figure(effect_over_time_figure(curve().iloc[0:0], MARKERS, S))
    assert theme.is_empty_figure(effect_over_time_figure(None, None, S))


def test_from_the_analytics_on_a_tiny_session_table():
    frame = pd.DataFrame({
        "patient_id": ["a", "a", "b"],
        "session_date": ["2024-01-01", "2024-05-01", "2024-01-10"],
        "baseline_pain": [8, 8, 6], "followup_pain": [2, 4, 3],
        "onset_days": [2, 3, 4], "peak_days": [10, 14, 12], "wearing_off_days": [90, None, 100],
    })
    for column in frame.columns:
        frame[column] = frame[column].astype(SESSION_DTYPES[column])
    derived = derive_sessions(frame, S)
    table, markers = effect_over_time(derived, S), effect_markers(derived, S)
    fig = effect_over_time_figure(table, markers, S)
    by_name = {t.name: t for t in fig.data}
    np.testing.assert_array_equal(by_name[IN_BENEFIT].y, table["in_benefit"].to_numpy(dtype=float))
    assert ("v", markers["median_onset_days"], "median onset: day 3") in theme.reference_lines(fig)


def test_the_numbers_at_risk_are_a_table_every_4_weeks_up_to_the_charts_end():
    # issue 13: the at-risk row under the Kaplan-Meier chart ran into one string on a phone; now table cells
    day = np.arange(0, 201)
    still = 1 - day / 200
    table = pd.DataFrame({"day": day, "onset_share": np.ones(len(day)), "still_benefiting": still,
                          "still_ci_low": still - 0.05, "still_ci_high": np.minimum(still + 0.05, 1.0),
                          "at_risk": 200 - day, "in_benefit": still})
    rows = benefit_table(table, S)
    # the chart ends where fewer than 10% are still observed (day 180), at least 4 weeks past 16 weeks (140)
    assert rows.to_dict("list") == {
        "Day": ["0", "28 (4 weeks)", "56 (8 weeks)", "84 (12 weeks)", "112 (16 weeks)", "140 (20 weeks)",
                "168 (24 weeks)"],
        "Sessions still followed up": ["200", "172", "144", "116", "88", "60", "32"],
        "Still benefiting (95% CI)": ["100% (95% to 100%)", "86% (81% to 91%)", "72% (67% to 77%)",
                                      "58% (53% to 63%)", "44% (39% to 49%)", "30% (25% to 35%)", "16% (11% to 21%)"],
    }
    assert benefit_table(table.iloc[0:0], S).empty
