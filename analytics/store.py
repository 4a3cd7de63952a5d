"""The clinic's outcome store: an embedded DuckDB file that keeps every accepted session across imports.

Why: a clinic uploads a new export every month and expects last month's data to still be there, nothing
counted twice, a bad file to change nothing, and any import to be undoable. Pure functions, no Streamlit;
every function takes the database path (default: `default_db_path()`, i.e. the OUTCOMES_DB environment variable,
else data/outcomes.duckdb in the project).

Tables
  sessions             the canonical session columns (schema.SESSION_DTYPES, in SQL types), `extras`
                       MAP(VARCHAR, VARCHAR) holding the file's other columns (blank values left out, so they
                       read back as missing; NULL when none), `session_key`, `row_hash` (DuckDB hash of the canonical columns and extras),
                       `batch_id` (the import that last wrote the row) and `line` (its line in that file).
  assessments          the same for repeated assessments (ASSESSMENT_DTYPES), keyed by `assessment_key`.
  sessions_history,    the previous version of every row an import replaced: `replaced_by` (that import's
  assessments_history  batch_id) and the whole old row, its own batch_id included. Undo puts these rows back.
  import_log           one row per import that changed something: batch_id, kind, file_name, file_hash (SHA-256
                       of the file's bytes), imported_at (local time), mapping (JSON: file header -> field),
                       extra_columns (JSON), date_order, counts (rows, accepted, rejected, new, updated,
                       unchanged), status ('active' / 'undone') and undone_at.
  meta                 schema_version and the hash probe (below).

Keys: a session is its session_id when the file gives one, else its patient_id and session_date (the rule of
analytics/session_key.py, which the ingestion also uses for duplicates and conflicts). An assessment is its
patient, its injection (session_id, else session_date), its days_after and, when a file holds several scores for the same day, its place among them.
A file that starts giving session_id for sessions stored earlier without one makes new keys: keep the columns
the same from one export to the next.

Imports (`import_result`) are upserts in one transaction: a new key is added; a key whose row differs from the
stored one (content hash) is updated, and the stored version is kept in the history table; an identical row is
left alone (its batch_id stays). Rows are never deleted by an import: a monthly export may hold only the
new month. An import that would change nothing writes nothing at all and says so (re-importing the same file).
Any error before the commit rolls everything back: the store is exactly as before.

Undo (`undo`) removes the rows a batch added and restores the rows it replaced. An older batch whose rows a later
import has since replaced cannot be undone first: that is refused with a message naming the later batches,
which must be undone before it (newest first). Undoing a batch is final (there is no redo: import the file again).

Concurrency: DuckDB allows one writing process at a time, so every write holds an exclusive `flock` on
`<db>.lock` and every read a shared one; a caller waits up to `lock_timeout` seconds (OUTCOMES_DB_LOCK_TIMEOUT,
default 120) and then gets `StoreBusy` with a plain message. Two imports started together therefore run one
after the other, and the second sees what the first wrote: no session is ever stored twice.

Identifying values: only an IngestResult that was not refused is imported, i.e. one whose identifier columns
were dropped or whose patient codes were pseudonymised by the ingestion; the store never sees the original file.

DuckDB's hash() is only promised stable within one version, so meta keeps the hash of a fixed probe row; when
a new DuckDB version hashes it differently, the stored row hashes are recomputed in the next import.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from .ingest import IngestResult
from .schema import SESSION_DTYPES
from .session_key import SEPARATOR, session_key_sql

DB_ENV = "OUTCOMES_DB"
LOCK_TIMEOUT_ENV = "OUTCOMES_DB_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 120.0
DEFAULT_DB = Path(__file__).resolve().parent.parent / "data" / "outcomes.duckdb"
SCHEMA_VERSION = 1

# Canonical dtypes of an accepted assessments table (what `load_assessments` gives; `week` becomes days_after).
ASSESSMENT_DTYPES = {
    "patient_id": "str",
    "session_id": "str",
    "session_date": "datetime64[s]",
    "days_after": "Float64",
    "assessment_date": "datetime64[s]",
    "pain": "Float64",
    "twstrs": "Float64",
    "pgic": "Int64",
}

_SQL_TYPES = {"str": "VARCHAR", "datetime64[s]": "DATE", "float64": "DOUBLE", "Float64": "DOUBLE",
              "Int64": "BIGINT"}
_META_COLUMNS = ("batch_id", "line")


class StoreError(Exception):
    """The store refused an operation; the message says why in plain words."""


class StoreBusy(StoreError):
    """Another process held the store for longer than the lock timeout."""


# ---- paths, hashes and locks -----------------------------------------------------------------------------
def default_db_path() -> Path:
    """The store's path: the OUTCOMES_DB environment variable, else data/outcomes.duckdb in the project."""
    value = os.environ.get(DB_ENV, "").strip()
    return Path(value) if value else DEFAULT_DB


