"""REDCap exports read with their data dictionary: each fixture (made here, in code) imports to exactly the expected
canonical sessions, and every export row is accounted for."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest

from analytics.reading import FileRefused
from analytics.reason_codes import Refusal
from analytics.redcap_dictionary import parse_choices, read_dictionary
from analytics.redcap_export import Accounting, load_redcap

ROOT = Path(__file__).resolve().parent.parent
DICTIONARY = ROOT / "docs" / "redcap" / "injection_session_dictionary.csv"
CHECKBOXES = {"muscles": 6, "ae": 8}
SHOWN = ["patient_id", "session_date", "site", "indication", "practitioner_id", "product", "total_units", "muscles",
         "baseline_pain", "followup_pain", "pgic", "adverse_events", "line"]


def dictionary_bytes(*extra: list[str]) -> bytes:
    """The docs dictionary, with extra rows (lists of 18 cells) appended."""
    text = DICTIONARY.read_text(encoding="utf-8")
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(extra)
    return (text + out.getvalue()).encode("utf-8")


def dictionary_row(name: str, form: str, field_type: str, label: str, choices: str = "", identifier: str = ""
                   ) -> list[str]:
    return [name, form, "", field_type, label, choices, "", "", "", "", identifier, "", "", "", "", "", "", ""]


def export_columns(longitudinal: bool = False, repeating: bool = True, extra: tuple[str, ...] = ()) -> list[str]:
    """The columns of a flat export of the docs project, in REDCap's order (system columns after record_id)."""
    fields = read_dictionary(DICTIONARY).fields
    columns = ["record_id"]
    if longitudinal:
        columns.append("redcap_event_name")
    if repeating:
        columns += ["redcap_repeat_instrument", "redcap_repeat_instance"]
    form = fields[0].form
    for f in fields[1:]:
        if f.form != form:
            columns.append(f"{form}_complete")
            form = f.form
        columns += ([f"{f.name}___{i}" for i in range(1, CHECKBOXES[f.name] + 1)] if f.name in CHECKBOXES
                    else [f.name])
    columns.append(f"{form}_complete")
    return columns + list(extra)


def export_bytes(rows: list[dict], **options) -> bytes:
    """A flat export: each row a dict of its filled cells; checkboxes given as lists of ticked codes."""
    columns = export_columns(**options)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        cells = {k: v for k, v in row.items() if k not in CHECKBOXES}
        for name, count in CHECKBOXES.items():
            ticked = row.get(name, [])
            for i in range(1, count + 1):
                cells[f"{name}___{i}"] = "1" if i in ticked else "0"
        assert set(cells) <= set(columns), set(cells) - set(columns)
        writer.writerow([cells.get(c, "") for c in columns])
    return out.getvalue().encode("utf-8")


def base(record: str, site: str, indication: str, status: str = "2", **more) -> dict:
    return {"record_id": record, "site": site, "indication": indication, "patient_complete": status, **more}


def instance(record: str, n: int, day: str, product: str, units: str, status: str = "2", **more) -> dict:
    return {"record_id": record, "redcap_repeat_instrument": "injection_session", "redcap_repeat_instance": str(n),
            "inj_date": day, "product": product, "total_units": units, "injection_session_complete": status, **more}


CLASSIC = [
    base("P001", "North", "1"),  # line 2
    instance("P001", 1, "2025-01-10", "1", "100", injector="dr1", muscles=[1, 3], pain_pre="7", pain_post="3",
             pgic="2", ae=[1]),  # line 3
    instance("P001", 2, "2025-04-20", "2", "300", injector="dr1", muscles=[1, 2], pain_pre="6", pain_post="5",
             pgic="3", ae=[2, 4], status="1"),  # line 4: unverified
    base("P002", "South", "2"),  # line 5
    instance("P002", 1, "2025-02-01", "3", "100", injector="dr2", muscles=[3], pain_pre="8", pain_post="4",
             ae=[5, 7]),  # line 6
    instance("P002", 2, "2025-05-01", "3", "120", injector="dr2", muscles=[3], pain_pre="8", status="0"),  # 7
    instance("P002", 3, "2025-08-01", "4", "5000", injector="dr2", pain_pre="8", status=""),  # 8: never saved
    base("P003", "North", "3"),  # line 9: a patient with no session yet
]


