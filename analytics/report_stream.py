"""The validation report's cells grouped by reason, and `validate --json` written as a stream.

A file where every row has the same warning once gave one JSON object per cell (806,000 copies of one warning:
188 MB of JSON, 3.1 GB of memory). Here each (kind, code, column) group of report_groups.problem_groups is
written once, with its count and its cells:
- a rejected group lists EVERY cell (line, value as written, reason): rejected rows are the rows lost, and an
  analyst must be able to find each one;
- a warning group lists its first LISTED_WARNINGS cells, then how many are not listed and the span of their
  lines (the rows were accepted; the count says how widespread the problem is).
`every_cell=True` (`validate --json --all`) adds the per-cell lists `rejected` and `warnings_list` as they were
before (one object per cell), also streamed. The document is written piece by piece to a text stream and never
held whole in memory; the cells are encoded with vectorised string operations, each distinct text once.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TextIO

import numpy as np
import pandas as pd

from .report_groups import FIRST_LINES_SHOWN, GROUP_COLUMNS, KIND_ORDER

LISTED_WARNINGS = 20  # cells listed per group of warnings (every rejected cell is listed)
CHUNK = 100_000  # cells encoded at a time


@dataclass(frozen=True)
class CellGroup:
    """One (kind, code, column) group of the report with the cells listed for it.

    reason and field: the group's first cell's (in line order); first_lines: its first distinct lines as text, as
    report_groups.problem_groups gives them; listed: the cells shown (columns line, value, reason), in line
    order; not_listed: how many cells are not; more_lines: (first, last) line of the cells not listed, None
    when every cell is listed."""

    kind: str
    code: str
    column: str
    field: str
    reason: str
    cells: int
    rows: int
    first_lines: str
    listed: pd.DataFrame
    not_listed: int
    more_lines: tuple[int, int] | None

    def header(self) -> dict:
        """The group's JSON members other than its listed cells."""
        return {"kind": self.kind, "code": self.code, "column": self.column, "field": self.field,
                "reason": self.reason, "cells": self.cells, "rows": self.rows, "not_listed": self.not_listed,
                "not_listed_lines": list(self.more_lines) if self.more_lines else None}


def cell_groups(rejected: pd.DataFrame, warnings: pd.DataFrame,
                listed_warnings: int | None = LISTED_WARNINGS) -> list[CellGroup]:
    """The report's groups in problem_groups order (rejections first, then the largest, then by code and
    column), each with its cells: every rejected cell, and the first `listed_warnings` warnings of each group
    (None: every warning). Work in numpy over integer group codes: no copy of the tables' text columns."""
    groups = (_kind_groups("rejected", rejected, "reason", None)
              + _kind_groups("warning", warnings, "warning", listed_warnings))
    return sorted(groups, key=lambda g: (KIND_ORDER[g.kind], -g.cells, g.code, g.column))


def groups_table(groups: list[CellGroup]) -> pd.DataFrame:
    """The groups as report_groups.problem_groups gives them (its columns, its order), without re-grouping."""
    if not groups:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("cells", "rows") else "str")
                             for c in GROUP_COLUMNS})
    return pd.DataFrame([{c: getattr(g, c) for c in GROUP_COLUMNS} for g in groups], columns=GROUP_COLUMNS
                        ).astype({"cells": "int64", "rows": "int64"})


def _kind_groups(kind: str, table: pd.DataFrame, text: str, limit: int | None) -> list[CellGroup]:
    """The groups of one table (rejected cells or warnings), each in line order (ties in table order)."""
    if not len(table):
        return []
    lines = table["line"].to_numpy(dtype="int64")
    by_line = np.argsort(lines, kind="stable")
    code_ids, codes = pd.factorize(table["code"].astype("str"), use_na_sentinel=False)  # Arrow, no objects
    column_ids, columns = pd.factorize(table["column"].astype("str"), use_na_sentinel=False)
    group_ids = (code_ids.astype("int64") * len(columns) + column_ids)[by_line]
    in_group = np.argsort(group_ids, kind="stable")  # by group, in line order within each
    bounds = np.flatnonzero(np.diff(group_ids[in_group])) + 1
    texts, fields = table[text], table["field"] if "field" in table.columns else table["column"]
    out = []
    for part in np.split(in_group, bounds):
        rows = by_line[part]  # positions in the table, in line order
        group_lines = lines[rows]
        new_line = np.empty(len(group_lines), dtype=bool)
        new_line[0] = True
        np.not_equal(group_lines[1:], group_lines[:-1], out=new_line[1:])
        distinct = group_lines[new_line]
        first_lines = ", ".join(str(int(n)) for n in distinct[:FIRST_LINES_SHOWN])
        first_lines += ", ..." if len(distinct) > FIRST_LINES_SHOWN else ""
        shown = rows if limit is None else rows[:limit]
        listed = pd.DataFrame({"line": group_lines[:len(shown)], "value": table["value"].iloc[shown].to_numpy(),
                               "reason": texts.iloc[shown].to_numpy()})
        more = (int(group_lines[len(shown)]), int(group_lines[-1])) if len(rows) > len(shown) else None
        out.append(CellGroup(kind, str(codes[code_ids[rows[0]]]), str(columns[column_ids[rows[0]]]),
                             str(fields.iloc[rows[0]]), str(texts.iloc[rows[0]]), len(rows), len(distinct),
                             first_lines, listed, len(rows) - len(shown), more))
    return out


