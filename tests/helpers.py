"""Small builders for test files made in code."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from analytics.schema import SESSION_DTYPES

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


def make_sessions(rows: list[dict]) -> pd.DataFrame:
    """A derived session table (the columns of derive_sessions) from a few hand-written rows."""
    df = pd.DataFrame(rows)
    n = len(df)

    def col(name, default):
        return df[name] if name in df else pd.Series([default] * n, dtype="object")

    base = pd.to_numeric(col("baseline_pain", pd.NA), errors="coerce").astype("Int64")
    follow = pd.to_numeric(col("followup_pain", pd.NA), errors="coerce").astype("Int64")
    response = (100 * (base - follow) / base.where(base > 0)).astype("Float64")
    interval = pd.to_numeric(col("interval_days", pd.NA), errors="coerce").astype("Int64")
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
        "baseline_pain": base,
        "followup_pain": follow,
        "onset_days": pd.to_numeric(col("onset_days", pd.NA), errors="coerce").astype("Int64"),
        "peak_days": pd.to_numeric(col("peak_days", pd.NA), errors="coerce").astype("Int64"),
        "wearing_off_days": pd.to_numeric(col("wearing_off_days", pd.NA), errors="coerce").astype("Int64"),
        "pgic": pd.Series([pd.NA] * n, dtype="Int64"),
        "adverse_events": col("adverse_events", pd.NA).astype("str").where(col("adverse_events", pd.NA).notna()),
        "cycle": pd.to_numeric(col("cycle", 1)).astype("Int64"),
        "interval_days": interval,
        "short_interval": (interval < 84).fillna(False).astype(bool),
        "booster": (interval < 28).fillna(False).astype(bool),
        "response_pct": response,
        "has_response": response.notna().astype(bool),
        "responder": (response >= 30).astype("boolean"),
        "substantial": (response >= 50).astype("boolean"),
    })
    out["onset_within"] = (out["onset_days"] <= 3).astype("boolean")
    out["peak_within"] = (out["peak_days"] <= 14).astype("boolean")
    out["duration_days"] = pd.to_numeric(col("duration_days", pd.NA), errors="coerce").astype("Float64")
    out["duration_event"] = col("duration_event", False).astype(bool)
    ae = out["adverse_events"]
    out["any_adverse_event"] = (ae.str.replace("none", "", regex=False).str.strip(";") != "").astype("boolean")
    out.loc[ae.isna(), "any_adverse_event"] = pd.NA
    return out
