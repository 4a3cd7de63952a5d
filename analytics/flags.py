"""Per-patient "diminished" and "watch" flags, with evidence (docs/metrics.md "Per patient: diminished response").

Why: a response that fades over cycles is the first sign of secondary non-response. The flag is a prompt to
review the patient's record, never a diagnosis of antibodies. Rules, on the sessions that have a response
(sessions without a follow-up score are skipped), in date order, N = waning_last_n (2):

* reference: the mean of the two best responses among the earlier sessions (the only one when there is one).
  One lucky score among many noisy whole-number pain scores cannot make the reference on its own, as the single
  maximum did (issue 11);
* diminished: >= 3 such sessions (and more than N); the reference of the sessions before the last N reached the
  responder threshold; each of the last N is below waning_fraction_pct (50%) of it AND at least the scale's
  noise short of it in scale points: for pain, the follow-up score is at least PAIN_NOISE_POINTS (2) NRS points
  worse than the reference response would have made it from that session's baseline (baseline x (reference% -
  response%) / 100 >= 2); for TWSTRS, the drop is at least TWSTRS_NOISE_POINTS (8) points under the reference;
* watch: not diminished; the latest response against the reference of all the sessions before it, same rules.

"Below 50%" is strict: exactly half is not flagged; the noise margin is inclusive (2 points is enough). The
rules run separately on each measure, because a percentage and a point count cannot be compared: pain
(response_pct, threshold responder_threshold_pct) and TWSTRS (the drop in points, threshold
twstrs_responder_drop). A patient takes the stronger flag (diminished over watch), pain first when both measures
give the same flag. "The best session" is the best of the reference's sessions (when the best value occurs
more than once, the most recent occurrence).

Factors to check, all read at the latest session with a response on the flag's measure (the session whose
poor response is being explained) against the best session:
* frequent injections: short intervals (< short_interval_days) and boosters (< booster_days) in the whole history;
* dose raised: units >= (1 + dose_raise_pct/100) x the best session's units, same product only (units of
  different products are not comparable): at the latest session, or, when the product was switched since, at the
  last session with the best session's product (a dose raised within that product's run before the switch);
* product switch: any session after the best one, up to that latest one, with another product;
* muscle change: fewer than muscle_keep_fraction of the best session's muscles still injected (NA when
  either session has no muscles recorded);
* duration shortened: the most recent responder session with a recorded wearing-off, against the median of the
  patient's earlier recorded wearing-off durations (at least one): shorter by >= duration_shortened_pct.
  Censored durations are not used: they are lower bounds, not durations;
* treatment break: an interval between sessions longer than TREATMENT_BREAK_DAYS (365) after the best session,
  up to the latest one.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from analytics.sessions import numeric
from analytics.settings import DEFAULT_SETTINGS, Settings

FLAG_COLUMNS = (
    "patient_id", "flag", "measure", "n_responses",
    "best_response", "best_cycle", "best_date",
    "latest_response", "latest_cycle", "latest_date", "last_responses", "ratio",
    "short_intervals", "boosters", "frequent_injections",
    "dose_change_pct", "dose_raised", "product_switch",
    "muscles_kept_fraction", "muscle_change",
    "duration_latest_days", "duration_earlier_median_days", "duration_shortened",
    "n_factors", "evidence",
    # issue 11, added at the end: the robust reference, the noise margin and the new factors
    "reference_response", "reference_ratio", "second_best_response", "second_best_cycle",
    "shortfall_points", "dose_compared_cycle", "longest_interval_days", "treatment_break",
)

# A low pain response must also leave the follow-up score at least this many NRS points worse than the reference
# response would have made it from that session's baseline: about the smallest change patients call important
# on an 11-point NRS (Farrar et al. 2001: ~2 points or 30%; IMMPACT, Dworkin et al. 2008), and above the
# +/-1-point wobble of a whole-number score.
PAIN_NOISE_POINTS = 2.0
# The same for TWSTRS (total 0-87, in points): the lost benefit must itself be a clinically important change,
# 8 points (Dashtipour et al. 2019, CD PROBE; the default responder drop). Half of it (4) would add nothing:
# below 50% of a reference of at least 8 points is already more than 4 points below it.
TWSTRS_NOISE_POINTS = 8.0
# An interval longer than this (days) after the best session is a "treatment break" factor (over 12 months).
TREATMENT_BREAK_DAYS = 365

_NONE, _WATCH, _DIMINISHED = 0, 1, 2
_EPS = 1e-9  # decimal scores (TWSTRS 32.7) compare exactly with the margins


def _measures(derived: pd.DataFrame, settings: Settings) -> list[tuple[str, np.ndarray, np.ndarray, float, float]]:
    """(name, value per session with NaN where not measured, scale points per unit of value, responder threshold,
    noise margin in scale points) for pain and TWSTRS. A pain response in % times baseline/100 is NRS points."""
    pain = numeric(derived, "response_pct")
    pain_scale = numeric(derived, "baseline_pain") / 100.0
    twstrs_drop = -numeric(derived, "twstrs_change")
    return [("pain", pain, pain_scale, settings.responder_threshold_pct, PAIN_NOISE_POINTS),
            ("twstrs", twstrs_drop, np.ones(len(derived)), settings.twstrs_responder_drop, TWSTRS_NOISE_POINTS)]


def _two_best(v: np.ndarray, k: np.ndarray, eligible: np.ndarray, starts: np.ndarray,
              block: np.ndarray) -> dict[str, np.ndarray]:
    """Per patient block, over the eligible sessions: the best and second-best positions (k, -1 if none; the most
    recent on ties) and the reference, the mean of their values (the best alone when it is the only one)."""
    top1 = np.maximum.reduceat(np.where(eligible, v, -np.inf), starts)
    best_k = np.maximum.reduceat(np.where(eligible & (v == top1[block]), k, -1), starts)
    rest = eligible & (k != best_k[block])
    top2 = np.maximum.reduceat(np.where(rest, v, -np.inf), starts)
    second_k = np.maximum.reduceat(np.where(rest & (v == top2[block]), k, -1), starts)
    with np.errstate(invalid="ignore"):
        reference = np.where(second_k >= 0, (top1 + top2) / 2.0, np.where(best_k >= 0, top1, np.nan))
    return {"best_k": best_k, "second_k": second_k, "reference": np.round(reference, 9)}


def _shortfall(v: np.ndarray, scale: np.ndarray, reference: np.ndarray, block: np.ndarray, judged: np.ndarray,
               starts: np.ndarray) -> np.ndarray:
    """Per patient block, the smallest shortfall in scale points of the judged sessions below the reference:
    scale x (reference - value); for pain, how many NRS points the follow-up is worse than the reference response
    would have made it from that session's baseline."""
    with np.errstate(invalid="ignore"):
        gap = np.round(scale * (reference[block] - v), 9)
    return np.minimum.reduceat(np.where(judged, gap, np.inf), starts)


