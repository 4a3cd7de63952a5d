"""The store keeps a fingerprint of the pseudonymisation key and refuses codes keyed with another one: a rotated
or mistyped key would otherwise give every patient a second code and count them twice."""
from __future__ import annotations

import hashlib
import hmac

import pytest

from analytics import store
from analytics.identifiers import KEY_CHECK, key_id
from analytics.ingest import load_sessions
from tests.privacy_helpers import BASE, file_bytes, row

FILE = file_bytes([row("jane.doe@example.com", "2025-03-14"), row("jo@example.com", "2025-03-15")], BASE)
LATER = file_bytes([row("jane.doe@example.com", "2025-06-14")], BASE)


def keyed(data: bytes, key: str):
    return load_sessions(data, pseudonymise_ids=True, key=key)


def test_the_fingerprint_is_an_hmac_of_a_fixed_text_and_not_the_key():
    assert key_id(b"k1") == hmac.new(b"k1", KEY_CHECK, hashlib.sha256).hexdigest()[:16]
    assert key_id(b"k1") != key_id(b"k2") and "k1" not in key_id(b"k1")
    assert keyed(FILE, "k1").pseudonym_key_id == key_id(b"k1")
    assert load_sessions(file_bytes([row("P1")], BASE)).pseudonym_key_id is None


def test_codes_keyed_with_another_key_are_refused_and_nothing_changes(tmp_path):
    db = tmp_path / "s.duckdb"
    store.import_result(keyed(FILE, "clinic-key"), "h1", None, db_path=db)
    before = store.read_sessions(db)
    with pytest.raises(store.KeyMismatch, match="different key"):
        store.import_result(keyed(LATER, "mistyped-key"), "h2", None, db_path=db)
    assert store.read_sessions(db).equals(before) and len(store.history(db)) == 1
    report = store.import_result(keyed(LATER, "clinic-key"), "h2", None, db_path=db)
    assert report.new == 1
    stored = store.read_sessions(db)
    assert stored["patient_id"].nunique() == 2  # the same patient kept one code across the two imports


def test_the_fingerprint_survives_undo_and_the_rewrite_of_the_file(tmp_path):
    db = tmp_path / "s.duckdb"
    store.import_result(keyed(FILE, "clinic-key"), "h1", None, db_path=db)
    report = store.import_result(keyed(LATER, "clinic-key"), "h2", None, db_path=db)
    store.undo(report.batch_id, db)  # rewrites the file
    with pytest.raises(store.KeyMismatch):
        store.import_result(keyed(LATER, "other-key"), "h2", None, db_path=db)


def test_unkeyed_imports_are_not_checked(tmp_path):
    db = tmp_path / "s.duckdb"
    store.import_result(keyed(FILE, "clinic-key"), "h1", None, db_path=db)
    report = store.import_result(load_sessions(file_bytes([row("P9", "2025-04-01")], BASE)), "h3", None, db_path=db)
    assert report.new == 1
