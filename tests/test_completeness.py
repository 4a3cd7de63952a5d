"""Follow-up completeness (analytics.completeness), the tiles that rest on follow-up, the Kaplan-Meier tile's
lower bound and the Making Data Count icons (analytics.mdc). Issue 13: '105 of 265 recent sessions have no
follow-up score yet and nothing says so; "Benefit lasts" shows "not rea…"'. Every count below is worked by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.completeness import completeness_shown, followup_completeness, followup_counts, followup_status
from analytics.kpis import kpi_tiles
from analytics.mdc import CONCERN, COMMON, FAIL, HIT_AND_MISS, IMPROVEMENT, PASS, assurance_icon, variation_icon
from analytics.presentation import followup_note, kpi_value, suppress_kpi_periods
from analytics.settings import DEFAULT_SETTINGS
from tests.helpers import make_sessions

AS_OF = "2026-06-30"


def small_table() -> pd.DataFrame:
    """Nine sessions of seven patients; as of 30 June 2026 with follow-ups due 14 days after the injection:
    six have a score, two are missing (P4, P7: long due), one is not yet due (P5: 29 June). The responders'
    benefit durations are what derive_sessions gives without a wearing-off: censored at the next session or the
    as-of date."""
    rows = [
        dict(patient_id="P1", session_date="2026-01-05", baseline_pain=7, followup_pain=2, site="North",
             duration_days=91),
        dict(patient_id="P1", session_date="2026-04-06", baseline_pain=7, followup_pain=3, site="North",
             duration_days=85),
        dict(patient_id="P2", session_date="2026-02-02", baseline_pain=7, followup_pain=6, site="North"),
        dict(patient_id="P2", session_date="2026-05-04", baseline_pain=7, followup_pain=1, site="North",
             duration_days=57),
        dict(patient_id="P3", session_date="2026-03-02", baseline_pain=7, followup_pain=2, site="South",
             duration_days=120),
        dict(patient_id="P4", session_date="2026-03-09", baseline_pain=7, site="South"),
        dict(patient_id="P5", session_date="2026-06-29", baseline_pain=7, site="South"),
        dict(patient_id="P6", session_date="2026-06-30", baseline_pain=7, followup_pain=3, site="South",
             duration_days=0),
        dict(patient_id="P7", session_date="2026-02-16", baseline_pain=7, site="South"),
    ]
    return make_sessions(rows)


def test_each_session_is_recorded_missing_or_not_yet_due():
    status = followup_status(small_table(), AS_OF, 14)
    assert status.tolist() == ["recorded", "recorded", "recorded", "recorded", "recorded", "missing",
                               "not yet due", "recorded", "missing"]
    # the day a follow-up falls due counts as due: 16 June + 14 days = 30 June
    edge = make_sessions([dict(patient_id="Q", session_date="2026-06-16", baseline_pain=7)])
    assert followup_status(edge, AS_OF, 14).tolist() == ["missing"]
    assert followup_status(edge, AS_OF, 15).tolist() == ["not yet due"]


def test_the_counts_of_a_period():
    assert followup_counts(small_table(), AS_OF, 14) == {"sessions": 9, "recorded": 6, "not_yet_due": 1,
                                                         "missing": 2, "due_days": 14}


def test_monthly_completeness_by_site_is_counted_by_hand():
    table = followup_completeness(small_table(), AS_OF, 14, by="site")
    assert list(table.columns) == ["month", "group", "sessions", "patients", "recorded", "not_yet_due", "missing",
                                   "share_recorded", "share_of_due"]
    got = {(m.strftime("%Y-%m"), g): (s, r, n, x) for m, g, s, r, n, x in zip(
        table["month"], table["group"], table["sessions"], table["recorded"], table["not_yet_due"], table["missing"])}
    assert got == {("2026-01", "North"): (1, 1, 0, 0), ("2026-02", "North"): (1, 1, 0, 0),
                   ("2026-02", "South"): (1, 0, 0, 1), ("2026-03", "South"): (2, 1, 0, 1),
                   ("2026-04", "North"): (1, 1, 0, 0), ("2026-05", "North"): (1, 1, 0, 0),
                   ("2026-06", "South"): (2, 1, 1, 0)}
    june = table.loc[table["month"] == pd.Timestamp("2026-06-01")].iloc[0]
    assert june["share_recorded"] == 0.5 and june["share_of_due"] == 1.0  # 1 of 2; of the 1 due, 1 recorded
    clinic = followup_completeness(small_table(), AS_OF, 14)
    assert "group" not in clinic.columns and clinic["sessions"].sum() == 9 and clinic["missing"].sum() == 2


def test_small_groups_are_suppressed_in_the_completeness_chart():
    table = followup_completeness(small_table(), AS_OF, 14, by="site")
    shown = completeness_shown(table, DEFAULT_SETTINGS)  # every month-site has 1 or 2 patients: all hidden
    assert shown["suppressed"].all() and shown["recorded"].isna().all() and shown["sessions"].isna().all()
    shown = completeness_shown(table, DEFAULT_SETTINGS.with_changes(min_group_patients=2))
    visible = shown.loc[~shown["suppressed"].astype(bool)]
    # March (South, 2 patients) is shown; the 1-patient groups are hidden, and in February the other site too
    assert ("2026-03", "South") in set(zip(visible["month"].dt.strftime("%Y-%m"), visible["group"]))
    feb = shown.loc[shown["month"] == pd.Timestamp("2026-02-01")]
    assert feb["suppressed"].all()


def test_the_tiles_say_how_many_sessions_have_a_follow_up_score():
    tiles = kpi_tiles(small_table(), start="2026-01-01", end=AS_OF, due_days=14)
    assert tiles.attrs["followup"] == {"sessions": 9, "recorded": 6, "not_yet_due": 1, "missing": 2,
                                       "due_days": 14}
    row = tiles.set_index("kpi").loc["followup_recorded"]
    assert row["value"] == pytest.approx(6 / 8) and row["n"] == 8  # the not-yet-due session is left out
    assert followup_note("responder_rate", tiles.attrs["followup"]) == "6 of 9 sessions have a follow-up score"
    assert followup_note("median_response_pct", tiles.attrs["followup"]) == "6 of 9 sessions have a follow-up score"
    assert followup_note("followup_recorded", tiles.attrs["followup"]) == "6 of 8 due; 1 not yet due"
    assert followup_note("sessions", tiles.attrs["followup"]) == ""


def test_a_recent_period_is_not_worse_only_because_its_follow_ups_are_not_due():
    rows = [dict(patient_id=f"A{i}", session_date=f"2026-05-{i + 1:02d}", baseline_pain=7, followup_pain=2)
            for i in range(10)]
    rows += [dict(patient_id=f"B{i}", session_date=f"2026-06-{i + 20:02d}", baseline_pain=7) for i in range(10)]
    rows += [dict(patient_id=f"C{i}", session_date=f"2026-06-{i + 1:02d}", baseline_pain=7, followup_pain=2)
             for i in range(10)]
    tiles = kpi_tiles(make_sessions(rows), start="2026-06-01", end=AS_OF, due_days=14).set_index("kpi")
    assert tiles.loc["followup_recorded", "value"] == 1.0 and tiles.loc["followup_recorded", "previous"] == 1.0


def test_benefit_lasts_shows_the_longest_follow_up_as_a_lower_bound():
    tiles = kpi_tiles(small_table(), start="2026-01-01", end=AS_OF, due_days=14).set_index("kpi")
    km = tiles.loc["median_duration_days"]
    # responders: P1 (91 days to the next session, 85 to the as-of date), P2's second (57), P3 (120), P6 (0);
    # no benefit was seen to wear off, so the median is not reached: at least the longest, 120 days
    assert np.isnan(km["value"]) and km["at_least"] == 120.0 and km["n"] == 5
    assert kpi_value("median_duration_days", km["value"], "days", at_least=km["at_least"]) == "≥ 120 days"
    assert kpi_value("median_duration_days", np.nan, "days") == "not reached"
    assert np.isnan(tiles.loc["median_response_pct", "at_least"])


def test_a_hidden_period_hides_its_follow_up_counts_and_bound():
    tiles = kpi_tiles(small_table().loc[lambda t: t["patient_id"].isin(["P1", "P2", "P3"])], start="2026-01-01",
                      end=AS_OF, due_days=14)
    shown = suppress_kpi_periods(tiles, DEFAULT_SETTINGS)
    assert "followup" not in shown.attrs and shown["at_least"].isna().all()


# ---- Making Data Count icons -----------------------------------------------------------------------------------
def chart(kinds: list[str], provisional: list[bool] | None = None, lcl=0.4, ucl=0.8) -> pd.DataFrame:
    months = pd.date_range("2025-01-01", periods=len(kinds), freq="MS")
    return pd.DataFrame({"month": months, "point_type": kinds, "lcl": lcl, "ucl": ucl,
                         "provisional": provisional or [False] * len(kinds)})


def test_the_variation_icon_reads_the_latest_settled_month():
    assert variation_icon(chart(["common_cause"] * 5)).kind == COMMON
    assert variation_icon(chart(["common_cause"] * 4 + ["special_cause_improvement"])).kind == IMPROVEMENT
    assert variation_icon(chart(["special_cause_improvement"] * 4 + ["special_cause_concern"])).kind == CONCERN
    # a provisional latest month (follow-ups still coming in) does not decide the icon
    assert variation_icon(chart(["special_cause_concern", "provisional"], [False, True])).kind == CONCERN
    assert variation_icon(chart(["common_cause"] * 2 + ["special_cause_concern"], [False, False, True])).kind \
        == COMMON
    assert variation_icon(pd.DataFrame()) is None
    icon = variation_icon(chart(["special_cause_concern"]))
    assert icon.words == "Concern" and "worse direction" in icon.sentence


def test_the_assurance_icon_needs_a_target():
    limits = chart(["common_cause"] * 3)  # limits 40% to 80%
    assert assurance_icon(limits, None) is None
    assert assurance_icon(limits, 0.35).kind == PASS
    assert assurance_icon(limits, 0.9).kind == FAIL
    assert assurance_icon(limits, 0.6).kind == HIT_AND_MISS
    assert assurance_icon(limits, 0.9, improvement_direction=-1).kind == PASS  # lower is better
    assert assurance_icon(limits, 0.35, improvement_direction=-1).kind == FAIL


def test_the_completeness_chart_draws_the_shown_groups_only():
    from charts.completeness import completeness_figure

    table = followup_completeness(small_table(), AS_OF, 14, by="site")
    shown = completeness_shown(table, DEFAULT_SETTINGS.with_changes(min_group_patients=1))
    fig = completeness_figure(shown, "Site")
    assert [t.name for t in fig.data] == ["North", "South"]
    south = fig.data[1]
    # of the sessions due: Feb 0 of 1, Mar 1 of 2, Jun 1 of 1 (the 29 June session is not yet due, left out)
    assert list(south.y) == [0.0, 50.0, 100.0]
    assert south.marker.color[-1] == "white"  # June still has a session not yet due: hollow
    assert "1 of 2 sessions have a follow-up score (50%); 1 not yet due; 0 missing" in south.hovertext[-1]
    hidden = completeness_figure(completeness_shown(table, DEFAULT_SETTINGS), "Site")
    assert not hidden.data  # every group too small: nothing drawn


def test_the_counts_of_a_period_are_those_of_each_sessions_status():
    sessions = small_table()
    for due_days in (0, 10, 30, 400):
        counts = followup_counts(sessions, pd.Timestamp("2026-03-31"), due_days)
        status = followup_status(sessions, pd.Timestamp("2026-03-31"), due_days).value_counts()
        assert [counts["recorded"], counts["not_yet_due"], counts["missing"]] == [
            int(status.get(s, 0)) for s in ("recorded", "not yet due", "missing")]
        assert counts["sessions"] == len(sessions)
