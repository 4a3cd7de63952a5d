"""Small builders for test files made in code."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from analytics.schema import SESSION_DTYPES
from analytics.sessions import add_outcomes, any_adverse_event
from analytics.settings import DEFAULT_SETTINGS, Settings

# The cervical dystonia trial (Brashear et al. 1999), public teaching data: see tests/data/README.md.
CDYSTONIA = Path(__file__).resolve().parent / "data" / "cdystonia.csv"

HEADER = ["patient_id", "session_date", "product", "total_units", "baseline_pain", "followup_pain"]


def csv_bytes(rows: list[list[str]], header: list[str] | None = None, sep: str = ",", bom: bool = False,
              newline: str = "\n", encoding: str = "utf-8") -> bytes:
    """A CSV file's bytes from rows of cell texts (no quoting: cells must not hold the separator)."""
    lines = [sep.join(header or HEADER)] + [sep.join(r) for r in rows]
    data = (newline.join(lines) + newline).encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def good_row(patient: str = "P1", day: str = "2025-03-14", product: str = "Botox", units: str = "200",
             before: str = "7", after: str = "3") -> list[str]:
    return [patient, day, product, units, before, after]


def session_table(rows: list[dict], product: str | None = "onabotulinumtoxinA", units: float | None = 100.0
                  ) -> pd.DataFrame:
    """A session table in the canonical dtypes from a few dicts (only the columns given, plus product and dose)."""
    frame = pd.DataFrame(rows)
    if product is not None:
        frame["product"] = frame["product"].fillna(product) if "product" in frame.columns else product
    if units is not None:
        frame["total_units"] = frame["total_units"].fillna(units) if "total_units" in frame.columns else units
    for column in frame.columns:
        dtype = SESSION_DTYPES.get(column)
        if dtype == "datetime64[s]":
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[s]")
        elif dtype:
            frame[column] = frame[column].astype(dtype)
    return frame


def make_sessions(rows: list[dict], settings: Settings = DEFAULT_SETTINGS) -> pd.DataFrame:
    """A derived session table (the columns of derive_sessions) from a few hand-written rows, in row order.

    The rows give what derive_sessions would compute from dates (interval_days, cycle, duration_days,
    duration_event), so a test can state them directly; every rule with a threshold (short interval, booster,
    response, responder, onset/peak within, any adverse event, duration only for responders) is applied by the
    product's own building blocks (`add_outcomes`, `any_adverse_event`) with `settings`, so the fixture cannot
    drift from the product.
    """
    df = pd.DataFrame(rows)
    n = len(df)

    def col(name, default):
        return df[name] if name in df else pd.Series([default] * n, dtype="object")

    def whole(name):
        return pd.to_numeric(col(name, pd.NA), errors="coerce").astype("Int64")

    out = pd.DataFrame({
        "patient_id": col("patient_id", "p").astype("str"),
        "session_date": pd.to_datetime(col("session_date", "2025-01-01"), format="ISO8601").astype("datetime64[s]"),
        "session_id": pd.Series([f"s{i}" for i in range(n)], dtype="str"),
        "site": col("site", "north").astype("str"),
        "practitioner_id": col("practitioner_id", "dr1").astype("str"),
        "indication": col("indication", "neck_pain").astype("str"),
        "product": col("product", "onabotulinumtoxinA").astype("str"),
        "total_units": pd.to_numeric(col("total_units", 100.0)).astype("float64"),
        "muscles": col("muscles", "trapezius").astype("str"),
        "baseline_pain": whole("baseline_pain"),
        "followup_pain": whole("followup_pain"),
        "onset_days": whole("onset_days"),
        "peak_days": whole("peak_days"),
        "wearing_off_days": whole("wearing_off_days"),
        "pgic": pd.Series([pd.NA] * n, dtype="Int64"),
        "adverse_events": col("adverse_events", pd.NA).astype("str").where(col("adverse_events", pd.NA).notna()),
        "cycle": pd.to_numeric(col("cycle", 1)).astype("Int64"),
        "interval_days": whole("interval_days"),
    })
    has_response, responder = add_outcomes(out, settings)
    duration = pd.to_numeric(col("duration_days", pd.NA), errors="coerce").astype("Float64")
    out["duration_days"] = duration.where(pd.Series(has_response & responder), pd.NA)  # responders only
    out["duration_event"] = col("duration_event", False).astype(bool)
    out["any_adverse_event"] = any_adverse_event(out)
    return out
