"""Issue 9: through each route in (the CLI `import`, the Data page upload), every identifying case of the corpus,
imported with the way on the product offers (drop, redact, pseudonymise), leaves none of its identifying text in
the bytes of the store file.

Each search has a control: a harmless planted string in the same file must be found, so a search that could not
see text at all (a compressed column, a wrong path) fails instead of passing.
"""
from __future__ import annotations

import pytest

from analytics import cli, store
from tests.app_support import app, no_errors, texts
from tests.privacy_helpers import BASE, file_bytes, row
from tests.test_identifier_corpus import CODES, HEADERS, NOTES, SESSIONS, SITES, VALUES

KEY = "route-test-key"
CONTROL = "ctlzqx"  # + a number: a harmless extra value that must reach the store


def _file(where: str, text: str, n: int) -> bytes:
    """A small file of sessions holding one identifying case and a planted control value in 'memo'."""
    control = f"{CONTROL}{n:03d}"
    if where == "code":
        return file_bytes([row("P1") + [control], row(text) + [control]], BASE + ["memo"])
    if where == "session":
        return file_bytes([row("P1") + ["S1", control], row("P2") + [text, control]], BASE + ["session_id", "memo"])
    header, values = {"header": (text, ["x1", "y1"]), "value": ("Ref", [text, text]),
                      "notes": ("notes", ["EMG guided", text]), "site": ("site", ["Central", text])}[where]
    rows = [row(f"P{i + 1}", f"2025-0{i + 1}-14") + [value, control] for i, value in enumerate(values)]
    return file_bytes(rows, BASE + [header, "memo"])


# (where, text, the way on as CLI options)
CASES = ([("value", v, "--drop-identifiers") for v in VALUES] + [("site", s, "--drop-identifiers") for s in SITES]
         + [("notes", n, "--redact-free-text") for n in NOTES] + [("notes", n, "--drop-identifiers") for n in NOTES]
         + [("code", c, "--pseudonymise") for c in CODES] + [("session", s, "--pseudonymise") for s in SESSIONS]
         + [("header", h, "--drop-identifiers") for h in HEADERS])


def _searched(text: str) -> list[bytes]:
    """The byte forms of an identifying text to look for: as written, and in upper and lower case."""
    return sorted({form.encode("utf-8") for form in (text, text.upper(), text.lower())})


def test_the_cli_route_leaves_no_identifying_text_in_the_store(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OUTCOMES_PSEUDONYM_KEY", KEY)
    db = tmp_path / "routes.duckdb"
    for n, (where, text, option) in enumerate(CASES):
        path = tmp_path / f"case{n}.csv"
        path.write_bytes(_file(where, text, n))
        refused = cli.main(["import", str(path), "--db", str(db)])  # refused first: nothing is stored
        assert refused == 2, (where, text)
        code = cli.main(["import", str(path), "--db", str(db), option])
        capsys.readouterr()
        assert code == 0, (where, text, option)
    data = db.read_bytes()
    missing_controls = [n for n in range(len(CASES)) if f"{CONTROL}{n:03d}".encode() not in data]
    assert missing_controls == []  # the search can see what was stored
    found = [(where, text, option) for where, text, option in CASES if where != "header"
             and any(form in data for form in _searched(text))]
    assert found == []
    log = store.history(db)
    stored_headers = " ".join(log["mapping"].astype("str")) + " ".join(log["extra_columns"].astype("str"))
    extras = set(store.read_sessions(db).columns)
    assert [h for h in HEADERS if f'"{h}"' in stored_headers or h in extras] == []


def _upload(at, name: str, data: bytes):
    at.file_uploader(key="upload_file").upload(name, data, "text/csv").run()
    return at


@pytest.mark.parametrize("way", ["guard_redact", "guard_drop"])
def test_the_data_page_route_redacts_or_drops_free_text_and_stores_none_of_it(tmp_path, monkeypatch, way):
    db = tmp_path / "page.duckdb"
    monkeypatch.setenv("OUTCOMES_DB", str(db))
    rows = [row(f"P{i + 1}", f"2025-03-{i + 1:02d}") + [note, f"{CONTROL}{i:03d}"] for i, note in enumerate(NOTES)]
    at = _upload(app("views/data.py"), "Jane_Doe_DOB_1961-03-02.csv", file_bytes(rows, BASE + ["notes", "memo"]))
    assert not at.exception
    said = texts(at)
    assert "inside free text" in said and not any(n in said for n in ("07700 900123", "jane.doe@", "Jane_Doe"))
    at.button(key=way).click().run()
    no_errors(at)
    if way == "guard_redact":
        assert "Redacted" in texts(at)
    at.button(key="store_import").click().run()
    no_errors(at)
    assert len(store.read_sessions(db)) == len(NOTES)
    data = db.read_bytes()
    assert all(f"{CONTROL}{i:03d}".encode() in data for i in range(len(NOTES)))
    assert [n for n in NOTES if any(form in data for form in _searched(n))] == []
    assert b"Jane_Doe" not in data and b"1961-03-02" not in data  # nor the file's name


def test_the_data_page_route_drops_identifying_columns_and_pseudonymises_codes(tmp_path, monkeypatch):
    db = tmp_path / "page.duckdb"
    monkeypatch.setenv("OUTCOMES_DB", str(db))
    monkeypatch.setenv("OUTCOMES_PSEUDONYM_KEY", KEY)
    header = BASE + ["Client name", "Born", "Next of kin", "memo"]
    codes = ["Jane Doe", "Mary O'Brien"]
    rows = [row(code, f"2025-03-{10 + i}") + [f"Ann Smith{i}", "1950-01-0" + str(i + 1), f"Bob Smith{i}",
                                                f"{CONTROL}{i:03d}"] for i, code in enumerate(codes)]
    at = _upload(app("views/data.py"), "export.csv", file_bytes(rows, header))
    assert not at.exception
    at.button(key="guard_drop").click().run()
    assert not at.exception
    at.button(key="guard_pseudonymise").click().run()  # the codes are names: keyed codes replace them
    no_errors(at)
    at.button(key="store_import").click().run()
    no_errors(at)
    stored = store.read_sessions(db)
    assert stored["patient_id"].str.startswith("px-").all() and len(stored) == 2
    data = db.read_bytes()
    assert all(f"{CONTROL}{i:03d}".encode() in data for i in range(2))
    secrets = [*codes, "Ann Smith", "Bob Smith", "1950-01-01", "Client name", "Next of kin"]
    assert [s for s in secrets if any(form in data for form in _searched(s))] == []


def test_the_guards_answers_add_up_redact_then_drop(tmp_path, monkeypatch):
    monkeypatch.setenv("OUTCOMES_DB", str(tmp_path / "page.duckdb"))
    rows = [row("P1", "2025-03-01") + ["call her on 07700 900123", "Bob Smith"],
            row("P2", "2025-03-02") + ["EMG guided", ""]]
    at = _upload(app("views/data.py"), "export.csv", file_bytes(rows, BASE + ["notes", "Next of kin"]))
    assert "Drop 'Next of kin', 'notes' and continue" in at.button(key="guard_drop").label
    at.button(key="guard_redact").click().run()
    assert not at.exception
    assert "will be redacted once the rest is settled" in texts(at)
    assert [b.key for b in at.button if b.key == "guard_redact"] == []  # answered
    assert at.button(key="guard_drop").label == "Drop 'Next of kin' and continue"
    at.button(key="guard_drop").click().run()
    no_errors(at)
    assert "Redacted 1 identifier(s) in 'notes': 1 [phone]." in texts(at)
    assert "Dropped identifying column(s): 'Next of kin'." in texts(at)
