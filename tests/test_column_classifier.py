"""Issue 9, item 1: three outcomes per column (identifying, free text, safe), by header synonyms and by values;
the sample data and the real trial data raise no privacy refusal."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.column_classifier import FREE_TEXT, IDENTIFYING, SAFE, classify, cutoff_year
from analytics.ingest import load_assessments, load_sessions
from analytics.schema import ASSESSMENT_ALIASES, SESSION_ALIASES
from analytics.identifiers import header_reason
from tests.helpers import CDYSTONIA

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
LINES = np.arange(2, 8)


def outcome(header, values, canonical=None, cutoff=2007):
    return classify(header, pd.Series(values, dtype="str"), canonical, LINES[:len(values)], cutoff).outcome


@pytest.mark.parametrize("header", ["Client name", "Born", "Next of kin", "D.O.B.", "Post code", "e-mail address",
                                    "CHI", "MRN", "Unit number", "Medicare", "GP name", "Carer", "Emergency contact",
                                    "Photo", "Initials", "Age at (exact date)", "Address line 2"])
def test_header_synonyms_are_identifying(header):
    assert outcome(header, ["x", "y"]) == IDENTIFYING


def test_no_canonical_header_or_alias_is_identifying_by_header():
    assert [a for a in (*SESSION_ALIASES, *ASSESSMENT_ALIASES) if header_reason(a)] == []
    assert outcome("site", ["North Wing", "Central"], "site") == FREE_TEXT
    assert outcome("practitioner", ["DR04", "Dr Patel"], "practitioner_id") == FREE_TEXT
    assert outcome("product", ["Botox", "Dysport"], "product") == SAFE


def test_values_decide_an_extra_column():
    assert outcome("Ref", ["Jane Doe", "Mary O'Brien", "P3"]) == IDENTIFYING  # names in a clear share
    assert outcome("Ref", ["1961-03-02", "02/03/1958", "x"]) == IDENTIFYING  # dates decades before the sessions
    assert outcome("Ref", ["2024-03-02", "02/03/2025", "x"]) == FREE_TEXT  # session-time dates: scanned, no finding
    assert outcome("Ward", ["North Wing", "South Wing", "Splenius Capitis"]) == FREE_TEXT
    assert outcome("Arm", ["Active Drug", "Placebo", "Active Drug"]) == FREE_TEXT
    assert outcome("notes", ["07700 900123", "ok"]) == FREE_TEXT  # a notes column: its findings are redactable


def test_a_single_name_among_many_codes_in_an_extra_column_is_below_the_share():
    assert outcome("Ref", ["A1", "B2", "C3", "D4", "Jane Doe"]) == FREE_TEXT


def test_codes_are_identifying_on_any_one_name_or_embedded_number():
    assert outcome("patient_id", ["P1", "P2", "Jane Doe"], "patient_id") == IDENTIFYING
    assert outcome("session_id", ["S1", "9434765919-01"], "session_id") == IDENTIFYING
    assert outcome("patient_id", ["P00189", "1", "C-17"], "patient_id") == SAFE


def test_cutoff_is_eighteen_years_before_the_earliest_session():
    frame = pd.DataFrame({"d": ["14/03/2025", "2023-10-01", "x"]})
    assert cutoff_year(frame, {"d": "session_date"}) == 2005


@pytest.mark.parametrize("name", ["sessions.csv", "messy_export.csv", "messy_export.xlsx"])
def test_sample_sessions_raise_no_privacy_refusal(name):
    result = load_sessions(SAMPLE / name, drop_identifiers=True, date_order="dayfirst" if "messy" in name else None)
    assert not result.refused and result.free_text_findings == [] and result.redacted == {}
    assert [f.column for f in result.identifier_findings] == ([] if name == "sessions.csv" else ["NHS Number"])


@pytest.mark.parametrize("path", [SAMPLE / "assessments.csv", CDYSTONIA])
def test_assessment_files_and_the_real_trial_raise_no_privacy_refusal(path):
    result = load_assessments(path)
    assert not result.refused and result.identifier_findings == [] and result.free_text_findings == []


def test_the_issues_three_headers_are_refused_then_dropped():
    from tests.privacy_helpers import BASE, file_bytes, row
    data = file_bytes([row() + ["Jane Doe", "02/03/1961", "John Doe"]], BASE + ["Client name", "Born", "Next of kin"])
    refused = load_sessions(data)
    assert refused.refusal == "identifiers_found"
    assert refused.file_errors == [
        "The file holds direct identifiers: 'Client name': the header looks like a person's name; 'Born': the header "
        "looks like a date of birth; 'Next of kin': the header looks like a named contact (next of kin, carer, GP). "
        "Drop these columns (--drop-identifiers) or cancel; identifying data is never stored."]
    dropped = load_sessions(data, drop_identifiers=True)
    assert not dropped.refused and "Doe" not in dropped.data.to_csv() and "1961" not in dropped.data.to_csv()
    assert dropped.notes[0] == "Dropped identifying column(s): 'Born', 'Client name', 'Next of kin'."
