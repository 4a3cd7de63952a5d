"""Work once per distinct value: a text column encoded once per ingestion, every check run on its distinct values.

A clinic's columns repeat: 1.3 million sessions hold about a thousand dates, a dozen sites and practitioners, a
few products, a few hundred thousand patients and muscle lists. A regex, a parse or a blank check of a column is
the same answer for every cell holding the same text, so `encode(values)` turns a column into integer codes
(-1 for a missing cell) and its distinct values (Arrow's multi-threaded hash kernel), a check runs over the
distinct values, and `Encoded.spread` gives each row its value's answer with one numpy `take`.

During an ingestion (`with per_ingestion():`, opened by ingest.load) each column is encoded at most once: every
step asking for the same column (blank cells, parsers, the identifier guard, the rules, copies and conflicts) gets
the same encoding. Outside one, `encode` simply encodes. The cache is keyed by the column's own array object and
holds a reference to it, so an id cannot be reused while the ingestion runs.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_CACHE: ContextVar[dict | None] = ContextVar("distinct_cache", default=None)
# A column with more distinct values than this share of its cells is not worth encoding (session codes: each cell
# is its own value, so encoding costs a pass and saves none).
WORTH = 0.5


@dataclass(frozen=True)
class Encoded:
    """A column as codes into its distinct values: values[codes[i]] is cell i; codes[i] == -1 for a missing cell.

    unique: False when values may repeat (a derived column, e.g. trimmed text, whose distinct inputs gave the same
    output): fine for per-value answers, not for telling rows apart (use `unique_codes`).
    """

    codes: np.ndarray  # int32 or int64
    values: pa.Array  # the distinct values (no nulls)
    unique: bool = True

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def worth(self) -> bool:
        """True when the column repeats enough that per-value work saves time."""
        return len(self.values) <= WORTH * max(len(self.codes), 1)

    def spread(self, per_value, missing=False) -> np.ndarray:
        """Each row's answer from one answer per distinct value (a numpy array or an Arrow array); `missing` for
        the missing cells."""
        if isinstance(per_value, (pa.Array, pa.ChunkedArray)):
            per_value = per_value.to_numpy(zero_copy_only=False)
        per_value = np.asarray(per_value)
        return np.append(per_value, np.array([missing], dtype=per_value.dtype))[self.codes]

    def take(self, per_value: pa.Array) -> pa.Array:
        """Each row's Arrow value from one Arrow value per distinct value (null for missing cells)."""
        indices = pa.array(self.codes, mask=self.codes < 0)
        return per_value.take(indices)

    def unique_codes(self) -> np.ndarray:
        """Codes where equal codes mean equal values (int64, -1 for missing), as pandas.factorize would tell rows
        apart (its numbering may differ)."""
        if self.unique:
            return self.codes.astype(np.int64)
        remap = pc.dictionary_encode(self.values).indices.to_numpy(zero_copy_only=False).astype(np.int64)
        return np.append(remap, -1)[self.codes]


@contextmanager
def per_ingestion():
    """Within the block, each column is encoded at most once (see the module docstring)."""
    token = _CACHE.set({})
    try:
        yield
    finally:
        _CACHE.reset(token)


