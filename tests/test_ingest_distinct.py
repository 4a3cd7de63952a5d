"""Ingestion once per distinct value (analytics/distinct.py) gives the very report a check of every cell gives.

The reference is the same pipeline with the distinct-value path switched off (distinct.WORTH < 0: no column is
ever encoded, so every blank check, regex, parser and rule runs on every cell, and patient codes come from
pandas.factorize). A messy file built in code (blanks, not-recorded tokens, decimal commas, day-first dates,
bad values repeated on many lines, copies and conflicts) must give equal accepted rows, rejected cells,
warnings, duplicates, conflicts and summary both ways; a few of its cells are also checked by hand.
"""
from __future__ import annotations

import re

import string
from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics import distinct
from analytics.ingest import load_assessments, load_sessions
from tests.helpers import HEADER

TODAY = date(2026, 11, 25)
COLUMNS = ["patient_id", "session_date", "session_id", "site", "practitioner_id", "indication", "product",
           "total_units", "muscles", "baseline_pain", "followup_pain", "followup_days", "pgic",
           "adverse_events", "notes"]
N = 3000  # rows: well over distinct.SMALL, so the distinct path is taken


def messy_file() -> bytes:
    """A tab-separated file (decimal commas) with day-first dates and bad values repeated on many rows."""
    rng = np.random.default_rng(12)
    pick = lambda options: [options[i] for i in rng.integers(0, len(options), N)]  # noqa: E731
    day = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 600, N), unit="D")
    dates = list(day.strftime("%d/%m/%Y"))
    bad_dates = ["31/02/2025", "2025-13-01", "", "?", "1900-01-00", "14/03/2031", "  15/03/2025 ", "03/1988"]
    for i in range(0, N, 37):
        dates[i] = bad_dates[(i // 37) % len(bad_dates)]
    columns = {
        "patient_id": [f"P{p:04d}" if p % 50 else f" P{p:04d} " for p in rng.integers(0, 400, N)],
        "session_date": dates,
        "session_id": [f"S{i:05d}" for i in range(N)],
        "site": pick(["North", " North", "South ", "Central", "", "n/a", "\u2014"]),
        "practitioner_id": pick(["PR01", "PR02", "PR03", "", "unknown"]),
        "indication": pick(["cervical_dystonia", "Neck pain", "neck_pain", "tension headache", "sore toe", ""]),
        "product": pick(["Botox", "dysport", "Xeomin", "onabotulinumtoxinA", "snake oil", "", "NA"]),
        "total_units": pick(["100", "232,7", " 150 ", "0", "-5", "inf", "nan", "1e309", "abc", "", "?",
                             "2000", "1,5e2"]),
        "muscles": pick(["splenius_capitis:50;trapezius:30", "Splenius capitis: 50 | trapezius:30",
                         "trapezius", "bad muscle 1:x", "trapezius:-3", "", "levator_scapulae:60,5"]),
        "baseline_pain": pick(["7", "7.5", "11", "", "x", "6", "nan", " 3 "]),
        "followup_pain": pick(["3", "4", "", "-1", "2,0", "?"]),
        "followup_days": pick(["21", "28", "", "400", "14,5"]),
        "pgic": pick(["2", "3", "8", "", "0"]),
        "adverse_events": pick(["none", "Dysphagia; Flu-like", "dysphagia", "headache?", "none;dysphagia", ""]),
        "notes": pick(["fine", "call 07700 900123 re review", "", "seen with Mrs Smith", "ok"]),
    }
    rows = [[columns[c][i] for c in COLUMNS] for i in range(N)]
    for i in range(10, N, 97):  # exact copies and conflicts (same patient and date, other values)
        rows[i + 1] = list(rows[i]) if (i // 97) % 2 else [*rows[i][:7], "120", *rows[i][8:]]
        rows[i + 1][2] = rows[i][2] if (i // 97) % 2 else f"X{i}"
    text = "\t".join(COLUMNS) + "\n" + "\n".join("\t".join(r) for r in rows) + "\n"
    return text.encode("utf-8")


def per_cell(monkeypatch) -> None:
    """Switch the distinct-value path off: no column is worth encoding."""
    monkeypatch.setattr(distinct, "WORTH", -1.0)


def assert_same(a, b) -> None:
    assert a.refused == b.refused and a.file_errors == b.file_errors
    for name in ("data", "rejected", "warnings", "duplicates", "conflicts"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_dtype=True, obj=name)
    # the neutral label names the minute the file was read ("upload 2026-12-02 05:52, 48 rows"): two reads either
    # side of a minute's turn differ there and nowhere else (this test failed once in CI on exactly that)
    first, second = a.summary(), b.summary()
    when = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d")
    assert when.sub("<time>", first.pop("source")) == when.sub("<time>", second.pop("source"))
    assert first == second
    assert a.notes == b.notes


@pytest.fixture(scope="module")
def messy() -> bytes:
    return messy_file()


def test_the_messy_file_takes_the_distinct_path(messy, monkeypatch):
    encoded = []
    real = distinct.remember
    monkeypatch.setattr(distinct, "remember", lambda values, done: encoded.append(len(done)) or real(values, done))
    load_sessions(messy, today=TODAY, redact_free_text=True)
    assert len(encoded) >= 10 and set(encoded) == {N}


@pytest.mark.parametrize("options", [dict(redact_free_text=True), dict(drop_identifiers=True)])
def test_distinct_path_reports_exactly_what_checking_every_cell_reports(messy, monkeypatch, options):
    fast = load_sessions(messy, today=TODAY, **options)
    per_cell(monkeypatch)
    slow = load_sessions(messy, today=TODAY, **options)
    assert fast.n_rows == N and len(fast.rejected) > 500 and len(fast.warnings) > 10
    assert_same(fast, slow)


def test_repeated_bad_values_are_reported_on_every_line(messy):
    result = load_sessions(messy, today=TODAY, redact_free_text=True)
    rejected = result.rejected
    lines = [i + 2 for i in range(0, N, 37)]  # line 1 is the header
    dates = rejected[rejected["column"] == "session_date"].set_index("line")
    assert dates.loc[lines[0], "value"] == "31/02/2025"
    assert dates.loc[lines[0], "reason"] == "not a real calendar date when read day-first"
    assert dates.loc[lines[0], "code"] == "bad_date"
    february = [n for k, n in enumerate(lines) if k % 8 == 0]
    assert set(february) <= set(dates.index) and (dates.loc[february, "value"] == "31/02/2025").all()
    assert (dates.loc[[n for k, n in enumerate(lines) if k % 8 == 3], "code"] == "blank_required").all()
    units = rejected[rejected["column"] == "total_units"]
    abc = units[units["value"] == "abc"]
    assert len(abc) > 100 and set(abc["reason"]) == {"not a number"}
    # decimal commas read as written: 232,7 -> 232.7 on every accepted row that holds it
    raw = pd.read_csv(pd.io.common.BytesIO(messy), sep="\t", dtype=str, keep_default_na=False)
    holds = set(raw.index[raw["total_units"] == "232,7"] + 2)
    accepted = result.data.set_index("line")
    kept = sorted(holds & set(accepted.index))
    assert kept and (accepted.loc[kept, "total_units"] == 232.7).all()
    # day-first dates: every accepted row's date is its text read day-first (05/03/2024 is 5 March)
    written = raw["session_date"].str.strip()
    written.index = written.index + 2
    expected = pd.to_datetime(written.loc[accepted.index], format="%d/%m/%Y")
    assert len(accepted) > 20
    assert (accepted["session_date"] == expected).all()
    # a not-recorded token in an optional column: one warning for the column, counting every cell
    site = result.warnings[(result.warnings["column"] == "site") & (result.warnings["code"] == "not_recorded")]
    n_tokens = int(raw["site"].isin(["n/a", "\u2014"]).sum())
    assert len(site) == 1 and site["warning"].iloc[0].startswith(f"{n_tokens} cells read as not recorded")


CELL = st.text(alphabet=string.ascii_letters + string.digits + " .,;:/-?|\u2014@+", max_size=10)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(CELL, min_size=6, max_size=6), min_size=1, max_size=12), st.sampled_from([",", ";"]),
       st.integers(1, 4))
def test_any_small_file_gives_the_same_report_both_ways(monkeypatch, rows, sep, copies):
    """Random cells, repeated so that values recur; every column forced through the distinct path (tiny files
    are otherwise checked cell by cell) against the per-cell path."""
    cells = [[c.replace(sep, "") for c in r] for r in rows] * copies
    text = (sep.join(HEADER) + "\n" + "\n".join(sep.join(r) for r in cells) + "\n").encode("utf-8")
    with monkeypatch.context() as m:
        m.setattr(distinct, "SMALL", 0)
        m.setattr(distinct, "WORTH", 1.0)  # always worth it
        fast = [load_sessions(text, today=TODAY), load_assessments(text, today=TODAY)]
    with monkeypatch.context() as m:
        per_cell(m)
        slow = [load_sessions(text, today=TODAY), load_assessments(text, today=TODAY)]
    for a, b in zip(fast, slow):
        assert_same(a, b)


@pytest.mark.parametrize("chunks", [[], [[]], [["a", None, "a"], ["c", "a"], [], ["b", None]]])
def test_encoding_a_chunked_column_gives_each_cell_its_value(chunks):
    import pyarrow as pa

    array = pa.chunked_array([pa.array(c, type=pa.large_string()) for c in chunks], type=pa.large_string())
    encoded = distinct.encode(array)
    cells = [v for c in chunks for v in c]
    assert [None if k < 0 else encoded.values[int(k)].as_py() for k in encoded.codes] == cells
    assert len(set(encoded.values.to_pylist())) == len(encoded.values)  # distinct values
    assert encoded.spread(np.ones(len(encoded.values), dtype=bool), False).tolist() == [v is not None for v in cells]
