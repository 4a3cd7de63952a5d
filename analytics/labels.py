"""Words for what a person reads: product, indication and adverse-event names, column headers with their units,
numbers, percentages, dates, muscle lists and missing values (issue 13, "words, not codes").

Why: the data contract stores canonical codes (`onabotulinumtoxinA`, `arm_pain`, `splenius_capitis:52.5;...`) and
the metrics name their columns in snake case; a practitioner should read "Botox (onabotulinumtoxinA)", "Arm pain",
"Splenius capitis 52.5 U" and "Interval (days)", and "not recorded" where a value is missing, never None or NaN.
Display only: every helper takes stored values and returns text, so downloads that feed other tools can keep the
codes. The brand names come from the contract's own vocabulary (analytics/schema.py PRODUCT_ALIASES, the names the
spec lists: Botox, Dysport, Xeomin, Myobloc/NeuroBloc); nothing here invents one.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analytics.schema import ADVERSE_EVENTS, INDICATIONS, PRODUCT_ALIASES, PRODUCTS, normalise_token

NOT_RECORDED = "not recorded"
MINUS = "\u2212"  # a real minus sign: "−67%" (a hyphen reads as a dash)
ARROW = "\u2192"

# The first brand name the spec lists for each generic name (docs data-contract: "Botox, Dysport, Xeomin,
# Myobloc/NeuroBloc"); each must be an alias of its generic name in the contract (tests/test_labels.py checks).
PRODUCT_BRANDS = {
    "onabotulinumtoxinA": "Botox",
    "abobotulinumtoxinA": "Dysport",
    "incobotulinumtoxinA": "Xeomin",
    "rimabotulinumtoxinB": "Myobloc/NeuroBloc",
}
PRODUCT_WORDS = {**{generic: f"{brand} ({generic})" for generic, brand in PRODUCT_BRANDS.items()},
                 "other": "Other product"}

# Indications and adverse events: the contract's codes in words (first letter capital, underscores as spaces),
# with the few that need more than that.
INDICATION_WORDS = {code: code.replace("_", " ").capitalize() for code in INDICATIONS} | {
    "other": "Other indication"}
ADVERSE_EVENT_WORDS = {code: code.replace("_", " ").capitalize() for code in ADVERSE_EVENTS} | {
    "none": "None reported", "flu_like": "Flu-like symptoms", "other": "Other"}

# Column headers in words, with the unit in brackets: every column a patient-level table shows.
COLUMN_WORDS = {
    "patient_id": "Patient",
    "session_id": "Session",
    "session_date": "Session date",
    "cycle": "Cycle",
    "cycle_number": "Cycle (as recorded)",
    "site": "Site",
    "practitioner_id": "Practitioner",
    "indication": "Indication",
    "product": "Product",
    "total_units": "Total units",
    "muscles": "Muscles (units)",
    "interval_days": "Interval (days)",
    "short_interval": "Short interval",
    "booster": "Booster",
    "baseline_pain": "Pain before (0-10)",
    "followup_pain": "Pain after (0-10)",
    "followup_days": "Follow-up (days after)",
    "response_pct": "Pain response (%)",
    "responder": "Responder",
    "substantial": "Substantial response",
    "baseline_twstrs": "TWSTRS before (points)",
    "followup_twstrs": "TWSTRS after (points)",
    "twstrs_change": "TWSTRS change (points)",
    "twstrs_responder": "TWSTRS responder",
    "onset_days": "Onset (days)",
    "peak_days": "Peak (days)",
    "wearing_off_days": "Wore off (days)",
    "duration_days": "Benefit lasted (days)",
    "duration_event": "Benefit wore off (recorded)",
    "next_session_date": "Next session",
    "adverse_events": "Adverse events",
    "any_adverse_event": "Any adverse event",
    "pgic": "PGIC (1-7)",
}


def missing(value) -> bool:
    """None, NA, NaN or NaT."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def column_label(name: str) -> str:
    """A column's header in words: 'interval_days' -> 'Interval (days)'; an unknown one with its underscores as
    spaces and a capital ('dose_band' -> 'Dose band')."""
    return COLUMN_WORDS.get(name, str(name).replace("_", " ").capitalize())


