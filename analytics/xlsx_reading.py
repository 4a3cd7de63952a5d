"""Excel .xlsx workbooks into a RawTable: the sheet's row numbers are the line numbers.

Kept apart from reading.py (CSV) because a workbook has its own ways to go wrong: several sheets (a cover page
before the data), merged cells (a value shown on several rows but stored on one), formulas saved without their
value (a file written by a script), dates typed as timestamps.

The cells are read with openpyxl in read-only mode (streaming, so a large sheet costs little memory). That mode
does not report merged ranges or tell an uncalculated formula from a blank cell, so the sheet's XML is also
scanned once, in chunks, for its `<mergeCell>` elements and its formula cells without a cached value; only
when such formulas exist is the sheet read a second time for their text.
"""
from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from openpyxl.utils import column_index_from_string, get_column_letter

from .mapping import missing_required, resolve_columns
from .reading import FileRefused, RawTable, _unique_headers
from .reason_codes import Caution, Refusal, Rejection
from .schema import ASSESSMENT_COLUMNS, SESSION_COLUMNS

FORMULA_REASON = "formula not calculated: open and save the file in Excel first"
_CHUNK = 1 << 20  # bytes of sheet XML scanned at a time
_OVERLAP = 1 << 16  # bytes carried over between chunks: longer than any one formula cell or merge element
_NS = rb"(?:[A-Za-z_][\w.-]*:)?"  # an optional namespace prefix (some writers use <x:c>)
_MERGE = re.compile(rb"<" + _NS + rb"mergeCell\b[^>]*?\bref=\"([^\"]+)\"")
# A formula cell as a whole: <c ...><f ...>text</f><v>cached</v></c>; the cached value may be absent or empty.
_FORMULA_CELL = re.compile(
    rb"<" + _NS + rb"c\b([^>]*)>\s*<" + _NS + rb"f\b[^>]*?(?:/>|>[^<]*</" + _NS + rb"f>)\s*"
    rb"(?:<" + _NS + rb"v>([^<]*)</" + _NS + rb"v>|<" + _NS + rb"v\s*/>)?\s*</" + _NS + rb"c>")
_ATTRIBUTE = re.compile(rb"\b(r|t)=\"([^\"]*)\"")
_REFERENCE = re.compile(r"^\$?([A-Za-z]{1,3})\$?(\d+)(?::\$?([A-Za-z]{1,3})\$?(\d+))?$")


def sheet_names(data: bytes) -> list[str]:
    """The workbook's worksheet names in tab order (for a select box); raises FileRefused for a broken file."""
    workbook = _open(data, data_only=True)
    try:
        return [ws.title for ws in workbook.worksheets]
    finally:
        workbook.close()


def read_xlsx(data: bytes, sheet: str | int | None = None) -> RawTable:
    """One worksheet as a RawTable; the sheet's row numbers are the line numbers.

    sheet: a name, or a 1-based number (a string of digits counts as a number unless a sheet has that exact
    name), or None for the first sheet whose header row fits the data contract (else the first with data).
    """
    workbook = _open(data, data_only=True)
    try:
        worksheets = list(workbook.worksheets)
        for ws in worksheets:
            ws.reset_dimensions()  # a wrong <dimension> would otherwise cut rows off
        if sheet is None or (isinstance(sheet, str) and not sheet.strip()):
            chosen, why = _default_sheet(worksheets)
        else:
            chosen, why = _named_sheet(worksheets, sheet), "as chosen"
        table = _read_sheet(data, chosen)
    finally:
        workbook.close()
    if table is None:
        raise FileRefused(f"The sheet '{chosen.title}' is empty. The workbook's sheets: {_listing(worksheets)}.",
                          Refusal.EMPTY_FILE)
    table.sheet = chosen.title
    if len(worksheets) > 1:
        others = ", ".join(f"'{ws.title}'" for ws in worksheets if ws is not chosen)
        table.notes.insert(0, f"Read sheet '{chosen.title}' ({why}; the workbook also has {others}; "
                              "choose another with --sheet or the sheet box).")
    return table


