"""Breakdowns of the session outcomes by product, indication, site, practitioner, dose band and cycle.

One row per group, with the counts beside every rate so a reader can see how much each figure rests on:
sessions, patients; sessions_with_response, responders, responder_rate (Wilson 95% CI); mean_response_pct
(t 95% CI) and median_response_pct; onset_n, median_onset_days; intervals, short_intervals,
short_interval_share (Wilson CI); ae_recorded, ae_sessions, ae_rate (Wilson CI; sessions with adverse events
not recorded are left out of its denominator). With km=True also duration_n and the Kaplan-Meier
median_duration_days with its 95% CI. A missing group value is its own group, "(not recorded)".
Feed the table to analytics.suppression before showing it.

Dose bands: units are not interchangeable across products, so bands are tertiles of total_units within each
product, over the sessions passed in: low = up to the 1/3 quantile, middle = up to the 2/3 quantile, high =
above it (linear-interpolated quantiles; ties can leave a band empty). The label names the product and the
unit range, e.g. "onabotulinumtoxinA low (<= 180 U)". Sessions without units or product are "(not recorded)".
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.kaplan_meier import km_by_group
from analytics.proportions import rate_table, t_ci
from analytics.sessions import NOT_RECORDED, group_labels
from analytics.settings import DEFAULT_SETTINGS, Settings

TOTAL = "All"
DIMENSIONS = ("product", "indication", "site", "practitioner_id", "dose_band", "cycle")
BANDS = ("low", "middle", "high")
KM_COLUMNS = ["duration_n", "median_duration_days", "duration_ci_low", "duration_ci_high"]

COLUMNS = [
    "group_by", "group", "sessions", "patients",
    "sessions_with_response", "responders", "responder_rate", "responder_ci_low", "responder_ci_high",
    "mean_response_pct", "response_ci_low", "response_ci_high", "median_response_pct",
    "onset_n", "median_onset_days",
    "intervals", "short_intervals", "short_interval_share", "short_interval_ci_low", "short_interval_ci_high",
    "ae_recorded", "ae_sessions", "ae_rate", "ae_ci_low", "ae_ci_high",
]


def dose_band_edges(sessions: pd.DataFrame) -> pd.DataFrame:
    """Per product: sessions with units, the tertile edges low_max (1/3 quantile) and middle_max (2/3 quantile)
    and the three band labels."""
    empty = pd.DataFrame(columns=["product", "sessions", "low_max", "middle_max", *BANDS])
    if "total_units" not in sessions or "product" not in sessions:
        return empty
    units = pd.to_numeric(sessions["total_units"], errors="coerce")
    frame = pd.DataFrame({"product": sessions["product"], "units": units}).dropna()
    if frame.empty:
        return empty
    grouped = frame.groupby("product", sort=True)["units"]
    edges = pd.DataFrame({
        "sessions": grouped.size(),
        "low_max": grouped.quantile(1 / 3),
        "middle_max": grouped.quantile(2 / 3),
    }).reset_index()
    low = edges["low_max"].map("{:.4g}".format)  # one call per product, not per session
    mid = edges["middle_max"].map("{:.4g}".format)
    product = edges["product"].astype("str")
    edges["low"] = product + " low (<= " + low + " U)"
    edges["middle"] = product + " middle (" + low + "-" + mid + " U)"
    edges["high"] = product + " high (> " + mid + " U)"
    return edges


def dose_band(sessions: pd.DataFrame) -> pd.DataFrame:
    """Per session: dose_band ('low' / 'middle' / 'high', NA when unknown) and dose_band_label (with product
    and unit range); same index as `sessions`."""
    edges = dose_band_edges(sessions).set_index("product")
    if edges.empty:
        return pd.DataFrame({"dose_band": pd.Series(pd.NA, index=sessions.index, dtype="str"),
                             "dose_band_label": pd.Series(NOT_RECORDED, index=sessions.index, dtype="str")})
    codes, products = pd.factorize(sessions["product"], use_na_sentinel=True)
    per_product = edges.reindex(pd.Index(products, dtype=object))  # one row per distinct product
    safe = np.where(codes >= 0, codes, 0)

    def lookup(column: str, kind: str) -> np.ndarray:
        values = per_product[column].to_numpy(dtype=kind)
        return np.where(codes >= 0, values[safe] if len(values) else np.nan, np.nan if kind == "float64" else "")

    units = pd.to_numeric(sessions["total_units"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    low_max, mid_max = lookup("low_max", "float64"), lookup("middle_max", "float64")
    known = ~np.isnan(units) & ~np.isnan(low_max)
    is_low, is_mid = units <= low_max, units <= mid_max
    band = pd.Series(np.select([is_low, is_mid], ["low", "middle"], default="high"), index=sessions.index,
                     dtype="str").where(known)
    label = np.select([~known, is_low, is_mid], [NOT_RECORDED, lookup("low", object), lookup("middle", object)],
                      default=lookup("high", object))
    return pd.DataFrame({"dose_band": band, "dose_band_label": pd.Series(label, index=sessions.index, dtype="str")})


def _group_keys(sessions: pd.DataFrame, by: str) -> tuple[pd.Series, pd.Series]:
    """Group label (text, '(not recorded)' for missing) and a sort key per session (missing sorts last)."""
    if by == "dose_band":
        bands = dose_band(sessions)
        codes, _ = pd.factorize(sessions["product"], sort=True) if "product" in sessions else (
            np.zeros(len(sessions), dtype=int), None)
        rank = bands["dose_band"].map({b: i for i, b in enumerate(BANDS)}).astype("float64")
        key = pd.Series(codes * 10.0, index=sessions.index) + rank
        known = (bands["dose_band_label"] != NOT_RECORDED) & key.notna()
        return bands["dose_band_label"], key.where(known, np.inf)
    if by not in sessions:
        return group_labels(sessions, by), pd.Series(np.inf, index=sessions.index)
    values = sessions[by]
    if by == "cycle" or pd.api.types.is_numeric_dtype(values.dtype):
        numbers = pd.to_numeric(values, errors="coerce").astype("float64")
        whole = bool((numbers.dropna() % 1 == 0).all())
        label = (numbers.astype("Int64") if whole else numbers).astype("str").where(numbers.notna(), NOT_RECORDED)
        return label, numbers.fillna(np.inf)
    label = group_labels(sessions, by)
    return label, label.where(label != NOT_RECORDED, "\uffff")


def _bool(sessions: pd.DataFrame, column: str) -> pd.Series:
    """A nullable boolean column, all-NA when absent."""
    if column not in sessions:
        return pd.Series(pd.NA, index=sessions.index, dtype="boolean")
    return sessions[column].astype("boolean")


def _numeric(sessions: pd.DataFrame, column: str) -> pd.Series:
    """A float column with NaN for missing, all-NaN when absent."""
    if column not in sessions:
        return pd.Series(np.nan, index=sessions.index, dtype="float64")
    return pd.to_numeric(sessions[column], errors="coerce").astype("float64")


def _session_frame(sessions: pd.DataFrame, group: pd.Series, key: pd.Series) -> pd.DataFrame:
    """The per-session indicators every group figure is summed or summarised from."""
    has_response = _bool(sessions, "has_response").fillna(False)
    responder = _bool(sessions, "responder").fillna(False) & has_response
    response = _numeric(sessions, "response_pct")
    has_interval = sessions["interval_days"].notna() if "interval_days" in sessions else pd.Series(
        False, index=sessions.index)
    short = _bool(sessions, "short_interval").fillna(False) & has_interval
    ae = _bool(sessions, "any_adverse_event")
    return pd.DataFrame({
        "group": group, "key": key, "patient_id": sessions["patient_id"],
        "has_response": has_response.astype("int64"), "responder": responder.astype("int64"),
        "response": response, "onset": _numeric(sessions, "onset_days"),
        "has_interval": has_interval.astype("int64"), "short": short.astype("int64"),
        "ae_recorded": ae.notna().astype("int64"), "ae": ae.fillna(False).astype("int64"),
    })


def _summarise(frame: pd.DataFrame, group_cols: list[str]) -> pd.DataFrame:
    """One groupby pass: counts, sums, mean/sd/median of the response, median onset."""
    return frame.groupby(group_cols, sort=False, dropna=False).agg(
        sessions=("patient_id", "size"), patients=("patient_id", "nunique"),
        sessions_with_response=("has_response", "sum"), responders=("responder", "sum"),
        response_n=("response", "count"), mean_response_pct=("response", "mean"),
        response_sd=("response", "std"), median_response_pct=("response", "median"),
        onset_n=("onset", "count"), median_onset_days=("onset", "median"),
        intervals=("has_interval", "sum"), short_intervals=("short", "sum"),
        ae_recorded=("ae_recorded", "sum"), ae_sessions=("ae", "sum"),
    ).reset_index()


def _add_rates(table: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Rates with Wilson intervals and the t interval of the mean response, beside their counts."""
    for prefix, rate, x, n in (("responder_", "rate", "responders", "sessions_with_response"),
                               ("short_interval_", "share", "short_intervals", "intervals"),
                               ("ae_", "rate", "ae_sessions", "ae_recorded")):
        rates = rate_table(table[x], table[n], alpha, prefix, rate)
        table[list(rates.columns)] = rates
    low, high = t_ci(table["mean_response_pct"], table["response_sd"], table["response_n"], alpha)
    table["response_ci_low"] = np.atleast_1d(low)
    table["response_ci_high"] = np.atleast_1d(high)
    return table


