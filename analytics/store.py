"""The clinic's outcome store: an embedded DuckDB file that keeps every accepted session across imports.

Why: a clinic uploads a new export every month and expects last month's data to still be there, nothing
counted twice, a bad file to change nothing, and any import to be undoable. Pure functions, no Streamlit;
every function takes the database path (default: `default_db_path()`, i.e. the OUTCOMES_DB environment variable,
else data/outcomes.duckdb in the project).

Tables
  sessions             the canonical session columns (schema.SESSION_DTYPES, in SQL types), `extras`
                       MAP(VARCHAR, VARCHAR) holding the file's other columns (blank values left out, so they
                       read back as missing; NULL when none), `session_key`, `row_hash` (DuckDB hash of the
                       canonical columns and extras), `batch_id` (the import that last wrote the row) and `line`
                       (its line in that file).
  assessments          the same for repeated assessments (ASSESSMENT_DTYPES), keyed by `assessment_key`.
  sessions_history,    the previous version of every row an import replaced: `replaced_by` (that import's
  assessments_history  batch_id) and the whole old row, its own batch_id included. Undo puts these rows back.
  import_log           one row per import that changed something: batch_id, kind, label (below), file_hash
                       (SHA-256 of the file's bytes), imported_at (local time), mapping (JSON: file header ->
                       field), extra_columns (JSON), date_order, counts (rows, accepted, rejected, new, updated,
                       unchanged, held_back), status ('active' / 'undone') and undone_at; and one row per erasure
                       (kind 'purge', below).
  sessions_derived     the derived session table (analytics/store_derived.py): per stored session, the columns
                       derive_sessions works out that no setting changes (cycle, interval, response, next session),
                       with a copy of the columns the summary and the app read; written in the same transaction as
                       every change to `sessions`, in derive_sessions' order. `read_derived` completes it for the
                       user's settings with the selection applied in DuckDB (what `summary --db` and the app read).
  meta                 schema_version (4), the hash probe (below) and, between a removal and the rewrite of the
                       file, the compaction mark (analytics/store_compaction.py).
  migration_set_aside  rows the upgrade from schema 1 set aside (below), with the reason; only in upgraded stores.
  audit_log            the audit trail (analytics/audit.py): who saw or changed what, when; append-only. No import,
                       undo, purge or upgrade touches its rows, and compaction copies it. Made with a new store, or
                       by the first audit row written to an older one (no schema version of its own).

File names are data too: the store never keeps a file's name, only its SHA-256 and a label: one the user typed
(`check_label`: at most 80 characters, no '@', no run of six digits, not a file name), else a neutral one made of
the time and the row count ("upload 2025-03-14 09:05, 2,600 rows"). A label that looks like a file name (a path,
or a name ending in an extension such as .csv) or that fails the check is replaced by the neutral label
(`stored_label`), whoever the caller. Every message (ImportReport, UndoReport, PurgeReport, errors) says the label.

Keys: a session is its patient_id and session_date (analytics/session_key.py, which the ingestion also uses for
duplicates and conflicts); session_id is an attribute that must agree with it. An incoming row matches the stored
session of its patient and date whether or not either gives a session_id. A row whose session_id the store holds
for a different patient or date, or that the file gives to two sessions, is held back (not imported) and listed
in the report (ImportReport.held_back: line, session_id, the stored patient and date it points at, a message);
the rest imports. An assessment is its patient, its injection (session_id, else session_date), its days_after
and, when a file holds several scores for the same day, its place among them.

Imports (`import_result`) are upserts in one transaction: a new key is added; a key whose merged row differs
from the stored one (content hash) is updated, and the stored version is kept in the history table; an identical
row is left alone (its batch_id stays). Rows are never deleted by an import: a monthly export may hold only the
new month. An import that would change nothing writes nothing at all and says so (re-importing the same file).
Any error before the commit rolls everything back: the store is exactly as before.

Partial files update only what they carry. The columns a file carries are the fields of its column map
(`carried_columns`) and its extra columns; a canonical column it lacks keeps the stored values, and so do the
stored extras of columns it lacks (the merged row is built in SQL in the one join that compares the rows); the
report lists the stored columns with values that the file lacked (absent_columns). A blank cell in a column the
file does carry, where the store holds a value, would clear it: without `allow_clearing=True` the import raises
ClearingNeeded (counts per column) and writes nothing; with it the values are cleared (the history keeps the old
rows; undo restores them). Extras maps are kept in key order, so equal rows hash alike whatever the column order.

Undo (`undo`) removes the rows a batch added and restores the rows it replaced. An older batch whose rows a later
import has since replaced cannot be undone first: that is refused with a message naming the later batches,
which must be undone before it (newest first); so is an undo that would give a session_id back to a session
while a later import gave it to another. Undoing a batch is final (there is no redo: import the file again).
After the undo the file is rewritten (compaction, below), so the text of the rows it removed cannot be read
from the file's bytes.

Erasure (`purge`, the right to erasure): every session and assessment of one patient code, in every batch, is
removed from the live tables, the history tables and migration_set_aside, in one transaction, and the file is
rewritten. The import log gets one line that names no patient: kind 'purge', label "erasure <time>, <n> rows",
rows = the rows erased (all tables), the other counts 0, status 'active'; it cannot be undone (history:
can_undo false; `undo` refuses it), and since the patient's history rows are gone too, undoing an older batch
cannot bring the patient back. Batches whose only rows were that patient's stay in the log with their counts
as they were (the log is what happened); undoing one of them now changes nothing, and the purge's report
lists them. A code the store does not hold gives PatientNotFound: nothing changed.

Compaction (analytics/store_compaction.py): the operations that remove text (undo, purge, the upgrade to schema
3) mark the store in their transaction; after the commit, still holding the exclusive lock, the writer copies the
live tables into a fresh DuckDB file and swaps it in atomically (os.replace, fsync, the file's permissions kept,
no .wal left). A compaction that fails (a full disk) raises StoreError saying the change itself was saved, and
leaves the mark: the next writer compacts. Only the rows that are there are copied: the earlier versions an
import replaced are there on purpose (the history, for undo) until they are undone or purged.

Upgrades (analytics/store_migration.py): a schema-1 store (sessions keyed by session_id when given, which stored
the same session twice when one export gave the session_id and another did not) is upgraded by the first import
or undo that writes, in the same transaction: keys recomputed as patient + date, the newest row of each doubled
session kept and the others set aside (migration_set_aside, and the history, so undoing the newer import puts
them back); the report's notes say so. A schema-2 store (and a schema-1 store after that step) is upgraded to
schema 3 in the same transaction: import_log.file_name becomes `label`, every stored file name is replaced by
the neutral label of its import, and the file is compacted so the old names cannot be read from it. A schema-3
store (and an older one after those steps) is upgraded to schema 4 in the same transaction: the derived session
table is built from every stored session. Readers never write: they read a schema-1 store as the upgrade would
leave it (one row per patient and date, the newest), show the neutral label for the import of a schema-1 or -2
store, never its file name, and derive the sessions of a store without the derived table in Python (the same
frame, slower) until its next import or undo upgrades it.

Access (analytics/store_locking.py): DuckDB allows one writing process at a time, so every write holds an
exclusive `flock` on `<resolved db>.lock` and every read a shared one; the path is resolved first (symlinks,
`..`), so every spelling of one store shares one lock. A caller waits up to `lock_timeout` seconds
(OUTCOMES_DB_LOCK_TIMEOUT, default 120) and then gets `StoreBusy` with a plain message. Two imports started
together therefore run one after the other, and the second sees what the first wrote: no session is ever stored
twice. Readers open the store read-only and, where the lock file cannot be created (a read-only mount, no
permission), read without it. A path that is a folder, a file that is not a DuckDB database (a CSV), a damaged
one or another program's database gives a StoreError in plain words, for readers and writers alike; a missing
store reads as empty, and `require_store` (for commands that only read) raises StoreMissing instead.

Identifying values: only an IngestResult that was not refused is imported, i.e. one whose identifier columns
were dropped or whose patient codes were pseudonymised by the ingestion; the store never sees the original file.

DuckDB's hash() is only promised stable within one version, so meta keeps the hash of a fixed probe row; when
a new DuckDB version hashes it differently, the stored row hashes are recomputed in the next import.
"""
from __future__ import annotations

import hashlib
import json
import re
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
import pyarrow.compute as pc

from .free_text import label_problem
from .identifiers import PSEUDONYM_PREFIX
from .ingest import IngestResult
from .schema import SESSION_DTYPES
from .session_key import SEPARATOR, session_key_sql
from .store_locking import (  # noqa: F401  (re-exported: the store's public names)
    DB_ENV, DEFAULT_DB, DEFAULT_LOCK_TIMEOUT, LOCK_TIMEOUT_ENV, StoreBusy, StoreError, StoreMissing,
    check_is_outcome_store, check_store_file, connect, default_db_path, given_path, resolved_path, store_lock,
)
from . import store_derived, store_results
from .store_derived import SUMMARY_COLUMNS  # noqa: F401  (re-exported: what `summary --db` reads)
from .selection import Selection, select
from .sessions import DERIVED_COLUMNS, derive_sessions, resolve_as_of
from .settings import DEFAULT_SETTINGS, Settings
from .store_compaction import Compaction, compact_file, is_pending, mark_pending
from .store_migration import (
    AUDIT_DDL, READABLE_VERSIONS, SCHEMA_VERSION, current_sessions_sql, label_sql, neutral_label, schema_version,
    upgrade_v1, upgrade_v2, upgrade_v3,
)

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


