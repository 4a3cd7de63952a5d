"""The Data page with a REDCap export: it asks for the data dictionary, then reads the export with it (AppTest)."""
from __future__ import annotations

from tests.app_support import app, metric, no_errors, shown, texts
from tests.test_redcap_cli import redcap_csv, sessions
from tests.test_redcap_export import DICTIONARY, IDENTIFIER, base, dictionary_bytes, export_bytes, instance

PAGE = "views/data.py"


def upload_export(data: bytes):
    at = app(PAGE)
    at.file_uploader(key="upload_file").upload("redcap_export.csv", data, "text/csv").run()
    return at


def test_a_redcap_export_asks_for_its_dictionary_then_is_read_with_it():
    at = upload_export(redcap_csv(sessions()))
    assert "looks like a **REDCap export**: add its data dictionary" in ("\n".join(w.value for w in at.warning))
    at.file_uploader(key="redcap_dictionary_upload").upload("dictionary.csv", DICTIONARY.read_bytes(),
                                                            "text/csv").run()
    no_errors(at)
    assert not [w for w in at.warning if "looks like a REDCap export" in w.value]
    assert metric(at, "Accepted") == "15"
    assert metric(at, "Rejected rows") == "0"
    assert "5 kept out: form not marked complete" in texts(at)


def test_unverified_forms_are_taken_when_ticked():
    rows = [base("P001", "North", "1"), instance("P001", 1, "2025-01-10", "1", "100", pain_pre="7"),
            instance("P001", 2, "2025-04-10", "1", "100", pain_pre="6", status="1")]
    at = upload_export(export_bytes(rows))
    at.file_uploader(key="redcap_dictionary_upload").upload("dictionary.csv", DICTIONARY.read_bytes(),
                                                            "text/csv").run()
    assert metric(at, "Accepted") == "1"
    at.checkbox(key="redcap_include_unverified").check().run()
    no_errors(at)
    assert metric(at, "Accepted") == "2"


def test_a_field_flagged_as_identifier_stops_the_upload_until_dropped():
    rows = [base("P001", "North", "1", enrol_ref="K-77"), instance("P001", 1, "2025-01-10", "1", "100", pain_pre="7")]
    at = upload_export(export_bytes(rows, extra=("enrol_ref",)))
    at.file_uploader(key="redcap_dictionary_upload").upload("dictionary.csv", dictionary_bytes(IDENTIFIER),
                                                            "text/csv").run()
    guard = shown("\n".join(e.value for e in at.error))
    assert "'enrol_ref': the REDCap data dictionary marks it as an identifier (Identifier? = y) (lines 2)" in guard
    at.button(key="guard_drop").click().run()
    no_errors(at)
    assert metric(at, "Accepted") == "1"


def test_a_dictionary_uploaded_as_the_file_is_recognised():
    at = upload_export(DICTIONARY.read_bytes())
    assert "This file is a **REDCap data dictionary**" in "\n".join(i.value for i in at.info)


def test_the_two_files_in_each_others_box_are_named_so():
    at = upload_export(DICTIONARY.read_bytes())
    at.file_uploader(key="redcap_dictionary_upload").upload("export.csv", redcap_csv(sessions()), "text/csv").run()
    assert "The two files are the other way round" in "\n".join(e.value for e in at.error)
