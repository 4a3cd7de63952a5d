"""Small numbers on the app's pages, by the same rules as the shared report (analytics.presentation): a selection
of fewer than k patients shows no figure on the Overview or Compare, and the KPI tiles show no change against a
previous period of fewer than k. The hostile case: a three-patient import showed '75%' of 3, tiles truncated to
'suppre...', and a mixed-model slope and a funnel's overall rate from 3 patients."""
from __future__ import annotations

from tests.app_support import app, metric, no_errors, set_threshold
from tests.helpers import csv_bytes, good_row

ROWS = [good_row("P1", "2026-01-05", after="2"), good_row("P1", "2026-04-06", after="3"),
        good_row("P2", "2026-02-02", after="6"), good_row("P2", "2026-05-04", after="1"),
        good_row("P3", "2026-03-02", after="4")]


def use_upload(rows):
    at = app("views/data.py")
    at.file_uploader(key="upload_file").upload("three.csv", csv_bytes(rows), "text/csv").run()
    at.button(key="use_data").click().run()
    at.switch_page("views/overview.py").run()
    no_errors(at)
    return at


def test_a_three_patient_selection_shows_no_figure():
    at = use_upload(ROWS)
    assert not at.metric and not list(at.get("plotly_chart"))
    assert at.info[0].value.startswith("This selection has fewer than 5 patients, so its figures are suppressed to "
                                       "protect them. Widen the period or the filters.")
    at.switch_page("views/compare.py").run()  # not even the overall rate in a funnel's legend
    no_errors(at)
    assert not list(at.get("plotly_chart")) and not at.dataframe
    assert at.info[0].value.startswith("This selection has fewer than 5 patients")


def test_a_previous_period_of_fewer_than_k_patients_shows_no_change_against_it():
    rows = [good_row(f"P{i}", f"2026-0{4 + i % 3}-0{1 + i}", after=str(i % 5)) for i in range(1, 8)]
    rows += [good_row("Q1", "2025-11-03"), good_row("Q2", "2025-12-01")]  # the six months before: 2 patients
    at = use_upload(rows)
    at.selectbox(key="period").select("Last 6 months").run()
    no_errors(at)
    assert metric(at, "Patients") == "7"
    responder = next(m for m in at.metric if m.label == "Responder rate")
    assert "not shown, fewer than 5 patients" in responder.help
    assert all(not m.delta for m in at.metric)  # no change shown against 2 patients


def test_a_lower_threshold_shows_them():
    at = set_threshold(use_upload(ROWS), "min_group_patients", 3)
    no_errors(at)
    assert metric(at, "Patients") == "3" and metric(at, "Sessions") == "5"
