"""One patient's treatment history on one time axis: response, dose, interval and benefit duration.

Why: a "diminished response" flag is a prompt to review the record; the practitioner needs to see at a glance
what changed alongside the response: more frequent injections or boosters, a higher dose, another product,
other muscles, shorter benefit. Each panel shares the session-date axis, so a change lines up across them.
Input: the rows of analytics.sessions.derive_sessions for one patient.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from analytics.labels import number_text, product_labels, product_short_labels, score_change_text
from analytics.settings import DEFAULT_SETTINGS, Settings
from charts import theme
from charts.safe_text import plotly_labels, plotly_text

# Product colours kept apart from the colours that carry meaning in the other panels; a pattern as well.
PRODUCT_STYLES = [(theme.OKABE_ITO["sky_blue"], ""), (theme.OKABE_ITO["yellow"], "/"), ("#999999", "x"),
                  (theme.OKABE_ITO["reddish_purple"], ".")]
LEGEND_GROUPS = {"response": "Response", "dose": "Dose", "interval": "Interval", "duration": "Benefit duration"}
TWSTRS_PANEL = "TWSTRS drop per session (no pain scores recorded)"
PANELS = ("Pain response per session", "Total dose (units differ by product)",
          "Days since the previous session", "Benefit duration (responder sessions)")


def muscle_list(cell) -> list[tuple[str, str]]:
    """'sternocleidomastoid:100;Trapezius' -> [('sternocleidomastoid', '100'), ('trapezius', '')]."""
    if cell is None or pd.isna(cell):
        return []
    out = []
    for item in str(cell).replace("|", ";").split(";"):
        name, _, units = item.partition(":")
        name = name.strip().lower()
        if name:
            out.append((name, units.strip()))
    return out


def _muscle_text(cell) -> str:
    items = muscle_list(cell)
    if not items:
        return "muscles not recorded"
    return "<br>".join(f"  {plotly_text(_muscle_name(n))}{f' {plotly_text(_units(u))} U' if u else ''}"
                       for n, u in items)


def _muscle_name(name: str) -> str:
    """'splenius_capitis' -> 'Splenius capitis' (analytics.labels words)."""
    return name.replace("_", " ").capitalize()


def _units(text: str) -> str:
    """'52.50' -> '52.5', '100' -> '100'; text that is no number as written."""
    value = pd.to_numeric(text, errors="coerce")
    return text if pd.isna(value) else number_text(value)


def _score_text(pain: float, twstrs: float, scores: tuple = (np.nan,) * 4) -> str:
    """The session's raw scores and its response: 'Pain 6 → 2: response 66.7%'; 'TWSTRS 47 → 35: change −12
    points'. scores: (pain before, pain after, TWSTRS before, TWSTRS after)."""
    pain_before, pain_after, twstrs_before, twstrs_after = scores
    parts = []
    if not np.isnan(pain):
        raw = score_change_text(pain_before, pain_after).split(",")[0]
        parts.append(f"Pain {raw}: response {number_text(pain)}%" if raw != "not recorded"
                     else f"Pain response {number_text(pain)}%")
    if not np.isnan(twstrs):
        raw = score_change_text(twstrs_before, twstrs_after).split(",")[0]
        change = f"change {number_text(twstrs)} points"
        parts.append(f"TWSTRS {raw}: {change}" if raw != "not recorded" else f"TWSTRS {change}")
    return "<br>".join(parts) or "No follow-up score: not counted as a failure"