def arrow_of(values: pd.Series | pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A text column as Arrow strings without copying when it is Arrow-backed (the readers' text); other columns
    become text first."""
    if isinstance(values, (pa.Array, pa.ChunkedArray)):
        return values
    array = getattr(values.array, "_pa_array", None)
    if array is not None and (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        return array
    if not (values.dtype == "str" or values.dtype == object):
        values = values.astype("str")
    return pa.array(values, type=pa.large_string(), from_pandas=True)


def _key(values) -> object:
    """What identifies a column's data: the Arrow array behind a Series (kept through frame copies, resets and
    assigns of other columns), else the pandas array, else the Arrow array itself."""
    if isinstance(values, pd.Series):
        array = getattr(values.array, "_pa_array", None)
        return array if array is not None else values.array
    return values


def cached(values) -> Encoded | None:
    """The encoding of this column made earlier in this ingestion, if any."""
    cache = _CACHE.get()
    if cache is None:
        return None
    entry = cache.get(id(_key(values)))
    return entry[1] if entry is not None else None


def remember(values, encoded: Encoded) -> Encoded:
    """Keep an encoding for the rest of the ingestion (no-op outside one)."""
    cache = _CACHE.get()
    if cache is not None:
        key = _key(values)
        cache[id(key)] = (key, encoded)
    return encoded


def encode(values: pd.Series | pa.Array | pa.ChunkedArray) -> Encoded:
    """The column's codes and distinct values, once per ingestion."""
    found = cached(values)
    if found is not None:
        return found
    return remember(values, _encode(arrow_of(values)))


def _encode(array: pa.Array | pa.ChunkedArray) -> Encoded:
    """Arrow's hash kernel over the column. A chunked column is encoded chunk by chunk into one memo table (no
    copy of the chunks into one): every chunk's indices point into the last chunk's dictionary."""
    if isinstance(array, pa.ChunkedArray) and array.num_chunks == 0:
        array = pa.array([], type=array.type)
    encoded = pc.dictionary_encode(array)
    chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    if not chunks:  # no cells
        return Encoded(np.zeros(0, dtype=np.int32), pa.array([], type=array.type))
    codes = [(pc.fill_null(c.indices, -1) if c.indices.null_count else c.indices).to_numpy(zero_copy_only=False)
             for c in chunks]
    return Encoded(codes[0] if len(codes) == 1 else np.concatenate(codes), chunks[-1].dictionary)


def derived(encoded: Encoded, per_value: pa.Array, index: pd.Index, dtype=None) -> pd.Series:
    """A column worked out once per distinct value, spread to the rows as a pandas Series; its encoding is kept
    (values may repeat: unique=False), so later steps work on it per distinct value too.

    per_value: one Arrow value per distinct value of `encoded` (null: a missing cell)."""
    from .reading import STR_DTYPE  # reading imports blanks, which builds on this module

    if isinstance(per_value, pa.ChunkedArray):
        per_value = per_value.combine_chunks()
    if pa.types.is_string(per_value.type):
        per_value = per_value.cast(pa.large_string())
    valid = pc.is_valid(per_value).to_numpy(zero_copy_only=False)
    codes = encoded.codes
    if not valid.all():
        codes = np.where(np.append(valid, False)[codes], codes, -1).astype(codes.dtype)
    rows = Encoded(codes, per_value, unique=False).take(per_value)
    mapper = {pa.large_string(): dtype or STR_DTYPE}.get
    series = pd.Series(rows.to_pandas(types_mapper=mapper), copy=False)
    series.index = index
    return_encoding = Encoded(codes, pc.fill_null(per_value, ""), unique=False)
    remember(series, return_encoding)
    return series


def repeated(values) -> np.ndarray:
    """True on the cells whose value another cell holds too (pandas' duplicated(keep=False)), for a column with no
    missing cell: one multi-threaded sort and a comparison of neighbours, where hashing a column of codes that are
    nearly all distinct costs several times more."""
    array = arrow_of(values)
    n = len(array)
    if n < 2:
        return np.zeros(n, dtype=bool)
    order = pc.sort_indices(array).to_numpy()
    ordered = array.take(pa.array(order))
    same = as_numpy(pc.equal(ordered.slice(1), ordered.slice(0, n - 1))).astype(bool)
    in_order = np.zeros(n, dtype=bool)
    in_order[1:] |= same
    in_order[:-1] |= same
    out = np.empty(n, dtype=bool)
    out[order] = in_order
    return out


SAMPLE = 8192  # cells sampled (evenly spread) to estimate how much a column repeats
_NOT_WORTH = "not worth encoding"
SMALL = 1024  # a column this short is checked cell by cell: encoding would cost more than it saves


def _repeats(array: pa.Array | pa.ChunkedArray) -> bool:
    """True when the column likely holds at most WORTH x its length distinct values, estimated from the pairs of
    equal cells in an evenly spread sample (s cells from D equally common values give about s^2 / 2D pairs)."""
    n = len(array)
    if n <= SAMPLE:
        return pc.count_distinct(array, mode="all").as_py() <= WORTH * n
    positions = np.linspace(0, n - 1, SAMPLE).astype(np.int64)
    sample = _take(array, positions)
    counts = pc.value_counts(sample).field("counts").to_numpy(zero_copy_only=False).astype(np.float64)
    pairs = float((counts * (counts - 1) / 2).sum())
    return pairs * 2 * WORTH * n >= SAMPLE * (SAMPLE - 1)  # estimated D = s(s-1) / 2 pairs <= WORTH x n


def _take(array: pa.Array | pa.ChunkedArray, positions: np.ndarray) -> pa.Array:
    """array.take(positions) for sorted positions, chunk by chunk (a chunked take looks up each position's chunk)."""
    if not isinstance(array, pa.ChunkedArray):
        return array.take(pa.array(positions))
    parts, start = [], 0
    for chunk in array.chunks:
        end = start + len(chunk)
        lo, hi = np.searchsorted(positions, [start, end])
        if hi > lo:
            parts.append(chunk.take(pa.array(positions[lo:hi] - start)))
        start = end
    return pa.concat_arrays(parts) if parts else pa.array([], type=array.type)


def encode_columns(frame: pd.DataFrame) -> None:
    """Encode, in parallel threads (Arrow's kernels release the GIL), every text column of the frame worth
    encoding, and keep the encodings for the ingestion: the checks that follow find them made."""
    if _CACHE.get() is None:
        return
    todo = [frame[h] for h in frame.columns if (frame[h].dtype == "str" or frame[h].dtype == object)
            and cached(frame[h]) is None and encoding_for(frame[h], encode_now=False)]
    if not todo:
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(len(todo), os.cpu_count() or 1)) as pool:
        encoded = list(pool.map(_encode, [arrow_of(values) for values in todo]))
    for values, done in zip(todo, encoded):
        remember(values, done)


def encoding_for(values, encode_now: bool = True) -> Encoded | None:
    """The column's encoding when working once per distinct value pays (made once per ingestion), else None."""
    cache = _CACHE.get()
    found = cached(values)
    if found is not None:
        return found if found.worth else None
    if cache is not None and cache.get(("no", id(_key(values))), (None, None))[1] == _NOT_WORTH:
        return None
    if len(values) < SMALL or not _repeats(arrow_of(values)):
        if cache is not None:
            key = _key(values)
            cache[("no", id(key))] = (key, _NOT_WORTH)
        return None
    return encode(values) if encode_now else True


def as_numpy(array) -> np.ndarray:
    """An Arrow (chunked) array or a numpy array as numpy."""
    if isinstance(array, pa.ChunkedArray):
        return array.to_numpy()
    if isinstance(array, pa.Array):
        return array.to_numpy(zero_copy_only=False)
    return np.asarray(array)


def per_value(values, check, missing=False) -> np.ndarray:
    """check(Arrow strings) -> one answer per cell (no nulls), run once per distinct value when the column repeats
    and spread to the rows; `missing` is the answer for a missing cell (check must give it for a null too)."""
    encoded = encoding_for(values)
    if encoded is None:
        return as_numpy(check(arrow_of(values)))
    return encoded.spread(as_numpy(check(encoded.values)), missing)
