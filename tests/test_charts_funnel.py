"""charts.funnel: groups against patients, overall rate, 95% / 99.8% limit curves, outliers named, suppressed hidden,
the case-mix adjustment and the widening of the limits stated."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.funnel import funnel
from analytics.settings import Settings
from analytics.suppression import suppress_small_groups
from charts import theme
from charts.funnel import LIMIT_95_NAME, LIMIT_998_NAME, OVERALL_NAME, POSITION_STYLE, funnel_figure

S = Settings()


def sessions() -> pd.DataFrame:
    """Four practitioners of 40 patients x 5 sessions, each patient responding every time or never; D's patients
    respond far less often (below the 99.8% limit); E has 2 patients."""
    rows = []
    rates = {"A": 0.75, "B": 0.7, "C": 0.75, "D": 0.3, "E": 0.8}
    for group, rate in rates.items():
        patients = 2 if group == "E" else 40
        for p in range(patients):
            for s in range(5):
                rows.append({"practitioner_id": group, "patient_id": f"{group}{p}",
                             "has_response": True, "responder": p < rate * patients})
    frame = pd.DataFrame(rows)
    frame["responder"] = frame["responder"].astype("boolean")
    return frame


def points(fig):
    return [t for t in fig.data if t.mode and "markers" in t.mode]


def test_points_limits_and_overall_rate():
    result = funnel(sessions(), "practitioner_id", "none")
    fig = funnel_figure(result, "Practitioner", settings=S)
    groups = result["groups"]
    xs = np.concatenate([t.x for t in points(fig)])
    ys = np.concatenate([t.y for t in points(fig)])
    assert sorted(zip(xs, ys)) == sorted(zip(groups["n"].astype(float), groups["adjusted_rate"]))
    curve = result["curve"]
    limits = [t for t in fig.data if t.legendgroup in ("95", "998")]
    assert [t.name for t in limits] == [LIMIT_95_NAME, LIMIT_95_NAME, LIMIT_998_NAME, LIMIT_998_NAME]
    np.testing.assert_allclose(limits[0].y, curve["upper_95"])
    np.testing.assert_allclose(limits[1].y, curve["lower_95"])
    np.testing.assert_allclose(limits[3].y, curve["lower_998"])
    overall = [t for t in fig.data if str(t.name).startswith(OVERALL_NAME)][0]
    assert set(overall.y) == {result["overall_rate"]}
    assert fig.layout.xaxis.title.text == "Patients with a response score (n)"
    assert "≥ 30% pain reduction" in fig.layout.title.subtitle.text
    assert "raw" in fig.layout.title.text and "each patient counted once" in fig.layout.title.subtitle.text


def test_adjusted_points_and_the_widening_are_stated():
    result = funnel(sessions(), "practitioner_id")  # case mix by default; everyone in one stratum here
    result["dispersion"] = dict(result["dispersion"], applied=True, tau=0.06)
    fig = funnel_figure(result, "Practitioner", settings=S)
    assert "adjusted for case mix" in fig.layout.title.text
    assert "Limits widened for variation between practitioners beyond chance: tau = 6.0 percentage points" in \
        fig.layout.title.subtitle.text
    hover = " ".join(h for t in points(fig) for h in t.hovertext)
    assert "Adjusted rate" in hover and "expected" in hover and "patients with a response" in hover


def test_outliers_are_labelled_by_name():
    result = funnel(sessions(), "practitioner_id", "none")
    fig = funnel_figure(result, "Practitioner")
    below = [t for t in fig.data if t.name == POSITION_STYLE["below 99.8%"][0]]
    assert len(below) == 1 and list(below[0].text) == ["D"]
    inside = [t for t in fig.data if t.name == POSITION_STYLE["inside"][0]][0]
    assert inside.text is None
    assert "D" in below[0].hovertext[0] and "Observed 30.0%, expected" in below[0].hovertext[0]


def test_suppressed_groups_are_not_plotted_and_are_counted():
    result = funnel(sessions(), "practitioner_id")
    result["groups"] = suppress_small_groups(result["groups"], S)
    hidden = result["groups"].loc[result["groups"]["suppressed"], "group"].tolist()
    assert "E" in hidden
    fig = funnel_figure(result, "Practitioner", settings=S)
    names = [name for t in points(fig) for name in (t.hovertext or [])]
    assert not any(f"<b>{g}</b>" in h for g in hidden for h in names)
    assert sum(len(t.x) for t in points(fig)) == 5 - len(hidden)
    assert f"Not shown: {len(hidden)} practitioner" in fig.layout.title.subtitle.text


def test_empty_result_gives_the_no_data_figure():
    assert theme.is_empty_figure(funnel_figure(funnel(sessions().iloc[0:0], "practitioner_id"), "Practitioner"))
    assert theme.is_empty_figure(funnel_figure(None, "Site"))