def _words(values, words: dict[str, str], aliases: dict[str, str] | None = None) -> pd.Series:
    """Codes as words, vectorised: a known code (or an alias of one) in words, a missing value 'not recorded',
    anything else as written."""
    series = pd.Series(values, dtype="object") if not isinstance(values, pd.Series) else values.astype("object")
    known = series.map(words)
    if aliases is not None:
        canonical = series.map(lambda v: aliases.get(normalise_token(v)) if isinstance(v, str) else None)
        known = known.fillna(canonical.map(words))
    absent = series.map(missing) | (series.astype("str").str.strip() == "")
    return known.fillna(series.astype("str")).where(~absent, NOT_RECORDED)


def product_label(value) -> str:
    """'onabotulinumtoxinA' (or 'botox', any case) -> 'Botox (onabotulinumtoxinA)'; 'other' -> 'Other product'."""
    return str(product_labels(pd.Series([value])).iloc[0])


def product_labels(values) -> pd.Series:
    """product_label of every value (a Series keeps its index)."""
    return _words(values, PRODUCT_WORDS, PRODUCT_ALIASES)


def product_short_labels(values) -> pd.Series:
    """The brand alone where the contract names one ('Botox'), for tight spots such as a chart's annotation;
    'Other product', 'not recorded', or the value as written otherwise."""
    return _words(values, {**PRODUCT_BRANDS, "other": "Other product"}, PRODUCT_ALIASES)


def indication_label(value) -> str:
    """'arm_pain' -> 'Arm pain'; 'cervical_dystonia' -> 'Cervical dystonia'; missing -> 'not recorded'."""
    return str(indication_labels(pd.Series([value])).iloc[0])


def indication_labels(values) -> pd.Series:
    return _words(values, INDICATION_WORDS)


def adverse_event_labels(values) -> pd.Series:
    """A list cell 'neck_weakness;dysphagia' -> 'Neck weakness; Dysphagia'; 'none' -> 'None reported'."""
    series = pd.Series(values, dtype="object") if not isinstance(values, pd.Series) else values.astype("object")
    absent = series.map(missing) | (series.astype("str").str.strip() == "")
    items = series.where(~absent, "").astype("str").str.split(r"[;|]", regex=True).explode().str.strip()
    items = items.loc[items != ""]
    words = _words(items, ADVERSE_EVENT_WORDS)
    joined = words.groupby(level=0).agg("; ".join) if len(words) else pd.Series(dtype="object")
    return joined.reindex(series.index).fillna(NOT_RECORDED).where(~absent, NOT_RECORDED)


def number_text(value, decimals: int = 1) -> str:
    """A number with at most `decimals` decimals, a whole number without any ('50', not '50.00'), thousands
    separated; 'not recorded' when missing."""
    return str(number_texts(pd.Series([value], dtype="object"), decimals).iloc[0])


def number_texts(values, decimals: int = 1, unit: str = "") -> pd.Series:
    """number_text of every value, vectorised, with an optional unit after it ('52.5 U')."""
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype="object")
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        x = series.astype("float64")  # NA and NaN become NaN
    else:
        x = pd.to_numeric(series.astype("object").where(~series.map(missing), np.nan), errors="coerce")
    x = x.astype("float64").round(decimals) + 0.0  # + 0.0: no "-0"
    # each distinct value is written once (scores and changes repeat across a clinic's patients)
    codes, uniques = pd.factorize(x.to_numpy(), use_na_sentinel=True)
    text = pd.Series([f"{v:,.{decimals}f}" for v in uniques], dtype="object")
    if decimals:
        text = text.str.replace(r"\.?0+$", "", regex=True).where(text.str.contains(".", regex=False), text)
    text = (text.str.replace("-", MINUS, regex=False) + unit).to_numpy(dtype=object)
    out = np.full(len(codes), NOT_RECORDED, dtype=object)
    out[codes >= 0] = text[codes[codes >= 0]]
    return pd.Series(out, index=series.index, dtype="str")