class ClearingNeeded(StoreError):
    """The import would clear stored values (blank cells in columns the file has); nothing was written.

    counts: {column: how many stored values it would clear}. Import again with allow_clearing=True to clear them.
    """

    def __init__(self, counts: dict[str, int], label: str = ""):
        self.counts = dict(counts)
        total = sum(self.counts.values())
        listing = ", ".join(f"{c}: {n:,}" for c, n in self.counts.items())
        of = f" this file ({label})" if label else " this file"
        super().__init__(f"Importing{of} would clear {total:,} stored value(s) ({listing}): its cells are blank "
                         "where the store holds a value. Nothing was imported. Import again allowing clearing "
                         "to clear them, or fill the cells in.")


class PatientNotFound(StoreError):
    """A purge named a patient code the store does not hold; nothing was changed."""


def _path(db_path: str | Path | None) -> Path:
    return given_path(db_path)


# ---- labels: what the store keeps instead of a file's name --------------------------------------------------
LABEL_MAX = 80
_DIGIT_RUN = re.compile(r"\d(?: ?\d){5,}")  # six digits or more, single spaces allowed (phone, NHS, MRN)
_FILE_LIKE = re.compile(r"[/\\]|\.[A-Za-z][A-Za-z0-9]{1,5}\s*$")  # a path, or a name ending in an extension


def check_label(text: str | None) -> str:
    """A label the user typed, tidied (spaces collapsed, control characters removed); '' when blank.

    StoreError (the label is never echoed) when it is longer than LABEL_MAX characters, holds '@' (an e-mail
    address), a run of six digits or more (a phone, NHS or record number), looks like a file name, or holds
    anything the free-text scanner finds (analytics/free_text.py: a name, a postcode, a date of birth, ...).
    """
    cleaned = " ".join("".join(ch if ch.isprintable() else " " for ch in str(text or "")).split())
    if not cleaned:
        return ""
    if len(cleaned) > LABEL_MAX:
        raise StoreError(f"The label is {len(cleaned)} characters long: give at most {LABEL_MAX}, a few words such "
                         "as 'March export, north clinic'.")
    if "@" in cleaned:
        raise StoreError("The label holds '@', which looks like an e-mail address: a label must not identify "
                         "anyone. Give a few words such as 'March export'.")
    if _DIGIT_RUN.search(cleaned):
        raise StoreError("The label holds six digits or more in a row, which may be a phone, NHS or record number: "
                         "a label must not identify anyone. Give a few words such as 'March export'.")
    if _FILE_LIKE.search(cleaned):
        raise StoreError("The label looks like a file name: the store never keeps a file's name (it may name a "
                         "patient). Give a few words such as 'March export'.")
    problem = label_problem(cleaned, LABEL_MAX)  # a name, a postcode, a date of birth: the free-text scanner
    if problem:
        raise StoreError(problem)
    return cleaned


def stored_label(label: str | None, rows: int, when: datetime | None = None) -> str:
    """The label the store keeps for an import of `rows` rows: `label` when it passes check_label, else (blank,
    a file name, or refused) the neutral one, "upload <time>, <rows> rows"."""
    try:
        checked = check_label(label)
    except StoreError:
        checked = ""
    return checked or neutral_label(when or datetime.now(), rows)


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
    batch_id INTEGER NOT NULL, kind VARCHAR NOT NULL, label VARCHAR, file_hash VARCHAR,
    imported_at TIMESTAMP NOT NULL, mapping VARCHAR, extra_columns VARCHAR, date_order VARCHAR,
    rows BIGINT, accepted BIGINT, rejected BIGINT, new BIGINT, updated BIGINT, unchanged BIGINT,
    status VARCHAR NOT NULL, undone_at TIMESTAMP, held_back BIGINT DEFAULT 0)"""
LOG_COLUMNS = ["batch_id", "kind", "label", "file_hash", "imported_at", "mapping", "extra_columns",
               "date_order", "rows", "accepted", "rejected", "new", "updated", "unchanged", "held_back", "status",
               "undone_at"]


def _create_schema(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Create the tables of a new store, or upgrade an older one (in the open transaction); notes of an upgrade."""
    con.execute("CREATE TABLE IF NOT EXISTS meta (name VARCHAR PRIMARY KEY, value VARCHAR)")
    version = schema_version(con)
    notes = []
    if version is None:
        con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        con.execute(AUDIT_DDL)
    elif version in (1, 2, 3):
        if version == 1:
            notes += upgrade_v1(con, _stored_columns(SESSIONS), lambda k, e: _hash_expr(KINDS[k], e))
        if version <= 2:
            notes += upgrade_v2(con)
        notes += upgrade_v3(con, store_derived.refresh)
    elif version != SCHEMA_VERSION:
        raise StoreError(f"The store was written by another version of this program (schema {version}, "
                         f"this one reads {SCHEMA_VERSION}).")
    else:
        return notes  # a current store: its tables were all made in the transaction that wrote its version
    con.execute(_LOG_DDL)
    for kind in KINDS.values():
        con.execute(_table_ddl(kind, kind.name))
        con.execute(_table_ddl(kind, kind.history, prefix="replaced_by INTEGER NOT NULL, "))
    con.execute(store_derived.create_sql())
    return notes


@dataclass
class _Writing:
    """An open read-write connection inside the write lock and an open transaction; upgrade notes, if any."""

    con: duckdb.DuckDBPyConnection
    notes: list[str]
    committed: bool = False

    def commit(self) -> None:
        self.con.execute("COMMIT")
        self.committed = True


@contextmanager
def _writer(db_path, timeout) -> Iterator[_Writing]:
    """The store opened for writing, in one transaction the caller commits (else it is rolled back).

    A path that holds something other than an outcome store is refused; an older store is upgraded in the
    same transaction as the write, so a refused or empty import leaves it exactly as it was. When the store is
    marked for compaction (an undo, a purge, an upgrade; or one that failed before), the file is rewritten after
    the connection is closed, still inside the lock.
    """
    path = resolved_path(db_path)
    with store_lock(db_path, exclusive=True, timeout=timeout):
        if path.exists():
            check_store_file(db_path)
        con = connect(db_path, read_only=False)
        pending = False
        try:
            if path.exists():
                check_is_outcome_store(con, db_path)
            # rows land in the file as they are written (no re-sorting at checkpoint); reads use ORDER BY
            con.execute("SET preserve_insertion_order = false")
            con.execute("BEGIN TRANSACTION")
            writing = None
            try:
                writing = _Writing(con, _create_schema(con))
                yield writing
            finally:
                if writing is None or not writing.committed:
                    con.execute("ROLLBACK")  # an error, or nothing to write: the file stays as it was
            pending = is_pending(con)
        finally:
            con.close()
        if pending:
            compact_file(path)


@dataclass
class _Reading:
    """An open read-only connection and the store's schema version."""

    con: duckdb.DuckDBPyConnection
    version: int | None

    @property
    def sessions(self) -> str:
        """The sessions relation to read (a schema-1 store: the rows its upgrade will keep)."""
        return current_sessions_sql(self.version)


@contextmanager
def _reader(db_path, timeout) -> Iterator[_Reading | None]:
    """The store opened read-only inside the shared lock (without it where the lock file cannot be made);
    None when there is no store yet. StoreError when the path holds something else."""
    path = resolved_path(db_path)
    if not path.exists():
        yield None
        return
    check_store_file(db_path)
    with store_lock(db_path, exclusive=False, timeout=timeout):
        con = connect(db_path, read_only=True)
        try:
            if not check_is_outcome_store(con, db_path):
                yield None
                return
            version = schema_version(con)
            if version not in READABLE_VERSIONS:
                raise StoreError(f"The store was written by another version of this program (schema {version}, "
                                 f"this one reads {SCHEMA_VERSION}).")
            yield _Reading(con, version)
        finally:
            con.close()


def require_store(db_path: str | Path | None = None, *, lock_timeout: float | None = None) -> Path:
    """Check that an outcome store is at the path (for commands that only read); its path as given.

    StoreMissing when there is nothing there; StoreError when the path is a folder, a file that is not a DuckDB
    database (a CSV, ...), a damaged or truncated one, or a DuckDB database that is not an outcome store.
    """
    check_store_file(db_path)
    with _reader(db_path, lock_timeout) as reading:
        if reading is None:
            raise StoreError(f"{given_path(db_path)} is an empty DuckDB database, not an outcome store.")
    return given_path(db_path)


# ---- SQL pieces --------------------------------------------------------------------------------------------
def _typed(kind: _Kind, column: str) -> str:
    return f"CAST({_q(column)} AS {kind.sql_type(column)})"


