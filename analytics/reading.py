"""Turn a file's bytes into a raw table: format, encoding, BOM, separator and line numbers, nothing more.

Validation happens later (see `ingest.py`). Here every data row keeps the number of the line it stood on in
the user's file (the header is line 1), so every problem can be reported where the user will find it.
Clean CSV files go through pyarrow's fast reader; a file whose rows do not line up with its lines (wrong
number of values, quoted line breaks) is read again with Python's csv module to get exact line numbers.
Both readers keep every cell as the text written, never inferring a type: `007` stays `007`, and the two give
the same table for the same bytes. Numbers and dates are parsed later, column by column (parsers.py).
"""
from __future__ import annotations

import csv
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from .blanks import no_value
from .reason_codes import Refusal

SEPARATORS = (",", ";", "\t", "|")
SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# A quoted cell may hold a whole pasted letter: the csv module's 128 KB default would refuse the file. The
# file-size limit (config.max_file_bytes) bounds a cell instead; 2**31 - 1 fits a C long on every platform.
CSV_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)


class FileRefused(Exception):
    """The whole file cannot be used; the message says why in plain words, `code` says which refusal it is."""

    def __init__(self, message: str, code: Refusal = Refusal.UNREADABLE_FILE):
        super().__init__(message)
        self.code = code


@dataclass
class RawTable:
    """The file's cells before validation: one column per header, and each row's line number."""

    frame: pd.DataFrame
    lines: np.ndarray
    headers: list[str]
    file_format: str
    encoding: str | None = None
    separator: str | None = None
    bad_rows: list[tuple[int, str]] = field(default_factory=list)  # (line, reason) for rows that do not fit
    blank_rows: int = 0
    spans: dict[int, int] = field(default_factory=dict)  # first line -> last line of records over several lines
    sheet: str | None = None  # the worksheet read, for a workbook
    notes: list[str] = field(default_factory=list)  # what the reader did that the user should know
    # Cells the reader itself rejects or warns about (e.g. an uncalculated formula, a merged range):
    # (line, header, value as written, reason, code); ingest.py puts them in the report.
    cell_rejections: list[tuple[int, str, str, str, str]] = field(default_factory=list)
    cell_warnings: list[tuple[int, str, str, str, str]] = field(default_factory=list)


def read_bytes(source: str | Path | bytes | BinaryIO, max_bytes: int | None = None) -> tuple[bytes, str]:
    """The content and the name of a path, bytes or an uploaded file object. The name only tells formats apart:
    it is never put in a message (file names are data: they may name a patient)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, name = bytes(source), "upload"
    elif isinstance(source, (str, Path)):
        data, name = _read_path(Path(source), max_bytes), Path(source).name
    else:
        data = source.read()
        name = getattr(source, "name", "upload")
    if max_bytes is not None and len(data) > max_bytes:
        raise FileRefused(_too_large(len(data), max_bytes), Refusal.TOO_LARGE)
    return data, str(name)


def _read_path(path: Path, max_bytes: int | None) -> bytes:
    """A file's bytes; a folder, a missing or an unreadable file is a FileRefused with a plain message."""
    if path.is_dir():
        raise FileRefused("The path is a folder, not a file: give the path of a CSV, Excel .xlsx or Parquet file.")
    if not path.exists():
        raise FileRefused("File not found: check the path.")
    try:
        if max_bytes is not None and path.stat().st_size > max_bytes:
            raise FileRefused(_too_large(path.stat().st_size, max_bytes), Refusal.TOO_LARGE)
        return path.read_bytes()
    except PermissionError:
        raise FileRefused("The file cannot be read: permission denied.") from None
    except OSError as err:
        raise FileRefused(f"The file cannot be read: {err.strerror or type(err).__name__}.") from None


def _too_large(size: int, limit: int) -> str:
    return (f"The file is {size / 1048576:.1f} MB, over the limit of {limit / 1048576:.0f} MB "
            "(set OUTCOMES_MAX_FILE_MB to change it, or split the file).")


