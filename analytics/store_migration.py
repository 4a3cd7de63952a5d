"""Upgrading an outcome store written by an earlier version of the program, inside the writer's transaction.

Schema 1 keyed a session by its session_id when the file gave one, else by patient + date, so the same session
given once with and once without a session_id was stored twice. Schema 2 keys every session by patient + date
(analytics/session_key.py). The upgrade, in the caller's transaction (all or nothing):
  - recomputes session_key in sessions and sessions_history;
  - where the store holds one patient + date more than once, keeps the row of the newest batch (then the later
    line) and sets the others aside: a copy in `migration_set_aside` with the reason, and, when written by an
    older batch, into sessions_history as replaced by the batch of the kept row (so undoing that batch puts
    them back, as if the newer file had updated them): no row is lost;
  - writes the extras maps in key order (one spelling per value, so equal rows hash alike) and recomputes the
    row hashes; adds import_log.held_back.
Schema 3 stores a neutral label for each import instead of the file's name (a clinic's export may be named after
a patient: `Jane_Doe_DOB_1961-03-02.csv`). The upgrade from schema 2 (and from 1, after the step above) renames
import_log.file_name to `label`, replaces every stored name by the neutral label built from the import's time and
row count ("upload 2025-03-14 09:05, 2,600 rows"), and marks the store for compaction, so that the writer rewrites
the file after the commit and the old names (and the text of rows undone before) cannot be read from its bytes.
Schema 4 adds the derived session table (analytics/store_derived.py: what derive_sessions works out that no
setting changes, kept in step by every write): the upgrade from schema 3 (and from 1 or 2, after the steps above)
builds it from every stored session in the same transaction. A reader of an older store derives in Python instead.
A reader cannot upgrade (read-only): `current_sessions_sql` gives the rows the upgrade would keep, and
`label_sql` the label a schema-1 or -2 store's log will get, so no reader ever shows an old file name.

The audit trail's table (`audit_log`, analytics/audit.py) is additive, not a schema version: a new or upgraded
store gets it with its other tables, and any older store gets it (CREATE TABLE IF NOT EXISTS) from the first audit
row written, without an upgrade or a rewrite. So a store keeps schema 3, the versions of the program that read
schema 3 still read and write it (they leave a table they do not know alone, and compaction copies every table),
and a page visit never upgrades or rewrites a schema-1 or -2 store: that stays the job of the next import or undo.
"""
from __future__ import annotations

from datetime import datetime

import duckdb

from .session_key import session_key_sql
from .store_compaction import mark_pending

SCHEMA_VERSION = 4
# Versions a reader accepts: older ones are read as their upgrade would leave them (schema 3: without the derived
# table, derived on reading).
READABLE_VERSIONS = (1, 2, 3, 4)

AUDIT_TABLE = "audit_log"
AUDIT_DDL = (f'CREATE TABLE IF NOT EXISTS {AUDIT_TABLE} ("at" TIMESTAMP NOT NULL, "user" VARCHAR NOT NULL, '
             'role VARCHAR NOT NULL, action VARCHAR NOT NULL, object VARCHAR NOT NULL, outcome VARCHAR NOT NULL)')

SET_ASIDE_DDL = ("CREATE TABLE IF NOT EXISTS migration_set_aside (set_aside_at TIMESTAMP NOT NULL, "
                 "from_schema INTEGER NOT NULL, reason VARCHAR NOT NULL, kept_batch INTEGER, "
                 "row_json VARCHAR NOT NULL, batch_id INTEGER, line BIGINT)")

# the rows of a schema-1 sessions table that the upgrade keeps (newest batch, then later line, per patient + date)
_KEEP_ORDER = "ORDER BY batch_id DESC, line DESC NULLS LAST"
_V1_CURRENT = (f"(SELECT * FROM sessions QUALIFY row_number() OVER (PARTITION BY patient_id, session_date "
               f"{_KEEP_ORDER}) = 1)")


def schema_version(con: duckdb.DuckDBPyConnection) -> int | None:
    rows = con.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchall()
    return int(rows[0][0]) if rows else None


def current_sessions_sql(version: int | None) -> str:
    """The sessions relation a reader should use: the table, or for a schema-1 store the rows the upgrade keeps."""
    return _V1_CURRENT if version == 1 else "sessions"


def neutral_label(when: datetime, rows: int, what: str = "upload") -> str:
    """The label of an import that names nothing: its kind of event, local time to the minute, and row count."""
    rows = int(rows or 0)
    return f"{what} {when:%Y-%m-%d %H:%M}, {rows:,} row{'' if rows == 1 else 's'}"


def _neutral_label_sql(what: str = "upload") -> str:
    """neutral_label in SQL, from import_log's imported_at and rows (the same text)."""
    return (f"'{what} ' || strftime(imported_at, '%Y-%m-%d %H:%M') || ', ' || format('{{:,}}', coalesce(rows, 0)) "
            "|| CASE WHEN rows = 1 THEN ' row' ELSE ' rows' END")


def label_sql(version: int | None) -> str:
    """import_log's label column for a reader: the stored label, or for a schema-1 or -2 store (which kept file
    names) the neutral label its upgrade will write."""
    return "label" if version not in (1, 2) else f"({_neutral_label_sql()}) AS label"


def sorted_map_sql(expr: str) -> str:
    """An extras map in key order (NULL stays NULL)."""
    return f"map_from_entries(list_sort(map_entries({expr})))"


