"""Excel .xlsx workbooks into a RawTable: the sheet's row numbers are the line numbers.

Kept apart from reading.py (CSV) because a workbook has its own ways to go wrong: several sheets, merged
cells, formulas, dates typed as timestamps.
"""
from __future__ import annotations

import io

import numpy as np
import pandas as pd

from .reading import FileRefused, RawTable, _unique_headers
from .reason_codes import Refusal


def _cell_text(value) -> str:
    """An Excel or Parquet cell as the text a person would have typed."""
    if value is None:
        return ""
    if isinstance(value, pd.Timestamp) or hasattr(value, "isoformat"):
        text = value.isoformat()
        if text.endswith("T00:00:00"):
            text = text[:-9]
        return text
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_xlsx(data: bytes, sheet: str | int | None = None) -> RawTable:
    """The first worksheet with data; the sheet's row numbers are the line numbers."""
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as err:  # openpyxl raises many types for a broken workbook
        raise FileRefused(f"The Excel file cannot be opened: {type(err).__name__}.") from None
    try:
        for sheet in workbook.worksheets:
            header: list[str] | None = None
            rows, lines, bad_rows = [], [], []
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                cells = [_cell_text(v) for v in values]
                if header is None:
                    if any(c.strip() for c in cells):
                        while cells and not cells[-1].strip():
                            cells.pop()
                        header = cells
                    continue
                if len(cells) < len(header):
                    cells += [""] * (len(header) - len(cells))
                if len(cells) > len(header):
                    if any(c.strip() for c in cells[len(header):]):
                        bad_rows.append((number, f"has values beyond the last of the {len(header)} headed columns"))
                        continue
                    cells = cells[: len(header)]
                if not any(c.strip() for c in cells):
                    continue
                rows.append(cells)
                lines.append(number)
            if header is not None:
                headers = _unique_headers(header)
                frame = pd.DataFrame(rows, columns=headers, dtype="str") if rows else pd.DataFrame(
                    {h: pd.Series([], dtype="str") for h in headers})
                return RawTable(frame, np.asarray(lines, dtype=np.int64), headers, "xlsx", bad_rows=bad_rows)
    finally:
        workbook.close()
    raise FileRefused("The Excel file has no sheet with data.", Refusal.EMPTY_FILE)


