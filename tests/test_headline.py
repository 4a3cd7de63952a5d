"""analytics.headline: the one computation of each headline figure (summary and KPI tiles), by hand."""
import math

import pandas as pd

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