def _extras_expr(extra: list[tuple[str, str]]) -> str:
    """MAP of (name, value) for the non-blank extra cells, NULL when every one is blank. extra: (name, source col),
    in name order, so the map's entries are in key order (the one spelling of a set of extras)."""
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
    """What an import did: the counts, and the batch it wrote (None when it changed nothing).

    held_back: rows not imported because their session_id belongs to another session (line, session_id,
    patient_id and session_date of the row, stored_patient_id and stored_session_date it points at, message).
    absent_columns: stored columns (with values) the file does not have: {column: stored values kept as they were}.
    cleared: {column: stored values cleared by blank cells}, when clearing was allowed. notes: e.g. an upgrade.
    """

    kind: str
    label: str  # the label the store keeps (never the file's name)
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
    held_back: list[dict] = field(default_factory=list)
    absent_columns: dict[str, int] = field(default_factory=dict)
    cleared: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.new or self.updated)

    def message(self) -> str:
        """The outcome in plain words."""
        noun = "session" if self.kind == "sessions" else "assessment"
        if not self.changed:
            matched = self.accepted - len(self.held_back)
            text = (f"Nothing changed: all {matched:,} accepted {noun}s of this file ({self.label}) are already "
                    f"in the store, identical. No import was recorded.")
            if not matched:
                text = f"Nothing changed: this file ({self.label}) has no accepted {noun}s. No import was recorded."
            if self.earlier_batches:
                text += " (This file was imported before as batch " + ", ".join(
                    str(b) for b in self.earlier_batches) + ".)"
        else:
            text = (f"Imported batch {self.batch_id} ({self.label}): {self.new:,} new, {self.updated:,} "
                    f"updated, {self.unchanged:,} unchanged {noun}s; {self.rejected:,} rejected row(s) not imported.")
            if self.earlier_batches:
                text += " (The same file was imported before as batch " + ", ".join(
                    str(b) for b in self.earlier_batches) + ".)"
        if self.held_back:
            text += (f" {len(self.held_back):,} row(s) held back (not imported): their session_id belongs to "
                     "another session (see the list).")
        if self.absent_columns:
            text += (" Not in this file, kept as stored: " + ", ".join(
                f"{c} ({n:,} value(s))" for c, n in self.absent_columns.items()) + ".")
        if self.cleared:
            text += " Cleared as the file asked: " + ", ".join(
                f"{c} ({n:,} value(s))" for c, n in self.cleared.items()) + "."
        for note in self.notes:
            text += " " + note
        return text

    def to_dict(self) -> dict:
        out = asdict(self)
        out["changed"] = self.changed
        out["message"] = self.message()
        return out


def carried_columns(result: IngestResult, kind_name: str = "sessions") -> tuple[list[str], list[str]]:
    """(canonical columns, extra columns) the file of `result` has: the mapped fields (result.column_map's
    values) and the extra columns of its rows. A result without a column map (rows built in code, e.g.
    IngestResult.from_accepted) carries the canonical columns its table has. The key columns are always carried.
    """
    kind = KINDS[kind_name]
    data_columns = list(result.data.columns)
    if result.column_map:
        fields = set(result.column_map.values())
        if "week" in fields:
            fields.add("days_after")  # the ingestion turns week into days_after
    else:
        fields = set(data_columns)
    fields |= {"patient_id", "session_date"} if kind is SESSIONS else {"patient_id", "days_after"}
    canonical = [c for c in kind.columns if c in fields]
    extras = [str(c) for c in data_columns if c not in kind.dtypes and c != "line"]
    return canonical, extras


def _incoming_table(result: IngestResult, kind: _Kind) -> tuple[pa.Table, list[tuple[str, str]]]:
    """The accepted rows as an Arrow table with the canonical columns, `line`, and extras renamed x0, x1, ...

    The extras come in name order (see _extras_expr)."""
    data = result.data
    extra_names = sorted((c for c in data.columns if c not in kind.dtypes and c != "line"), key=str)
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


@dataclass
class _Staged:
    """What the staging found: counts by status, rows held back, absent columns kept, values a write would clear."""

    counts: dict
    held_back: list[dict]
    absent: dict[str, int]
    clearing: dict[str, int]


def _merged_extras(file_extras: list[str]) -> str:
    """The extras of a matched row: the stored entries of columns the file does not have, then the file's
    (non-blank) entries, in key order; NULL when none is left."""
    if not file_extras:
        return "CASE WHEN s.row_hash IS NULL THEN i.extras ELSE s.extras END"
    names = "[" + ", ".join(_lit(n) for n in file_extras) + "]"
    entries = (f"list_concat(list_filter(coalesce(map_entries(s.extras), []), lambda e: NOT list_contains({names}, "
               f"e.key)), coalesce(map_entries(i.extras), []))")
    merged = f"map_from_entries(list_sort({entries}))"
    return (f"CASE WHEN s.extras IS NULL THEN i.extras WHEN len({entries}) = 0 "
            f"THEN CAST(NULL AS MAP(VARCHAR, VARCHAR)) ELSE {merged} END")


def _stage(con: duckdb.DuckDBPyConnection, kind: _Kind, table: pa.Table, extra: list[tuple[str, str]],
           carried: list[str]) -> _Staged:
    """Make the temp relation `incoming` (key, merged row, hash, status new/updated/unchanged/held) and say what
    the import would do.

    Each incoming row is matched to the stored one by key, in one join: a column the file has takes the file's
    value, one it lacks keeps the stored value (extras likewise, by column name). On an empty store every row is
    new and `incoming` is a view over the Arrow data (no copy). Sessions whose session_id belongs to another
    session (of the file or of the store) are held back.
    """
    con.register("incoming_arrow", table)
    file_extras = [name for name, _ in extra]
    extras = _extras_expr(extra)
    typed = ", ".join(f"{_typed(kind, c)} AS {_q(c)}" for c in kind.columns)
    rows = f"SELECT {_key_expr(kind)} AS {kind.key}, {typed}, {extras} AS extras, line FROM incoming_arrow"
    ids_carried = kind is SESSIONS and "session_id" in carried
    empty = con.execute(f"SELECT NOT EXISTS (SELECT 1 FROM {kind.name})").fetchone()[0]
    if empty:
        # every row is new: the rows go straight from Arrow to the table (_insert_rows); keys checked after
        clashing = _file_id_clashes(con, f"({rows})") if ids_carried else []
        status = "'new'"
        if clashing:
            status = (f"CASE WHEN session_id IN ({', '.join(_lit(i) for i in clashing)}) THEN 'held' "
                      "ELSE 'new' END")
        con.execute(f"CREATE OR REPLACE TEMP VIEW incoming AS SELECT *, {_hash_expr(kind, 'extras')} AS row_hash, "
                    f"{status} AS status FROM ({rows})")
        held = _held_rows(con, [], clashing)
        n_held = len(held)
        if n_held:  # _insert_rows checks the keys of the rows it writes; the held-back ones count too
            repeated = con.execute(f"SELECT count(*) - count(DISTINCT {kind.key}) FROM incoming").fetchone()[0]
            if repeated:
                _repeated_keys(repeated)
        return _Staged({"new": table.num_rows - n_held, "updated": 0, "unchanged": 0}, held, {}, {})
    merged = ", ".join(f"i.{_q(c)}" if c in carried
                       else f"CASE WHEN s.row_hash IS NULL THEN i.{_q(c)} ELSE s.{_q(c)} END AS {_q(c)}"
                       for c in kind.columns)
    stored_id = ", s.session_id AS stored_session_id" if ids_carried else ""
    con.execute(f"""CREATE OR REPLACE TEMP TABLE incoming AS
        SELECT *, CASE WHEN stored_hash IS NULL THEN 'new' WHEN stored_hash = row_hash THEN 'unchanged'
                       ELSE 'updated' END AS status
        FROM (SELECT *, {_hash_expr(kind, 'extras')} AS row_hash FROM (
            SELECT i.{kind.key}, {merged}, {_merged_extras(file_extras)} AS extras, i.line,
                   s.row_hash AS stored_hash{stored_id}
            FROM ({rows}) i LEFT JOIN {kind.name} s ON s.{kind.key} = i.{kind.key}))""")
    repeated = con.execute(f"SELECT count(*) - count(DISTINCT {kind.key}) FROM incoming").fetchone()[0]
    if repeated:
        _repeated_keys(repeated)
    clashing, stored_clashes = [], []
    if ids_carried:
        clashing = _file_id_clashes(con, "incoming")
        stored_clashes = _stored_id_clashes(con, clashing)
        if clashing or stored_clashes:
            con.execute("UPDATE incoming SET status = 'held' WHERE list_contains(CAST(? AS VARCHAR[]), session_id) "
                        "OR list_contains(CAST(? AS BIGINT[]), line)", [clashing, [r["line"] for r in stored_clashes]])
    found = dict(con.execute("SELECT status, count(*) FROM incoming GROUP BY status").fetchall())
    counts = {s: int(found.get(s, 0)) for s in ("new", "updated", "unchanged")}
    absent = _absent_kept(con, kind, carried, file_extras) if counts["updated"] + counts["unchanged"] else {}
    clearing = _clearing(con, kind, carried, file_extras) if counts["updated"] else {}
    return _Staged(counts, _held_rows(con, stored_clashes, clashing), absent, clearing)


def _file_id_clashes(con, relation: str) -> list[str]:
    """session_ids the file gives to more than one session."""
    return [r[0] for r in con.execute(
        f"SELECT session_id FROM {relation} WHERE session_id IS NOT NULL GROUP BY session_id "
        "HAVING min(patient_id) <> max(patient_id) OR min(session_date) <> max(session_date) "
        "ORDER BY session_id").fetchall()]


def _stored_id_clashes(con, clashing: list[str]) -> list[dict]:
    """Incoming rows whose session_id the store holds for another session (only rows whose session_id differs
    from their stored session's need the look-up)."""
    rows = con.execute("""
        SELECT DISTINCT ON (i.line) i.line, i.session_id, i.patient_id, i.session_date, s.patient_id,
               s.session_date
        FROM incoming i JOIN sessions s ON s.session_id = i.session_id AND s.session_key <> i.session_key
        WHERE i.session_id IS NOT NULL AND i.session_id IS DISTINCT FROM i.stored_session_id
          AND NOT list_contains(CAST(? AS VARCHAR[]), i.session_id)
        ORDER BY i.line""", [clashing]).fetchall()
    out = []
    for line, sid, patient, day, stored_patient, stored_day in rows:
        out.append({"line": int(line), "session_id": sid, "patient_id": patient, "session_date": _iso(day),
                    "stored_patient_id": stored_patient, "stored_session_date": _iso(stored_day),
                    "message": f"session_id {sid} already belongs to the session of patient {stored_patient} on "
                               f"{_iso(stored_day)} in the store, not to patient {patient} on {_iso(day)}: held "
                               "back. Correct the session_id, or the patient or date, and import the file again."})
    return out