def _path(db_path: str | Path | None) -> Path:
    return Path(db_path) if db_path not in (None, "") else default_db_path()


def _lock_timeout(timeout: float | None) -> float:
    if timeout is not None:
        return float(timeout)
    try:
        return float(os.environ.get(LOCK_TIMEOUT_ENV, "") or DEFAULT_LOCK_TIMEOUT)
    except ValueError:
        return DEFAULT_LOCK_TIMEOUT


def file_hash(source: str | Path | bytes | BinaryIO) -> str:
    """SHA-256 (hex) of a file's bytes: a path, bytes, or a file object (read from its start, then rewound)."""
    digest = hashlib.sha256()
    if isinstance(source, (bytes, bytearray, memoryview)):
        digest.update(source)
    elif isinstance(source, (str, Path)):
        with open(source, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 22), b""):
                digest.update(chunk)
    else:
        position = source.tell() if hasattr(source, "tell") else None
        if hasattr(source, "seek"):
            source.seek(0)
        digest.update(source.read())
        if position is not None:
            source.seek(position)
    return digest.hexdigest()


@contextmanager
def store_lock(db_path: str | Path | None = None, exclusive: bool = True,
               timeout: float | None = None) -> Iterator[None]:
    """Hold `<db>.lock`: exclusive for writes, shared for reads; StoreBusy after `timeout` seconds of waiting.

    flock locks belong to the open file, so two threads of one process exclude each other too.
    """
    path = _path(db_path)
    wait = _lock_timeout(timeout)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, mode)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise StoreBusy(
                        f"The outcome store {path} is busy: another import or undo has held it for more than "
                        f"{wait:g} seconds. Nothing was changed; try again when it has finished (the wait is "
                        f"set by {LOCK_TIMEOUT_ENV}).") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the file releases the lock


# ---- the two kinds of table ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Kind:
    name: str  # sessions / assessments
    dtypes: dict
    key: str  # key column

    @property
    def history(self) -> str:
        return f"{self.name}_history"

    @property
    def columns(self) -> list[str]:
        return list(self.dtypes)

    def sql_type(self, column: str) -> str:
        return _SQL_TYPES[self.dtypes[column]]


SESSIONS = _Kind("sessions", dict(SESSION_DTYPES), "session_key")
ASSESSMENTS = _Kind("assessments", dict(ASSESSMENT_DTYPES), "assessment_key")
KINDS = {"sessions": SESSIONS, "assessments": ASSESSMENTS}