def shown(result) -> list[list]:
    """The accepted sessions' SHOWN columns as plain values (None where blank), dates as ISO text."""
    data = result.data[SHOWN].copy()
    data["session_date"] = data["session_date"].dt.strftime("%Y-%m-%d")
    return [[None if pd.isna(v) else v.item() if hasattr(v, "item") else v for v in row]
            for row in data.astype("object").itertuples(index=False, name=None)]


def test_the_docs_dictionary_parses_with_its_types_choices_and_validation():
    project = read_dictionary(DICTIONARY)
    assert project.record_id == "record_id"
    assert project.forms == ["patient", "injection_session"]
    fields = project.by_name
    assert len(project.fields) == 19
    assert fields["product"].field_type == "radio"
    assert fields["product"].choices == {"1": "Botox", "2": "Dysport", "3": "Xeomin", "4": "Myobloc/NeuroBloc",
                                         "5": "Other"}
    assert fields["muscles"].checkbox_columns() == {f"muscles___{i}": str(i) for i in range(1, 7)}
    assert fields["inj_date"].validation == "date_ymd"
    assert fields["pain_pre"].label == "Pain before injection (0-10)"
    assert project.identifiers() == []


def test_choices_keep_commas_in_labels_and_refuse_a_choice_without_code():
    assert parse_choices("1, Botox | 2, Other, please say | 3,Xeomin") == {
        "1": "Botox", "2": "Other, please say", "3": "Xeomin"}
    assert parse_choices("", "yesno") == {"1": "Yes", "0": "No"}
    with pytest.raises(ValueError, match="'Botox' is not written 'code, label'"):
        parse_choices("Botox | 2, Dysport")


def test_a_file_that_is_not_a_dictionary_is_refused_plainly():
    with pytest.raises(FileRefused, match="not a REDCap data dictionary"):
        read_dictionary(b"patient_id,session_date\nP1,2025-01-01\n")
    bad_type = dictionary_bytes(dictionary_row("x", "patient", "matrix", "X"))
    with pytest.raises(FileRefused, match="line 21 of the data dictionary \\('x'\\): unknown field type 'matrix'"):
        read_dictionary(bad_type)


def test_classic_repeating_export_imports_exactly_the_expected_sessions():
    loaded = load_redcap(export_bytes(CLASSIC), DICTIONARY.read_bytes())
    result = loaded.result
    assert not result.refused, result.file_errors
    expected = [
        ["P001", "2025-01-10", "North", "cervical_dystonia", "dr1", "onabotulinumtoxinA", 100.0,
         "splenius_capitis;trapezius", 7, 3, 2, "none", 3],
        ["P002", "2025-02-01", "South", "neck_pain", "dr2", "incobotulinumtoxinA", 100.0, "trapezius", 8, 4, None,
         "flu_like;dry_mouth", 6],
    ]
    assert shown(result) == expected
    assert loaded.accounting == Accounting(export_rows=8, sessions=2, base_rows=3, incomplete=2, unverified=1)
    assert result.n_rejected_rows == 0
    assert result.notes[0] == (
        "REDCap export, 8 row(s): 2 session row(s) checked; 3 base row(s) merged into their record's sessions; "
        "2 kept out: form not marked complete (status 0 or blank); 1 kept out: form unverified (status 1; include "
        "them with --include-unverified).")
    assert result.column_map["inj_date"] == "session_date"  # by its label, 'Date of injection'
    assert result.column_map["pain_pre"] == "baseline_pain"  # 'Pain before injection (0-10)'
    assert result.column_map["record_id"] == "patient_id"


def test_unverified_forms_are_taken_when_asked():
    loaded = load_redcap(export_bytes(CLASSIC), DICTIONARY.read_bytes(), include_unverified=True)
    data = shown(loaded.result)
    assert [row[1] for row in data] == ["2025-01-10", "2025-04-20", "2025-02-01"]
    assert data[1] == ["P001", "2025-04-20", "North", "cervical_dystonia", "dr1", "abobotulinumtoxinA", 300.0,
                       "splenius_capitis;sternocleidomastoid", 6, 5, 3, "injection_site_pain;dysphagia", 4]
    assert loaded.accounting == Accounting(export_rows=8, sessions=3, base_rows=3, incomplete=2, unverified=0)
    assert "Unverified forms (status 1) were included, as asked." in loaded.result.notes[0]


