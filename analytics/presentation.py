"""What a person is shown, decided once for the app's pages and the shared reports alike: which groups are
suppressed in each view, how a figure is written (KPI tiles, table cells, changes), the words of every table
heading and threshold. No Streamlit and no plotly here: the pages and reports/ only lay these out.
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from analytics.breakdowns import _group_keys, breakdown, dose_band_edges
from analytics.headline import distinct_count
from analytics.kpis import FOLLOWUP_KPIS, KPI_INTERVAL, KPI_LABELS, TOO_FEW_REASON, change_words, kpi_tiles
from analytics.safety import ALL_SESSIONS, SUPPRESSION_OPTIONS, adverse_event_rates
from analytics.sessions import NOT_RECORDED, group_labels
from analytics.settings import Settings, knobs, label
from analytics.spc import month_numbers, p_chart, window_mask
from analytics.suppression import (
    SUPPRESSED, FamilyMember, for_display, hide_more, suppress_family, suppress_small_groups,
)
from analytics.waning import waning_by_cycle

# ---- writing a figure ------------------------------------------------------------------------------------------
_KIND_OF_UNIT = {"proportion": "proportion", "%": "percent", "days": "days"}  # any other unit is a count


def missing(value) -> bool:
    """None, NA or NaN."""
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def unit_kind(unit: str) -> str:
    """'proportion' (0..1, shown as %), 'percent' (already in %), 'days' or 'count', from a KPI unit."""
    return _KIND_OF_UNIT.get(unit, "count")


def _trim(text: str, decimals: int) -> str:
    """'12.0' -> '12': a whole number is written without its zero decimals."""
    return text.removesuffix("." + "0" * decimals) if decimals else text


def format_figure(value, unit: str, decimals: int = 0) -> str:
    """A figure in its unit: '1,234', '63%' (a proportion 0.63 or a percentage 63), '98 days'; '-' when missing.
    The app's tiles use whole numbers, the reports one decimal."""
    if missing(value):
        return "-"
    kind = unit_kind(unit)
    if kind == "count":
        return f"{value:,.0f}"
    if kind == "proportion":
        return f"{100 * value:.{decimals}f}%"
    if kind == "percent":
        return f"{value:.{decimals}f}%"
    return _trim(f"{value:,.{decimals}f}", decimals) + " days"


def format_change(change, unit: str, clear=None, short: bool = False) -> str | None:
    """A change against the previous period as signed text ('+1.5 pts' for rates and percentages, '+3 days',
    '+12'); 'no change' when it rounds to nothing; None when there is nothing to compare. clear False (the change
    is within chance, analytics.kpis.clear_change): 'no clear change (+1.5 pts)', or just 'no clear change' when
    short (the app's narrow tiles, whose help gives the figure); True or None (a count): the signed text."""
    if missing(change):
        return None
    clear = None if missing(clear) else bool(clear)
    kind = unit_kind(unit)
    shown = round(100 * change if kind == "proportion" else change, 0 if kind == "count" else 1)
    if shown == 0:
        return "no clear change" if clear is False else "no change"
    if kind == "count":
        text = f"{change:+,.0f}"
    elif kind in ("proportion", "percent"):
        text = f"{shown:+.1f} pts"
    else:
        text = _trim(f"{shown:+,.1f}", 1) + " days"
    if clear is False:
        return "no clear change" if short else f"no clear change ({text})"
    return text


def format_cell(value, kind: str | None = None, blank: str = "") -> str:
    """A table cell as text. kind: 'count', 'proportion' (shown as %), 'percent', 'number', 'text', or None to
    go by the value (whole numbers without decimals, others with one). Text (e.g. 'suppressed') stays as is."""
    if isinstance(value, str):
        return value
    if missing(value):
        return blank
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if kind == "proportion":
        return f"{100 * float(value):.1f}%"
    if kind == "percent":
        return f"{float(value):.1f}%"
    if kind == "count" or (kind is None and isinstance(value, (int, np.integer))):
        return f"{int(value):,}"
    if kind in ("number", None) and isinstance(value, (int, float, np.integer, np.floating)):
        return _trim(f"{float(value):,.1f}", 1)
    return str(value)


