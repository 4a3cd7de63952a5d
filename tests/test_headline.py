"""analytics.headline: the one computation of each headline figure (summary and KPI tiles), by hand."""
import math

import numpy as np
import pandas as pd
import pytest

from analytics import headline
from analytics.proportions import wilson_ci
from tests.helpers import make_sessions


def test_figures_by_hand():
    d = make_sessions([
        {"patient_id": "a", "baseline_pain": 10, "followup_pain": 5, "onset_days": 2, "duration_days": 90,
         "duration_event": True, "adverse_events": "none"},
        {"patient_id": "a", "baseline_pain": 10, "followup_pain": 9, "interval_days": 60, "duration_days": 50,
         "duration_event": True},  # not a responder: its duration is left out
        {"patient_id": "b", "baseline_pain": 10, "followup_pain": 2, "onset_days": 5, "interval_days": 100,
         "duration_days": 30, "duration_event": False, "adverse_events": "headache"},
        {"patient_id": "c"},  # no response
    ])
    rr = headline.responder_share(d)
    assert (rr.successes, rr.n, rr.value) == (2, 3, 2 / 3)
    assert (rr.ci_low, rr.ci_high) == tuple(float(x) for x in wilson_ci(2, 3))
    short = headline.interval_share(d)
    assert (short.successes, short.n) == (1, 2)
    assert headline.interval_share(d, "booster").successes == 0
    assert headline.known_share(d, "any_adverse_event").n == 2
    assert headline.median_of(d, "onset_days") == (3.5, 2)
    times, events = headline.duration_sample(d)
    assert times.tolist() == [90.0, 30.0] and events.tolist() == [True, False]


def test_absent_columns_count_as_nothing_recorded():
    bare = pd.DataFrame({"patient_id": ["a"], "session_date": [pd.Timestamp("2025-01-01")]})
    for figure in (headline.responder_share(bare), headline.interval_share(bare), headline.known_share(bare, "x")):
        assert figure.n == 0 and math.isnan(figure.value) and math.isnan(figure.ci_low)
    value, n = headline.median_of(bare, "onset_days")
    assert math.isnan(value) and n == 0
    assert len(headline.duration_sample(bare)[0]) == 0


@pytest.mark.parametrize("seed", range(8))
def test_median_with_ci_from_one_partial_sort_equals_the_median_and_the_sorted_interval(seed):
    """median_with_ci places the middle value(s) and both interval ranks with one np.partition; it must give
    exactly np.median and median_ci (a full sort) for odd and even counts, ties, blanks, and counts below 6
    (no interval)."""
    from analytics.headline import median_ci, median_with_ci

    rng = np.random.default_rng(seed)
    for size in (1, 2, 5, 6, 7, 8, int(rng.integers(9, 60)), int(rng.integers(1_000, 20_000))):
        values = rng.choice([rng.integers(0, 40, size).astype(float), rng.normal(50, 20, size)])
        values[rng.random(size) < 0.1] = np.nan
        frame = pd.DataFrame({"onset_days": values})
        known = values[~np.isnan(values)]
        got = median_with_ci(frame, "onset_days")
        if len(known) == 0:
            assert np.isnan(got[0]) and got[3] == 0
            continue
        low, high = median_ci(known)
        expected = (float(np.median(known)), low, high, len(known))
        assert got[3] == expected[3] and got[0] == expected[0], (size, got, expected)
        assert (np.isnan(got[1]) and np.isnan(low)) or (got[1], got[2]) == (low, high), (size, got, expected)
