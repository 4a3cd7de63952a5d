"""Tables as CSV that are safe to open in a spreadsheet: formula injection neutralised.

Why: a cell written as `=HYPERLINK(...)`, `+cmd|...`, `-2+3` or `@SUM(...)` in a clinic's upload (a rejected value
shown in the validation report, a free-text grouping column) would run as a formula when the CSV is opened in
Excel or LibreOffice (OWASP "CSV Injection"). Every CSV the app offers goes through `to_csv_bytes`.

Rule: a text cell (or a column header) whose first character is one of = + - @, or a tab or carriage return,
gets a single quote in front, so spreadsheets show it as text. Numbers stay numbers: a negative number in a
numeric column is data, not a formula (spreadsheets read -100 as a number). Text that only looks numeric,
such as the value "-100" as written in a rejected cell, is text and is prefixed.
"""
from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def neutralise_text(value):
    """One value: a string starting with a formula character gets a leading single quote; others unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return QUOTE + value
    return value


def _is_text_column(column: pd.Series) -> bool:
    dtype = column.dtype
    return (pd.api.types.is_string_dtype(dtype) or dtype == object
            or isinstance(dtype, pd.CategoricalDtype))


def neutralise_formulas(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of the table with every text cell and header that starts with = + - @ (or tab / CR) quoted.

    Numeric, boolean and date columns are left as they are. Vectorised: one string check per text column.
    """
    out = table.copy()
    for position, name in enumerate(table.columns):
        column = table.iloc[:, position]
        if not _is_text_column(column):
            continue
        as_object = column.astype(object)
        text = as_object.map(lambda v: isinstance(v, str))  # object columns can mix text and numbers
        starts = pd.Series(False, index=column.index)
        if text.any():
            starts = text & as_object.where(text, "").astype("str").str.startswith(FORMULA_STARTS)
        if starts.any():
            fixed = as_object.where(~starts, QUOTE + as_object.where(starts, "").astype("str"))
            out.isetitem(position, fixed)
    out.columns = [neutralise_text(str(c)) if isinstance(c, str) else c for c in table.columns]
    return out


def to_csv_bytes(table: pd.DataFrame, index: bool = False) -> bytes:
    """The table as UTF-8 CSV (with BOM, so Excel reads accents) after `neutralise_formulas`.

    Lines end in CRLF, as spreadsheets write CSV: the writer then quotes every cell holding a CR or a LF, so a
    carriage return inside a name cannot end the row early and shift the cells after it.
    """
    safe = neutralise_formulas(table.reset_index() if index else table)
    return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def csv_name(*parts: str) -> str:
    """A file name from words: ('Watchlist', 'North') -> 'watchlist_north.csv'."""
    words = "_".join(str(p) for p in parts if p)
    safe = "".join(ch if ch.isalnum() else "_" for ch in words.lower())
    while "__" in safe:
        safe = safe.replace("__", "_")
    return (safe.strip("_") or "table") + ".csv"