# ---- KPI tiles -------------------------------------------------------------------------------------------------
KPI_SHORT_LABELS = {  # shorter words for the app's tiles than KPI_LABELS (the help text has the full ones)
    "median_peak_days": "Median peak",
    "median_duration_days": "Benefit lasts",  # the median: the help says so (a phone tile is 168 px wide)
    "short_interval_share": "Short intervals",
    "adverse_event_rate": "Adverse events",
    "followup_recorded": "Followed up",  # "Follow-up recorded" is cut on a phone tile
}
KPI_MEANING = {
    "patients": "Distinct patients with a session in the period.",
    "sessions": "Injection sessions in the period.",
    "responder_rate": "Responders / sessions with a follow-up score. Responder: pain down by at least {thr}% "
                      "(or TWSTRS down by at least {tw} points where pain was not scored).",
    "median_response_pct": "Middle value of the % pain reduction over sessions with a response.",
    "median_onset_days": "Middle value of the recorded days until the patient first noticed benefit.",
    "median_peak_days": "Middle value of the recorded days until the greatest benefit.",
    "median_duration_days": "Kaplan-Meier median over responder sessions: re-injection while still benefiting "
                            "is censored, not counted as the end of the benefit.",
    "short_interval_share": "Share of intervals between a patient's sessions shorter than {short} days.",
    "adverse_event_rate": "Sessions with any adverse event / sessions where adverse events were recorded.",
    "patients_flagged": "Patients seen in the period with a 'diminished' or 'watch' flag (full history). "
                        "A prompt to review, not a diagnosis.",
    "followup_recorded": "Sessions with a follow-up score / sessions whose follow-up was due by the end of the "
                         "period ({due} days after the injection: how long follow-ups usually take here). Sessions "
                         "more recent than that are not yet due and are left out.",
}
PERIOD_HIDDEN, PREVIOUS_HIDDEN = "period", "previous period"