def _open(data: bytes, data_only: bool):
    """The workbook in openpyxl's streaming read-only mode; FileRefused when it cannot be opened."""
    import openpyxl

    try:
        return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=data_only)
    except Exception as err:  # openpyxl raises many types for a broken workbook
        raise FileRefused(f"The Excel file cannot be opened: {type(err).__name__}.") from None


def _listing(worksheets: list) -> str:
    """The sheets as the user can name them: "1 'Cover', 2 'Sessions'"."""
    return ", ".join(f"{number} '{ws.title}'" for number, ws in enumerate(worksheets, start=1))


def _named_sheet(worksheets: list, sheet: str | int):
    """The sheet the user asked for: an exact name first, then a 1-based number, then a name in any case."""
    if isinstance(sheet, str):
        text = sheet.strip()
        for ws in worksheets:
            if ws.title == sheet or ws.title == text:
                return ws
        if text.isdigit():
            sheet = int(text)
        else:
            folded = [ws for ws in worksheets if ws.title.strip().casefold() == text.casefold()]
            if len(folded) == 1:
                return folded[0]
            raise FileRefused(f"The workbook has no sheet '{text}'. Its sheets: {_listing(worksheets)}.",
                              Refusal.NO_SUCH_SHEET)
    if isinstance(sheet, int) and not isinstance(sheet, bool) and 1 <= sheet <= len(worksheets):
        return worksheets[sheet - 1]
    raise FileRefused(f"The workbook has no sheet number {sheet}: it has {len(worksheets)} sheet(s): "
                      f"{_listing(worksheets)}.", Refusal.NO_SUCH_SHEET)


def _default_sheet(worksheets: list) -> tuple:
    """The first sheet whose header row fits the contract (sessions or assessments), else the first with data."""
    first_with_data = None
    for ws in worksheets:
        header = _header_row(ws)
        if header is None:
            continue
        if _fits_contract(_unique_headers(header)):
            return ws, "the first whose header fits the data contract"
        first_with_data = first_with_data or ws
    if first_with_data is None:
        raise FileRefused("The Excel file has no sheet with data.", Refusal.EMPTY_FILE)
    return first_with_data, "the first with data: no sheet's header row fits the data contract"


def _header_row(ws) -> list[str] | None:
    """The sheet's first non-empty row as text (trailing blank cells dropped); None for an empty sheet."""
    for values in ws.iter_rows(values_only=True):
        cells = [_cell_text(v) for v in values]
        if any(c.strip() for c in cells):
            while not cells[-1].strip():
                cells.pop()
            return cells
    return None


def _fits_contract(headers: list[str]) -> bool:
    """True when the headers name every required column of session records or of repeated assessments."""
    for columns, kind in ((SESSION_COLUMNS, "sessions"), (ASSESSMENT_COLUMNS, "assessments")):
        resolved = resolve_columns(headers, columns)
        if missing_required(headers, resolved.column_map, columns, kind) is None:
            return True
    return False


def _cell_text(value) -> str:
    """An Excel cell as the text a person would have typed; a datetime keeps its time of day unless midnight."""
    if value is None:
        return ""
    if value.__class__ is str:
        return value
    if isinstance(value, pd.Timestamp) or hasattr(value, "isoformat"):
        text = value.isoformat()
        if text.endswith("T00:00:00"):
            text = text[:-9]
        return text
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class _Merge:
    """A merged range clipped to the headed columns (0-based), its top-left value and the rows it was filled into."""

    ref: str
    first_row: int
    last_row: int
    first_col: int
    last_col: int
    value: str = ""
    filled_rows: list[int] = field(default_factory=list)


@dataclass
class _SheetScan:
    """What openpyxl's read-only mode cannot say: merged ranges, and rows with formulas saved without a value."""

    merges: list[tuple[str, int, int, int, int]] = field(default_factory=list)  # ref, rows, columns (1-based)
    formula_cells: set[tuple[int, int]] = field(default_factory=set)  # (row, 0-based column) without a value
    formula_cells_unknown: bool = False  # an uncalculated formula cell without its r="B2" reference


