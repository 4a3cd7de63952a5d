"""The validation report grouped by reason: counts first, so four real rejections are not buried under a
thousand identical warnings.

One row per (kind, reason code, column): how many cells and rows it holds, one example reason in words and the
first lines where it happens. Rejections come before warnings, and within each the largest groups first. The
CLI text, `validate --json` and the Data page all show this table before the rows themselves.
"""
from __future__ import annotations

import pandas as pd

GROUP_COLUMNS = ["kind", "code", "column", "reason", "cells", "rows", "first_lines"]
KIND_ORDER = {"rejected": 0, "warning": 1}
FIRST_LINES_SHOWN = 5


def problem_groups(rejected: pd.DataFrame, warnings: pd.DataFrame) -> pd.DataFrame:
    """The report's rejected cells and warnings, one row per (kind, code, column), rejections first.

    reason: the first reason (or warning) in words of the group, as an example; first_lines: the first
    lines of the file where it happens, in order, as text ('4, 9, 12, ...').
    """
    parts = []
    for kind, table, text in (("rejected", rejected, "reason"), ("warning", warnings, "warning")):
        if len(table):
            parts.append(table[["line", "column", "code", text]].rename(columns={text: "reason"}).assign(kind=kind))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("cells", "rows") else "str")
                             for c in GROUP_COLUMNS})
    cells = pd.concat(parts, ignore_index=True)
    cells["code"] = cells["code"].astype("str")
    cells["column"] = cells["column"].astype("str")
    cells = cells.sort_values("line", kind="stable")
    grouped = cells.groupby(["kind", "code", "column"], sort=False)
    table = grouped.agg(reason=("reason", "first"), cells=("line", "size"), rows=("line", "nunique"))
    table["first_lines"] = grouped["line"].agg(_first_lines)
    table = table.reset_index()
    table["order"] = table["kind"].map(KIND_ORDER)
    table = table.sort_values(["order", "cells", "code", "column"], ascending=[True, False, True, True],
                              kind="stable")
    return table[GROUP_COLUMNS].astype({"cells": "int64", "rows": "int64"}).reset_index(drop=True)


def _first_lines(lines: pd.Series) -> str:
    """The first distinct lines of a group as text, with ', ...' when there are more."""
    distinct = pd.unique(lines.to_numpy())
    shown = ", ".join(str(int(n)) for n in distinct[:FIRST_LINES_SHOWN])
    return shown + (", ..." if len(distinct) > FIRST_LINES_SHOWN else "")


def group_lines(groups: pd.DataFrame) -> list[str]:
    """The groups as lines of text for a terminal: '4 rejected cells in 3 rows: total_units: not a number
    (out of range ...) - lines 4, 9, 12'."""
    out = []
    for row in groups.itertuples(index=False):
        noun = "rejected cell" if row.kind == "rejected" else "warning"
        plural = "s" if row.cells != 1 else ""
        rows = f" in {row.rows:,} row{'s' if row.rows != 1 else ''}" if row.rows != row.cells else ""
        out.append(f"  {row.cells:,} {noun}{plural}{rows} [{row.code}] {row.column}: {row.reason} "
                   f"(line{'s' if row.rows != 1 else ''} {row.first_lines})")
    return out