def _q(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _table_ddl(kind: _Kind, name: str, prefix: str = "") -> str:
    columns = [f"{kind.key} VARCHAR NOT NULL"]
    columns += [f"{_q(c)} {kind.sql_type(c)}" for c in kind.columns]
    columns += ["extras MAP(VARCHAR, VARCHAR)", "row_hash UBIGINT NOT NULL", "batch_id INTEGER NOT NULL",
                "line BIGINT"]
    return f"CREATE TABLE IF NOT EXISTS {name} ({prefix}{', '.join(columns)})"


def _stored_columns(kind: _Kind) -> list[str]:
    """The columns of the kind's table, in order."""
    return [kind.key, *kind.columns, "extras", "row_hash", "batch_id", "line"]


_LOG_DDL = """CREATE TABLE IF NOT EXISTS import_log (
    batch_id INTEGER NOT NULL, kind VARCHAR NOT NULL, file_name VARCHAR, file_hash VARCHAR,
    imported_at TIMESTAMP NOT NULL, mapping VARCHAR, extra_columns VARCHAR, date_order VARCHAR,
    rows BIGINT, accepted BIGINT, rejected BIGINT, new BIGINT, updated BIGINT, unchanged BIGINT,
    status VARCHAR NOT NULL, undone_at TIMESTAMP)"""
LOG_COLUMNS = ["batch_id", "kind", "file_name", "file_hash", "imported_at", "mapping", "extra_columns",
               "date_order", "rows", "accepted", "rejected", "new", "updated", "unchanged", "status", "undone_at"]


def _create_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("CREATE TABLE IF NOT EXISTS meta (name VARCHAR PRIMARY KEY, value VARCHAR)")
    version = con.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    if version is None:
        con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
    elif int(version[0]) != SCHEMA_VERSION:
        raise StoreError(f"The store was written by another version of this program (schema {version[0]}, "
                         f"this one reads {SCHEMA_VERSION}).")
    con.execute(_LOG_DDL)
    for kind in KINDS.values():
        con.execute(_table_ddl(kind, kind.name))
        con.execute(_table_ddl(kind, kind.history, prefix="replaced_by INTEGER NOT NULL, "))


@contextmanager
def _writer(db_path, timeout) -> Iterator[duckdb.DuckDBPyConnection]:
    """An exclusive, read-write connection inside the write lock; the schema exists."""
    path = _path(db_path)
    with store_lock(path, exclusive=True, timeout=timeout):
        con = duckdb.connect(str(path))
        try:
            # rows land in the file as they are written (no re-sorting at checkpoint); reads use ORDER BY
            con.execute("SET preserve_insertion_order = false")
            con.execute("BEGIN TRANSACTION")
            try:
                _create_schema(con)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            yield con
        finally:
            con.close()


@contextmanager
def _reader(db_path, timeout) -> Iterator[duckdb.DuckDBPyConnection | None]:
    """A read-only connection inside the shared lock, or None when there is no store yet."""
    path = _path(db_path)
    if not path.exists():
        yield None
        return
    with store_lock(path, exclusive=False, timeout=timeout):
        con = duckdb.connect(str(path), read_only=True)
        try:
            tables = {r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'").fetchall()}
            yield con if {"import_log", "sessions", "assessments"} <= tables else None
        finally:
            con.close()


# ---- SQL pieces --------------------------------------------------------------------------------------------
def _typed(kind: _Kind, column: str) -> str:
    return f"CAST({_q(column)} AS {kind.sql_type(column)})"


def _extras_expr(extra: list[tuple[str, str]]) -> str:
    """MAP of (name, value) for the non-blank extra cells, NULL when every one is blank. extra: (name, source col)."""
    if not extra:
        return "CAST(NULL AS MAP(VARCHAR, VARCHAR))"
    entries = ", ".join(f"{{'k': {_lit(name)}, 'v': CAST({_q(src)} AS VARCHAR)}}" for name, src in extra)
    none = " AND ".join(f"coalesce(trim(CAST({_q(src)} AS VARCHAR)), '') = ''" for _, src in extra)
    return (f"CASE WHEN {none} THEN CAST(NULL AS MAP(VARCHAR, VARCHAR)) ELSE "
            f"map_from_entries(list_filter([{entries}], lambda x: coalesce(trim(x.v), '') <> '')) END")


def _hash_expr(kind: _Kind, extras: str) -> str:
    return f"hash({', '.join(_typed(kind, c) for c in kind.columns)}, {extras})"


def _key_expr(kind: _Kind) -> str:
    """The key of a row, from typed columns of the incoming rows (see the module docstring)."""
    if kind is SESSIONS:
        return session_key_sql()
    sep = _lit(SEPARATOR)
    ref = ("coalesce('S' || session_id, 'D' || strftime(CAST(session_date AS DATE), '%Y-%m-%d'), '')")
    base = f"patient_id || {sep} || {ref} || {sep} || CAST(CAST(days_after AS DOUBLE) AS VARCHAR)"
    return (f"'A' || {sep} || {base} || {sep} || CAST(row_number() OVER "
            f"(PARTITION BY patient_id, {ref}, CAST(days_after AS DOUBLE) ORDER BY line) AS VARCHAR)")


def _probe_hash(con: duckdb.DuckDBPyConnection) -> str:
    value = con.execute("SELECT hash(1::BIGINT, 'probe', 2.5::DOUBLE, DATE '2025-01-02', "
                        "CAST(NULL AS MAP(VARCHAR, VARCHAR)), MAP {'a': 'b'})").fetchone()[0]
    return str(value)


def _refresh_hashes(con: duckdb.DuckDBPyConnection) -> None:
    """Recompute every stored row hash when this DuckDB hashes the probe differently from the one that wrote them."""
    probe = _probe_hash(con)
    stored = con.execute("SELECT value FROM meta WHERE name = 'hash_probe'").fetchone()
    if stored is not None and stored[0] == probe:
        return
    if stored is not None:
        for kind in KINDS.values():
            expr = _hash_expr(kind, "extras")
            con.execute(f"UPDATE {kind.name} SET row_hash = {expr}")
            con.execute(f"UPDATE {kind.history} SET row_hash = {expr}")
    con.execute("INSERT OR REPLACE INTO meta VALUES ('hash_probe', ?)", [probe])


# ---- import ------------------------------------------------------------------------------------------------
@dataclass
class ImportReport:
    """What an import did: the counts, and the batch it wrote (None when it changed nothing)."""

    kind: str
    file_name: str
    file_hash: str
    db_path: str
    batch_id: int | None
    rows: int
    accepted: int
    rejected: int
    new: int
    updated: int
    unchanged: int
    earlier_batches: list[int] = field(default_factory=list)  # active batches of the same file

    @property
    def changed(self) -> bool:
        return bool(self.new or self.updated)

    def message(self) -> str:
        """The outcome in plain words."""
        noun = "session" if self.kind == "sessions" else "assessment"
        if not self.changed:
            text = (f"Nothing changed: all {self.accepted:,} accepted {noun}s of {self.file_name} are already in "
                    f"the store, identical. No import was recorded.")
            if not self.accepted:
                text = f"Nothing changed: {self.file_name} has no accepted {noun}s. No import was recorded."
            if self.earlier_batches:
                text += " (This file was imported before as batch " + ", ".join(
                    str(b) for b in self.earlier_batches) + ".)"
            return text
        text = (f"Imported {self.file_name} as batch {self.batch_id}: {self.new:,} new, {self.updated:,} updated, "
                f"{self.unchanged:,} unchanged {noun}s; {self.rejected:,} rejected row(s) not imported.")
        if self.earlier_batches:
            text += " (The same file was imported before as batch " + ", ".join(
                str(b) for b in self.earlier_batches) + ".)"
        return text

    def to_dict(self) -> dict:
        out = asdict(self)
        out["changed"] = self.changed
        out["message"] = self.message()
        return out


def _incoming_table(result: IngestResult, kind: _Kind) -> tuple[pa.Table, list[tuple[str, str]]]:
    """The accepted rows as an Arrow table with the canonical columns, `line`, and extras renamed x0, x1, ..."""
    data = result.data
    extra_names = [c for c in data.columns if c not in kind.dtypes and c != "line"]
    arrays, names = [], []
    n = len(data)
    for column in kind.columns:
        if column in data.columns:
            arrays.append(data[column])
        else:
            arrays.append(pd.Series(pd.NA, index=data.index, dtype=kind.dtypes[column]))
        names.append(column)
    line = data["line"] if "line" in data.columns else pd.Series(np.arange(2, n + 2), index=data.index)
    arrays.append(line.astype("int64"))
    names.append("line")
    extra = []
    for i, name in enumerate(extra_names):
        arrays.append(data[name].astype("str"))
        names.append(f"x{i}")
        extra.append((str(name), f"x{i}"))
    frame = pd.DataFrame(dict(zip(names, arrays)), copy=False)
    return pa.Table.from_pandas(frame, preserve_index=False), extra


def _stage(con: duckdb.DuckDBPyConnection, kind: _Kind, table: pa.Table, extra: list[tuple[str, str]]) -> dict:
    """Make the temp relation `incoming` (typed rows, key, hash, status new/updated/unchanged); return the counts.

    On an empty table every row is new and `incoming` is a view over the Arrow data (no copy); otherwise the
    rows are compared with the stored ones by key and content hash in one join.
    """
    con.register("incoming_arrow", table)
    extras = _extras_expr(extra)
    typed = ", ".join(f"{_typed(kind, c)} AS {_q(c)}" for c in kind.columns)
    rows = (f"SELECT {_key_expr(kind)} AS {kind.key}, {typed}, {extras} AS extras, "
            f"{_hash_expr(kind, extras)} AS row_hash, line FROM incoming_arrow")
    empty = con.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {kind.name})").fetchone()[0]
    if empty:
        # every row is new: the rows go straight from Arrow to the table (_insert_rows); keys checked after
        con.execute(f"CREATE OR REPLACE TEMP VIEW incoming AS SELECT *, 'new' AS status FROM ({rows})")
        counts = {"new": table.num_rows, "updated": 0, "unchanged": 0}
        repeated = 0
    else:
        con.execute(f"""CREATE OR REPLACE TEMP TABLE incoming AS
            SELECT i.*, CASE WHEN s.{kind.key} IS NULL THEN 'new' WHEN s.row_hash = i.row_hash THEN 'unchanged'
                             ELSE 'updated' END AS status
            FROM ({rows}) i LEFT JOIN {kind.name} s ON s.{kind.key} = i.{kind.key}""")
        repeated = con.execute(f"SELECT count(*) - count(DISTINCT {kind.key}) FROM incoming").fetchone()[0]
        found = dict(con.execute("SELECT status, count(*) FROM incoming GROUP BY status").fetchall())
        counts = {s: int(found.get(s, 0)) for s in ("new", "updated", "unchanged")}
    if repeated:
        _repeated_keys(repeated)
    return counts


def _repeated_keys(repeated: int):
    raise StoreError(f"{repeated} accepted row(s) repeat the key of another row of the same file (two rows for "
                     "one session); nothing was imported. Validate the file: such rows are conflicts.")


def _log_batch(con, batch_id: int, kind: _Kind, result: IngestResult, file_hash_: str, file_name: str,
               mapping: dict | None, counts: dict) -> None:
    used = dict(result.column_map)
    used.update(mapping or {})
    extra = [c for c in result.data.columns if c not in kind.dtypes and c != "line"]
    con.execute(
        "INSERT INTO import_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', NULL)",
        [batch_id, kind.name, file_name, file_hash_, datetime.now().replace(microsecond=0),
         json.dumps(used, ensure_ascii=False), json.dumps([str(c) for c in extra], ensure_ascii=False),
         result.date_order, int(result.n_rows), int(result.n_accepted), int(result.n_rejected_rows),
         counts["new"], counts["updated"], counts["unchanged"]])


def _save_replaced(con, kind: _Kind, batch_id: int) -> None:
    """Keep the stored version of every row this import updates (undo puts it back)."""
    columns = ", ".join(f"s.{_q(c)}" for c in _stored_columns(kind))
    con.execute(f"INSERT INTO {kind.history} SELECT {batch_id}, {columns} FROM {kind.name} s "
                f"JOIN incoming i ON i.{kind.key} = s.{kind.key} WHERE i.status = 'updated'")


def _remove_replaced(con, kind: _Kind) -> None:
    con.execute(f"DELETE FROM {kind.name} WHERE {kind.key} IN "
                f"(SELECT {kind.key} FROM incoming WHERE status = 'updated')")


def _insert_rows(con, kind: _Kind, batch_id: int) -> None:
    """Write the new and updated rows, stamped with this batch; on a store that was empty, check the keys."""
    columns = ", ".join(_q(c) if c != "batch_id" else f"{batch_id}" for c in _stored_columns(kind))
    con.execute(f"INSERT INTO {kind.name} SELECT {columns} FROM incoming WHERE status <> 'unchanged'")
    if con.execute(f"SELECT min(batch_id) = {batch_id} FROM {kind.name}").fetchone()[0]:
        repeated = con.execute(f"SELECT count(*) - count(DISTINCT {kind.key}) FROM {kind.name}").fetchone()[0]
        if repeated:
            _repeated_keys(repeated)  # rolled back by the caller


def import_result(result: IngestResult, file_bytes_hash: str, file_name: str, mapping: dict | None = None,
                  db_path: str | Path | None = None, *, lock_timeout: float | None = None) -> ImportReport:
    """Import the accepted rows of a checked file into the store, in one transaction.

    result: what load_sessions / load_assessments returned (refused results are refused here too).
    file_bytes_hash: `file_hash(file)`, the SHA-256 of the file's bytes; file_name: its display name;
    mapping: the manual mapping the user chose (stored with the automatic one in import_log).
    Returns the counts; when nothing would change nothing is written and report.batch_id is None.
    Raises StoreError (refused file, repeated keys) and StoreBusy (lock timeout); the store is then unchanged.
    """
    if result.refused:
        raise StoreError("This file was refused, so nothing was imported: "
                         + " ".join(result.file_errors))
    if result.kind not in KINDS:
        raise StoreError(f"Unknown kind of file: {result.kind!r}.")
    kind = KINDS[result.kind]
    missing = {"patient_id"} - set(result.data.columns)
    if result.n_accepted and missing:
        raise StoreError("The accepted rows have no patient_id column; nothing was imported.")
    table, extra = _incoming_table(result, kind)
    path = _path(db_path)
    if table.num_rows == 0:  # nothing to write: do not even create the store
        earlier = []
        if path.exists():
            log = history(path, lock_timeout=lock_timeout)
            earlier = sorted(int(b) for b in log.loc[(log["file_hash"] == file_bytes_hash)
                                                      & (log["kind"] == kind.name)
                                                      & (log["status"] == "active"), "batch_id"])
        return ImportReport(kind.name, file_name, file_bytes_hash, str(path), None, int(result.n_rows), 0,
                            int(result.n_rejected_rows), 0, 0, 0, earlier)
    with _writer(path, lock_timeout) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            _refresh_hashes(con)
            earlier = [int(r[0]) for r in con.execute(
                "SELECT batch_id FROM import_log WHERE file_hash = ? AND kind = ? AND status = 'active' "
                "ORDER BY batch_id", [file_bytes_hash, kind.name]).fetchall()]
            counts = _stage(con, kind, table, extra)
            batch_id = None
            if counts["new"] or counts["updated"]:
                batch_id = int(con.execute("SELECT coalesce(max(batch_id), 0) + 1 FROM import_log").fetchone()[0])
                _log_batch(con, batch_id, kind, result, file_bytes_hash, file_name, mapping, counts)
                _save_replaced(con, kind, batch_id)
                _remove_replaced(con, kind)
                _insert_rows(con, kind, batch_id)
                con.execute("COMMIT")
            else:
                con.execute("ROLLBACK")  # nothing to write: leave the file exactly as it was
        except BaseException:
            con.execute("ROLLBACK")
            raise
        # the temporary `incoming` goes with the connection
    return ImportReport(kind.name, file_name, file_bytes_hash, str(path), batch_id, int(result.n_rows),
                        int(result.n_accepted), int(result.n_rejected_rows), counts["new"], counts["updated"],
                        counts["unchanged"], earlier)


# ---- undo --------------------------------------------------------------------------------------------------
@dataclass
class UndoReport:
    """What an undo did."""

    batch_id: int
    kind: str
    file_name: str
    removed: int  # rows the batch had added, now gone
    restored: int  # rows the batch had replaced, now back as they were

    def message(self) -> str:
        noun = "session" if self.kind == "sessions" else "assessment"
        return (f"Undid batch {self.batch_id} ({self.file_name}): removed {self.removed:,} {noun}(s) it added and "
                f"restored {self.restored:,} it had changed to their earlier values.")


def _blockers(con, kind: _Kind, batch_id: int) -> list[tuple[int, int]]:
    """(later batch, rows) for every import that replaced rows this batch wrote."""
    return [(int(b), int(n)) for b, n in con.execute(
        f"SELECT replaced_by, count(*) FROM {kind.history} WHERE batch_id = ? GROUP BY replaced_by "
        "ORDER BY replaced_by", [batch_id]).fetchall()]


def _parse_batch(batch_id) -> int:
    try:
        return int(str(batch_id).strip())
    except ValueError:
        raise StoreError(f"{batch_id!r} is not a batch number (see the import history).") from None


def undo(batch_id: int | str, db_path: str | Path | None = None, *,
         lock_timeout: float | None = None) -> UndoReport:
    """Undo one import: remove the rows it added and restore the rows it replaced, in one transaction.

    Refused (StoreError, nothing changed) when the batch does not exist, is already undone, or a later import
    has since replaced some of its rows (undo those first, newest first).
    """
    batch = _parse_batch(batch_id)
    path = _path(db_path)
    if not path.exists():
        raise StoreError(f"There is no outcome store at {path}, so there is no batch {batch} to undo.")
    with _writer(path, lock_timeout) as con:
        row = con.execute("SELECT kind, file_name, status, undone_at FROM import_log WHERE batch_id = ?",
                          [batch]).fetchone()
        if row is None:
            raise StoreError(f"There is no batch {batch} in the store (see the import history).")
        kind_name, file_name, status, undone_at = row
        if status != "active":
            raise StoreError(f"Batch {batch} ({file_name}) was already undone on {undone_at}.")
        kind = KINDS[kind_name]
        blockers = _blockers(con, kind, batch)
        if blockers:
            later = ", ".join(f"batch {b} ({n:,} row(s))" for b, n in blockers)
            newest = ", ".join(str(b) for b, _ in sorted(blockers, reverse=True))
            raise StoreError(
                f"Batch {batch} ({file_name}) cannot be undone yet: later import(s) changed rows it wrote: {later}. "
                f"Undoing it now would lose those changes. Undo batch(es) {newest} first (newest first), "
                f"then batch {batch}.")
        con.execute("BEGIN TRANSACTION")
        try:
            removed = con.execute(f"SELECT count(*) FROM {kind.name} WHERE batch_id = ?", [batch]).fetchone()[0]
            restored = con.execute(f"SELECT count(*) FROM {kind.history} WHERE replaced_by = ?",
                                   [batch]).fetchone()[0]
            con.execute(f"DELETE FROM {kind.name} WHERE batch_id = ?", [batch])
            columns = ", ".join(_q(c) for c in _stored_columns(kind))
            con.execute(f"INSERT INTO {kind.name} SELECT {columns} FROM {kind.history} WHERE replaced_by = ?",
                        [batch])
            con.execute(f"DELETE FROM {kind.history} WHERE replaced_by = ?", [batch])
            con.execute("UPDATE import_log SET status = 'undone', undone_at = ? WHERE batch_id = ?",
                        [datetime.now().replace(microsecond=0), batch])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return UndoReport(batch, kind.name, file_name, int(removed) - int(restored), int(restored))


# ---- reading -------------------------------------------------------------------------------------------------
def _empty_frame(kind: _Kind, meta: bool) -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=t) for c, t in kind.dtypes.items()})
    if meta:
        frame["batch_id"] = pd.Series(dtype="int64")
        frame["line"] = pd.Series(dtype="int64")
    return frame


