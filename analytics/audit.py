"""The audit trail: who saw or changed what in the outcome store, and when (table `audit_log` in the store).

Why: once the dashboard has sign-in and roles, a clinic must be able to answer "who looked at this patient, who
downloaded what, who imported, undid or erased data". Each event is one row: `at` (UTC, naive TIMESTAMP), `user`
(the e-mail claim when signed in; in local mode the operating-system user, `os_user()`), `role` ("lead",
"practitioner", "analyst", "command line", ...), `action` (one of ACTIONS), `object` (a page name, patient code,
batch number, file hash) and `outcome` ("ok", or "refused: <short reason>"). Pure functions, no Streamlit.

Append-only: this module only inserts; no code path of the program updates or deletes an audit row. The store's
undo and purge leave the table alone, and compaction (analytics/store_compaction.py) copies it with the rest.

Codes in the trail: a `view_patient` or `download` row may name a patient code. That is acceptable: the codes are
pseudonymous (the store never holds names or record numbers; a pseudonymised store holds keyed HMAC codes) and
the trail is the record of who looked at whom. An erasure, though, must leave nothing of the patient it erased:
its row names the erasure's batch (its line in the import history, which names no patient), never the code, so
a purge does not write the code back into the store it was just erased from. Earlier rows that named the code
stay (append-only: they record who looked, not the patient's data); a clinic that must not keep even those
should treat the audit trail's retention as its access-log policy says.

Writing (`record`): one row in its own transaction, under the store's exclusive lock (analytics/store_locking.py),
so rows from many processes and threads are never lost. It creates the store (every table, empty) when there is
none, and adds the table to an older store that lacks it, without upgrading or rewriting that store: a page visit
never triggers a schema upgrade or a compaction (those stay with the next import, undo or purge). Anything that
stops the row being written (a read-only store, a store busy past the lock timeout, a path that is not a store)
raises AuditError in plain words; an unknown action raises ValueError. Text is tidied first (control characters
become spaces, runs of spaces collapse, long values are cut), so a crafted page or file name cannot forge lines.

Reading (`read`): the rows, newest first, filtered by time, user (case-insensitive) and action; a missing store,
an empty one or an older store without the table gives an empty frame with COLUMNS, not an error.
"""
from __future__ import annotations

import getpass
import os
import stat
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import pandas as pd

from . import store
from .store_locking import (
    StoreError, check_is_outcome_store, check_store_file, connect, given_path, resolved_path, store_lock,
)
from .store_migration import AUDIT_DDL, AUDIT_TABLE, READABLE_VERSIONS, schema_version

ACTIONS = ("sign_in", "sign_in_refused", "sign_out", "view_page", "view_patient", "download", "import", "undo",
           "purge", "report")
COLUMNS = ["at", "user", "role", "action", "object", "outcome"]
LIMITS = {"user": 254, "role": 40, "object": 200, "outcome": 200}  # characters kept (254: the longest e-mail)
COMMAND_LINE_ROLE = "command line"


class AuditError(StoreError):
    """The audit row could not be written (read-only store, busy past the lock timeout, not a store, ...)."""


def clean_text(value, limit: int) -> str:
    """Plain one-line text: control and other non-printable characters become spaces, runs of spaces collapse,
    the ends are trimmed, and at most `limit` characters are kept (the last one an ellipsis when cut)."""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in str(value if value is not None else ""))
                    .split())
    return text if len(text) <= limit else text[:limit - 1] + "\u2026"


def os_user() -> str:
    """The user of local mode and of the command line: the operating system's user name; "unknown" when the
    system cannot tell (no login name, no passwd entry)."""
    try:
        return clean_text(getpass.getuser(), LIMITS["user"]) or "unknown"
    except Exception:  # noqa: BLE001 - getpass raises OSError, KeyError or ImportError depending on the system
        return "unknown"


def _utc(when: datetime | None) -> datetime:
    """A naive UTC timestamp: now by default; an aware time converted to UTC; a naive one taken as UTC."""
    if when is None:
        return datetime.now(timezone.utc).replace(tzinfo=None)
    if not isinstance(when, datetime):
        raise ValueError("when must be a datetime (UTC).")
    return when.astimezone(timezone.utc).replace(tzinfo=None) if when.tzinfo else when


def _check_action(action) -> str:
    if action not in ACTIONS:
        raise ValueError(f"{clean_text(action, 40)!r} is not an audit action; the actions are: {', '.join(ACTIONS)}.")
    return action


