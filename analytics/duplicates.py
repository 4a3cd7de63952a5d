"""Copies and conflicts: rows that repeat another row exactly, and different rows for one session.

Two rows can only be copies or conflicts when they share a session key (patient + date, analytics/session_key.py),
so whole rows are compared only within repeated keys: one pass over two integer columns, then a hash of few rows.
Two rows that give the same session_id to different sessions (another patient or date) are conflicts too: a
session_id names one session.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from .distinct import arrow_of
from .distinct import repeated as repeated_values
from .ingest_report import CONFLICT_COLUMNS, Report, empty_table
from .reason_codes import Rejection
from .session_key import session_keys


def duplicates_and_conflicts(parsed: pd.DataFrame, cells: pd.DataFrame, lines: np.ndarray, kind: str,
                             patient_codes: np.ndarray, report: Report) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(duplicates, conflicts) of a parsed table; both are rejected in the report (a copy is counted once).

    cells: the file's cells as written (copies are exact as written); lines: each row's file line;
    patient_codes: integer codes of parsed's patient_id. Conflicts are looked for in session files only.
    """
    session = session_keys(parsed, patient_codes)
    keys = session.frame(parsed.index)
    usable = keys["usable"].to_numpy()
    repeated = _pair_repeats(session.a, session.b, usable)
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
    clash_index = keys.index[repeated if not copy.any() else _pair_repeats(session.a, session.b, usable & ~copy)]
    id_clash = _session_id_clashes(parsed, keys, usable & ~copy)
    if not len(clash_index) and not len(id_clash):
        return duplicates, no_conflicts
    tables = []
    mask = pd.Series(False, index=parsed.index)
    reasons = pd.Series("", index=parsed.index, dtype="str")
    values = pd.Series("", index=parsed.index, dtype="str")
    if len(clash_index):
        label = _labels(parsed.loc[clash_index])
        clash_lines = pd.Series(lines[clash_index], index=clash_index)
        groups = clash_lines.groupby(label).agg(list)
        others = [", ".join(str(n) for n in groups[k] if n != line) for k, line in zip(label, clash_lines)]
        tables.append(pd.DataFrame({"line": clash_lines.to_numpy(), "key": label.to_numpy(), "other_lines": others}))
        mask[clash_index] = True
        reasons[clash_index] = [f"conflicts with line {o}: same session ({k}) with different values; fix or "
                                "remove one" for o, k in zip(others, label)]
        values[clash_index] = label.to_numpy()
    if len(id_clash):
        ids = parsed.loc[id_clash, "session_id"]
        groups = pd.Series(lines[id_clash], index=id_clash).groupby(ids).agg(list)
        own = id_clash.difference(clash_index)  # a row already in conflict for its session keeps that reason
        rows = parsed.loc[own]
        own_lines, own_ids, label = lines[own], rows["session_id"], _labels(rows)
        others = [", ".join(str(n) for n in groups[i] if n != line) for i, line in zip(own_ids, own_lines)]
        tables.append(pd.DataFrame({"line": own_lines, "key": ("session_id " + own_ids).to_numpy(),
                                    "other_lines": others}))
        mask[own] = True
        reasons[own] = [f"conflicts with line {o}: session_id {i} is given to another session there, but here to "
                        f"{k}; a session_id names one session: fix or remove one"
                        for o, i, k in zip(others, own_ids, label)]
        values[own] = own_ids.to_numpy()
    report.reject("(row)", mask, reasons, Rejection.CONFLICT, values=values)
    conflicts = pd.concat([t for t in tables if len(t)], ignore_index=True)
    return duplicates, conflicts.sort_values("line", kind="stable").reset_index(drop=True)


def _pair_repeats(a: np.ndarray, b: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """True on the given rows whose (a, b) pair another of those rows has too (duplicated(keep=False) of the pairs
    among those rows); the pair is packed into one integer so one hash pass of one column does it."""
    found = np.zeros(len(a), dtype=bool)
    positions = np.flatnonzero(rows)
    if len(positions) < 2:
        return found
    first, second = a[positions], b[positions]
    second = second - second.min()
    first = first - first.min()
    span = int(second.max()) + 1
    if (int(first.max()) + 1) * span < 2**62:
        pairs = pd.Series(first * span + second)
        found[positions] = pairs.duplicated(keep=False).to_numpy()
    else:  # too wide to pack: the pairs themselves
        found[positions] = pd.DataFrame({"a": first, "b": second}).duplicated(keep=False).to_numpy()
    return found


def _session_id_clashes(parsed: pd.DataFrame, keys: pd.DataFrame, live: np.ndarray) -> pd.Index:
    """The live rows whose session_id other live rows give to a different session (patient + date)."""
    ids = parsed["session_id"]
    positions = np.flatnonzero(live & ids.notna().to_numpy())
    if len(positions) < 2:
        return pd.Index([], dtype="int64")
    text = arrow_of(ids)
    rows = positions[repeated_values(text if len(positions) == len(ids) else text.take(pa.array(positions)))]
    if not len(rows):
        return pd.Index([], dtype="int64")
    repeated = keys.iloc[rows][["a", "b"]].assign(session_id=ids.iloc[rows].to_numpy())
    grouped = repeated.groupby("session_id", sort=False)
    spread = (grouped["a"].transform("nunique") > 1) | (grouped["b"].transform("nunique") > 1)
    return repeated.index[spread.to_numpy()]


def _labels(rows: pd.DataFrame) -> pd.Series:
    """The session in words, for messages: 'patient P1 on 2025-01-06'."""
    return "patient " + rows["patient_id"] + " on " + rows["session_date"].dt.strftime("%Y-%m-%d")