def test_a_rejected_cell_names_the_record_the_instance_and_the_variable():
    rows = [base("P001", "North", "1"), instance("P001", 1, "2025-01-10", "1", "lots", pain_pre="7"),
            instance("P001", 2, "2025-03-10", "9", "100", pain_pre="7")]
    result = load_redcap(export_bytes(rows), DICTIONARY.read_bytes()).result
    rejected = result.rejected[["line", "column", "value", "code", "redcap_record", "redcap_row"]]
    assert rejected.values.tolist() == [
        [3, "total_units", "lots", "not_a_number", "P001", "instance 1 of injection_session"],
        [4, "product", "9", "unknown_value", "P001", "instance 2 of injection_session"],
    ]
    assert result.rejected["reason"].iloc[0] == "record P001, instance 1 of injection_session: not a number"
    assert result.n_accepted == 0 and result.n_rows == 2


LONGITUDINAL = [
    {"record_id": "P010", "redcap_event_name": "baseline_arm_1", "site": "East", "indication": "1",
     "patient_complete": "2"},  # line 2: a base row (no session date)
    {"record_id": "P010", "redcap_event_name": "visit_1_arm_1", "inj_date": "2025-01-05", "product": "2",
     "total_units": "500", "pain_pre": "7", "pain_post": "2", "muscles": [1], "injection_session_complete": "2"},
    {"record_id": "P010", "redcap_event_name": "visit_2_arm_1", "inj_date": "2025-04-05", "product": "2",
     "total_units": "500", "pain_pre": "6", "pain_post": "3", "muscles": [1, 6], "injection_session_complete": "2"},
    {"record_id": "P010", "redcap_event_name": "visit_3_arm_1", "product": "2",
     "injection_session_complete": "0"},  # line 5: started, not finished
    {"record_id": "P011", "redcap_event_name": "baseline_arm_1", "site": "West", "indication": "3",
     "patient_complete": "2"},
    {"record_id": "P011", "redcap_event_name": "visit_1_arm_1", "inj_date": "2025-02-10", "product": "1",
     "total_units": "155", "pain_pre": "5", "injection_session_complete": "2", "injector": "dr9"},  # line 7
]


def test_longitudinal_events_carry_the_baseline_event_onto_each_visit():
    loaded = load_redcap(export_bytes(LONGITUDINAL, longitudinal=True, repeating=False), DICTIONARY.read_bytes())
    expected = [
        ["P010", "2025-01-05", "East", "cervical_dystonia", None, "abobotulinumtoxinA", 500.0, "splenius_capitis",
         7, 2, None, None, 3],
        ["P010", "2025-04-05", "East", "cervical_dystonia", None, "abobotulinumtoxinA", 500.0,
         "splenius_capitis;scalenus", 6, 3, None, None, 4],
        ["P011", "2025-02-10", "West", "tension_headache", "dr9", "onabotulinumtoxinA", 155.0, None, 5, None, None,
         None, 7],
    ]
    assert shown(loaded.result) == expected
    assert loaded.accounting == Accounting(export_rows=6, sessions=3, base_rows=2, incomplete=1)
    assert loaded.references["where"].tolist() == ["event visit_1_arm_1", "event visit_2_arm_1",
                                                   "event visit_1_arm_1"]


def test_an_event_row_with_session_fields_but_no_date_is_rejected_not_dropped():
    rows = [dict(LONGITUDINAL[0]), {**LONGITUDINAL[3], "injection_session_complete": "2"}]
    loaded = load_redcap(export_bytes(rows, longitudinal=True, repeating=False), DICTIONARY.read_bytes())
    result = loaded.result
    assert loaded.accounting == Accounting(export_rows=2, sessions=1, base_rows=1)
    assert result.n_accepted == 0
    assert result.rejected[["line", "column", "code"]].values.tolist() == [
        [3, "inj_date", "blank_required"], [3, "total_units", "blank_required"], [3, "pain_pre", "no_baseline"]]
    assert result.rejected["reason"].iloc[0].startswith("record P010, event visit_3_arm_1: ")


def test_base_rows_that_disagree_reject_the_sessions_instead_of_choosing_one():
    rows = [dict(LONGITUDINAL[0]), {**LONGITUDINAL[0], "redcap_event_name": "month_6_arm_1", "site": "North"},
            LONGITUDINAL[1]]
    loaded = load_redcap(export_bytes(rows, longitudinal=True, repeating=False), DICTIONARY.read_bytes())
    result = loaded.result
    assert result.n_accepted == 0
    assert result.rejected[["line", "column", "value", "code"]].values.tolist() == [[4, "site", "", "conflict"]]
    assert "non-repeating rows hold different values" in result.rejected["reason"].iloc[0]
    assert loaded.accounting == Accounting(export_rows=3, sessions=1, base_rows=2)


