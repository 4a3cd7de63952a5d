"""Parquet files into a RawTable: row N of the table is reported as line N + 1, as if a header stood on line 1.

Timestamps become dates here. A timestamp that carries a time zone (e.g. UTC, as many systems export) is first
converted to the clinic's zone (`config.timezone()`): 2025-06-14T23:30:00Z is 15 June in London in summer.
A timestamp without a zone is taken as local time already, and a date column as it is.
"""
from __future__ import annotations

import io

import numpy as np
import pandas as pd

from . import config
from .reading import FileRefused, RawTable, _arrow_to_frame, _drop_blank_rows, _unique_headers


def read_parquet(data: bytes) -> RawTable:
    """A Parquet table; row N of the table is reported as line N + 1, as if a header stood on line 1."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except Exception as err:  # pyarrow raises several types for a broken file
        raise FileRefused(f"The Parquet file cannot be read: {type(err).__name__}.") from None
    headers = _unique_headers(table.column_names)
    table = table.rename_columns(headers)
    frame = _arrow_to_frame(table)
    notes = []
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            column, note = _local(name, column)
            notes.append(note)
        if pd.api.types.is_datetime64_any_dtype(column):
            frame[name] = column.dt.strftime("%Y-%m-%d").astype("str")
    lines = np.arange(2, len(frame) + 2, dtype=np.int64)
    return _drop_blank_rows(RawTable(frame, lines, headers, "parquet", notes=notes))


def _local(name: str, column: pd.Series) -> tuple[pd.Series, str]:
    """The zoned timestamps in the clinic's time zone, and a note saying so and how many dates it moved."""
    try:
        zone = config.timezone()
    except ValueError as err:
        raise FileRefused(f"Column '{name}' holds timestamps with a time zone, which are read as dates in the "
                          f"clinic's time zone, but {err}") from None
    local = column.dt.tz_convert(zone)
    own_day = column.dt.tz_localize(None).dt.normalize()  # the date in the file's own zone
    moved = int(((local.dt.tz_localize(None).dt.normalize() != own_day) & column.notna()).sum())
    note = (f"Column '{name}': timestamps in {column.dt.tz} were converted to the clinic's time zone ({zone}, "
            f"{config.TIMEZONE_ENV}) before taking the date; {moved} of {int(column.notna().sum())} fall on "
            f"another date than in {column.dt.tz}.")
    return local, note