def _read_only(path: Path) -> bool:
    """True when the store file may not be written: the system says so, or it has no write permission at all
    (chmod a-w: the clinic made it read-only, which an administrator's process would otherwise ignore)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not os.access(path, os.W_OK) or not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)


def record(user: str, role: str, action: str, object: str = "", outcome: str = "ok", *,  # noqa: A002 - the contract
           db_path=None, when: datetime | None = None, lock_timeout: float | None = None) -> None:
    """Append one audit row, in its own transaction under the store's write lock (see the module docstring).

    ValueError for an unknown action (or a `when` that is not a datetime); AuditError when the row could not be
    written, in plain words. Creates the store (empty, every table) when there is none yet.
    """
    row = [_utc(when), clean_text(user, LIMITS["user"]) or "unknown", clean_text(role, LIMITS["role"]),
           _check_action(action), clean_text(object, LIMITS["object"]), clean_text(outcome, LIMITS["outcome"])]
    try:
        _append(row, db_path, lock_timeout)
    except AuditError:
        raise
    except StoreError as err:
        raise AuditError(f"The audit row could not be written: {err}") from None
    except (duckdb.Error, OSError) as err:
        detail = getattr(err, "strerror", None) or (str(err).splitlines() or [type(err).__name__])[0]
        raise AuditError(f"The audit row could not be written to the outcome store {given_path(db_path)} "
                         f"({detail}).") from None


def _append(row: list, db_path, lock_timeout: float | None) -> None:
    shown, path = given_path(db_path), resolved_path(db_path)
    with store_lock(db_path, exclusive=True, timeout=lock_timeout):
        exists = path.exists()
        if exists:
            check_store_file(db_path)
            if _read_only(path):
                raise AuditError(f"The audit row could not be written: the outcome store {shown} is read-only "
                                 "(no write permission). Make it writable for the program, or run on a copy that "
                                 "is.")
        con = connect(db_path, read_only=False)
        try:
            known = exists and check_is_outcome_store(con, db_path)
            con.execute("BEGIN TRANSACTION")
            try:
                if not known:
                    store._create_schema(con)  # a new store: every table, the audit trail's included
                else:
                    version = schema_version(con)
                    if version not in READABLE_VERSIONS:
                        raise AuditError(f"The audit row could not be written: the store {shown} was written by "
                                         f"another version of this program (schema {version}).")
                    con.execute(AUDIT_DDL)  # an older store: the table only; no upgrade, no rewrite
                con.execute(f"INSERT INTO {AUDIT_TABLE} VALUES (?, ?, ?, ?, ?, ?)", row)
                con.execute("COMMIT")
            except BaseException:
                try:
                    con.execute("ROLLBACK")
                except duckdb.Error:
                    pass  # the failed statement already ended the transaction
                raise
        finally:
            con.close()


def since_utc(value) -> datetime | None:
    """The start of a `since` filter as naive UTC: a date means its midnight UTC; text is an ISO date or time."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return _utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    text = str(value).strip()
    try:
        return since_utc(date.fromisoformat(text))
    except ValueError:
        pass
    try:
        return _utc(datetime.fromisoformat(text))
    except ValueError:
        raise ValueError(f"since must be a date like 2025-03-14 (or a time like 2025-03-14T09:00Z), "
                         f"not {clean_text(text, 40)!r}.") from None


def empty_frame() -> pd.DataFrame:
    """No audit rows, with COLUMNS in their dtypes."""
    frame = pd.DataFrame({c: pd.Series(dtype="object") for c in COLUMNS})
    frame["at"] = pd.Series(dtype="datetime64[us]")
    return frame


def read(db_path=None, *, since: date | datetime | str | None = None, user: str | None = None,
         action: str | None = None, lock_timeout: float | None = None) -> pd.DataFrame:
    """The audit rows (COLUMNS), newest first; `since` keeps rows at or after it (a date: from its midnight UTC),
    `user` those of one user (any case), `action` those of one action (ValueError when unknown). No store, no
    table or no row: an empty frame with COLUMNS."""
    start = since_utc(since)
    conditions, params = [], []
    if start is not None:
        conditions.append('"at" >= ?')
        params.append(start)
    if user not in (None, ""):
        conditions.append('lower("user") = lower(?)')
        params.append(str(user).strip())
    if action not in (None, ""):
        conditions.append("action = ?")
        params.append(_check_action(action))
    where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
    with store._reader(db_path, lock_timeout) as reading:
        if reading is None:
            return empty_frame()
        try:
            reading.con.execute(f"SELECT NULL FROM {AUDIT_TABLE} WHERE false").fetchall()
        except duckdb.CatalogException:
            return empty_frame()  # a store from before the audit trail, not written since
        frame = reading.con.execute(
            f'SELECT "at", "user", role, action, object, outcome FROM {AUDIT_TABLE} {where} '
            'ORDER BY "at" DESC, rowid DESC', params).df()
    if not len(frame):
        return empty_frame()
    frame["at"] = frame["at"].astype("datetime64[us]")
    for column in COLUMNS[1:]:
        frame[column] = frame[column].astype("object")
    return frame.reset_index(drop=True)


def iso_utc(value) -> str:
    """A stored `at` as ISO 8601 with Z (microseconds only when there are some)."""
    return pd.Timestamp(value).isoformat() + "Z"


def records(frame: pd.DataFrame) -> list[dict]:
    """The rows as JSON-ready dicts, `at` in ISO 8601 with Z."""
    out = []
    for row in frame[COLUMNS].to_dict(orient="records"):
        row["at"] = iso_utc(row["at"])
        out.append(row)
    return out