def test_rows_of_another_repeating_instrument_are_counted_not_read_as_sessions():
    extra = dictionary_row("call_date", "phone_call", "text", "Date of call")
    columns_extra = ("call_date", "phone_call_complete")
    rows = [base("P001", "North", "1"), instance("P001", 1, "2025-01-10", "1", "100", pain_pre="7"),
            {"record_id": "P001", "redcap_repeat_instrument": "phone_call", "redcap_repeat_instance": "1",
             "call_date": "2025-01-20", "phone_call_complete": "2"}]
    loaded = load_redcap(export_bytes(rows, extra=columns_extra), dictionary_bytes(extra))
    assert loaded.accounting == Accounting(export_rows=3, sessions=1, base_rows=1, other_instrument=1)
    assert loaded.result.n_accepted == 1
    assert loaded.result.data["call_date"].tolist() == [""]  # an extra attribute, blank on the session's row


IDENTIFIER = dictionary_row("enrol_ref", "patient", "text", "Enrolment reference", identifier="y")


def test_a_field_the_dictionary_flags_as_identifier_is_refused_then_dropped_when_asked():
    rows = [base("P001", "North", "1", enrol_ref="K-77"), instance("P001", 1, "2025-01-10", "1", "100", pain_pre="7")]
    export = export_bytes(rows, extra=("enrol_ref",))
    refused = load_redcap(export, dictionary_bytes(IDENTIFIER)).result
    assert refused.refusal is Refusal.IDENTIFIERS_FOUND
    assert refused.file_errors[0].startswith(
        "The REDCap data dictionary marks field(s) as identifiers: 'enrol_ref' (Enrolment reference).")
    assert [(f.column, f.lines) for f in refused.identifier_findings] == [("enrol_ref", (2,))]
    assert "K-77" not in " ".join(refused.file_errors)
    dropped = load_redcap(export, dictionary_bytes(IDENTIFIER), drop_identifiers=True).result
    assert dropped.n_accepted == 1
    assert "enrol_ref" not in dropped.data.columns
    assert "Dropped the field(s) the REDCap data dictionary marks as identifiers: 'enrol_ref'." in dropped.notes


def test_a_flagged_patient_code_needs_pseudonymising(monkeypatch):
    text = DICTIONARY.read_text(encoding="utf-8").replace(
        "record_id,patient,,text,Record ID,,The patient's pseudonymous code: never a name or hospital number,,,,,",
        "record_id,patient,,text,Record ID,,The patient's pseudonymous code: never a name or hospital number,,,,y,")
    rows = [base("P001", "North", "1"), instance("P001", 1, "2025-01-10", "1", "100", pain_pre="7")]
    refused = load_redcap(export_bytes(rows), text.encode()).result
    assert refused.refusal is Refusal.IDENTIFYING_PATIENT_CODES
    keyed = load_redcap(export_bytes(rows), text.encode(), pseudonymise_ids=True, key="clinic secret").result
    assert keyed.n_accepted == 1 and keyed.data["patient_id"].iloc[0].startswith("px-")


def test_a_saved_mapping_names_the_fields_no_label_matches():
    extra = dictionary_row("doc_ref", "injection_session", "text", "Who did it")
    rows = [base("P001", "North", "1"), instance("P001", 1, "2025-01-10", "1", "100", pain_pre="7", doc_ref="d7")]
    export = export_bytes(rows, extra=("doc_ref",))
    plain = load_redcap(export, dictionary_bytes(extra)).result
    assert "doc_ref" in plain.extra_columns
    mapped = load_redcap(export, dictionary_bytes(extra), mapping={"doc_ref": "practitioner_id"}).result
    assert mapped.data["practitioner_id"].tolist() == ["d7"]
    by_label = load_redcap(export, dictionary_bytes(extra), mapping={"Who did it": "practitioner_id"}).result
    assert by_label.data["practitioner_id"].tolist() == ["d7"]


def test_a_checkbox_cell_that_is_not_0_or_1_rejects_its_row():
    export = export_bytes([base("P001", "North", "1"), instance("P001", 1, "2025-01-10", "1", "100", pain_pre="7")])
    export = export.replace(b",100,0,0,0,0,0,0,", b",100,2,0,0,0,0,0,")  # muscles___1 = 2
    result = load_redcap(export, DICTIONARY.read_bytes()).result
    assert result.rejected[["line", "column", "value", "code"]].values.tolist() == [[3, "muscles", "2", "bad_list"]]


