"""Tests of the sample-data generator (data/sample/generate.py) and of the samples committed beside it."""
from __future__ import annotations

import csv
import importlib.util
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics import schema

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
SAMPLE_FILES = ("sessions.csv", "faded_patients.csv", "assessments.csv", "messy_export.csv", "messy_export.xlsx",
                "messy_export_expected.json")
LABEL_RANGES = {  # units per session, per product (domain.md); faders' raised doses stay inside too
    "onabotulinumtoxinA": (50, 400),
    "abobotulinumtoxinA": (250, 1000),
    "incobotulinumtoxinA": (50, 300),
    "rimabotulinumtoxinB": (2500, 10000),
}
MUSCLES = {"sternocleidomastoid", "splenius_capitis", "trapezius", "levator_scapulae", "scalenes",
           "semispinalis_capitis"}


def load_generator():
    """Import data/sample/generate.py as a module (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("sample_generate", SAMPLE / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


gen = load_generator()


@pytest.fixture(scope="module")
def sessions() -> pd.DataFrame:
    """The committed sessions, sorted per patient by date, with response and interval added."""
    s = pd.read_csv(SAMPLE / "sessions.csv", dtype={"muscles": str, "adverse_events": str},
                    keep_default_na=False, na_values={c: [""] for c in (
                        "followup_pain", "followup_days", "onset_days", "peak_days", "wearing_off_days", "pgic",
                        "baseline_twstrs", "followup_twstrs", "cycle_number")})
    s["session_date"] = pd.to_datetime(s["session_date"], format="%Y-%m-%d")
    s = s.sort_values(["patient_id", "session_date"], kind="stable").reset_index(drop=True)
    s["response_pct"] = 100.0 * (s["baseline_pain"] - s["followup_pain"]) / s["baseline_pain"]
    s["interval_days"] = s.groupby("patient_id")["session_date"].diff().dt.days
    return s


@pytest.fixture(scope="module")
def faders() -> pd.DataFrame:
    return pd.read_csv(SAMPLE / "faded_patients.csv")


@pytest.fixture(scope="module")
def messy_text() -> str:
    return (SAMPLE / "messy_export.csv").read_bytes().decode("utf-8")


@pytest.fixture(scope="module")
def messy_rows(messy_text) -> list[list[str]]:
    """All records of the messy CSV (header first), BOM removed."""
    return list(csv.reader(io.StringIO(messy_text.lstrip("\ufeff"), newline=""), delimiter=";"))


@pytest.fixture(scope="module")
def expected() -> dict:
    return json.loads((SAMPLE / "messy_export_expected.json").read_text(encoding="utf-8"))


def diminished(sessions: pd.DataFrame, last_n: int = 2, threshold: float = 30.0, fraction: float = 0.5) -> set:
    """The docs/metrics.md "diminished response" rule: >= 3 sessions with a response; best response before the last
    `last_n` reached the threshold; each of the last `last_n` below `fraction` of that best."""
    s = sessions.dropna(subset=["response_pct"]).sort_values(["patient_id", "session_date"], kind="stable")
    s = s.assign(from_end=s.groupby("patient_id").cumcount(ascending=False),
                 n=s.groupby("patient_id")["response_pct"].transform("size"))
    s = s[s["n"] >= 3]
    best = s[s["from_end"] >= last_n].groupby("patient_id")["response_pct"].max()
    worst_last = s[s["from_end"] < last_n].groupby("patient_id")["response_pct"].max()
    flagged = (best >= threshold) & (worst_last < fraction * best)
    return set(flagged.index[flagged])


# ---------------------------------------------------------------------------------------------- generator


def test_same_seed_gives_same_bytes(tmp_path):
    first, second, other = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    gen.write_samples(first, patients=150, seed=7)
    gen.write_samples(second, patients=150, seed=7)
    gen.write_samples(other, patients=150, seed=8)
    for name in SAMPLE_FILES:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert (first / "sessions.csv").read_bytes() != (other / "sessions.csv").read_bytes()


def test_committed_samples_are_what_the_generator_makes(tmp_path):
    gen.write_samples(tmp_path)
    for name in SAMPLE_FILES:
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), f"{name}: run data/sample/generate.py"


def test_big_only_command_line_writes_only_the_sessions_file(tmp_path):
    run = subprocess.run([sys.executable, str(SAMPLE / "generate.py"), "--patients", "3000", "--out", str(tmp_path),
                          "--big-only", "--seed", "11"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sessions_3k.csv"]
    big = pd.read_csv(tmp_path / "sessions_3k.csv")
    assert list(big.columns) == [c.name for c in schema.SESSION_COLUMNS]
    assert big["patient_id"].nunique() > 2900 and 5 * 3000 < len(big) < 8 * 3000
    assert big["session_id"].is_unique
    assert gen.big_name(200_000) == "sessions_200k.csv"


def test_committed_files_are_small():
    for name in SAMPLE_FILES:
        assert (SAMPLE / name).stat().st_size < 3_000_000, name


# ---------------------------------------------------------------------------------------------- sessions


def test_sessions_header_is_canonical_and_plain():
    raw = (SAMPLE / "sessions.csv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf") and b"\r\n" not in raw
    header = raw.split(b"\n", 1)[0].decode()
    assert header.split(",") == [c.name for c in schema.SESSION_COLUMNS]


def test_sessions_shape(sessions):
    assert 450 <= sessions["patient_id"].nunique() <= 500
    assert 2500 <= len(sessions) <= 4000
    assert sessions["session_id"].is_unique
    assert sessions["session_id"].str.fullmatch(r"S\d{6}").all()
    assert sessions["patient_id"].str.fullmatch(r"P\d{5}").all()
    assert sessions["practitioner_id"].str.fullmatch(r"PR\d\d").all() and sessions["practitioner_id"].nunique() == 10
    assert set(sessions["site"]) == {"North", "Central", "South"}
    assert sessions["session_date"].min() >= pd.Timestamp("2023-10-01")
    assert sessions["session_date"].max() <= pd.Timestamp("2026-09-30")
    per_patient = sessions.groupby("patient_id").size()
    assert per_patient.min() >= 1 and per_patient.max() <= 12


def test_vocabularies_and_ranges(sessions):
    assert set(sessions["product"]) <= set(schema.PRODUCTS)
    assert set(sessions["indication"]) <= set(schema.INDICATIONS)
    for column in ("baseline_pain", "followup_pain", "followup_days", "onset_days", "peak_days", "wearing_off_days",
                   "pgic", "baseline_twstrs", "followup_twstrs", "cycle_number"):
        spec = schema.SESSION_BY_NAME[column]
        values = sessions[column].dropna()
        assert values.min() >= spec.low, column
        if spec.high is not None:
            assert values.max() <= spec.high, column
        if spec.kind == "integer":
            assert (values % 1 == 0).all(), column
    assert (sessions["peak_days"].dropna() >= sessions.loc[sessions["peak_days"].notna(), "onset_days"]).all()
    events = sessions["adverse_events"].str.split(";").explode()
    assert set(events) <= set(schema.ADVERSE_EVENTS)


def test_indication_mix(sessions):
    share = sessions.drop_duplicates("patient_id")["indication"].value_counts(normalize=True)
    assert share["cervical_dystonia"] + share["neck_pain"] > 0.6
    assert share.index[:2].tolist() == ["cervical_dystonia", "neck_pain"] or share.index[:2].tolist() == [
        "neck_pain", "cervical_dystonia"]
    for other in ("tension_headache", "upper_back_pain", "arm_pain", "other"):
        assert 0.01 < share[other] < 0.15, other


def test_product_shares(sessions):
    share = sessions["product"].value_counts(normalize=True)
    assert 0.45 <= share["onabotulinumtoxinA"] <= 0.65
    assert 0.15 <= share["abobotulinumtoxinA"] <= 0.32
    assert 0.07 <= share["incobotulinumtoxinA"] <= 0.22
    assert 0.01 <= share["rimabotulinumtoxinB"] <= 0.08
    assert share.index.tolist()[:4] == list(gen.PRODUCTS)


def test_intervals(sessions):
    gaps = sessions["interval_days"].dropna()
    assert 90 <= gaps.median() <= 110
    assert 0.05 <= (gaps < 84).mean() <= 0.15
    assert 0.005 <= (gaps < 28).mean() <= 0.03


def test_doses_within_label_ranges_and_rounded(sessions):
    for product, (low, high) in LABEL_RANGES.items():
        units = sessions.loc[sessions["product"] == product, "total_units"]
        assert units.min() >= low and units.max() <= high, product
    units, product = sessions["total_units"], sessions["product"]
    assert (units[product == "rimabotulinumtoxinB"] % 250 == 0).all()
    assert (units[product == "abobotulinumtoxinA"] % 10 == 0).all()
    assert (units[product.isin(["onabotulinumtoxinA", "incobotulinumtoxinA"])] % 2.5 == 0).all()
    assert (units % 5 == 0).mean() > 0.9
    ona = units[product == "onabotulinumtoxinA"]
    assert 200 <= ona.median() <= 250 and 170 <= ona.quantile(0.25) and ona.quantile(0.75) <= 310


def test_muscle_units_sum_to_total(sessions):
    items = sessions["muscles"].str.split(";")
    assert items.str.len().between(2, 4).all()
    parsed = items.apply(lambda xs: [x.split(":") for x in xs])
    assert parsed.apply(lambda xs: all(m in MUSCLES for m, _ in xs)).all()
    totals = parsed.apply(lambda xs: sum(float(u) for _, u in xs))
    assert np.allclose(totals, sessions["total_units"])
    assert parsed.apply(lambda xs: all(float(u) > 0 for _, u in xs)).all()


def test_outcomes_look_like_a_clinic(sessions):
    response = sessions["response_pct"].dropna()
    assert 0.07 <= sessions["followup_pain"].isna().mean() <= 0.15
    assert sessions["followup_pain"].isna().equals(sessions["followup_days"].isna())
    assert 50 <= response.median() <= 65
    assert 0.75 <= (response >= 30).mean() <= 0.95
    assert sessions["baseline_pain"].between(4, 9).mean() > 0.95
    assert 2 <= sessions["onset_days"].median() <= 4 and 12 <= sessions["peak_days"].median() <= 16
    assert sessions["followup_days"].dropna().between(7, 42).all()
    # PGIC goes with the response
    assert sessions.groupby("pgic")["response_pct"].mean().dropna().is_monotonic_decreasing
    # TWSTRS only for cervical dystonia
    dystonia = sessions["indication"] == "cervical_dystonia"
    assert sessions.loc[~dystonia, ["baseline_twstrs", "followup_twstrs"]].isna().all().all()
    assert sessions.loc[dystonia, "baseline_twstrs"].between(20, 60).mean() > 0.95
    drop = (sessions["baseline_twstrs"] - sessions["followup_twstrs"])[dystonia & (sessions["response_pct"] >= 50)]
    assert 8 <= drop.median() <= 14
    # cycle_number for ~30% of patients, counting on by one
    counted = sessions.groupby("patient_id")["cycle_number"].apply(lambda c: c.notna().all())
    assert 0.25 <= counted.mean() <= 0.35
    assert (sessions.groupby("patient_id")["cycle_number"].diff().dropna() == 1).all()


def test_wearing_off_only_when_it_came_before_the_next_session(sessions):
    s = sessions
    next_gap = s.groupby("patient_id")["session_date"].shift(-1).sub(s["session_date"]).dt.days
    as_of = s["session_date"].max()
    horizon = next_gap.fillna((as_of - s["session_date"]).dt.days)
    recorded = s["wearing_off_days"].notna()
    assert (s.loc[recorded, "wearing_off_days"] < horizon[recorded]).all()
    assert not (recorded & (s["response_pct"] < 30)).any()
    assert 0.15 <= recorded.mean() <= 0.45
    assert s.loc[recorded, "wearing_off_days"].between(40, 200).all()


def test_adverse_event_rates(sessions):
    events = sessions["adverse_events"]
    has = {e: events.str.contains(rf"(?:^|;){e}(?:;|$)") for e in schema.ADVERSE_EVENTS if e != "none"}
    assert 0.15 <= (events != "none").mean() <= 0.28
    assert 0.04 <= has["neck_weakness"].mean() <= 0.08
    assert 0.03 <= has["dysphagia"].mean() <= 0.07
    assert has["injection_site_pain"].mean() == max(v.mean() for v in has.values())
    abo = sessions["product"] == "abobotulinumtoxinA"
    assert has["dysphagia"][abo].mean() > has["dysphagia"][~abo].mean()
    assert not events.str.contains("none;|;none").any()


# ---------------------------------------------------------------------------------------------- faders


def test_faded_patients_match_the_diminished_rule(sessions, faders):
    flagged, truth = diminished(sessions), set(faders["patient_id"])
    hits = len(flagged & truth)
    precision, recall = hits / max(len(flagged), 1), hits / len(truth)
    assert precision >= 0.95 and recall >= 0.95, (precision, recall, sorted(flagged ^ truth))


def test_faders_are_about_five_percent_with_enough_sessions(sessions, faders):
    n_patients = sessions["patient_id"].nunique()
    assert 0.04 <= len(faders) / n_patients <= 0.06
    per_patient = sessions.groupby("patient_id").size()
    assert (per_patient[faders["patient_id"]] >= 5).all()
    start = sessions.merge(faders, left_on="session_id", right_on="fade_start_session_id")
    assert (start["patient_id_x"] == start["patient_id_y"]).all() and len(start) == len(faders)


def test_faders_fade_with_dose_up_and_intervals_down(sessions, faders):
    s = sessions[sessions["patient_id"].isin(faders["patient_id"])].copy()
    start = s["patient_id"].map(faders.set_index("patient_id")["fade_start_date"]).pipe(pd.to_datetime)
    before, after = s[s["session_date"] < start], s[s["session_date"] > start]
    assert before["response_pct"].mean() >= 55 and after["response_pct"].mean() < 25
    assert after["interval_days"].median() < 0.9 * before["interval_days"].median()
    raised = 0
    for pid, rows in s.groupby("patient_id"):
        early, late = rows[rows["session_date"] < start[rows.index]], rows.iloc[-2:]
        same = late["product"].iloc[0] == early["product"].iloc[0]
        raised += same and late["total_units"].iloc[0] >= 1.2 * early["total_units"].iloc[-1]
    assert raised >= 0.8 * len(faders)
    duration_before = before["wearing_off_days"].median()
    duration_start = s.loc[s["session_date"] == start, "wearing_off_days"].median()
    assert duration_start < 0.9 * duration_before


def test_non_faders_do_not_fade(sessions, faders):
    s = sessions[~sessions["patient_id"].isin(faders["patient_id"])]
    position = s.groupby("patient_id").cumcount().clip(upper=8)
    by_cycle = s.groupby(position)["response_pct"].mean()
    assert by_cycle.max() - by_cycle.min() < 6


# ---------------------------------------------------------------------------------------------- assessments


def test_assessments(sessions):
    a = pd.read_csv(SAMPLE / "assessments.csv")
    assert list(a.columns) == ["patient_id", "session_id", "days_after", "pain", "dose_band"]
    assert set(a["days_after"]) <= {0, 3, 7, 14, 28, 56, 84, 112}
    assert 120 <= a["session_id"].nunique() <= 160 and 80 <= a["patient_id"].nunique() <= 100
    assert a["pain"].between(0, 10).all()
    assert (a.groupby("session_id")["days_after"].min() == 0).all()
    base = a[a["days_after"] == 0].merge(sessions, on="session_id", suffixes=("", "_s"))
    assert len(base) == a["session_id"].nunique() and (base["patient_id"] == base["patient_id_s"]).all()
    assert (base["pain"] == base["baseline_pain"]).all()
    mean = a.groupby("days_after")["pain"].mean()
    assert mean[14] < mean[0] - 2 and mean[28] < mean[0] - 2 and mean[3] > mean[14]
    assert mean[112] > mean[28] + 1
    assert len(a) < 8 * a["session_id"].nunique()  # some scores missing


# ---------------------------------------------------------------------------------------------- messy export


def test_messy_csv_is_a_real_export(messy_text, messy_rows):
    raw = (SAMPLE / "messy_export.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.count(b"\r\n") == len(messy_rows) and raw.count(b"\n") == len(messy_rows)
    header = messy_rows[0]
    assert messy_text.lstrip("\ufeff").split("\r\n", 1)[0] == ";".join(header)
    column = {h: [r[i] for r in messy_rows[1:]] for i, h in enumerate(header)}
    assert any(re.fullmatch(r"\d+,5", v) for v in column["Total dose (U)"])
    assert any(re.fullmatch(r"\d+,5", v) for v in column["TWSTRS before"])
    dates = [v for v in column["Date of injection"] if v]
    assert all(re.fullmatch(r"\d\d/\d\d/\d{4}", v) for v in dates)
    assert sum(int(v[:2]) > 12 for v in dates) > len(dates) / 3
    assert "" in column["Injector"] and "" in column["Pain after"]
    brands = set(column["Toxin"])
    assert {"Botox", "DYSPORT", "xeomin", "NeuroBloc"} <= brands


def test_messy_headers_map_through_the_schema(messy_rows):
    header = messy_rows[0]
    mapped = {h: schema.SESSION_ALIASES.get(schema.normalise_header(h)) for h in header}
    assert mapped == gen.MESSY_HEADERS
    assert set(mapped.values()) - {None} == {c.name for c in schema.SESSION_COLUMNS}
    identifying = [h for h in header
                   if any(re.search(p, schema.normalise_header(h)) for p, _ in schema.IDENTIFIER_HEADERS)]
    assert identifying == ["NHS Number"]


def test_messy_vocabulary_maps_through_the_schema(messy_rows, expected):
    header = messy_rows[0]
    bad_lines = {r["line"] for r in expected["messy_export.csv"]["rejected"] if r["column"]}
    rows = [r for line, r in enumerate(messy_rows[1:], start=2) if line not in bad_lines]
    cell = lambda r, h: r[header.index(h)]  # noqa: E731
    assert {schema.PRODUCT_ALIASES.get(schema.normalise_token(cell(r, "Toxin"))) for r in rows} == set(gen.PRODUCTS)
    diagnoses = {cell(r, "Diagnosis") for r in rows} - {""}
    assert all(schema.INDICATION_ALIASES.get(schema.normalise_token(d)) for d in diagnoses)
    events = {e for r in rows for e in cell(r, "Side effects").split(";") if e}
    assert all(schema.ADVERSE_EVENT_ALIASES.get(schema.normalise_token(e)) for e in events)


def nhs_valid(number: str) -> bool:
    """NHS modulus-11 check."""
    if not re.fullmatch(r"\d{10}", number):
        return False
    check = 11 - sum(int(d) * (10 - i) for i, d in enumerate(number[:9])) % 11
    return check != 10 and (0 if check == 11 else check) == int(number[9])


def test_messy_identifier_column_passes_modulus_11(messy_rows):
    i = messy_rows[0].index("NHS Number")
    numbers = {r[i] for r in messy_rows[1:]}
    assert numbers and all(nhs_valid(n) and n.startswith("999") for n in numbers)


def test_messy_expected_outcome_is_consistent(messy_rows, expected):
    header, data = messy_rows[0], messy_rows[1:]
    exp = expected["messy_export.csv"]
    assert exp == expected["messy_export.xlsx"]
    assert exp["rows"] == len(data) and exp["identifier_columns"] == ["NHS Number"]
    lines = {r["line"] for r in exp["rejected"]}
    assert exp["accepted"] + len(lines) == exp["rows"] == exp["accepted"] + exp["rejected_rows"]
    cell_problems = [r for r in exp["rejected"] if r["column"] and r["column"] != "Visit ID"]
    assert 6 <= len(cell_problems) <= 8
    for r in cell_problems:
        assert data[r["line"] - 2][header.index(r["column"])] == r["value"], r
    [(original, copy)] = exp["duplicate_lines"]
    assert data[original - 2] == data[copy - 2] and copy in lines and original not in lines
    first, second = exp["conflict_lines"]
    vid = header.index("Visit ID")
    assert data[first - 2][vid] == data[second - 2][vid] and data[first - 2] != data[second - 2]
    assert {first, second} <= lines
    # nothing else repeats a session id
    ids = pd.Series([r[vid] for r in data])
    assert sorted(ids[ids.duplicated(keep=False)].index + 2) == sorted({original, copy, first, second})


def test_messy_xlsx_has_the_same_content(messy_rows):
    from openpyxl import load_workbook

    sheet = load_workbook(SAMPLE / "messy_export.xlsx", read_only=True).active
    as_text = lambda v: "" if v is None else str(v).replace(".", ",") if isinstance(v, float) else str(v)  # noqa
    rows = [[as_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    assert rows == messy_rows
