"""The p-chart that knows the same as the funnel: Laney p' limits when the months are overdispersed, a baseline of
at least 24 months whatever the period, provisional months (follow-ups not yet due) left out of limits and rules.

Oracles: hand-worked limits, a naive loop over the months (math only), scipy's chi-square by hand, seeded
simulations (binomial months against months with extra between-month variation).
"""
import math

import numpy as np
import pandas as pd
import pytest

from analytics.presentation import pchart_shown
from analytics.settings import Settings
from analytics.spc import (
    chart_window,
    dispersion_test,
    followup_lag_days,
    laney_sigma_z,
    limits_sentence,
    overdispersed,
    p_chart,
    p_chart_from_counts,
    provisional_months,
)


def counts(n, x, start="2024-01-01"):
    return pd.DataFrame({"month": pd.date_range(start, periods=len(n), freq="MS"), "n": n, "responders": x})


def laney_oracle(n, x, k=3.0):
    """Laney (2002) by a plain loop: p_bar, z_i, sigma_z = mean |z_i - z_(i-1)| / 1.128, limits clipped."""
    p_bar = sum(x) / sum(n)
    z = [(xi / ni - p_bar) / math.sqrt(p_bar * (1 - p_bar) / ni) for ni, xi in zip(n, x)]
    moving = [abs(z[i] - z[i - 1]) for i in range(1, len(z))]
    sigma_z = sum(moving) / len(moving) / 1.128
    lower, upper = [], []
    for ni in n:
        s = math.sqrt(p_bar * (1 - p_bar) / ni) * sigma_z
        lower.append(max(0.0, p_bar - k * s))
        upper.append(min(1.0, p_bar + k * s))
    return p_bar, sigma_z, lower, upper


# --- Laney p' -------------------------------------------------------------------------------------------------

def test_laney_hand_worked_exact():
    # n = 100 each month, 50/62/38/50 responders: p_bar .5, binomial sigma .05, z = 0, 2.4, -2.4, 0, moving ranges
    # 2.4, 4.8, 2.4 (mean 3.2), sigma_z = 3.2 / 1.128 = 2.836879; limits .5 +/- 3 x .05 x 2.836879 = .074468 /
    # .925532, 2-sigma lines .5 +/- 2 x .05 x 2.836879 = .216312 / .783688. Chi-square 0 + 5.76 + 5.76 + 0 =
    # 11.52 on 3 df: p = 0.009222 < .05 and sigma_z > 1: overdispersed, so the chart uses p'.
    chart = p_chart_from_counts(counts([100] * 4, [50, 62, 38, 50]))
    sigma_z = 3.2 / 1.128
    assert chart.attrs["limits"] == "laney" and chart["limits"].eq("laney").all()
    assert chart.attrs["sigma_z"] == pytest.approx(sigma_z, abs=1e-12)
    assert chart["sigma_z"].iloc[0] == pytest.approx(2.836879, abs=1e-6)
    np.testing.assert_allclose(chart["ucl"], 0.5 + 0.15 * sigma_z, atol=1e-12)
    np.testing.assert_allclose(chart["lcl"], 0.5 - 0.15 * sigma_z, atol=1e-12)
    np.testing.assert_allclose(chart["upper_2sigma"], 0.5 + 0.10 * sigma_z, atol=1e-12)
    assert chart["ucl"].iloc[0] == pytest.approx(0.925532, abs=1e-6)
    assert chart["lower_2sigma"].iloc[0] == pytest.approx(0.216312, abs=1e-6)
    assert chart.attrs["dispersion_ratio"] == pytest.approx(11.52 / 3)
    assert chart.attrs["dispersion_p"] == pytest.approx(0.009222, abs=1e-6)  # chi2.sf(11.52, 3)
    # binomial limits (.35, .65) would call 62% and 38% "close to a limit"; p' does not
    assert not chart["rule_outside_limits"].any() and not chart["close_to_limits"].any()
    forced = p_chart_from_counts(counts([100] * 4, [50, 62, 38, 50]), limits="p")
    assert forced.attrs["limits"] == "p" and forced["ucl"].iloc[0] == pytest.approx(0.65)
    assert forced["close_to_limits"].tolist() == [False, True, True, False]


