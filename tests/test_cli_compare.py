"""`python -m analytics compare`: the JSON keys exactly, exit codes as `summary`, suppressed groups as nulls,
--adjust none against casemix, the text table; the same figures as analytics.funnel.funnel."""
from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest

from analytics.cli import main
from analytics.funnel import funnel
from analytics.ingest import load
from analytics.sessions import derive_sessions

ROOT = Path(__file__).resolve().parent.parent
HEADER = "patient_id,session_date,site,practitioner_id,indication,product,total_units,baseline_pain,followup_pain"
TOP_KEYS = ["by", "adjust", "overall_rate", "dispersion", "groups"]
GROUP_KEYS = ["group", "patients", "sessions", "observed_rate", "expected_rate", "lower_95", "upper_95", "lower_998",
              "upper_998", "beyond", "direction", "suppressed"]


def rows() -> list[str]:
    """Practitioners A-D with 12 patients x 3 sessions, E with 2 patients. A sees severe patients (pain 9), who
    respond less often; the others mostly pain 5. Deterministic."""
    out = []
    start = date(2025, 1, 6)
    for group, patients in (("A", 12), ("B", 12), ("C", 12), ("D", 12), ("E", 2)):
        for p in range(patients):
            severe = group == "A" or p % 6 == 0
            for s in range(3):
                baseline = 9 if severe else 5
                responds = (p + s) % (3 if severe else 4) != 0
                follow = baseline - (4 if responds else 1)
                day = start + timedelta(days=91 * s + p)
                out.append(f"{group}{p:02d},{day.isoformat()},North,{group},cervical_dystonia,Botox,200,{baseline},"
                           f"{follow}")
    return out


@pytest.fixture
def sessions_file(tmp_path):
    path = tmp_path / "sessions.csv"
    path.write_text(HEADER + "\n" + "\n".join(rows()) + "\n")
    return path


def run(capsys, *args):
    code = main(list(args))
    return code, capsys.readouterr().out


def test_json_keys_exactly_and_the_same_figures_as_the_page(sessions_file, capsys):
    code, out = run(capsys, "compare", str(sessions_file), "--by", "practitioner_id", "--json")
    result = json.loads(out)
    assert code == 0
    assert list(result) == TOP_KEYS and list(result["dispersion"]) == ["method", "value"]
    assert result["by"] == "practitioner_id" and result["adjust"] == "casemix"
    assert result["dispersion"]["method"] in ("none", "additive")
    assert [list(g) for g in result["groups"]] == [GROUP_KEYS] * 5
    derived = derive_sessions(load(sessions_file).data)
    page = funnel(derived, "practitioner_id")["groups"].set_index("group")
    shown = {g["group"]: g for g in result["groups"]}
    assert result["overall_rate"] == pytest.approx(funnel(derived, "practitioner_id")["overall_rate"])
    for name in ("B", "C", "D"):  # A is hidden as E's complement (ties: the earlier row)
        assert shown[name]["observed_rate"] == pytest.approx(page.loc[name, "rate"])
        assert shown[name]["upper_998"] == pytest.approx(page.loc[name, "upper_998"])
        assert shown[name]["patients"] == 12 and shown[name]["sessions"] == 36
        assert shown[name]["beyond"] in (None, "95", "99.8")


def test_suppressed_groups_keep_their_name_and_null_figures(sessions_file, capsys):
    _, out = run(capsys, "compare", str(sessions_file), "--by", "practitioner_id", "--json")
    groups = {g["group"]: g for g in json.loads(out)["groups"]}
    assert groups["E"]["suppressed"] is True  # 2 patients, fewer than 5
    hidden = [g for g in groups.values() if g["suppressed"]]
    assert len(hidden) == 2  # E and its complement (the next smallest)
    for g in hidden:
        assert all(g[k] is None for k in GROUP_KEYS if k not in ("group", "suppressed"))
    _, out = run(capsys, "compare", str(sessions_file), "--by", "practitioner_id", "--json",
                 "--min-group-patients", "1")
    assert not any(g["suppressed"] for g in json.loads(out)["groups"])


def test_adjust_none_against_casemix(sessions_file, capsys):
    _, out = run(capsys, "compare", str(sessions_file), "--by", "practitioner_id", "--json", "--adjust", "none",
                 "--min-group-patients", "1")
    raw = json.loads(out)
    _, out = run(capsys, "compare", str(sessions_file), "--by", "practitioner_id", "--json", "--adjust", "casemix",
                 "--min-group-patients", "1")
    adjusted = json.loads(out)
    assert raw["adjust"] == "none" and adjusted["adjust"] == "casemix"
    assert raw["overall_rate"] == pytest.approx(adjusted["overall_rate"])
    assert all(g["expected_rate"] == pytest.approx(raw["overall_rate"]) for g in raw["groups"])
    a_raw = next(g for g in raw["groups"] if g["group"] == "A")
    a_adj = next(g for g in adjusted["groups"] if g["group"] == "A")
    assert a_raw["observed_rate"] == pytest.approx(a_adj["observed_rate"])
    # A's severe patients: a lower expected rate once adjusted, so its limits move down with it
    assert a_adj["expected_rate"] < raw["overall_rate"] - 0.05
    assert a_adj["upper_95"] < a_raw["upper_95"]
    # products and indications are not adjusted by default
    _, out = run(capsys, "compare", str(sessions_file), "--by", "indication", "--json")
    assert json.loads(out)["adjust"] == "none"


def test_text_table(sessions_file, capsys):
    code, out = run(capsys, "compare", str(sessions_file), "--by", "practitioner_id")
    lines = out.splitlines()
    assert code == 0
    assert "practitioners compared on the patient-level responder rate (adjusted for case mix)" in lines[0]
    assert lines[2].split() == ["group", "patients", "sessions", "observed", "expected", "95%", "limits", "99.8%",
                                "limits", "beyond"]
    assert any(line.startswith("E ") and "suppressed" in line for line in lines)
    assert "Adjusted for case mix" in out and "Not adjusted for dose" in out


def test_exit_codes_like_summary(sessions_file, tmp_path, capsys):
    messy = ROOT / "data" / "sample" / "messy_export.csv"
    code, out = run(capsys, "compare", str(messy), "--by", "site", "--json")
    assert code == 2 and json.loads(out)["refused"] is True
    assert main(["compare", str(sessions_file), "--by", "site", "--db", str(tmp_path / "x.duckdb")]) == 2
    assert main(["compare", "--by", "site", "--db", str(tmp_path / "missing.duckdb")]) == 2
    assert main(["compare", str(sessions_file), "--by", "site", "--site", "Nowhere"]) == 2
    for bad in (["--by", "dose"], ["--by", "site", "--adjust", "both"], ["--by", "site", "--colour"], []):
        with pytest.raises(SystemExit) as stop:
            main(["compare", str(sessions_file), *bad])
        assert stop.value.code == 2
    capsys.readouterr()