def sniff_format(data: bytes, name: str = "") -> str:
    """'xlsx', 'parquet' or 'csv', from the content's first bytes (the name only breaks ties)."""
    if data[:4] == b"PAR1":
        return "parquet"
    if data[:4] == b"PK\x03\x04":
        return "xlsx"
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise FileRefused("This is an old Excel .xls file; save it as .xlsx or CSV and upload that.")
    lowered = name.lower()
    if lowered.endswith((".xlsx", ".parquet")):
        raise FileRefused(f"The file is named like a {lowered.rsplit('.', 1)[1]} file but its content is not one.")
    return "csv"


def read_table(source: str | Path | bytes | BinaryIO, name: str | None = None,
               max_bytes: int | None = None, sheet: str | int | None = None) -> RawTable:
    """Read any accepted format into a RawTable; raises FileRefused for a file that cannot be used at all.

    sheet: for a workbook, the worksheet's name or 1-based number (None: the reader chooses and says which).
    """
    data, found_name = read_bytes(source, max_bytes)
    name = name or found_name
    if re.search(rb"\S", data) is None:
        raise FileRefused("The file is empty.", Refusal.EMPTY_FILE)
    file_format = sniff_format(data, name)
    if file_format == "parquet":
        from .parquet_reading import read_parquet
        return read_parquet(data)
    if file_format == "xlsx":
        from .xlsx_reading import read_xlsx
        return read_xlsx(data, sheet)
    return _read_csv(data)


def decode_text(data: bytes) -> tuple[str, str]:
    """Text and encoding name: UTF-8 (BOM or not), else Windows-1252; refuses binary or undecodable bytes."""
    if b"\x00" in data[:65536]:
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise FileRefused("The file is saved as UTF-16; save it as UTF-8 CSV and upload that.")
        raise FileRefused("The file holds binary bytes, not text: upload CSV, Excel .xlsx or Parquet.")
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as err:
            raise FileRefused(f"The file says it is UTF-8 but byte {err.start + 3} is not valid UTF-8.") from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError as err:
        raise FileRefused(f"Unreadable bytes at position {err.start}: the file is neither UTF-8 nor "
                          "Windows-1252 text. Save it as UTF-8 CSV.") from None


def detect_separator(header_line: str) -> str:
    """The candidate separator that splits the header line into the most fields (comma wins ties)."""
    counts = {sep: _count_outside_quotes(header_line, sep) for sep in SEPARATORS}
    best = max(SEPARATORS, key=lambda sep: (counts[sep], sep == ","))
    return best


def _count_outside_quotes(line: str, sep: str) -> int:
    count, quoted = 0, False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif char == sep and not quoted:
            count += 1
    return count


def _nonblank_line_numbers(raw: bytes, expected: int | None = None) -> np.ndarray:
    """1-based numbers of the lines that are not empty ('' or a lone carriage return).

    When the newline count shows there is no empty line (the usual case) this costs one count.
    """
    lines = raw.count(b"\n") + (0 if raw.endswith(b"\n") else 1)
    if expected is not None and lines == expected and raw[:1] not in (b"\n", b"\r"):
        return np.arange(1, lines + 1, dtype=np.int64)
    buffer = np.frombuffer(raw, dtype=np.uint8)
    ends = np.flatnonzero(buffer == 10)
    if len(buffer) and buffer[-1] != 10:
        ends = np.append(ends, len(buffer))
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts
    last_char = buffer[np.maximum(ends - 1, 0)]
    empty = (lengths == 0) | ((lengths == 1) & (last_char == 13))
    return np.flatnonzero(~empty) + 1


def _unique_headers(headers: list[str]) -> list[str]:
    """Headers made unique ('Notes', 'Notes (2)') and never blank ('column 3')."""
    seen: dict[str, int] = {}
    out = []
    for index, header in enumerate(headers):
        header = str(header).strip() or f"column {index + 1}"
        if header in seen:
            seen[header] += 1
            header = f"{header} ({seen[header]})"
        else:
            seen[header] = 1
        out.append(header)
    return out