def test_laney_limits_match_a_naive_loop_with_varying_n():
    n = [83, 120, 64, 95, 101, 77, 88, 140, 59, 110, 92, 70, 85, 99]
    x = [70, 88, 60, 70, 92, 60, 80, 101, 55, 79, 86, 51, 75, 72]
    p_bar, sigma_z, lower, upper = laney_oracle(n, x)
    chart = p_chart_from_counts(counts(n, x), limits="laney")
    assert chart["centre"].iloc[0] == pytest.approx(p_bar, abs=1e-12)
    assert chart.attrs["sigma_z"] == pytest.approx(sigma_z, abs=1e-12)
    np.testing.assert_allclose(chart["lcl"], lower, atol=1e-12)
    np.testing.assert_allclose(chart["ucl"], upper, atol=1e-12)
    # the standardised values the moving ranges are taken of
    np.testing.assert_allclose(chart["z"], [(xi / ni - p_bar) / math.sqrt(p_bar * (1 - p_bar) / ni)
                                            for ni, xi in zip(n, x)], atol=1e-12)
    # the chi-square by hand
    chi = sum((xi - ni * p_bar) ** 2 / (ni * p_bar * (1 - p_bar)) for ni, xi in zip(n, x))
    ratio, _ = dispersion_test(n, x, p_bar)
    assert ratio == pytest.approx(chi / (len(n) - 1), abs=1e-12)
    # the hover says which limits
    assert "Laney p' limits for this month" in chart["explanation"].iloc[0]


def test_decision_needs_both_sigma_z_and_the_test():
    assert overdispersed(1.5, 0.01) and not overdispersed(1.5, 0.2) and not overdispersed(0.9, 0.001)
    assert not overdispersed(float("nan"), 0.001)
    # a shift (half the months at 60%, half at 80%, n = 100): chi-square rejects, but the moving ranges see only
    # one jump, sigma_z < 1: the plain p-chart stays and its rules flag the shift
    x = [60] * 10 + [80] * 10
    chart = p_chart_from_counts(counts([100] * 20, x))
    assert chart.attrs["dispersion_p"] < 1e-6 and chart.attrs["sigma_z"] < 1
    assert chart.attrs["limits"] == "p" and chart["special_cause"].all()
    # p_bar of 1: no binomial variation to scale, plain limits
    flat = p_chart_from_counts(counts([10] * 5, [10] * 5))
    assert flat.attrs["limits"] == "p" and np.isnan(laney_sigma_z([10] * 5, [10] * 5, 1.0))


def simulated(rng, months, extra_sd, series, p=0.8):
    """`series` monthly series of `months` months, n ~ Poisson(80), the month's true rate logit(p) + N(0, sd)."""
    n = rng.poisson(80, size=(series, months)) + 20
    logit = np.log(p / (1 - p)) + rng.normal(0, extra_sd, size=(series, months))
    x = rng.binomial(n, 1 / (1 + np.exp(-logit)))
    return n, x


def decisions(n, x):
    out = []
    for ni, xi in zip(n, x):
        centre = xi.sum() / ni.sum()
        out.append(overdispersed(laney_sigma_z(ni, xi, centre), dispersion_test(ni, xi, centre)[1]))
    return np.array(out)


def test_binomial_months_keep_the_p_chart_and_overdispersed_months_switch():
    rng = np.random.default_rng(20261201)
    n, x = simulated(rng, 24, 0.0, 400)
    binomial = decisions(n, x)
    # a false switch needs the 5% test to reject and sigma_z > 1: about 4% of binomial series
    assert binomial.mean() <= 0.06
    n, x = simulated(rng, 24, 0.45, 400)
    extra = decisions(n, x)
    assert extra.mean() >= 0.9
    # one series of each, through the chart
    rng = np.random.default_rng(7)
    n1, x1 = simulated(rng, 24, 0.0, 1)
    n2, x2 = simulated(rng, 24, 0.45, 1)
    plain = p_chart_from_counts(counts(n1[0], x1[0]))
    wide = p_chart_from_counts(counts(n2[0], x2[0]))
    assert plain.attrs["limits"] == "p" and wide.attrs["limits"] == "laney"
    assert wide.attrs["sigma_z"] > 1.3
    # the binomial chart flags hardly anything; p' on the overdispersed one flags fewer months than binomial would
    wide_p = p_chart_from_counts(counts(n2[0], x2[0]), limits="p")
    assert wide["rule_outside_limits"].sum() < wide_p["rule_outside_limits"].sum()


def test_limits_sentence():
    chart = p_chart_from_counts(counts([100] * 4, [50, 62, 38, 50]))
    assert limits_sentence(chart).startswith(
        "Laney p' limits: months vary more than sessions alone explain (sigma_z = 2.8)")
    assert "from 4 months (Jan 2024 to Apr 2024)" in limits_sentence(chart)
    plain = p_chart_from_counts(counts([100] * 4, [50, 52, 48, 50]))
    assert limits_sentence(plain).startswith("Binomial p-chart limits")


# --- the window: at least 24 months up to the period end --------------------------------------------------------

