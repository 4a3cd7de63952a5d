"""`validate --json` groups repeated problems and streams them (analytics/report_stream.py): 5,000 copies of one
warning give one group with a count and its first lines, never 5,000 objects, while every rejected cell is
listed (issue 12; issue 13: "1,177 identical warnings hide 4 rejected rows")."""
import io
import json

import pandas as pd

from analytics.cli import main
from analytics.ingest import load
from analytics.report_stream import LISTED_WARNINGS, cell_groups, write_report_json
from tests.helpers import HEADER, csv_bytes, good_row

WARNED = 5_000
BAD_AT = (7, 1_500, 3_001, 5_003)  # the lines (header = line 1) whose followup_pain is 12: rejected
MISMATCH = "the muscles' units do not add up to total_units"


def hostile_file(tmp_path):
    """5,004 sessions: 5,000 accepted with the same warning (muscles 'trapezius:1' for 200 U) and 4 rejected."""
    rows = []
    for line in range(2, WARNED + len(BAD_AT) + 2):
        bad = line in BAD_AT
        rows.append(good_row(f"P{line}", after="12" if bad else "3") + ["" if bad else "trapezius:1"])
    path = tmp_path / "hostile.csv"
    path.write_bytes(csv_bytes(rows, HEADER + ["muscles"]))
    return path


def warned_lines():
    return [n for n in range(2, WARNED + len(BAD_AT) + 2) if n not in BAD_AT]


def test_5000_identical_warnings_give_one_bounded_group_and_every_rejected_row(tmp_path, capsys):
    path = hostile_file(tmp_path)
    assert main(["validate", str(path), "--json"]) == 1  # exit code as before: some rows rejected
    out = capsys.readouterr().out
    assert len(out) < 20_000  # one object per warning was ~700 kB
    report = json.loads(out)
    assert report["warnings"] == WARNED and report["warnings_by_code"] == {"muscle_units_mismatch": WARNED}
    assert report["rejected_rows"] == 4 and report["accepted_rows"] == WARNED and report["rows"] == 5_004
    assert report["rejected_cells_by_code"] == {"out_of_range": 4}
    [rejected] = report["rejected_groups"]
    assert rejected["cells"] == 4 and rejected["not_listed"] == 0 and rejected["not_listed_lines"] is None
    assert rejected["listed"] == [{"line": n, "value": "12", "reason": "must be between 0 and 10"} for n in BAD_AT]
    [warned] = report["warning_groups"]
    lines = warned_lines()
    assert {k: warned[k] for k in ("kind", "code", "column", "field", "reason", "cells", "rows")} == {
        "kind": "warning", "code": "muscle_units_mismatch", "column": "muscles", "field": "muscles",
        "reason": MISMATCH, "cells": WARNED, "rows": WARNED}
    assert warned["listed"] == [{"line": n, "value": "trapezius:1", "reason": MISMATCH}
                                for n in lines[:LISTED_WARNINGS]]
    assert warned["not_listed"] == WARNED - LISTED_WARNINGS == 4_980
    assert warned["not_listed_lines"] == [lines[LISTED_WARNINGS], lines[-1]] == [23, 5_005]
    assert [g["cells"] for g in report["problem_groups"]] == [4, WARNED]  # the counts table, as before
    assert "warnings_list" not in report and "rejected" not in report