def _read_csv(data: bytes) -> RawTable:
    """pyarrow's reader straight on the bytes when they are UTF-8 (it checks), else decode and read again."""
    body, encoding = (data[3:], "utf-8-sig") if data.startswith(b"\xef\xbb\xbf") else (data, "utf-8")
    if b"\x00" not in body[:65536]:
        first = re.search(rb"[^\r\n]", body)
        if first is None:
            raise FileRefused("The file is empty.", Refusal.EMPTY_FILE)
        start = first.start()
        end = body.find(b"\n", start)
        header_bytes = body[start:end if end >= 0 else len(body)]
        separator = detect_separator(header_bytes.decode("utf-8", errors="replace"))
        fast = _read_csv_fast(body, separator)
        if fast is not None:
            fast.encoding, fast.separator = encoding, separator
            return fast
    text, encoding = decode_text(data)
    separator = detect_separator(text.lstrip("\r\n").partition("\n")[0].rstrip("\r"))
    table = _read_csv_fast(text.encode("utf-8"), separator) if encoding == "cp1252" else None
    if table is None:
        table = _read_csv_exact(text, separator)
    table.encoding, table.separator = encoding, separator
    return table


def _read_csv_fast(utf8: bytes, separator: str) -> RawTable | None:
    """pyarrow's reader, used when every record is one line; None sends the file to the exact reader."""
    try:
        return _try_read_csv_fast(utf8, separator)
    except UnicodeDecodeError:
        return None


def _try_read_csv_fast(utf8: bytes, separator: str) -> RawTable | None:
    """Every cell as text: the columns are named by position and typed as strings, the header is row one.

    Large strings: what pandas' "str" columns hold, so the frame takes Arrow's buffers without a copy."""
    header_line = _first_line(utf8).decode("utf-8", errors="replace")
    if "\r" in header_line:
        return None  # lines broken by a lone carriage return: pyarrow's rows would not match the line numbers
    width = len(next(csv.reader([header_line], delimiter=separator), []))
    if not width:
        return None
    names = [f"c{i}" for i in range(width)]
    invalid: list = []

    def on_invalid(row) -> str:
        invalid.append(row)
        return "skip"

    for block_size in BLOCK_SIZES:
        invalid.clear()
        try:
            table = pacsv.read_csv(
                pa.BufferReader(utf8),  # Arrow reads the bytes in place (a Python file object copies them)
                read_options=pacsv.ReadOptions(block_size=block_size, column_names=names),
                parse_options=pacsv.ParseOptions(delimiter=separator, invalid_row_handler=on_invalid),
                convert_options=pacsv.ConvertOptions(
                    column_types={name: pa.large_string() for name in names}, strings_can_be_null=False,
                    quoted_strings_can_be_null=False),
            )
            break
        except pa.ArrowInvalid as err:
            if "block" in str(err) and block_size != BLOCK_SIZES[-1]:
                continue  # a record longer than a block (a pasted letter in a cell): larger blocks
            return None
        except (pa.ArrowNotImplementedError, pa.ArrowTypeError, UnicodeDecodeError, ValueError):
            return None
    if invalid or not table.num_rows:
        return None  # rows that do not fit (the header's own width may be read differently): the exact reader
    lines = _nonblank_line_numbers(utf8, expected=table.num_rows)
    if len(lines) != table.num_rows:
        return None  # a quoted value spans lines: line numbers need the exact reader
    headers = _unique_headers([table.column(i)[0].as_py() for i in range(width)])
    table = table.slice(1).rename_columns(headers)
    frame = _arrow_to_frame(table)
    return _drop_blank_rows(RawTable(frame, lines[1:], headers, "csv"))


# Blocks of 4 MB keep both cores busy on a large file; a record longer than a block is read again with 16 MB blocks
# (longer still: the exact reader).
BLOCK_SIZES = (1 << 22, 1 << 24)


def _first_line(data: bytes) -> bytes:
    """The first line that is not empty, without its line break (the header of a CSV file)."""
    first = re.search(rb"[^\r\n]", data)
    if first is None:
        return b""
    end = data.find(b"\n", first.start())
    return data[first.start():end if end >= 0 else len(data)].rstrip(b"\r")