def test_chart_window():
    first = pd.Timestamp("2022-03-15")
    # a 3-month period: 24 months back from the end's month
    assert chart_window(first, "2026-07-01", "2026-09-30") == (pd.Timestamp("2024-10-01"), pd.Timestamp("2026-09-30"))
    # a period longer than 24 months: the whole period
    assert chart_window(first, "2023-01-10", "2026-09-30")[0] == pd.Timestamp("2023-01-10")
    # less data than 24 months: all of it
    assert chart_window(first, "2023-01-01", "2023-06-30")[0] == first
    assert chart_window(first, None, "2026-09-30")[0] == pd.Timestamp("2022-03-15")  # "All data"
    assert chart_window(None, None, "2026-09-30")[0] == pd.Timestamp("2024-10-01")


def sessions_table(months=40, start="2023-06-01", per_month=30, seed=3):
    """Derived-like sessions: `per_month` patients a month, responder ~ Bernoulli(.7), follow-up 21 days later."""
    rng = np.random.default_rng(seed)
    month_starts = pd.date_range(start, periods=months, freq="MS")
    dates = np.repeat(month_starts, per_month) + pd.to_timedelta(np.tile(np.arange(per_month) % 28, months), "D")
    size = len(dates)
    return pd.DataFrame({
        "patient_id": [f"P{i:05d}" for i in range(size)],
        "session_date": dates,
        "has_response": np.ones(size, dtype=bool),
        "responder": pd.array(rng.random(size) < 0.7, dtype="boolean"),
        "followup_days": pd.array(np.full(size, 21), dtype="Int64"),
    })


def test_the_chart_shows_24_months_whatever_the_period_and_shades_the_period():
    table = sessions_table()  # Jun 2023 .. Sep 2026
    as_of = pd.Timestamp("2026-09-30")
    short = p_chart(table, period_start=pd.Timestamp("2026-07-01"), period_end=as_of, as_of=as_of)
    year = p_chart(table, period_start=pd.Timestamp("2025-10-01"), period_end=as_of, as_of=as_of)
    assert len(short) == len(year) == 24
    assert short["month"].iloc[0] == pd.Timestamp("2024-10-01")
    assert short["month"].iloc[-1] == pd.Timestamp("2026-09-01")
    # the same months, the same limits: the period filter does not move them
    np.testing.assert_allclose(short["ucl"], year["ucl"])
    assert short.attrs["period_start"] == pd.Timestamp("2026-07-01")
    assert short.attrs["window_start"] == pd.Timestamp("2024-10-01")
    # the limits come from the complete months of the window only (follow-ups 21 days: September provisional)
    base = table.loc[(table["session_date"] >= "2024-10-01") & (table["session_date"] < "2026-09-01")]
    assert short["centre"].iloc[0] == pytest.approx(base["responder"].astype(bool).mean())
    assert short["provisional"].tolist() == [False] * 23 + [True]
    # an "All data" period: every month from the first
    everything = p_chart(table, as_of=as_of)
    assert len(everything) == 40
    # a period ending in the past: the window ends there, nothing is provisional
    past = p_chart(table, period_start=pd.Timestamp("2025-01-01"), period_end=pd.Timestamp("2025-03-31"),
                   as_of=as_of)
    assert past["month"].iloc[-1] == pd.Timestamp("2025-03-01") and len(past) == 22  # from Jun 2023
    assert not past["provisional"].any()


def test_pchart_shown_takes_the_window_and_suppresses_small_months():
    table = sessions_table(months=30, per_month=30)
    # one small month inside the window: 3 patients in Feb 2025 (k = 5)
    small = table["session_date"].dt.to_period("M") == pd.Period("2025-02")
    table = pd.concat([table.loc[~small], table.loc[small].iloc[:3]], ignore_index=True)
    as_of = table["session_date"].max().normalize()
    shown, hidden = pchart_shown(table, Settings(), period_start=pd.Timestamp("2025-09-01"), period_end=as_of,
                                 as_of=as_of)
    assert hidden >= 1 and pd.Timestamp("2025-02-01") not in set(shown["month"])
    assert shown.attrs["window_start"] == pd.Timestamp("2023-12-01")


# --- provisional months -----------------------------------------------------------------------------------------

def test_provisional_months_rule():
    months = pd.to_datetime(["2024-04-01", "2024-05-01", "2024-06-01"])
    # lag 14: May ends 31 May, due 14 Jun <= 20 Jun: complete; June (cut at the window end 20 Jun): due 4 Jul
    assert provisional_months(months, "2024-06-20", "2024-06-20", 14).tolist() == [False, False, True]
    # lag 21: May due 21 Jun > 20 Jun: provisional too
    assert provisional_months(months, "2024-06-20", "2024-06-20", 21).tolist() == [False, True, True]


def test_followup_lag_is_the_90th_percentile_or_the_peak_setting():
    table = pd.DataFrame({"followup_days": pd.array(list(range(10, 40)), dtype="Int64")})  # 10 .. 39
    assert followup_lag_days(table) == math.ceil(np.quantile(np.arange(10, 40), 0.9))  # 36.1 -> 37
    assert followup_lag_days(table.iloc[:5]) == Settings().peak_within_days  # too few recorded
    assert followup_lag_days(pd.DataFrame({"x": [1]}), Settings(peak_within_days=21)) == 21