def test_the_text_report_gives_the_4_rejected_rows_before_the_5000_warnings(tmp_path, capsys):
    path = hostile_file(tmp_path)
    assert main(["validate", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    start = lines.index("Rejected cells (line, column, value as written, reason):")
    assert lines[start + 1:start + 5] == [f"  line {n}: followup_pain = '12': must be between 0 and 10"
                                          for n in BAD_AT]
    warnings = lines.index(f"Warnings (rows accepted, worth a look; the first {LISTED_WARNINGS} of each kind):")
    assert warnings == start + 6
    listed = lines[warnings + 1:]
    assert listed[:LISTED_WARNINGS] == [f"  line {n}: muscles = 'trapezius:1': {MISMATCH}"
                                        for n in warned_lines()[:LISTED_WARNINGS]]
    assert listed[LISTED_WARNINGS:] == [
        "  ... and 4,980 more [muscle_units_mismatch] muscles on lines 23 to 5,005 (use --json --all for every one)."]
    assert len(lines) < 60


def test_all_lists_every_cell_as_the_old_report_did(tmp_path, capsys):
    path = hostile_file(tmp_path)
    assert main(["validate", str(path), "--json", "--all"]) == 1
    report = json.loads(capsys.readouterr().out)
    result = load(path)
    assert report["warnings_list"] == result.warnings.astype({"line": int}).to_dict(orient="records")
    assert report["rejected"] == result.rejected.astype({"line": int}).to_dict(orient="records")
    assert len(report["warnings_list"]) == WARNED
    assert report["warning_groups"][0]["not_listed"] == 4_980  # the groups stay as without --all


def cells(rows, text="reason"):
    return pd.DataFrame(rows, columns=["line", "column", "field", "value", text, "code"])


def test_groups_list_every_rejected_cell_with_its_own_reason_and_cap_warnings_per_group():
    # an exact copy's reason names its own first line: a group of one code holds different reasons
    rejected = cells([(9, "(row)", "(row)", "", "an exact copy of line 2; counted once", "exact_copy"),
                      (4, "(row)", "(row)", "", "an exact copy of line 3; counted once", "exact_copy"),
                      (4, "Units", "total_units", "x", "not a number", "not_a_number")])
    warnings = cells([(n, "Muscles", "muscles", f"m:{n}", "do not add up", "muscle_units_mismatch")
                      for n in (30, 2, 11, 5)]
                     + [(3, "Peak", "peak_days", "1", "peak before onset", "peak_before_onset")], text="warning")
    groups = cell_groups(rejected, warnings, listed_warnings=2)
    assert [(g.kind, g.code, g.cells, g.not_listed, g.more_lines) for g in groups] == [
        ("rejected", "exact_copy", 2, 0, None), ("rejected", "not_a_number", 1, 0, None),
        ("warning", "muscle_units_mismatch", 4, 2, (11, 30)), ("warning", "peak_before_onset", 1, 0, None)]
    assert groups[0].listed.values.tolist() == [[4, "", "an exact copy of line 3; counted once"],
                                                [9, "", "an exact copy of line 2; counted once"]]
    assert groups[2].listed.values.tolist() == [[2, "m:2", "do not add up"], [5, "m:5", "do not add up"]]
    assert groups[1].field == "total_units" and groups[1].column == "Units"


def test_the_streamed_document_is_json_with_the_summary_and_odd_values_intact():
    rejected = cells([(3, "Name \"x\"", "notes", "n/a \u2014 \u00e9\n2", "bad", "bad_list")])
    warnings = cells([], text="warning")
    duplicates = pd.DataFrame({"line": pd.Series([5], dtype="object"), "duplicate_of": [2]})
    conflicts = pd.DataFrame({"line": [7], "key": ["P1 2025-01-01"], "other_lines": ["8"]})
    stream = io.StringIO()
    summary = {"source": "upload", "warnings": 0, "columns": {"a": "b"}, "nothing": None}
    write_report_json(stream, summary, rejected, warnings, duplicates, conflicts, every_cell=True)
    report = json.loads(stream.getvalue())
    assert {k: report[k] for k in summary} == summary
    assert report["rejected_groups"][0]["listed"] == [{"line": 3, "value": "n/a \u2014 \u00e9\n2", "reason": "bad"}]
    assert report["warning_groups"] == [] and report["warnings_list"] == []
    assert report["duplicates"] == [{"line": 5, "duplicate_of": 2}]
    assert report["conflicts"] == [{"line": 7, "key": "P1 2025-01-01", "other_lines": "8"}]
    assert report["rejected"] == [{"line": 3, "column": "Name \"x\"", "field": "notes", "value": "n/a \u2014 \u00e9\n2",
                                   "reason": "bad", "code": "bad_list"}]


def test_the_groups_table_equals_problem_groups_on_random_reports():
    # oracle: report_groups.problem_groups (pandas concat, sort and groupby), which the Data page uses
    from analytics.report_groups import problem_groups
    from analytics.report_stream import groups_table
    import numpy as np

    rng = np.random.default_rng(12)
    for n_rejected, n_warnings in ((0, 0), (0, 40), (30, 0), (200, 3000)):
        def table(n, text, codes):
            lines = rng.integers(2, 400, n)  # repeated and unsorted lines, ties included
            return cells([(int(line), f"col{c % 3}", f"field{c % 3}", f"v{i}", f"{text} {i}", codes[c % len(codes)])
                          for i, (line, c) in enumerate(zip(lines, rng.integers(0, 7, n)))], text=text)
        rejected = table(n_rejected, "reason", ["not_a_number", "out_of_range", "bad_date"])
        warnings = table(n_warnings, "warning", ["high_dose", "peak_before_onset"])
        expected = problem_groups(rejected, warnings)
        groups = cell_groups(rejected, warnings)
        got = groups_table(groups)
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)
        for group in groups:  # the cells listed: a naive filter and stable sort of the table
            table, text = (rejected, "reason") if group.kind == "rejected" else (warnings, "warning")
            mine = table[(table["code"] == group.code) & (table["column"] == group.column)]
            mine = mine.sort_values("line", kind="stable")
            shown = len(mine) if group.kind == "rejected" else min(len(mine), LISTED_WARNINGS)
            assert group.listed.values.tolist() == mine[["line", "value", text]].head(shown).values.tolist()
            assert group.not_listed == len(mine) - shown
            assert group.more_lines == (None if shown == len(mine) else
                                        (int(mine["line"].iloc[shown]), int(mine["line"].iloc[-1])))
        if len(expected):
            assert got["first_lines"].str.endswith(", ...").any() or n_rejected + n_warnings < 50
