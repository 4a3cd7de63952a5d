"""The Headline's window (analytics/first_page.py `window`): the KPI tiles and the p-chart computed from the filters'
sessions of the few years they read are the same as those computed from the filters' whole history, for every
period and for filters whose data begin late, end early or hold nothing in the window."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics import first_page
from analytics.headline import distinct_count
from analytics.ingest import load_sessions
from analytics.presentation import kpi_tiles_shown, patients_per_month, pchart_shown
from analytics.selection import PERIODS, Selection, by_values, period_bounds, select, take, value_mask
from analytics.sessions import derive_sessions
from analytics.settings import DEFAULT_SETTINGS

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample" / "sessions.csv"


@pytest.fixture(scope="module")
def derived() -> pd.DataFrame:
    return first_page.slim(derive_sessions(load_sessions(SAMPLE.read_bytes(), name="sessions.csv").data,
                                           DEFAULT_SETTINGS))


def _whole_history(derived: pd.DataFrame, selection: Selection, as_of: pd.Timestamp, first: pd.Timestamp):
    """The tiles and the chart as the app computed them before the window: from every session of the filters."""
    scoped = take(derived, value_mask(derived, selection.values))
    flags = first_page.flags(derived, DEFAULT_SETTINGS)
    tiles = kpi_tiles_shown(scoped, DEFAULT_SETTINGS, selection.start, selection.end, flags, due_days=32)
    chart = pchart_shown(scoped, DEFAULT_SETTINGS, period_start=selection.start or first,
                         period_end=selection.end or as_of, as_of=as_of, lag_days=32)
    return tiles, chart


def _windowed(derived: pd.DataFrame, selection: Selection, as_of: pd.Timestamp, first: pd.Timestamp):
    rows = first_page.window(first_page.headline_base(derived), selection, as_of)
    flags = first_page.flags(derived, DEFAULT_SETTINGS)
    return (first_page.kpis(rows, DEFAULT_SETTINGS, selection, flags, 32),
            first_page.pchart(rows, DEFAULT_SETTINGS, selection, first, as_of, 32))


def _same_attrs(got: dict, expected: dict) -> None:
    assert got.keys() == expected.keys()
    for key, value in expected.items():  # NaN equals NaN here
        assert got[key] == value or (pd.isna(got[key]) and pd.isna(value)), key


def _assert_same(got, expected) -> None:
    tiles, (chart, hidden) = got
    pd.testing.assert_frame_equal(tiles, expected[0])
    _same_attrs(tiles.attrs, expected[0].attrs)
    pd.testing.assert_frame_equal(chart, expected[1][0])
    _same_attrs(chart.attrs, expected[1][0].attrs)
    assert hidden == expected[1][1]


SELECTIONS = [
    ("Last 12 months", ()),
    ("Last 3 months", by_values(site=["North"])),
    ("Last 6 months", by_values(product=["abobotulinumtoxinA"])),
    ("All data", ()),
    ("All data", by_values(practitioner_id=["PR02"])),
    ("Last 12 months", by_values(indication=["cervical_dystonia"], site=["South"])),
]


@pytest.mark.parametrize(("period", "values"), SELECTIONS)
def test_the_window_gives_the_tiles_and_chart_of_the_whole_history(derived, period, values):
    first = pd.Timestamp(derived["session_date"].min()).normalize()
    as_of = pd.Timestamp(derived["session_date"].max()).normalize()
    start, end = period_bounds(period, as_of, first)
    selection = Selection(period, start, end, values)
    expected = _whole_history(derived, selection, as_of, first)
    assert int(expected[0].loc[expected[0]["kpi"] == "sessions", "n"].iloc[0]) > 0
    _assert_same(_windowed(derived, selection, as_of, first), expected)


@pytest.mark.parametrize(("start", "end"), [
    (date(2023, 10, 1), date(2024, 3, 31)),  # from the data's first day: nothing before to compare with
    (date(2024, 2, 10), date(2024, 2, 20)),  # eleven days, early in the data
    (date(2025, 1, 1), date(2026, 9, 30)),   # longer than the chart's 24 months with the period before it
])
def test_custom_ranges_are_the_same_in_the_window(derived, start, end):
    first = pd.Timestamp(derived["session_date"].min()).normalize()
    as_of = pd.Timestamp(derived["session_date"].max()).normalize()
    selection = Selection("Custom range", start, end, ())
    _assert_same(_windowed(derived, selection, as_of, first), _whole_history(derived, selection, as_of, first))


def test_the_window_reads_only_the_days_it_needs(derived):
    """Last 3 months up to 30 Sep 2026: the period before it starts on 1 Apr 2026, the chart's 24 months on
    1 Oct 2024, so the window is 1 Oct 2024 to 30 Sep 2026 and nothing earlier is copied."""
    as_of = pd.Timestamp("2026-09-30")
    selection = Selection("Last 3 months", date(2026, 7, 1), date(2026, 9, 30), ())
    assert first_page.window_bounds(selection, as_of) == (pd.Timestamp("2024-10-01"), pd.Timestamp("2026-09-30"))
    rows = first_page.window(derived, selection, as_of)
    assert rows.first == pd.Timestamp(derived["session_date"].min())
    expected = select(derived, Selection("Custom range", date(2024, 10, 1), date(2026, 9, 30), ()))
    assert len(rows.sessions) == len(expected) < len(derived)
    assert rows.sessions["session_date"].min() >= pd.Timestamp("2024-10-01")


def _clinic(derived: pd.DataFrame) -> pd.DataFrame:
    """The sample with a practitioner 'LATE' whose sessions all fall in the last 3 months (the data begin for them
    within the window) and one 'EARLY' whose sessions all fall in the data's first year (none in the window)."""
    late = derived.loc[derived["session_date"] >= pd.Timestamp("2026-07-01")].index[:40]
    early = derived.loc[derived["session_date"] < pd.Timestamp("2024-09-01")].index[:40]
    clinic = derived.copy()
    clinic["practitioner_id"] = clinic["practitioner_id"].astype("object")
    clinic.loc[late, "practitioner_id"] = "LATE"
    clinic.loc[early, "practitioner_id"] = "EARLY"
    return clinic


