"""RE2 over a text column, once per distinct value: the identifier checks' hot path.

Why: codes, sites, practitioners and muscle lists repeat (1.3 million sessions hold a few hundred thousand
patients, a dozen sites), so matching each distinct value once and spreading the answer by its code costs a
fraction of matching every cell. The column's encoding is made once per ingestion and shared with every other
check (distinct.py); a column whose values barely repeat (session codes) is matched directly.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .distinct import per_value


def matches(array: pd.Series | pa.Array | pa.ChunkedArray, pattern: str) -> np.ndarray:
    """True where a cell contains a match of the RE2 pattern (null cells: False), as a numpy bool array.

    Give the pandas column itself where there is one: its encoding is then shared with the other checks."""
    return np.asarray(per_value(array, lambda text: _match(text, pattern)), dtype=bool)


def _match(array: pa.Array | pa.ChunkedArray, pattern: str):
    return pc.fill_null(pc.match_substring_regex(array, pattern), False)
