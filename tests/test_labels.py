"""analytics/labels.py: the words a person reads instead of codes, with exact values."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analytics import labels
from analytics.schema import PRODUCT_ALIASES, PRODUCTS, normalise_token


def test_products_show_brand_and_generic_name_from_the_contract():
    assert labels.product_label("onabotulinumtoxinA") == "Botox (onabotulinumtoxinA)"
    assert labels.product_label("abobotulinumtoxinA") == "Dysport (abobotulinumtoxinA)"
    assert labels.product_label("incobotulinumtoxinA") == "Xeomin (incobotulinumtoxinA)"
    assert labels.product_label("rimabotulinumtoxinB") == "Myobloc/NeuroBloc (rimabotulinumtoxinB)"
    assert labels.product_label("other") == "Other product"
    assert labels.product_label("BOTOX") == "Botox (onabotulinumtoxinA)"  # an alias, any case
    assert labels.product_label(None) == "not recorded"
    assert labels.product_label("Unknown brand") == "Unknown brand"  # never a guessed brand
    assert labels.product_short_labels(pd.Series(["abobotulinumtoxinA", None])).tolist() == ["Dysport", "not recorded"]


def test_every_brand_is_an_alias_of_its_generic_name_in_the_contract():
    assert set(labels.PRODUCT_BRANDS) | {"other"} == set(PRODUCTS)
    for generic, brand in labels.PRODUCT_BRANDS.items():
        for name in brand.split("/"):
            assert PRODUCT_ALIASES[normalise_token(name)] == generic


def test_indications_and_adverse_events_in_words():
    assert labels.indication_label("arm_pain") == "Arm pain"
    assert labels.indication_label("cervical_dystonia") == "Cervical dystonia"
    assert labels.indication_label(np.nan) == "not recorded"
    assert labels.indication_labels(pd.Series(["neck_pain", None], index=[3, 9])).to_dict() == {
        3: "Neck pain", 9: "not recorded"}
    assert labels.adverse_event_labels(pd.Series(["none", "neck_weakness;dysphagia", None])).tolist() == [
        "None reported", "Neck weakness; Dysphagia", "not recorded"]


def test_column_headers_in_words_with_units():
    assert labels.column_label("total_units") == "Total units"
    assert labels.column_label("interval_days") == "Interval (days)"
    assert labels.column_label("response_pct") == "Pain response (%)"
    assert labels.column_label("dose_band") == "Dose band"


def test_numbers_whole_without_decimals_percentages_with_one():
    assert labels.number_text(50.0) == "50"
    assert labels.number_text(52.5) == "52.5"
    assert labels.number_text(1234.56) == "1,234.6"
    assert labels.number_text(-3.0) == "\u22123"
    assert labels.number_text(-0.04) == "0"  # never "-0"
    assert labels.number_text(None) == "not recorded"
    assert labels.number_text(pd.NA) == "not recorded"
    assert labels.number_texts(pd.Series([52.5, np.nan]), unit=" U").tolist() == ["52.5 U", "not recorded"]
    assert labels.percent_text(66.6666) == "66.7%"
    assert labels.percent_text(50) == "50.0%"
    assert labels.percent_text(np.nan) == "not recorded"


def test_dates_without_times_and_booleans_in_words():
    assert labels.date_text(pd.Timestamp("2025-12-16 13:45")) == "16 Dec 2025"
    assert labels.date_text(None) == "not recorded"
    assert labels.yes_no_texts(pd.Series([True, False, None], dtype="boolean")).tolist() == [
        "yes", "no", "not recorded"]


def test_muscles_as_words_with_units():
    assert labels.muscle_text("splenius_capitis:52.5;trapezius") == "Splenius capitis 52.5 U; Trapezius"
    assert labels.muscle_text("Sternocleidomastoid:100|levator_scapulae:50.0") == \
        "Sternocleidomastoid 100 U; Levator scapulae 50 U"
    assert labels.muscle_text(None) == "not recorded"
    assert labels.muscle_texts(pd.Series(["a:1", ""], index=[5, 7])).to_dict() == {5: "A 1 U", 7: "not recorded"}


def test_a_response_as_the_raw_scores_and_their_change():
    assert labels.score_change_text(6, 2) == "6 \u2192 2, \u221267%"
    assert labels.score_change_text(4, 6) == "4 \u2192 6, +50%"
    assert labels.score_change_text(5, 5) == "5 \u2192 5, \u00b10%"
    assert labels.score_change_text(47, 35, unit=" points") == "47 \u2192 35, \u221212 points"
    assert labels.score_change_text(6, None) == "not recorded"
    assert labels.score_change_text(0, 3) == "0 \u2192 3"  # no % of nothing


def test_a_table_in_words_on_screen_and_for_csv():
    frame = pd.DataFrame({
        "session_date": pd.to_datetime(["2025-12-16 00:00", "2026-01-02 00:00"]),
        "product": ["onabotulinumtoxinA", None],
        "indication": ["arm_pain", "neck_pain"],
        "total_units": [50.0, 52.5],
        "muscles": ["splenius_capitis:52.5;trapezius", None],
        "interval_days": pd.array([None, 17], dtype="Int64"),
        "response_pct": pd.array([66.666, None], dtype="Float64"),
        "short_interval": [False, True],
        "responder": pd.array([True, None], dtype="boolean"),
        "site": ["North", None],
    })
    screen = labels.table_in_words(frame)
    assert list(screen.columns) == ["Session date", "Product", "Indication", "Total units", "Muscles (units)",
                                    "Interval (days)", "Pain response (%)", "Short interval", "Responder", "Site"]
    assert screen.iloc[0].tolist() == ["16 Dec 2025", "Botox (onabotulinumtoxinA)", "Arm pain", "50",
                                       "Splenius capitis 52.5 U; Trapezius", "not recorded", "66.7%", "no", "yes",
                                       "North"]
    assert screen.iloc[1].tolist() == ["02 Jan 2026", "not recorded", "Neck pain", "52.5", "not recorded", "17",
                                       "not recorded", "yes", "not recorded", "not recorded"]
    csv = labels.table_in_words(frame, ["session_date", "total_units", "response_pct"], for_csv=True)
    assert csv["Session date"].tolist() == ["2025-12-16", "2026-01-02"]
    assert csv["Total units"].tolist() == [50.0, 52.5]
    assert csv["Pain response (%)"].iloc[0] == 66.7 and np.isnan(csv["Pain response (%)"].iloc[1])


def test_group_tables_show_products_and_indications_in_words_and_nothing_else_changes():
    table = pd.DataFrame({
        "group_by": ["product", "product", "product", "indication", "site", "cycle", "product"],
        "group": ["onabotulinumtoxinA", "other", "All", "arm_pain", "North", "3", "not recorded"],
        "sessions": [10, 2, 12, 5, 7, 4, 1]})
    words = labels.groups_in_words(table)
    assert words["group"].tolist() == ["Botox (onabotulinumtoxinA)", "Other product", "All", "Arm pain", "North",
                                       "3", "not recorded"]
    assert words["sessions"].tolist() == [10, 2, 12, 5, 7, 4, 1]
    assert table["group"].iloc[0] == "onabotulinumtoxinA"  # the caller's table (and so its CSV) keeps the codes
    no_kind = pd.DataFrame({"group": ["cervical_dystonia", "All"]})
    assert labels.groups_in_words(no_kind, "indication")["group"].tolist() == ["Cervical dystonia", "All"]
    assert labels.groups_in_words(no_kind, "site")["group"].tolist() == ["cervical_dystonia", "All"]
    short = labels.groups_in_words(table, short=True)  # a legend on a phone: the brand alone
    assert short["group"].tolist()[:2] == ["Botox", "Other product"] and short["group"].iloc[3] == "Arm pain"


def _one_number(value, decimals: int, unit: str) -> str:
    """number_texts' reference, one value at a time: rounded, thousands separated, trailing zeros dropped."""
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return "not recorded"
    text = f"{round(float(value), decimals) + 0.0:,.{decimals}f}"
    if decimals and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace("-", "\u2212") + unit


def test_numbers_are_written_once_per_distinct_value_and_as_one_at_a_time():
    # issue 12: the worklist writes 200,000 patients' scores; each distinct value is now formatted once
    rng = np.random.default_rng(12)
    values = list(rng.choice([0, 1, 2.5, 7, 10, -3, 0.04, -0.04, 1234.567], 500)) + [None, float("nan")]
    for series in (pd.Series(values, dtype="object"), pd.Series(values, dtype="Float64"),
                   pd.Series([1, None, 3], dtype="Int64")):
        for decimals, unit in ((0, "%"), (1, ""), (2, " U")):
            got = labels.number_texts(series, decimals, unit)
            assert got.tolist() == [_one_number(v, decimals, unit) for v in series.astype("object")]
            assert got.index.equals(series.index) and str(got.dtype) == "str"
