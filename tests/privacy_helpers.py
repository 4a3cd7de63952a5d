"""Builders for the privacy tests: a small session file with one column under test, written with proper quoting."""
from __future__ import annotations

import csv
import io

from analytics.ingest import load_sessions
from analytics.reason_codes import IDENTIFIER_REFUSALS

BASE = ["patient_id", "session_date", "product", "total_units", "baseline_pain", "followup_pain"]


def file_bytes(rows: list[list[str]], header: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([header, *rows])
    return out.getvalue().encode("utf-8")


def row(patient: str = "P1", day: str = "2025-03-14") -> list[str]:
    return [patient, day, "Botox", "200", "7", "3"]


def with_column(header: str, values: list[str]) -> bytes:
    """A file of len(values) good sessions plus one column `header` holding `values`."""
    return file_bytes([row(f"P{i + 1}") + [v] for i, v in enumerate(values)], BASE + [header])


def refused_for_privacy(data: bytes, **options) -> bool:
    result = load_sessions(data, **options)
    if result.refused and result.refusal not in IDENTIFIER_REFUSALS:
        raise AssertionError(f"refused for another reason: {result.file_errors}")
    return result.refused
