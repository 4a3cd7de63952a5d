"""Every figure builds from the sample data (load -> derive -> each analytics function) and serialises."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest

from analytics import breakdowns, effect_over_time, flags, funnel, kaplan_meier, safety, spc, waning
from analytics.assessments import timeline
from analytics.ingest import load_assessments, load_sessions
from analytics.sessions import derive_sessions
from analytics.settings import Settings
from analytics.suppression import suppress_small_groups
from charts import theme
from charts.assessments import assessment_timeline_figure
from charts.breakdown import METRICS, breakdown_figure
from charts.effect import effect_over_time_figure
from charts.funnel import funnel_figure
from charts.patient import patient_timeline_figure
from charts.safety import adverse_events_figure
from charts.spc import p_chart_figure
from charts.survival import km_figure
from charts.waning import duration_by_cycle_figure, waning_figure

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"
S = Settings()


@pytest.fixture(scope="module")
def derived():
    return derive_sessions(load_sessions(SAMPLE / "sessions.csv").data, S)


@pytest.fixture(scope="module")
def figures(derived) -> dict[str, go.Figure]:
    out = {}
    out["effect"] = effect_over_time_figure(effect_over_time.effect_over_time(derived, S),
                                            effect_over_time.effect_markers(derived, S), S)
    out["km"] = km_figure(kaplan_meier.km_curves_by_group(derived), None, S,
                          summary=kaplan_meier.km_by_group(derived, None, S))
    summary = suppress_small_groups(kaplan_meier.km_by_group(derived, "product", S), S, patients_col="n_patients",
                                    group_cols=["product"])
    out["km_product"] = km_figure(kaplan_meier.km_curves_by_group(derived, "product"), [0, 28, 56, 84, 112, 140, 168],
                                  S, group_label="Product", summary=summary)
    by_cycle = suppress_small_groups(waning.waning_by_cycle(derived, S), S, patients_col="n_patients",
                                     group_cols=["cycle"])
    out["waning"] = waning_figure(by_cycle, S, slope=waning.waning_slope(derived, S))
    out["duration_by_cycle"] = duration_by_cycle_figure(by_cycle, S)
    out["spc"] = p_chart_figure(spc.p_chart(derived, S), S)
    result = funnel.funnel(derived, "practitioner_id")
    result["groups"] = suppress_small_groups(result["groups"], S)
    out["funnel"] = funnel_figure(result, "Practitioner", settings=S)
    table = suppress_small_groups(pd.concat([breakdowns.breakdown(derived, by, S, km=True)
                                             for by in breakdowns.DIMENSIONS], ignore_index=True), S)
    for by in breakdowns.DIMENSIONS:
        for metric in METRICS:
            out[f"breakdown_{by}_{metric}"] = breakdown_figure(table, by, metric, settings=S)
    out["safety_type"] = adverse_events_figure(
        suppress_small_groups(safety.adverse_event_rates(derived), S, **safety.SUPPRESSION_OPTIONS))
    out["safety_product"] = adverse_events_figure(
        suppress_small_groups(safety.adverse_event_rates(derived, "product"), S, **safety.SUPPRESSION_OPTIONS))
    flagged = flags.flag_patients(derived, S)
    for pid in flagged["patient_id"].head(3):
        out[f"patient_{pid}"] = patient_timeline_figure(derived[derived["patient_id"] == pid], S)
    assessments = load_assessments(SAMPLE / "assessments.csv").data
    out["assessments_pain"] = assessment_timeline_figure(timeline(assessments, "pain", by="dose_band", settings=S),
                                                         "pain", "dose_band", settings=S)
    return out


def test_every_figure_builds_from_the_sample_data(figures):
    assert len(figures) == 13 + len(breakdowns.DIMENSIONS) * len(METRICS)
    for name, fig in figures.items():
        assert isinstance(fig, go.Figure), name
        assert not theme.is_empty_figure(fig), name
        assert len(fig.data) > 0, name
        assert fig.layout.title.text, name
        fig.to_json()  # every property valid and serialisable, as st.plotly_chart will need


def test_sample_figures_carry_the_thresholds(figures):
    for name in ("effect", "km", "waning", "spc", "funnel", "breakdown_product_responder_rate"):
        assert "Responder: ≥ 30% pain reduction" in figures[name].layout.title.subtitle.text, name
    assert ("v", 84, "12 weeks (84 days): 93% still benefiting") in theme.reference_lines(figures["km"])