@pytest.mark.parametrize("who", ["LATE", "EARLY"])
def test_filters_whose_data_begin_late_or_end_early(derived, who):
    clinic = _clinic(derived)
    first = pd.Timestamp(clinic["session_date"].min()).normalize()
    as_of = pd.Timestamp("2026-09-30")
    selection = Selection("Last 3 months", date(2026, 7, 1), date(2026, 9, 30), by_values(practitioner_id=[who]))
    got = _windowed(clinic, selection, as_of, first)
    expected = _whole_history(clinic, selection, as_of, first)
    _assert_same(got, expected)
    tiles = got[0]
    if who == "LATE":  # their data begin in the period: nothing before to compare with
        assert tiles.attrs["period"]["previous_before_data"] is True
        assert tiles.loc[tiles["kpi"] == "sessions", "value"].iloc[0] == 40
        assert first_page.window(clinic, selection, as_of).first >= pd.Timestamp("2026-07-01")
    else:  # data in their first year only: the window is empty, yet the previous period is not before their data
        rows = first_page.window(clinic, selection, as_of)
        assert len(rows.sessions) == 0 and rows.first < pd.Timestamp("2024-09-01")
        assert tiles.attrs["period"]["previous_before_data"] is False
        assert tiles.loc[tiles["kpi"] == "sessions", "n"].iloc[0] == 0


def test_every_named_period_has_a_window_inside_the_data(derived):
    first = pd.Timestamp(derived["session_date"].min()).normalize()
    as_of = pd.Timestamp(derived["session_date"].max()).normalize()
    for period in PERIODS[:-1]:
        start, end = period_bounds(period, as_of, first)
        low, high = first_page.window_bounds(Selection(period, start, end, ()), as_of)
        assert high == as_of
        assert low is None if period == "All data" else low <= pd.Timestamp(start)


def _patients_per_month_by_grouping(dates, patients: pd.Series) -> pd.Series:
    """The naive reference: group the codes as text by month."""
    month = pd.Series(pd.to_datetime(dates)).dt.to_period("M").dt.to_timestamp()
    return patients.reset_index(drop=True).groupby(month).nunique().astype("int64")


def test_patients_per_month_by_hand():
    dates = pd.to_datetime(["2024-01-03", "2024-01-20", "2024-01-31", "2024-03-01", "2023-12-31", "2024-03-09"])
    patients = pd.Series(["A", "A", "B", None, "A", "C"], dtype="str")
    got = patients_per_month(dates.to_numpy(), patients)
    assert got.to_dict() == {pd.Timestamp("2023-12-01"): 1, pd.Timestamp("2024-01-01"): 2,
                             pd.Timestamp("2024-03-01"): 1}  # a blank code is nobody; February had no one
    assert patients_per_month(dates.to_numpy()[:0], patients[:0]).empty


@pytest.mark.parametrize("coded", [False, True])
def test_patients_per_month_equals_grouping_the_codes(derived, coded):
    patients = derived["patient_id"].astype("category") if coded else derived["patient_id"]
    got = patients_per_month(derived["session_date"].to_numpy(), patients)
    expected = _patients_per_month_by_grouping(derived["session_date"].to_numpy(), derived["patient_id"])
    assert got.to_dict() == expected.to_dict()
    assert len(got) == 36 and got.sum() > len(derived["patient_id"].unique())