def _scan_sheet_xml(data: bytes, path: str) -> _SheetScan:
    """One streaming pass over the sheet's XML (decompressed in chunks): merged ranges and uncalculated formulas."""
    scan = _SheetScan()
    with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open(path.lstrip("/")) as source:
        carry = b""
        while True:
            chunk = source.read(_CHUNK)
            buffer = carry + chunk
            done = 0
            # The patterns run only from where a cheap byte search finds their tag (most sheets have neither).
            start = buffer.find(b"mergeCell")
            for match in _MERGE.finditer(buffer, max(start - 64, 0)) if start >= 0 else ():
                bounds = _bounds(match.group(1).decode("ascii", "replace"))
                if bounds:
                    scan.merges.append((match.group(1).decode("ascii", "replace"), *bounds))
                done = max(done, match.end())
            start = min((i for i in (buffer.find(b"<f"), buffer.find(b":f>"), buffer.find(b":f ")) if i >= 0),
                        default=-1)
            for match in _FORMULA_CELL.finditer(buffer, max(start - 4096, 0)) if start >= 0 else ():
                done = max(done, match.end())
                attributes = dict(_ATTRIBUTE.findall(match.group(1)))
                if (match.group(2) or b"").strip() or attributes.get(b"t") in (b"str", b"inlineStr"):
                    continue  # calculated (an empty text result stays blank)
                reference = _bounds(attributes.get(b"r", b"").decode("ascii", "replace"))
                if reference:
                    scan.formula_cells.add((reference[0], reference[2] - 1))
                else:
                    scan.formula_cells_unknown = True
            if not chunk:
                break
            carry = buffer[max(done, len(buffer) - _OVERLAP):]
    return scan


def _bounds(reference: str) -> tuple[int, int, int, int] | None:
    """(first row, last row, first column, last column), 1-based, of 'B2' or 'A2:C5'; None if not a reference."""
    match = _REFERENCE.match(reference.strip())
    if not match:
        return None
    col1, row1, col2, row2 = match.groups()
    col2, row2 = col2 or col1, row2 or row1
    first_col, last_col = sorted((column_index_from_string(col1.upper()), column_index_from_string(col2.upper())))
    first_row, last_row = sorted((int(row1), int(row2)))
    return first_row, last_row, first_col, last_col


def _formulas(data: bytes, title: str, rows: set[int] | None) -> dict[tuple[int, int], str]:
    """{(row, 0-based column): formula as written} on the given rows (None: every row), from a formula pass."""
    workbook = _open(data, data_only=False)
    try:
        ws = workbook[title]
        ws.reset_dimensions()
        found: dict[tuple[int, int], str] = {}
        low, high = (min(rows), max(rows)) if rows else (1, None)
        for number, values in enumerate(ws.iter_rows(min_row=low, max_row=high, values_only=True), start=low):
            if rows is not None and number not in rows:
                continue
            for index, value in enumerate(values):
                text = getattr(value, "text", value)  # an array formula carries its text
                if isinstance(text, str) and text.startswith("="):
                    found[(number, index)] = text
        return found
    finally:
        workbook.close()


def _read_sheet(data: bytes, ws) -> RawTable | None:
    """The sheet's header and rows (merged ranges filled, uncalculated formulas rejected); None when empty."""
    scan = _scan_sheet_xml(data, ws._worksheet_path)  # openpyxl's own path of the sheet in the archive
    formula_rows = {row for row, _ in scan.formula_cells}
    formulas = (_formulas(data, ws.title, None if scan.formula_cells_unknown else formula_rows)
                if formula_rows or scan.formula_cells_unknown else {})
    if not scan.formula_cells_unknown:  # else (no cell references) any formula read as blank is uncalculated
        formulas = {cell: text for cell, text in formulas.items() if cell in scan.formula_cells}
    first_formula_column = {}  # row -> its leftmost uncalculated formula: such a row is not blank
    for row, column in formulas:
        first_formula_column[row] = min(column, first_formula_column.get(row, column))
    header: list[str] | None = None
    rows, lines, bad_rows = [], [], []
    starts: dict[int, list[_Merge]] = {}
    covers: dict[int, list[_Merge]] = {}
    merges: list[_Merge] = []
    rejections: list[tuple[int, str, str, str, str]] = []
    for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
        cells = [_cell_text(v) for v in values]
        if header is None:
            if any(c.strip() for c in cells):
                while not cells[-1].strip():
                    cells.pop()
                header = cells
                merges, starts, covers = _plan_merges(scan.merges, number, len(header))
            continue
        if not any(c.strip() for c in cells) and first_formula_column.get(number, len(header)) >= len(header):
            continue
        if len(cells) < len(header):
            cells += [""] * (len(header) - len(cells))
        if number in starts or number in covers:
            _fill(cells, number, starts.get(number, ()), covers.get(number, ()))
        if len(cells) > len(header):
            if any(c.strip() for c in cells[len(header):]):
                bad_rows.append((number, f"has values beyond the last of the {len(header)} headed columns"))
                continue
            cells = cells[: len(header)]
        if number in first_formula_column:
            rejections += _uncalculated(number, values, cells, header, formulas)
        rows.append(cells)
        lines.append(number)
    if header is None:
        return None
    headers = _unique_headers(header)
    frame = pd.DataFrame(rows, columns=headers, dtype="str") if rows else pd.DataFrame(
        {h: pd.Series([], dtype="str") for h in headers})
    table = RawTable(frame, np.asarray(lines, dtype=np.int64), headers, "xlsx", bad_rows=bad_rows)
    table.cell_rejections = [(line, headers[index], text, reason, code)
                             for line, index, text, reason, code in rejections]
    table.cell_warnings = [_merge_warning(merge, headers) for merge in merges if merge.value.strip()
                           and (merge.filled_rows or merge.last_col > merge.first_col)]
    return table