def suppress_kpi_periods(tiles: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """The KPI tiles with small periods hidden: a period (this one or the one before) with fewer than k patients
    shows no figures. Hidden figures become NA; attrs["suppressed"] names the hidden periods."""
    k = settings.min_group_patients
    out = tiles.copy()
    out.attrs = dict(tiles.attrs)
    patients = tiles.set_index("kpi").loc["patients"]
    hidden = []
    change = [c for c in ("change", "change_ci_low", "change_ci_high") if c in out.columns]
    if patients["value"] < k:
        out[["value", "ci_low", "ci_high", *change, *(["at_least"] if "at_least" in out.columns else [])]] = np.nan
        out.attrs.pop("followup", None)  # its counts would give the hidden period's sessions away
        hidden.append(PERIOD_HIDDEN)
    if 0 < patients["previous"] < k:
        out[["previous", *change]] = np.nan
        hidden.append(PREVIOUS_HIDDEN)
    if hidden and "clear_change" in out.columns:
        out["clear_change"] = pd.array([pd.NA] * len(out), dtype="boolean")  # no comparison with a hidden period
    out.attrs["suppressed"] = hidden
    return out


def kpi_tiles_shown(sessions: pd.DataFrame, settings: Settings, start=None, end=None, flags=None,
                    due_days: int | None = None, first=None) -> pd.DataFrame:
    """The KPI tiles of [start, end] against the period before (analytics.kpis.kpi_tiles), small periods hidden."""
    return suppress_kpi_periods(kpi_tiles(sessions, settings, start=start, end=end, flags=flags, due_days=due_days,
                                          first=first), settings)


def kpi_value(kpi: str, value, unit: str, hidden: Sequence[str] = (), decimals: int = 0, too_few=False,
              at_least=None) -> str:
    """A tile's figure: 'suppressed' for a hidden period; for a KM median that was not reached, '≥ 92 days' (at
    least the longest follow-up, `at_least`) or 'not reached' without one; and '86 days (too few to give a range)'
    for an estimate resting on too few values for an interval (too_few: the tile's ci_too_few)."""
    if PERIOD_HIDDEN in hidden:
        return SUPPRESSED
    if missing(value) and kpi == "median_duration_days":
        return "not reached" if missing(at_least) else f"≥ {at_least:,.0f} days"
    text = format_figure(value, unit, decimals)
    return f"{text} (too few to give a range)" if not missing(value) and not missing(too_few) and too_few else text


def followup_note(kpi: str, followup: Mapping | None) -> str:
    """The follow-up behind a tile, in words: '160 of 265 sessions have a follow-up score' on a tile resting on
    follow-up scores (analytics.kpis.FOLLOWUP_KPIS), '160 of 184 due; 81 not yet due' on the Follow-up recorded
    tile; '' for other tiles or without counts (a hidden period)."""
    if not followup:
        return ""
    if kpi in FOLLOWUP_KPIS:
        return f"{followup['recorded']:,} of {followup['sessions']:,} sessions have a follow-up score"
    if kpi == "followup_recorded":
        due = followup["recorded"] + followup["missing"]
        text = f"{followup['recorded']:,} of {due:,} due"
        return text + (f"; {followup['not_yet_due']:,} not yet due" if followup["not_yet_due"] else "")
    return ""


def kpi_help(row: pd.Series, settings: Settings, period: dict, hidden: Sequence[str] = (),
             followup: Mapping | None = None) -> str:
    """What a tile means, its 95% CI and n, the follow-up it rests on, and the previous period's figure, in
    sentences."""
    kpi, unit = row["kpi"], row["unit"]
    due = (followup or {}).get("due_days", "")
    meaning = KPI_MEANING[kpi].format(thr=f"{settings.responder_threshold_pct:g}",
                                      tw=f"{settings.twstrs_responder_drop:g}", short=settings.short_interval_days,
                                      due=due)
    parts = [meaning]
    if PERIOD_HIDDEN in hidden:
        parts.append(f"Not shown: fewer than {settings.min_group_patients} patients in the period.")
        return " ".join(parts)
    how = KPI_INTERVAL.get(kpi)
    too_few = bool(row.get("ci_too_few", False)) if not missing(row.get("ci_too_few", False)) else False
    if too_few:
        parts.append(f"Too few to give a range: {TOO_FEW_REASON.get(kpi, 'too few values')}.")
    elif not missing(row["ci_low"]) and how:
        if unit_kind(unit) == "proportion":
            parts.append(f"95% CI {100 * row['ci_low']:.1f}% to {100 * row['ci_high']:.1f}% ({how}).")
        else:
            high = "not reached" if missing(row["ci_high"]) else format_figure(row["ci_high"], unit, 1)
            parts.append(f"95% CI {format_figure(row['ci_low'], unit, 1)} to {high} ({how}).")
    at_least = row.get("at_least", np.nan)
    if kpi == "median_duration_days" and missing(row["value"]) and not missing(at_least):
        parts.append(f"More than half of the sessions were still benefiting at the longest follow-up "
                     f"({at_least:,.0f} days), so the median is at least that long.")
    what = {"patients": "patients", "patients_flagged": "patients seen"}.get(kpi, "sessions")
    parts.append(f"Based on {int(row['n']):,} {what}" + (" whose follow-up was due." if kpi == "followup_recorded"
                                                         else "."))
    note = followup_note(kpi, followup)
    if note and kpi in FOLLOWUP_KPIS:
        parts.append(f"{note[0].upper()}{note[1:]}; the others are left out of this figure.")
    elif note and followup and followup["not_yet_due"]:
        parts.append(f"{followup['not_yet_due']:,} sessions of the last {due} days are not yet due a follow-up.")
    before = f"Previous period ({period.get('previous_start')} to {period.get('previous_end')})"
    if kpi == "patients_flagged":
        parts.append("No comparison with the previous period: flags are read from each patient's whole history.")
    elif PREVIOUS_HIDDEN in hidden:
        parts.append(f"{before}: not shown, fewer than {settings.min_group_patients} patients.")
    elif int(row["previous_n"]) or (kpi in ("patients", "sessions") and not missing(row["previous"])):
        parts.append(f"{before}: {kpi_value(kpi, row['previous'], unit)} from {int(row['previous_n']):,} {what}.")
        change = format_change(row["change"], unit)
        if change:
            parts.append(f"Change: {change}.")
        parts.append(change_words(kpi, row["change"], row.get("clear_change", pd.NA),
                                  row.get("change_ci_low", np.nan), row.get("change_ci_high", np.nan)))
    else:
        parts.append(f"{before}: no data.")
    return " ".join(p for p in parts if p)


def kpi_table(tiles: pd.DataFrame) -> pd.DataFrame:
    """The tiles as a downloadable table (rates as proportions 0..1), with ci_too_few (no interval: too few
    values), the 95% interval of the change and clear_change (True/False; blank for counts); figures of a hidden
    period read 'suppressed'."""
    extra = [c for c in ("ci_too_few", "change_ci_low", "change_ci_high", "clear_change") if c in tiles.columns]
    table = tiles[["label", "value", "ci_low", "ci_high", "n", "previous", "previous_n", "change", "unit",
                   *extra]].copy()
    hidden = tiles.attrs.get("suppressed", [])
    judged = [c for c in extra if c != "ci_too_few"]  # these say something of the previous figure too
    columns = (["value", "ci_low", "ci_high", "n", "change", *extra] if PERIOD_HIDDEN in hidden else []) + (
        ["previous", "previous_n", "change", *judged] if PREVIOUS_HIDDEN in hidden else [])
    for column in dict.fromkeys(columns):
        table[column] = SUPPRESSED
    period = tiles.attrs.get("period", {})
    table.insert(1, "period", f"{period.get('start')} to {period.get('end')}")
    table.insert(2, "previous_period", f"{period.get('previous_start')} to {period.get('previous_end')}")
    return table.rename(columns={"label": "figure"})


def kpi_label(kpi: str, short: bool = False) -> str:
    """A KPI's name: the tile's short words, or the full ones."""
    return KPI_SHORT_LABELS.get(kpi, KPI_LABELS[kpi][0]) if short else KPI_LABELS[kpi][0]


# ---- suppressed views ------------------------------------------------------------------------------------------
def by_cycle_shown(by_cycle: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Response by cycle with cycles of fewer than k patients (and their complement) suppressed."""
    return suppress_small_groups(by_cycle, settings, patients_col="n_patients", group_cols=["cycle"])


def groups_shown(table: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """A group table (breakdowns, funnel groups) with small groups suppressed."""
    return suppress_small_groups(table, settings)


def funnel_shown(result: dict, settings: Settings, hide: Mapping[str, str] | None = None) -> dict:
    """A funnel result with small groups suppressed and only visible groups named as outliers.

    hide: {group: reason} of the groups the page's (or report's) family suppression hides (family_shown's
    "funnel_<by>" entry); they are hidden too, with that reason, whatever the funnel's own rule says."""
    groups = groups_shown(result["groups"], settings)
    if hide:
        groups = hide_more(groups, groups["group"].astype(str).map(dict(hide)))
    visible = groups.loc[~groups["suppressed"].astype(bool)]
    return dict(result, groups=groups,
                outliers=result["outliers"].loc[result["outliers"]["group"].isin(visible["group"])])


def adverse_events_shown(by_type: pd.DataFrame, by_product: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Adverse event rates by type and by product in one table, small groups suppressed."""
    rates = pd.concat([by_type, by_product], ignore_index=True)
    return suppress_small_groups(rates, settings, **SUPPRESSION_OPTIONS)


BITMAP_CELLS = 400_000_000  # months x patients up to which patients_per_month marks a bitmap (at most 400 MB)


def patients_per_month(dates: np.ndarray, patients: pd.Series) -> pd.Series:
    """How many distinct patients (a blank code not counted) have a session in each calendar month of `dates`,
    indexed by the month's first day: from integer codes of the months and patients (a categorical's codes as
    they are), never grouping text."""
    codes, uniques = pd.factorize(patients)
    numbers, dated = month_numbers(dates)
    known = (codes >= 0) & dated
    codes, months = codes[known], numbers[known]
    if len(months) == 0:
        return pd.Series(dtype="int64")
    lowest = months.min()
    span, width = int(months.max() - lowest) + 1, len(uniques)
    pairs = (months - lowest) * np.int64(width) + codes
    if span * width <= BITMAP_CELLS:  # one cell per month and patient: marking them is faster than hashing pairs
        seen = np.zeros(span * width, dtype=bool)
        seen[pairs] = True
        counts = seen.reshape(span, width).sum(axis=1)
    else:
        counts = np.bincount(pd.unique(pairs) // np.int64(width), minlength=span)
    index = (np.arange(span) + lowest).astype("datetime64[M]").astype("datetime64[ns]")
    return pd.Series(counts, index=pd.DatetimeIndex(index), dtype="int64")[counts > 0]


def pchart_shown(derived: pd.DataFrame, settings: Settings, **options) -> tuple[pd.DataFrame, int]:
    """The monthly p-chart (analytics.spc.p_chart; options such as period_start, period_end, as_of, lag_days go
    to it) with months of fewer than k patients with a response (and their complement) left out, and how many
    months that hid. `derived` is the sessions of the chosen filters, at any date when the chart is to show its
    baseline months before the period."""
    chart = p_chart(derived, settings, **options)
    if len(chart) == 0:
        return chart, 0
    inside = window_mask(derived, chart)
    has_response = derived["has_response"].astype("boolean").fillna(False).to_numpy(dtype=bool) & inside
    patients = patients_per_month(derived["session_date"].to_numpy()[has_response],
                                  derived["patient_id"].loc[has_response])
    counted = chart.assign(patients=pd.to_datetime(chart["month"]).map(patients).fillna(0).astype("int64"))
    marked = suppress_small_groups(counted[["month", "patients"]], settings, group_cols=["month"])
    keep = ~marked["suppressed"].to_numpy(dtype=bool)
    shown = chart if keep.all() else chart.loc[keep].reset_index(drop=True)
    shown.attrs = dict(chart.attrs)
    return shown, int((~keep).sum())


BREAKDOWN_DIMENSIONS = (("product", "Product"), ("indication", "Indication"), ("site", "Site"),
                        ("practitioner_id", "Practitioner"), ("dose_band", "Dose band"), ("cycle", "Cycle"))


def breakdown_dimensions(derived: pd.DataFrame) -> list[tuple[str, str]]:
    """(dimension, label) of every breakdown the data has (dose band and cycle always)."""
    return [(by, words) for by, words in BREAKDOWN_DIMENSIONS
            if by in ("dose_band", "cycle") or (by in derived.columns and not derived[by].isna().all())]


def breakdown_tables(derived: pd.DataFrame, settings: Settings, km: bool = True
                     ) -> list[tuple[str, str, pd.DataFrame]]:
    """(dimension, label, suppressed table) for every breakdown dimension the data has, suppressed together as
    one family (no hidden group can be worked out from the other breakdowns and the total)."""
    tables = {by: breakdown(derived, by, settings, km=km) for by, _ in breakdown_dimensions(derived)}
    family = family_shown(derived, settings, breakdowns=tables)
    return [(by, words, family[f"breakdown_{by}"]) for by, words in breakdown_dimensions(derived)]


# ---- families: the tables a reader sees together ---------------------------------------------------------------
def session_groups(sessions: pd.DataFrame, by: str) -> pd.Series:
    """Per session, the group of a breakdown by `by` (a column, 'dose_band' or 'cycle') it counts in, written as
    that table's `group` column (the funnel's groups are the same labels)."""
    if by == "dose_band" and {"product", "total_units"} <= set(sessions.columns):
        return _dose_band_groups(sessions)
    return _group_keys(sessions, by)[0]


def _dose_band_groups(sessions: pd.DataFrame) -> pd.Series:
    """The dose band label of every session, as analytics.breakdowns.dose_band writes it, but labelled once per
    distinct (product, units) pair (dose_band writes a label per session, seconds on a million sessions)."""
    edges = dose_band_edges(sessions).set_index("product")
    product, products = pd.factorize(sessions["product"], use_na_sentinel=True)
    units = pd.to_numeric(sessions["total_units"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    unit, _ = pd.factorize(units, use_na_sentinel=True)
    codes, _ = pd.factorize((product.astype("int64") + 1) * (int(unit.max(initial=0)) + 2) + unit + 1)
    at = np.unique(codes, return_index=True)[1]
    first = pd.DataFrame({"product": pd.Series(np.asarray(products, dtype=object)).reindex(product[at]).to_numpy(),
                          "units": units[at]})
    known = first["product"].notna() & first["product"].isin(edges.index) & first["units"].notna()
    edge = edges.reindex(first["product"].where(known)).reset_index(drop=True)
    label = np.select([~known.to_numpy(), (first["units"] <= edge["low_max"]).to_numpy(),
                       (first["units"] <= edge["middle_max"]).to_numpy()],
                      [np.full(len(first), NOT_RECORDED, dtype=object), edge["low"].to_numpy(object),
                       edge["middle"].to_numpy(object)], default=edge["high"].to_numpy(object))
    named, names = pd.factorize(pd.Series(label, dtype=object))
    return pd.Series(pd.Categorical.from_codes(named[codes], categories=pd.Index(names, dtype=object)),
                     index=sessions.index)


def _funnel_member(derived: pd.DataFrame, by: str) -> FamilyMember:
    """The funnel's groups (group_labels of `by`) with their patients, as a family member."""
    labels = group_labels(derived, by)
    codes, groups = pd.factorize(labels, sort=True)
    patient, _ = pd.factorize(derived["patient_id"])
    pairs = np.unique(codes.astype("int64") * (int(patient.max(initial=0)) + 1) + patient)
    patients = np.bincount(pairs // (int(patient.max(initial=0)) + 1), minlength=len(groups))
    table = pd.DataFrame({"group_by": by, "group": np.asarray(groups, dtype=object), "patients": patients})
    return FamilyMember(f"funnel_{by}", table, labels)


def family_shown(derived: pd.DataFrame, settings: Settings, breakdowns: Mapping[str, pd.DataFrame] | None = None,
                 by_cycle: pd.DataFrame | None = None, funnel_by: Sequence[str] = (),
                 adverse_events: pd.DataFrame | None = None) -> dict:
    """The tables one view shows together (a page, the report, the workbook), suppressed as one family with the
    total shown (analytics.suppression.suppress_family), so that no hidden group can be worked out by adding or
    subtracting what any of them shows.

    breakdowns: {by: breakdown table}; by_cycle: waning_by_cycle's table; funnel_by: the funnels' `by`s (their
    groups and patients are counted here from the sessions); adverse_events: adverse_events_shown's input rows
    (by type and by product, concatenated), counted as if over every session of the product (the cautious side).
    Returns {"breakdown_<by>": table, "by_cycle": table, "adverse_events": table, "funnel_<by>": {group: reason}}
    for what was given; the funnel entries are for funnel_shown(..., hide=...).
    """
    members = [FamilyMember(f"breakdown_{by}", table, session_groups(derived, by))
               for by, table in (breakdowns or {}).items()]
    if by_cycle is not None:
        members.append(FamilyMember("by_cycle", by_cycle, derived["cycle"], key="cycle", patients_col="n_patients",
                                    group_cols=["cycle"]))
    members += [_funnel_member(derived, by) for by in funnel_by]
    if adverse_events is not None:
        product = group_labels(derived, "product")
        everyone = pd.Series(ALL_SESSIONS, index=product.index, dtype="str")
        labels = pd.DataFrame({"product": product, "all": everyone})
        events = adverse_events.reset_index(drop=True)
        overall = events["group_by"] != "product"
        members.append(FamilyMember("adverse_events_product", events.loc[~overall].reset_index(drop=True),
                                    labels["product"], **SUPPRESSION_OPTIONS))
        members.append(FamilyMember("adverse_events_all", events.loc[overall].reset_index(drop=True),
                                    labels["all"], **SUPPRESSION_OPTIONS))
    shown = suppress_family(members, settings)
    out = {name: table for name, table in shown.items() if not name.startswith(("funnel_", "adverse_events_"))}
    for by in funnel_by:
        table = shown[f"funnel_{by}"]
        hidden = table.loc[table["suppressed"]]
        out[f"funnel_{by}"] = dict(zip(hidden["group"].astype(str), hidden["suppression"]))
    if adverse_events is not None:
        out["adverse_events"] = pd.concat([shown["adverse_events_all"], shown["adverse_events_product"]],
                                          ignore_index=True)
    return out


def compare_family(derived: pd.DataFrame, settings: Settings, breakdowns: Mapping[str, pd.DataFrame],
                   by_cycle: pd.DataFrame) -> dict:
    """The Compare page's family: its breakdowns, duration by cycle and the practitioner and site funnels."""
    return family_shown(derived, settings, breakdowns=breakdowns, by_cycle=by_cycle,
                        funnel_by=("practitioner_id", "site"))


def overview_family(derived: pd.DataFrame, settings: Settings, by_cycle: pd.DataFrame, by_type: pd.DataFrame,
                    by_product: pd.DataFrame) -> dict:
    """The Overview's family: response by cycle and the adverse event rates by type and by product
    ({"by_cycle": table, "adverse_events": table as adverse_events_shown gives it})."""
    return family_shown(derived, settings, by_cycle=by_cycle,
                        adverse_events=pd.concat([by_type, by_product], ignore_index=True))


def report_family(derived: pd.DataFrame, settings: Settings, km: bool = True) -> dict:
    """The family of the shared report and the workbook (the same one, so a reader holding both learns nothing
    more): every breakdown, response by cycle, the practitioner funnel and the adverse event rates. Adds
    "breakdowns": [(by, label, table)]."""
    tables = {by: breakdown(derived, by, settings, km=km) for by, _ in breakdown_dimensions(derived)}
    events = pd.concat([adverse_event_rates(derived, None), adverse_event_rates(derived, "product")],
                       ignore_index=True)
    family = family_shown(derived, settings, breakdowns=tables, by_cycle=waning_by_cycle(derived, settings),
                          funnel_by=("practitioner_id",), adverse_events=events)
    family["breakdowns"] = [(by, words, family[f"breakdown_{by}"]) for by, words in breakdown_dimensions(derived)]
    return family


def too_few_patients(derived: pd.DataFrame, settings: Settings) -> bool:
    """The whole selection has fewer patients than the suppression threshold (so no figure may be shown)."""
    return distinct_count(derived["patient_id"]) < settings.min_group_patients if len(derived) else True


def too_few_message(sessions: pd.DataFrame, settings: Settings) -> str | None:
    """What a view shows instead of its figures when the selection has fewer than k patients; None otherwise."""
    if not too_few_patients(sessions, settings):
        return None
    what = ("no sessions" if len(sessions) == 0 else
            f"fewer than {settings.min_group_patients} patients, so its figures are suppressed to protect them")
    return f"This selection has {what}. Widen the period or the filters."


def hidden_note(hidden: int, what: str, settings: Settings, reason: str = "patients") -> str:
    """'3 cycle(s) not shown: ...' for a chart that left suppressed groups out; '' when none was."""
    if not hidden:
        return ""
    return (f"{hidden} {what}(s) not shown: fewer than {settings.min_group_patients} {reason}, or hidden so a small "
            "one cannot be worked out.")


# ---- tables --------------------------------------------------------------------------------------------------
# Column -> (heading, kind of value), for every group table the app and the reports show.
GROUP_HEADINGS = {
    "group": ("group", "text"), "patients": ("patients", "count"), "sessions": ("sessions", "count"),
    "sessions_with_response": ("with a response", "count"), "n": ("with a response", "count"),
    "responders": ("responders", "count"), "responder_rate": ("responder rate", "proportion"),
    "rate": ("responder rate", "proportion"),
    "responder_ci_low": ("95% CI from", "proportion"), "responder_ci_high": ("95% CI to", "proportion"),
    "lower_95": ("95% limit from", "proportion"), "upper_95": ("95% limit to", "proportion"),
    "position": ("position", "text"), "expected_rate": ("expected rate", "proportion"),
    "adjusted_rate": ("adjusted rate", "proportion"), "lower_998": ("99.8% limit from", "proportion"),
    "upper_998": ("99.8% limit to", "proportion"), "beyond": ("beyond limit (%)", "text"),
    "mean_response_pct": ("mean response %", "number"), "median_onset_days": ("median onset (days)", "number"),
    "median_duration_days": ("median benefit (days, KM)", "number"), "intervals": ("intervals", "count"),
    "short_interval_share": ("short intervals", "proportion"), "ae_recorded": ("AE recorded", "count"),
    "ae_rate": ("adverse events", "proportion"), "suppression": ("suppressed because", "text"),
}
BREAKDOWN_SCREEN = ("group", "sessions", "patients", "sessions_with_response", "responders", "responder_rate",
                    "responder_ci_low", "responder_ci_high", "mean_response_pct", "median_onset_days", "intervals",
                    "short_interval_share", "ae_recorded", "ae_rate", "suppression")
BREAKDOWN_REPORT = ("group", "patients", "sessions", "sessions_with_response", "responders", "responder_rate",
                    "responder_ci_low", "responder_ci_high", "mean_response_pct", "median_onset_days",
                    "median_duration_days", "short_interval_share", "ae_rate")
FUNNEL_SCREEN = ("group", "patients", "sessions", "n", "rate", "expected_rate", "lower_95", "upper_95", "position",
                 "suppression")
RATE_COLUMNS = ("responder_rate", "responder_ci_low", "responder_ci_high", "short_interval_share",
                "short_interval_ci_low", "short_interval_ci_high", "ae_rate", "ae_ci_low", "ae_ci_high", "rate",
                "expected_rate", "adjusted_rate", "overall_rate",
                "p0", "lower_95", "upper_95", "lower_998", "upper_998", "rate_ci_low", "rate_ci_high", "ci_low",
                "ci_high", "centre", "lcl", "ucl", "lower_2sigma", "upper_2sigma")


def display_table(table: pd.DataFrame, group_cols=None) -> pd.DataFrame:
    """For a CSV or workbook: suppressed cells as the text 'suppressed', numbers kept as numbers elsewhere."""
    if "suppressed" in table.columns:
        table = for_display(table, group_cols)
    return table.drop(columns=[c for c in ("is_total",) if c in table.columns])


def screen_table(table: pd.DataFrame, group_cols=None, percent=()) -> pd.DataFrame:
    """For a screen: a suppressed table as text, 'suppressed' where a small group was blanked, the `percent`
    columns (proportions 0..1) as %."""
    shown = display_table(table, group_cols)
    keep = set(group_cols or ())
    for column in shown.columns:
        if column in keep or column == "suppressed":
            continue
        kind = "proportion" if column in percent else None
        shown[column] = pd.Series([format_cell(v, kind) for v in shown[column].astype(object)], index=shown.index,
                                  dtype="str")
    return shown


def headed_table(table: pd.DataFrame, group_cols, columns: Sequence[str]) -> pd.DataFrame:
    """A group table for the screen: the chosen columns (those present), written as text, with their headings."""
    shown = screen_table(table, group_cols, RATE_COLUMNS)
    present = [c for c in columns if c in shown.columns]
    return shown[present].rename(columns={c: GROUP_HEADINGS[c][0] for c in present})


# ---- thresholds --------------------------------------------------------------------------------------------------
def settings_rows(settings: Settings, as_of: str) -> list[tuple[str, str]]:
    """(words, value) for every setting in force, as the reports list them; a default as-of date is named."""
    rows = []
    for name, value in settings.to_dict().items():
        knob = knobs().get(name)
        if name == "as_of":
            text = value or f"{as_of} (the latest session date)"
        elif isinstance(value, list):
            text = ", ".join(map(str, value))
        elif knob is not None:
            text = f"{knob.shown(value):g}"
        else:
            text = str(value)
        rows.append((label(name), text))
    return rows


# ---- user text in Markdown ---------------------------------------------------------------------------------------
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$&^=/])")
_AUTOLINK = re.compile(r"(?i)(?<=[a-z0-9])(\\?[:.@])(?=\S)")  # 'http:', 'www.', 'name@': where GFM would link


