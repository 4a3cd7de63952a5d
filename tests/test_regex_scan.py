"""analytics/regex_scan.matches: the same answer per distinct value as per cell, nulls never matching."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from analytics import regex_scan

PATTERN = r"\d{3}[ -]?\d{4}|@"


def direct(array, pattern=PATTERN):
    return pc.fill_null(pc.match_substring_regex(array, pattern), False).to_numpy(zero_copy_only=False)


@pytest.mark.parametrize("values", [
    ["North", "South", "jo@x.org", None, "Central"] * 2000,  # repeats: matched per distinct value
    [f"P{i:06d}" for i in range(5000)] + ["ring 555 1234"],  # all distinct: matched per cell
    [None] * 3000,
    ["ring 555 1234", "North"],  # short
])
def test_matches_agrees_with_matching_every_cell(values):
    array = pa.array(values, type=pa.string())
    assert np.array_equal(regex_scan.matches(array, PATTERN), direct(array))
    chunked = pa.chunked_array([array.slice(0, len(array) // 2), array.slice(len(array) // 2)], type=pa.string())
    assert np.array_equal(regex_scan.matches(chunked, PATTERN), direct(array))


def test_a_repeating_column_is_matched_once_per_distinct_value(monkeypatch):
    seen = []
    real = regex_scan._match
    monkeypatch.setattr(regex_scan, "_match", lambda array, pattern: seen.append(len(array)) or real(array, pattern))
    found = regex_scan.matches(pa.array(["North", "jo@x.org", None] * 4000), PATTERN)
    assert seen == [2] and int(found.sum()) == 4000
