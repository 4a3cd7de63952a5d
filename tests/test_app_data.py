"""The Data page in AppTest: the messy upload's report and identifier guard, mapping, date order, assessments,
and "look at this file without importing" switching every page for this session only."""
from __future__ import annotations

import re

from tests.app_support import ASSESSMENTS, MESSY, app, metric, no_errors, plotly_charts, shown, texts
from tests.helpers import csv_bytes, good_row

PAGE = "views/data.py"


def upload(at, name: str, data: bytes, kind: str = "sessions"):
    if kind != "sessions":
        at.radio(key="upload_kind").set_value(kind).run()
    at.file_uploader(key="upload_file").upload(name, data, "text/csv").run()
    return at


def report_rows(at):
    """The validation report's row table (the one with a 'problem' column)."""
    return next(d.value for d in at.dataframe if "problem" in d.value.columns)


def report_groups(at):
    """The validation report grouped by reason (the one with a 'cells' column)."""
    return next(d.value for d in at.dataframe if "cells" in d.value.columns)


def messy_dropped():
    at = upload(app(PAGE), "messy_export.csv", MESSY.read_bytes())
    at.button(key="guard_drop").click().run()
    return at


def test_data_page_offers_templates_and_dictionary():
    at = app(PAGE)
    no_errors(at)
    keys = {b.key for b in at.get("download_button")}
    assert {"dl_template_sessions", "dl_template_assessments", "dl_dictionary_sessions",
            "dl_dictionary_assessments"} <= keys
    assert "In use now" in texts(at) and "Sample data" in texts(at)


def test_messy_upload_is_stopped_by_the_identifier_column():
    at = upload(app(PAGE), "messy_export.csv", MESSY.read_bytes())
    guard = shown("\n".join(e.value for e in at.error))
    assert "NHS Number" in guard and "direct identifiers" in guard
    labels = {b.key: b.label for b in at.button}
    assert "NHS Number" in labels["guard_drop"] and "guard_cancel" in labels
    assert not [m for m in at.metric if m.label == "Rejected rows"]  # nothing read yet


def test_dropping_the_identifier_shows_the_report_with_11_rejected_rows():
    at = messy_dropped()
    no_errors(at)
    assert metric(at, "Rows read") == "507"
    assert metric(at, "Accepted") == "496"
    assert metric(at, "Rejected rows") == "11"
    assert metric(at, "Duplicates") == "1" and metric(at, "Conflicts") == "2"  # one tile each: a label that fits
    report = report_rows(at)
    assert len(report) == 11 and set(report["kind"]) == {"rejected"}
    assert {51, 70, 78, 107, 192, 269, 310, 357, 399, 440, 444} == set(report["line"])
    assert "Dropped identifying column(s): 'NHS Number'" in texts(at)
    assert "NHS Number" not in report["column"].tolist()


def test_the_report_shows_counts_by_reason_before_the_rows():
    at = messy_dropped()
    groups = report_groups(at)
    assert list(groups.columns) == ["kind", "cells", "rows", "reason code", "column", "reason (first example)",
                                    "first lines"]
    assert groups["kind"].tolist() == sorted(groups["kind"].tolist(), key=["rejected", "warning"].index)
    assert int(groups.loc[groups["kind"] == "rejected", "cells"].sum()) == len(report_rows(at))


def test_the_report_can_be_filtered():
    at = messy_dropped()
    at.multiselect(key="report_column").select("Date of injection").run()
    shown = report_rows(at)
    assert set(shown["line"]) == {51, 357}
    at.multiselect(key="report_column").unselect("Date of injection").run()
    at.text_input(key="report_search").input("conflict").run()
    assert set(report_rows(at)["line"]) == {78, 440}
    assert {"dl_report_full", "dl_report_shown"} <= {b.key for b in at.get("download_button")}


def test_cancel_reads_nothing():
    at = upload(app(PAGE), "messy_export.csv", MESSY.read_bytes())
    at.button(key="guard_cancel").click().run()
    no_errors(at)
    assert "Upload cancelled" in texts(at)
    assert not [m for m in at.metric if m.label == "Rows read"]


