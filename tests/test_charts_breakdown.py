"""charts.breakdown: bars with CI whiskers and counts beside them; suppressed groups as labelled empty bars."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.breakdowns import breakdown
from analytics.schema import SESSION_DTYPES
from analytics.sessions import derive_sessions
from analytics.settings import Settings
from analytics.suppression import suppress_small_groups
from charts import theme
from charts.breakdown import METRICS, breakdown_figure

S = Settings()


def derived() -> pd.DataFrame:
    """Site North: 6 patients, South: 5, Annex: 2 (suppressed), each with two sessions 100 days apart."""
    rows = []
    for site, patients in (("North", 6), ("South", 5), ("Annex", 2)):
        for p in range(patients):
            for k in range(2):
                rows.append({"patient_id": f"{site}{p}", "session_date": pd.Timestamp("2024-01-01")
                             + pd.Timedelta(days=100 * k + p), "site": site, "product": "onabotulinumtoxinA",
                             "total_units": 100.0 + 10 * p, "baseline_pain": 8,
                             "followup_pain": 2 if (p + k) % 3 else 7,
                             "adverse_events": "none" if p % 2 else "dysphagia",
                             "wearing_off_days": 90})
    frame = pd.DataFrame(rows)
    for column in frame.columns:
        frame[column] = frame[column].astype(SESSION_DTYPES[column])
    return derive_sessions(frame, S)


def bars(fig):
    return [t for t in fig.data if t.type == "bar"]


def bar_labels(fig) -> dict:
    """Each group's line above its bar (an annotation inside the plot): group -> text."""
    return theme.bar_labels(fig)


def test_bars_whiskers_and_counts_equal_the_table():
    table = breakdown(derived(), "site", S)
    fig = breakdown_figure(table, "site", settings=S)
    main = bars(fig)[0]
    assert list(main.y) == table["group"].tolist()
    np.testing.assert_allclose(main.x, table["responder_rate"])
    np.testing.assert_allclose(main.error_x.array, table["responder_ci_high"] - table["responder_rate"])
    np.testing.assert_allclose(main.error_x.arrayminus, table["responder_rate"] - table["responder_ci_low"])
    labels = bar_labels(fig)
    for group, rate, n, patients in zip(table["group"], table["responder_rate"], table["sessions_with_response"],
                                        table["patients"]):
        assert labels[group] == f"{group}: <b>{theme.fmt_pct(rate, 1)}</b>  n = {n}, {patients} patients"
    assert not fig.layout.yaxis.showticklabels and fig.layout.margin.l == 12  # above the bar: no left margin
    assert list(fig.layout.yaxis.categoryarray) == table["group"].tolist()[::-1]  # first group on top
    assert fig.layout.title.text == "Responder rate by site"
    assert fig.layout.xaxis.title.text == "Responders (% of sessions with a response)"
    assert "≥ 30% pain reduction" in fig.layout.title.subtitle.text


def test_suppressed_groups_are_empty_labelled_bars_without_numbers():
    table = suppress_small_groups(breakdown(derived(), "site", S), S)
    hidden = table.loc[table["suppressed"], "group"].tolist()
    assert "Annex" in hidden
    fig = breakdown_figure(table, "site", settings=S)
    main, empty = bars(fig)
    assert not set(hidden) & set(main.y)
    assert list(empty.y) == hidden
    labels = list(empty.text)
    assert labels[hidden.index("Annex")] == "suppressed (fewer than 5 patients)"
    assert empty.marker.color == "rgba(0,0,0,0)"  # an empty bar
    assert all(not any(ch.isdigit() for ch in h.replace("fewer than 5", "")) for h in empty.hovertext)
    labels = bar_labels(fig)
    assert labels["Annex"] == "Annex"  # no figure beside a suppressed group


def test_long_table_is_filtered_by_dimension_and_total_is_a_line():
    table = pd.concat([breakdown(derived(), by, S, total=True) for by in ("site", "product")], ignore_index=True)
    fig = breakdown_figure(table, "product", settings=S)
    assert list(bars(fig)[0].y) == ["onabotulinumtoxinA"]
    total = table.loc[(table["group_by"] == "product") & table["is_total"], "responder_rate"].iloc[0]
    assert ("v", total, f"all sessions: {theme.fmt_pct(total, 1)}") in theme.reference_lines(fig)


@pytest.mark.parametrize("metric", list(METRICS))
def test_every_metric_draws_its_own_columns(metric):
    table = breakdown(derived(), "site", S, km=True)
    fig = breakdown_figure(table, "site", metric=metric, settings=S)
    spec = METRICS[metric]
    np.testing.assert_allclose(bars(fig)[0].x, theme.floats(table[spec.column]))
    first = table.iloc[0]
    assert bar_labels(fig)[first["group"]].endswith(f"n = {first[spec.denominator]}, {first['patients']} patients")
    assert f"n = {spec.n_words}" in fig.layout.title.subtitle.text


def test_short_interval_threshold_in_the_subtitle():
    fig = breakdown_figure(breakdown(derived(), "site", S), "site", "short_interval_share",
                           settings=Settings(short_interval_days=90))
    assert "fewer than 90 days" in fig.layout.title.subtitle.text


def test_empty_or_unknown_gives_the_no_data_figure():
    assert theme.is_empty_figure(breakdown_figure(breakdown(derived(), "site", S).iloc[0:0], "site"))
    assert theme.is_empty_figure(breakdown_figure(breakdown(derived(), "site", S), "site", metric="nonsense"))
    assert theme.is_empty_figure(breakdown_figure(breakdown(derived(), "site", S), "product"))


def test_a_median_without_an_interval_says_too_few_in_its_hover():
    # issue 11: a Kaplan-Meier median from fewer than 2 wearing-offs has no interval; the hover says why
    table = suppress_small_groups(breakdown(derived(), "site", S, km=True), S)
    shown = table.loc[~table["suppressed"]].copy()  # North: median 90 days (95% CI 90 to 90)

    def north_hover(frame):
        fig = breakdown_figure(frame, "site", "median_duration_days", S)
        return dict(zip(bars(fig)[0].y, bars(fig)[0].hovertext))["North"]

    assert "(95% CI 90 days to 90 days)" in north_hover(shown)
    shown[["duration_ci_low", "duration_ci_high"]] = np.nan
    assert "Median benefit duration (Kaplan-Meier): 90 days (too few to give a range)" in north_hover(shown)


def test_a_label_too_long_for_a_phone_goes_on_two_lines():
    # issue 13 (found by tests/test_browser_layout.py): "abobotulinumtoxinA middle (440-630 U): 85.2%  n = 88,
    # 39 patients" ran past a 390 px screen; the name and the figures then go on two lines, for every bar alike
    long = "abobotulinumtoxinA middle (440-630 U)"
    texts, row = theme.bar_label_lines([long, "Annex"], ["<b>85.2%</b>  n = 88, 39 patients", ""])
    assert texts == [f"{long}<br><b>85.2%</b>  n = 88, 39 patients", "Annex"] and row == theme.BAR_ROW_PX + 16
    texts, row = theme.bar_label_lines(["North", "Annex"], ["<b>85.2%</b>  n = 88, 39 patients", ""])
    assert texts == ["North: <b>85.2%</b>  n = 88, 39 patients", "Annex"] and row == theme.BAR_ROW_PX
