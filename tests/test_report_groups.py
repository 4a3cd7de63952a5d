"""The validation report grouped by reason, counts first (analytics/report_groups.py)."""
import json

import pandas as pd

from analytics.cli import main
from analytics.report_groups import problem_groups
from tests.helpers import csv_bytes, good_row


def cells(rows, text="reason"):
    return pd.DataFrame(rows, columns=["line", "column", "field", "value", text, "code"])


def test_rejections_come_first_then_the_largest_groups_with_counts_and_first_lines():
    rejected = cells([(9, "units", "total_units", "x", "not a number", "not_a_number"),
                      (4, "units", "total_units", "y", "not a number", "not_a_number"),
                      (4, "pain", "followup_pain", "12", "must be between 0 and 10", "out_of_range")])
    warnings = cells([(n, "muscles", "muscles", "a:1", "do not add up", "muscle_units_mismatch")
                      for n in range(2, 10)], text="warning")
    table = problem_groups(rejected, warnings)
    assert table.to_dict(orient="records") == [
        {"kind": "rejected", "code": "not_a_number", "column": "units", "reason": "not a number", "cells": 2,
         "rows": 2, "first_lines": "4, 9"},
        {"kind": "rejected", "code": "out_of_range", "column": "pain", "reason": "must be between 0 and 10",
         "cells": 1, "rows": 1, "first_lines": "4"},
        {"kind": "warning", "code": "muscle_units_mismatch", "column": "muscles", "reason": "do not add up",
         "cells": 8, "rows": 8, "first_lines": "2, 3, 4, 5, 6, ..."},
    ]


def test_no_problems_gives_an_empty_table_with_the_columns():
    table = problem_groups(cells([]), cells([], text="warning"))
    assert list(table.columns) == ["kind", "code", "column", "reason", "cells", "rows", "first_lines"]
    assert len(table) == 0


def test_the_cli_text_and_json_give_the_groups_before_the_rows(tmp_path, capsys):
    path = tmp_path / "f.csv"
    path.write_bytes(csv_bytes([good_row(), good_row("P2", after="12"), good_row("P3", after="11")]))
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out.splitlines()
    start = out.index("Problems by reason (rejections first, then warnings; counts first, the rows follow):")
    assert out[start + 1] == ("  2 rejected cells [out_of_range] followup_pain: must be between 0 and 10 "
                              "(lines 3, 4)")
    assert out.index("Rejected cells (line, column, value as written, reason):") > start
    assert main(["validate", str(path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["problem_groups"] == [
        {"kind": "rejected", "code": "out_of_range", "column": "followup_pain",
         "reason": "must be between 0 and 10", "cells": 2, "rows": 2, "first_lines": "3, 4"}]
