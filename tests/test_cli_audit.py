"""`python -m analytics audit`: the table, JSON, filters and exit codes; and the audit rows that the command line's
import, undo and purge write (user: the OS user, role "command line")."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from analytics import audit, store
from analytics.cli import main
from analytics.ingest import load_sessions
from tests.test_store_compaction import GONE, KEEP, found, write

T0 = datetime(2025, 3, 14, 9, 5, 0)


def run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def db(tmp_path) -> Path:
    return tmp_path / "outcomes.duckdb"


@pytest.fixture
def trail(db) -> Path:
    audit.record("lead@clinic.example", "lead", "sign_in", db_path=db, when=T0)
    audit.record("Dr.Khan@Clinic.example", "practitioner", "view_patient", "P0042", db_path=db,
                 when=datetime(2025, 3, 15, 10, 30))
    audit.record("dr.khan@clinic.example", "practitioner", "download", "patients P0042", "refused: not own patient",
                 db_path=db, when=datetime(2025, 3, 16, 8, 0, 0, 500))
    return db


@pytest.fixture
def me(monkeypatch) -> str:
    monkeypatch.setattr(audit.getpass, "getuser", lambda: "clinicadmin")
    return "clinicadmin"


def test_the_audit_table_newest_first(trail, capsys):
    code, out, err = run(capsys, "audit", "--db", trail)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "at                           user                    role          action        object          outcome",
        "2025-03-16T08:00:00.000500Z  dr.khan@clinic.example  practitioner  download      patients P0042  "
        "refused: not own patient",
        "2025-03-15T10:30:00Z         Dr.Khan@Clinic.example  practitioner  view_patient  P0042           ok",
        "2025-03-14T09:05:00Z         lead@clinic.example     lead          sign_in                       ok"]


def test_the_audit_json_and_filters(trail, capsys):
    code, out, _ = run(capsys, "audit", "--db", trail, "--json")
    assert code == 0 and json.loads(out) == [
        {"at": "2025-03-16T08:00:00.000500Z", "user": "dr.khan@clinic.example", "role": "practitioner",
         "action": "download", "object": "patients P0042", "outcome": "refused: not own patient"},
        {"at": "2025-03-15T10:30:00Z", "user": "Dr.Khan@Clinic.example", "role": "practitioner",
         "action": "view_patient", "object": "P0042", "outcome": "ok"},
        {"at": "2025-03-14T09:05:00Z", "user": "lead@clinic.example", "role": "lead", "action": "sign_in",
         "object": "", "outcome": "ok"}]
    code, out, _ = run(capsys, "audit", "--db", trail, "--json", "--user", "DR.KHAN@CLINIC.EXAMPLE")
    assert code == 0 and [r["action"] for r in json.loads(out)] == ["download", "view_patient"]
    code, out, _ = run(capsys, "audit", "--db", trail, "--json", "--since", "2025-03-15")
    assert code == 0 and [r["action"] for r in json.loads(out)] == ["download", "view_patient"]
    code, out, _ = run(capsys, "audit", "--db", trail, "--json", "--action", "sign_in")
    assert code == 0 and [r["user"] for r in json.loads(out)] == ["lead@clinic.example"]
    code, out, _ = run(capsys, "audit", "--db", trail, "--since", "2025-03-15", "--user", "lead@clinic.example")
    assert (code, out) == (0, "No audit rows.\n")
    code, out, _ = run(capsys, "audit", "--db", trail, "--json", "--action", "purge")
    assert (code, json.loads(out)) == (0, [])


def test_a_bad_date_or_an_unknown_action_exits_2_with_a_clear_message(trail, capsys):
    code, out, err = run(capsys, "audit", "--db", trail, "--since", "14/03/2025")
    assert (code, out) == (2, "")
    assert err == ("error: --since must be a date like 2025-03-14 (or a UTC time like 2025-03-14T09:00Z), not "
                   "'14/03/2025'\n")
    code, out, err = run(capsys, "audit", "--db", trail, "--action", "look")
    assert (code, out) == (2, "")
    assert err == ("error: --action 'look' is not an audit action; give one of: sign_in, sign_in_refused, sign_out, "
                   "view_page, view_patient, download, import, undo, purge, report\n")


def test_no_rows_and_no_store(tmp_path, db, capsys):
    path = write(tmp_path / "a.csv", KEEP)
    store.import_result(load_sessions(path), store.file_hash(path), None, None, db)
    code, out, _ = run(capsys, "audit", "--db", db)
    assert (code, out) == (0, "No audit rows.\n")
    code, out, err = run(capsys, "audit", "--db", tmp_path / "typo.duckdb")
    assert code == 2 and out == "" and err.startswith("error: There is no outcome store at ")
    assert not (tmp_path / "typo.duckdb").exists()


def test_import_undo_and_purge_write_their_rows(tmp_path, db, me, capsys):
    first = write(tmp_path / "a.csv", KEEP, GONE)
    digest = store.file_hash(first)
    assert run(capsys, "import", first, "--db", db)[0] == 0
    assert run(capsys, "import", first, "--db", db)[0] == 0  # nothing changed: recorded, no batch
    assert run(capsys, "undo", "1", "--db", db)[0] == 0
    assert run(capsys, "undo", "1", "--db", db)[0] == 2  # already undone
    assert run(capsys, "undo", "seven", "--db", db)[0] == 2  # the text typed is not kept
    assert run(capsys, "import", first, "--db", db)[0] == 0
    assert run(capsys, "purge", "--patient", "ZQXPURGE01", "--db", db)[0] == 0
    assert run(capsys, "purge", "--patient", "ZQXPURGE01", "--db", db)[0] == 1  # no such patient
    got = audit.read(db)
    assert set(got["user"]) == {me} and set(got["role"]) == {"command line"}
    assert list(zip(got["action"], got["object"], got["outcome"]))[::-1] == [
        ("import", f"batch 1, file {digest}", "ok"),
        ("import", f"file {digest}", "ok"),
        ("undo", "batch 1", "ok"),
        ("undo", "batch 1", "refused: already undone"),
        ("undo", "", "refused: not a batch number"),
        ("import", f"batch 2, file {digest}", "ok"),
        ("purge", "batch 3", "ok"),
        ("purge", "", "refused: no such patient")]
    assert not any(found(db, "ZQXPURGE01", "plantedtext-9f3a").values())  # the purge's row names no patient


def test_refused_imports_are_recorded_and_never_create_a_store(tmp_path, db, me, capsys):
    refused = tmp_path / "ids.csv"
    refused.write_text("session_id,patient_id,session_date,product,total_units,baseline_pain,followup_pain,Email\n"
                       "S1,P1,2025-01-06,Botox,200,8,4,x@y.org\n")
    other = tmp_path / "other.duckdb"
    assert run(capsys, "import", refused, "--db", other)[0] == 2
    assert not other.exists()  # a refusal never makes a store to record itself in
    assert run(capsys, "import", write(tmp_path / "a.csv", KEEP), "--db", db)[0] == 0
    assert run(capsys, "import", refused, "--db", db)[0] == 2
    code, _, err = run(capsys, "import", write(tmp_path / "b.csv", KEEP), "--db", db, "--label", "Jane Doe 07700900123")
    assert code == 2 and "six digits" in err
    cleared = write(tmp_path / "c.csv", KEEP.replace(",8,4,", ",8,,"))
    assert run(capsys, "import", cleared, "--db", db)[0] == 2  # would clear a stored value
    got = audit.read(db)
    assert list(zip(got["action"], got["object"], got["outcome"]))[::-1][1:] == [
        ("import", f"file {store.file_hash(refused)}", "refused: file refused (identifiers_found)"),
        ("import", f"file {store.file_hash(tmp_path / 'b.csv')}", "refused: label refused"),
        ("import", f"file {store.file_hash(cleared)}", "refused: would clear values")]
    assert "Jane" not in " ".join(got["outcome"]) + " ".join(got["object"])


def test_an_audit_row_that_cannot_be_written_is_a_warning_and_the_change_stands(tmp_path, db, me, capsys,
                                                                               monkeypatch):
    assert run(capsys, "import", write(tmp_path / "a.csv", KEEP), "--db", db)[0] == 0

    def read_only(*args, **kwargs):
        raise audit.AuditError("The audit row could not be written: the outcome store is read-only.")

    monkeypatch.setattr(audit, "record", read_only)
    code, out, err = run(capsys, "undo", "1", "--db", db)
    assert code == 0 and out.startswith("Undid batch 1 ")
    assert err == "warning: The audit row could not be written: the outcome store is read-only.\n"
    assert store.history(db)["status"].tolist() == ["undone"]
