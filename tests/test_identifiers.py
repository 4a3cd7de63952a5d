"""The identifier guard: headers and values that look like direct identifiers, and keyed pseudonyms."""
import numpy as np
import pandas as pd
import pytest

from analytics.identifiers import header_reason, nhs_number_mask, pseudonymise, value_findings


@pytest.mark.parametrize("header, what", [
    ("Patient Name", "a person's name"), ("Surname", "a person's name"), ("First name", "a person's name"),
    ("NHS Number", "an NHS number"), ("NHS No.", "an NHS number"), ("DOB", "a date of birth"),
    ("Date of birth", "a date of birth"), ("Postcode", "an address or postcode"),
    ("Address line 1", "an address or postcode"), ("Mobile", "a phone or fax number"),
    ("Tel no", "a phone or fax number"), ("E-mail", "an e-mail address"), ("MRN", "a medical record number"),
    ("Hospital number", "a medical record number"), ("SSN", "a social security number"),
    ("Insurance number", "an insurance number"), ("IP address", "an IP address"), ("URL", "a web address"),
])
def test_identifying_headers(header, what):
    assert header_reason(header) == f"the header looks like {what}"


@pytest.mark.parametrize("header", ["Site name", "Clinic", "Referral source", "Ethnicity", "Dose (U)",
                                    "Practitioner", "Muscles", "Notes", "Trial arm"])
def test_ordinary_headers_pass(header):
    assert header_reason(header) is None


def test_nhs_modulus_11():
    # 943 476 5919 is the NHS's published example of a valid number; changing the check digit breaks it.
    values = pd.Series(["9434765919", "943 476 5919", "943-476-5919", "9434765918", "P0001", "12345"])
    assert nhs_number_mask(values).tolist() == [True, True, True, False, False, False]


def test_value_findings_give_counts_and_lines_not_values():
    values = pd.Series(["P1", "jo@example.com", "P3", "07700 900123", "9434765919"])
    findings = value_findings("Patient", values, np.array([2, 3, 4, 5, 6]))
    messages = [f.message() for f in findings]
    assert messages == [
        "'Patient': 1 value(s) look like NHS numbers (lines 6)",
        "'Patient': 1 value(s) look like e-mail addresses (lines 3)",
        "'Patient': 1 value(s) look like phone numbers (lines 5)",
    ]
    assert not any("example.com" in m or "9434765919" in m for m in messages)


def test_plain_codes_raise_no_finding():
    values = pd.Series(["P00001", "PR01", "North", "S000123", "C-17"])
    assert value_findings("x", values, np.arange(5)) == []


def test_pseudonyms_are_keyed_stable_and_distinct():
    values = pd.Series(["9434765919", "9434765919", "4010232137"])
    first = pseudonymise(values, b"clinic-secret")
    again = pseudonymise(values.iloc[::-1].reset_index(drop=True), b"clinic-secret")
    other_key = pseudonymise(values, b"another-secret")
    assert first[0] == first[1] != first[2]
    assert first[0] == again[2]
    assert first[0] != other_key[0]
    assert first[0].startswith("px-") and len(first[0]) == 23
    assert "9434765919" not in "".join(first)
