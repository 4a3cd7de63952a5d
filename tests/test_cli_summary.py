"""`python -m analytics summary` and `timeline`: the stable keys, hand-worked values, options, messy input."""
import json
from pathlib import Path

import pytest

from analytics.cli import main
from analytics.summary import REQUIRED_KEYS
from tests.helpers import CDYSTONIA

ROOT = Path(__file__).resolve().parent.parent

HEADER = "patient_id,session_date,product,total_units,baseline_pain,followup_pain,onset_days,peak_days,wearing_off_days"
# Worked by hand: responses 50, 25, 100, 50 (P3 has a zero baseline: no response); responders 3 of 4;
# intervals 90 (P1) and 42 (P2, short); durations of responder sessions: P1 80 days (worn off, an event),
# P2's first censored at its next session (42 days), P2's second censored at the as-of date (17 days).
ROWS = [
    "P1,2025-01-01,Botox,200,8,4,2,10,80",
    "P1,2025-04-01,Botox,200,8,6,5,20,",
    "P2,2025-02-01,Dysport,500,5,0,3,14,",
    "P2,2025-03-15,Dysport,500,6,3,,,",
    "P3,2025-03-01,Xeomin,100,0,0,,,",
]


def run(capsys, *args):
    code = main(list(args))
    return code, capsys.readouterr().out


@pytest.fixture
def sessions_file(tmp_path):
    path = tmp_path / "sessions.csv"
    path.write_text(HEADER + "\n" + "\n".join(ROWS) + "\n")
    return path


def test_summary_keys_and_hand_worked_values(sessions_file, capsys):
    code, out = run(capsys, "summary", str(sessions_file), "--json")
    summary = json.loads(out)
    assert code == 0
    assert set(REQUIRED_KEYS) <= set(summary)
    assert {k: summary[k] for k in REQUIRED_KEYS} == {
        "as_of": "2025-04-01", "sessions": 5, "patients": 3, "rejected_rows": 0, "responder_threshold_pct": 30.0,
        "sessions_with_response": 4, "responder_rate": 0.75, "median_response_pct": 50.0,
        "median_onset_days": 3.0, "median_peak_days": 14.0, "median_duration_days": 80.0,
        "short_interval_share": 0.5, "diminished_patients": [],
    }


def test_summary_options_change_the_figures(sessions_file, capsys):
    _, out = run(capsys, "summary", str(sessions_file), "--json", "--threshold", "60",
                 "--short-interval-days", "30", "--as-of", "2025-03-31")
    summary = json.loads(out)
    assert summary["as_of"] == "2025-03-31"
    assert summary["sessions"] == 4  # the session of 2025-04-01 is after the as-of date
    assert summary["responder_threshold_pct"] == 60.0
    assert summary["responder_rate"] == pytest.approx(1 / 3)  # 100% of P2 only; P1's 50% falls short
    assert summary["short_interval_share"] == 0.0  # P2's 42 days is not under 30


def test_summary_text_for_people(sessions_file, capsys):
    code, out = run(capsys, "summary", str(sessions_file), "--label", "March sessions")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "March sessions, as of 2025-04-01: 5 sessions, 3 patients (0 rows rejected; run validate for the list)."
    assert lines[1] == "Responder rate (pain drop >= 30%): 75.0% of 4 sessions with a response."
    assert lines[3] == "Median benefit duration (Kaplan-Meier): 80 days (11.4 weeks)."


def test_summary_reads_a_messy_export_with_the_same_options_as_validate(capsys):
    messy = ROOT / "data" / "sample" / "messy_export.csv"
    code, out = run(capsys, "summary", str(messy), "--json")
    assert code == 2 and json.loads(out)["refused"] is True
    code, out = run(capsys, "summary", str(messy), "--json", "--drop-identifiers")
    summary = json.loads(out)
    assert code == 0
    assert (summary["sessions"], summary["rejected_rows"]) == (496, 11)


def test_summary_flags_the_sample_faders(capsys):
    sample = ROOT / "data" / "sample"
    _, out = run(capsys, "summary", str(sample / "sessions.csv"), "--json")
    faded = sorted(line.split(",")[0] for line in (sample / "faded_patients.csv").read_text().splitlines()[1:])
    assert json.loads(out)["diminished_patients"] == faded


def test_timeline_reproduces_the_published_trial_figures(capsys):
    code, out = run(capsys, "timeline", str(CDYSTONIA), "--by", "treat", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["score"] == "twstrs"
    got = {(r["treat"], r["days_after"]): r for r in report["records"]}
    expected = {"10000U": [-10.6, -12.0, -8.1, -3.1, 1.6], "5000U": [-9.6, -9.1, -6.9, -3.5, -1.1],
                "Placebo": [-3.7, -4.4, -2.4, -1.8, -0.6]}
    for arm, changes in expected.items():
        assert [round(got[(arm, 7.0 * w)]["mean_change"], 1) for w in (2, 4, 8, 12, 16)] == changes
    assert [round(100 * got[(arm, 28.0)]["responder_share"]) for arm in ("10000U", "5000U", "Placebo")] == [67, 54, 29]


def test_timeline_text_and_errors(tmp_path, capsys):
    path = tmp_path / "diary.csv"
    path.write_text("patient_id,days_after,pain,arm\nA,0,8,x\nA,14,4,x\nB,0,6,x\nB,14,6,x\n")
    code, out = run(capsys, "timeline", str(path), "--by", "arm")
    assert code == 0
    assert out.splitlines()[0] == "Change in pain from baseline (negative = better), 95% CI, responder share in %:"
    assert out.splitlines()[3].split() == ["x", "14.0", "2", "-2.0", "-27.4", "23.4", "50.0"]
    assert main(["timeline", str(path), "--by", "nope"]) == 2
    assert "no column 'nope'" in capsys.readouterr().err