def _held_rows(con, stored_clashes: list[dict], clashing: list[str]) -> list[dict]:
    """Every held-back row, in line order: store conflicts (given) and session_ids the file gives twice."""
    out = list(stored_clashes)
    if clashing:
        rows = con.execute("""SELECT line, session_id, patient_id, session_date,
                   string_agg(CAST(line AS VARCHAR), ', ' ORDER BY line) OVER (PARTITION BY session_id)
            FROM incoming WHERE status = 'held' AND list_contains(CAST(? AS VARCHAR[]), session_id) ORDER BY line""",
                           [clashing]).fetchall()
        for line, sid, patient, day, lines in rows:
            out.append({"line": int(line), "session_id": sid, "patient_id": patient, "session_date": _iso(day),
                        "stored_patient_id": None, "stored_session_date": None,
                        "message": f"session_id {sid} is given to more than one session in this file (lines "
                                   f"{lines}); here to patient {patient} on {_iso(day)}: held back. A session_id "
                                   "names one session: correct it and import the file again."})
    return sorted(out, key=lambda r: r["line"])


def _iso(day) -> str | None:
    return None if day is None else pd.Timestamp(day).strftime("%Y-%m-%d")


def _absent_kept(con, kind: _Kind, carried: list[str], file_extras: list[str]) -> dict[str, int]:
    """{column: stored values kept} for the stored columns the file lacks, over the matched rows."""
    absent = [c for c in kind.columns if c not in carried]
    out = {}
    matched = "status IN ('updated', 'unchanged')"
    if absent:
        values = con.execute(f"SELECT {', '.join(f'count({_q(c)})' for c in absent)} FROM incoming "
                             f"WHERE {matched}").fetchone()
        out.update({c: int(n) for c, n in zip(absent, values) if n})
    names = "[" + ", ".join(_lit(n) for n in file_extras) + "]::VARCHAR[]"
    for name, n in con.execute(f"""SELECT k, count(*) FROM (SELECT unnest(map_keys(extras)) AS k FROM incoming
                                   WHERE {matched} AND extras IS NOT NULL) WHERE NOT list_contains({names}, k)
                                   GROUP BY k ORDER BY k""").fetchall():
        out[str(name)] = int(n)
    return out


def _clearing(con, kind: _Kind, carried: list[str], file_extras: list[str]) -> dict[str, int]:
    """{column: stored values that blank cells of the file would clear}, over the rows that change."""
    key_columns = {"patient_id", "session_date"} if kind is SESSIONS else {"patient_id", "days_after"}
    columns = [c for c in carried if c not in key_columns]
    parts = [f"count(*) FILTER (WHERE i.{_q(c)} IS NULL AND s.{_q(c)} IS NOT NULL)" for c in columns]
    parts += [f"count(*) FILTER (WHERE s.extras[{_lit(n)}] IS NOT NULL AND i.extras[{_lit(n)}] IS NULL)"
              for n in file_extras]
    if not parts:
        return {}
    values = con.execute(f"SELECT {', '.join(parts)} FROM incoming i JOIN {kind.name} s "
                         f"ON s.{kind.key} = i.{kind.key} WHERE i.status = 'updated'").fetchone()
    return {c: int(n) for c, n in zip(columns + file_extras, values) if n}


def _repeated_keys(repeated: int):
    raise StoreError(f"{repeated} accepted row(s) repeat the key of another row of the same file (two rows for "
                     "one session); nothing was imported. Validate the file: such rows are conflicts.")


def _log_batch(con, batch_id: int, kind: _Kind, result: IngestResult, file_hash_: str, label: str,
               mapping: dict | None, counts: dict, held_back: int, when: datetime) -> None:
    used = dict(result.column_map)
    used.update(mapping or {})
    extra = [c for c in result.data.columns if c not in kind.dtypes and c != "line"]
    con.execute(
        f"INSERT INTO import_log ({', '.join(LOG_COLUMNS)}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', NULL)",
        [batch_id, kind.name, label, file_hash_, when,
         json.dumps(used, ensure_ascii=False), json.dumps([str(c) for c in extra], ensure_ascii=False),
         result.date_order, int(result.n_rows), int(result.n_accepted), int(result.n_rejected_rows),
         counts["new"], counts["updated"], counts["unchanged"], held_back])


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
    con.execute(f"INSERT INTO {kind.name} SELECT {columns} FROM incoming WHERE status IN ('new', 'updated')")
    if con.execute(f"SELECT min(batch_id) = {batch_id} FROM {kind.name}").fetchone()[0]:
        repeated = con.execute(f"SELECT count(*) - count(DISTINCT {kind.key}) FROM {kind.name}").fetchone()[0]
        if repeated:
            _repeated_keys(repeated)  # rolled back by the caller


class KeyMismatch(StoreError):
    """The codes were pseudonymised with another key than the one the store's codes were made with."""


def _check_key(con, fingerprint: str | None) -> None:
    """Keep the fingerprint of the pseudonymisation key with the store's first keyed import, and refuse codes
    keyed with another: with a new or mistyped key every patient would get a second code and be counted twice."""
    if fingerprint is None:
        return
    stored = [r[0] for r in con.execute("SELECT value FROM meta WHERE name = 'pseudonym_key_id'").fetchall()]
    if not stored:
        con.execute("INSERT INTO meta VALUES ('pseudonym_key_id', ?)", [fingerprint])
    elif stored[0] != fingerprint:
        raise KeyMismatch(
            "These codes were pseudonymised with a different key from the one this store's codes were made with, "
            "so every patient would be stored twice under two codes. Nothing was imported. Check "
            "OUTCOMES_PSEUDONYM_KEY (or the app's secrets) is the clinic's key; after a key rotation, import the "
            "exports into a new store (README, Privacy).")


