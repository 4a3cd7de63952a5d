"""The command line's --redcap-dictionary: the same sessions as a canonical CSV and as a REDCap export with its data
dictionary give the identical `summary --json`, and every file-reading command takes the option."""
from __future__ import annotations

import csv
import io
import json

import pandas as pd
import pytest

from analytics.cli import build_parser, main
from tests.test_redcap_export import DICTIONARY, export_bytes

PRODUCT_CODES = {"Botox": "1", "Dysport": "2", "Xeomin": "3"}
MUSCLE_CODES = {"splenius_capitis": 1, "sternocleidomastoid": 2, "trapezius": 3, "levator_scapulae": 4}
INDICATION_CODES = {"cervical_dystonia": "1", "neck_pain": "2", "tension_headache": "3"}
PATIENTS = {"P01": ("North", "cervical_dystonia"), "P02": ("North", "neck_pain"), "P03": ("South", "cervical_dystonia"),
            "P04": ("South", "tension_headache"), "P05": ("North", "cervical_dystonia")}


def sessions() -> list[dict]:
    """Fifteen sessions of five patients, made by a fixed rule (three each, about 90 days apart)."""
    out = []
    products = list(PRODUCT_CODES)
    for p, patient in enumerate(PATIENTS):
        for n in range(3):
            month = 1 + 3 * n + p % 2
            out.append({"patient_id": patient, "session_date": f"2025-{month:02d}-{10 + p:02d}",
                        "practitioner_id": f"dr{1 + (p + n) % 2}", "product": products[(p + n) % 3],
                        "total_units": str(100 + 20 * p + 10 * n), "muscles": ["splenius_capitis", "trapezius"][
                            : 1 + (p + n) % 2] + (["levator_scapulae"] if p == 3 else []),
                        "baseline_pain": str(6 + (p + n) % 4), "followup_pain": str((p * 3 + n * 2) % 7),
                        "followup_days": "28", "wearing_off_days": "" if n == 2 else str(60 + 7 * p + n),
                        "pgic": str(1 + (p + n) % 5)})
    return out


