"""charts.safety: adverse-event rates per session by type and by product, with Wilson CIs and counts."""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.safety import SUPPRESSION_OPTIONS, adverse_event_rates
from analytics.settings import Settings
from analytics.suppression import suppress_small_groups
from charts import theme
from charts.safety import ANY_LABEL, adverse_events_figure, event_label

S = Settings()


def sessions() -> pd.DataFrame:
    """onabotulinumtoxinA: 8 patients, abobotulinumtoxinA: 6, rimabotulinumtoxinB: 2 (suppressed)."""
    rows = []
    for product, patients in (("onabotulinumtoxinA", 8), ("abobotulinumtoxinA", 6), ("rimabotulinumtoxinB", 2)):
        for p in range(patients):
            for k in range(2):
                events = ["none", "dysphagia", "dysphagia; neck_weakness", None][(p + k) % 4]
                rows.append({"patient_id": f"{product[:3]}{p}", "product": product, "adverse_events": events})
    return pd.DataFrame(rows)


def bars(fig):
    return [t for t in fig.data if t.type == "bar"]


def test_one_bar_per_event_with_rates_intervals_and_counts():
    rates = adverse_event_rates(sessions())
    fig = adverse_events_figure(rates)
    (bar,) = bars(fig)
    assert list(bar.y) == [event_label(e) for e in rates["event"]]
    assert bar.y[0] == ANY_LABEL and "Dysphagia" in bar.y and "Neck weakness" in bar.y
    np.testing.assert_allclose(bar.x, rates["rate"])
    np.testing.assert_allclose(bar.error_x.array, rates["ci_high"] - rates["rate"])
    np.testing.assert_allclose(bar.error_x.arrayminus, rates["rate"] - rates["ci_low"])
    # the rate and its counts on the line above each bar (tick text inside the plot: no label beside the axis)
    above = theme.bar_labels(fig)
    for event, rate, k, n in zip(rates["event"], rates["rate"], rates["sessions_with_event"], rates["sessions_recorded"]):
        assert above[event_label(event)] == f"{event_label(event)}: <b>{theme.fmt_pct(rate, 1)}</b> ({k} of {n} sessions)"
    assert not fig.layout.yaxis.showticklabels
    assert "patients with this event" in bar.hovertext[0]
    assert fig.layout.xaxis.title.text.startswith("Sessions with the event")
    assert not fig.layout.showlegend


def test_by_product_one_colour_per_product_and_suppressed_products_left_out():
    rates = suppress_small_groups(adverse_event_rates(sessions(), "product"), S, **SUPPRESSION_OPTIONS)
    hidden = set(rates.loc[rates["suppressed"], "group"])
    assert "rimabotulinumtoxinB" in hidden
    fig = adverse_events_figure(rates)
    names = [t.name for t in bars(fig)]
    assert not any(h in n for h in hidden for n in names)
    assert len(names) == rates.loc[~rates["suppressed"], "group"].nunique()
    assert len({t.marker.color for t in bars(fig)}) == len(names)
    for group, part in rates.loc[~rates["suppressed"]].groupby("group"):
        (bar,) = [b for b in bars(fig) if b.name.startswith(f"{group} (")]
        np.testing.assert_allclose(bar.x, part["rate"].astype(float))
    # the first product is the top bar of each event and the first legend entry: added last, legend reversed
    assert bars(fig)[-1].name.startswith("onabotulinumtoxinA") and fig.layout.legend.traceorder == "reversed"
    assert "Not shown: " in fig.layout.title.subtitle.text and fig.layout.title.text.endswith("by product")


def views_dict(frame):
    """The {"type": ..., "product": ...} dict the overview page passes."""
    return {"type": adverse_event_rates(frame, None), "product": adverse_event_rates(frame, "product")}


def test_accepts_the_type_and_product_dict():
    fig = adverse_events_figure(views_dict(sessions()))
    assert len(bars(fig)) == 3  # the by-product view
    one_product = sessions().query("product == 'onabotulinumtoxinA'")
    assert len(bars(adverse_events_figure(views_dict(one_product)))) == 1


def test_empty_gives_the_no_data_figure():
    assert theme.is_empty_figure(adverse_events_figure(adverse_event_rates(sessions().iloc[0:0])))
    assert theme.is_empty_figure(adverse_events_figure(None))