def import_result(result: IngestResult, file_bytes_hash: str, label: str | None, mapping: dict | None = None,
                  db_path: str | Path | None = None, *, lock_timeout: float | None = None,
                  allow_clearing: bool = False, first_page: bool = True) -> ImportReport:
    """Import the accepted rows of a checked file into the store, in one transaction.

    result: what load_sessions / load_assessments returned (refused results are refused here too).
    file_bytes_hash: `file_hash(file)`, the SHA-256 of the file's bytes; label: the label to keep (typed by the
    user, or the ingestion's neutral one); blank, a file name or one check_label refuses gets the neutral label
    (`stored_label`): the store never keeps a file's name;
    mapping: the manual mapping the user chose (stored with the automatic one in import_log).
    allow_clearing: let blank cells clear stored values (else ClearingNeeded with the counts, nothing written).
    first_page: compute the default view's first page for the app in the same transaction (store_results); False
    for the parts of a large import in parts: the results are then cleared, and `prepare_first_page` (or the app,
    on first use) computes them once after the last part.
    Returns the counts; when nothing would change nothing is written and report.batch_id is None.
    Raises StoreError (refused file, repeated keys, a path that is not a store), ClearingNeeded and StoreBusy
    (lock timeout); the store is then unchanged.
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
    carried, _ = carried_columns(result, kind.name)
    when = datetime.now().replace(microsecond=0)
    label = stored_label(label, int(result.n_rows), when)
    path = _path(db_path)
    if table.num_rows == 0:  # nothing to write: do not even create the store
        earlier = []
        if path.exists():
            log = history(path, lock_timeout=lock_timeout)
            earlier = sorted(int(b) for b in log.loc[(log["file_hash"] == file_bytes_hash)
                                                      & (log["kind"] == kind.name)
                                                      & (log["status"] == "active"), "batch_id"])
        return ImportReport(kind.name, label, file_bytes_hash, str(path), None, int(result.n_rows), 0,
                            int(result.n_rejected_rows), 0, 0, 0, earlier)
    with _writer(path, lock_timeout) as writing:
        con = writing.con
        _refresh_hashes(con)
        earlier = [int(r[0]) for r in con.execute(
            "SELECT batch_id FROM import_log WHERE file_hash = ? AND kind = ? AND status = 'active' "
            "ORDER BY batch_id", [file_bytes_hash, kind.name]).fetchall()]
        _check_key(con, result.pseudonym_key_id)
        staged = _stage(con, kind, table, extra, carried)
        if staged.clearing and not allow_clearing:
            raise ClearingNeeded(staged.clearing, label)
        counts = staged.counts
        batch_id = None
        if counts["new"] or counts["updated"]:
            before = _version_of(con, SCHEMA_VERSION)
            batch_id = int(con.execute("SELECT coalesce(max(batch_id), 0) + 1 FROM import_log").fetchone()[0])
            _log_batch(con, batch_id, kind, result, file_bytes_hash, label, mapping, counts,
                       len(staged.held_back), when)
            _save_replaced(con, kind, batch_id)
            _remove_replaced(con, kind)
            _insert_rows(con, kind, batch_id)
            if kind is SESSIONS:  # the derived table of the patients this import touched, same transaction
                store_derived.refresh(con, "SELECT patient_id FROM incoming WHERE status IN ('new', 'updated')")
            if first_page:
                _results_after(con, kind, before)
            else:
                store_results.clear(con)
            writing.commit()
        # else: nothing to write, and the writer rolls back: the file stays exactly as it was
        notes = writing.notes if writing.committed else []
        # the temporary `incoming` goes with the connection
    return ImportReport(kind.name, label, file_bytes_hash, str(path), batch_id, int(result.n_rows),
                        int(result.n_accepted), int(result.n_rejected_rows), counts["new"], counts["updated"],
                        counts["unchanged"], earlier, staged.held_back, staged.absent,
                        staged.clearing if batch_id is not None else {}, notes)


# ---- undo --------------------------------------------------------------------------------------------------
@dataclass
class UndoReport:
    """What an undo did."""

    batch_id: int
    kind: str
    label: str
    removed: int  # rows the batch had added, now gone
    restored: int  # rows the batch had replaced, now back as they were
    notes: list[str] = field(default_factory=list)  # e.g. the store's upgrade

    def message(self) -> str:
        noun = "session" if self.kind == "sessions" else "assessment"
        text = (f"Undid batch {self.batch_id} ({self.label}): removed {self.removed:,} {noun}(s) it added and "
                f"restored {self.restored:,} it had changed to their earlier values.")
        return " ".join([text, *self.notes])


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

    Refused (StoreError, nothing changed) when the batch does not exist, is already undone, is an erasure
    (purge), or a later import has since replaced some of its rows (undo those first, newest first). The file is
    then rewritten (compaction) so the removed rows cannot be read from it.
    """
    batch = _parse_batch(batch_id)
    path = _path(db_path)
    if not path.exists():
        raise StoreError(f"There is no outcome store at {path}, so there is no batch {batch} to undo.")
    with _writer(path, lock_timeout) as writing:
        con = writing.con
        row = con.execute("SELECT kind, label, status, undone_at FROM import_log WHERE batch_id = ?",
                          [batch]).fetchone()
        if row is None:
            raise StoreError(f"There is no batch {batch} in the store (see the import history).")
        kind_name, label, status, undone_at = row
        if kind_name == PURGE:
            raise StoreError(f"Batch {batch} ({label}) is the erasure of a patient's rows: it cannot be undone, the "
                             "erased rows are gone from the store. Nothing was changed.")
        if status != "active":
            raise StoreError(f"Batch {batch} ({label}) was already undone on {undone_at}.")
        kind = KINDS[kind_name]
        before = _version_of(con, SCHEMA_VERSION)
        blockers = _blockers(con, kind, batch)
        if blockers:
            later = ", ".join(f"batch {b} ({n:,} row(s))" for b, n in blockers)
            newest = ", ".join(str(b) for b, _ in sorted(blockers, reverse=True))
            raise StoreError(
                f"Batch {batch} ({label}) cannot be undone yet: later import(s) changed rows it wrote: {later}. "
                f"Undoing it now would lose those changes. Undo batch(es) {newest} first (newest first), "
                f"then batch {batch}.")
        removed = con.execute(f"SELECT count(*) FROM {kind.name} WHERE batch_id = ?", [batch]).fetchone()[0]
        restored = con.execute(f"SELECT count(*) FROM {kind.history} WHERE replaced_by = ?",
                               [batch]).fetchone()[0]
        if kind is SESSIONS:  # the patients whose derived rows change: those of the rows removed and restored
            con.execute("CREATE OR REPLACE TEMP TABLE _undo_patients AS SELECT DISTINCT patient_id FROM sessions "
                        "WHERE batch_id = $1 UNION SELECT patient_id FROM sessions_history WHERE replaced_by = $1",
                        [batch])
        con.execute(f"DELETE FROM {kind.name} WHERE batch_id = ?", [batch])
        columns = ", ".join(_q(c) for c in _stored_columns(kind))
        con.execute(f"INSERT INTO {kind.name} SELECT {columns} FROM {kind.history} WHERE replaced_by = ?",
                    [batch])
        if kind is SESSIONS and restored:
            _check_session_ids_after_undo(con, batch, label)  # raises: rolled back by the writer
        con.execute(f"DELETE FROM {kind.history} WHERE replaced_by = ?", [batch])
        if kind is SESSIONS:
            store_derived.refresh(con, "SELECT patient_id FROM _undo_patients")
            con.execute("DROP TABLE _undo_patients")
        con.execute("UPDATE import_log SET status = 'undone', undone_at = ? WHERE batch_id = ?",
                    [datetime.now().replace(microsecond=0), batch])
        _results_after(con, kind, before)
        mark_pending(con)  # the rows it removed are rewritten out of the file after the commit
        writing.commit()
    return UndoReport(batch, kind.name, label, int(removed) - int(restored), int(restored), writing.notes)


def _check_session_ids_after_undo(con, batch: int, label: str) -> None:
    """Refuse an undo that would give one session_id to two sessions (a later import gave the session_id that
    this batch had replaced to another session)."""
    clash = con.execute("""SELECT session_id, list(DISTINCT batch_id ORDER BY batch_id) FROM sessions
        WHERE session_id IN (SELECT session_id FROM sessions_history WHERE replaced_by = ?)
        GROUP BY session_id HAVING count(*) > 1 ORDER BY session_id LIMIT 5""", [batch]).fetchall()
    if clash:
        ids = ", ".join(f"{sid} (batches {', '.join(str(b) for b in batches)})" for sid, batches in clash)
        later = sorted({b for _, batches in clash for b in batches if b > batch}, reverse=True)
        raise StoreError(
            f"Batch {batch} ({label}) cannot be undone yet: it would give a session_id back to a session "
            f"while a later import gave it to another session: {ids}. Undo batch(es) "
            f"{', '.join(str(b) for b in later)} first, then batch {batch}.")


# ---- erasure and compaction ----------------------------------------------------------------------------------
PURGE = "purge"  # import_log.kind of an erasure


@dataclass
class PurgeReport:
    """What an erasure did: the rows erased, by table, and the log line that records it (names no patient)."""

    batch_id: int  # the erasure's line in the import log
    label: str
    sessions: int  # live sessions erased
    assessments: int  # live assessments erased
    history_rows: int  # earlier versions kept for undo, erased
    set_aside: int  # rows set aside by the upgrade from schema 1, erased
    emptied_batches: list[int] = field(default_factory=list)  # active imports that now hold no row
    notes: list[str] = field(default_factory=list)  # e.g. the store's upgrade

    @property
    def erased(self) -> int:
        return self.sessions + self.assessments + self.history_rows + self.set_aside

    def message(self) -> str:
        older = f" and {self.history_rows:,} earlier version(s) kept for undo" if self.history_rows else ""
        aside = f" and {self.set_aside:,} row(s) set aside by an upgrade" if self.set_aside else ""
        text = (f"Erased the patient's {self.sessions:,} session(s) and {self.assessments:,} assessment(s){older}"
                f"{aside} from the store, in every import; recorded as batch {self.batch_id} ({self.label}), which "
                "cannot be undone. The store file was rewritten: the erased values cannot be read from it.")
        if self.emptied_batches:
            text += (" Batch(es) " + ", ".join(str(b) for b in self.emptied_batches) + " held only this patient's "
                     "rows: they stay in the import history with their counts as they were; undoing them now "
                     "changes nothing.")
        return " ".join([text, *self.notes])

    def to_dict(self) -> dict:
        out = asdict(self)
        out["erased"] = self.erased
        out["message"] = self.message()
        return out


def _has_set_aside(con) -> bool:
    return "migration_set_aside" in {r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' AND database_name = current_database()"
    ).fetchall()}


def purge(patient_id: str, db_path: str | Path | None = None, *, lock_timeout: float | None = None) -> PurgeReport:
    """Erase every row of one patient code (the right to erasure), in one transaction, then rewrite the file.

    Live sessions and assessments, their earlier versions in the history tables and rows set aside by the
    upgrade from schema 1 all go, in every batch; the import log gets one 'purge' line that names no patient and
    cannot be undone. PatientNotFound (nothing changed) when the store holds no row of that code; StoreMissing
    when there is no store. The code is the stored one (a pseudonym where the store holds pseudonyms).
    """
    code = str(patient_id if patient_id is not None else "").strip()
    if not code:
        raise StoreError("Give the code of the patient to erase; nothing was changed.")
    path = _path(db_path)
    check_store_file(path)
    with _writer(path, lock_timeout) as writing:
        con = writing.con
        tables = [SESSIONS.name, ASSESSMENTS.name, SESSIONS.history, ASSESSMENTS.history]
        found = {t: int(con.execute(f"SELECT count(*) FROM {t} WHERE patient_id = ?", [code]).fetchone()[0])
                 for t in tables}
        aside_where = "json_extract_string(row_json, '$.patient_id') = ?"
        aside = _has_set_aside(con)
        found["set_aside"] = int(con.execute(f"SELECT count(*) FROM migration_set_aside WHERE {aside_where}",
                                             [code]).fetchone()[0]) if aside else 0
        if not sum(found.values()):
            raise PatientNotFound(_not_found_message(con, code))
        touched = sorted({int(r[0]) for r in con.execute(
            " UNION ".join([f"SELECT batch_id FROM {t} WHERE patient_id = $1" for t in tables]
                           + [f"SELECT replaced_by FROM {t} WHERE patient_id = $1" for t in tables[2:]]),
            [code]).fetchall()})
        for table in tables:
            con.execute(f"DELETE FROM {table} WHERE patient_id = ?", [code])
        con.execute(f"DELETE FROM {store_derived.TABLE} WHERE patient_id = ?", [code])  # the copy of those rows
        if aside:
            con.execute(f"DELETE FROM migration_set_aside WHERE {aside_where}", [code])
        emptied = [] if not touched else [int(r[0]) for r in con.execute(
            "SELECT batch_id FROM import_log WHERE status = 'active' AND kind <> ? AND list_contains(?, batch_id) "
            "AND batch_id NOT IN (" + " UNION ".join(
                [f"SELECT batch_id FROM {t}" for t in tables] + [f"SELECT replaced_by FROM {t}" for t in tables[2:]])
            + ") ORDER BY batch_id", [PURGE, touched]).fetchall()]
        when = datetime.now().replace(microsecond=0)
        erased = sum(found.values())
        label = neutral_label(when, erased, "erasure")
        batch_id = int(con.execute("SELECT coalesce(max(batch_id), 0) + 1 FROM import_log").fetchone()[0])
        con.execute(f"INSERT INTO import_log ({', '.join(LOG_COLUMNS)}) VALUES "
                    "(?, ?, ?, NULL, ?, NULL, '[]', NULL, ?, 0, 0, 0, 0, 0, 0, 'active', NULL)",
                    [batch_id, PURGE, label, when, erased])
        _refresh_results(con)  # the flags table held the erased code: every result is written again
        mark_pending(con)  # the erased rows are rewritten out of the file after the commit
        writing.commit()
    return PurgeReport(batch_id, label, found[SESSIONS.name], found[ASSESSMENTS.name],
                       found[SESSIONS.history] + found[ASSESSMENTS.history], found["set_aside"], emptied,
                       writing.notes)