STR_DTYPE = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' "str" dtype, zero-copy from Arrow
_ARROW_TO_PANDAS = {pa.int64(): pd.Int64Dtype(), pa.float64(): pd.Float64Dtype(), pa.bool_(): pd.BooleanDtype(),
                    pa.string(): STR_DTYPE, pa.large_string(): STR_DTYPE}


def _arrow_to_frame(table: pa.Table) -> pd.DataFrame:
    """pandas frame keeping integers as nullable Int64 (blanks stay blank), dates as datetimes, text as str."""
    frame = table.to_pandas(types_mapper=_ARROW_TO_PANDAS.get, date_as_object=False)
    for name in frame.columns:
        if frame[name].dtype == object:
            frame[name] = frame[name].astype("str")
    return frame


def _read_csv_exact(text: str, separator: str) -> RawTable:
    """Python's csv reader: slower, but knows the line each record starts on and keeps rows that do not fit."""
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    bad_rows: list[tuple[int, str]] = []
    spans: dict[int, int] = {}
    previous_end = 0
    physical = [line.rstrip("\r") for line in text.split("\n")]
    try:
        for record in reader:
            start = previous_end + 1
            previous_end = reader.line_num
            if not record or all(not cell.strip() for cell in record):
                if header is not None and record:
                    lines.append(start)
                    rows.append([""] * len(header))
                continue
            if header is None:
                header = record
                continue
            if previous_end > start:
                # A record over several lines: a quoted line break, or a stray quote that swallowed the lines
                # after it. When the lines read one by one each fit the header (or the record does not),
                # take them one by one.
                singles = [next(csv.reader([line], delimiter=separator), [])
                           for line in physical[start - 1:previous_end]]
                fits = all(_fits(single, len(header)) for single in singles if any(c.strip() for c in single))
                if fits or not _fits(record, len(header)):
                    for offset, single in enumerate(singles):
                        _append_record(single, start + offset, header, rows, lines, bad_rows)
                    continue
                spans[start] = previous_end
            _append_record(record, start, header, rows, lines, bad_rows)
    except csv.Error as err:
        raise FileRefused(f"The file cannot be read as CSV near line {reader.line_num}: {err}.") from None
    if header is None:
        raise FileRefused("The file has no header row.", Refusal.EMPTY_FILE)
    headers = _unique_headers(header)
    frame = pd.DataFrame(rows, columns=headers, dtype="str") if rows else pd.DataFrame(
        {h: pd.Series([], dtype="str") for h in headers})
    return _drop_blank_rows(RawTable(frame, np.asarray(lines, dtype=np.int64), headers, "csv", bad_rows=bad_rows,
                                     spans=spans))


def _fits(record: list[str], width: int) -> bool:
    """True when a record has the header's number of values, allowing empty cells after the last."""
    return len(record) == width or (len(record) > width and not any(c.strip() for c in record[width:]))


def _append_record(record: list[str], line: int, header: list[str], rows: list, lines: list, bad_rows: list) -> None:
    """Keep a record that fits the header (trailing empty cells allowed), else list its line as a bad row."""
    if not record or all(not cell.strip() for cell in record):
        return
    if len(record) > len(header) and not any(cell.strip() for cell in record[len(header):]):
        record = record[: len(header)]
    if len(record) != len(header):
        bad_rows.append((line, f"has {len(record)} values but the header has {len(header)} columns"))
        return
    rows.append(record)
    lines.append(line)


def _drop_blank_rows(table: RawTable) -> RawTable:
    """Rows with no value in any cell (blanks, nan, not-recorded tokens) carry no data: counted, not validated.

    Only rows blank in every column so far stay candidates, so a normal file costs one column's check.
    """
    frame = table.frame
    if frame.empty:
        return table
    candidates = np.arange(len(frame))
    for name in frame.columns:
        if not len(candidates):
            return table
        candidates = candidates[no_value(frame[name].iloc[candidates])]
    if len(candidates):
        keep = np.ones(len(frame), dtype=bool)
        keep[candidates] = False
        table.frame = frame.loc[keep].reset_index(drop=True)
        table.lines = table.lines[keep]
        table.blank_rows += len(candidates)
    return table
