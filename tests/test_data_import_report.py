"""The Data page's report tables without a browser: the problems by type come from analytics.report_stream (one
grouping, equal to report_groups.problem_groups), and the entries listed before any filter are every rejected
cell, then the first 20 of each type of warning."""
from __future__ import annotations

from analytics.ingest import load_sessions
from analytics.report_groups import problem_groups
from tests.helpers import csv_bytes, good_row
from views.data_import import GROUP_HEADINGS, groups_table, listed_entries, not_listed, report_groups, report_table

ROWS = ([good_row(f"P{i:03d}", units="700") for i in range(45)]  # 45 high doses (warnings)
        + [good_row("R1", units="Infinity"), good_row("R2", day="1899-12-30")]  # 2 rejected, after them
        + [good_row(f"Q{i:02d}", after="", units="700") for i in range(3)])  # 3 more high doses, blank follow-up


def test_the_summary_is_problem_groups_and_the_listing_puts_every_rejected_cell_first():
    result = load_sessions(csv_bytes(ROWS))
    groups = report_groups(result)
    expected = problem_groups(result.rejected, result.warnings)
    assert groups_table(groups).values.tolist() == expected[list(GROUP_HEADINGS)].values.tolist()
    listed = listed_entries(groups)
    assert listed[["kind", "line", "column", "value"]].values.tolist()[:3] == [
        ["rejected", 47, "total_units", "Infinity"], ["rejected", 48, "session_date", "1899-12-30"],
        ["warning", 2, "total_units", "700"]]
    assert len(listed) == 2 + 20 and not_listed(groups) == 48 - 20
    assert list(listed.columns) == list(report_table(result).columns)
    assert listed["line"].tolist()[2:] == list(range(2, 22))


def test_a_clean_file_lists_nothing():
    result = load_sessions(csv_bytes([good_row("P1"), good_row("P2", "2025-04-02")]))
    groups = report_groups(result)
    assert groups == [] and listed_entries(groups).empty and groups_table(groups).empty
