"""The session-key rule, stated once for the ingestion (pandas) and the store (SQL).

A session is its patient_id and session_date: one patient has at most one injection session a day. The
session_id is an attribute of the session that must agree with it: two rows with the same session_id and a
different patient or date are a conflict (duplicates.py in a file, the store against what it holds), never two
sessions. Why: a clinic's exports give the session_id in one month and leave it out in another; keyed by
session_id, the same sessions were stored twice. A row with a blank patient or date has no key. Both forms
read the canonical columns after ingestion (codes trimmed, dates parsed), so they group rows the same way.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SEPARATOR = "\x1f"  # between the parts of a key: never in a code or a date (the ingestion strips it)


@dataclass(frozen=True)
class SessionKeys:
    """The key of every row as two integer arrays (equal pairs = same session), and whether it has one."""

    a: np.ndarray
    b: np.ndarray
    usable: np.ndarray

    def frame(self, index: pd.Index) -> pd.DataFrame:
        return pd.DataFrame({"a": self.a, "b": self.b, "usable": self.usable}, index=index)


def session_keys(frame: pd.DataFrame, patient_codes: np.ndarray | None = None) -> SessionKeys:
    """The vectorised form: integer keys from patient_id and session_date (session_id plays no part).

    a = the patient's code (-1 for a blank patient), b = the day number (the lowest int64 for a blank date).
    patient_codes: pd.factorize(patient_id) when already worked out.
    """
    if patient_codes is None:
        patient_codes = pd.factorize(frame["patient_id"])[0].astype(np.int64)
    day = frame["session_date"]
    has_day = day.notna().to_numpy()
    day_number = np.where(has_day, day.to_numpy().astype("datetime64[D]").astype(np.int64), np.iinfo(np.int64).min)
    return SessionKeys(a=np.asarray(patient_codes, dtype=np.int64), b=day_number.astype(np.int64),
                       usable=(np.asarray(patient_codes) >= 0) & has_day)


def session_key_sql(patient_id: str = "patient_id", session_date: str = "session_date") -> str:
    """The SQL form (DuckDB): the key as text (separator, patient, separator, ISO date), NULL when the row has none."""
    sep = "'" + SEPARATOR + "'"
    # CAST(date AS VARCHAR) is ISO (YYYY-MM-DD) for the years the ingestion accepts, and much cheaper than strftime
    return f"({sep} || {patient_id} || {sep} || CAST(CAST({session_date} AS DATE) AS VARCHAR))"