def _plan_merges(ranges: list, header_row: int, width: int) -> tuple[list[_Merge], dict, dict]:
    """The merged ranges below the header, clipped to its columns, indexed by their first row and the rows they
    cover below it (ranges in or above the header row are layout, not data)."""
    merges, starts, covers = [], {}, {}
    for ref, first_row, last_row, first_col, last_col in ranges:
        if first_row <= header_row or first_col > width:
            continue
        merge = _Merge(ref, first_row, last_row, first_col - 1, min(last_col, width) - 1)
        merges.append(merge)
        starts.setdefault(first_row, []).append(merge)
        for row in range(first_row + 1, last_row + 1):
            covers.setdefault(row, []).append(merge)
    return merges, starts, covers


def _fill(cells: list[str], number: int, starting: list[_Merge], covering: list[_Merge]) -> None:
    """Give every cell of a merged range its top-left value (Excel shows it there; openpyxl reads it once)."""
    for merge in starting:
        merge.value = cells[merge.first_col]
        cells[merge.first_col + 1: merge.last_col + 1] = [merge.value] * (merge.last_col - merge.first_col)
    for merge in covering:
        if merge.value.strip():
            cells[merge.first_col: merge.last_col + 1] = [merge.value] * (merge.last_col - merge.first_col + 1)
            merge.filled_rows.append(number)


def _merge_warning(merge: _Merge, headers: list[str]) -> tuple[int, str, str, str, str]:
    """One warning per merged range: (first row, header of its first column, value, message, code)."""
    rows = [merge.first_row, *merge.filled_rows]
    where = f"row {rows[0]}" if len(rows) == 1 else f"rows {_runs(rows)}"
    if merge.last_col > merge.first_col:
        columns = f"{get_column_letter(merge.first_col + 1)}–{get_column_letter(merge.last_col + 1)}"
        where = f"columns {columns} of {where}"
    message = f"merged cells {merge.ref}: the value was filled into {where}; check it applies to each"
    return merge.first_row, headers[merge.first_col], merge.value, message, str(Caution.MERGED_CELLS)


def _runs(numbers: list[int]) -> str:
    """Row numbers in runs: [2, 3, 4, 7] -> '2–4 and 7'."""
    runs: list[list[int]] = []
    for number in numbers:
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    words = [f"{a}–{b}" if b > a else f"{a}" for a, b in runs]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _uncalculated(number: int, values: tuple, cells: list[str], header: list[str],
                  formulas: dict[tuple[int, int], str]) -> list[tuple[int, int, str, str, str]]:
    """Cells of this row holding a formula whose value was never calculated: (line, column, formula, reason, code)."""
    found = []
    for index in range(min(len(values), len(header))):
        text = formulas.get((number, index))
        if text is not None and values[index] is None and not cells[index].strip():
            found.append((number, index, text, FORMULA_REASON, str(Rejection.FORMULA_NOT_CALCULATED)))
    return found
