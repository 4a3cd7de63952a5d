"""The report of one file being checked: every rejected cell and every warning, with its line, column, value as
written, human reason and reason code. Checks add to it with boolean masks, so collecting stays vectorised.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .reason_codes import Caution, Rejection

CELL_COLUMNS = ["line", "column", "field", "value", "reason", "code"]
WARNING_COLUMNS = ["line", "column", "field", "value", "warning", "code"]
DUPLICATE_COLUMNS = ["line", "duplicate_of"]
CONFLICT_COLUMNS = ["line", "key", "other_lines"]
ROW_PROBLEM = "(whole row)"


def empty_table(columns: list[str]) -> pd.DataFrame:
    """A report table with no rows."""
    return pd.DataFrame(columns=columns)


class Report:
    """Rejected cells and warnings of one file, gathered check by check and returned as two tables."""

    def __init__(self, frame: pd.DataFrame, lines: np.ndarray, header_of: dict[str, str]):
        self.frame, self.lines, self.header_of = frame, lines, header_of
        self.problems: list[pd.DataFrame] = []
        self.cautions: list[pd.DataFrame] = []

    def reject(self, canonical: str, mask: pd.Series, reason: str | pd.Series, code: Rejection,
               values: pd.Series | None = None) -> None:
        """Record a rejected cell for every row where mask is True."""
        mask = _as_mask(mask)
        if mask.any():
            self.problems.append(self._cells(canonical, mask, reason, code, values))

    def warn(self, canonical: str, mask: pd.Series, message: str | pd.Series, code: Caution,
             values: pd.Series | None = None) -> None:
        """Record a warning (accepted, but worth a look) for every row where mask is True."""
        mask = _as_mask(mask)
        if mask.any():
            cells = self._cells(canonical, mask, message, code, values)
            self.cautions.append(cells.rename(columns={"reason": "warning"}))

    def reject_rows(self, lines, reasons) -> None:
        """Record rows that could not be split into cells (too many or too few fields)."""
        if len(lines):
            self.problems.append(pd.DataFrame({"line": lines, "column": ROW_PROBLEM, "field": ROW_PROBLEM,
                                               "value": "", "reason": reasons, "code": str(Rejection.MALFORMED_ROW)}))

    def warn_not_recorded(self, canonical: str, mask: np.ndarray, shown: int = 10) -> None:
        """One warning for a whole column whose cells hold not-recorded tokens ('?', 'n.a.', ...), on the first
        such line: how many cells, which tokens as written, and their first `shown` lines."""
        positions = np.flatnonzero(mask)
        if not len(positions):
            return
        header = self.header_of.get(canonical, canonical)
        tokens = pd.unique(self.frame[header].iloc[positions].astype("str").str.strip().to_numpy())
        lines = self.lines[positions]
        n = len(positions)
        quoted = ", ".join(f"'{t}'" for t in tokens[:5]) + (", ..." if len(tokens) > 5 else "")
        where = ", ".join(str(line) for line in lines[:shown]) + (", ..." if n > shown else "")
        message = (f"{n} cell{'s' if n != 1 else ''} read as not recorded ({quoted}) \u2014 "
                   f"line{'s' if n != 1 else ''} {where}")
        self.cautions.append(pd.DataFrame({"line": [int(lines[0])], "column": header, "field": canonical,
                                           "value": ", ".join(tokens[:5]), "warning": message,
                                           "code": str(Caution.NOT_RECORDED)}))

    def warn_rows(self, rows: pd.DataFrame, canonical: str, message: str, code: Caution) -> None:
        """Record a warning on the given accepted rows (which carry their `line`)."""
        if len(rows):
            self.cautions.append(pd.DataFrame({
                "line": rows["line"].to_numpy(), "column": self.header_of.get(canonical, canonical),
                "field": canonical, "value": as_written(rows[canonical]).to_numpy(), "warning": message,
                "code": str(code)}))

    def reader_cells(self, rejections: list[tuple], warnings: list[tuple]) -> None:
        """Record the cells the file reader itself rejected or warned about: (line, header, value, reason, code)."""
        field_of = {header: canonical for canonical, header in self.header_of.items()}
        for items, target, text in ((rejections, self.problems, "reason"), (warnings, self.cautions, "warning")):
            if items:
                table = pd.DataFrame(items, columns=["line", "column", "value", text, "code"])
                table["field"] = table["column"].map(field_of).fillna(table["column"])
                target.append(table[["line", "column", "field", "value", text, "code"]])

    def rejected_mask(self, fields: set[str]) -> np.ndarray:
        """True on rows that already have a rejected cell in one of these fields."""
        lines = [p.loc[p["field"].isin(fields), "line"] for p in self.problems]
        bad = pd.concat(lines).to_numpy() if lines else np.array([], dtype=np.int64)
        return np.isin(self.lines, bad)

    def rejected(self) -> pd.DataFrame:
        """Every rejected cell, by line; a cell rejected by two checks is listed once, with the first reason
        (e.g. an uncalculated Excel formula, not also 'blank, but required')."""
        table = pd.concat(self.problems, ignore_index=True) if self.problems else empty_table(CELL_COLUMNS)
        cell = table[["line", "column"]]
        repeated = cell.duplicated(keep="first").to_numpy() & (table["column"] != ROW_PROBLEM).to_numpy()
        if repeated.any():
            table = table.loc[~repeated]
        return table.sort_values(["line"], kind="stable").reset_index(drop=True)

    def warnings(self) -> pd.DataFrame:
        """Every warning, by line and column."""
        table = pd.concat(self.cautions, ignore_index=True) if self.cautions else empty_table(WARNING_COLUMNS)
        return table.sort_values(["line", "column"], kind="stable").reset_index(drop=True)

    def _cells(self, canonical: str, mask: pd.Series, reason, code, values) -> pd.DataFrame:
        positions = np.flatnonzero(mask.to_numpy())
        header = self.header_of.get(canonical, canonical)
        if values is None:
            values = self.frame[header] if header in self.frame.columns else pd.Series("", index=mask.index)
        written = as_written(values.iloc[positions])
        reasons = reason.iloc[positions].to_numpy() if isinstance(reason, pd.Series) else reason
        return pd.DataFrame({"line": self.lines[positions], "column": header, "field": canonical,
                             "value": written.to_numpy(), "reason": reasons, "code": str(code)})


class DistinctReport(Report):
    """The report of a check run once per distinct value of a column (its `line` is the value's index among the
    distinct values): `spread_into` then gives every row holding a value that value's rejections and warnings,
    at the row's own line, in the order the check made them."""

    def __init__(self, distinct: pd.Series, header: str, canonical: str):
        super().__init__(pd.DataFrame({header: distinct}), np.arange(len(distinct), dtype=np.int64),
                         {canonical: header})

    def warn_not_recorded(self, canonical: str, mask: np.ndarray, shown: int = 10) -> None:
        """A column-wide warning counts rows: kept as the distinct values' mask, made per row in spread_into."""
        self.cautions.append((canonical, np.asarray(mask, dtype=bool), shown))

    def spread_into(self, report: Report, codes: np.ndarray, lines: np.ndarray) -> None:
        """Add this report's problems to `report`, one per row whose code names a distinct value with one
        (codes: each row's index among the distinct values, -1 for a missing cell; lines: each row's line)."""
        n = len(self.lines)
        for source, target in ((self.problems, report.problems), (self.cautions, report.cautions)):
            for table in source:
                if isinstance(table, tuple):
                    canonical, mask, shown = table
                    report.warn_not_recorded(canonical, np.append(mask, False)[codes], shown)
                    continue
                lookup = np.full(n + 1, -1, dtype=np.int64)  # the last slot: missing cells (code -1)
                lookup[table["line"].to_numpy(dtype=np.int64)] = np.arange(len(table))
                at = lookup[codes]
                rows = np.flatnonzero(at >= 0)
                if len(rows):
                    spread = table.iloc[at[rows]].reset_index(drop=True)
                    spread["line"] = lines[rows]
                    target.append(spread)


def _as_mask(mask: pd.Series) -> pd.Series:
    return mask if mask.dtype == bool else mask.fillna(False).astype(bool)


def as_written(values: pd.Series) -> pd.Series:
    """Cell values as text for the report: numbers without a trailing .0 (inf as inf), blanks as ''."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.strftime("%Y-%m-%d").fillna("")
    if pd.api.types.is_float_dtype(values):
        values = values.astype("Float64")
        finite = np.isfinite(values.to_numpy(dtype="float64", na_value=np.nan))
        whole = (values == values.round()) & finite
        text = values.astype("str")
        whole = whole.fillna(False)
        text = text.where(~whole, values.where(whole).round().astype("Int64").astype("str"))
        return text.fillna("")
    return values.astype("str").fillna("")
