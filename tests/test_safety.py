"""Adverse events per session by type and product: denominators, parsing, Wilson intervals, zero rows."""
import numpy as np
import pandas as pd
import pytest

from analytics.proportions import wilson_ci
from analytics.safety import (
    SUPPRESSION_OPTIONS,
    adverse_event_rates,
    event_rows,
    recorded_mask,
    recording_coverage,
)
from analytics.suppression import suppress_small_groups


def sessions(rows):
    frame = pd.DataFrame(rows, columns=["patient_id", "product", "adverse_events"])
    return frame.astype({"patient_id": "str", "product": "str", "adverse_events": "str"})


@pytest.fixture
def hand():
    # 6 sessions, 1 not recorded: ona 3 recorded (a, a, b), abo 2 recorded (c, d)
    return sessions([
        ("a", "onabotulinumtoxinA", "none"),
        ("a", "onabotulinumtoxinA", "dysphagia;headache"),
        ("b", "onabotulinumtoxinA", "Headache ; headache"),  # one session, counted once
        ("b", "onabotulinumtoxinA", None),  # not recorded: out of the denominator
        ("c", "abobotulinumtoxinA", "dysphagia"),
        ("d", "abobotulinumtoxinA", "none"),
    ])


def test_recorded_and_event_rows(hand):
    assert recorded_mask(hand).tolist() == [True, True, True, False, True, True]
    rows = event_rows(hand)
    assert rows.values.tolist() == [[1, "dysphagia"], [1, "headache"], [2, "headache"], [4, "dysphagia"]]


def test_overall_by_type_hand_worked(hand):
    t = adverse_event_rates(hand).set_index("event")
    assert t.index.tolist() == ["any", "dysphagia", "headache"]  # schema order after "any"
    assert (t["sessions_recorded"] == 5).all() and (t["patients"] == 4).all()
    assert t.loc["any", "sessions_with_event"] == 3 and t.loc["any", "patients_with_event"] == 3
    assert t.loc["dysphagia", "sessions_with_event"] == 2 and t.loc["headache", "sessions_with_event"] == 2
    assert t.loc["headache", "patients_with_event"] == 2
    assert t.loc["any", "rate"] == pytest.approx(0.6)
    lo, hi = wilson_ci(2, 5)
    assert t.loc["dysphagia", "ci_low"] == pytest.approx(lo) and t.loc["dysphagia", "ci_high"] == pytest.approx(hi)
    assert (t["group"] == "all sessions").all() and (t["group_by"] == "all").all()


def test_by_product_shows_zero_rows(hand):
    t = adverse_event_rates(hand, "product").set_index(["group", "event"])
    assert t.loc[("abobotulinumtoxinA", "headache"), "sessions_with_event"] == 0
    assert t.loc[("abobotulinumtoxinA", "headache"), "rate"] == 0.0
    assert t.loc[("abobotulinumtoxinA", "headache"), "ci_low"] == 0.0
    assert t.loc[("abobotulinumtoxinA", "any"), "rate"] == pytest.approx(0.5)
    assert t.loc[("onabotulinumtoxinA", "any"), "sessions_recorded"] == 3
    assert t.loc[("onabotulinumtoxinA", "headache"), "rate"] == pytest.approx(2 / 3)
    assert t.loc[("onabotulinumtoxinA", "dysphagia"), "patients"] == 2
    assert len(t) == 6


def test_nothing_recorded_and_empty():
    none_recorded = sessions([("a", "x", None), ("b", "x", "")])
    assert adverse_event_rates(none_recorded).empty
    assert adverse_event_rates(sessions([])).empty
    assert recording_coverage(none_recorded) == {"sessions": 2, "recorded": 0, "share_recorded": 0.0}
    assert np.isnan(recording_coverage(sessions([]))["share_recorded"])


def test_all_none_gives_zero_any():
    t = adverse_event_rates(sessions([("a", "x", "none"), ("b", "x", "none")]))
    assert t["event"].tolist() == ["any"] and t["sessions_with_event"].tolist() == [0]
    assert t["rate"].tolist() == [0.0] and t["sessions_recorded"].tolist() == [2]


def test_missing_product_and_unknown_event_and_duplicate_index():
    s = sessions([("a", None, "rash"), ("b", "inco", "dysphagia")])
    s.index = [7, 7]
    t = adverse_event_rates(s, "product")
    assert set(t["group"]) == {"(not recorded)", "inco"}
    assert t["event"].unique().tolist() == ["any", "dysphagia", "rash"]  # unknown events after the vocabulary


def test_suppression_options_groups_are_products():
    rows = ([(f"p{i}", "big", "dysphagia" if i < 2 else "none") for i in range(20)]
            + [(f"q{i}", "small", "none") for i in range(4)]
            + [(f"r{i}", "mid", "headache") for i in range(6)])
    t = adverse_event_rates(sessions(rows), "product")
    out = suppress_small_groups(t, **SUPPRESSION_OPTIONS).set_index(["group", "event"])
    assert out.loc[("small", "any"), "suppressed"] and pd.isna(out.loc[("small", "any"), "rate"])
    assert out.loc[("mid", "dysphagia"), "suppression"] == "complementary"  # next-smallest product, per event
    assert not out.loc[("big", "dysphagia"), "suppressed"]
    assert out.loc[("big", "dysphagia"), "sessions_with_event"] == 2