def _to_frame(table: pa.Table, kind: _Kind) -> pd.DataFrame:
    """Arrow rows from the store -> pandas in exactly the ingestion's dtypes."""
    mapper = {pa.int64(): pd.Int64Dtype(), pa.float64(): pd.Float64Dtype()}.get
    frame = table.to_pandas(types_mapper=mapper)
    changes = {}
    for column, dtype in kind.dtypes.items():
        if str(frame[column].dtype) != dtype:
            changes[column] = dtype
    for column in ("batch_id", "line"):
        if column in frame.columns:
            changes[column] = "int64"
    return frame.astype(changes) if changes else frame


def _read(kind: _Kind, db_path, where: str = "", params: list | None = None, meta: bool = False,
          lock_timeout: float | None = None) -> pd.DataFrame:
    with _reader(db_path, lock_timeout) as con:
        if con is None:
            return _empty_frame(kind, meta)
        names = [r[0] for r in con.execute(
            f"SELECT DISTINCT unnest(map_keys(extras)) FROM {kind.name} {where}", params or []).fetchall()]
        order = [json.loads(r[0]) for r in con.execute(
            "SELECT extra_columns FROM import_log WHERE kind = ? ORDER BY batch_id", [kind.name]).fetchall()]
        first_seen = {}
        for names_in_batch in order:
            for name in names_in_batch:
                first_seen.setdefault(name, len(first_seen))
        names.sort(key=lambda n: (first_seen.get(n, len(first_seen)), n))
        select = []
        for column in kind.columns:
            if kind.dtypes[column] == "datetime64[s]":
                select.append(f"CAST({_q(column)} AS TIMESTAMP_S) AS {_q(column)}")
            else:
                select.append(_q(column))
        select += [f"extras[{_lit(name)}] AS {_q(name)}" for name in names
                   if name not in kind.dtypes]
        if meta:
            select += ["batch_id", "line"]
        table = con.sql(f"SELECT {', '.join(select)} FROM {kind.name} {where} ORDER BY batch_id, line",
                        params=params or None).to_arrow_table()
    frame = _to_frame(table, kind)
    for name in names:
        if name in frame.columns and name not in kind.dtypes:
            frame[name] = frame[name].astype("str")
    return frame


