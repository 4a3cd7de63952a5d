"""Seeded synthetic botulinum-toxin injection sessions: the committed samples and the benchmark file.

    python data/sample/generate.py                      # the committed samples, into data/sample/
    python data/sample/generate.py --patients 200000 --out bench/data --big-only

Everything is drawn from one seed, so the same arguments give the same bytes. The session table is built
with numpy on a patients x cycles grid (no per-patient Python loops), so 200,000 patients take seconds.

The model, in short (the clinical figures and their sources are in docs/metrics.md):
- patients: a site, a usual practitioner, an indication, a product, a dose level, a usual response, a usual
  benefit duration, a muscle pattern; some started before the data (they carry a lifetime cycle_number);
- cycles: re-injection about every 14 weeks, a few short intervals and boosters, drop-outs;
- outcomes: pain NRS before and at a review 2-5 weeks later, onset, peak, wearing off (recorded only when the
  benefit ended before the next injection and the clinic wrote it down), PGIC, TWSTRS for cervical dystonia,
  adverse events at published rates;
- faders (about 5% of patients with 5+ sessions): the response falls cycle after cycle, the dose is raised,
  intervals and benefit shorten, some switch product or muscles. They are the ground truth of the
  "diminished response" flag of docs/metrics.md.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import re
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from analytics import schema  # noqa: E402

DEFAULT_SEED = 20260930
DEFAULT_PATIENTS = 500
START = np.datetime64("2023-10-01")
END = np.datetime64("2026-09-30")
SPAN = int((END - START).astype(int))  # 1095 days
MAX_CYCLES = 12

SITES = ("North", "Central", "South")
SITE_SHARES = (0.40, 0.35, 0.25)
SITE_PRACTITIONERS = ((1, 2, 3, 4), (5, 6, 7), (8, 9, 10))  # PR01..PR10
HALF_STEP_PRACTITIONERS = (3, 8)  # dilute so that 2.5 U steps are usual: totals like 232.5 U

INDICATIONS = ("cervical_dystonia", "neck_pain", "tension_headache", "upper_back_pain", "arm_pain", "other")
INDICATION_SHARES = (0.40, 0.32, 0.10, 0.08, 0.06, 0.04)

PRODUCTS = schema.PRODUCTS[:4]
PRODUCT_SHARES = (0.56, 0.24, 0.15, 0.05)
# Per product: median dose, log-sd between patients, label range (low, high), rounding step of a total.
DOSE_MEDIAN = np.array([230.0, 500.0, 180.0, 5000.0])
DOSE_SIGMA = np.array([0.28, 0.32, 0.25, 0.35])
DOSE_LOW = np.array([50.0, 250.0, 50.0, 2500.0])
DOSE_HIGH = np.array([400.0, 1000.0, 300.0, 10000.0])
DOSE_STEP = np.array([5.0, 10.0, 5.0, 250.0])

MUSCLES = ("sternocleidomastoid", "splenius_capitis", "trapezius", "levator_scapulae", "scalenes",
           "semispinalis_capitis")
MUSCLE_WEIGHTS = np.array([1.0, 1.3, 1.2, 0.9, 0.5, 0.8])

ADVERSE_EVENTS = ("injection_site_pain", "neck_weakness", "dysphagia", "flu_like", "headache", "dry_mouth",
                  "other")

FADER_SHARE = 0.05
FADER_MIN_SESSIONS = 5
FADER_END_MARGIN = 60  # faders' last session is at least this many days before the end of the data
NO_REVIEW_SHARE = 0.10
WEAR_OFF_UNRECORDED_SHARE = 0.15
CYCLE_NUMBER_SHARE = 0.30

OUTPUT_COLUMNS = [c.name for c in schema.SESSION_COLUMNS]


# ----------------------------------------------------------------------------------------------------------
# Random streams
# ----------------------------------------------------------------------------------------------------------

STREAMS = ("patients", "schedule", "faders", "doses", "muscles", "outcomes", "events", "assessments", "messy")


def make_rngs(seed: int) -> dict[str, np.random.Generator]:
    """One independent generator per part of the model, all from one seed."""
    children = np.random.SeedSequence(seed).spawn(len(STREAMS))
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, children)}


def round_to(x: np.ndarray, step: np.ndarray | float) -> np.ndarray:
    """Round half up to a multiple of step (numpy's round is half-to-even)."""
    return np.floor(np.asarray(x) / step + 0.5) * step


def round_int(x: np.ndarray) -> np.ndarray:
    """Round half up to an integer."""
    return np.floor(np.asarray(x) + 0.5)


# ----------------------------------------------------------------------------------------------------------
# Patients
# ----------------------------------------------------------------------------------------------------------

@dataclass
class Patients:
    """Per-patient attributes, one numpy array each (index = patient number - 1)."""

    n: int
    site: np.ndarray
    practitioner: np.ndarray
    indication: np.ndarray
    product: np.ndarray
    dose_z: np.ndarray
    response: np.ndarray
    pain_level: np.ndarray
    twstrs_level: np.ndarray
    duration: np.ndarray
    interval_shift: np.ndarray
    prevalent: np.ndarray
    prior_cycles: np.ndarray
    counts_cycles: np.ndarray


def make_patients(rng: np.random.Generator, n: int) -> Patients:
    """Draw who the patients are: where they are treated, for what, with what, and how they usually respond."""
    site = rng.choice(len(SITES), size=n, p=SITE_SHARES)
    practitioner = pick_practitioner(rng, site)
    responder = rng.random(n) >= 0.10  # about 10% never respond well
    response = np.where(responder, np.clip(rng.normal(0.60, 0.09, n), 0.40, 0.85), rng.uniform(-0.05, 0.15, n))
    prevalent = rng.random(n) < 0.40  # started before the data
    counts_cycles = prevalent & (rng.random(n) < CYCLE_NUMBER_SHARE / 0.40)
    return Patients(
        n=n,
        site=site,
        practitioner=practitioner,
        indication=rng.choice(len(INDICATIONS), size=n, p=INDICATION_SHARES),
        product=rng.choice(len(PRODUCTS), size=n, p=PRODUCT_SHARES),
        dose_z=np.clip(rng.normal(0.0, 1.0, n), -2.5, 2.5),
        response=response,
        pain_level=rng.uniform(5.0, 8.3, n),
        twstrs_level=rng.uniform(32.0, 48.0, n),
        duration=rng.normal(105.0, 10.0, n),
        interval_shift=rng.normal(0.0, 5.0, n),
        prevalent=prevalent,
        prior_cycles=rng.geometric(0.15, n),
        counts_cycles=counts_cycles,
    )


def pick_practitioner(rng: np.random.Generator, site: np.ndarray) -> np.ndarray:
    """A practitioner number (1-10) working at each given site, uniformly."""
    first = np.array([p[0] for p in SITE_PRACTITIONERS])
    size = np.array([len(p) for p in SITE_PRACTITIONERS])
    return first[site] + np.floor(rng.random(site.shape) * size[site]).astype(int)


# ----------------------------------------------------------------------------------------------------------
# Cycles: when each patient is injected
# ----------------------------------------------------------------------------------------------------------

def draw_intervals(rng: np.random.Generator, pat: Patients) -> np.ndarray:
    """Days between consecutive sessions (patients x MAX_CYCLES-1): ~14 weeks, right-skewed, a few boosters."""
    shape = (pat.n, MAX_CYCLES - 1)
    gaps = 64.0 + rng.gamma(10.0, 3.6, shape) + pat.interval_shift[:, None]
    booster = rng.random(shape) < 0.014
    gaps = np.where(booster, rng.integers(14, 28, shape), gaps)
    return np.maximum(round_int(gaps), 14).astype(int)


def session_days(first: np.ndarray, gaps: np.ndarray) -> np.ndarray:
    """Day of each session since START (patients x MAX_CYCLES), from the first day and the gaps."""
    return np.concatenate([first[:, None], first[:, None] + np.cumsum(gaps, axis=1)], axis=1)


def make_schedule(rng: np.random.Generator, pat: Patients) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First day, gaps and the planned number of cycles (drop-outs stop early)."""
    first = np.where(pat.prevalent, rng.integers(0, 100, pat.n), rng.integers(0, SPAN + 1, pat.n))
    gaps = draw_intervals(rng, pat)
    planned = np.minimum(1 + rng.geometric(0.075, pat.n), MAX_CYCLES)
    return first, gaps, planned


def valid_cells(days: np.ndarray, planned: np.ndarray, last_day: np.ndarray | int) -> np.ndarray:
    """Which cycles happen: within the planned count and on or before last_day (a prefix of each row)."""
    k = np.arange(MAX_CYCLES)[None, :]
    return (k < planned[:, None]) & (days <= np.asarray(last_day).reshape(-1, 1))


# ----------------------------------------------------------------------------------------------------------
# Faders
# ----------------------------------------------------------------------------------------------------------

@dataclass
class Faders:
    """Which patients fade and from which session (0-based index in the data), plus what else changes."""

    mask: np.ndarray
    start: np.ndarray  # index of the first faded session; large for non-faders
    switch_product: np.ndarray
    change_muscles: np.ndarray


def choose_faders(rng: np.random.Generator, pat: Patients, first, gaps, planned) -> Faders:
    """Pick ~5% of patients among those with 5+ sessions; fading starts 3 or 4 sessions before their last."""
    last_day = SPAN - FADER_END_MARGIN
    count = valid_cells(session_days(first, gaps), planned, last_day).sum(axis=1)
    eligible = np.flatnonzero(count >= FADER_MIN_SESSIONS)
    n_faders = min(len(eligible), int(round(FADER_SHARE * pat.n)))
    chosen = np.sort(rng.choice(eligible, size=n_faders, replace=False))
    mask = np.zeros(pat.n, dtype=bool)
    mask[chosen] = True
    tail = np.where(count >= 6, rng.integers(3, 5, pat.n), 3)
    start = np.where(mask, count - tail, 10 * MAX_CYCLES)
    return Faders(mask=mask, start=start,
                  switch_product=mask & (rng.random(pat.n) < 0.35),
                  change_muscles=mask & (rng.random(pat.n) < 0.40))


def shorten_fader_gaps(rng: np.random.Generator, gaps: np.ndarray, faders: Faders) -> np.ndarray:
    """Faders come back sooner once the effect wanes: gaps after the fade start shrink by 15-30%."""
    k_next = np.arange(1, MAX_CYCLES)[None, :]  # gap j leads to session j+1
    fading = faders.mask[:, None] & (k_next > faders.start[:, None])
    factor = rng.uniform(0.70, 0.85, gaps.shape)
    return np.where(fading, np.maximum(round_int(gaps * factor), 14), gaps).astype(int)


# ----------------------------------------------------------------------------------------------------------
# Sessions table (one row per session, internal columns start with an underscore)
# ----------------------------------------------------------------------------------------------------------

def flatten_sessions(pat: Patients, first, gaps, planned, faders: Faders) -> tuple[pd.DataFrame, np.ndarray]:
    """One row per session that happens, in date order, and the number of sessions per patient."""
    days = session_days(first, gaps)
    last_day = np.where(faders.mask, SPAN - FADER_END_MARGIN, SPAN)
    valid = valid_cells(days, planned, last_day)
    pidx, k = np.nonzero(valid)
    count = valid.sum(axis=1)
    next_valid = np.concatenate([valid[:, 1:], np.zeros((pat.n, 1), dtype=bool)], axis=1)
    next_day = np.concatenate([days[:, 1:], np.zeros((pat.n, 1), dtype=days.dtype)], axis=1)
    gap_next = np.where(next_valid[pidx, k], next_day[pidx, k] - days[pidx, k], -1)
    order = np.lexsort((pidx, days[pidx, k]))  # by date, then patient: row i is session S{i+1}
    pidx, k, gap_next = pidx[order], k[order], gap_next[order]
    ses = pd.DataFrame({
        "_p": pidx,
        "_k": k,
        "_day": days[pidx, k],
        "_gap_next": gap_next,  # -1 for a patient's latest session
        "_fade": np.where(faders.mask[pidx], k - faders.start[pidx], -10 * MAX_CYCLES),
    })
    return ses, count


def add_people(rng: np.random.Generator, ses: pd.DataFrame, pat: Patients) -> None:
    """Site, indication and the practitioner of each session (the usual one, 15% a colleague at the site)."""
    p = ses["_p"].to_numpy()
    site = pat.site[p]
    colleague = pick_practitioner(rng, site)
    ses["_site"] = site
    ses["_practitioner"] = np.where(rng.random(len(p)) < 0.15, colleague, pat.practitioner[p])
    ses["_indication"] = pat.indication[p]


# ----------------------------------------------------------------------------------------------------------
# Products and doses
# ----------------------------------------------------------------------------------------------------------

def dose_walk(rng: np.random.Generator, n: int) -> np.ndarray:
    """Dose multiplier per cycle (patients x MAX_CYCLES): mostly kept, sometimes adjusted by -10% to +15%."""
    step = np.where(rng.random((n, MAX_CYCLES)) < 0.15, rng.uniform(0.90, 1.15, (n, MAX_CYCLES)), 1.0)
    step[:, 0] = 1.0
    return np.cumprod(step, axis=1)


def other_product(rng: np.random.Generator, product: np.ndarray) -> np.ndarray:
    """A product different from the given one, drawn by market share."""
    candidate = rng.choice(len(PRODUCTS), size=product.shape, p=PRODUCT_SHARES)
    shifted = (product + rng.integers(1, len(PRODUCTS), product.shape)) % len(PRODUCTS)
    return np.where(candidate == product, shifted, candidate)


def add_products_and_doses(rng: np.random.Generator, ses: pd.DataFrame, pat: Patients, faders: Faders,
                           count: np.ndarray) -> None:
    """Product per session (a few switches) and total units, rounded as clinics do; faders' doses go up."""
    n = pat.n
    p, k = ses["_p"].to_numpy(), ses["_k"].to_numpy()
    switched_to = other_product(rng, pat.product)
    switch_at = np.where(rng.random(n) < 0.04, rng.integers(1, MAX_CYCLES, n), 10 * MAX_CYCLES)
    switch_at = np.where(faders.switch_product, count - 1, np.where(faders.mask, 10 * MAX_CYCLES, switch_at))
    product = np.where(k >= switch_at[p], switched_to[p], pat.product[p])

    walk = dose_walk(rng, n)[p, k]
    fade = ses["_fade"].to_numpy()
    is_fader = faders.mask[p]
    raise_by = np.select([fade >= 2, fade == 1], [1.45, 1.25], 1.0)
    base = DOSE_MEDIAN[product] * np.exp(DOSE_SIGMA[product] * pat.dose_z[p])
    base = np.clip(base, DOSE_LOW[product], DOSE_HIGH[product])
    fader_base = np.clip(base, DOSE_LOW[product], DOSE_HIGH[product] / 1.5)
    dose = np.where(is_fader, fader_base * raise_by, np.clip(base * walk, DOSE_LOW[product], DOSE_HIGH[product]))

    half = np.isin(ses["_practitioner"].to_numpy(), HALF_STEP_PRACTITIONERS) & np.isin(product, (0, 2))
    step = np.where(half, 2.5, DOSE_STEP[product])  # onabotulinumtoxinA (0) and incobotulinumtoxinA (2)
    ses["_product"] = product
    ses["_step"] = step
    ses["_units"] = np.clip(round_to(dose, step), DOSE_LOW[product], DOSE_HIGH[product])


# ----------------------------------------------------------------------------------------------------------
# Muscles
# ----------------------------------------------------------------------------------------------------------

def muscle_pattern(rng: np.random.Generator, n: int) -> np.ndarray:
    """Share of the dose per muscle (n x 6): 2-4 muscles drawn by how often they are injected, 0 elsewhere."""
    keys = np.log(MUSCLE_WEIGHTS)[None, :] + rng.gumbel(size=(n, len(MUSCLES)))
    rank = np.argsort(np.argsort(-keys, axis=1), axis=1)
    how_many = rng.choice([2, 3, 4], size=n, p=[0.25, 0.45, 0.30])
    chosen = rank < how_many[:, None]
    weight = np.where(chosen, rng.gamma(6.0, 1.0, (n, len(MUSCLES))) * MUSCLE_WEIGHTS, 0.0)
    return weight / weight.sum(axis=1, keepdims=True)


def split_units(total: np.ndarray, share: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Units per muscle: each a multiple of step (at least one step), the largest takes the remainder."""
    chosen = share > 0
    units = np.where(chosen, np.maximum(np.floor(total[:, None] * share / step[:, None]) * step[:, None],
                                        step[:, None]), 0.0)
    largest = np.argmax(share, axis=1)
    rows = np.arange(len(total))
    others = units.sum(axis=1) - units[rows, largest]
    units[rows, largest] = total - others
    return units


def add_muscles(rng: np.random.Generator, ses: pd.DataFrame, pat: Patients, faders: Faders) -> None:
    """Muscles per session: a stable pattern per patient, changed once for some (and for some faders)."""
    n = pat.n
    p, k = ses["_p"].to_numpy(), ses["_k"].to_numpy()
    first, second = muscle_pattern(rng, n), muscle_pattern(rng, n)
    change_at = np.where(rng.random(n) < 0.12, rng.integers(1, MAX_CYCLES, n), 10 * MAX_CYCLES)
    change_at = np.where(faders.change_muscles, faders.start + 1, np.where(faders.mask, 10 * MAX_CYCLES, change_at))
    share = np.where((k >= change_at[p])[:, None], second[p], first[p])
    units = split_units(ses["_units"].to_numpy(), share, ses["_step"].to_numpy())
    for j in range(len(MUSCLES)):
        ses[f"_mu{j}"] = units[:, j]


# ----------------------------------------------------------------------------------------------------------
# Outcomes
# ----------------------------------------------------------------------------------------------------------

def latent_response(rng: np.random.Generator, ses: pd.DataFrame, pat: Patients, faders: Faders) -> np.ndarray:
    """True pain reduction (fraction) per session; faders fall to 50-65%, then 0-25% of their usual."""
    p, fade = ses["_p"].to_numpy(), ses["_fade"].to_numpy()
    m = len(p)
    usual = pat.response[p]
    fader_usual = 0.58 + 0.14 * ((pat.response[p] - 0.40) / 0.45).clip(0, 1)
    factor = np.select([fade >= 1, fade == 0], [rng.uniform(0.0, 0.25, m), rng.uniform(0.50, 0.65, m)], 1.0)
    noise = rng.normal(0.0, np.where(faders.mask[p] | (usual < 0.3), 0.04, 0.07))  # non-responders stay poor
    r = np.where(faders.mask[p], fader_usual * factor, usual) + noise
    return np.clip(r, -0.30, 0.95)


def add_pain(rng: np.random.Generator, ses: pd.DataFrame, pat: Patients, faders: Faders, as_of: int) -> None:
    """Baseline pain, the review (days, pain) and whether it happened: ~10% missed, none yet when too recent."""
    p = ses["_p"].to_numpy()
    m = len(p)
    level = np.where(faders.mask[p], np.maximum(pat.pain_level[p], 6.0), pat.pain_level[p])
    baseline = np.clip(round_int(level + rng.normal(0.0, 0.6, m)), 2, 10)
    r = latent_response(rng, ses, pat, faders)
    followup = np.clip(round_int(baseline * (1.0 - r)), 0, 10)
    review_days = np.minimum(14 + round_int(rng.gamma(3.0, 3.5, m)), 42)
    gap = ses["_gap_next"].to_numpy()
    early = (gap > 0) & (review_days >= gap)  # a booster is decided at the review, so the review comes first
    review_days = np.where(early, np.maximum(gap - 1 - rng.integers(0, 4, m), 7), review_days)
    watched = faders.mask[p] & (ses["_fade"].to_numpy() >= 1)  # faders are reviewed closely
    reviewed = (watched | (rng.random(m) >= NO_REVIEW_SHARE)) & (ses["_day"].to_numpy() + review_days <= as_of)
    ses["_r"] = r
    ses["baseline_pain"] = baseline
    ses["_reviewed"] = reviewed
    ses["followup_pain"] = np.where(reviewed, followup, np.nan)
    ses["followup_days"] = np.where(reviewed, review_days, np.nan)
    ses["_response"] = np.where(reviewed, (baseline - followup) / baseline, r)


def add_timing(rng: np.random.Generator, ses: pd.DataFrame, pat: Patients, as_of: int) -> None:
    """Onset, peak and wearing off; wearing off only when it came before the next injection (or the as-of date)."""
    p, fade = ses["_p"].to_numpy(), ses["_fade"].to_numpy()
    m = len(p)
    onset = np.clip(1 + round_int(rng.gamma(1.6, 1.3, m)), 1, 10)
    peak = np.clip(round_int(14.0 * np.exp(rng.normal(0.0, 0.3, m))), 7, 28)
    peak = np.maximum(peak, onset + 3)
    shrink = np.select([fade >= 2, fade == 1, fade == 0], [0.50, 0.60, 0.80], 1.0)
    duration = np.clip(round_int((pat.duration[p] + rng.normal(0.0, 12.0, m)) * shrink), 40, 200)
    benefit = ses["_response"].to_numpy() >= 0.30
    reported = ses["_reviewed"].to_numpy() & benefit
    gap = ses["_gap_next"].to_numpy()
    horizon = np.where(gap > 0, gap, as_of - ses["_day"].to_numpy())
    worn_off = benefit & (duration < horizon) & (rng.random(m) >= WEAR_OFF_UNRECORDED_SHARE)
    ses["_onset"], ses["_peak"], ses["_duration"] = onset, peak, duration
    ses["onset_days"] = np.where(reported, onset, np.nan)
    ses["peak_days"] = np.where(reported, peak, np.nan)
    ses["wearing_off_days"] = np.where(worn_off, duration, np.nan)


def add_pgic_and_twstrs(rng: np.random.Generator, ses: pd.DataFrame, pat: Patients) -> None:
    """PGIC from the measured response; TWSTRS (0.5 steps) for cervical dystonia only."""
    p = ses["_p"].to_numpy()
    m = len(p)
    reviewed = ses["_reviewed"].to_numpy()
    response = ses["_response"].to_numpy()
    pgic = np.clip(round_int(4.0 - 4.0 * response + rng.normal(0.0, 0.45, m)), 1, 7)
    ses["pgic"] = np.where(reviewed, pgic, np.nan)
    dystonia = ses["_indication"].to_numpy() == INDICATIONS.index("cervical_dystonia")
    before = np.clip(round_to(pat.twstrs_level[p] + rng.normal(0.0, 2.0, m), 0.5), 15, 80)
    drop = ses["_r"].to_numpy() * 20.0 + rng.normal(0.0, 1.0, m)
    after = np.clip(round_to(before - drop, 0.5), 0, 87)
    ses["baseline_twstrs"] = np.where(dystonia, before, np.nan)
    ses["followup_twstrs"] = np.where(dystonia & reviewed, after, np.nan)


def add_adverse_events(rng: np.random.Generator, ses: pd.DataFrame) -> None:
    """Adverse events per session at published rates: dose-dependent weakness and dysphagia, more with abo."""
    m = len(ses)
    product = ses["_product"].to_numpy()
    relative_dose = np.clip(ses["_units"].to_numpy() / DOSE_MEDIAN[product], 0.5, 2.0) ** 0.7
    rates = np.column_stack([
        np.full(m, 0.08),                                                   # injection_site_pain
        0.055 * relative_dose,                                              # neck_weakness
        np.where(product == 1, 0.09, 0.035) * relative_dose,                # dysphagia
        np.full(m, 0.02),                                                   # flu_like
        np.full(m, 0.025),                                                  # headache
        np.where(product == 3, 0.20, 0.006),                                # dry_mouth
        np.full(m, 0.005),                                                  # other
    ])
    happened = rng.random((m, len(ADVERSE_EVENTS))) < rates
    for j in range(len(ADVERSE_EVENTS)):
        ses[f"_ev{j}"] = happened[:, j]


# ----------------------------------------------------------------------------------------------------------
# Assembling and formatting
# ----------------------------------------------------------------------------------------------------------

def build_sessions(n_patients: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The internal session table (numbers; one row per session, in date order) and the faded-patient truth."""
    rngs = make_rngs(seed)
    pat = make_patients(rngs["patients"], n_patients)
    first, gaps, planned = make_schedule(rngs["schedule"], pat)
    faders = choose_faders(rngs["faders"], pat, first, gaps, planned)
    gaps = shorten_fader_gaps(rngs["faders"], gaps, faders)
    ses, count = flatten_sessions(pat, first, gaps, planned, faders)
    as_of = int(ses["_day"].max())
    add_people(rngs["patients"], ses, pat)
    add_products_and_doses(rngs["doses"], ses, pat, faders, count)
    add_muscles(rngs["muscles"], ses, pat, faders)
    add_pain(rngs["outcomes"], ses, pat, faders, as_of)
    add_timing(rngs["outcomes"], ses, pat, as_of)
    add_pgic_and_twstrs(rngs["outcomes"], ses, pat)
    add_adverse_events(rngs["events"], ses)
    p, k = ses["_p"].to_numpy(), ses["_k"].to_numpy()
    ses["cycle_number"] = np.where(pat.counts_cycles[p], pat.prior_cycles[p] + k + 1, np.nan)
    ses.attrs["patients"] = n_patients
    return ses, faded_truth(ses)


def codes(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Pseudonymous codes such as 'P00001' from integers, vectorised in Arrow."""
    digits = pc.utf8_lpad(pa.array(np.asarray(numbers), pa.int64()).cast(pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def patient_codes(ses: pd.DataFrame, rows: np.ndarray | slice = slice(None)) -> pa.Array:
    """patient_id of the given rows: 'P' and the patient number, 5 digits or more."""
    n = ses.attrs["patients"]
    return codes("P", ses["_p"].to_numpy()[rows] + 1, max(5, len(str(n))))


def session_codes(ses: pd.DataFrame, rows: np.ndarray | slice = slice(None)) -> pa.Array:
    """session_id of the given rows: 'S' and the row number in date order, 6 digits or more."""
    return codes("S", np.arange(1, len(ses) + 1)[rows], max(6, len(str(len(ses)))))


def session_dates(days: np.ndarray) -> pa.Array:
    """ISO dates (text) from days since START."""
    return pa.array(START + np.asarray(days).astype("timedelta64[D]")).cast(pa.string())


def faded_truth(ses: pd.DataFrame) -> pd.DataFrame:
    """patient_id, the cycle where fading started (as metrics.md counts cycles), its session id and date."""
    rows = np.flatnonzero(ses["_fade"].to_numpy() == 0)
    rows = rows[np.argsort(ses["_p"].to_numpy()[rows], kind="stable")]
    start = ses.iloc[rows]
    cycle = start["cycle_number"].where(start["cycle_number"].notna(), start["_k"] + 1).astype(int)
    return pd.DataFrame({
        "patient_id": patient_codes(ses, rows).to_pylist(),
        "fade_start_cycle": cycle.to_numpy(),
        "fade_start_session_id": session_codes(ses, rows).to_pylist(),
        "fade_start_date": session_dates(start["_day"].to_numpy()).to_pylist(),
    })


def number_text(values: np.ndarray, integer: bool = False) -> pa.Array:
    """Numbers as text without a trailing '.0' ('232.5', '200'); NaN as ''."""
    values = np.asarray(values, dtype=float)
    arr = pa.array(values, mask=np.isnan(values))
    if integer:
        arr = arr.cast(pa.int64())
    return arr.cast(pa.string()).fill_null("")


def joined_list(flags: np.ndarray, names: tuple[str, ...], values: list[pa.Array] | None, empty: str) -> pa.Array:
    """Per row, the flagged names (or 'name:value') joined with ';'; rows with none get `empty`."""
    parts = []
    for j, name in enumerate(names):
        item = pa.scalar(name + ";") if values is None else pc.binary_join_element_wise(name + ":", values[j], ";", "")
        parts.append(pc.if_else(pa.array(flags[:, j]), item, ""))
    text = pc.utf8_rtrim(pc.binary_join_element_wise(*parts, ""), characters=";")
    return pc.if_else(pc.equal(text, ""), empty, text)


def session_table(ses: pd.DataFrame) -> pa.Table:
    """The published session table: canonical columns in schema order, every value as text ('' = blank)."""
    units = ses[[f"_mu{j}" for j in range(len(MUSCLES))]].to_numpy(dtype=float)
    events = ses[[f"_ev{j}" for j in range(len(ADVERSE_EVENTS))]].to_numpy(dtype=bool)
    pick = lambda names, column: pa.array(names).take(pa.array(ses[column].to_numpy()))  # noqa: E731
    columns = {
        "patient_id": patient_codes(ses),
        "session_date": session_dates(ses["_day"].to_numpy()),
        "session_id": session_codes(ses),
        "site": pick(SITES, "_site"),
        "practitioner_id": codes("PR", ses["_practitioner"].to_numpy(), 2),
        "indication": pick(INDICATIONS, "_indication"),
        "product": pick(PRODUCTS, "_product"),
        "total_units": number_text(ses["_units"].to_numpy()),
        "muscles": joined_list(units > 0, MUSCLES, [number_text(units[:, j]) for j in range(len(MUSCLES))], ""),
        "adverse_events": joined_list(events, ADVERSE_EVENTS, None, "none"),
        "baseline_twstrs": number_text(ses["baseline_twstrs"].to_numpy()),
        "followup_twstrs": number_text(ses["followup_twstrs"].to_numpy()),
    }
    for name in ("baseline_pain", "followup_pain", "followup_days", "onset_days", "peak_days", "wearing_off_days",
                 "pgic", "cycle_number"):
        columns[name] = number_text(ses[name].to_numpy(), integer=True)
    return pa.table({name: columns[name] for name in OUTPUT_COLUMNS})


def write_sessions_csv(table: pa.Table, path: Path) -> None:
    """Canonical CSV: comma, UTF-8 without BOM, LF line endings, no quotes (no value holds a comma)."""
    options = pa_csv.WriteOptions(quoting_style="none", quoting_header="none")
    pa_csv.write_csv(table, str(path), options)


# ----------------------------------------------------------------------------------------------------------
# Repeated assessments (diary-style)
# ----------------------------------------------------------------------------------------------------------

ASSESSMENT_DAYS = np.array([0, 3, 7, 14, 28, 56, 84, 112])


def dose_band(units: np.ndarray, product: np.ndarray) -> np.ndarray:
    """'low', 'standard' or 'high' dose against the product's usual (median) dose."""
    ratio = units / DOSE_MEDIAN[product]
    return np.select([ratio < 0.85, ratio > 1.2], ["low", "high"], "standard")


def pain_curve(baseline, response, onset, peak, duration, days) -> np.ndarray:
    """Expected pain at each day: baseline, falling from onset to the best at peak, back by the wearing off."""
    rise = np.clip((days - onset) / np.maximum(peak - onset, 1), 0.0, 1.0)
    fall = np.clip((duration - days) / np.maximum(0.4 * duration, 1), 0.0, 1.0)
    effect = np.minimum(rise, fall)
    return baseline * (1.0 - np.clip(response, -0.3, 1.0) * effect)


def make_assessments(rng: np.random.Generator, ses: pd.DataFrame, n_patients: int = 100) -> pd.DataFrame:
    """Diary scores at days 0-112 for ~150 sessions of ~100 patients (some days missed, none after re-injection)."""
    reviewed = ses[ses["_reviewed"]]
    patients = np.unique(reviewed["_p"].to_numpy())
    chosen = np.sort(rng.choice(patients, size=min(n_patients, len(patients)), replace=False))
    picks = []
    for i, p in enumerate(chosen):
        rows = reviewed.index[reviewed["_p"].to_numpy() == p].to_numpy()
        take = 2 if (i % 2 == 0 and len(rows) >= 2) else 1
        picks.extend(np.sort(rng.choice(rows, size=take, replace=False)))
    sel = ses.loc[picks]
    days = np.tile(ASSESSMENT_DAYS, len(sel))
    rep = np.repeat(np.arange(len(sel)), len(ASSESSMENT_DAYS))
    col = lambda name: sel[name].to_numpy()[rep]  # noqa: E731
    pain = pain_curve(col("baseline_pain").astype(float), col("_r"), col("_onset"), col("_peak"),
                      col("_duration"), days)
    pain = np.where(days == 0, col("baseline_pain"), np.clip(round_int(pain + rng.normal(0, 0.45, len(days))), 0, 10))
    as_of = ses["_day"].max()
    gap = col("_gap_next")
    horizon = np.where(gap > 0, gap, as_of - col("_day") + 1)  # not after the next injection or the as-of date
    keep = (days < horizon) & ((days == 0) | (rng.random(len(days)) >= 0.08))
    rows = np.asarray(picks)[rep]
    out = pd.DataFrame({
        "patient_id": patient_codes(ses, rows).to_pylist(),
        "session_id": session_codes(ses, rows).to_pylist(),
        "days_after": days,
        "pain": pain.astype(int),
        "dose_band": dose_band(col("_units"), col("_product")),
    })[keep]
    return out.sort_values(["patient_id", "session_id", "days_after"]).reset_index(drop=True)


# ----------------------------------------------------------------------------------------------------------
# Messy export: what a real clinic export looks like
# ----------------------------------------------------------------------------------------------------------

MESSY_HEADERS = {  # file header -> canonical column (None: not a session column)
    "Visit ID": "session_id",
    "Pt ID": "patient_id",
    "NHS Number": None,
    "Date of injection": "session_date",
    "Clinic": "site",
    "Injector": "practitioner_id",
    "Diagnosis": "indication",
    "Toxin": "product",
    "Total dose (U)": "total_units",
    "Muscles injected": "muscles",
    "Pain before": "baseline_pain",
    "Pain after": "followup_pain",
    "Days to review": "followup_days",
    "Days to onset": "onset_days",
    "Days to peak": "peak_days",
    "Wore off after (days)": "wearing_off_days",
    "PGI-C": "pgic",
    "TWSTRS before": "baseline_twstrs",
    "TWSTRS after": "followup_twstrs",
    "Side effects": "adverse_events",
    "Cycle no.": "cycle_number",
    "Referral source": None,
}
IDENTIFIER_HEADER = "NHS Number"
BRANDS = {
    "onabotulinumtoxinA": ("Botox", "BOTOX", "botox"),
    "abobotulinumtoxinA": ("Dysport", "DYSPORT"),
    "incobotulinumtoxinA": ("Xeomin", "xeomin"),
    "rimabotulinumtoxinB": ("NeuroBloc", "Myobloc"),
}
DIAGNOSES = {
    "cervical_dystonia": ("Cervical dystonia", "CD", "Torticollis"),
    "neck_pain": ("Neck pain", "Stiff neck"),
    "tension_headache": ("Tension headache",),
    "upper_back_pain": ("Upper back pain",),
    "arm_pain": ("Arm pain",),
    "other": ("Other",),
}
EVENT_WORDS = {
    "none": "None", "injection_site_pain": "Injection site pain", "neck_weakness": "Neck weakness",
    "dysphagia": "Dysphagia", "flu_like": "Flu-like symptoms", "headache": "Headache", "dry_mouth": "Dry mouth",
    "other": "Other",
}
REFERRERS = ("GP", "Neurology", "Pain clinic", "Physiotherapy", "Self-referral")
NUMERIC_HEADERS = ("Total dose (U)", "Pain before", "Pain after", "Days to review", "Days to onset", "Days to peak",
                   "Wore off after (days)", "PGI-C", "TWSTRS before", "TWSTRS after", "Cycle no.")
# (header, value as written, problem): one row each, the only problem of that row.
BAD_CELLS = (
    ("Pain after", "11", "pain score 11 is above the 0-10 scale"),
    ("Date of injection", "14/03/2031", "session date 2031-03-14 is in the future"),
    ("Toxin", "Botax", "unknown product 'Botax'"),
    ("Total dose (U)", "-100", "total dose must be above 0"),
    ("Pt ID", "", "patient id is blank"),
    ("Date of injection", "31/02/2025", "31 February is not a date"),
    ("PGI-C", "9", "PGIC 9 is outside 1-7"),
    ("Days to onset", "a week", "onset days is not a number"),
)


def nhs_numbers(rng: np.random.Generator, n: int) -> list[str]:
    """Made-up 10-digit numbers in the 999 test range that pass the NHS modulus-11 check."""
    out: list[str] = []
    while len(out) < n:
        digits = [9, 9, 9, *rng.integers(0, 10, 6)]
        check = 11 - sum(d * (10 - i) for i, d in enumerate(digits)) % 11
        if check == 10:
            continue
        out.append("".join(map(str, digits)) + str(0 if check == 11 else check))
    return out


def pick_messy_patients(rng: np.random.Generator, ses: pd.DataFrame, n: int = 80) -> np.ndarray:
    """~80 patients, every product represented, plus a few dosed in 2.5 U steps (decimal totals)."""
    first_product = ses.groupby("_p")["_product"].first()
    half = ses.groupby("_p")["_units"].apply(lambda u: bool((u % 1 != 0).any()))
    wanted = {0: 0.46, 1: 0.24, 2: 0.18, 3: 0.12}
    chosen: list[int] = []
    for product, share in wanted.items():
        pool = first_product.index[(first_product == product).to_numpy()].to_numpy()
        take = min(len(pool), max(1, int(round(share * n))))
        chosen.extend(rng.choice(pool, size=take, replace=False))
    halves = [p for p in half.index[half.to_numpy()] if p not in chosen][:4]
    return np.sort(np.array(chosen + halves, dtype=int))


def messy_rows(rng: np.random.Generator, ses: pd.DataFrame, clean: pd.DataFrame) -> list[dict[str, str]]:
    """The clean sessions of the chosen patients, as a clinic system would export them (all text)."""
    patients = pick_messy_patients(rng, ses)
    rows_idx = np.flatnonzero(np.isin(ses["_p"].to_numpy(), patients))
    nhs = dict(zip(patients, nhs_numbers(rng, len(patients))))
    referrer = dict(zip(patients, rng.choice(REFERRERS, size=len(patients))))
    rows = []
    for i in rows_idx:
        s, c = ses.iloc[i], clean.iloc[i]
        events = c["adverse_events"].split(";")
        row = {
            "Visit ID": c["session_id"],
            "Pt ID": c["patient_id"],
            "NHS Number": nhs[s["_p"]],
            "Date of injection": pd.Timestamp(c["session_date"]).strftime("%d/%m/%Y"),
            "Clinic": c["site"],
            "Injector": c["practitioner_id"],
            "Diagnosis": rng.choice(DIAGNOSES[c["indication"]]),
            "Toxin": rng.choice(BRANDS[c["product"]]),
            "Total dose (U)": c["total_units"].replace(".", ","),
            "Muscles injected": "|".join(m.split(":")[0] for m in c["muscles"].split(";")),
            "Pain before": c["baseline_pain"],
            "Pain after": c["followup_pain"],
            "Days to review": c["followup_days"],
            "Days to onset": c["onset_days"],
            "Days to peak": c["peak_days"],
            "Wore off after (days)": c["wearing_off_days"],
            "PGI-C": c["pgic"],
            "TWSTRS before": c["baseline_twstrs"].replace(".", ","),
            "TWSTRS after": c["followup_twstrs"].replace(".", ","),
            "Side effects": ";".join(EVENT_WORDS[e] for e in events),
            "Cycle no.": c["cycle_number"],
            "Referral source": referrer[s["_p"]],
        }
        for header in ("Injector", "Diagnosis", "Side effects", "Referral source"):  # a few blank cells
            if rng.random() < 0.03:
                row[header] = ""
        rows.append(row)
    return rows


def spoil(rng: np.random.Generator, rows: list[dict[str, str]]) -> dict:
    """Add one exact duplicate, one conflict and one bad cell per BAD_CELLS row; return the expected outcome."""
    n = len(rows)
    picks = rng.choice(np.arange(5, n - 5), size=len(BAD_CELLS) + 2, replace=False)
    original, first_of_conflict = rows[int(picks[0])], rows[int(picks[1])]
    bad = []
    for i, (header, value, problem) in zip(picks[2:], BAD_CELLS):
        rows[int(i)][header] = value
        bad.append((rows[int(i)], header, value, problem))
    duplicate = dict(original)
    conflict = dict(first_of_conflict)
    dose = float(conflict["Total dose (U)"].replace(",", ".")) + 50.0
    conflict["Total dose (U)"] = f"{dose:g}".replace(".", ",")
    rows.insert(int(rng.integers(int(picks[0]) + 2, n)), duplicate)
    rows.insert(int(rng.integers(int(picks[1]) + 2, len(rows))), conflict)
    line = {id(r): i + 2 for i, r in enumerate(rows)}  # the header is line 1
    dup_lines = [line[id(original)], line[id(duplicate)]]
    conflict_lines = sorted([line[id(first_of_conflict)], line[id(conflict)]])
    rejected = [{"line": line[id(r)], "column": h, "value": v, "problem": p} for r, h, v, p in bad]
    rejected.append({"line": dup_lines[1], "column": None, "value": None,
                     "problem": f"exact duplicate of line {dup_lines[0]}"})
    for this, other in (conflict_lines, conflict_lines[::-1]):
        rejected.append({"line": this, "column": "Visit ID", "value": conflict["Visit ID"],
                         "problem": f"conflict: line {other} has the same session with different values"})
    rejected.sort(key=lambda r: r["line"])
    rejected_lines = {r["line"] for r in rejected}
    return {
        "rows": len(rows),
        "identifier_columns": [IDENTIFIER_HEADER],
        "rejected": rejected,
        "rejected_rows": len(rejected_lines),
        "duplicate_lines": [dup_lines],
        "conflict_lines": conflict_lines,
        "accepted": len(rows) - len(rejected_lines),
    }


def write_messy_csv(rows: list[dict[str, str]], path: Path) -> None:
    """UTF-8 with BOM, ';' separator, CRLF line endings, quotes only where needed."""
    with open(path, "w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(MESSY_HEADERS), delimiter=";", lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(rows)


def excel_value(header: str, text: str):
    """Cell value for the xlsx copy: numbers as numbers, everything else (dates too) as the same text."""
    if text == "":
        return None
    if header in NUMERIC_HEADERS and re.fullmatch(r"-?\d+(,\d+)?", text):
        number = float(text.replace(",", "."))
        return int(number) if number.is_integer() else number
    return text


def write_messy_xlsx(rows: list[dict[str, str]], path: Path) -> None:
    """The same rows in one sheet; dates stay text (dd/mm/yyyy), numbers are numbers; byte-for-byte repeatable."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Export"
    sheet.append(list(MESSY_HEADERS))
    for row in rows:
        sheet.append([excel_value(h, row[h]) for h in MESSY_HEADERS])
    buffer = io.BytesIO()
    book.save(buffer)
    path.write_bytes(fixed_zip(buffer.getvalue()))


def fixed_zip(data: bytes) -> bytes:
    """Rewrite an xlsx with fixed timestamps (zip entries and document properties) so bytes repeat."""
    stamp = "2026-09-30T00:00:00Z"
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            content = src.read(item.filename)
            if item.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp.encode(), content)
            info = zipfile.ZipInfo(item.filename, date_time=(2026, 9, 30, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = item.external_attr
            dst.writestr(info, content)
    return out.getvalue()


# ----------------------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------------------

def write_samples(out: Path, patients: int = DEFAULT_PATIENTS, seed: int = DEFAULT_SEED) -> list[Path]:
    """Write every sample file into out; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    rngs = make_rngs(seed)
    ses, truth = build_sessions(patients, seed)
    table = session_table(ses)
    paths = {name: out / name for name in ("sessions.csv", "faded_patients.csv", "assessments.csv",
                                           "messy_export.csv", "messy_export.xlsx", "messy_export_expected.json")}
    write_sessions_csv(table, paths["sessions.csv"])
    truth.to_csv(paths["faded_patients.csv"], index=False, lineterminator="\n")
    make_assessments(rngs["assessments"], ses).to_csv(paths["assessments.csv"], index=False, lineterminator="\n")
    rows = messy_rows(rngs["messy"], ses, table.to_pandas())
    expected = spoil(rngs["messy"], rows)
    write_messy_csv(rows, paths["messy_export.csv"])
    write_messy_xlsx(rows, paths["messy_export.xlsx"])
    both = {"messy_export.csv": expected, "messy_export.xlsx": expected}
    paths["messy_export_expected.json"].write_text(json.dumps(both, indent=2) + "\n", encoding="utf-8")
    return list(paths.values())


def big_name(patients: int) -> str:
    """sessions_200k.csv for 200,000 patients; sessions_<n>.csv when n is not a whole thousand."""
    return f"sessions_{patients // 1000}k.csv" if patients % 1000 == 0 else f"sessions_{patients}.csv"


def write_big(out: Path, patients: int, seed: int = DEFAULT_SEED) -> Path:
    """Only the sessions CSV, for benchmarks."""
    out.mkdir(parents=True, exist_ok=True)
    ses, _ = build_sessions(patients, seed)
    path = out / big_name(patients)
    write_sessions_csv(session_table(ses), path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=DEFAULT_PATIENTS)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--big-only", action="store_true", help="write only the sessions CSV (benchmarks)")
    args = parser.parse_args(argv)
    began = time.perf_counter()
    paths = [write_big(args.out, args.patients, args.seed)] if args.big_only else write_samples(
        args.out, args.patients, args.seed)
    took = time.perf_counter() - began
    for path in paths:
        print(f"{path}  {path.stat().st_size:,} bytes")
    print(f"{took:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