def percent_text(value, decimals: int = 1) -> str:
    """A percentage (already in %) with one decimal: 66.666 -> '66.7%', 50 -> '50.0%'; 'not recorded' if missing."""
    return str(percent_texts(pd.Series([value], dtype="object"), decimals).iloc[0])


def percent_texts(values, decimals: int = 1) -> pd.Series:
    """percent_text of every value: tables show percentages with one decimal, always (a column lines up)."""
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype="object")
    x = pd.to_numeric(series.astype("object").where(~series.map(missing), np.nan), errors="coerce")
    x = x.astype("float64").round(decimals) + 0.0
    text = x.map(lambda v: f"{v:.{decimals}f}%" if not math.isnan(v) else "").str.replace("-", MINUS, regex=False)
    return text.where(x.notna(), NOT_RECORDED)


def date_text(value) -> str:
    """A date without its time: '16 Dec 2025'; 'not recorded' when missing."""
    return str(date_texts(pd.Series([value], dtype="object")).iloc[0])


def date_texts(values) -> pd.Series:
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype="object")
    days = pd.to_datetime(series, errors="coerce")
    return days.dt.strftime("%d %b %Y").astype("object").where(days.notna(), NOT_RECORDED)


def yes_no_texts(values) -> pd.Series:
    """True/False as 'yes'/'no', missing as 'not recorded'."""
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype="object")
    out = series.astype("object").map({True: "yes", False: "no", np.True_: "yes", np.False_: "no"})
    return out.where(~series.astype("object").map(missing), NOT_RECORDED).fillna(NOT_RECORDED)


def muscle_text(cell) -> str:
    """'splenius_capitis:52.5;trapezius' -> 'Splenius capitis 52.5 U; Trapezius'; missing -> 'not recorded'."""
    return str(muscle_texts(pd.Series([cell], dtype="object")).iloc[0])


def muscle_texts(values) -> pd.Series:
    """muscle_text of every cell, vectorised over the exploded items."""
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype="object")
    absent = series.map(missing) | (series.astype("str").str.strip() == "")
    items = series.where(~absent, "").astype("str").str.split(r"[;|]", regex=True).explode()
    parts = items.astype("str").str.partition(":")
    name = parts[0].str.strip().str.replace("_", " ").str.capitalize()
    units = parts[2].str.strip()
    as_number = pd.to_numeric(units, errors="coerce")
    units_text = number_texts(as_number, 1).where(as_number.notna(), units)
    item = name + np.where(units != "", " " + units_text + np.where(as_number.notna(), " U", ""), "")
    item = item.loc[name.fillna("") != ""]
    joined = item.groupby(level=0).agg("; ".join) if len(item) else pd.Series(dtype="object")
    return joined.reindex(series.index).fillna(NOT_RECORDED).where(~absent, NOT_RECORDED)


def score_change_text(before, after, change_pct=None, unit: str = "%", decimals: int = 0) -> str:
    """A response as the raw scores and their change: (6, 2) -> '6 → 2, −67%'; with unit ' points' the change in
    points ('47 → 35, −12 points'); 'not recorded' when either score is missing."""
    return str(score_change_texts(pd.Series([before]), pd.Series([after]),
                                  None if change_pct is None else pd.Series([change_pct]), unit, decimals).iloc[0])


