"""Small-number suppression: primary (< k patients) and complementary suppression, display form."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from analytics.settings import Settings
from analytics.suppression import SUPPRESSED, for_display, suppress_small_groups


def table(patients, **extra):
    n = len(patients)
    frame = pd.DataFrame({
        "group_by": ["site"] * n,
        "group": [f"g{i}" for i in range(n)],
        "patients": pd.Series(patients, dtype="int64"),
        "sessions": pd.Series([p * 3 for p in patients], dtype="int64"),
        "responder_rate": np.linspace(0.2, 0.8, n) if n else np.array([], dtype=float),
        "outside": [False] * n,
        "direction": ["above"] * n,
    })
    for name, values in extra.items():
        frame[name] = values
    return frame


def test_exactly_four_is_suppressed_five_is_not_and_complement_taken():
    out = suppress_small_groups(table([4, 5, 12, 30]))
    assert out["suppressed"].tolist() == [True, True, False, False]
    assert out["suppression"].tolist() == ["fewer than 5 patients", "complementary", "", ""]
    row = out.iloc[0]
    assert row["group"] == "g0" and row["group_by"] == "site"  # names stay
    assert pd.isna(row["patients"]) and pd.isna(row["sessions"]) and pd.isna(row["responder_rate"])
    assert pd.isna(row["outside"]) and pd.isna(row["direction"])  # no side channel either
    assert out["patients"].dtype == "Int64" and out["outside"].dtype == "boolean"
    assert out.loc[2, "patients"] == 12 and out.loc[3, "responder_rate"] == pytest.approx(0.8)


def test_five_alone_is_shown():
    out = suppress_small_groups(table([5, 6, 7]))
    assert not out["suppressed"].any()
    assert out["patients"].tolist() == [5, 6, 7]


def test_two_small_groups_need_no_complement():
    out = suppress_small_groups(table([1, 4, 20, 30]))
    assert out["suppressed"].tolist() == [True, True, False, False]
    assert out["suppression"].tolist()[:2] == ["fewer than 5 patients"] * 2


def test_no_total_shown_no_complement():
    out = suppress_small_groups(table([3, 20, 30]), total_shown=False)
    assert out["suppressed"].tolist() == [True, False, False]


def test_total_row_in_table_triggers_complement_and_small_total_is_suppressed():
    t = table([3, 25, 9, 40], is_total=[False, False, False, True])
    out = suppress_small_groups(t, total_shown=False)
    assert out["suppressed"].tolist() == [True, False, True, False]  # 9 is the next-smallest group
    assert out["suppression"].tolist()[2] == "complementary"
    tiny = suppress_small_groups(table([2, 2, 4], is_total=[False, False, True]))
    assert tiny["suppressed"].all()


def test_ties_pick_the_earlier_row():
    out = suppress_small_groups(table([10, 3, 10, 10]))
    assert out["suppressed"].tolist() == [True, True, False, False]


def test_one_group_tables():
    shown = suppress_small_groups(table([5]))
    assert not shown["suppressed"].any() and shown.attrs["total_must_be_hidden"] == []
    hidden = suppress_small_groups(table([4]))
    assert hidden["suppressed"].tolist() == [True]
    assert hidden.attrs["total_must_be_hidden"] == ["site"]  # the group is the total shown elsewhere
    with_total = suppress_small_groups(table([4, 4], is_total=[False, True]))
    assert with_total["suppressed"].tolist() == [True, True]
    assert with_total["suppression"].tolist() == ["fewer than 5 patients"] * 2


def test_empty_table():
    out = suppress_small_groups(table([]))
    assert out.empty and {"suppressed", "suppression"} <= set(out.columns)
    assert for_display(out).empty


def test_partitions_are_separate_tables():
    a = table([3, 10, 20])
    b = table([10, 20, 30]).assign(group_by="product")
    out = suppress_small_groups(pd.concat([a, b], ignore_index=True))
    assert out["suppressed"].tolist() == [True, True, False, False, False, False]


def test_missing_patient_count_is_suppressed_and_threshold_from_settings():
    t = table([5, 6, 20]).astype({"patients": "Int64"})
    t.loc[0, "patients"] = pd.NA
    assert suppress_small_groups(t)["suppressed"].tolist()[0]
    out = suppress_small_groups(table([5, 6, 20, 30]), Settings(min_group_patients=10))
    assert out["suppressed"].tolist() == [True, True, False, False]
    assert out["suppression"].iloc[0] == "fewer than 10 patients"


def test_custom_group_and_partition_columns():
    # safety-style table: groups are products, each event is its own table
    t = pd.DataFrame({
        "product": ["a", "b", "c"] * 2,
        "event": ["dysphagia"] * 3 + ["headache"] * 3,
        "patients": [3, 8, 50] * 2,
        "sessions_with_event": [1, 2, 3, 4, 5, 6],
    })
    out = suppress_small_groups(t, group_cols=["product"], partition_cols=["event"])
    assert out["suppressed"].tolist() == [True, True, False] * 2
    assert out["event"].tolist() == t["event"].tolist()


def test_display_form_and_requires_column():
    shown = for_display(suppress_small_groups(table([4, 5, 12, 30])))
    assert shown.loc[0, "patients"] == SUPPRESSED and shown.loc[0, "responder_rate"] == SUPPRESSED
    assert shown.loc[1, "sessions"] == SUPPRESSED
    assert shown.loc[2, "patients"] == 12 and shown.loc[0, "group"] == "g0"
    with pytest.raises(KeyError):
        for_display(table([5]))
    with pytest.raises(KeyError):
        suppress_small_groups(table([5]).drop(columns="patients"))


def test_input_is_not_changed():
    t = table([4, 9, 10])
    before = t.copy()
    suppress_small_groups(t)
    pd.testing.assert_frame_equal(t, before)


@hsettings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=40), min_size=0, max_size=12), st.booleans())
def test_no_group_can_be_worked_out(patients, total_shown):
    out = suppress_small_groups(table(patients), total_shown=total_shown)
    original = table(patients)
    small = np.asarray(patients) < 5
    # every small group is suppressed, with all its figures blank
    assert out["suppressed"].to_numpy()[small].all()
    for column in ("patients", "sessions", "responder_rate", "direction"):
        assert out.loc[out["suppressed"], column].isna().all()
    # shown groups are unchanged
    kept = ~out["suppressed"]
    assert (out.loc[kept, "sessions"].astype("int64") == original.loc[kept, "sessions"]).all()
    # with a total shown, never exactly one suppressed group unless it is the only group (then flagged)
    if total_shown and len(patients) > 1:
        assert out["suppressed"].sum() != 1
    if total_shown and len(patients) == 1 and small.any():
        assert out.attrs["total_must_be_hidden"] == ["site"]
