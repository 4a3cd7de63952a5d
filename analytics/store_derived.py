"""The store's derived session table: what `derive_sessions` works out that no threshold or setting changes,
written in the same transaction as every change to `sessions`, and completed for the user's settings at read time.

Why: deriving 1.3M sessions on every read (sort, cycles, intervals) costs seconds the app and `summary --db` pay
again and again; the thresholds only move a few cheap comparisons. So the writer (import, undo, purge, the upgrade
to schema 4) keeps `sessions_derived` in step with `sessions`, and readers select from it with the filters pushed
down into DuckDB.

Table `sessions_derived`: one row per stored session, written in derive_sessions' order (patient_id, session_date;
the store holds one session per patient and day) with `ord` its position, so a read needs no sort: a copy of the
`sessions` columns the summary and the app's filtered views read (COPIED: a read of those is one scan with the
filters applied; the other columns are joined from `sessions` on patient_id and session_date when asked for), and
the settings-free columns below, computed by `derive_sessions` itself under the default settings on the patient's
whole stored history (nothing dropped):
  pos                 0-based rank of the session in its patient's series (patient_id, session_date: the
                      store holds one session per patient and day, so this is derive_sessions' order)
  cycle               the cycle on the whole history
  cycle_anchor_date   where `cycle` was counted back from a later session's given cycle_number (no given number
                      at or before this session): that session's date; NULL otherwise
  interval_days       days since the patient's previous session (NULL for the first)
  next_session_date   the patient's next session (NULL for the last)
  response_pct, twstrs_change, has_response, any_adverse_event   as derive_sessions gives them
Computed at read time (`complete`), because they depend on Settings:
  * the as-of date (a setting): sessions after it are not read; `cycle` becomes pos + 1 where its anchor session
    is after it (derive_sessions never sees that session); next_session_date is NULL where the next session is
    after it; duration_days / duration_event from wearing_off_days, next_session_date and the as-of date (a
    wearing-off after it is censored at it);
  * the thresholds: short_interval, booster, twstrs_responder, responder, substantial, onset_within, peak_within
    (the same comparisons as sessions.add_outcomes, on the stored response_pct, twstrs_change and intervals).
The result equals derive_sessions(read_sessions(db), settings) column by column (tests/test_store_derived.py).

Kept in step: import (the patients of the new and updated rows), undo (the patients of the rows removed and
restored), purge (the patient's rows deleted), the upgrade to schema 4 and any store whose derived table is empty
while sessions is not (a full build). Pure functions on an open DuckDB connection; no Streamlit.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .sessions import DERIVED_COLUMNS, _bool_array, _float_array, _int_array, derive_sessions, numeric
from .settings import DEFAULT_SETTINGS, Settings

TABLE = "sessions_derived"

# (column, SQL type) of the settings-free columns, in table order.
STORED = (("pos", "BIGINT"), ("cycle", "BIGINT"), ("cycle_anchor_date", "DATE"), ("interval_days", "BIGINT"),
          ("next_session_date", "DATE"), ("response_pct", "DOUBLE"), ("twstrs_change", "DOUBLE"),
          ("has_response", "BOOLEAN"), ("any_adverse_event", "BOOLEAN"))
STORED_NAMES = tuple(name for name, _ in STORED)

# The columns of `sessions` the table copies: what the summary and the app's filtered views read (a read of only
# these is one scan). The others (session_id, muscles, adverse_events, pgic, cycle_number, extras, ...) are joined
# from `sessions` on patient_id and session_date when asked for: copying long text costs the import more.
COPIED = ("patient_id", "session_date", "site", "practitioner_id", "indication", "product", "total_units",
          "baseline_pain", "followup_pain", "baseline_twstrs", "followup_twstrs", "followup_days", "onset_days",
          "peak_days", "wearing_off_days")

# The full build derives at most about this many sessions at once (whole patients), to bound its memory.
CHUNK_SESSIONS = 400_000

# The input columns derive_sessions needs for the settings-free columns.
_BUILD_INPUT = ("patient_id", "session_date", "cycle_number", "baseline_pain", "followup_pain", "baseline_twstrs",
                "followup_twstrs", "adverse_events")

# The columns summary.summarise reads (the headline figures, the selection's columns and the flags' inputs).
SUMMARY_COLUMNS = ("patient_id", "session_date", "site", "practitioner_id", "indication", "product", "baseline_pain",
                   "onset_days", "peak_days", *DERIVED_COLUMNS)

# The input columns `complete` needs besides the stored ones.
COMPLETE_INPUT = ("patient_id", "session_date", "onset_days", "peak_days", "wearing_off_days")

# Which derived column needs which stored / input columns (to read only what is asked for).
NEEDS = {
    "cycle": ("pos", "cycle", "cycle_anchor_date"),
    "interval_days": ("interval_days",),
    "short_interval": ("interval_days",),
    "booster": ("interval_days",),
    "response_pct": ("response_pct",),
    "twstrs_change": ("twstrs_change",),
    "twstrs_responder": ("twstrs_change",),
    "has_response": ("has_response",),
    "responder": ("response_pct", "twstrs_change", "has_response"),
    "substantial": ("response_pct",),
    "onset_within": ("onset_days",),
    "peak_within": ("peak_days",),
    "next_session_date": ("next_session_date",),
    "duration_days": ("response_pct", "twstrs_change", "has_response", "next_session_date", "wearing_off_days"),
    "duration_event": ("next_session_date", "wearing_off_days"),
    "any_adverse_event": ("any_adverse_event",),
}


def create_sql() -> str:
    """DDL of the (empty) derived table: the copied sessions columns, the stored columns, then `ord`."""
    extra = ", ".join(f"CAST(NULL AS {sql}) AS {name}" for name, sql in (*STORED, ("ord", "BIGINT")))
    return f"CREATE TABLE IF NOT EXISTS {TABLE} AS SELECT {', '.join(COPIED)}, {extra} FROM sessions WHERE false"


def exists(con) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'main' AND "
                            "database_name = current_database() AND table_name = ?", [TABLE]).fetchall()[0][0])


def _frame(table: pa.Table) -> pd.DataFrame:
    """Arrow input rows -> the dtypes derive_sessions sees from read_sessions."""
    mapper = {pa.int64(): pd.Int64Dtype(), pa.float64(): pd.Float64Dtype()}.get
    frame = table.to_pandas(types_mapper=mapper)
    for column in ("patient_id", "adverse_events"):
        frame[column] = frame[column].astype("str")
    frame["session_date"] = frame["session_date"].astype("datetime64[s]")
    return frame


def settings_free(frame: pd.DataFrame) -> pd.DataFrame:
    """The stored columns for the sessions of `frame` (whole patient histories; input columns of _BUILD_INPUT
    and session_key), by derive_sessions under the default settings: session_key, then STORED_NAMES."""
    derived = derive_sessions(frame, DEFAULT_SETTINGS)  # as-of: the latest date, so no session is dropped
    n = len(derived)
    codes = pd.factorize(derived["patient_id"])[0]
    idx = np.arange(n)
    first = np.ones(n, bool)
    first[1:] = codes[1:] != codes[:-1]
    last = np.ones(n, bool)
    last[:-1] = codes[1:] != codes[:-1]
    block = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    ends = np.flatnonzero(last)
    pos = idx - starts[block] if n else idx
    given = derived["cycle_number"].notna().to_numpy() if n else np.zeros(0, bool)
    if n:
        last_given = np.maximum.accumulate(np.where(given, idx, -1))
        has_prev = (last_given >= 0) & (last_given >= starts[block])
        next_given = np.minimum.accumulate(np.where(given, idx, n)[::-1])[::-1]
        has_next = (next_given < n) & (next_given <= ends[block])
        from_next = ~given & ~has_prev & has_next
        day = derived["session_date"].to_numpy().astype("datetime64[D]")
        anchor = np.where(from_next, day[np.clip(next_given, 0, n - 1)], np.datetime64("NaT"))
    else:
        anchor = np.zeros(0, "datetime64[D]")
    return pd.DataFrame({
        "session_key": derived["session_key"].to_numpy(dtype=object),
        "pos": pos.astype("int64"),
        "cycle": derived["cycle"],
        "cycle_anchor_date": anchor.astype("datetime64[s]"),
        "interval_days": derived["interval_days"],
        "next_session_date": derived["next_session_date"],
        "response_pct": derived["response_pct"],
        "twstrs_change": derived["twstrs_change"],
        "has_response": derived["has_response"],
        "any_adverse_event": derived["any_adverse_event"],
    })


def refresh(con, patients: str | None = None, params: list | None = None) -> None:
    """Bring the derived table in step with `sessions` for the patients whose ids the SQL `patients` selects (in
    the caller's transaction; None or an empty derived table: every patient). A patient with no session left
    just loses their rows. The table is rewritten in derive_sessions' order (patient_id, session_date) with `ord`
    its position, so a reader needs no sort."""
    con.execute(create_sql())
    full = patients is None or not con.execute(f"SELECT EXISTS (SELECT 1 FROM {TABLE})").fetchall()[0][0]
    if full:
        where, kept = "", f"SELECT * EXCLUDE (ord) FROM {TABLE} WHERE false"
    else:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _derive_patients AS SELECT DISTINCT patient_id FROM ({patients})",
                    list(params or []))
        where = "WHERE patient_id IN (SELECT patient_id FROM _derive_patients)"
        kept = (f"SELECT * EXCLUDE (ord) FROM {TABLE} "
                "WHERE patient_id NOT IN (SELECT patient_id FROM _derive_patients)")
    columns = ", ".join(f"CAST({c} AS TIMESTAMP_S) AS {c}" if c == "session_date" else c for c in _BUILD_INPUT)
    count = con.execute(f"SELECT count(*) FROM sessions {where}").fetchall()[0][0]
    parts = max(1, -(-int(count) // CHUNK_SESSIONS))  # whole patients per part: memory stays bounded
    con.execute("CREATE OR REPLACE TEMP TABLE _derived_new (session_key VARCHAR, "
                + ", ".join(f"{name} {sql}" for name, sql in STORED) + ")")
    # one scan; then whole patients per part (by a hash of the code), derived one part at a time
    inputs = con.sql(f"SELECT session_key, {columns}, CAST(hash(patient_id) % {parts} AS BIGINT) AS part "
                     f"FROM sessions {where}").to_arrow_table()
    for part in range(parts):
        table = inputs if parts == 1 else inputs.filter(pc.equal(inputs["part"], part))
        if not table.num_rows:
            continue
        frame = _frame(table.drop_columns(["part"]))
        con.register("_derived_part", pa.Table.from_pandas(settings_free(frame), preserve_index=False))
        try:
            cast = ", ".join(f"CAST({name} AS {sql})" for name, sql in STORED)
            con.execute(f"INSERT INTO _derived_new SELECT session_key, {cast} FROM _derived_part")
        finally:
            con.unregister("_derived_part")
        del table, frame
    del inputs
    rows = (f"{kept} UNION ALL SELECT {', '.join('s.' + c for c in COPIED)}, "
            f"{', '.join('n.' + n for n in STORED_NAMES)} FROM sessions s JOIN _derived_new n USING (session_key)")
    order = "ORDER BY patient_id, session_date"
    insertion_order = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    con.execute("SET preserve_insertion_order = true")  # the rows land in the file in this order
    try:
        con.execute(f"CREATE OR REPLACE TABLE {TABLE}_next AS SELECT *, row_number() OVER ({order}) - 1 AS ord "
                    f"FROM ({rows}) {order}")
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if insertion_order else 'false'}")
    con.execute("DROP TABLE _derived_new")
    con.execute(f"DROP TABLE {TABLE}")
    con.execute(f"ALTER TABLE {TABLE}_next RENAME TO {TABLE}")
    if not full:
        con.execute("DROP TABLE _derive_patients")


def stored_columns_for(derived: list[str]) -> list[str]:
    """The stored and input columns `complete` needs to give the derived columns `derived`."""
    out = {"session_date": None}
    for name in derived:
        for need in NEEDS[name]:
            out[need] = None
    return list(out)


def complete(frame: pd.DataFrame, settings: Settings, as_of_day: int, derived: list[str] | None = None,
             drop: list[str] = ()) -> pd.DataFrame:
    """Add the derived columns `derived` (default: all of DERIVED_COLUMNS, in that order) to rows read from the
    derived table (sessions up to the as-of date, in derive_sessions' order), for `settings` and the as-of date
    (days since the epoch); the stored helper columns (names in STORED_NAMES prefixed with '__') are dropped, and
    so are the input columns in `drop` (read only for this)."""
    wanted = list(DERIVED_COLUMNS) if derived is None else list(derived)
    out = frame.copy(deep=False)
    n = len(out)
    day = out["session_date"].to_numpy().astype("datetime64[D]").astype("int64") if n else np.zeros(0, "int64")

    def stored(name: str) -> pd.Series:
        return out[f"__{name}"]

    def days(name: str) -> tuple[np.ndarray, np.ndarray]:
        values = stored(name).to_numpy().astype("datetime64[D]")
        missing = np.isnat(values)
        return np.where(missing, 0, values.astype("int64")), missing

    columns: dict[str, object] = {}
    need = set(wanted)
    if "cycle" in need:
        anchor, no_anchor = days("cycle_anchor_date")
        cut = ~no_anchor & (anchor > as_of_day)  # counted back from a session after the as-of date
        cycle = numeric(out, "__cycle")
        pos = stored("pos").to_numpy(dtype="int64", na_value=0)
        columns["cycle"] = _int_array(np.where(cut, pos + 1, cycle), np.zeros(n, bool))
    interval = numeric(out, "__interval_days") if "__interval_days" in out.columns else None
    if "interval_days" in need:
        columns["interval_days"] = stored("interval_days").astype("Int64")
    if need & {"short_interval", "booster"}:
        no_interval = np.isnan(interval)
        columns["short_interval"] = ~no_interval & (interval < settings.short_interval_days)
        columns["booster"] = ~no_interval & (interval < settings.booster_days)
    pct = numeric(out, "__response_pct") if "__response_pct" in out.columns else None
    tw_change = numeric(out, "__twstrs_change") if "__twstrs_change" in out.columns else None
    if "response_pct" in need:
        columns["response_pct"] = stored("response_pct").astype("Float64")
    if "twstrs_change" in need:
        columns["twstrs_change"] = stored("twstrs_change").astype("Float64")
    if "twstrs_responder" in need:
        columns["twstrs_responder"] = _bool_array(-tw_change >= settings.twstrs_responder_drop, np.isnan(tw_change))
    has_response = (stored("has_response").to_numpy(dtype=bool, na_value=False)
                    if "__has_response" in out.columns else None)
    if "has_response" in need:
        columns["has_response"] = has_response
    responder = None
    if need & {"responder", "duration_days"}:
        with np.errstate(invalid="ignore"):
            responder = np.where(~np.isnan(pct), pct >= settings.responder_threshold_pct,
                                 -tw_change >= settings.twstrs_responder_drop)
    if "responder" in need:
        columns["responder"] = _bool_array(responder, ~has_response)
    if "substantial" in need:
        columns["substantial"] = _bool_array(pct >= settings.substantial_threshold_pct, np.isnan(pct))
    if "onset_within" in need:
        onset = numeric(out, "onset_days")
        columns["onset_within"] = _bool_array(onset <= settings.onset_within_days, np.isnan(onset))
    if "peak_within" in need:
        peak = numeric(out, "peak_days")
        columns["peak_within"] = _bool_array(peak <= settings.peak_within_days, np.isnan(peak))
    if need & {"next_session_date", "duration_days", "duration_event"}:
        next_day, no_next = days("next_session_date")
        has_next = ~no_next & (next_day <= as_of_day)  # a next session after the as-of date is not seen
        if "next_session_date" in need:
            columns["next_session_date"] = pd.Series(
                np.where(has_next, next_day, 0).astype("datetime64[D]").astype("datetime64[s]"),
                index=out.index).where(has_next)
        wearing_off = numeric(out, "wearing_off_days")
        with np.errstate(invalid="ignore"):
            event = ~np.isnan(wearing_off) & (day + wearing_off <= as_of_day)
        if "duration_days" in need:
            censor_at = np.where(has_next, next_day - day, as_of_day - day).astype("float64")
            duration = np.where(event, wearing_off, censor_at)
            columns["duration_days"] = _float_array(duration, ~(has_response & responder))
        if "duration_event" in need:
            columns["duration_event"] = event
    if "any_adverse_event" in need:
        columns["any_adverse_event"] = stored("any_adverse_event").astype("boolean")
    helpers = [c for c in out.columns if c.startswith("__")] + [c for c in drop if c in out.columns]
    out = out.drop(columns=helpers)
    for name in wanted:
        out[name] = columns[name]
    return out