def test_an_export_and_dictionary_of_different_versions_are_refused():
    export = export_bytes([base("P001", "North", "1")], extra=("muscles___9",))
    result = load_redcap(export, DICTIONARY.read_bytes()).result
    assert result.refused
    assert "'muscles___9'" in result.file_errors[0]
    swapped = load_redcap(DICTIONARY.read_bytes(), DICTIONARY.read_bytes()).result
    assert "This is a REDCap data dictionary, not a records export" in swapped.file_errors[0]


def test_an_export_where_nothing_is_finished_is_refused_with_the_count():
    rows = [base("P001", "North", "1"), instance("P001", 1, "2025-01-10", "1", "100", status="0")]
    result = load_redcap(export_bytes(rows), DICTIONARY.read_bytes()).result
    assert result.refusal is Refusal.NO_DATA_ROWS
    assert result.file_errors == ["No session to check in this REDCap export. REDCap export, 2 row(s): 0 session "
                                  "row(s) checked; 1 base row(s) merged into their record's sessions; 1 kept out: "
                                  "form not marked complete (status 0 or blank)."]


def test_without_a_dictionary_the_old_path_refuses_the_export():
    from analytics.ingest import load

    result = load(export_bytes(CLASSIC))
    assert result.refusal is Refusal.MISSING_COLUMNS


def test_repeating_events_are_sessions_named_by_event_and_instance():
    rows = [{**LONGITUDINAL[0]},
            {**LONGITUDINAL[1], "redcap_event_name": "visit_arm_1", "redcap_repeat_instance": "1"},
            {**LONGITUDINAL[2], "redcap_event_name": "visit_arm_1", "redcap_repeat_instance": "2"}]
    loaded = load_redcap(export_bytes(rows, longitudinal=True), DICTIONARY.read_bytes())
    assert [row[:3] for row in shown(loaded.result)] == [["P010", "2025-01-05", "East"], ["P010", "2025-04-05", "East"]]
    assert loaded.references["where"].tolist() == ["event visit_arm_1, instance 1", "event visit_arm_1, instance 2"]
    assert loaded.accounting == Accounting(export_rows=3, sessions=2, base_rows=1)


def test_a_row_that_does_not_fit_the_header_is_rejected_and_counted():
    export = export_bytes(CLASSIC[:2]) + b"P001,injection_session,9,too,few\n"
    loaded = load_redcap(export, DICTIONARY.read_bytes())
    assert loaded.accounting == Accounting(export_rows=3, sessions=1, base_rows=1, unreadable=1)
    assert loaded.result.n_accepted == 1 and loaded.result.n_rejected_rows == 1
    assert loaded.result.rejected["line"].tolist() == [4]


def test_every_field_of_the_docs_dictionary_reaches_its_contract_field():
    result = load_redcap(export_bytes(CLASSIC), DICTIONARY.read_bytes()).result
    assert result.column_map == {
        "record_id": "patient_id", "site": "site", "indication": "indication", "inj_date": "session_date",
        "injector": "practitioner_id", "product": "product", "total_units": "total_units", "muscles": "muscles",
        "pain_pre": "baseline_pain", "twstrs_pre": "baseline_twstrs", "cycle": "cycle_number",
        "pain_post": "followup_pain", "review_days": "followup_days", "twstrs_post": "followup_twstrs",
        "onset": "onset_days", "peak": "peak_days", "wearing_off": "wearing_off_days", "pgic": "pgic",
        "ae": "adverse_events"}
    assert result.extra_columns == []


def test_the_api_metadata_headers_are_read_like_the_download():
    from analytics.redcap_dictionary import COLUMNS

    text = DICTIONARY.read_text(encoding="utf-8").split("\n", 1)[1]
    api_style = (",".join(name for name, _ in COLUMNS) + "\n" + text).encode("utf-8")
    assert read_dictionary(api_style) == read_dictionary(DICTIONARY)


def test_the_two_files_given_crosswise_are_named_so():
    result = load_redcap(DICTIONARY.read_bytes(), export_bytes(CLASSIC)).result
    assert result.file_errors == ["The two files are the other way round: the file given as the export is the data "
                                  "dictionary, and the one given as the dictionary is the records export. Swap them."]