def upgrade_v1(con: duckdb.DuckDBPyConnection, stored_columns: list[str], hash_sql) -> list[str]:
    """Upgrade a schema-1 store to schema 2 in the open transaction (upgrade_v2 follows); the notes say what it did.

    stored_columns: the sessions table's columns in order; hash_sql(kind_name, extras_expr): the row-hash SQL.
    """
    key = session_key_sql()
    con.execute(f"UPDATE sessions SET session_key = {key}")
    con.execute(f"UPDATE sessions_history SET session_key = {key}")
    con.execute(SET_ASIDE_DDL)
    con.execute(f"""CREATE OR REPLACE TEMP TABLE _ranked AS
        SELECT rowid AS rid, session_key, batch_id, line, session_id, patient_id, session_date,
               row_number() OVER (PARTITION BY session_key {_KEEP_ORDER}) AS rank,
               first_value(batch_id) OVER (PARTITION BY session_key {_KEEP_ORDER}) AS kept_batch,
               first_value(line) OVER (PARTITION BY session_key {_KEEP_ORDER}) AS kept_line
        FROM sessions""")
    losers = con.execute("SELECT count(*), count(DISTINCT session_key) FROM _ranked WHERE rank > 1").fetchone()
    notes = []
    if losers[0]:
        now = datetime.now().replace(microsecond=0)
        reason = ("'upgrade to schema 2: patient ' || r.patient_id || ' on ' || strftime(r.session_date, '%Y-%m-%d') "
                  "|| ' was stored more than once (schema 1 keyed sessions by session_id when a file gave one); "
                  "kept the row of batch ' || r.kept_batch || ' line ' || coalesce(CAST(r.kept_line AS VARCHAR), '?') "
                  "|| ', set aside this one (batch ' || r.batch_id || ', line ' || "
                  "coalesce(CAST(r.line AS VARCHAR), '?') || ', session_id ' || coalesce(r.session_id, 'none') || ')'")
        con.execute(f"""INSERT INTO migration_set_aside
            SELECT ?, 1, {reason}, r.kept_batch, to_json(s)::VARCHAR, r.batch_id, r.line
            FROM sessions s JOIN _ranked r ON r.rid = s.rowid WHERE r.rank > 1""", [now])
        columns = ", ".join(f"s.{c}" for c in _quoted(stored_columns))
        con.execute(f"""INSERT INTO sessions_history
            SELECT r.kept_batch, {columns} FROM sessions s JOIN _ranked r ON r.rid = s.rowid
            WHERE r.rank > 1 AND r.batch_id < r.kept_batch""")
        con.execute("DELETE FROM sessions WHERE rowid IN (SELECT rid FROM _ranked WHERE rank > 1)")
        notes.append(
            f"The store was upgraded to schema 2 (sessions are now matched by patient and date). It held "
            f"{losers[1]:,} session(s) more than once ({losers[0]:,} extra row(s)), from files given with and "
            "without session_id: the row of the newest import was kept and the other(s) set aside in the table "
            "migration_set_aside (and kept in the history, so undoing that import puts them back).")
    else:
        notes.append("The store was upgraded to schema 2 (sessions are now matched by patient and date); "
                     "no session was stored twice.")
    con.execute("DROP TABLE _ranked")
    for table, kind in (("sessions", "sessions"), ("sessions_history", "sessions"),
                        ("assessments", "assessments"), ("assessments_history", "assessments")):
        con.execute(f"UPDATE {table} SET extras = {sorted_map_sql('extras')}")
        con.execute(f"UPDATE {table} SET row_hash = {hash_sql(kind, 'extras')}")
    con.execute("ALTER TABLE import_log ADD COLUMN IF NOT EXISTS held_back BIGINT DEFAULT 0")
    con.execute("UPDATE import_log SET held_back = 0 WHERE held_back IS NULL")
    con.execute("UPDATE meta SET value = '2' WHERE name = 'schema_version'")
    return notes


def upgrade_v2(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Upgrade a schema-2 store to schema 3 in the open transaction: file names become neutral labels, and the
    store is marked for compaction (the writer rewrites the file after the commit); the notes say so."""
    con.execute("ALTER TABLE import_log RENAME COLUMN file_name TO label")
    replaced = con.execute(f"UPDATE import_log SET label = {_neutral_label_sql()}").fetchone()[0]
    con.execute("UPDATE meta SET value = '3' WHERE name = 'schema_version'")
    con.execute(AUDIT_DDL)
    mark_pending(con)
    return [f"The store was upgraded to schema 3: the import history now keeps a neutral label for each import "
            f"(its time and row count) instead of the file's name ({replaced:,} name(s) replaced), and the store "
            "file was rewritten so that the old names cannot be read from it."]


def _quoted(columns: list[str]) -> list[str]:
    return ['"' + c.replace('"', '""') + '"' for c in columns]


def upgrade_v3(con: duckdb.DuckDBPyConnection, build_derived) -> list[str]:
    """Upgrade a schema-3 store to schema 4 in the open transaction: the derived session table
    (analytics/store_derived.py) is built from every stored session by build_derived(con); the notes say so."""
    build_derived(con)
    con.execute("UPDATE meta SET value = ? WHERE name = 'schema_version'", [str(SCHEMA_VERSION)])
    return ["The store was upgraded to schema 4: it now keeps each session's cycle, interval, response and next "
            "session worked out (the derived session table), so the app and the summary read them ready."]
