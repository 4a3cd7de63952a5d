"""The session-key rule, stated once for the ingestion (pandas) and the store (SQL).

A session is its session_id when the row gives one; otherwise its patient_id and session_date. A row with
no session_id and a blank patient or date has no key. Both forms read the canonical columns after
ingestion (codes stripped, dates parsed), so they group rows the same way.
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
    """The vectorised form: integer keys from session_id, patient_id and session_date.

    Rows with a session_id get a = its code (0 .. n_ids-1), b = 0; the others a = n_ids + 1 + the patient's
    code (n_ids for a blank patient), b = the day number (the lowest int64 for a blank date), so the two kinds
    never meet and a keyless row never shares a pair with a keyed one. patient_codes: pd.factorize(patient_id)
    when already worked out.
    """
    if patient_codes is None:
        patient_codes = pd.factorize(frame["patient_id"])[0].astype(np.int64)
    id_codes, ids = pd.factorize(frame["session_id"])
    day = frame["session_date"]
    has_day = day.notna().to_numpy()
    day_number = np.where(has_day, day.to_numpy().astype("datetime64[D]").astype(np.int64), np.iinfo(np.int64).min)
    has_id = id_codes >= 0
    return SessionKeys(
        a=np.where(has_id, id_codes, len(ids) + 1 + patient_codes).astype(np.int64),
        b=np.where(has_id, 0, day_number),
        usable=has_id | ((patient_codes >= 0) & has_day),
    )


def session_key_sql(session_id: str = "session_id", patient_id: str = "patient_id",
                    session_date: str = "session_date") -> str:
    """The SQL form (DuckDB): the key as text, NULL when the row has none.

    A session_id is its own key; a patient + date key starts with the separator, which a session_id cannot.
    """
    sep = "'" + SEPARATOR + "'"
    return (f"CASE WHEN {session_id} IS NOT NULL THEN CAST({session_id} AS VARCHAR) "
            f"ELSE {sep} || {patient_id} || {sep} || strftime(CAST({session_date} AS DATE), '%Y-%m-%d') END")