def _km_columns(sessions: pd.DataFrame, group: pd.Series, settings: Settings, total: bool) -> pd.DataFrame:
    """KM median benefit duration per group (and for the total), from analytics.kaplan_meier.km_by_group."""
    per_group = km_by_group(sessions.assign(_group=group.to_numpy()), "_group", settings).rename(
        columns={"_group": "group"})
    if total:
        whole = km_by_group(sessions, None, settings).assign(group=TOTAL)
        per_group = pd.concat([per_group, whole], ignore_index=True)
    return per_group.rename(columns={"n": "duration_n", "median": "median_duration_days",
                                     "median_ci_low": "duration_ci_low", "median_ci_high": "duration_ci_high"})[
        ["group", *KM_COLUMNS]]


def breakdown(sessions: pd.DataFrame, by: str, settings: Settings = DEFAULT_SETTINGS, alpha: float = 0.05,
              total: bool = False, km: bool = False) -> pd.DataFrame:
    """One row per value of `by` (a column, or 'dose_band'), in natural order, '(not recorded)' last.

    total=True appends an 'All' row (is_total True) over every session, for tables that show a total.
    km=True adds the Kaplan-Meier median benefit duration with its 95% CI per group (duration_n responder
    sessions with a duration; median NA when not reached), via analytics.kaplan_meier.km_by_group.
    The responder threshold is already in the derived `responder` column.
    """
    group, key = _group_keys(sessions, by)
    frame = _session_frame(sessions, group, key)
    table = _summarise(frame, ["group", "key"]).sort_values("key", kind="stable").drop(columns="key")
    if total:
        whole = _summarise(frame.assign(group=TOTAL), ["group"])
        table = pd.concat([table.assign(is_total=False), whole.assign(is_total=True)], ignore_index=True)
    table = _add_rates(table.reset_index(drop=True), alpha)
    table.insert(0, "group_by", by)
    counts = ["sessions", "patients", "sessions_with_response", "responders", "onset_n", "intervals",
              "short_intervals", "ae_recorded", "ae_sessions"]
    table = table.astype({c: "int64" for c in counts})
    columns = list(COLUMNS)
    if km:
        km_table = _km_columns(sessions, group, settings, total)
        table = table.merge(km_table, on="group", how="left")
        table["duration_n"] = table["duration_n"].fillna(0).astype("int64")
        for column in KM_COLUMNS[1:]:
            table[column] = pd.to_numeric(table[column], errors="coerce").astype("float64")
        columns += KM_COLUMNS
    return table[columns + (["is_total"] if total else [])]