def _evaluate(codes: np.ndarray, n_patients: int, value: np.ndarray, scale: np.ndarray, threshold: float,
              noise: float, settings: Settings) -> dict[str, np.ndarray]:
    """Flag level per patient code for one measure, the positions of the best, second-best and latest sessions,
    the reference and the smallest shortfall below it in scale points."""
    level = np.zeros(n_patients, "int8")
    best_pos = np.full(n_patients, -1, "int64")
    second_pos = np.full(n_patients, -1, "int64")
    latest_pos = np.full(n_patients, -1, "int64")
    count = np.zeros(n_patients, "int64")
    reference = np.full(n_patients, np.nan)
    shortfall = np.full(n_patients, np.nan)
    out = {"level": level, "best_pos": best_pos, "second_pos": second_pos, "latest_pos": latest_pos,
           "count": count, "reference": reference, "shortfall": shortfall}
    sel = np.flatnonzero(~np.isnan(value))
    if len(sel) == 0:
        return out
    c = codes[sel]
    v = value[sel]
    sc = scale[sel]
    first = np.ones(len(sel), bool)
    first[1:] = c[1:] != c[:-1]
    starts = np.flatnonzero(first)
    ends = np.r_[starts[1:], len(sel)] - 1
    block = np.cumsum(first) - 1
    m = ends - starts + 1
    k = np.arange(len(sel)) - starts[block]
    m_row = m[block]
    fraction = settings.waning_fraction_pct / 100.0
    last_n = settings.waning_last_n

    # diminished: the reference of the sessions before the last N; each of the last N below fraction x it
    # (the highest of them is) and at least `noise` scale points short of it (the smallest shortfall is)
    before = k < m_row - last_n
    dim = _two_best(v, k, before, starts, block)
    dim["shortfall"] = _shortfall(v, sc, dim["reference"], block, ~before, starts)
    max_last = np.maximum.reduceat(np.where(before, -np.inf, v), starts)
    with np.errstate(invalid="ignore"):
        diminished = ((m >= max(3, last_n + 1)) & (dim["reference"] >= threshold)
                      & (max_last < fraction * dim["reference"]) & (dim["shortfall"] >= noise - _EPS))

    # watch: the latest alone, against the reference of all the sessions before it
    before_latest = k < m_row - 1
    wat = _two_best(v, k, before_latest, starts, block)
    wat["shortfall"] = _shortfall(v, sc, wat["reference"], block, ~before_latest, starts)
    with np.errstate(invalid="ignore"):
        watch = ((m >= 2) & (wat["reference"] >= threshold) & (v[ends] < fraction * wat["reference"])
                 & (wat["shortfall"] >= noise - _EPS) & ~diminished)

    patient = c[starts]
    lvl = np.where(diminished, _DIMINISHED, np.where(watch, _WATCH, _NONE)).astype("int8")
    level[patient] = lvl
    flagged = lvl > 0
    chosen = {key: np.where(diminished, dim[key], wat[key]) for key in dim}
    f_patient, f_start = patient[flagged], starts[flagged]
    best_pos[f_patient] = sel[f_start + chosen["best_k"][flagged]]
    second_k = chosen["second_k"][flagged]
    second_pos[f_patient] = np.where(second_k >= 0, sel[f_start + np.maximum(second_k, 0)], -1)
    reference[f_patient] = chosen["reference"][flagged]
    shortfall[f_patient] = chosen["shortfall"][flagged]
    latest_pos[patient] = sel[ends]
    count[patient] = m
    return out