def warning_lines(groups: list[CellGroup]) -> list[str]:
    """The warning groups as text, each group's listed cells and then '... and 4,980 more on lines 22 to 5,001'."""
    out = []
    for group in groups:
        if group.kind != "warning":
            continue
        out += [f"  line {line}: {group.column} = {value!r}: {reason}"
                for line, value, reason in group.listed.itertuples(index=False, name=None)]
        if group.not_listed:
            first, last = group.more_lines
            span = f"line {first:,}" if first == last else f"lines {first:,} to {last:,}"
            out.append(f"  ... and {group.not_listed:,} more [{group.code}] {group.column} on {span} "
                       "(use --json --all for every one).")
    return out


def write_report_json(stream: TextIO, summary: dict, rejected: pd.DataFrame, warnings: pd.DataFrame,
                      duplicates: pd.DataFrame, conflicts: pd.DataFrame, every_cell: bool = False,
                      listed_warnings: int = LISTED_WARNINGS) -> None:
    """Write the `validate --json` document to `stream`, piece by piece: the summary's keys (counts, notes,
    ...), `problem_groups` (the counts by reason), `rejected_groups` and `warning_groups` (see the module's
    docstring), `duplicates` and `conflicts`; with every_cell, also `rejected` and `warnings_list`, one object
    per cell."""
    groups = cell_groups(rejected, warnings, listed_warnings)
    stream.write("{\n")
    for key, value in summary.items():
        stream.write(f"  {json.dumps(key)}: {_indented(value)},\n")
    _write_list(stream, "problem_groups", (json.dumps({c: getattr(g, c) for c in GROUP_COLUMNS}) for g in groups))
    for kind, key in (("rejected", "rejected_groups"), ("warning", "warning_groups")):
        _write_list(stream, key, (_group_json(g) for g in groups if g.kind == kind))
    _write_list(stream, "duplicates", _records(duplicates, ["line", "duplicate_of"]), last=False)
    _write_list(stream, "conflicts", _records(conflicts, list(conflicts.columns)), last=not every_cell)
    if every_cell:
        _write_list(stream, "rejected", _records(rejected, list(rejected.columns)))
        _write_list(stream, "warnings_list", _records(warnings, list(warnings.columns)), last=True)
    stream.write("}\n")


def _indented(value) -> str:
    """A small value as indented JSON, one level in."""
    return json.dumps(value, indent=2, default=str).replace("\n", "\n  ")


def _write_list(stream: TextIO, key: str, items, last: bool = False) -> None:
    """`"key": [` then each item on its own line(s), then `]`. An item is JSON text, or an iterable of pieces
    of JSON text (a group and its cells), written as they come."""
    stream.write(f"  {json.dumps(key)}: [")
    first = True
    for item in items:
        stream.write("\n    " if first else ",\n    ")
        for piece in (item,) if isinstance(item, str) else item:
            stream.write(piece)
        first = False
    stream.write(("]" if first else "\n  ]") + ("\n" if last else ",\n"))


def _group_json(group: CellGroup):
    """One group as pieces of JSON: its members, then `listed`, one cell a line (a group of a million rejected
    cells is written chunk by chunk)."""
    yield json.dumps(group.header(), default=str)[:-1] + ', "listed": ['
    separator = "\n      "
    for cell in _records(group.listed, ["line", "value", "reason"]):
        yield separator + cell
        separator = ",\n      "
    yield "]}" if separator == "\n      " else "\n    ]}"


def _records(table: pd.DataFrame, columns: list[str]):
    """Each row of `table` as one JSON object (text), in chunks, every distinct value encoded once."""
    for start in range(0, len(table), CHUNK):
        part = table.iloc[start:start + CHUNK]
        text = None
        for i, column in enumerate(columns):
            values = part[column]
            if column in ("line", "duplicate_of"):
                values = values.astype("int64")
            piece = ("{" if i == 0 else ", ") + json.dumps(column) + ": " + _encoded(values)
            text = piece if text is None else text + piece
        yield from (text + "}").tolist()


def _encoded(values: pd.Series) -> pd.Series:
    """JSON text of each value, each distinct value encoded once (integers directly)."""
    if pd.api.types.is_integer_dtype(values) and not values.hasnans:
        return values.astype("int64").astype("str").astype("object")
    codes, distinct = pd.factorize(values.to_numpy(dtype="object"), use_na_sentinel=False)
    text = np.array([json.dumps(_plain(v), default=str) for v in distinct], dtype="object")
    return pd.Series(text[codes], index=values.index, dtype="object")


def _plain(value):
    """A value as json writes it: numpy numbers as Python ones, NaN and None as null."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or (isinstance(value, float) and value != value):
        return None
    return value
