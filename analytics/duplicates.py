"""Copies and conflicts: rows that repeat another row exactly, and different rows for one session.

Two rows can only be copies or conflicts when they share a session key (analytics/session_key.py), so whole
rows are compared only within repeated keys: one pass over two integer columns, then a hash of few rows.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .ingest_report import CONFLICT_COLUMNS, Report, empty_table
from .reason_codes import Rejection
from .session_key import session_keys


def duplicates_and_conflicts(parsed: pd.DataFrame, cells: pd.DataFrame, lines: np.ndarray, kind: str,
                             patient_codes: np.ndarray, report: Report) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(duplicates, conflicts) of a parsed table; both are rejected in the report (a copy is counted once).

    cells: the file's cells as written (copies are exact as written); lines: each row's file line;
    patient_codes: integer codes of parsed's patient_id. Conflicts are looked for in session files only.
    """
    keys = session_keys(parsed, patient_codes).frame(parsed.index)
    usable = keys["usable"].to_numpy()
    repeated = keys.duplicated(subset=["a", "b"], keep=False).to_numpy() & usable
    candidates = np.flatnonzero(repeated | ~usable)
    copy = np.zeros(len(parsed), dtype=bool)
    first_line = lines.copy()
    if len(candidates):
        hashes = pd.Series(pd.util.hash_pandas_object(cells.iloc[candidates], index=False).to_numpy())
        copy[candidates] = hashes.duplicated(keep="first").to_numpy()
        first_line[candidates] = pd.Series(lines[candidates]).groupby(hashes).transform("first").to_numpy()
    duplicates = pd.DataFrame({"line": lines[copy], "duplicate_of": first_line[copy]})
    if copy.any():
        reasons = pd.Series([f"an exact copy of line {n}; counted once" for n in first_line[copy]],
                            index=np.flatnonzero(copy), dtype="str").reindex(range(len(copy)), fill_value="")
        report.reject("(row)", pd.Series(copy), reasons, Rejection.EXACT_COPY,
                      values=pd.Series("", index=range(len(copy))))
    no_conflicts = empty_table(CONFLICT_COLUMNS)
    if kind != "sessions":
        return duplicates, no_conflicts
    live = keys.loc[usable & ~copy, ["a", "b"]]
    clash_index = live.index[live.duplicated(keep=False).to_numpy()]
    if not len(clash_index):
        return duplicates, no_conflicts
    label = _labels(parsed.loc[clash_index])
    clash_lines = pd.Series(lines[clash_index], index=clash_index)
    groups = clash_lines.groupby(label).agg(list)
    others = [", ".join(str(n) for n in groups[k] if n != line) for k, line in zip(label, clash_lines)]
    conflicts = pd.DataFrame({"line": clash_lines.to_numpy(), "key": label.to_numpy(), "other_lines": others})
    mask = pd.Series(False, index=parsed.index)
    mask[clash_index] = True
    reasons = pd.Series("", index=parsed.index, dtype="str")
    reasons[clash_index] = [f"conflicts with line {o}: same session ({k}) with different values; fix or "
                            "remove one" for o, k in zip(others, label)]
    values = pd.Series("", index=parsed.index, dtype="str")
    values[clash_index] = label.to_numpy()
    report.reject("(row)", mask, reasons, Rejection.CONFLICT, values=values)
    return duplicates, conflicts


def _labels(rows: pd.DataFrame) -> pd.Series:
    """The session key in words, for messages: 'session_id S1' or 'patient P1 on 2025-01-06'."""
    by_id = "session_id " + rows["session_id"]
    by_day = "patient " + rows["patient_id"] + " on " + rows["session_date"].dt.strftime("%Y-%m-%d")
    return by_id.where(rows["session_id"].notna(), by_day)