def read_sessions(db_path: str | Path | None = None, *, start: date | str | None = None,
                  end: date | str | None = None, meta: bool = False,
                  lock_timeout: float | None = None) -> pd.DataFrame:
    """The stored sessions in the dtypes load_sessions gives (SESSION_DTYPES), extra columns after them (str).

    start / end: keep sessions dated within [start, end]. meta=True adds batch_id and line (the file line
    of the import that last wrote each row). Rows come in import order: by batch, then by line in the file,
    so a store holding one file gives that file's accepted rows in the file's order. No store: no rows.
    """
    conditions, params = [], []
    if start is not None:
        conditions.append("session_date >= CAST(? AS DATE)")
        params.append(str(pd.Timestamp(start).date()))
    if end is not None:
        conditions.append("session_date <= CAST(? AS DATE)")
        params.append(str(pd.Timestamp(end).date()))
    where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
    return _read(SESSIONS, db_path, where, params, meta, lock_timeout)


def read_assessments(db_path: str | Path | None = None, *, meta: bool = False,
                     lock_timeout: float | None = None) -> pd.DataFrame:
    """The stored repeated assessments in the dtypes load_assessments gives (ASSESSMENT_DTYPES), extras after."""
    return _read(ASSESSMENTS, db_path, meta=meta, lock_timeout=lock_timeout)