def _patient_codes(derived: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0..P-1 in order of first appearance in the table, and the patient_id of each code.

    A derive_sessions table is sorted by patient, so a new code starts wherever the id changes from the row
    before (one comparison of neighbours, not a hash of every id); any other order is factorized."""
    ids = derived["patient_id"]
    if isinstance(ids.array, pd.arrays.ArrowStringArray) and len(ids) > 1 and not ids.hasnans:
        import pyarrow as pa  # noqa: PLC0415 - loaded with pandas' arrow strings already
        import pyarrow.compute as pc  # noqa: PLC0415

        array = ids.array._pa_array.combine_chunks()
        before, after = array.slice(0, len(array) - 1), array.slice(1)
        if pc.all(pc.less_equal(before, after)).as_py():
            changed = np.r_[True, pc.not_equal(before, after).to_numpy(zero_copy_only=False)]
            codes = np.cumsum(changed) - 1
            return codes.astype("int64"), np.asarray(array.filter(pa.array(changed)).to_numpy(zero_copy_only=False),
                                                      dtype=object)
    codes, uniques = pd.factorize(ids)
    return codes.astype("int64"), np.asarray(uniques, dtype=object)


_CORE_KEYS = ("best_pos", "second_pos", "latest_pos", "count", "reference", "shortfall")


def _core(derived: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """One row per flagged patient: code, level, measure, best/second/latest positions, number of responses and
    the reference (value and points)."""
    codes, uniques = _patient_codes(derived)
    n_patients = len(uniques)
    chosen_level = np.zeros(n_patients, "int8")
    rows = []
    for name, value, scale, threshold, noise in _measures(derived, settings):
        result = _evaluate(codes, n_patients, value, scale, threshold, noise, settings)
        take = result["level"] > chosen_level  # stronger flag wins; pain (first) keeps ties
        chosen_level = np.where(take, result["level"], chosen_level)
        rows.append((name, take, result))
    measure = np.full(n_patients, "", dtype=object)
    chosen = {key: np.full(n_patients, np.nan) if key in ("reference", "shortfall") else np.full(n_patients, -1)
              for key in _CORE_KEYS}
    for name, take, result in rows:
        # a later measure only takes over where it was stronger than everything before it
        measure[take] = name
        for key in _CORE_KEYS:
            chosen[key][take] = result[key][take]
    flagged = np.flatnonzero(chosen_level > 0)
    return pd.DataFrame({
        "code": flagged,
        "patient_id": pd.array(uniques[flagged].astype(str) if len(flagged) else [], dtype="str"),
        "level": chosen_level[flagged],
        "measure": measure[flagged],
        "best_pos": chosen["best_pos"][flagged],
        "second_pos": chosen["second_pos"][flagged],
        "latest_pos": chosen["latest_pos"][flagged],
        "n_responses": chosen["count"][flagged],
        "reference": chosen["reference"][flagged],
        "shortfall": chosen["shortfall"][flagged],
    })


def flag_levels(derived: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS) -> pd.DataFrame:
    """Fast form without evidence: patient_id, flag ("diminished"/"watch"), measure, for flagged patients."""
    core = _core(derived, settings)
    return pd.DataFrame({
        "patient_id": core["patient_id"],
        "flag": np.where(core["level"] == _DIMINISHED, "diminished", "watch"),
        "measure": core["measure"].astype("str"),
    })


def patients_by_flag(derived: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS) -> dict[str, list[str]]:
    """Sorted patient_ids per flag, {"diminished": [...], "watch": [...]}: the command-line summary's lists."""
    levels = flag_levels(derived, settings)
    return {flag: sorted(levels.loc[levels["flag"] == flag, "patient_id"].astype(str).tolist())
            for flag in ("diminished", "watch")}


def seen_in(flags: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """The rows of a flags table (each patient judged on their whole history) whose patient has a session in
    `sessions` (a period or a selection): the patients a view of that selection should name."""
    seen = pd.unique(sessions["patient_id"].astype("str"))
    return flags.loc[flags["patient_id"].astype("str").isin(seen)].reset_index(drop=True)


def diminished_patients(derived: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS) -> list[str]:
    """Sorted patient_ids flagged "diminished" (not "watch")."""
    return patients_by_flag(derived, settings)["diminished"]


def _muscle_sets(muscles: pd.Series) -> pd.DataFrame:
    """Explode 'muscle[:units];...' into (row, muscle name) pairs, names lower-cased, units dropped."""
    items = muscles.astype("str").str.split(r"[;|]", regex=True).explode()
    names = items.str.split(":", n=1).str[0].str.strip().str.lower()
    out = pd.DataFrame({"row": names.index, "muscle": names.to_numpy()})
    out = out.loc[out["muscle"].notna() & (out["muscle"] != "")]
    return out.drop_duplicates()


def _muscles_kept(derived: pd.DataFrame, best_pos: np.ndarray, latest_pos: np.ndarray) -> np.ndarray:
    """Share of the best session's muscles still injected in the latest session; NaN where either is unrecorded.

    Each distinct muscle text and each distinct (best, latest) pair is parsed once.
    """
    n = len(best_pos)
    if "muscles" not in derived.columns or n == 0:
        return np.full(n, np.nan)
    column = derived["muscles"]
    codes, uniques = pd.factorize(pd.concat([column.iloc[best_pos], column.iloc[latest_pos]], ignore_index=True))
    if len(uniques) == 0:
        return np.full(n, np.nan)
    sets = _muscle_sets(pd.Series(uniques, dtype="str"))
    size = np.bincount(sets["row"].to_numpy(dtype="int64"), minlength=len(uniques))
    pairs = pd.DataFrame({"b": codes[:n], "l": codes[n:]})
    unique_pairs = pairs.loc[(pairs["b"] >= 0) & (pairs["l"] >= 0)].drop_duplicates().reset_index(drop=True)
    both = (unique_pairs.reset_index().merge(sets.rename(columns={"row": "b"}), on="b")
            .merge(sets.rename(columns={"row": "l"}), on=["l", "muscle"]))
    kept = np.bincount(both["index"].to_numpy(dtype="int64"), minlength=len(unique_pairs))
    n_best = size[unique_pairs["b"].to_numpy()]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where((n_best > 0) & (size[unique_pairs["l"].to_numpy()] > 0), kept / n_best, np.nan)
    unique_pairs["share"] = share
    return pairs.merge(unique_pairs, on=["b", "l"], how="left")["share"].to_numpy(dtype="float64", na_value=np.nan)


def _durations(sub: pd.DataFrame, sub_flag: np.ndarray, n_flagged: int, settings: Settings):
    """Latest recorded wearing-off duration vs the median of the earlier ones, per flagged patient."""
    latest = np.full(n_flagged, np.nan)
    earlier_median = np.full(n_flagged, np.nan)
    duration = numeric(sub, "duration_days")
    event = sub["duration_event"].to_numpy(dtype=bool) & ~np.isnan(duration)
    if not event.any():
        return latest, earlier_median, np.zeros(n_flagged, bool)
    ev_flag = sub_flag[event]
    ev_duration = duration[event]
    is_last = np.ones(len(ev_flag), bool)
    is_last[:-1] = ev_flag[1:] != ev_flag[:-1]
    latest[ev_flag[is_last]] = ev_duration[is_last]
    earlier = pd.Series(ev_duration[~is_last]).groupby(ev_flag[~is_last]).median()
    earlier_median[earlier.index.to_numpy(dtype="int64")] = earlier.to_numpy(dtype="float64")
    pct = settings.duration_shortened_pct
    with np.errstate(invalid="ignore"):
        shortened = (earlier_median - latest) * 100.0 >= pct * earlier_median
    return latest, earlier_median, np.where(np.isnan(latest) | np.isnan(earlier_median), False, shortened)


def _fmt(values) -> pd.Series:
    """Numbers as text with at most one decimal ('70', '12.5'), 'n/a' for missing; vectorised."""
    x = np.round(pd.Series(values).to_numpy(dtype="float64", na_value=np.nan), 1) + 0.0  # + 0.0: no "-0"
    text = pd.Series(x).astype("str").str.replace(r"\.0$", "", regex=True)
    return text.where(~np.isnan(x), "n/a").reset_index(drop=True)


def flag_patients(derived: pd.DataFrame, settings: Settings = DEFAULT_SETTINGS) -> pd.DataFrame:
    """One row per flagged patient of a `derive_sessions` table, with evidence and the factors to check.

    Sorted so the clearest cases come first: diminished before watch, then the lowest latest/reference ratio,
    then more factors, then patient_id. Columns: FLAG_COLUMNS.
    """
    core = _core(derived, settings)
    n = len(core)
    if n == 0:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in FLAG_COLUMNS})
    last_n = settings.waning_last_n
    is_pain = (core["measure"] == "pain").to_numpy()
    best_pos = core["best_pos"].to_numpy()
    second_pos = core["second_pos"].to_numpy()
    latest_pos = core["latest_pos"].to_numpy()
    level = core["level"].to_numpy()
    reference = core["reference"].to_numpy(dtype="float64")
    shortfall = core["shortfall"].to_numpy(dtype="float64")

    measures = {name: value for name, value, _, _, _ in _measures(derived, settings)}
    pain, drop = measures["pain"], measures["twstrs"]

    def value_at(positions: np.ndarray) -> np.ndarray:
        return np.where(is_pain, pain[positions], drop[positions])

    best_value, latest_value = value_at(best_pos), value_at(latest_pos)
    has_second = second_pos >= 0
    second_value = np.where(has_second, value_at(np.maximum(second_pos, 0)), np.nan)
    cycle = numeric(derived, "cycle")
    second_cycle = np.where(has_second, cycle[np.maximum(second_pos, 0)], np.nan)
    session_day = pd.to_datetime(derived["session_date"]).to_numpy().astype("datetime64[D]")

    def date_text(positions: np.ndarray) -> np.ndarray:
        return np.datetime_as_string(session_day[positions], unit="D").astype(object)

    # The flagged patients' sessions, in table order, each tagged with its row in `core`.
    codes, _ = _patient_codes(derived)
    code_to_flag = np.full(codes.max() + 1, -1, "int64")
    code_to_flag[core["code"].to_numpy()] = np.arange(n)
    in_flagged = code_to_flag[codes] >= 0
    sub_pos = np.flatnonzero(in_flagged)
    sub = derived.iloc[sub_pos]
    sub_flag = code_to_flag[codes[sub_pos]]
    after_best = (sub_pos > best_pos[sub_flag]) & (sub_pos <= latest_pos[sub_flag])

    # Frequent injections over the whole history.
    short = np.bincount(sub_flag, weights=sub["short_interval"].to_numpy(dtype=bool), minlength=n).astype("int64")
    boost = np.bincount(sub_flag, weights=sub["booster"].to_numpy(dtype=bool), minlength=n).astype("int64")

    # Dose against the best session, same product only: at the last session with the best session's product
    # up to the latest (the latest itself when it kept the product; else the end of that product's run).
    units = numeric(derived, "total_units")
    if "product" in derived.columns:
        product_codes = pd.factorize(derived["product"])[0]  # -1 = not recorded: never counts as a switch
    else:
        product_codes = np.full(len(derived), -1)
    known = product_codes >= 0
    best_product = product_codes[best_pos[sub_flag]]
    # (sessions without units recorded are skipped: an earlier raise in the same run is then still seen)
    same_product = after_best & (best_product >= 0) & (product_codes[sub_pos] == best_product) \
        & ~np.isnan(units[sub_pos])
    compare_pos = np.full(n, -1, "int64")
    np.maximum.at(compare_pos, sub_flag[same_product], sub_pos[same_product])
    has_compare = compare_pos >= 0
    compare_units = np.where(has_compare, units[np.maximum(compare_pos, 0)], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        dose_change = np.where(has_compare & (units[best_pos] > 0),
                               100.0 * (compare_units - units[best_pos]) / units[best_pos], np.nan)
    dose_raised = np.where(np.isnan(dose_change), False, dose_change >= settings.dose_raise_pct)
    compare_cycle = np.where(has_compare, cycle[np.maximum(compare_pos, 0)], np.nan)
    other_product = known[sub_pos] & (best_product >= 0) & (product_codes[sub_pos] != best_product)
    product_switch = np.bincount(sub_flag, weights=after_best & other_product, minlength=n) > 0

    # Treatment break: the longest interval after the best session, up to the latest.
    interval = numeric(derived, "interval_days")[sub_pos]
    longest = np.full(n, np.nan)
    np.fmax.at(longest, sub_flag[after_best], interval[after_best])
    with np.errstate(invalid="ignore"):
        treatment_break = np.where(np.isnan(longest), False, longest > TREATMENT_BREAK_DAYS)

    kept = _muscles_kept(derived, best_pos, latest_pos)
    muscle_change = np.where(np.isnan(kept), False, kept < settings.muscle_keep_fraction)
    duration_latest, duration_median, shortened = _durations(sub, sub_flag, n, settings)

    frequent = (short > 0) | (boost > 0)
    n_factors = frequent.astype(int) + dose_raised + product_switch + muscle_change + shortened + treatment_break
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = latest_value / best_value
        reference_ratio = latest_value / reference

    # The last responses shown as evidence: the last N for diminished, the latest for watch.
    sub_values = np.where(is_pain[sub_flag], pain[sub_pos], drop[sub_pos])
    has_value = ~np.isnan(sub_values)
    vf, vp, vv = sub_flag[has_value], sub_pos[has_value], sub_values[has_value]
    rank_from_end = pd.Series(vp).groupby(vf).cumcount(ascending=False).to_numpy()
    shown = rank_from_end < np.where(level[vf] == _DIMINISHED, last_n, 1)
    vf, vp, vv = vf[shown], vp[shown], vv[shown]
    text = (_fmt(vv) + pd.Series(np.where(is_pain[vf], "%", " points")) + " (cycle "
            + pd.Series(cycle[vp].astype("int64")).astype("str") + ", " + pd.Series(date_text(vp)) + ")").to_numpy()
    rank = rank_from_end[shown]
    last_text = np.full(n, "", dtype=object)
    for r in range(int(rank.max()) + 1 if len(rank) else 0):  # oldest shown first; a loop over N ranks only
        at = rank == r
        slot = np.full(n, "", dtype=object)
        slot[vf[at]] = text[at]
        sep = np.where((slot != "") & (last_text != ""), "; ", "")
        last_text = slot + sep + last_text

    out = pd.DataFrame({
        "patient_id": core["patient_id"].to_numpy(),
        "flag": np.where(level == _DIMINISHED, "diminished", "watch"),
        "measure": core["measure"].to_numpy(),
        "n_responses": core["n_responses"].to_numpy(),
        "best_response": best_value,
        "best_cycle": cycle[best_pos].astype("int64"),
        "best_date": date_text(best_pos),
        "latest_response": latest_value,
        "latest_cycle": cycle[latest_pos].astype("int64"),
        "latest_date": date_text(latest_pos),
        "last_responses": last_text,
        "ratio": ratio,
        "short_intervals": short,
        "boosters": boost,
        "frequent_injections": frequent,
        "dose_change_pct": pd.array(dose_change, dtype="Float64"),
        "dose_raised": dose_raised.astype(bool),
        "product_switch": product_switch.astype(bool),
        "muscles_kept_fraction": pd.array(kept, dtype="Float64"),
        "muscle_change": muscle_change.astype(bool),
        "duration_latest_days": pd.array(duration_latest, dtype="Float64"),
        "duration_earlier_median_days": pd.array(duration_median, dtype="Float64"),
        "duration_shortened": shortened.astype(bool),
        "n_factors": n_factors.astype("int64"),
        "reference_response": reference,
        "reference_ratio": reference_ratio,
        "second_best_response": pd.array(second_value, dtype="Float64"),
        "second_best_cycle": pd.array(second_cycle, dtype="Float64").astype("Int64"),
        "shortfall_points": shortfall,
        "dose_compared_cycle": pd.array(compare_cycle, dtype="Float64").astype("Int64"),
        "longest_interval_days": pd.array(longest, dtype="Float64").astype("Int64"),
        "treatment_break": treatment_break.astype(bool),
    })
    out["evidence"] = _evidence(out, settings)
    for column in ("patient_id", "flag", "measure", "best_date", "latest_date", "last_responses", "evidence"):
        out[column] = out[column].astype("str")
    return _clearest_first(out)


def _clearest_first(out: pd.DataFrame) -> pd.DataFrame:
    """Diminished before watch, then the lowest latest/reference ratio, then more factors, then patient_id."""
    order = np.lexsort((out["patient_id"].to_numpy(dtype=object).astype(str), -out["n_factors"].to_numpy(),
                        out["reference_ratio"].to_numpy(), (out["flag"] != "diminished").to_numpy()))
    return out.iloc[order].reset_index(drop=True)[list(FLAG_COLUMNS)]


def flag_patients_in_parts(parts: Iterable[pd.DataFrame], settings: Settings = DEFAULT_SETTINGS) -> pd.DataFrame:
    """flag_patients of the sessions given as parts holding whole patients (each patient's every session in one
    part): each patient is judged on their own history only, so the flags of the parts, put in the same order, are
    those of the whole. Why: 10M sessions' columns at once need more memory than a server may give an import."""
    flagged = [table for table in (flag_patients(part, settings) for part in parts) if len(table)]
    if not flagged:
        return flag_patients(pd.DataFrame(columns=["patient_id", "session_date"]), settings)
    return _clearest_first(pd.concat(flagged, ignore_index=True))


def _evidence(out: pd.DataFrame, settings: Settings) -> pd.Series:
    """The plain-words sentence shown beside each flag, built column-wise."""
    out = out.reset_index(drop=True)
    pain = out["measure"] == "pain"
    unit = pd.Series(np.where(pain, "%", " points"))
    what = pd.Series(np.where(pain, "pain response", "TWSTRS drop"))
    best_cycle = out["best_cycle"].astype("str")
    fraction = _fmt([settings.waning_fraction_pct])[0] + "%"
    diminished = out["flag"] == "diminished"
    reference = "the reference " + _fmt(out["reference_response"]) + unit
    smallest = (pd.Series(np.where(diminished, "smallest shortfall ", "shortfall ")) + _fmt(out["shortfall_points"])
                + " points")
    noise = pd.Series(np.where(
        pain,
        f"leaves the pain at least {_fmt([PAIN_NOISE_POINTS])[0]} NRS points worse than the reference would from "
        "the same baseline (" + smallest + ")",
        f"is at least {_fmt([TWSTRS_NOISE_POINTS])[0]} points under it (" + smallest + ")"))
    best = _fmt(out["best_response"]) + unit + " at cycle " + best_cycle + " (" + out["best_date"].astype("str") + ")"
    has_second = out["second_best_response"].notna().to_numpy()
    source = pd.Series(np.where(
        has_second,
        "the mean of the two best earlier responses, " + best + " and "
        + _fmt(out["second_best_response"].astype("float64")) + unit + " at cycle "
        + out["second_best_cycle"].astype("str"),
        "the one earlier response, " + best))
    head = pd.Series(np.where(
        diminished,
        "Diminished (" + what + f"): each of the last {settings.waning_last_n} responses ["
        + out["last_responses"].astype("str") + f"] is below {fraction} of ",
        "Watch (" + what + "): the latest [" + out["last_responses"].astype("str") + f"] is below {fraction} of ",
    ))
    ratio = pd.Series(np.round(out["reference_ratio"].to_numpy(dtype="float64"), 2)).map("{:.2f}".format)
    head = head + reference + " and " + noise + "; reference = " + source + " (latest/reference " + ratio + ")."
    compared = out["dose_compared_cycle"].astype("str")
    before_switch = pd.Series(np.where(out["product_switch"].to_numpy(dtype=bool)
                                       & (out["dose_compared_cycle"].astype("float64").to_numpy()
                                          < out["latest_cycle"].to_numpy(dtype="float64")), " (before the switch)", ""))
    parts = [
        (out["frequent_injections"],
         out["short_intervals"].astype("str") + f" interval(s) under {settings.short_interval_days} days"
         + pd.Series(np.where(out["boosters"].to_numpy(dtype="int64") > 0, ", " + out["boosters"].astype("str")
                              + f" booster(s) under {settings.booster_days} days", ""))),  # never "0 booster(s)"
        (out["dose_raised"], "dose raised " + _fmt(out["dose_change_pct"]) + "% from cycle " + best_cycle
         + " to cycle " + compared + before_switch + " without benefit"),
        (out["product_switch"], "product switched since cycle " + best_cycle),
        (out["muscle_change"], "only " + _fmt(100 * out["muscles_kept_fraction"].astype("float64")) + "% of cycle "
         + best_cycle + "'s muscles still injected"),
        (out["duration_shortened"], "benefit lasted " + _fmt(out["duration_latest_days"]) + " days against an "
         "earlier median of " + _fmt(out["duration_earlier_median_days"]) + " days"),
        (out["treatment_break"], "treatment break of " + _fmt(out["longest_interval_days"].astype("float64"))
         + " days since cycle " + best_cycle),
    ]
    checks = pd.Series([""] * len(out))
    for present, text in parts:
        present = present.to_numpy(dtype=bool)
        sep = np.where(checks == "", "", "; ")
        checks = pd.Series(np.where(present, checks + sep + text, checks))
    tail = pd.Series(np.where(checks == "", " No listed factor found in the record.", " Check: " + checks + "."))
    return head + tail + " A prompt to review, not a diagnosis."
