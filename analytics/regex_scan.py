"""RE2 over a text column, once per distinct value: the identifier checks' hot path.

Why: codes, sites, practitioners and muscle lists repeat (1.3 million sessions hold a few hundred thousand
patients, a dozen sites), so matching each distinct value once and spreading the answer by its dictionary index
costs a fraction of matching every cell. Encoding a column costs about one match of it, so only a column whose first
cells repeat a lot (sites, practitioners, products) is encoded; codes and muscle lists are matched directly.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SAMPLE = 4096  # cells looked at to guess how much a column repeats
DISTINCT_SHARE = 0.05  # match per distinct value when the sample's distinct values are at most this share of it


def _match(array: pa.Array, pattern: str) -> np.ndarray:
    return pc.fill_null(pc.match_substring_regex(array, pattern), False).to_numpy(zero_copy_only=False)


def matches(array: pa.Array | pa.ChunkedArray, pattern: str) -> np.ndarray:
    """True where a cell contains a match of the RE2 pattern (null cells: False), as a numpy bool array."""
    if len(array) < 1024:
        return _match(array, pattern)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    sample = array.slice(0, SAMPLE)
    if pc.count_distinct(sample, mode="all").as_py() > DISTINCT_SHARE * len(sample):
        return _match(array, pattern)  # codes and lists: encoding would cost more than the matching it saves
    encoded = pc.dictionary_encode(array)
    per_value = _match(encoded.dictionary, pattern)
    indices = encoded.indices
    if indices.null_count:
        found = np.zeros(len(array), dtype=bool)
        valid = pc.is_valid(indices).to_numpy(zero_copy_only=False)
        found[valid] = per_value[indices.drop_null().to_numpy()]
        return found
    return per_value[indices.to_numpy()]
