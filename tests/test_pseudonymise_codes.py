"""Issue 9, item 3: pseudonymisation covers every code that can carry an identifier. A session code holding the
patient's NHS number ('9434765919-01') is keyed, never kept beside the pseudonym; same key, same code."""
import pandas as pd

from analytics.identifiers import pseudonymise
from analytics.ingest import load_sessions
from analytics.reason_codes import Refusal
from tests.privacy_helpers import BASE, file_bytes, row

HEADER = BASE + ["session_id", "practitioner"]


def nhs_sessions() -> bytes:
    return file_bytes([row("9434765919") + ["9434765919-01", "DR04"],
                       row("9434765919", "2025-06-14") + ["9434765919-02", "DR04"],
                       row("P2") + ["S9", "jo@example.com"]], HEADER)


def test_session_codes_holding_the_patients_number_are_refused_without_pseudonymising():
    result = load_sessions(nhs_sessions())
    assert result.refused and result.refusal is Refusal.IDENTIFIERS_FOUND
    assert "'session_id': 2 value(s) hold NHS numbers (lines 2, 3)" in result.file_errors[0]
    assert "9434765919" not in result.file_errors[0]


def test_pseudonymise_keys_patient_session_and_identifying_practitioner_codes():
    result = load_sessions(nhs_sessions(), pseudonymise_ids=True, key="clinic-secret")
    assert not result.refused, result.file_errors
    stored = result.data[["patient_id", "session_id", "practitioner_id"]].to_csv()
    assert "9434765919" not in stored and "jo@example.com" not in stored
    secret = b"clinic-secret"
    codes = [pseudonymise(pd.Series([v]), secret)[0] for v in ("9434765919-01", "9434765919-02", "S9")]
    assert result.data["session_id"].tolist() == codes
    assert all(c.startswith("px-") for c in result.data["session_id"])
    assert result.data["practitioner_id"].str.startswith("px-").all()
    assert result.notes[0] == ("Codes pseudonymised with the clinic's key (HMAC-SHA256): patient_id, session_id, "
                               "practitioner_id.")


def test_same_key_same_codes_across_uploads_and_plain_practitioners_stay_readable():
    data = file_bytes([row("9434765919") + ["9434765919-01", "DR04"]], HEADER)
    first = load_sessions(data, pseudonymise_ids=True, key="k").data
    again = load_sessions(data, pseudonymise_ids=True, key="k").data
    other = load_sessions(data, pseudonymise_ids=True, key="another").data
    assert first[["patient_id", "session_id"]].equals(again[["patient_id", "session_id"]])
    assert first["session_id"].iloc[0] != other["session_id"].iloc[0]
    assert first["practitioner_id"].tolist() == ["DR04"]


def test_names_used_as_patient_codes_are_refused_until_pseudonymised():
    data = file_bytes([row("Jane Doe"), row("Mary O'Brien"), row("P3")], BASE)
    result = load_sessions(data)
    assert result.refusal is Refusal.IDENTIFYING_PATIENT_CODES
    assert result.file_errors == [
        "Patient codes look like direct identifiers: 'patient_id': 2 value(s) look like personal names (lines 2, 3). "
        "Pseudonymise them with the clinic's key (--pseudonymise) or cancel."]
    keyed = load_sessions(data, pseudonymise_ids=True, key="k")
    assert not keyed.refused and "Jane" not in keyed.data.to_csv() and "Brien" not in keyed.data.to_csv()
