"""CSV exports: formula injection neutralised, numbers left alone."""
from __future__ import annotations

import io

import numpy as np
import pandas as pd

from analytics.export import csv_name, neutralise_formulas, neutralise_text, to_csv_bytes


def test_text_cells_starting_with_formula_characters_are_quoted():
    table = pd.DataFrame({"value": ["=1+1", "+cmd", "-100", "@SUM(A1)", "\tx", "\ry", "ok", None, "a=b"]})
    out = neutralise_formulas(table)
    assert out["value"].tolist()[:7] == ["'=1+1", "'+cmd", "'-100", "'@SUM(A1)", "'\tx", "'\ry", "ok"]
    assert pd.isna(out["value"].iloc[7])
    assert out["value"].iloc[8] == "a=b"


def test_numbers_booleans_and_dates_are_not_touched():
    table = pd.DataFrame({"n": [-1, 2], "x": [-0.5, np.nan], "b": [True, False],
                          "d": pd.to_datetime(["2025-01-01", "2025-02-01"]),
                          "i": pd.array([-3, None], dtype="Int64")})
    out = neutralise_formulas(table)
    pd.testing.assert_frame_equal(out, table)


def test_string_dtype_and_mixed_object_columns():
    table = pd.DataFrame({"s": pd.array(["=x", "y"], dtype="str"), "o": pd.Series([-5, "=z"], dtype=object)})
    out = neutralise_formulas(table)
    assert out["s"].tolist() == ["'=x", "y"]
    assert out["o"].tolist() == [-5, "'=z"]


def test_headers_are_neutralised_and_input_is_not_changed():
    table = pd.DataFrame({"=HYPERLINK(1)": ["=a"]})
    out = neutralise_formulas(table)
    assert list(out.columns) == ["'=HYPERLINK(1)"]
    assert table.iloc[0, 0] == "=a" and list(table.columns) == ["=HYPERLINK(1)"]


def test_csv_bytes_round_trip():
    table = pd.DataFrame({"patient_id": ["P1", "=cmd|' /C calc'!A0"], "rate": [0.5, -0.25]})
    data = to_csv_bytes(table)
    assert data.startswith(b"\xef\xbb\xbf")
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert back["patient_id"].tolist() == ["P1", "'=cmd|' /C calc'!A0"]
    assert back["rate"].tolist() == [0.5, -0.25]


def test_duplicate_column_names_and_empty_table():
    table = pd.DataFrame([["=a", "b"]], columns=["x", "x"])
    assert neutralise_formulas(table).iloc[0].tolist() == ["'=a", "b"]
    assert to_csv_bytes(pd.DataFrame(columns=["a"])).decode("utf-8-sig").strip() == "a"


def test_single_value_and_file_names():
    assert neutralise_text("-x") == "'-x"
    assert neutralise_text(-1) == -1
    assert csv_name("Watchlist", "North site") == "watchlist_north_site.csv"
    assert csv_name("") == "table.csv"
