"""The store's derived session table (analytics/store_derived.py): written with every change to the sessions,
completed for the settings at read time, and read with the selection in DuckDB. The oracle is the path it
replaces: derive_sessions(read_sessions(db), settings), then select(); and `summary FILE` for `summary --db`."""
from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from analytics import store, store_derived
from analytics.cli import main
from analytics.ingest import load_sessions
from analytics.selection import Selection, by_values, select
from analytics.sessions import DERIVED_COLUMNS, derive_sessions
from analytics.settings import DEFAULT_SETTINGS

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample" / "sessions.csv"
V2 = ROOT / "tests" / "data" / "store_v2.duckdb"

CHANGED = DEFAULT_SETTINGS.with_changes(responder_threshold_pct=50.0, substantial_threshold_pct=60.0,
                                        twstrs_responder_drop=10.0, short_interval_days=70, booster_days=21,
                                        onset_within_days=5, peak_within_days=10)
EARLY = DEFAULT_SETTINGS.with_changes(as_of=date(2024, 6, 30))  # months before the sample's last session
EARLY_CHANGED = CHANGED.with_changes(as_of=date(2024, 3, 15))
SETTINGS = [DEFAULT_SETTINGS, CHANGED, EARLY, EARLY_CHANGED]


def do_import(path: Path, db: Path, **options) -> store.ImportReport:
    return store.import_result(load_sessions(path.read_bytes(), name=path.name), store.file_hash(path), None,
                               db_path=db, **options)


def expected(db: Path, settings, selection: Selection | None = None) -> pd.DataFrame:
    """The oracle: every session read back, derived in Python, then selected."""
    history = derive_sessions(store.read_sessions(db), settings)
    return history if selection is None else select(history, selection)


def assert_derived_equal(db: Path, settings=DEFAULT_SETTINGS) -> None:
    """read_derived equals the oracle column by column (values, dtypes, order, index), and the stored table holds
    one row per stored session, numbered in derive_sessions' order."""
    oracle = expected(db, settings)
    got = store.read_derived(db, settings=settings)
    assert list(got.columns) == list(oracle.columns)
    for column in oracle.columns:
        pd.testing.assert_series_equal(got[column], oracle[column], check_exact=True, obj=column)
    with duckdb.connect(str(db), read_only=True) as con:
        sessions = con.execute("SELECT count(*) FROM sessions").fetchall()[0][0]
        rows = con.execute(f"SELECT patient_id, session_date, ord FROM {store_derived.TABLE}").fetchall()
    assert len(rows) == sessions
    order = [r[2] for r in rows]
    assert order == sorted(set(order))  # stored in order (a purge leaves gaps): a read needs no sort
    assert [r[:2] for r in rows] == sorted(r[:2] for r in rows)


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("derived") / "sample.duckdb"
    do_import(SAMPLE, db)
    return db


@pytest.mark.parametrize("settings", SETTINGS, ids=["default", "thresholds", "as_of", "as_of_thresholds"])
def test_read_derived_equals_deriving_the_stored_sessions(sample_db, settings):
    assert_derived_equal(sample_db, settings)


@pytest.mark.parametrize("selection", [
    Selection("Custom range", date(2024, 1, 1), date(2024, 12, 31)),
    Selection("All data", None, None, by_values(site=["Central"])),
    Selection("Custom range", date(2023, 6, 1), None, by_values(practitioner_id=["PR05", "PR02"],
                                                               product=["onabotulinumtoxinA"])),
], ids=["period", "site", "practitioners_product"])
def test_the_selection_is_applied_in_duckdb_as_select_does(sample_db, selection):
    for settings in (DEFAULT_SETTINGS, EARLY_CHANGED):
        oracle = expected(sample_db, settings, selection)
        got = store.read_derived(sample_db, settings=settings, selection=selection)
        assert len(got) and len(got) < len(expected(sample_db, settings))
        pd.testing.assert_frame_equal(got, oracle, check_exact=True)
        columns = ["patient_id", "responder", "duration_days", "site", "cycle"]
        pd.testing.assert_frame_equal(store.read_derived(sample_db, settings=settings, selection=selection,
                                                         columns=columns), oracle[columns], check_exact=True)
        # the whole history, up to the as-of date, of each patient the selection keeps (what flags judge)
        history = expected(sample_db, settings)
        seen = set(oracle["patient_id"])
        whole = history.loc[history["patient_id"].isin(seen)].reset_index(drop=True)
        got = store.read_derived(sample_db, settings=settings, selection=selection, patients_of_selection=True)
        pd.testing.assert_frame_equal(got, whole, check_exact=True)
        assert len(whole) >= len(oracle)