def history(db_path: str | Path | None = None, *, lock_timeout: float | None = None) -> pd.DataFrame:
    """The import log, newest first, with `can_undo` and `blocked_by` (later batches to undo first)."""
    columns = LOG_COLUMNS + ["can_undo", "blocked_by"]
    with _reader(db_path, lock_timeout) as con:
        if con is None:
            return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
        log = con.sql(f"SELECT {', '.join(LOG_COLUMNS)} FROM import_log ORDER BY batch_id DESC").df()
        blocked = {}
        for kind in KINDS.values():
            for batch, later in con.execute(
                    f"SELECT batch_id, list(DISTINCT replaced_by ORDER BY replaced_by) FROM {kind.history} "
                    "GROUP BY batch_id").fetchall():
                blocked.setdefault(int(batch), set()).update(int(b) for b in later)
    log["blocked_by"] = [", ".join(str(b) for b in sorted(blocked.get(int(b), ()))) for b in log["batch_id"]]
    log["can_undo"] = (log["status"] == "active") & (log["blocked_by"] == "")
    for column in ("batch_id", "rows", "accepted", "rejected", "new", "updated", "unchanged"):
        log[column] = log[column].astype("int64")
    return log[columns].reset_index(drop=True)


def is_empty(db_path: str | Path | None = None, *, lock_timeout: float | None = None) -> bool:
    """True when the store holds no session (no file yet counts as empty)."""
    with _reader(db_path, lock_timeout) as con:
        if con is None:
            return True
        return not con.execute("SELECT EXISTS (SELECT 1 FROM sessions)").fetchone()[0]


def stats(db_path: str | Path | None = None, *, lock_timeout: float | None = None) -> dict:
    """Counts for a banner: sessions, patients, assessments, active batches, first and last session date."""
    with _reader(db_path, lock_timeout) as con:
        if con is None:
            return {"sessions": 0, "patients": 0, "assessments": 0, "batches": 0, "first_date": None,
                    "last_date": None, "path": str(_path(db_path))}
        sessions, patients, first, last = con.execute(
            "SELECT count(*), count(DISTINCT patient_id), min(session_date), max(session_date) FROM sessions"
        ).fetchone()
        assessments = con.execute("SELECT count(*) FROM assessments").fetchone()[0]
        batches = con.execute("SELECT count(*) FROM import_log WHERE status = 'active'").fetchone()[0]
    return {"sessions": int(sessions), "patients": int(patients), "assessments": int(assessments),
            "batches": int(batches), "first_date": first.isoformat() if first else None,
            "last_date": last.isoformat() if last else None, "path": str(_path(db_path))}
