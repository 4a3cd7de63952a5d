"""Results the store keeps ready for the app: the first page of the default view (analytics/first_page.py),
written by every import, undo and erasure in the same transaction as the change, for the store's state after it.

Table `page_results`: one row per result, (version, name, key, meta, frame):
  version  store.data_version of the state the result was computed on and first_page.code_version of the program
           that computed it: a reader takes a row only when both equal its own, so a stale result is never used
           (one left by a write that skipped the refresh, or computed under another definition of a metric);
  name     the result's name ("kpis", "pchart", ...); key: its cache key as JSON (first_page.cache_key);
  meta     JSON: what the value is (a table, a table and a number, a plain value) and the table's attrs, with
           dates and numpy numbers tagged so they come back as they went in;
  frame    the table as Arrow IPC (dtypes kept through pyarrow's pandas metadata); NULL for a plain value.
No pickle: a value read back is data, never code. A refresh deletes every row first, so an erasure leaves no row of
the erased patient in the flags table (and the compaction that follows rewrites the file without it).
Pure functions on an open DuckDB connection; no Streamlit.
"""
from __future__ import annotations

import json
from datetime import date, datetime

import numpy as np
import pandas as pd
import pyarrow as pa

TABLE = "page_results"
DDL = (f"CREATE TABLE IF NOT EXISTS {TABLE} (version VARCHAR NOT NULL, name VARCHAR NOT NULL, key VARCHAR NOT NULL, "
       "meta VARCHAR NOT NULL, frame BLOB)")

MISSING = object()  # what `read` gives when the store holds no such result for its current state


def key_text(key: tuple) -> str:
    """A cache key (nested tuples of text, numbers and None) as stable JSON text."""
    return json.dumps(key, separators=(",", ":"))


# ---- values to and from JSON ----------------------------------------------------------------------------------
def _tagged(value):
    """A JSON-ready copy of an attrs value; dates, times, numpy scalars, NaN and NA tagged to come back alike."""
    if isinstance(value, dict):
        return {"dict": [[_tagged(k), _tagged(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return {"list" if isinstance(value, list) else "tuple": [_tagged(v) for v in value]}
    if isinstance(value, pd.Timestamp):
        return {"timestamp": value.isoformat(), "unit": value.unit}
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if value is pd.NA:
        return {"na": True}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, np.bool_):
        return {"np_bool": bool(value)}
    if isinstance(value, np.integer):
        return {"np_int": int(value), "dtype": str(value.dtype)}
    if isinstance(value, np.floating):
        return {"np_float": repr(float(value)), "dtype": str(value.dtype)}
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return {"float": repr(value)}  # NaN and infinities too
    raise TypeError(f"a {type(value).__name__} cannot be kept in the store's results")


def _untagged(value):
    if not isinstance(value, dict):
        return value
    if "dict" in value:
        return {_untagged(k): _untagged(v) for k, v in value["dict"]}
    if "list" in value:
        return [_untagged(v) for v in value["list"]]
    if "tuple" in value:
        return tuple(_untagged(v) for v in value["tuple"])
    if "timestamp" in value:
        return pd.Timestamp(value["timestamp"]).as_unit(value["unit"])
    if "datetime" in value:
        return datetime.fromisoformat(value["datetime"])
    if "date" in value:
        return date.fromisoformat(value["date"])
    if "na" in value:
        return pd.NA
    if "np_bool" in value:
        return np.bool_(value["np_bool"])
    if "np_int" in value:
        return np.dtype(value["dtype"]).type(value["np_int"])
    if "np_float" in value:
        return np.dtype(value["dtype"]).type(float(value["np_float"]))
    if "float" in value:
        return float(value["float"])
    raise ValueError(f"unknown tag in a stored result: {sorted(value)}")


def _frame_bytes(frame: pd.DataFrame) -> bytes:
    bare = frame.copy(deep=False)
    bare.attrs = {}  # kept in meta, tagged (pyarrow would try JSON and drop them with a warning)
    table = pa.Table.from_pandas(bare, preserve_index=True)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def _frame_of(data: bytes, attrs: dict) -> pd.DataFrame:
    frame = pa.ipc.open_stream(pa.py_buffer(data)).read_all().to_pandas()
    frame.attrs = attrs
    return frame


def encode(value) -> tuple[str, bytes | None]:
    """(meta, frame) of a result: a DataFrame, a (DataFrame, value) pair, or a plain value (text, number, None)."""
    if isinstance(value, pd.DataFrame):
        return json.dumps({"kind": "frame", "attrs": _tagged(value.attrs)}), _frame_bytes(value)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], pd.DataFrame):
        frame, other = value
        return (json.dumps({"kind": "frame_and", "attrs": _tagged(frame.attrs), "value": _tagged(other)}),
                _frame_bytes(frame))
    return json.dumps({"kind": "value", "value": _tagged(value)}), None


def decode(meta: str, frame: bytes | None):
    """The value `encode` was given."""
    info = json.loads(meta)
    if info["kind"] == "frame":
        return _frame_of(frame, _untagged(info["attrs"]))
    if info["kind"] == "frame_and":
        return _frame_of(frame, _untagged(info["attrs"])), _untagged(info["value"])
    return _untagged(info["value"])


# ---- the table -------------------------------------------------------------------------------------------------
def exists(con) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                            [TABLE]).fetchone()[0])


def replace_all(con, version: str, results: dict[tuple, object]) -> None:
    """Put `results` (cache key -> value) in place of every stored result, for the store state `version` (in the
    caller's transaction)."""
    con.execute(DDL)
    con.execute(f"DELETE FROM {TABLE}")
    rows = []
    for key, value in results.items():
        meta, frame = encode(value)
        rows.append([version, key[0], key_text(key), meta, frame])
    if rows:
        con.executemany(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?)", rows)


def rekey(con, old: str, new: str) -> bool:
    """Keep every stored result, written for the store state `old`, for the state `new` instead (in the caller's
    transaction); False, changing nothing, unless every stored result was for `old`."""
    if not exists(con):
        return False
    total, matching = con.execute(f"SELECT count(*), count(*) FILTER (WHERE version = ?) FROM {TABLE}",
                                  [old]).fetchone()
    if not total or total != matching:
        return False
    con.execute(f"UPDATE {TABLE} SET version = ? WHERE version = ?", [new, old])
    return True


def clear(con) -> None:
    """Drop every stored result (a write that does not compute them again)."""
    if exists(con):
        con.execute(f"DELETE FROM {TABLE}")


def read(con, version: str, key: tuple):
    """The stored value of `key` for the store state `version`; MISSING when there is none."""
    if not exists(con):
        return MISSING
    row = con.execute(f"SELECT meta, frame FROM {TABLE} WHERE version = ? AND name = ? AND key = ?",
                      [version, key[0], key_text(key)]).fetchone()
    return MISSING if row is None else decode(row[0], row[1])


def keys(con, version: str) -> frozenset[str]:
    """The keys (key_text) of every value stored for the store state `version`: what a reader can find, listed
    once instead of looked for one by one."""
    if not exists(con):
        return frozenset()
    return frozenset(row[0] for row in con.execute(f"SELECT key FROM {TABLE} WHERE version = ?", [version]).fetchall())
