"""Which cell texts mean "no value": a silent export blank, or a "not recorded" token the report mentions.

Exports write an empty cell as '', NA, NULL or #N/A: those are blanks and need no word. People type '?',
'n/a', '—' or 'unknown' where nothing was recorded: in an optional column that is a blank too, but the report
says so (once per column); in a required column it is the usual "blank, but required" rejection. 'nan' and
'NaN' are blanks in text, date and category columns (what a program writes for a missing value) but in a
number column they are a value that cannot be real (see parsers.parse_number). The token lists are the data
contract's (schema.py); this module only classifies cells, vectorised with Arrow.
"""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .distinct import arrow_of, as_numpy, encoding_for
from .schema import EXPORT_BLANKS, NAN_TOKENS, NOT_RECORDED_TOKENS


def _any_case(tokens: tuple[str, ...]) -> list[str]:
    """Every spelling of the tokens in upper and lower case ('na', 'nA', 'Na', 'NA'), so one hash lookup per cell
    finds them without case-folding the whole column."""
    return sorted({"".join(chars) for token in tokens
                   for chars in itertools.product(*({c.lower(), c.upper()} for c in token))})


_EXPORT = pa.array(EXPORT_BLANKS, type=pa.string())
_EXPORT_AND_NAN = pa.array([*EXPORT_BLANKS, *_any_case(NAN_TOKENS)], type=pa.string())
_NOT_RECORDED = pa.array(_any_case(NOT_RECORDED_TOKENS), type=pa.string())


def as_arrow_text(values: pd.Series) -> pa.ChunkedArray | pa.Array:
    """A column's cells as an Arrow string array (zero-copy for the readers' pyarrow-backed text)."""
    return arrow_of(values)


def blank_cells(values: pd.Series, nan_is_blank: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(blank, not_recorded) boolean arrays: export blanks, and not-recorded tokens (trimmed, any case).

    A typed column (numbers, dates from Parquet) is blank where it is missing and never "not recorded".
    nan_is_blank: False for number columns, where 'nan' is a non-finite value rather than a blank.
    """
    if not (values.dtype == "str" or values.dtype == object):
        return values.isna().to_numpy(dtype=bool), np.zeros(len(values), dtype=bool)
    encoded = encoding_for(values)  # once per distinct value when the column repeats
    text = pc.utf8_trim_whitespace(encoded.values if encoded is not None else as_arrow_text(values))
    blank = pc.fill_null(pc.is_in(text, value_set=_EXPORT_AND_NAN if nan_is_blank else _EXPORT), True)
    not_recorded = pc.fill_null(pc.is_in(text, value_set=_NOT_RECORDED), False)
    blank, not_recorded = (np.asarray(as_numpy(a), dtype=bool) for a in (blank, not_recorded))
    if encoded is not None:
        blank, not_recorded = encoded.spread(blank, True), encoded.spread(not_recorded, False)
    return blank, not_recorded & ~blank


def no_value(values: pd.Series) -> np.ndarray:
    """True where a cell holds no value at all (an export blank, nan or a not-recorded token): for blank rows."""
    blank, not_recorded = blank_cells(values)
    return blank | not_recorded