def test_patients_per_month_without_the_bitmap_counts_the_same(derived, monkeypatch):
    import analytics.presentation as presentation

    dates = derived["session_date"].to_numpy()
    expected = patients_per_month(dates, derived["patient_id"]).to_dict()
    monkeypatch.setattr(presentation, "BITMAP_CELLS", 0)  # months x patients over the limit: pairs are hashed
    assert patients_per_month(dates, derived["patient_id"]).to_dict() == expected


@pytest.mark.parametrize(("values", "expected"), [
    (["A", "B", "A", None, "C"], 3), ([None, None], 0), ([], 0), (["x"], 1)])
def test_distinct_count_of_codes_and_of_text(values, expected):
    text = pd.Series(values, dtype="str")
    assert distinct_count(text) == expected
    coded = text.astype("category")
    assert distinct_count(coded) == expected
    assert distinct_count(coded.iloc[1:]) == text.iloc[1:].nunique()  # a slice keeps every category


@pytest.mark.parametrize("coded", [False, True])
def test_flagged_patients_are_counted_among_those_seen(coded):
    """Three patients seen (one twice), two of them flagged, and a flagged patient not seen: 2 of 3."""
    from analytics.kpis import _flagged

    period = pd.DataFrame({"patient_id": pd.Series(["A", "B", "A", None, "C"], dtype="str")})
    if coded:
        period["patient_id"] = pd.Categorical(period["patient_id"], categories=["A", "B", "C", "Z"])
    table = pd.DataFrame({"patient_id": ["B", "C", "Q", "A"], "flag": ["diminished", "watch", "watch", ""]})
    assert _flagged(period, table, None) == (2.0, 3)


@pytest.mark.parametrize(("start", "end"), [
    (date(2024, 1, 1), date(2024, 12, 31)), (None, date(2024, 3, 1)), (date(2026, 9, 1), None), (None, None),
    (date(2030, 1, 1), date(2030, 2, 1)), (date(2025, 5, 5), date(2025, 5, 5))])
def test_a_period_of_date_ordered_sessions_is_the_rows_a_mask_keeps(derived, start, end):
    from analytics.selection import period_mask, period_rows

    in_order = derived.sort_values("session_date", kind="stable").reset_index(drop=True)
    expected = take(in_order, period_mask(in_order, start, end))
    sliced = period_rows(in_order, start, end)
    pd.testing.assert_frame_equal(sliced.reset_index(drop=True), expected)
    shuffled = in_order.sample(frac=1.0, random_state=3)  # not in date order: the mask is used
    masked = period_rows(shuffled, start, end)
    assert sorted(masked["session_date"]) == sorted(expected["session_date"])
    assert sorted(masked["patient_id"]) == sorted(expected["patient_id"])


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_a_period_keeps_every_moment_of_its_first_and_last_day(unit):
    """Sessions timed within a day: the slice found by searching the moments keeps 00:00 of the first day to
    23:59:59.999 of the last, as the day mask does, whatever unit the dates are stored in."""
    from analytics.selection import period_mask, period_positions, period_rows

    moments = pd.to_datetime(["2025-02-28 23:59:59.999", "2025-03-01 00:00:00.000", "2025-03-01 12:30:00.000",
                              "2025-03-31 23:59:59.999", "2025-04-01 00:00:00.000", "2025-04-01 00:00:00.001"])
    frame = pd.DataFrame({"session_date": moments.astype(f"datetime64[{unit}]"), "n": range(6)})
    start, end = date(2025, 3, 1), date(2025, 3, 31)
    assert period_positions(frame, start, end) == slice(1, 4)
    assert list(period_rows(frame, start, end)["n"]) == [1, 2, 3] == list(frame["n"][period_mask(frame, start, end)])
    assert period_positions(frame, date(2025, 4, 1), None) == slice(4, 6)
    assert period_positions(frame, None, date(2025, 2, 28)) == slice(0, 1)


