"""The outcome store: import, re-import, corrected file, undo, failure half way, round trip, keys, extras."""
from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from analytics import store
from analytics.ingest import load_assessments, load_sessions
from analytics.schema import SESSION_DTYPES
from analytics.store import ImportReport, StoreError
from analytics.summary import summarise

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"

HEADER = "session_id,patient_id,session_date,site,product,total_units,baseline_pain,followup_pain,wearing_off_days,Referral"
ROWS = [
    "S1,P1,2025-01-06,North,Botox,200,8,4,80,GP",
    "S2,P1,2025-04-07,North,Botox,200,8,5,,GP",
    "S3,P2,2025-02-03,South,Dysport,500,6,2,90,",
    "S4,P2,2025-05-05,South,Dysport,500,6,3,,self",
    "S5,P3,2025-03-03,North,Xeomin,100,7,7,,",
]


def write(tmp_path: Path, name: str, rows: list[str], header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def do_import(path: Path, db: Path, **options) -> ImportReport:
    result = load_sessions(path, **options)
    return store.import_result(result, store.file_hash(path), path.name, None, db)


def dump(db: Path) -> dict[str, list[tuple]]:
    """Every table of the store, rows sorted: the store's whole state, for before/after comparisons."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1").fetchall()]
        out = {}
        for table in tables:
            rows = con.execute(f"SELECT * FROM {table}").fetchall()
            out[table] = sorted(rows, key=repr)
        return out
    finally:
        con.close()


def as_stored(data: pd.DataFrame) -> pd.DataFrame:
    """The accepted rows as the store gives them back: no `line`, blank extra values read back as missing."""
    out = data.drop(columns="line")
    for column in out.columns:
        if column not in SESSION_DTYPES and column not in store.ASSESSMENT_DTYPES:
            out[column] = out[column].where(out[column].str.strip() != "")
    return out


@pytest.fixture
def db(tmp_path):
    return tmp_path / "store" / "outcomes.duckdb"


# ---- import and read back --------------------------------------------------------------------------------
def test_import_counts_and_read_back_in_file_dtypes(tmp_path, db):
    path = write(tmp_path, "jan.csv", ROWS + ["S6,P4,2025-03-03,North,Botox,-5,7,3,,"])  # one rejected
    result = load_sessions(path)
    report = store.import_result(result, store.file_hash(path), "jan.csv", None, db)
    assert (report.rows, report.accepted, report.rejected) == (6, 5, 1)
    assert (report.new, report.updated, report.unchanged) == (5, 0, 0)
    assert report.batch_id == 1 and report.changed
    assert "5 new, 0 updated, 0 unchanged" in report.message()
    stored = store.read_sessions(db)
    expected = as_stored(result.data)
    assert stored["Referral"].isna().tolist() == [False, False, True, False, True]
    pd.testing.assert_frame_equal(stored, expected)
    assert {c: str(t) for c, t in stored.dtypes.items() if c in SESSION_DTYPES} == SESSION_DTYPES
    assert not store.is_empty(db)


def test_round_trip_dtypes_and_values_equal_the_file_on_the_samples(db):
    for name, options in [("sessions.csv", {}),
                          ("messy_export.csv", {"date_order": "dayfirst", "drop_identifiers": True})]:
        result = load_sessions(SAMPLE / name, **options)
        target = db.with_name(name + ".duckdb")
        store.import_result(result, store.file_hash(SAMPLE / name), name, None, target)
        stored = store.read_sessions(target)
        expected = as_stored(result.data)
        assert stored.dtypes.to_dict() == expected.dtypes.to_dict()
        pd.testing.assert_frame_equal(stored, expected)
        with_meta = store.read_sessions(target, meta=True)
        assert with_meta["line"].tolist() == result.data["line"].tolist()
        assert set(with_meta["batch_id"]) == {1}


def test_summarise_gives_identical_output_from_the_store_and_from_the_file(db):
    for name, options in [("sessions.csv", {}),
                          ("messy_export.csv", {"date_order": "dayfirst", "drop_identifiers": True})]:
        result = load_sessions(SAMPLE / name, **options)
        target = db.with_name(name + ".duckdb")
        store.import_result(result, store.file_hash(SAMPLE / name), name, None, target)
        from_store = summarise(store.read_sessions(target))
        from_file = summarise(result.data)
        assert json.dumps(from_store, sort_keys=True) == json.dumps(from_file, sort_keys=True)


def test_missing_store_reads_as_empty_and_is_not_created(tmp_path):
    db = tmp_path / "none" / "outcomes.duckdb"
    assert store.is_empty(db)
    frame = store.read_sessions(db)
    assert len(frame) == 0 and frame.dtypes.astype(str).to_dict() == SESSION_DTYPES
    assert len(store.history(db)) == 0
    assert store.stats(db)["sessions"] == 0
    assert not db.exists()


def test_default_path_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(store.DB_ENV, str(tmp_path / "env.duckdb"))
    assert store.default_db_path() == tmp_path / "env.duckdb"
    path = write(tmp_path, "jan.csv", ROWS)
    result = load_sessions(path)
    store.import_result(result, store.file_hash(path), "jan.csv")
    assert (tmp_path / "env.duckdb").exists()
    assert len(store.read_sessions()) == 5
    monkeypatch.delenv(store.DB_ENV)
    assert store.default_db_path() == ROOT / "data" / "outcomes.duckdb"


def test_date_range_filter(tmp_path, db):
    do_import(write(tmp_path, "jan.csv", ROWS), db)
    got = store.read_sessions(db, start="2025-02-01", end="2025-04-07")
    assert sorted(got["session_id"]) == ["S2", "S3", "S5"]


# ---- re-import and corrected files -----------------------------------------------------------------------------
def test_reimporting_the_same_file_changes_nothing_and_says_so(tmp_path, db):
    path = write(tmp_path, "jan.csv", ROWS)
    first = do_import(path, db)
    before = dump(db)
    again = do_import(path, db)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 5)
    assert again.batch_id is None and not again.changed
    assert again.earlier_batches == [first.batch_id]
    assert again.message().startswith("Nothing changed")
    assert "imported before as batch 1" in again.message()
    assert dump(db) == before
    assert len(store.history(db)) == 1


def test_corrected_file_updates_only_the_changed_sessions(tmp_path, db):
    do_import(write(tmp_path, "jan.csv", ROWS), db)
    corrected = [
        "S1,P1,2025-01-06,North,Botox,200,8,4,80,GP",  # unchanged
        "S2,P1,2025-04-07,North,Botox,200,8,2,,GP",  # followup 5 -> 2
        "S3,P2,2025-02-03,South,Dysport,500,6,2,90,clinic",  # extra column filled in
        "S4,P2,2025-05-05,South,Dysport,500,6,3,,self",  # unchanged
        "S6,P4,2025-06-02,North,Botox,150,5,1,,",  # new
        "S7,P5,2025-06-02,North,Botox,abc,5,1,,",  # rejected
    ]  # S5 left out: kept as it was
    path = write(tmp_path, "jan_corrected.csv", corrected)
    report = do_import(path, db)
    assert (report.rows, report.accepted, report.rejected) == (6, 5, 1)
    assert (report.new, report.updated, report.unchanged) == (1, 2, 2)
    assert report.batch_id == 2
    stored = store.read_sessions(db, meta=True).set_index("session_id").sort_index()
    assert list(stored.index) == ["S1", "S2", "S3", "S4", "S5", "S6"]
    assert stored.loc["S2", "followup_pain"] == 2
    assert stored.loc["S3", "Referral"] == "clinic"
    assert stored["batch_id"].to_dict() == {"S1": 1, "S2": 2, "S3": 2, "S4": 1, "S5": 1, "S6": 2}
    # row for row: the corrected file's rows, plus the stored row it did not mention
    expected = pd.concat([as_stored(load_sessions(path).data),
                          as_stored(load_sessions(tmp_path / "jan.csv").data).iloc[[4]]])
    expected = expected.set_index("session_id").sort_index()
    pd.testing.assert_frame_equal(stored.drop(columns=["batch_id", "line"]), expected)
    log = store.history(db)
    assert log[["batch_id", "new", "updated", "unchanged", "rejected"]].values.tolist() == [
        [2, 1, 2, 2, 1], [1, 5, 0, 0, 0]]


def test_sessions_without_session_id_are_keyed_by_patient_and_date(tmp_path, db):
    header = "patient_id,session_date,product,total_units,baseline_pain,followup_pain"
    rows = ["P1,2025-01-06,Botox,200,8,4", "P1,2025-04-07,Botox,200,8,5", "P2,2025-04-07,Botox,100,6,3"]
    do_import(write(tmp_path, "a.csv", rows, header), db)
    fixed = ["P1,2025-01-06,Botox,200,8,4", "P1,2025-04-07,Botox,200,8,1", "P3,2025-04-07,Botox,100,6,3"]
    report = do_import(write(tmp_path, "b.csv", fixed, header), db)
    assert (report.new, report.updated, report.unchanged) == (1, 1, 1)
    stored = store.read_sessions(db)
    assert len(stored) == 4
    assert stored.loc[(stored["patient_id"] == "P1") & (stored["session_date"] == "2025-04-07"),
                      "followup_pain"].tolist() == [1]


def test_blank_extra_values_are_not_stored_and_a_missing_extra_column_keeps_its_values(tmp_path, db):
    do_import(write(tmp_path, "a.csv", ROWS), db)
    header = HEADER.removesuffix(",Referral")
    rows = [",".join(r.split(",")[:-1]) for r in ROWS]
    report = do_import(write(tmp_path, "b.csv", rows, header), db)
    # a file without the Referral column leaves the stored Referral values as they were
    assert (report.new, report.updated, report.unchanged) == (0, 0, 5)
    assert report.absent_columns == {"Referral": 3}
    assert store.read_sessions(db)["Referral"].fillna("-").tolist() == ["GP", "GP", "-", "self", "-"]


# ---- undo ----------------------------------------------------------------------------------------------------
def test_undo_restores_the_store_row_for_row(tmp_path, db):
    do_import(write(tmp_path, "jan.csv", ROWS), db)
    before = dump(db)
    sessions_before = store.read_sessions(db, meta=True)
    corrected = [r.replace(",8,4,", ",8,1,") for r in ROWS] + ["S9,P9,2025-06-02,North,Botox,150,5,1,,"]
    report = do_import(write(tmp_path, "fix.csv", corrected), db)
    assert (report.new, report.updated) == (1, 1)
    done = store.undo(report.batch_id, db)
    assert (done.removed, done.restored) == (1, 1)
    assert "removed 1" in done.message() and "restored 1" in done.message()
    pd.testing.assert_frame_equal(store.read_sessions(db, meta=True), sessions_before)
    after = dump(db)
    for table in ("sessions", "sessions_history", "assessments", "assessments_history", "meta"):
        assert after[table] == before[table], table
    log = store.history(db)
    assert log.loc[log["batch_id"] == 2, "status"].item() == "undone"
    assert log.loc[log["batch_id"] == 1, "status"].item() == "active"
    # undoing the first import too leaves an empty store, still read in the canonical dtypes
    store.undo(1, db)
    assert store.is_empty(db)
    empty = store.read_sessions(db)
    assert len(empty) == 0 and empty.dtypes.astype(str).to_dict() == SESSION_DTYPES


def test_undoing_an_older_batch_is_refused_while_a_later_one_changed_its_rows(tmp_path, db):
    do_import(write(tmp_path, "jan.csv", ROWS), db)
    do_import(write(tmp_path, "feb.csv", [ROWS[0].replace(",8,4,", ",8,2,")]), db)
    before = dump(db)
    with pytest.raises(StoreError, match=r"Batch 1 .*cannot be undone yet.*batch 2 \(1 row\(s\)\).*Undo batch\(es\) 2 first"):
        store.undo(1, db)
    assert dump(db) == before
    log = store.history(db).set_index("batch_id")
    assert log.loc[1, "can_undo"] == False and log.loc[1, "blocked_by"] == "2"  # noqa: E712
    assert log.loc[2, "can_undo"] == True  # noqa: E712
    store.undo(2, db)
    store.undo(1, db)
    assert store.is_empty(db)


def test_an_older_batch_whose_rows_nobody_replaced_can_be_undone_alone(tmp_path, db):
    do_import(write(tmp_path, "jan.csv", ROWS[:2]), db)
    do_import(write(tmp_path, "feb.csv", ROWS[2:]), db)
    store.undo(1, db)
    assert sorted(store.read_sessions(db)["session_id"]) == ["S3", "S4", "S5"]


def test_undo_refusals(tmp_path, db):
    with pytest.raises(StoreError, match="no outcome store"):
        store.undo(1, db)
    do_import(write(tmp_path, "jan.csv", ROWS), db)
    with pytest.raises(StoreError, match="no batch 7"):
        store.undo(7, db)
    with pytest.raises(StoreError, match="not a batch number"):
        store.undo("x", db)
    store.undo("1", db)
    with pytest.raises(StoreError, match="already undone"):
        store.undo(1, db)
    # a new import after an undo gets a new batch number: numbers are never reused
    assert do_import(write(tmp_path, "jan.csv", ROWS), db).batch_id == 2


# ---- failures leave the store as it was --------------------------------------------------------------------------
@pytest.mark.parametrize("step", ["_save_replaced", "_remove_replaced", "_insert_rows"])
def test_an_error_half_way_leaves_the_store_exactly_as_before(tmp_path, db, monkeypatch, step):
    do_import(write(tmp_path, "jan.csv", ROWS), db)
    before = dump(db)
    original = getattr(store, step)

    def broken(*args, **kwargs):
        original(*args, **kwargs)  # the step's writes happen, then the failure
        raise OSError("disk full (injected)")

    monkeypatch.setattr(store, step, broken)
    corrected = [r.replace(",8,4,", ",8,1,") for r in ROWS] + ["S9,P9,2025-06-02,North,Botox,150,5,1,,"]
    with pytest.raises(OSError, match="injected"):
        do_import(write(tmp_path, "fix.csv", corrected), db)
    assert dump(db) == before
    monkeypatch.setattr(store, step, original)
    report = do_import(tmp_path / "fix.csv", db)  # and the store still works
    assert (report.new, report.updated, report.batch_id) == (1, 1, 2)


def test_an_error_during_the_first_import_leaves_an_empty_store(tmp_path, db, monkeypatch):
    original = store._insert_rows

    def broken(*args, **kwargs):
        original(*args, **kwargs)
        raise RuntimeError("killed (injected)")

    monkeypatch.setattr(store, "_insert_rows", broken)
    with pytest.raises(RuntimeError):
        do_import(write(tmp_path, "jan.csv", ROWS), db)
    assert store.is_empty(db)
    assert len(store.history(db)) == 0


def test_a_refused_file_is_not_imported(tmp_path, db):
    path = write(tmp_path, "ids.csv", ["S1,P1,2025-01-06,North,Botox,200,8,4,80,a@b.org"],
                 HEADER.replace("Referral", "Email"))
    result = load_sessions(path)
    assert result.refused
    with pytest.raises(StoreError, match="refused"):
        store.import_result(result, store.file_hash(path), path.name, None, db)
    assert not db.exists()


def test_identifying_values_never_reach_the_store(tmp_path, db):
    header = HEADER + ",NHS Number,Contact"
    rows = [r + f",943 476 591{i},pt{i}@example.org" for i, r in enumerate(ROWS)]
    path = write(tmp_path, "ids.csv", rows, header)
    result = load_sessions(path, drop_identifiers=True)
    store.import_result(result, store.file_hash(path), path.name, None, db)
    text = repr(dump(db))
    assert "example.org" not in text and "943 476" not in text and "NHS" not in text
    assert len(store.read_sessions(db)) == 5


def test_repeated_keys_in_one_result_are_refused(tmp_path, db):
    result = load_sessions(write(tmp_path, "jan.csv", ROWS))
    result.data = pd.concat([result.data, result.data.iloc[[0]].assign(line=99)], ignore_index=True)
    with pytest.raises(StoreError, match="repeat the key"):
        store.import_result(result, "h", "jan.csv", None, db)  # into an empty store
    assert store.is_empty(db)
    do_import(tmp_path / "jan.csv", db)
    before = dump(db)
    with pytest.raises(StoreError, match="repeat the key"):
        store.import_result(result, "h", "jan.csv", None, db)  # into a store with rows
    assert dump(db) == before


def test_an_empty_result_changes_nothing(tmp_path, db):
    path = write(tmp_path, "bad.csv", ["S1,P1,2025-01-06,North,Botox,-1,8,4,80,"])
    report = do_import(path, db)
    assert (report.accepted, report.rejected, report.batch_id) == (0, 1, None)
    assert "no accepted sessions" in report.message()
    assert not db.exists()


def test_a_new_duckdb_hash_is_detected_and_stored_hashes_recomputed(tmp_path, db):
    path = write(tmp_path, "jan.csv", ROWS)
    do_import(path, db)
    con = duckdb.connect(str(db))
    con.execute("UPDATE meta SET value = 'another version' WHERE name = 'hash_probe'")
    con.execute("UPDATE sessions SET row_hash = row_hash + 1")  # as if hashed differently
    con.close()
    report = do_import(path, db)
    assert (report.new, report.updated, report.unchanged) == (0, 0, 5)


# ---- assessments -------------------------------------------------------------------------------------------------
def test_assessments_round_trip_and_reimport(db):
    path = SAMPLE / "assessments.csv"
    result = load_assessments(path)
    report = store.import_result(result, store.file_hash(path), path.name, None, db)
    assert (report.kind, report.new) == ("assessments", result.n_accepted)
    pd.testing.assert_frame_equal(store.read_assessments(db), as_stored(result.data))
    again = store.import_result(result, store.file_hash(path), path.name, None, db)
    assert (again.new, again.updated, again.unchanged) == (0, 0, result.n_accepted)
    assert store.is_empty(db)  # no sessions yet
    store.undo(report.batch_id, db)
    assert len(store.read_assessments(db)) == 0


def test_assessments_keyed_by_patient_injection_and_day(tmp_path, db):
    header = "patient_id,session_id,days_after,pain,arm"
    first = write(tmp_path, "a.csv", ["P1,S1,0,8,A", "P1,S1,14,4,A", "P1,S1,14,5,A", "P2,S2,0,6,B"], header)
    store.import_result(load_assessments(first), "a", "a.csv", None, db)
    fixed = write(tmp_path, "b.csv", ["P1,S1,0,8,A", "P1,S1,14,3,A", "P1,S1,14,5,A", "P2,S2,28,2,B"], header)
    report = store.import_result(load_assessments(fixed), "b", "b.csv", None, db)
    assert (report.new, report.updated, report.unchanged) == (1, 1, 2)
    got = store.read_assessments(db)
    assert len(got) == 5
    assert sorted(got.loc[got["days_after"] == 14, "pain"].tolist()) == [3, 5]


# ---- a random sequence of imports and undos against a plain model ----------------------------------------------
_POOL = [f"S{i},P{i % 3},2025-0{1 + i % 6}-1{i % 9},North,Botox,{100 + 10 * i},7,{{pain}},," for i in range(6)]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(
    st.tuples(st.just("import"), st.lists(st.tuples(st.integers(0, 5), st.integers(0, 2)), min_size=1, max_size=6)),
    st.tuples(st.just("undo"), st.just(None))), min_size=1, max_size=6))
def test_imports_and_undos_match_a_simple_model(tmp_path_factory, steps):
    tmp = tmp_path_factory.mktemp("model")
    db = tmp / "m.duckdb"
    model: dict[str, int] = {}  # session_id -> followup pain
    snapshots = []  # (batch, model before it)
    for n, (action, arg) in enumerate(steps):
        if action == "import":
            rows = {i: pain for i, pain in arg}  # last value wins within one file? no: one row per session
            lines = [_POOL[i].format(pain=pain) for i, pain in rows.items()]
            report = do_import(write(tmp, f"f{n}.csv", lines), db)
            expected_new = sum(f"S{i}" not in model for i in rows)
            expected_updated = sum(f"S{i}" in model and model[f"S{i}"] != p for i, p in rows.items())
            assert (report.new, report.updated) == (expected_new, expected_updated)
            if report.changed:
                snapshots.append((report.batch_id, dict(model)))
                model.update({f"S{i}": p for i, p in rows.items()})
        elif snapshots:
            batch, previous = snapshots.pop()  # the newest batch can always be undone
            store.undo(batch, db)
            model = previous
        stored = store.read_sessions(db)
        assert stored["session_id"].is_unique
        assert dict(zip(stored["session_id"], stored["followup_pain"].astype(int))) == model
