"""Small builders for test files made in code."""
from __future__ import annotations

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