def test_last_month_provisional_is_drawn_but_left_out_of_limits_and_rules():
    # January to May: 20 sessions a month, 10 responders (50%); June: 20 sessions, 1 responder (5%), far below
    # any limit. Follow-ups 14 days after (so the lag is 14); as of 20 June, June's follow-ups are not all due.
    rows = []
    for m in range(1, 7):
        for d in range(20):
            responder = (d < 10) if m < 6 else (d < 1)
            rows.append((f"P{m}{d:02d}", pd.Timestamp(2024, m, 1 + d % 19), True, responder, 14))
    table = pd.DataFrame(rows, columns=["patient_id", "session_date", "has_response", "responder", "followup_days"])
    table["responder"] = table["responder"].astype("boolean")
    table["followup_days"] = table["followup_days"].astype("Int64")
    chart = p_chart(table, as_of=pd.Timestamp("2024-06-20"))
    assert chart.attrs["lag_days"] == 14
    assert chart["provisional"].tolist() == [False] * 5 + [True]
    # centre and limits from January to May only: 50/100 = .5 (with June it would be 51/120 = .425)
    assert chart["centre"].iloc[0] == pytest.approx(0.5)
    assert chart.attrs["baseline_months"] == 5 and chart.attrs["provisional_months"] == 1
    assert chart.attrs["baseline_end"] == pd.Timestamp("2024-05-01")
    last = chart.iloc[-1]
    assert last["point_type"] == "provisional" and not last["special_cause"]
    assert not last["rule_outside_limits"] and last["rate"] < last["lcl"]  # below the limit, yet no signal
    assert "Provisional: follow-ups still coming in" in last["explanation"]
    assert "not the 1 provisional month" in limits_sentence(chart)
    # with every follow-up due (as of mid-July) June counts, and it is a special cause
    later = p_chart(table, as_of=pd.Timestamp("2024-07-15"))
    assert not later["provisional"].any() and later["point_type"].iloc[-1] == "special_cause_concern"


def test_a_chart_whose_every_month_is_provisional_says_so_instead_of_nan():
    # review of issue 11: one month of data, its follow-ups not all due: the hover read "Average nan%" and the
    # subtitle "from 0 months"
    rows = [(f"P{d:02d}", pd.Timestamp(2024, 6, 1 + d), True, d < 12, 14) for d in range(20)]
    table = pd.DataFrame(rows, columns=["patient_id", "session_date", "has_response", "responder", "followup_days"])
    table["responder"] = table["responder"].astype("boolean")
    table["followup_days"] = table["followup_days"].astype("Int64")
    chart = p_chart(table, as_of=pd.Timestamp("2024-06-25"))
    assert chart["provisional"].tolist() == [True] and chart.attrs["baseline_months"] == 0
    assert limits_sentence(chart).startswith("No centre line or limits yet: every month shown is provisional")
    hover = chart["explanation"].iloc[0]
    assert "nan" not in hover and "No average or limits yet: every month is provisional." in hover


# --- the Overview page ------------------------------------------------------------------------------------------

def test_overview_pchart_keeps_24_months_for_a_3_month_period():
    """AppTest on the sample (as of 30 Sep 2026): with "Last 3 months" the chart still shows 24 months (Oct 2024 to
    Sep 2026), the period shaded, Aug and Sep 2026 provisional, and the page says which limits."""
    import json

    from tests.app_support import app, no_errors, plotly_charts, texts

    at = app()
    at.selectbox(key="period").select("Last 3 months").run()
    no_errors(at)
    specs = [json.loads(c.proto.spec) for c in plotly_charts(at)]
    # the page writes the chart's title above it as text; the figure keeps it in layout.meta (charts.theme)
    spec = next(s for s in specs if "responder rate changing" in s["layout"]["meta"]["title"])
    markers = [d for d in spec["data"] if d.get("mode") == "markers"]
    months = sorted(x for d in markers for x in d["x"])
    assert len(months) == 24 and months[0].startswith("2024-10-01") and months[-1].startswith("2026-09-01")
    provisional = next(d for d in markers if d["name"] == "Provisional: follow-ups still coming in")
    assert [x[:7] for x in provisional["x"]] == ["2026-08", "2026-09"]
    assert [s["type"] for s in spec["layout"]["shapes"]] == ["rect"]
    assert "selected period" in [a.get("text") for a in spec["layout"]["annotations"]]
    page = texts(at)
    assert "Centre line and limits from 22 months (Oct 2024 to Jul 2026)" in page
    assert ("Laney p' limits" in page) or ("Binomial p-chart limits" in page)
