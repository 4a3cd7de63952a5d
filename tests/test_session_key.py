"""The session-key rule (patient + date; session_id plays no part): its pandas form (the ingestion) and its SQL form
(the store) group rows alike."""
import duckdb
import numpy as np
import pandas as pd

from analytics.session_key import SEPARATOR, session_key_sql, session_keys

# session_id present / absent / mixed, one patient on two dates, codes with leading zeros, a session_id that
# looks like a patient code, blank patient or date without a session_id, dates before 1970.
EDGE_CASES = pd.DataFrame({
    "session_id": ["S1", "S1", None, None, None, None, None, "007", None, None, None, None, "P1", None],
    "patient_id": ["P1", "P2", "P1", "P1", "P1", "007", "7", "P9", "07", None, "P3", "P1", "P5", "P5"],
    "session_date": ["2025-01-06", "2025-02-01", "2025-01-06", "2025-01-06", "2025-03-01", "2025-01-06",
                     "2025-01-06", "2025-01-06", "2025-01-06", "2025-01-06", None, "1969-12-30",
                     "1969-12-30", "1969-12-30"],
})
EDGE_CASES["session_id"] = EDGE_CASES["session_id"].astype("str")
EDGE_CASES["patient_id"] = EDGE_CASES["patient_id"].astype("str")
EDGE_CASES["session_date"] = pd.to_datetime(EDGE_CASES["session_date"]).astype("datetime64[s]")


def key(patient: str, day: str) -> str:
    return f"{SEPARATOR}{patient}{SEPARATOR}{day}"


SQL_KEYS = [
    key("P1", "2025-01-06"), key("P2", "2025-02-01"), key("P1", "2025-01-06"), key("P1", "2025-01-06"),
    key("P1", "2025-03-01"), key("007", "2025-01-06"), key("7", "2025-01-06"), key("P9", "2025-01-06"),
    key("07", "2025-01-06"), None, None, key("P1", "1969-12-30"), key("P5", "1969-12-30"), key("P5", "1969-12-30"),
]


def sql_keys(frame: pd.DataFrame) -> list:
    con = duckdb.connect()
    con.register("rows", frame.assign(position=range(len(frame))))
    keys = [r[0] for r in con.execute(f"SELECT {session_key_sql()} FROM rows ORDER BY position").fetchall()]
    con.close()
    return keys


def groups(labels) -> list[int]:
    """Each row's group as the position of the first row with the same label (None: -1, no group)."""
    first = {}
    return [-1 if label is None else first.setdefault(label, i) for i, label in enumerate(labels)]


def test_sql_form_gives_the_stated_keys():
    assert sql_keys(EDGE_CASES) == SQL_KEYS


def test_pandas_and_sql_forms_group_rows_alike():
    keys = session_keys(EDGE_CASES)
    pairs = [(int(a), int(b)) if usable else None for a, b, usable in zip(keys.a, keys.b, keys.usable)]
    assert groups(pairs) == groups(sql_keys(EDGE_CASES))
    # with or without a session_id, one patient on one day is one session; the same session_id on another
    # patient is another session (a conflict for duplicates.py); 007, 7 and 07 are three patients
    assert groups(pairs) == [0, 1, 0, 0, 4, 5, 6, 7, 8, -1, -1, 11, 12, 12]
    assert keys.usable.tolist() == [True] * 9 + [False, False] + [True] * 3


def test_given_patient_codes_are_used_as_is():
    codes = pd.factorize(EDGE_CASES["patient_id"])[0].astype(np.int64)
    given, worked_out = session_keys(EDGE_CASES, codes), session_keys(EDGE_CASES)
    assert given.a.tolist() == worked_out.a.tolist() and given.b.tolist() == worked_out.b.tolist()


def test_store_uses_the_same_rule():
    from analytics.store import SESSIONS, _key_expr
    assert _key_expr(SESSIONS) == session_key_sql()
