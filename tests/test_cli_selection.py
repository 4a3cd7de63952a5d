"""The command line's --site/--practitioner/--product/--indication/--from/--to: the same selection as the app's
sidebar, applied after each patient's whole history is worked out (a filtered-out session still counts as the
previous injection). Hand-worked."""
from __future__ import annotations

import json
import re

import openpyxl
import pytest

from analytics.cli import main

HEADER = "patient_id,session_date,site,practitioner_id,product,total_units,baseline_pain,followup_pain"
# P1: site A on 1 Jan, then site B on 1 Apr (90 days later) and 1 Jul (91 days later).
# P2: site B on 1 Feb and 1 Mar (28 days: a short interval, and a booster under 28? no: 28 is not under 28).
ROWS = [
    "P1,2025-01-01,A,DR1,Botox,200,8,4",
    "P1,2025-04-01,B,DR2,Botox,200,8,2",
    "P1,2025-07-01,B,DR2,Botox,200,8,6",
    "P2,2025-02-01,B,DR1,Dysport,500,6,3",
    "P2,2025-03-01,B,DR1,Dysport,500,6,6",
]


@pytest.fixture
def sessions_file(tmp_path):
    path = tmp_path / "sessions.csv"
    path.write_text(HEADER + "\n" + "\n".join(ROWS) + "\n")
    return path


def summary(capsys, *args) -> dict:
    assert main(["summary", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_site_keeps_the_intervals_from_sessions_elsewhere(sessions_file, capsys):
    out = summary(capsys, str(sessions_file), "--site", "B")
    assert (out["sessions"], out["patients"]) == (4, 2)
    # intervals: P1 90 (from its site-A session) and 91, P2 28; one short (28 < 84)
    assert (out["intervals"], out["short_intervals"]) == (3, 1)
    assert out["short_interval_share"] == pytest.approx(1 / 3)
    # responses: P1 75% and 25%, P2 50% and 0% -> responders (>= 30%) 2 of 4
    assert (out["sessions_with_response"], out["responders"]) == (4, 2)
    assert out["selection"] == "site: B"


def test_a_period_and_a_product(sessions_file, capsys):
    out = summary(capsys, str(sessions_file), "--from", "2025-03-15", "--product", "BOTOX")  # a brand name
    assert (out["sessions"], out["patients"], out["intervals"], out["short_intervals"]) == (2, 1, 2, 0)
    assert out["selection"] == "sessions from 2025-03-15; product: onabotulinumtoxinA"
    both = summary(capsys, str(sessions_file), "--practitioner", "DR1", "--practitioner", "DR2", "--to", "2025-03-01")
    assert (both["sessions"], both["patients"]) == (3, 2)


def test_no_selection_is_the_whole_file(sessions_file, capsys):
    out = summary(capsys, str(sessions_file))
    assert (out["sessions"], out["patients"], out["intervals"]) == (5, 2, 3)
    assert "selection" not in out


def test_a_selection_of_a_value_in_no_session_is_refused(sessions_file, capsys):
    # a typo must not pass as "0 sessions"
    assert main(["summary", str(sessions_file), "--site", "Nowhere", "--json"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: the selection does not match the data: no site 'Nowhere' in the data (it has: A, B)")
    assert main(["report", str(sessions_file), "--out", "x.html", "--product", "Xeomin"]) == 2
    assert "no product 'incobotulinumtoxinA' in the data" in capsys.readouterr().err


def test_a_selection_on_a_column_the_file_lacks_is_refused(tmp_path, capsys):
    # without the check, every session would be counted and labelled "indication: neck_pain"
    path = tmp_path / "plain.csv"
    path.write_text(HEADER + "\n" + "\n".join(ROWS) + "\n")
    assert main(["summary", str(path), "--indication", "neck pain"]) == 2
    assert "the data has no indication recorded" in capsys.readouterr().err


def test_a_selection_that_keeps_no_session_of_the_period_says_so(sessions_file, capsys):
    out = summary(capsys, str(sessions_file), "--site", "A", "--from", "2025-02-01")
    assert (out["sessions"], out["patients"], out["responder_rate"]) == (0, 0, None)


def test_bad_dates_exit_2_with_a_message(sessions_file, capsys):
    assert main(["summary", str(sessions_file), "--from", "01/02/2025"]) == 2
    assert "--from must be a date like 2025-03-14" in capsys.readouterr().err
    assert main(["summary", str(sessions_file), "--from", "2025-05-01", "--to", "2025-04-01"]) == 2
    assert "is before --from" in capsys.readouterr().err


def test_the_report_names_its_selection(sessions_file, tmp_path, capsys):
    out = tmp_path / "book.xlsx"
    assert main(["report", str(sessions_file), "--out", str(out), "--site", "B", "--min-group-patients", "1"]) == 0
    book = openpyxl.load_workbook(out)
    about = {row[0].value: row[1].value for row in book["About"].iter_rows(min_row=2)}
    assert about["Filters"] == "site: B" and about["Setting: min_group_patients"] == 1
    kpis = {row[0].value: row[3].value for row in book["KPIs"].iter_rows(min_row=2)}
    assert kpis["Sessions"] == 4 and kpis["Short intervals"] == pytest.approx(1 / 3)


def test_the_text_summary_names_its_selection(sessions_file, capsys):
    assert main(["summary", str(sessions_file), "--site", "B", "--product", "Dysport"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    # the source is a neutral label, never the file's name (issue 9: file names are data)
    assert re.fullmatch(r"upload \d{4}-\d\d-\d\d \d\d:\d\d, 5 rows, as of 2025-07-01 \(site: B; product: "
                        r"abobotulinumtoxinA\): 2 sessions, 1 patients \(0 rows rejected; run validate for the list\)\.",
                        first)


def test_the_reports_flags_judge_each_patient_on_the_whole_history(tmp_path, capsys):
    # P9 responded 80% at site A, then 0% and 10% at site B: diminished over the whole history, while site B's
    # sessions alone hold no good response to fall from.
    rows = ["P9,2024-01-01,A,DR1,Botox,200,10,2", "P9,2024-04-01,A,DR1,Botox,200,10,2",
            "P9,2024-07-01,B,DR2,Botox,200,10,10", "P9,2024-10-01,B,DR2,Botox,200,10,9"]
    path = tmp_path / "fader.csv"
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    out = summary(capsys, str(path), "--site", "B")
    assert out["diminished_patients"] == ["P9"]
    book_path = tmp_path / "fader.xlsx"
    assert main(["report", str(path), "--out", str(book_path), "--site", "B", "--min-group-patients", "1"]) == 0
    flags = list(openpyxl.load_workbook(book_path)["Flags"].iter_rows(min_row=2, values_only=True))
    assert [(row[0], row[1]) for row in flags] == [("P9", "diminished")]