def _not_found_message(con, code: str) -> str:
    """Why a purge found nothing, without echoing the code; a hint when the store holds pseudonyms and the code
    given is not one (or the other way round)."""
    text = ("No row of the patient code given is in the store (sessions, assessments, their history, or rows set "
            "aside); nothing was changed. Check the code")
    pseudonyms = con.execute(f"SELECT count(*) FILTER (WHERE starts_with(patient_id, '{PSEUDONYM_PREFIX}')), "
                             "count(*) FROM (SELECT patient_id FROM sessions UNION ALL "
                             "SELECT patient_id FROM assessments)").fetchone()
    if pseudonyms[0] and not code.startswith(PSEUDONYM_PREFIX):
        return (text + ": the store holds pseudonymised codes, so give the clinic's own code with the pseudonymise "
                "option (it needs the clinic's key).")
    if code.startswith(PSEUDONYM_PREFIX) and pseudonyms[1] and not pseudonyms[0]:
        return text + ": the store holds the clinic's own codes, not pseudonyms."
    return text + "."


def compact(db_path: str | Path | None = None, *, lock_timeout: float | None = None) -> Compaction:
    """Rewrite the store file with only its live rows, under the exclusive lock (see store_compaction).

    Undo, purge and the schema upgrade do this themselves; this is for a store whose last rewrite failed, and
    for measuring. StoreMissing when there is no store."""
    check_store_file(db_path)
    with store_lock(db_path, exclusive=True, timeout=lock_timeout):
        check_store_file(db_path)
        con = connect(db_path, read_only=True)
        try:
            check_is_outcome_store(con, db_path)
        finally:
            con.close()
        return compact_file(resolved_path(db_path))


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
    with _reader(db_path, lock_timeout) as reading:
        if reading is None:
            return _empty_frame(kind, meta)
        con = reading.con
        source = reading.sessions if kind is SESSIONS else kind.name
        names = [r[0] for r in con.execute(
            f"SELECT DISTINCT unnest(map_keys(extras)) FROM {source} {where}", params or []).fetchall()]
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
        table = con.sql(f"SELECT {', '.join(select)} FROM {source} {where} ORDER BY batch_id, line",
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


def _extra_names(con, source: str, kind: _Kind, where: str = "", params: list | None = None) -> list[str]:
    """The extra columns of the stored rows, in the order the files first gave them."""
    names = [r[0] for r in con.execute(
        f"SELECT DISTINCT unnest(map_keys(extras)) FROM {source} {where}", params or []).fetchall()]
    order = [json.loads(r[0]) for r in con.execute(
        "SELECT extra_columns FROM import_log WHERE kind = ? ORDER BY batch_id", [kind.name]).fetchall()]
    first_seen = {}
    for names_in_batch in order:
        for name in names_in_batch:
            first_seen.setdefault(name, len(first_seen))
    names.sort(key=lambda n: (first_seen.get(n, len(first_seen)), n))
    return [n for n in names if n not in kind.dtypes]


@dataclass
class DerivedRead:
    """What `read_derived_with` read: the derived sessions, the as-of date used (NaT for an empty store) and how
    many stored sessions are after it (counted in no figure)."""

    frame: pd.DataFrame
    as_of: pd.Timestamp
    after_as_of: int


def _selection_sql(selection: Selection | None) -> tuple[list[str], list]:
    """WHERE conditions (and their parameters) of what `selection.select` keeps: chosen values and period; '{d}'
    stands where the caller puts its table's alias."""
    conditions, params = [], []
    if selection is None:
        return conditions, params
    for column, chosen in selection.values:
        if chosen and column in SESSIONS.dtypes:  # a column the data lacks keeps every row, as select does
            conditions.append(f"list_contains(CAST(? AS VARCHAR[]), {{d}}{_q(column)})")
            params.append([str(v) for v in chosen])
    if selection.start is not None:
        conditions.append("{d}session_date >= CAST(? AS DATE)")
        params.append(str(selection.start))
    if selection.end is not None:
        conditions.append("{d}session_date <= CAST(? AS DATE)")
        params.append(str(selection.end))
    return conditions, params


def _derive_in_python(db_path, settings: Settings, selection: Selection | None, columns: list[str] | None,
                      patients_of_selection: bool, lock_timeout) -> DerivedRead:
    """read_derived on a store without the derived table (schema 1 to 3, read-only: the next write upgrades it)."""
    sessions = read_sessions(db_path, lock_timeout=lock_timeout)
    history = derive_sessions(sessions, settings)
    as_of = resolve_as_of(sessions, settings)
    frame = history
    if selection is not None:
        chosen = select(history, selection)
        if patients_of_selection:
            seen = pd.unique(chosen["patient_id"].astype("str"))
            frame = history.loc[history["patient_id"].astype("str").isin(seen)].reset_index(drop=True)
        else:
            frame = chosen
    if columns is not None:
        frame = frame[list(columns)]
    return DerivedRead(frame, as_of, int(len(sessions) - len(history)))


def read_derived_with(db_path: str | Path | None = None, *, settings: Settings = DEFAULT_SETTINGS,
                      selection: Selection | None = None, columns: list[str] | tuple | None = None,
                      patients_of_selection: bool = False, lock_timeout: float | None = None) -> DerivedRead:
    """`read_derived`, with the as-of date it used and the count of sessions after it."""
    columns = None if columns is None else list(dict.fromkeys(columns))
    fetched = None
    with _reader(db_path, lock_timeout) as reading:
        ready = (reading is not None and reading.version == SCHEMA_VERSION and store_derived.exists(reading.con))
        if ready:
            fetched = _fetch_derived(reading.con, settings, selection, columns, patients_of_selection)
    if fetched is not None:  # the lock is let go: other visitors' audit rows need not wait for the rest
        return _finish_derived(fetched)
    return _derive_in_python(db_path, settings, selection, columns, patients_of_selection, lock_timeout)


def read_derived(db_path: str | Path | None = None, *, settings: Settings = DEFAULT_SETTINGS,
                 selection: Selection | None = None, columns: list[str] | tuple | None = None,
                 patients_of_selection: bool = False, lock_timeout: float | None = None) -> pd.DataFrame:
    """Exactly `select(derive_sessions(read_sessions(db), settings), selection)[columns]`, read from the store's
    derived table (analytics/store_derived.py) with the as-of date, the chosen values and the period applied in
    DuckDB and only the columns asked for read; nothing is checked or derived again but what the settings move.

    columns: input and derived column names, in the order wanted (None: all, in derive_sessions' order).
    patients_of_selection: every session up to the as-of date of the patients with a session the selection keeps
    (what their flags are judged on) instead of the selected sessions only. A store without the derived table
    (made before schema 4, read-only here) is derived in Python, giving the same frame.
    """
    return read_derived_with(db_path, settings=settings, selection=selection, columns=columns,
                             patients_of_selection=patients_of_selection, lock_timeout=lock_timeout).frame


@dataclass
class _Fetched:
    """What `_fetch_derived` took from the store under its lock (Arrow columns), and what `_finish_derived` needs
    to make the derived sessions of it without the lock."""

    arrow: pa.Table
    settings: Settings | None
    as_of: pd.Timestamp | None
    after: int
    read_inputs: list[str]
    out_inputs: list[str]
    wanted: list[str]
    columns: list[str] | None


def _read_derived(con, settings: Settings | None, selection: Selection | None, columns: list[str] | None,
                  patients_of_selection: bool, part: tuple[int, int] | None = None) -> DerivedRead:
    """The read; settings None: every session, with the stored helper columns (names '__' + STORED_NAMES) and
    no derived column yet (read_derived_base). part (i, k): only the patients whose code hashes to i of k parts
    (whole patients: what analytics.flags.flag_patients_in_parts takes)."""
    return _finish_derived(_fetch_derived(con, settings, selection, columns, patients_of_selection, part))


def _fetch_derived(con, settings: Settings | None, selection: Selection | None, columns: list[str] | None,
                   patients_of_selection: bool, part: tuple[int, int] | None = None) -> _Fetched:
    """The part of the read that needs the store: its rows as Arrow columns. Made into pandas and completed by
    `_finish_derived` after the lock is let go, so a visitor's audit row waits for the scan only (10M sessions:
    seconds less)."""
    table = store_derived.TABLE
    if settings is None:
        as_of, after = None, 0
    elif settings.as_of is not None:
        as_of = pd.Timestamp(settings.as_of).normalize()
        after = int(con.execute(f"SELECT count(*) FROM {table} WHERE session_date > CAST(? AS DATE)",
                                [str(as_of.date())]).fetchall()[0][0])
    else:
        latest = con.execute(f"SELECT max(session_date) FROM {table}").fetchall()[0][0]
        as_of = pd.NaT if latest is None else pd.Timestamp(latest).normalize()
        after = 0
    extras = _extra_names(con, "sessions", SESSIONS) if columns is None or any(
        c not in SESSIONS.dtypes and c not in DERIVED_COLUMNS for c in columns) else []
    inputs = [*SESSIONS.columns, *extras]
    if columns is None:
        out_inputs, wanted = inputs, list(DERIVED_COLUMNS)
    else:
        unknown = [c for c in columns if c not in inputs and c not in DERIVED_COLUMNS]
        if unknown:
            raise KeyError(f"no such column in the derived sessions: {', '.join(unknown)}")
        out_inputs = [c for c in columns if c not in DERIVED_COLUMNS]
        wanted = [c for c in columns if c in DERIVED_COLUMNS]
    needs = store_derived.stored_columns_for(wanted)
    helper = [c for c in needs if c in store_derived.STORED_NAMES]
    if settings is None:
        needs = [*store_derived.COMPLETE_INPUT, *store_derived.STORED_NAMES]
        helper = list(store_derived.STORED_NAMES)
    read_inputs = list(dict.fromkeys([*out_inputs, "patient_id", "session_date",
                                      *(c for c in needs if c not in store_derived.STORED_NAMES)]))
    joined = any(c not in store_derived.COPIED for c in read_inputs)  # columns only `sessions` holds

    def ref(column: str) -> str:
        if column in store_derived.COPIED or column in store_derived.STORED_NAMES or column == "ord":
            return f"d.{_q(column)}"
        return f"s.{_q(column)}" if column in SESSIONS.dtypes else f"s.extras[{_lit(column)}]"

    select_ = []
    for column in read_inputs:
        cast = column in SESSIONS.dtypes and SESSIONS.dtypes[column] == "datetime64[s]"
        select_.append(f"{f'CAST({ref(column)} AS TIMESTAMP_S)' if cast else ref(column)} AS {_q(column)}")
    for name in helper:
        cast = dict(store_derived.STORED)[name] == "DATE"
        select_.append(f"{f'CAST({ref(name)} AS TIMESTAMP_S)' if cast else ref(name)} AS {_q('__' + name)}")
    select_.append("d.ord AS __ord")
    if as_of is None:
        conditions, params = ["true"], []
    elif pd.isna(as_of):
        conditions, params = ["false"], []
    else:
        conditions, params = ["d.session_date <= CAST(? AS DATE)"], [str(as_of.date())]
    chosen, chosen_params = _selection_sql(selection)
    chosen = [c.replace("{d}", "d.") for c in chosen]
    if chosen and patients_of_selection:  # the inner query repeats the as-of condition
        conditions.append(f"d.patient_id IN (SELECT d.patient_id FROM {table} d WHERE "
                          + " AND ".join([conditions[0], *chosen]) + ")")
        params = [*params, *params, *chosen_params]
    else:
        conditions += chosen
        params += chosen_params
    if part is not None:
        conditions.append(f"hash(d.patient_id) % {int(part[1])} = {int(part[0])}")
    where = " AND ".join(conditions)
    light = [expr for expr, column in zip(select_, [*read_inputs, *helper, "ord"])
             if column not in read_inputs or column in store_derived.COPIED]
    # the table is stored in derive_sessions' order and a plain scan keeps it; `ord` checks
    arrow = con.sql(f"SELECT {', '.join(light)} FROM {table} d WHERE {where}", params=params or None
                    ).to_arrow_table()
    ord_ = arrow.column("__ord").to_numpy()
    if len(ord_) > 1 and not (ord_[1:] > ord_[:-1]).all():
        arrow = arrow.take(pa.array(np.argsort(ord_, kind="stable")))
    if joined:  # the other columns from `sessions`, same rows in the same order (patient_id, session_date)
        rest = [c for c in read_inputs if c not in store_derived.COPIED]
        exprs = [(f"d.{_q(c)}" if c in SESSIONS.dtypes else f"d.extras[{_lit(c)}]") + f" AS {_q(c)}" for c in rest]
        other = con.sql(f"SELECT d.patient_id, d.session_date, {', '.join(exprs)} "
                        f"FROM {current_sessions_sql(SCHEMA_VERSION)} d WHERE {where} "
                        "ORDER BY d.patient_id, d.session_date", params=params or None).to_arrow_table()
        if other.num_rows != arrow.num_rows or not (
                other["patient_id"].equals(arrow["patient_id"])
                and pc.all(pc.equal(pc.cast(other["session_date"], pa.timestamp("s")), arrow["session_date"])).as_py()
                in (True, None)):
            raise StoreError("The store's derived session table is out of step with its sessions; import or undo "
                             "to rebuild it.")
        for column in rest:
            arrow = arrow.append_column(column, other[column])
        arrow = arrow.select([*read_inputs, *[f"__{h}" for h in helper], "__ord"])
    return _Fetched(arrow, settings, as_of, after, read_inputs, out_inputs, wanted, columns)


def _finish_derived(fetched: _Fetched) -> DerivedRead:
    """The derived sessions from what `_fetch_derived` read (no store needed)."""
    arrow, settings, as_of, after = fetched.arrow, fetched.settings, fetched.as_of, fetched.after
    read_inputs, out_inputs, wanted, columns = fetched.read_inputs, fetched.out_inputs, fetched.wanted, fetched.columns
    mapper = {pa.int64(): pd.Int64Dtype(), pa.float64(): pd.Float64Dtype(), pa.bool_(): pd.BooleanDtype()}.get
    frame = arrow.drop_columns(["__ord"]).to_pandas(types_mapper=mapper)
    changes = {c: SESSIONS.dtypes[c] for c in read_inputs
               if c in SESSIONS.dtypes and str(frame[c].dtype) != SESSIONS.dtypes[c]}
    changes.update({c: "str" for c in read_inputs if c not in SESSIONS.dtypes})
    if changes:
        frame = frame.astype(changes)
    if settings is None:
        return DerivedRead(frame, pd.NaT, 0)
    as_of_day = 0 if pd.isna(as_of) else int(np.datetime64(as_of.date(), "D").astype("int64"))
    drop = [c for c in read_inputs if c not in out_inputs]
    frame = store_derived.complete(frame, settings, as_of_day, wanted, drop)
    if columns is not None:
        frame = frame[columns]
    return DerivedRead(frame, as_of, after)


def read_derived_base(db_path: str | Path | None = None, *,
                      lock_timeout: float | None = None) -> pd.DataFrame | None:
    """Every stored session, all its columns (as read_sessions gives them) and the stored derived columns, before
    any setting is applied, in derive_sessions' order: for a process that applies many settings to one read (the
    app: `derived_for` per settings). None when the store has no derived table (made before schema 4) or no
    store."""
    with _reader(db_path, lock_timeout) as reading:
        if reading is None or reading.version != SCHEMA_VERSION or not store_derived.exists(reading.con):
            return None
        fetched = _fetch_derived(reading.con, None, None, None, False)
    return _finish_derived(fetched).frame  # without the lock


def derived_for(base: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS) -> pd.DataFrame:
    """derive_sessions(read_sessions(db), settings) from read_derived_base(db): the sessions up to the as-of date
    and the derived columns for these settings; only what depends on the settings is computed."""
    if settings.as_of is not None:
        as_of = pd.Timestamp(settings.as_of).normalize()
    elif len(base):
        as_of = pd.Timestamp(base["session_date"].max()).normalize()
    else:
        as_of = pd.NaT
    as_of_day = 0 if pd.isna(as_of) else int(np.datetime64(as_of.date(), "D").astype("int64"))
    day = base["session_date"].to_numpy().astype("datetime64[D]").astype("int64")
    keep = day <= as_of_day if not pd.isna(as_of) else np.zeros(len(base), bool)
    frame = base if keep.all() else base.loc[keep].reset_index(drop=True)
    return store_derived.complete(frame, settings, as_of_day)


def selection_values(db_path: str | Path | None = None, *, lock_timeout: float | None = None) -> pd.DataFrame:
    """A small frame standing in for the stored sessions where a selection is checked against the data
    (selection.unmatched, sessions.as_of_after_data): the distinct values of each filter column and the latest
    session_date, padded with blanks; no rows for an empty store."""
    from .selection import FILTER_COLUMNS
    columns = list(FILTER_COLUMNS.values())
    with _reader(db_path, lock_timeout) as reading:
        if reading is None:
            latest, values = None, {}
        else:
            source = reading.sessions
            values = {c: [r[0] for r in reading.con.execute(
                f"SELECT DISTINCT {_q(c)} FROM {source} WHERE {_q(c)} IS NOT NULL ORDER BY 1").fetchall()]
                for c in columns}
            latest = reading.con.execute(f"SELECT max(session_date) FROM {source}").fetchall()[0][0]
    if latest is None:
        return pd.DataFrame({"session_date": pd.Series(dtype="datetime64[s]"),
                             **{c: pd.Series(dtype="str") for c in columns}})
    n = max([1, *(len(v) for v in values.values())])
    frame = pd.DataFrame({"session_date": pd.Series([pd.Timestamp(latest)] + [pd.NaT] * (n - 1),
                                                    dtype="datetime64[s]")})
    for column, found in values.items():
        frame[column] = pd.Series(found + [None] * (n - len(found)), dtype="str")
    return frame


def read_assessments(db_path: str | Path | None = None, *, meta: bool = False,
                     lock_timeout: float | None = None) -> pd.DataFrame:
    """The stored repeated assessments in the dtypes load_assessments gives (ASSESSMENT_DTYPES), extras after."""
    return _read(ASSESSMENTS, db_path, meta=meta, lock_timeout=lock_timeout)


def history(db_path: str | Path | None = None, *, lock_timeout: float | None = None) -> pd.DataFrame:
    """The import log, newest first, with `can_undo` and `blocked_by` (later batches to undo first).

    `label` is the import's label (a schema-1 or -2 store, not yet upgraded: the neutral label, never the file's
    name); an erasure is a line of kind 'purge' that can never be undone."""
    columns = LOG_COLUMNS + ["can_undo", "blocked_by"]
    with _reader(db_path, lock_timeout) as reading:
        if reading is None:
            return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
        con = reading.con
        shown = {"held_back": "held_back" if reading.version != 1 else "0 AS held_back",
                 "label": label_sql(reading.version)}  # an old store's file names are never shown
        log = con.sql(f"SELECT {', '.join(shown.get(c, c) for c in LOG_COLUMNS)} FROM import_log "
                      "ORDER BY batch_id DESC").df()
        blocked = {}
        for kind in KINDS.values():
            for batch, later in con.execute(
                    f"SELECT batch_id, list(DISTINCT replaced_by ORDER BY replaced_by) FROM {kind.history} "
                    "GROUP BY batch_id").fetchall():
                blocked.setdefault(int(batch), set()).update(int(b) for b in later)
    log["blocked_by"] = [", ".join(str(b) for b in sorted(blocked.get(int(b), ()))) for b in log["batch_id"]]
    log["can_undo"] = (log["status"] == "active") & (log["blocked_by"] == "") & (log["kind"] != PURGE)
    for column in ("batch_id", "rows", "accepted", "rejected", "new", "updated", "unchanged", "held_back"):
        log[column] = log[column].astype("int64")
    return log[columns].reset_index(drop=True)


def data_version(db_path: str | Path | None = None, *, lock_timeout: float | None = None) -> str | None:
    """A key that changes with every import, undo and erasure, and not with audit rows; None when the store holds
    no session. Two small queries: the app asks it on every run after the store's file changed (each page visit
    writes an audit row), so it must not cost what `history` does."""
    with _reader(db_path, lock_timeout) as reading:
        if reading is None or not reading.con.execute("SELECT EXISTS (SELECT 1 FROM sessions)").fetchone()[0]:
            return None
        return _version_of(reading.con, reading.version)


def _version_of(con, schema: int | None) -> str:
    """data_version on an open connection (a writer's too: the version its transaction leaves)."""
    log = con.execute("SELECT batch_id, kind, status, imported_at, file_hash FROM import_log "
                      "ORDER BY batch_id").fetchall()
    return hashlib.blake2b(repr((schema, log)).encode("utf-8"), digest_size=16).hexdigest()


def _results_version(data_version_: str) -> str:
    """The version a kept result is written and read under: the store's state and the program that computed it
    (first_page.code_version), so a result of another state or another program is never read."""
    from . import first_page
    return f"{data_version_}:{first_page.code_version()}"


# The first page's flags are judged on at most about this many sessions at once (whole patients), so computing
# them for a registry does not hold every session's columns in memory at once.
FIRST_PAGE_PART_SESSIONS = 2_000_000


def _results_after(con, kind: _Kind, before: str) -> None:
    """Keep the first page ready for the state this write leaves (`before`: the store's version when it began). A
    change of assessments only leaves every session, so the results kept for `before` are kept for the new state
    as they are (re-keyed: 10M sessions' first page is not computed again for a batch of assessments); otherwise,
    or when none was kept for `before`, they are computed (_refresh_results)."""
    if kind is ASSESSMENTS and store_results.rekey(con, _results_version(before),
                                                   _results_version(_version_of(con, SCHEMA_VERSION))):
        return
    _refresh_results(con)


def _refresh_results(con) -> None:
    """Compute the default view's first page (analytics/first_page.py) for the state this write transaction
    leaves, from the derived table it holds, and keep it in place of the earlier results (store_results)."""
    from . import first_page  # the metrics' modules: only a writer of sessions needs them
    from .flags import flag_patients_in_parts
    from .selection import choices

    if not con.execute("SELECT EXISTS (SELECT 1 FROM sessions)").fetchone()[0]:
        store_results.clear(con)
        return
    settings = DEFAULT_SETTINGS
    sessions = con.execute(f"SELECT count(*) FROM {store_derived.TABLE}").fetchone()[0]
    parts = max(1, -(-int(sessions) // FIRST_PAGE_PART_SESSIONS))
    flag_table = flag_patients_in_parts(
        (_read_derived(con, settings, None, list(first_page.INPUT_COLUMNS), False, (i, parts)).frame
         for i in range(parts)), settings)
    lag = first_page.followup_lag(_read_derived(con, settings, None, ["followup_days"], False).frame, settings)
    base = first_page.headline_base(_read_derived(con, settings, None, list(first_page.HEADLINE_INPUT), False).frame)
    results = first_page.compute_from(base, flag_table, lag, settings, choices(base))
    store_results.replace_all(con, _results_version(_version_of(con, SCHEMA_VERSION)), results)


def prepare_first_page(db_path: str | Path | None = None, *, lock_timeout: float | None = None) -> bool:
    """Compute the default view's first page for the store as it is (after imports made with first_page=False),
    in a transaction of its own; False when the store holds no session (nothing to compute)."""
    path = _path(db_path)
    require_store(path)
    with _writer(path, lock_timeout) as writing:
        if not writing.con.execute("SELECT EXISTS (SELECT 1 FROM sessions)").fetchone()[0]:
            return False
        _refresh_results(writing.con)
        writing.commit()
    return True


def read_result(key: tuple, version: str, db_path: str | Path | None = None, *,
                lock_timeout: float | None = None):
    """A result the store keeps ready (store_results: the default view's first page) under the cache key `key`
    for the store state `version` (data_version), computed by this version of the program; store_results.MISSING
    when it holds none for both."""
    with _reader(db_path, lock_timeout) as reading:
        if reading is None:
            return store_results.MISSING
        return store_results.read(reading.con, _results_version(version), key)


def kept_result_keys(version: str, db_path: str | Path | None = None, *,
                     lock_timeout: float | None = None) -> frozenset[str]:
    """The keys (store_results.key_text) of the results `read_result` can find for the store state `version`
    (the default view's first page, once computed); empty when there is no store."""
    with _reader(db_path, lock_timeout) as reading:
        if reading is None:
            return frozenset()
        return store_results.keys(reading.con, _results_version(version))


def facts(db_path: str | Path | None = None, *, lock_timeout: float | None = None) -> dict:
    """What the app's sidebar needs to start, without reading the sessions: the number of sessions, the first and
    the latest session_date, and the values of each filter column (analytics.selection.choices)."""
    from .selection import FILTER_COLUMNS, choices_of
    with _reader(db_path, lock_timeout) as reading:
        if reading is None:
            return {"sessions": 0, "first": None, "latest": None, "options": choices_of({})}
        source = reading.sessions
        n, first, latest = reading.con.execute(
            f"SELECT count(*), min(session_date), max(session_date) FROM {source}").fetchone()
        found = {c: [r[0] for r in reading.con.execute(
            f"SELECT DISTINCT CAST({_q(c)} AS VARCHAR) FROM {source} WHERE {_q(c)} IS NOT NULL").fetchall()]
            for c in FILTER_COLUMNS.values()}
    return {"sessions": int(n), "first": pd.Timestamp(first) if first else None,
            "latest": pd.Timestamp(latest) if latest else None, "options": choices_of(found)}


def key_fingerprint(db_path: str | Path | None = None, *, lock_timeout: float | None = None) -> str | None:
    """identifiers.key_id of the key the store's codes were pseudonymised with; None when none was keyed yet."""
    with _reader(db_path, lock_timeout) as reading:
        if reading is None:
            return None
        rows = reading.con.execute("SELECT value FROM meta WHERE name = 'pseudonym_key_id'").fetchall()
    return rows[0][0] if rows else None


def is_empty(db_path: str | Path | None = None, *, lock_timeout: float | None = None) -> bool:
    """True when the store holds no session (no file yet counts as empty)."""
    with _reader(db_path, lock_timeout) as reading:
        if reading is None:
            return True
        return not reading.con.execute("SELECT EXISTS (SELECT 1 FROM sessions)").fetchone()[0]


def stats(db_path: str | Path | None = None, *, lock_timeout: float | None = None) -> dict:
    """Counts for a banner: sessions, patients, assessments, active batches, first and last session date."""
    with _reader(db_path, lock_timeout) as reading:
        if reading is None:
            return {"sessions": 0, "patients": 0, "assessments": 0, "batches": 0, "first_date": None,
                    "last_date": None, "path": str(_path(db_path))}
        con = reading.con
        sessions, patients, first, last = con.execute(
            "SELECT count(*), count(DISTINCT patient_id), min(session_date), max(session_date) "
            f"FROM {reading.sessions}").fetchone()
        assessments = con.execute("SELECT count(*) FROM assessments").fetchone()[0]
        batches = con.execute("SELECT count(*) FROM import_log WHERE status = 'active'").fetchone()[0]
    return {"sessions": int(sessions), "patients": int(patients), "assessments": int(assessments),
            "batches": int(batches), "first_date": first.isoformat() if first else None,
            "last_date": last.isoformat() if last else None, "path": str(_path(db_path))}