def test_looking_without_importing_switches_every_page_for_this_session_only():
    at = app()
    sample_sessions = metric(at, "Sessions")
    at.switch_page(PAGE).run()
    upload(at, "messy_export.csv", MESSY.read_bytes())
    at.button(key="guard_drop").click().run()
    assert at.button(key="use_data").label == "Look at this file without importing"
    at.button(key="use_data").click().run()
    no_errors(at)
    assert "is in use on every page, in this browser session only: it is not in the clinic's store" in texts(at)
    at.switch_page("views/overview.py").run()
    no_errors(at)
    assert metric(at, "Sessions") != sample_sessions
    sidebar = shown("\n".join(m.value for m in at.sidebar.markdown))
    assert re.search(r"Upload [\d-]+ [\d:]+, 507 rows", sidebar) and "messy_export" not in sidebar
    assert "**Sample data**" not in texts(at)
    assert "_memo" in at.session_state  # computed in this session, not in a shared cache
    other = app()  # another browser session still sees the sample
    assert metric(other, "Sessions") == sample_sessions
    assert "Sample data" in texts(other)
    at.button(key="back_to_default").click().run()
    assert metric(at, "Sessions") == sample_sessions


def test_ambiguous_dates_ask_for_the_order():
    rows = [good_row("P1", "04/05/2025"), good_row("P2", "03/06/2025"), good_row("P1", "02/09/2025")]
    at = upload(app(PAGE), "dates.csv", csv_bytes(rows))
    no_errors(at)
    assert "day-first or month-first" in shown("\n".join(w.value for w in at.warning))
    assert at.radio(key="date_order").value == "auto"  # "Read it from the file" shows as chosen
    at.radio(key="date_order").set_value("dayfirst").run()
    no_errors(at)
    assert metric(at, "Accepted") == "3"
    assert "Dates read day-first, as chosen." in texts(at)


def test_an_unrecognised_column_can_be_mapped_by_hand():
    header = ["patient_id", "session_date", "product", "Dosis", "baseline_pain", "followup_pain"]
    at = upload(app(PAGE), "dosis.csv", csv_bytes([good_row("P1"), good_row("P2")], header=header))
    assert "Required column(s) missing: total_units" in shown("\n".join(e.value for e in at.error))
    at.selectbox(key="map_Dosis").set_value("total_units").run()
    no_errors(at)
    assert metric(at, "Accepted") == "2"
    assert "dl_mapping" in {b.key for b in at.get("download_button")}


def test_an_assessments_upload_shows_the_timeline_by_group():
    at = upload(app(PAGE), "assessments.csv", ASSESSMENTS.read_bytes(), kind="assessments")
    no_errors(at)
    assert plotly_charts(at)
    by = at.selectbox(key="assessment_by")
    assert len(by.options) >= 1
    assert {"days_after", "n", "mean_change"} <= set(timeline_table(at).columns)
    if len(by.options) > 1:
        by.set_value(by.options[1]).run()
        no_errors(at)
        assert by.options[1] in timeline_table(at).columns


def timeline_table(at):
    return next(d.value for d in at.dataframe if "mean_change" in d.value.columns)


def test_identifying_patient_codes_can_be_pseudonymised_with_the_clinic_key(monkeypatch):
    rows = [good_row("ann@example.org"), good_row("bob@example.org", "2025-04-02")]
    monkeypatch.delenv("OUTCOMES_PSEUDONYM_KEY", raising=False)
    at = upload(app(PAGE), "emails.csv", csv_bytes(rows))
    assert "e-mail" in shown("\n".join(e.value for e in at.error))
    at.button(key="guard_pseudonymise").click().run()
    assert "no key is set" in shown("\n".join(e.value for e in at.error))  # refused without the clinic's key
    monkeypatch.setenv("OUTCOMES_PSEUDONYM_KEY", "clinic-secret")
    at2 = upload(app(PAGE), "emails.csv", csv_bytes(rows))
    at2.button(key="guard_pseudonymise").click().run()
    no_errors(at2)
    assert metric(at2, "Accepted") == "2"
    preview = next(d.value for d in at2.dataframe if "patient_id" in d.value.columns)
    assert preview["patient_id"].str.startswith("px-").all()
    assert "example.org" not in "".join(d.value.to_csv() for d in at2.dataframe)


def test_excel_and_parquet_uploads_read_like_csv(tmp_path):
    import pandas as pd

    at = upload(app(PAGE), "messy_export.xlsx", MESSY.with_suffix(".xlsx").read_bytes())
    at.button(key="guard_drop").click().run()
    no_errors(at)
    assert metric(at, "Rejected rows") == "11" and metric(at, "Accepted") == "496"
    path = tmp_path / "sessions.parquet"
    pd.read_csv(MESSY.parent / "sessions.csv").head(40).to_parquet(path)
    at = upload(app(PAGE), "sessions.parquet", path.read_bytes())
    no_errors(at)
    assert metric(at, "Accepted") == "40"