def _changes(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Per session: what changed in the muscle set and in the product since the previous session ('' = none), as
    inert plotly text."""
    muscles, products = [], []
    previous_set, previous_product, previous_words = None, None, None
    short = product_short_labels(frame["product"]) if "product" in frame else pd.Series([None] * len(frame))
    for cell, product, product_words in zip(frame["muscles"] if "muscles" in frame else [None] * len(frame),
                                            frame["product"] if "product" in frame else [None] * len(frame), short):
        current = {n for n, _ in muscle_list(cell)}
        change = ""
        if previous_set and current and current != previous_set:
            added, dropped = sorted(current - previous_set), sorted(previous_set - current)
            change = "; ".join(p for p in (
                f"added {', '.join(plotly_text(_muscle_name(m)) for m in added)}" if added else "",
                f"dropped {', '.join(plotly_text(_muscle_name(m)) for m in dropped)}" if dropped else "") if p)
        muscles.append(change)
        if current:
            previous_set = current
        product_known = product is not None and not pd.isna(product)
        products.append(f"{plotly_text(previous_words)} to {plotly_text(product_words)}"
                        if product_known and previous_product is not None
                        and product != previous_product else "")
        if product_known:
            previous_product, previous_words = product, product_words
    return muscles, products


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    """A numeric column as floats, all-NaN when absent."""
    return theme.floats(frame[name]) if name in frame else np.full(len(frame), np.nan)


def _markers(fig: go.Figure, row: int, x, y, mask: np.ndarray, hover: list[str], group: str, **trace) -> None:
    """The sessions of `mask` as markers in one panel's legend group (nothing when none)."""
    if mask.any():
        fig.add_trace(go.Scatter(x=x[mask], y=y[mask], mode="markers", legendgroup=group,
                                 legendgrouptitle_text=LEGEND_GROUPS[group],
                                 hovertext=[hover[i] for i in np.flatnonzero(mask)],
                                 hovertemplate="%{hovertext}<extra></extra>", **trace), row=row, col=1)


def _response_panel(fig, frame, date, head, cycle, settings: Settings, use_twstrs: bool, flag=None) -> None:
    """Row 1: pain response %, or the TWSTRS drop in points for a patient scored only with TWSTRS (the two
    scales cannot share an axis; pain first, as analytics.flags judges them); the threshold, the flag's
    reference and half of it."""
    pain, twstrs = _column(frame, "response_pct"), _column(frame, "twstrs_change")
    value = -twstrs if use_twstrs else pain
    has = ~np.isnan(value)
    # The responder flag as analytics.sessions derived it (pain first, TWSTRS where pain was not scored).
    threshold = settings.twstrs_responder_drop if use_twstrs else settings.responder_threshold_pct
    responder = frame["responder"].astype("boolean").fillna(False).to_numpy(dtype=bool) if "responder" in frame \
        else value >= threshold
    scores = zip(*(_column(frame, c) for c in ("baseline_pain", "followup_pain", "baseline_twstrs", "followup_twstrs")))
    hover = [f"{h}<br>{_score_text(r, t, s)}" for h, r, t, s in zip(head, pain, twstrs, scores)]
    green, verm = theme.OKABE_ITO["bluish_green"], theme.OKABE_ITO["vermillion"]
    fig.add_trace(go.Scatter(x=date[has], y=value[has], mode="lines", line=dict(color=theme.GREY, width=1.2),
                             showlegend=False, hoverinfo="skip", name="response line"), row=1, col=1)
    _markers(fig, 1, date, value, has & responder, hover, "response", name="Responder session",
             marker=dict(color=green, size=10, symbol="circle", line=dict(width=2, color=green)))
    _markers(fig, 1, date, value, has & ~responder, hover, "response", name="Below the responder threshold",
             marker=dict(color=verm, size=10, symbol="circle-open", line=dict(width=2, color=verm)))
    if (~has).any():
        words = ["TWSTRS only" if not use_twstrs and not np.isnan(twstrs[i]) else "no score"
                 for i in np.flatnonzero(~has)]
        fig.add_trace(go.Scatter(
            x=date[~has], y=[0.0] * int((~has).sum()), mode="text", text=words,
            textfont=dict(color=theme.GREY, size=10), name="No follow-up pain score", showlegend=False,
            hovertext=[hover[i] for i in np.flatnonzero(~has)], hovertemplate="%{hovertext}<extra></extra>"),
            row=1, col=1)
    unit = " points" if use_twstrs else "%"
    theme.add_hline(fig, threshold, f"{theme.threshold_text(threshold)}{unit} responder threshold", row=1, col=1)
    if flag is not None and flag.get("measure") == ("twstrs" if use_twstrs else "pain"):
        # The diminished / watch flag's own reference (analytics.flags: the mean of the two best earlier
        # responses) and the low-response line under it, as the flag judged them.
        reference = float(flag["reference_response"])
        two = not pd.isna(flag.get("second_best_response", np.nan))
        before = f"before the last {settings.waning_last_n}" if flag["flag"] == "diminished" else "before the latest"
        what = f"mean of the two best {before}" if two else f"the best {before}"
        label = f"reference {number_text(reference)}{unit} ({what})"
        theme.add_hline(fig, reference, label, row=1, col=1, dash="dot", color=green, position="start",
                        text=label.replace(" (", "<br>(", 1))  # two short lines: one ran off a phone's plot
        fraction = settings.waning_fraction_pct
        half = reference * fraction / 100.0
        theme.add_hline(fig, half, f"{theme.threshold_text(fraction)}% of the reference "
                        f"({number_text(half)}{unit})", row=1, col=1, dash="dot",
                        color=theme.OKABE_ITO["orange"], position="start")
    low = min(0.0, float(np.nanmin(value))) if has.any() else 0.0
    if use_twstrs:
        high = max(float(np.nanmax(value)), threshold)
        fig.update_yaxes(title_text="TWSTRS drop (points)", range=[low - 2, high * 1.2], row=1, col=1)
    else:
        fig.update_yaxes(title_text="Pain reduction (%)", ticksuffix="%", range=[low - 8, 105], row=1, col=1)


def _dose_panel(fig, frame, date, head, product) -> None:
    """Row 2: total units per session, one colour and pattern per product; a product switch as a line through
    every panel (named in the top one); a changed muscle set as a diamond above the bar."""
    units = _column(frame, "total_units")
    if np.isnan(units).all():
        fig.add_annotation(text="No doses recorded", xref="x2 domain", yref="y2 domain", x=0.5, y=0.5,
                           showarrow=False, font=dict(color=theme.GREY))
    for i, name in enumerate(dict.fromkeys(product)):
        mask = (product == name).to_numpy() & ~np.isnan(units)
        if not mask.any():
            continue
        color, pattern = PRODUCT_STYLES[i % len(PRODUCT_STYLES)]
        fig.add_trace(go.Bar(
            x=date[mask], y=units[mask], name=f"Dose: {name}", legendgroup="dose", legendgrouptitle_text="Dose",
            marker=dict(color=color, line=dict(color="#555555", width=0.8),
                        pattern=dict(shape=pattern, fgcolor="#555555", size=5)),
            width=1000 * 60 * 60 * 24 * 12,  # 12 days wide in milliseconds, so a bar shows on a multi-year axis
            hovertext=[f"{head[j]}<br>Total dose {number_text(units[j])} U<br>Muscles:<br>"
                       f"{_muscle_text(frame['muscles'].iloc[j] if 'muscles' in frame else None)}"
                       for j in np.flatnonzero(mask)],
            hovertemplate="%{hovertext}<extra></extra>"), row=2, col=1)
    top = np.nanmax(units) if np.isfinite(units).any() else 1.0
    muscle_changes, product_changes = _changes(frame)
    purple = theme.OKABE_ITO["reddish_purple"]
    for j in np.flatnonzero([bool(c) for c in product_changes]):
        when = date.iloc[j]
        theme.add_vline(fig, when, f"product switch: {product_changes[j]}", row=1, col=1, dash="dashdot",
                        color=purple, side="left", label_y=1.0)
        for row in (2, 3, 4):
            fig.add_vline(x=when, line=dict(color=purple, dash="dashdot", width=1.2), layer="below", row=row, col=1,
                          exclude_empty_subplots=False)
    changed = np.array([bool(c) for c in muscle_changes])
    hover = [f"{h}<br>Muscles changed: {c}" for h, c in zip(head, muscle_changes)]
    _markers(fig, 2, date, np.full(len(frame), top * 1.18), changed, hover, "dose", name="Muscles changed",
             marker=dict(symbol="diamond", size=11, color=theme.OKABE_ITO["black"]))
    fig.update_yaxes(title_text="Units", range=[0, top * 1.3], row=2, col=1)


def _interval_panel(fig, frame, date, head, settings: Settings) -> None:
    """Row 3: days since the previous session; short intervals and boosters marked, with their lines."""
    interval = _column(frame, "interval_days")
    known = ~np.isnan(interval)
    short, booster = interval < settings.short_interval_days, interval < settings.booster_days
    hover = [f"{h}<br>{theme.fmt_num(d)} days since the previous session" for h, d in zip(head, interval)]
    orange, verm = theme.OKABE_ITO["orange"], theme.OKABE_ITO["vermillion"]
    fig.add_trace(go.Scatter(x=date[known], y=interval[known], mode="lines", line=dict(color=theme.GREY, width=1.2),
                             showlegend=False, hoverinfo="skip", name="interval line"), row=3, col=1)
    _markers(fig, 3, date, interval, known & ~short, hover, "interval",
             name=f"Interval of {settings.short_interval_days} days or more",
             marker=dict(color=theme.GREY, size=10, symbol="circle"))
    _markers(fig, 3, date, interval, known & short & ~booster, hover, "interval",
             name=f"Short interval (< {settings.short_interval_days} days)",
             marker=dict(color=orange, size=10, symbol="circle"))
    _markers(fig, 3, date, interval, known & booster, hover, "interval",
             name=f"Booster (< {settings.booster_days} days)", marker=dict(color=verm, size=12, symbol="x"))
    theme.add_hline(fig, settings.short_interval_days, theme.weeks_label(settings.short_interval_days), row=3, col=1)
    theme.add_hline(fig, settings.booster_days, f"booster: {settings.booster_days} days", row=3, col=1, dash="dot",
                    color=verm)
    top = np.nanmax(np.concatenate([interval[known], [settings.short_interval_days]]))
    fig.update_yaxes(title_text="Days", range=[0, top * 1.15], row=3, col=1)


def _duration_panel(fig, frame, date, head, settings: Settings) -> None:
    """Row 4: benefit duration of responder sessions, recorded wearing-off vs still running (at least)."""
    duration = _column(frame, "duration_days")
    event = frame["duration_event"].astype("boolean").fillna(False).to_numpy(dtype=bool) \
        if "duration_event" in frame else np.zeros(len(frame), dtype=bool)
    with_duration = ~np.isnan(duration)
    blue = theme.OKABE_ITO["blue"]
    for mask, name, symbol, words in (
            (with_duration & event, "Benefit wore off (recorded)", "circle", "Benefit wore off on day"),
            (with_duration & ~event, "Still benefiting at the next injection or as-of date (at least)",
             "triangle-up-open", "Still benefiting on day")):
        hover = [f"{h}<br>{words} {theme.fmt_num(d)}" for h, d in zip(head, duration)]
        _markers(fig, 4, date, duration, mask, hover, "duration", name=name,
                 marker=dict(color=blue, size=10, symbol=symbol, line=dict(width=2, color=blue)))
    theme.add_hline(fig, settings.short_interval_days, theme.weeks_label(settings.short_interval_days),
                    row=4, col=1, dash="dot")
    top = np.nanmax(np.concatenate([duration[with_duration], [settings.short_interval_days]]))
    fig.update_yaxes(title_text="Days after injection", range=[0, top * 1.15], row=4, col=1)


def patient_timeline_figure(patient_sessions, settings: Settings = DEFAULT_SETTINGS, flag=None) -> go.Figure:
    """Four panels over session date: response % (the responder threshold; for a flagged patient, `flag` = their
    row of analytics.flags.flag_patients, the flag's reference and the low-response line under it), total
    dose by product (product switches and muscle changes marked), interval (12-week and booster lines,
    short intervals and boosters marked) and benefit duration (recorded vs still running)."""
    title = "Patient timeline"
    if theme.is_empty(patient_sessions):
        return theme.empty_figure("No sessions for this patient.", title)
    frame = patient_sessions.sort_values("session_date", kind="stable").reset_index(drop=True)
    patient = plotly_text(frame["patient_id"].iloc[0]) if "patient_id" in frame else ""
    date = pd.to_datetime(frame["session_date"])
    cycle = theme.floats(frame["cycle"]) if "cycle" in frame else np.arange(1, len(frame) + 1, dtype="float64")
    product = plotly_labels(product_labels(frame["product"]).str.replace("not recorded", "product not recorded")) \
        if "product" in frame else pd.Series("product not recorded", index=frame.index)
    head = [f"<b>{d:%d %b %Y}</b>, cycle {theme.fmt_num(c)}, {p}" for d, c, p in zip(date, cycle, product)]
    use_twstrs = bool(np.isnan(_column(frame, "response_pct")).all()
                      and (~np.isnan(_column(frame, "twstrs_change"))).any())

    panels = (TWSTRS_PANEL,) + PANELS[1:] if use_twstrs else PANELS
    fig = make_subplots(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        row_heights=[0.34, 0.22, 0.22, 0.22], subplot_titles=[f"<b>{p}</b>" for p in panels])
    _response_panel(fig, frame, date, head, cycle, settings, use_twstrs, flag)
    _dose_panel(fig, frame, date, head, product)
    _interval_panel(fig, frame, date, head, settings)
    _duration_panel(fig, frame, date, head, settings)

    subtitle = (f"{theme.count(len(frame), 'session')} from {date.min():%d %b %Y} to {date.max():%d %b %Y}. "
                f"{theme.responder_rule(settings)}.")
    theme.base_layout(fig, f"Patient {patient}: response, dose, intervals and benefit over time", subtitle,
                      height=900)
    fig.update_layout(barmode="overlay", hovermode="closest", margin=dict(t=theme.title_space(subtitle) + 20))
    fig.update_annotations(x=0, xanchor="left", font=dict(size=13), selector=dict(xref="paper", yref="paper"))
    fig.update_xaxes(title_text="Session date", row=4, col=1)
    pad = pd.Timedelta(days=30)
    fig.update_xaxes(range=[date.min() - pad, date.max() + pad])
    return fig