def summary_json(capsys, *args) -> dict:
    assert main(["summary", *[str(a) for a in args], "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("options", [
    [],
    ["--threshold", "50", "--short-interval-days", "70", "--booster-days", "21", "--onset-within-days", "5"],
    ["--as-of", "2024-06-30"],
    ["--as-of", "2024-03-15", "--threshold", "40"],
    ["--site", "Central"],
    ["--practitioner", "PR05", "--from", "2024-01-01", "--to", "2024-09-30"],
], ids=["default", "thresholds", "as_of", "as_of_threshold", "site", "practitioner_dates"])
def test_summary_of_the_store_equals_summary_of_the_file(sample_db, capsys, options):
    from_file = summary_json(capsys, SAMPLE, *options)
    from_store = summary_json(capsys, "--db", sample_db, *options)
    for out in (from_file, from_store):
        out.pop("rejected_rows")  # the store keeps accepted rows only
    assert from_store == from_file
    assert from_store["sessions"] > 0


def test_summary_of_the_store_refuses_what_the_file_refuses(sample_db, capsys):
    assert main(["summary", "--db", str(sample_db), "--site", "Nowhere", "--json"]) == 2
    assert "no site 'Nowhere' in the data (it has: " in capsys.readouterr().err
    assert main(["summary", "--db", str(sample_db), "--as-of", "2031-01-01", "--json"]) == 2
    assert "is after the latest session in the data" in capsys.readouterr().err


# ---- hand-worked cases the as-of date changes ------------------------------------------------------------
HEADER = ("patient_id,session_date,product,total_units,baseline_pain,followup_pain,wearing_off_days,cycle_number,"
          "baseline_twstrs,followup_twstrs,adverse_events")
HAND = [
    "A1,2024-01-01,Botox,100,8,2,,,,,none",  # cycle counted back from the next session's given 5
    "A1,2024-04-01,Botox,100,8,2,,5,,,",
    "B2,2024-01-01,Botox,100,8,2,60,,,,dysphagia",  # wears off 1 Mar; next session 15 Mar
    "B2,2024-03-15,Botox,100,8,6,,,,,none; ",
    "p10,2024-02-01,Botox,100,,,,,40,32,",  # TWSTRS only: an 8-point drop
    "Z9,2024-02-02,Botox,100,10,5,,2,,,",
    "a3,2024-02-03,Botox,100,6,3,,,32.7,24.7,",
]


