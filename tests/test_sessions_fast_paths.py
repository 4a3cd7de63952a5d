"""The fast paths of the derivation (issue 12) against the plain pandas/numpy forms they replace."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics import flags
from analytics.sessions import patient_day_order, sorted_codes

IDS = ["P10", "p10", "P9", "P10", "Ä1", "A1", "", "z", "P9", "é", "e\u0301", "P10 "]


@pytest.mark.parametrize("dtype", ["str", object, pd.StringDtype("python")])
def test_sorted_codes_are_pandas_sorted_factorize(dtype):
    values = pd.Series(IDS * 3, dtype=dtype)
    expected = pd.factorize(values.astype("str"), sort=True)[0]
    assert sorted_codes(values).tolist() == expected.tolist()
    # code-point order: upper case before lower case, 'P10' before 'P9', a combining accent apart from 'é'
    order = sorted(set(IDS))
    assert [order[c] for c in sorted_codes(values)[:len(IDS)]] == IDS


def test_patient_day_order_is_a_stable_lexsort():
    rng = np.random.default_rng(7)
    for n in (1, 2, 50, 20_000):
        codes = rng.integers(0, max(1, n // 4), n)
        day = rng.integers(19_000, 19_400, n)  # many same-day pairs: input order must be kept
        assert np.array_equal(patient_day_order(codes, day), np.lexsort((day, codes)))
    assert patient_day_order(np.zeros(0, int), np.zeros(0, int)).tolist() == []
    # a key that would overflow falls back to lexsort
    huge = np.array([2**40, 0, 2**40]), np.array([0, 2**30, -2**30])
    assert np.array_equal(patient_day_order(*huge), np.lexsort((huge[1], huge[0])))


@pytest.mark.parametrize("ids", [["A", "A", "B", "C", "C", "C"],  # sorted: neighbours compared
                                 ["B", "A", "B", "C", "A"],  # not sorted: factorized
                                 ["A"]])
def test_patient_codes_in_order_of_first_appearance(ids):
    table = pd.DataFrame({"patient_id": pd.Series(ids, dtype="str")})
    codes, uniques = flags._patient_codes(table)
    expected_codes, expected_uniques = pd.factorize(table["patient_id"])
    assert codes.tolist() == expected_codes.tolist()
    assert list(uniques) == list(expected_uniques)
