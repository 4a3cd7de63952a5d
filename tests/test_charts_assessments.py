"""charts.assessments: mean change from day 0 per group with 95% bands and a zero line."""
from __future__ import annotations


import numpy as np
import pandas as pd

from analytics.assessments import timeline
from analytics.settings import Settings
from charts import theme
from charts.assessments import assessment_timeline_figure
from tests.helpers import CDYSTONIA

S = Settings()


def assessments() -> pd.DataFrame:
    rows = []
    for group, drops in (("high", (0, 4, 3)), ("low", (0, 2, 1))):
        for p in range(4):
            for day, drop in zip((0, 14, 28), drops):
                rows.append({"patient_id": f"{group}{p}", "days_after": day, "dose": group,
                             "pain": 8 - drop - (p % 2), "twstrs": 40 - 3 * drop - (p % 2)})
    frame = pd.DataFrame(rows)
    frame.loc[frame["days_after"] == 0, ["pain", "twstrs"]] = [8, 40]
    return frame


def lines(fig):
    return [t for t in fig.data if t.mode == "lines+markers"]


def test_one_line_per_group_with_band_and_counts():
    table = timeline(assessments(), "pain", by="dose", settings=S)
    fig = assessment_timeline_figure(table, "pain", "dose", settings=S)
    drawn = lines(fig)
    assert [t.name for t in drawn] == ["high (n = 4 at day 0)", "low (n = 4 at day 0)"]
    for trace, group in zip(drawn, ("high", "low")):
        part = table[table["dose"] == group]
        np.testing.assert_allclose(trace.x, part["days_after"])
        np.testing.assert_allclose(trace.y, part["mean_change"])
        assert "4 patients" in trace.hovertext[1]
        assert "responders (≥ 30% pain reduction)" in trace.hovertext[1]
    bands = [t for t in fig.data if t.fill == "toself"]
    assert len(bands) == 2
    part = table[table["dose"] == "high"]
    known = part["ci_low"].notna()
    np.testing.assert_allclose(bands[0].y, np.r_[part.loc[known, "ci_high"], part.loc[known, "ci_low"][::-1]])


def test_zero_line_and_axis_titles():
    fig = assessment_timeline_figure(timeline(assessments(), "pain", by="dose"), "pain", "dose")
    assert ("h", 0, "no change from day 0") in theme.reference_lines(fig)
    assert fig.layout.yaxis.title.text == "Change in pain from day 0 (NRS points; lower is better)"
    assert fig.layout.xaxis.title.text == "Days after injection"
    fig = assessment_timeline_figure(timeline(assessments(), "twstrs"), "twstrs", None, settings=S)
    assert fig.layout.yaxis.title.text == "Change in TWSTRS from day 0 (points; lower is better)"
    assert [t.name for t in lines(fig)] == ["Mean change (n = 8)"]
    assert "TWSTRS drop ≥ 8 points" in fig.layout.title.subtitle.text


def test_empty_gives_the_no_data_figure():
    assert theme.is_empty_figure(assessment_timeline_figure(timeline(assessments().iloc[0:0], "pain"), "pain"))
    assert theme.is_empty_figure(assessment_timeline_figure(None, "twstrs"))


def test_cdystonia_trial_lines_match_the_readme():
    from analytics.ingest import load_assessments

    data = load_assessments(CDYSTONIA).data
    table = timeline(data, "twstrs", by="treat", settings=S)
    fig = assessment_timeline_figure(table, "twstrs", "treat", settings=S)
    top = [t for t in lines(fig) if t.name.startswith("10000U")][0]
    assert list(top.x) == [0, 14, 28, 56, 84, 112]
    np.testing.assert_allclose(top.y, [0, -10.6, -12.0, -8.1, -3.1, 1.6], atol=0.05)