def write(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def test_hand_worked_values_before_and_at_an_early_as_of(tmp_path):
    db = tmp_path / "hand.duckdb"
    do_import(write(tmp_path / "hand.csv", HAND), db)
    full = store.read_derived(db).set_index(["patient_id", "session_date"])
    assert full.loc[("A1", pd.Timestamp("2024-01-01")), "cycle"] == 4
    b1 = full.loc[("B2", pd.Timestamp("2024-01-01"))]
    assert (b1["duration_days"], b1["duration_event"]) == (60.0, True)
    assert b1["next_session_date"] == pd.Timestamp("2024-03-15")
    early = DEFAULT_SETTINGS.with_changes(as_of=date(2024, 2, 15))
    got = store.read_derived(db, settings=early).set_index(["patient_id", "session_date"])
    # the session the cycle was counted back from is after the as-of date: its rank, as derive_sessions gives
    assert got.loc[("A1", pd.Timestamp("2024-01-01")), "cycle"] == 1
    # the wearing-off (1 Mar) and the next session (15 Mar) are after 15 Feb: censored there, 45 days
    b1 = got.loc[("B2", pd.Timestamp("2024-01-01"))]
    assert (b1["duration_days"], b1["duration_event"]) == (45.0, False)
    assert pd.isna(b1["next_session_date"])
    assert list(got.index.get_level_values(0)) == ["A1", "B2", "Z9", "a3", "p10"]  # code-point order
    for settings in (DEFAULT_SETTINGS, early, CHANGED, CHANGED.with_changes(as_of=date(2024, 2, 1))):
        assert_derived_equal(db, settings)


def test_the_table_follows_imports_that_replace_rows_undo_and_purge(tmp_path):
    db = tmp_path / "store.duckdb"
    sample = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    first = sample.iloc[:1500]
    path = tmp_path / "first.csv"
    first.to_csv(path, index=False)
    do_import(path, db)
    assert_derived_equal(db)
    # a second file: changed responses and cycle numbers for some stored sessions, sessions added to stored
    # patients, and new patients
    second = sample.iloc[1000:2200].copy()
    changed = second.index[:200]
    second.loc[changed, "followup_pain"] = "1"
    second.loc[changed[::3], "cycle_number"] = "9"
    path = tmp_path / "second.csv"
    second.to_csv(path, index=False)
    report = do_import(path, db)
    assert report.updated > 0 and report.new > 0
    for settings in (DEFAULT_SETTINGS, EARLY_CHANGED):
        assert_derived_equal(db, settings)
    store.undo(report.batch_id, db)
    assert_derived_equal(db)
    patient = str(first["patient_id"].iloc[0])
    store.purge(patient, db)
    assert_derived_equal(db, EARLY)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(f"SELECT count(*) FROM {store_derived.TABLE} WHERE patient_id = ?",
                           [patient]).fetchall() == [(0,)]


def test_an_older_store_is_derived_on_reading_and_gets_the_table_at_its_upgrade(tmp_path):
    db = tmp_path / "v2.duckdb"
    shutil.copy(V2, db)
    oracle = expected(db, EARLY_CHANGED)
    pd.testing.assert_frame_equal(store.read_derived(db, settings=EARLY_CHANGED), oracle, check_exact=True)
    assert store.selection_values(db)["session_date"].max() == store.read_sessions(db)["session_date"].max()
    report = do_import(write(tmp_path / "new.csv", ["NEW1,2025-01-06,Botox,100,8,2,,,,,"]), db)
    assert any("schema 4" in note for note in report.notes)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchall() == [("4",)]
    assert_derived_equal(db)


def test_a_schema_3_store_gets_the_table_at_its_next_write(tmp_path):
    db = tmp_path / "v3.duckdb"
    do_import(write(tmp_path / "hand.csv", HAND), db)
    with duckdb.connect(str(db)) as con:  # as this program's previous version left it
        con.execute(f"DROP TABLE {store_derived.TABLE}")
        con.execute("UPDATE meta SET value = '3' WHERE name = 'schema_version'")
    pd.testing.assert_frame_equal(store.read_derived(db), expected(db, DEFAULT_SETTINGS), check_exact=True)
    report = do_import(write(tmp_path / "more.csv", ["C3,2024-03-01,Botox,100,7,3,,,,,"]), db)
    assert len(report.notes) == 1
    assert "schema 4" in report.notes[0]
    assert_derived_equal(db, EARLY_CHANGED)


def test_an_empty_or_missing_store_reads_as_no_sessions(tmp_path):
    got = store.read_derived(tmp_path / "none.duckdb")
    assert len(got) == 0 and list(got.columns)[-len(DERIVED_COLUMNS):] == list(DERIVED_COLUMNS)


def test_a_build_in_parts_gives_the_same_table(tmp_path, monkeypatch):
    monkeypatch.setattr(store_derived, "CHUNK_SESSIONS", 500)  # the sample in 7 parts of whole patients
    db = tmp_path / "parts.duckdb"
    do_import(SAMPLE, db)
    assert_derived_equal(db, EARLY_CHANGED)


def test_one_base_read_gives_every_settings_derived_frame(sample_db):
    base = store.read_derived_base(sample_db)
    for settings in SETTINGS:
        pd.testing.assert_frame_equal(store.derived_for(base, settings), expected(sample_db, settings),
                                      check_exact=True)
    assert store.read_derived_base(sample_db.parent / "missing.duckdb") is None


def test_the_overview_on_the_store_shows_what_it_shows_on_the_same_file(tmp_path, monkeypatch):
    from tests.app_support import app, no_errors

    db = tmp_path / "outcomes.duckdb"
    do_import(SAMPLE, db)
    monkeypatch.setenv("OUTCOMES_DB", str(tmp_path / "none.duckdb"))
    on_file = app()
    monkeypatch.setenv("OUTCOMES_DB", str(db))
    on_store = app()
    for at in (on_file, on_store):
        no_errors(at)
    assert "Clinic store" in " ".join(m.value for m in on_store.markdown)
    tiles = {m.label: (m.value, m.help) for m in on_file.metric}
    assert len(tiles) >= 4
    assert {m.label: (m.value, m.help) for m in on_store.metric} == tiles


def test_summary_of_a_store_emptied_by_undo_is_the_summary_of_no_sessions(tmp_path, capsys):
    from analytics.summary import summarise

    db = tmp_path / "emptied.duckdb"
    report = do_import(write(tmp_path / "hand.csv", HAND), db)
    store.undo(report.batch_id, db)
    assert summary_json(capsys, "--db", db) == json.loads(json.dumps(summarise(store.read_sessions(db))))


def test_extra_columns_come_with_the_rows_and_a_table_out_of_step_is_refused(tmp_path):
    db = tmp_path / "extras.duckdb"
    rows = [f"{r},{'routine' if i % 2 else 'review'}" for i, r in enumerate(HAND)]
    do_import(write(tmp_path / "extras.csv", rows, HEADER + ",visit_type"), db)
    assert "visit_type" in store.read_derived(db).columns
    assert_derived_equal(db, EARLY_CHANGED)
    got = store.read_derived(db, columns=["visit_type", "cycle", "muscles"])
    pd.testing.assert_frame_equal(got, expected(db, DEFAULT_SETTINGS)[["visit_type", "cycle", "muscles"]])
    with duckdb.connect(str(db)) as con:
        con.execute(f"DELETE FROM {store_derived.TABLE} WHERE patient_id = 'B2'")
    with pytest.raises(store.StoreError, match="out of step"):
        store.read_derived(db, columns=["patient_id", "visit_type"])
