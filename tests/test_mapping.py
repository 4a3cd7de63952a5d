"""Header matching: aliases regardless of case, spaces, punctuation and units; the user's mapping wins."""
import pytest

from analytics.mapping import load_mapping, mapping_json, resolve_columns
from analytics.schema import SESSION_COLUMNS, normalise_header


@pytest.mark.parametrize("header, canonical", [
    ("Patient ID", "patient_id"), ("pt_id", "patient_id"), ("PATIENT-ID", "patient_id"),
    ("Date of injection", "session_date"), ("Toxin", "product"), ("Total dose (U)", "total_units"),
    ("Units [U]", "total_units"), ("Pain before", "baseline_pain"), ("NRS post", "followup_pain"),
    ("Side effects", "adverse_events"), ("Injector", "practitioner_id"), ("Clinic", "site"),
    ("Diagnosis", "indication"), ("Days to onset", "onset_days"), ("Wearing off (days)", "wearing_off_days"),
])
def test_aliases(header, canonical):
    resolved = resolve_columns([header], SESSION_COLUMNS)
    assert resolved.column_map == {header: canonical}


def test_normalise_header_drops_units_case_and_punctuation():
    assert normalise_header("\ufeff Total Dose (U) ") == "totaldose"


def test_unknown_columns_are_extras_with_suggestions():
    resolved = resolve_columns(["patient_id", "Referral source", "Pain befor"], SESSION_COLUMNS)
    assert resolved.extra_columns == ["Referral source", "Pain befor"]
    assert resolved.suggestions == {"Pain befor": "baseline_pain"}


def test_two_columns_for_one_field_need_a_hand_mapping():
    resolved = resolve_columns(["Dose", "Total units"], SESSION_COLUMNS)
    assert resolved.errors == ["Columns 'Dose', 'Total units' all look like 'total_units': map one of them by hand."]
    resolved = resolve_columns(["Dose", "Total units"], SESSION_COLUMNS, {"Total units": "total_units"})
    assert resolved.errors == []
    assert resolved.column_map == {"Total units": "total_units"}
    assert resolved.extra_columns == ["Dose"]


def test_user_mapping_overrides_and_can_ignore():
    resolved = resolve_columns(["Code", "Toxin"], SESSION_COLUMNS, {"Code": "patient_id", "Toxin": "ignore"})
    assert resolved.column_map == {"Code": "patient_id"}
    assert resolved.extra_columns == ["Toxin"]


def test_bad_mappings_are_errors():
    resolved = resolve_columns(["Code"], SESSION_COLUMNS, {"Code": "patient", "Missing": "site"})
    assert resolved.errors == ["The mapping names 'patient' for column 'Code', which is not a known field.",
                               "The mapping names column(s) not in this file: 'Missing'."]


def test_mapping_round_trip(tmp_path):
    path = tmp_path / "mapping.json"
    path.write_bytes(mapping_json({"Pt Ref": "patient_id", "Dosis": "total_units"}))  # the Data page's download
    assert load_mapping(path) == {"Pt Ref": "patient_id", "Dosis": "total_units"}
    path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="must be a JSON object"):
        load_mapping(path)