def _colons(token: re.Match) -> str:
    """Escape the colons of one word, except a single colon that ends it ('site:' in 'site: North')."""
    word = token.group(0)
    if word.count(":") == 1 and word.endswith(":"):
        return word
    return word.replace(":", "\\:")


def markdown_text(value) -> str:
    """A user string (site, practitioner, patient code, file label...) to put inside Streamlit Markdown
    (st.markdown, st.caption, st.info, widget labels) so that it shows as written.

    The characters Markdown, GFM and Streamlit read are backslash-escaped (CommonMark allows it for any ASCII
    punctuation): no link, image, emphasis, heading, list, table, HTML, entity or `$...$` formula can form.
    Streamlit finds `:red[...]` directives, `:emoji:` and `:material/...:` shortcodes in the source even after
    a backslash on the opening colon, so every colon of a word is escaped, and '/' too; only a lone colon ending a
    word ('site: North') is kept. Bare URLs and e-mail addresses ('http://', 'www.', 'name@host'), which GFM links
    even when escaped, get a word joiner (U+2060, invisible) before each ':', '.' or '@' between a letter or digit
    and more text, so 'www' or 'http' is no longer followed by its '.' or ':'. Line breaks become spaces, so the
    string stays inside the sentence it is put in. Checked in chromium against Streamlit 1.67's renderer.
    """
    text = " ".join(str(value).split())
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    text = re.sub(r"\S+", _colons, text)
    return _AUTOLINK.sub("\u2060\\1", text)
