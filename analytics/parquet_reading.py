"""Parquet files into a RawTable: row N of the table is reported as line N + 1, as if a header stood on line 1."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd

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
    for name in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[name]):
            frame[name] = frame[name].dt.strftime("%Y-%m-%d").astype("str")
    lines = np.arange(2, len(frame) + 2, dtype=np.int64)
    return _drop_blank_rows(RawTable(frame, lines, headers, "parquet"))
