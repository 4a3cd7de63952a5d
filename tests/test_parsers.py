"""Column parsers are chosen and configured by the Column's attributes, never by its name."""
from datetime import date

import numpy as np
import pandas as pd

from analytics.ingest_report import Report
from analytics.parsers import ParseContext, parse_column
from analytics.schema import PRODUCT_VOCABULARY, SESSION_BY_NAME, Column

CONTEXT = ParseContext(None, date(2026, 11, 25), False, np.array([2, 3, 4]))


def parse(column: Column, *values: str) -> tuple[pd.Series, list[tuple]]:
    frame = pd.DataFrame({column.name: pd.Series(values, dtype="str")})
    report = Report(frame, CONTEXT.lines, {column.name: column.name})
    parsed = parse_column(column, frame[column.name], CONTEXT, report)
    return parsed, list(report.rejected()[["line", "reason", "code"]].itertuples(index=False, name=None))


def test_the_schema_names_each_columns_parser():
    parsers = {name: column.parser for name, column in SESSION_BY_NAME.items()}
    assert (parsers["patient_id"], parsers["session_date"], parsers["total_units"], parsers["pgic"],
            parsers["product"], parsers["muscles"], parsers["adverse_events"]) == (
        "text", "date", "number", "number", "category", "muscles", "events")
    assert SESSION_BY_NAME["total_units"].above_low and SESSION_BY_NAME["product"].vocabulary is PRODUCT_VOCABULARY


def test_a_dose_column_by_any_name_must_be_above_its_low_and_is_plain_float():
    parsed, rejected = parse(Column("dose_given", "number", True, low=0.0, above_low=True), "0", "12.5", "")
    assert rejected == [(2, "must be above 0", "out_of_range"), (4, "blank, but dose_given is required", "blank_required")]
    assert str(parsed.dtype) == "float64" and parsed.iloc[1] == 12.5


def test_a_category_reads_its_own_vocabulary():
    parsed, rejected = parse(Column("toxin", "category", vocabulary=PRODUCT_VOCABULARY), "Xeomin", "Botax", "")
    assert parsed.iloc[0] == "incobotulinumtoxinA" and pd.isna(parsed.iloc[1]) and pd.isna(parsed.iloc[2])
    assert rejected == [(3, "unknown toxin (accepted: Botox, Dysport, Xeomin, Myobloc/NeuroBloc, their generic "
                            "names, or other)", "unknown_value")]


def test_list_parsers_are_named_by_the_column():
    muscles, rejected = parse(Column("targets", "list", parser="muscles"), "Splenius capitis: 50 | trapezius:30",
                              "trapezius:25", "1nose")
    assert muscles.tolist()[:2] == ["splenius_capitis:50;trapezius:30", "trapezius:25"]
    assert rejected == [(4, "'1nose' is not a muscle name (write muscle[:units] separated by ;)", "bad_list")]
    events, rejected = parse(SESSION_BY_NAME["adverse_events"], "Dysphagia; Flu-like", "none", "none, headache")
    assert events.tolist()[:2] == ["dysphagia;flu_like", "none"]
    assert rejected == [(4, "says none and also names an adverse event", "bad_list")]