def canonical_csv(rows: list[dict]) -> bytes:
    columns = ["patient_id", "session_date", "site", "indication", "practitioner_id", "product", "total_units",
               "muscles", "baseline_pain", "followup_pain", "followup_days", "wearing_off_days", "pgic"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        site, indication = PATIENTS[row["patient_id"]]
        writer.writerow([*[row[c] for c in columns[:2]], site, indication,
                         *[";".join(row[c]) if c == "muscles" else row[c] for c in columns[4:]]])
    return out.getvalue().encode("utf-8")


def redcap_csv(rows: list[dict]) -> bytes:
    """The same sessions as a REDCap flat export: a base row per patient, a repeat instance per session, codes for
    the choices, one unfinished instance (kept out, not counted anywhere else)."""
    out = []
    for patient, (site, indication) in PATIENTS.items():
        out.append({"record_id": patient, "site": site, "indication": INDICATION_CODES[indication],
                    "patient_complete": "2"})
        mine = [r for r in rows if r["patient_id"] == patient]
        for n, row in enumerate(mine, start=1):
            out.append({"record_id": patient, "redcap_repeat_instrument": "injection_session",
                        "redcap_repeat_instance": str(n), "inj_date": row["session_date"],
                        "injector": row["practitioner_id"], "product": PRODUCT_CODES[row["product"]],
                        "total_units": row["total_units"], "muscles": [MUSCLE_CODES[m] for m in row["muscles"]],
                        "pain_pre": row["baseline_pain"], "pain_post": row["followup_pain"],
                        "review_days": row["followup_days"], "wearing_off": row["wearing_off_days"],
                        "pgic": row["pgic"], "injection_session_complete": "2"})
        out.append({"record_id": patient, "redcap_repeat_instrument": "injection_session",
                    "redcap_repeat_instance": str(len(mine) + 1), "inj_date": "2025-12-01", "product": "1",
                    "injection_session_complete": "0"})
    return export_bytes(out)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_same_sessions_as_csv_and_as_redcap_give_the_identical_summary(tmp_path, capsys):
    rows = sessions()
    plain, export = tmp_path / "sessions.csv", tmp_path / "redcap_export.csv"
    plain.write_bytes(canonical_csv(rows))
    export.write_bytes(redcap_csv(rows))
    code, expected, _ = run(capsys, "summary", str(plain), "--json")
    assert code == 0
    code, got, err = run(capsys, "summary", str(export), "--redcap-dictionary", str(DICTIONARY), "--json")
    assert code == 0, err
    assert json.loads(got) == json.loads(expected)
    assert json.loads(got)["sessions"] == 15


def test_validate_reads_the_export_and_says_where_the_rows_went(tmp_path, capsys):
    export = tmp_path / "redcap_export.csv"
    export.write_bytes(redcap_csv(sessions()))
    code, out, _ = run(capsys, "validate", str(export), "--redcap-dictionary", str(DICTIONARY), "--json")
    report = json.loads(out)
    assert code == 0
    assert (report["rows"], report["accepted_rows"], report["rejected_rows"]) == (15, 15, 0)
    assert report["notes"][0] == ("REDCap export, 25 row(s): 15 session row(s) checked; 5 base row(s) merged into "
                                  "their record's sessions; 5 kept out: form not marked complete (status 0 or "
                                  "blank).")


def test_without_the_dictionary_the_export_is_refused_as_before(tmp_path, capsys):
    export = tmp_path / "redcap_export.csv"
    export.write_bytes(redcap_csv(sessions()))
    code, out, _ = run(capsys, "validate", str(export))
    assert code == 2
    assert "Required column(s) missing" in out


def test_include_unverified_without_a_dictionary_is_refused(tmp_path, capsys):
    plain = tmp_path / "sessions.csv"
    plain.write_bytes(canonical_csv(sessions()))
    code, _, err = run(capsys, "validate", str(plain), "--include-unverified")
    assert code == 2
    assert "--include-unverified applies to a REDCap export" in err


@pytest.mark.parametrize("command", ["validate", "summary", "import", "report", "compare", "timeline"])
def test_every_file_reading_command_takes_the_dictionary(command):
    extra = {"report": ["--out", "x.html"], "compare": ["--by", "site"]}.get(command, [])
    args = build_parser().parse_args([command, "export.csv", "--redcap-dictionary", "dict.csv",
                                      "--include-unverified", *extra])
    assert (args.redcap_dictionary, args.include_unverified) == ("dict.csv", True)


def test_a_redcap_import_twice_changes_nothing_the_second_time(tmp_path, capsys):
    export = tmp_path / "redcap_export.csv"
    export.write_bytes(redcap_csv(sessions()))
    db = str(tmp_path / "outcomes.duckdb")
    argv = ["import", str(export), "--redcap-dictionary", str(DICTIONARY), "--db", db, "--json"]
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    first = json.loads(out)["import"]
    assert (first["new"], first["updated"]) == (15, 0)
    code, out, _ = run(capsys, *argv)
    second = json.loads(out)["import"]
    assert code == 0
    assert (second["new"], second["updated"], second["changed"]) == (0, 0, False)


def test_timeline_reads_a_repeating_diary_instrument(tmp_path, capsys):
    header = ("Variable / Field Name,Form Name,Section Header,Field Type,Field Label,\"Choices, Calculations, OR "
              "Slider Labels\",Field Note,Text Validation Type OR Show Slider Number,Text Validation Min,Text "
              "Validation Max,Identifier?,Branching Logic (Show field only if...),Required Field?,Custom Alignment,"
              "Question Number (surveys only),Matrix Group Name,Matrix Ranking?,Field Annotation\n")
    fields = [["study_id", "enrolment", "", "text", "Study ID"], ["arm", "enrolment", "", "radio", "Arm",
                                                                   "1, Toxin | 2, Placebo"],
              ["inj_date", "diary", "", "text", "Date of injection"], ["day", "diary", "", "text",
                                                                       "Days after injection"],
              ["pain", "diary", "", "text", "Pain score (0-10)"]]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(f + [""] * (18 - len(f)) for f in fields)
    dictionary = tmp_path / "dictionary.csv"
    dictionary.write_text(header + out.getvalue(), encoding="utf-8")
    lines = ["study_id,redcap_repeat_instrument,redcap_repeat_instance,arm,enrolment_complete,inj_date,day,pain,"
             "diary_complete"]
    for n, patient in enumerate(["S1", "S2", "S3", "S4"]):
        lines.append(f"{patient},,,{1 + n % 2},2,,,,")
        for i, (day, drop) in enumerate([(0, 0), (14, 3), (28, 2)], start=1):
            lines.append(f"{patient},diary,{i},,,2025-03-0{1 + n},{day},{7 - drop - n % 2},2")
    export = tmp_path / "diary_export.csv"
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, out, err = run(capsys, "timeline", str(export), "--redcap-dictionary", str(dictionary), "--by", "arm",
                         "--json")
    assert code == 0, err + out
    records = json.loads(out)["records"]
    assert {r["arm"] for r in records} == {"Toxin", "Placebo"}
    assert {(r["arm"], r["days_after"], r["mean_change"]) for r in records if r["days_after"] == 14} == {
        ("Toxin", 14, -3.0), ("Placebo", 14, -3.0)}


def test_the_redcap_sessions_equal_the_canonical_files_column_by_column():
    from analytics.ingest import load
    from analytics.redcap_export import load_redcap

    rows = sessions()
    plain = load(canonical_csv(rows)).data.drop(columns="line")
    loaded = load_redcap(redcap_csv(rows), DICTIONARY.read_bytes()).result.data
    assert loaded["line"].tolist() == [n for n in range(2, 27) if (n - 2) % 5 not in (0, 4)]
    assert sorted(loaded.columns.drop("line")) == sorted(plain.columns)
    redcap = loaded.drop(columns="line")[list(plain.columns)]
    pd.testing.assert_frame_equal(redcap, plain)
