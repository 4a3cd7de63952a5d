"""analytics.presentation: how every figure is written and which groups a view hides, the same for the app's pages
and the shared reports. Hand-worked values."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analytics.presentation import (
    PERIOD_HIDDEN, PREVIOUS_HIDDEN, by_cycle_shown, format_cell, format_change, format_figure, funnel_shown,
    headed_table, hidden_note, kpi_table, kpi_value, settings_rows, suppress_kpi_periods, too_few_patients,
)
from analytics.settings import DEFAULT_SETTINGS, Settings


def test_figures_in_their_units():
    assert format_figure(0.634, "proportion") == "63%"
    assert format_figure(0.634, "proportion", 1) == "63.4%"
    assert format_figure(63.44, "%", 1) == "63.4%"
    assert format_figure(98.0, "days", 1) == "98 days"
    assert format_figure(98.26, "days", 1) == "98.3 days"
    assert format_figure(1234.0, "days") == "1,234 days"
    assert format_figure(1234, "patients") == "1,234"
    assert format_figure(float("nan"), "proportion") == "-"
    assert format_figure(None, "days") == "-"


def test_changes_in_points_days_and_counts():
    assert format_change(0.0004, "proportion") == "no change"  # 0.04 points rounds to nothing
    assert format_change(0.0123, "proportion") == "+1.2 pts"
    assert format_change(-2.46, "%") == "-2.5 pts"
    assert format_change(-3.0, "days") == "-3 days"
    assert format_change(2.5, "days") == "+2.5 days"
    assert format_change(12, "sessions") == "+12"
    assert format_change(0.3, "sessions") == "no change"
    assert format_change(None, "days") is None and format_change(math.nan, "%") is None


def test_cells():
    assert format_cell(True) == "yes" and format_cell(np.False_) == "no"
    assert format_cell(1234) == "1,234" and format_cell(np.int64(7)) == "7"
    assert format_cell(3.0) == "3" and format_cell(3.26) == "3.3" and format_cell(12345.0) == "12,345"
    assert format_cell(0.253, "proportion") == "25.3%" and format_cell(25.34, "percent") == "25.3%"
    assert format_cell(12.0, "count") == "12"
    assert format_cell("suppressed", "proportion") == "suppressed"
    assert format_cell(np.nan) == "" and format_cell(pd.NA, "count", blank="-") == "-"


def tiles(patients_now: float, patients_before: float) -> pd.DataFrame:
    table = pd.DataFrame({
        "kpi": ["patients", "responder_rate", "median_duration_days"],
        "value": [patients_now, 0.6, np.nan], "ci_low": [np.nan, 0.4, np.nan], "ci_high": [np.nan, 0.8, np.nan],
        "previous": [patients_before, 0.5, 90.0], "change": [patients_now - patients_before, 0.1, np.nan],
        "n": [int(patients_now), 10, 4], "unit": ["patients", "proportion", "days"],
        "label": ["Patients", "Responder rate", "Median benefit duration (Kaplan-Meier)"],
        "previous_n": [int(patients_before), 8, 3]})
    table.attrs["period"] = {"start": "2025-01-01", "end": "2025-03-31", "previous_start": "2024-10-03",
                             "previous_end": "2024-12-31", "days": 90}
    return table


def test_a_period_of_fewer_than_k_patients_shows_no_figure():
    shown = suppress_kpi_periods(tiles(3, 12), DEFAULT_SETTINGS)
    assert shown.attrs["suppressed"] == [PERIOD_HIDDEN]
    assert shown[["value", "ci_low", "ci_high", "change"]].isna().all().all()
    assert shown["previous"].tolist() == [12, 0.5, 90.0]  # the period before had enough patients
    assert kpi_value("responder_rate", shown["value"].iloc[1], "proportion", shown.attrs["suppressed"]) == "suppressed"
    table = kpi_table(shown)
    assert table["value"].tolist() == ["suppressed"] * 3 and table["previous"].tolist() == [12, 0.5, 90.0]


def test_a_previous_period_of_fewer_than_k_patients_hides_the_comparison_only():
    shown = suppress_kpi_periods(tiles(12, 2), DEFAULT_SETTINGS)
    assert shown.attrs["suppressed"] == [PREVIOUS_HIDDEN]
    assert shown["value"].tolist()[:2] == [12, 0.6]
    assert shown[["previous", "change"]].isna().all().all()
    assert suppress_kpi_periods(tiles(12, 0), DEFAULT_SETTINGS).attrs["suppressed"] == []  # nothing to hide
    assert suppress_kpi_periods(tiles(3, 12), Settings(min_group_patients=3)).attrs["suppressed"] == []


def test_kpi_value_words():
    assert kpi_value("median_duration_days", np.nan, "days") == "not reached"
    assert kpi_value("median_onset_days", np.nan, "days") == "-"
    assert kpi_value("responder_rate", 0.634, "proportion", decimals=1) == "63.4%"


def test_funnel_names_no_suppressed_group_as_an_outlier():
    groups = pd.DataFrame({"group_by": "site", "group": ["tiny", "A", "B", "C"], "patients": [2, 10, 12, 30],
                           "n": [4, 40, 50, 90], "rate": [0.0, 0.5, 0.9, 0.6]})
    outliers = groups.loc[groups["group"].isin(["tiny", "B"]), ["group", "rate", "n"]].assign(position="above")
    shown = funnel_shown({"groups": groups, "outliers": outliers, "p0": 0.6}, DEFAULT_SETTINGS)
    assert shown["groups"]["suppressed"].tolist() == [True, True, False, False]  # tiny, and A as its complement
    assert shown["outliers"]["group"].tolist() == ["B"]
    assert shown["p0"] == 0.6


def test_cycles_with_few_patients_are_hidden_with_their_complement():
    by_cycle = pd.DataFrame({"cycle": [1, 2, 3, 4], "n_patients": [40, 30, 9, 3], "mean_response_pct": [60.0, 55.0,
                                                                                                         50.0, 20.0]})
    shown = by_cycle_shown(by_cycle, DEFAULT_SETTINGS)
    assert shown["suppressed"].tolist() == [False, False, True, True]
    assert shown["mean_response_pct"].isna().tolist() == [False, False, True, True]
    assert hidden_note(2, "cycle", DEFAULT_SETTINGS) == (
        "2 cycle(s) not shown: fewer than 5 patients, or hidden so a small one cannot be worked out.")
    assert hidden_note(0, "cycle", DEFAULT_SETTINGS) == ""


def test_headed_table_words_and_suppressed_cells():
    table = pd.DataFrame({"group_by": "product", "group": ["a", "b", "c", "d"], "patients": [3, 20, 4, 30],
                          "sessions": [5, 60, 6, 90], "responder_rate": [0.5, 0.25, 1.0, 0.6]})
    from analytics.presentation import groups_shown

    shown = headed_table(groups_shown(table, DEFAULT_SETTINGS), ["group_by", "group"],
                         ("group", "patients", "responder_rate", "suppression"))
    assert list(shown.columns) == ["group", "patients", "responder rate", "suppressed because"]
    assert shown.to_dict(orient="list") == {
        "group": ["a", "b", "c", "d"], "patients": ["suppressed", "20", "suppressed", "30"],
        "responder rate": ["suppressed", "25.0%", "suppressed", "60.0%"],
        "suppressed because": ["fewer than 5 patients", "", "fewer than 5 patients", ""]}


def test_too_few_patients():
    frame = pd.DataFrame({"patient_id": ["a", "b", "c", "d", "d"]})
    assert too_few_patients(frame, DEFAULT_SETTINGS)
    assert not too_few_patients(frame, Settings(min_group_patients=4))
    assert too_few_patients(frame.iloc[0:0], Settings(min_group_patients=1))


def test_settings_rows_use_each_thresholds_words_and_shown_units():
    rows = dict(settings_rows(DEFAULT_SETTINGS, "2026-09-30"))
    assert rows["Responder: pain reduction of at least (%)"] == "30"
    assert rows["Factor: muscles kept below (%)"] == "50"  # a fraction 0.5, shown as a percentage
    assert rows["Short interval: sooner than (days)"] == "84"
    assert rows["Share still benefiting at (days)"] == "84, 112"
    assert rows["As-of date"] == "2026-09-30 (the latest session date)"
    chosen = dict(settings_rows(Settings(as_of=pd.Timestamp("2025-06-30").date(), responder_threshold_pct=42.5),
                                "ignored"))
    assert chosen["As-of date"] == "2025-06-30" and chosen["Responder: pain reduction of at least (%)"] == "42.5"


def test_the_words_shown_instead_of_the_figures_of_a_small_selection():
    from analytics.presentation import too_few_message

    frame = pd.DataFrame({"patient_id": ["a", "b", "c"]})
    assert too_few_message(frame, DEFAULT_SETTINGS) == (
        "This selection has fewer than 5 patients, so its figures are suppressed to protect them. Widen the period "
        "or the filters.")
    assert too_few_message(frame.iloc[0:0], DEFAULT_SETTINGS) == (
        "This selection has no sessions. Widen the period or the filters.")
    assert too_few_message(frame, Settings(min_group_patients=3)) is None