def test_the_first_chosen_date_is_found_in_date_order_and_out_of_it():
    """Window.first: the earliest chosen session, by position in date order, by a minimum otherwise; None when
    nothing is chosen."""
    dates = pd.Series(pd.to_datetime(["2024-01-05", "2024-02-01", "2024-03-09", "2024-04-01"]))
    chosen = np.array([False, True, True, False])
    assert first_page._first_date(dates, chosen, in_date_order=True) == pd.Timestamp("2024-02-01")
    backwards = dates[::-1].reset_index(drop=True)
    assert first_page._first_date(backwards, chosen[::-1], in_date_order=False) == pd.Timestamp("2024-02-01")
    assert first_page._first_date(dates, np.zeros(4, dtype=bool), in_date_order=True) is None
    blank_first = pd.Series([pd.NaT, *dates[1:]])  # not in date order: the blank is skipped
    assert first_page._first_date(blank_first, np.array([True, True, False, False]), False) == dates[1]
    # the window tells which: a base with a blank date is searched by mask, and its first date is still found
    base = pd.DataFrame({"session_date": blank_first, "patient_id": ["A", "B", "C", "D"]})
    window = first_page.window(base, Selection("All data", None, date(2024, 4, 1), ()), pd.Timestamp("2024-04-01"))
    assert window.first == dates[1] and len(window.sessions) == 3


@pytest.mark.parametrize(("span_days", "expected"), [(40, [2, 4, 3, 0, 1]), (70_000, [2, 4, 0, 3, 1])])
def test_date_order_is_a_stable_sort_with_blanks_last(span_days, expected):
    """Days within 65,535 of each other are sorted as 16-bit offsets, others as they are: the same order."""
    dates = pd.Series(pd.to_datetime(["2024-03-01", None, "2024-01-01", "2024-01-01", "2024-01-01"]))
    dates[3] = pd.Timestamp("2024-01-01") + pd.Timedelta(days=span_days)
    assert list(first_page.date_order(dates)) == expected
    assert expected == list(dates.sort_values(kind="stable", na_position="last").index)


def test_choosing_values_of_coded_and_of_text_columns_keeps_the_same_rows():
    from analytics.selection import value_mask

    frame = pd.DataFrame({"site": pd.Series(["North", "South", None, "North", "East"], dtype="str"),
                          "product": pd.Series(["A", "B", "A", None, "B"], dtype="str")})
    coded = frame.astype("category")
    for values in (by_values(site=["North"]), by_values(site=["North", "West"]), by_values(site=["West"]),
                   by_values(site=["South", "East"], product=["B"]), ()):
        assert value_mask(coded, values).tolist() == value_mask(frame, values).tolist()
    assert value_mask(coded, by_values(site=["North"], product=["A"])).tolist() == [True, False, False, False, False]


@pytest.mark.parametrize("seed", range(6))
def test_coded_choices_match_the_text_ones_by_equality_and_by_lookup(seed):
    """value_mask of a categorical compares up to 4 chosen codes one by one and more by a lookup table: both give
    the rows the text gives (blank cells never chosen, values the data lacks choose nothing), over 1-300 values
    stored as int8 or int16 codes."""
    from analytics.selection import value_mask

    rng = np.random.default_rng(seed)
    n_values = int(rng.choice([1, 3, 6, 130, 300]))
    names = np.array([f"S{i:03d}" for i in range(n_values)], dtype=object)
    cells = names[rng.integers(0, n_values, 5_000)]
    cells[rng.random(5_000) < 0.1] = None
    frame = pd.DataFrame({"site": pd.Series(cells, dtype="str")})
    coded = frame.astype("category")
    assert coded["site"].cat.codes.dtype == (np.int8 if n_values < 127 else np.int16)
    for size in (1, 2, 4, 5, 9):
        chosen = list(rng.choice(names, size=min(size, n_values), replace=False)) + ["not in the data"]
        values = by_values(site=chosen)
        expected = frame["site"].isin(chosen).to_numpy()
        assert value_mask(coded, values).tolist() == expected.tolist() == value_mask(frame, values).tolist()


def test_flagged_patients_remembered_for_the_same_codes_are_never_those_of_another_flags_table():
    """_flagged remembers which codes are flagged for the last (categories, flags table) pair: a second table
    over the same codes (other settings, another import) gets its own answer, and so does the first again."""
    from analytics.kpis import _flagged

    period = pd.DataFrame({"patient_id": pd.Categorical(["A", "B", "C", "A"], categories=["A", "B", "C", "D"])})
    first = pd.DataFrame({"patient_id": ["A", "D"], "flag": ["diminished", "watch"]})
    second = pd.DataFrame({"patient_id": ["B", "C"], "flag": ["diminished", "diminished"]})
    assert _flagged(period, first, None) == (1.0, 3)
    assert _flagged(period, first, None) == (1.0, 3)
    assert _flagged(period, second, None) == (2.0, 3)
    assert _flagged(period, first.copy(), None) == (1.0, 3)
    recoded = pd.DataFrame({"patient_id": pd.Categorical(["D", "B"], categories=["A", "B", "C", "D"])})
    assert _flagged(recoded, first, None) == (1.0, 2)  # the same codes' answer, other patients seen