def test_a_saved_mapping_can_be_loaded_for_the_next_export():
    header = ["patient_id", "session_date", "product", "Dosis", "baseline_pain", "followup_pain"]
    at = upload(app(PAGE), "dosis.csv", csv_bytes([good_row("P1"), good_row("P2")], header=header))
    assert at.error  # total_units missing until mapped
    at.file_uploader(key="mapping_upload").upload("mapping.json", b'{"Dosis": "total_units", "Gone": "site"}',
                                                  "application/json").run()
    no_errors(at)
    assert metric(at, "Accepted") == "2"
    assert at.selectbox(key="map_Dosis").value == "total_units"
    assert "Mapping loaded: 1 column(s)" in texts(at)


def test_a_refused_file_is_headed_by_its_reason():
    from analytics.reason_codes import IDENTIFIER_REFUSALS, Refusal
    from views.data import REFUSAL_HEADLINES

    # every refusal has a headline, but those with a section of their own (identifiers, date order)
    assert set(REFUSAL_HEADLINES) == set(Refusal) - IDENTIFIER_REFUSALS - {Refusal.AMBIGUOUS_DATE_ORDER}
    at = upload(app(PAGE), "two_columns.csv", csv_bytes([["P1", "x"]], header=["who", "what"]))
    no_exception = not at.exception
    assert no_exception
    message = shown(at.error[0].value)
    assert message.startswith("**A required column is missing.** Required column(s) missing: ")


def workbook_with_a_cover_sheet() -> bytes:
    """A workbook: a cover page, the sessions, and an older copy of the sessions with one patient."""
    import io

    import openpyxl

    book = openpyxl.Workbook()
    cover = book.active
    cover.title = "Cover"
    cover.append(["Clinic export"])
    cover.append(["generated 2025-06-30"])
    header = ["patient_id", "session_date", "product", "total_units", "baseline_pain", "followup_pain"]
    for title, patients in (("Sessions", ["007", "P2", "P3"]), ("Old", ["P9"])):
        sheet = book.create_sheet(title)
        sheet.append(header)
        for patient in patients:
            sheet.append([patient, "2025-01-06", "Botox", 100, 6, 3])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_workbook_sheet_is_chosen_for_the_user_and_can_be_changed():
    at = app(PAGE)
    at.file_uploader(key="upload_file").upload("export.xlsx", workbook_with_a_cover_sheet(),
                                               "application/vnd.ms-excel").run()
    no_errors(at)
    assert metric(at, "Accepted") == "3"
    assert any("Read sheet 'Sessions'" in t for t in texts(at).splitlines())
    box = at.selectbox(key="upload_sheet")
    assert box.options == ["The first whose header fits the data contract", "Cover", "Sessions", "Old"]
    box.set_value("Old").run()
    no_errors(at)
    assert metric(at, "Accepted") == "1"
    at.selectbox(key="upload_sheet").set_value("Cover").run()
    assert "A required column is missing." in shown("\n".join(e.value for e in at.error))


def test_a_hostile_export_on_the_data_page_keeps_codes_and_says_what_it_read_as_not_recorded():
    """007 and 7 stay two patients; '?' and 'n.a.' in follow-up pain are 'not recorded' (one warning, row kept);
    Infinity and a 1899-12-30 date are rejected with the cells as written."""
    rows = [good_row("007"), good_row("7"), good_row(" 0012 ", after="?"), good_row("P4", after="n.a."),
            good_row("P5", units="Infinity"), good_row("P6", day="1899-12-30")]
    at = upload(app(PAGE), "hostile.csv", csv_bytes(rows))
    no_errors(at)
    assert metric(at, "Accepted") == "4" and metric(at, "Rejected rows") == "2"
    groups = report_groups(at)[["kind", "reason code", "column", "cells", "first lines"]]
    assert groups.values.tolist() == [["rejected", "not_finite", "total_units", 1, "6"],
                                      ["rejected", "too_early", "session_date", 1, "7"],
                                      ["warning", "not_recorded", "followup_pain", 1, "4"]]
    assert report_groups(at)["reason (first example)"].iloc[2] == \
        "2 cells read as not recorded ('?', 'n.a.') — lines 4, 5"
    rejected = report_rows(at).query("kind == 'rejected'")
    assert rejected[["line", "value"]].values.tolist() == [[6, "Infinity"], [7, "1899-12-30"]]
    preview = next(d.value for d in at.dataframe if "patient_id" in d.value.columns)
    assert preview["patient_id"].tolist() == ["007", "7", "0012", "P4"]