def score_change_texts(before, after, change_pct=None, unit: str = "%", decimals: int = 0) -> pd.Series:
    """score_change_text of every row. change_pct: the change in % of the score before (negative: better),
    computed from the scores when None; for unit ' points' the change is after - before."""
    b = pd.to_numeric(pd.Series(before).astype("object"), errors="coerce").astype("float64").reset_index(drop=True)
    a = pd.to_numeric(pd.Series(after).astype("object"), errors="coerce").astype("float64").reset_index(drop=True)
    if unit.strip() == "points":
        change = a - b
    elif change_pct is None:
        change = (100.0 * (a - b) / b).where(b != 0)
    else:
        change = pd.to_numeric(pd.Series(change_pct).astype("object"), errors="coerce").astype(
            "float64").reset_index(drop=True)
    rounded = change.round(decimals) + 0.0
    sign = pd.Series(np.where(rounded > 0, "+", np.where(rounded < 0, MINUS, "\u00b1")))
    size = number_texts(rounded.abs(), decimals)
    change_text = (", " + sign + size + unit).where(change.notna(), "")
    text = number_texts(b, 1) + f" {ARROW} " + number_texts(a, 1) + change_text
    out = text.where(a.notna() & b.notna(), NOT_RECORDED)
    index = before.index if isinstance(before, pd.Series) else out.index
    return pd.Series(out.to_numpy(), index=index, dtype="object")


def groups_in_words(table: pd.DataFrame, by: str | None = None, short: bool = False) -> pd.DataFrame:
    """A group table (breakdowns, adverse events by product) with its `group` column in words where it holds
    products or indications: the rows whose `group_by` (or, without that column, `by`) is 'product' or
    'indication'. Other groups ('All', sites, cycles, 'suppressed' rows' names) stay as written. For the screen and
    charts only; a download keeps the codes. short: the brand alone ('Botox'), for a chart's legend on a phone."""
    if "group" not in table.columns or len(table) == 0:
        return table
    kind = table["group_by"].astype("str") if "group_by" in table.columns else pd.Series(by, index=table.index)
    group = table["group"].astype("object")
    words = group.copy()
    products = product_short_labels if short else product_labels
    for name, convert in (("product", products), ("indication", indication_labels)):
        rows = (kind == name).to_numpy()
        if rows.any():
            words.loc[rows] = convert(group.loc[rows]).to_numpy()
    return table.assign(group=words)


PERCENT_COLUMNS = ("response_pct",)  # columns already in % (shown with one decimal and a % sign)


def _is_date(column: pd.Series, name: str) -> bool:
    return pd.api.types.is_datetime64_any_dtype(column) or name.endswith("_date")


def table_in_words(frame: pd.DataFrame, columns=None, for_csv: bool = False) -> pd.DataFrame:
    """A table as a person reads it: headers in words (column_label), products, indications, adverse events and
    muscles in words, dates without times, yes / no, percentages with one decimal, whole numbers without decimals
    and 'not recorded' for a missing value. for_csv: numbers stay numbers (blank when missing) and dates are ISO
    text ('2025-12-16'), so a spreadsheet can still sort and add them; words as on screen."""
    columns = [c for c in (columns or frame.columns) if c in frame.columns]
    out = {}
    for name in columns:
        column = frame[name]
        if name == "product":
            text = product_labels(column)
        elif name == "indication":
            text = indication_labels(column)
        elif name == "adverse_events":
            text = adverse_event_labels(column)
        elif name == "muscles":
            text = muscle_texts(column)
        elif _is_date(column, name):
            days = pd.to_datetime(column, errors="coerce")
            text = days.dt.strftime("%Y-%m-%d").astype("object").where(days.notna(), "") if for_csv \
                else date_texts(column)
        elif pd.api.types.is_bool_dtype(column):
            text = yes_no_texts(column)
        elif pd.api.types.is_numeric_dtype(column):
            if for_csv:
                text = pd.to_numeric(column, errors="coerce").astype("float64").round(1)
            else:
                text = percent_texts(column) if name in PERCENT_COLUMNS or name.endswith("_pct") \
                    else number_texts(column)
        else:
            absent = column.astype("object").map(missing) | (column.astype("str").str.strip() == "")
            text = column.astype("object").where(~absent, NOT_RECORDED)
        out[column_label(name)] = pd.Series(text.to_numpy(), index=frame.index)
    return pd.DataFrame(out, index=frame.index)
