"""Small-number suppression for every group table, figure and export.

Why: a group of very few patients can identify them, so its numbers are not shown outside the clinic team.

Rules (threshold k = settings.min_group_patients, default 5):
  1. Primary: a group with fewer than k patients (a missing count counts as 0) is suppressed: every figure in
     its row - counts and rates alike, the patients column too - is blanked. Only the columns that name the
     group stay. A total row (is_total True) with fewer than k patients is suppressed the same way.
  2. Complementary (secondary): within one table, if exactly one group is suppressed and a total is shown (a
     total row in the table, or total_shown=True because the same view shows the overall figures, e.g. the KPI
     tiles), its numbers could be worked out as total minus the others. So the next-smallest group (fewest
     patients; ties: the earlier row) is suppressed too. If there is no other group, the total row is
     suppressed; when that total is shown elsewhere, attrs["total_must_be_hidden"] names the table (its
     partition values, or "table") so the caller hides it. With two or more groups suppressed, only their sum
     can be worked out, which is allowed.
A "table" is the set of rows sharing the partition columns (default: group_by, so one long frame can hold
several breakdowns); the groups are told apart by the group columns (default: group_by and group).

Representation (chosen so numbers stay numbers): `suppress_small_groups` blanks the values to NA (integer
and boolean columns become nullable) and adds `suppressed` (bool) and `suppression` ('' / 'fewer than 5
patients' / 'complementary'). `for_display` turns the blanked cells into the text "suppressed" for screens and
CSV/Excel exports. Plots simply skip NA points.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from analytics.settings import DEFAULT_SETTINGS, Settings

SUPPRESSED = "suppressed"
COMPLEMENTARY = "complementary"
MARKER_COLUMNS = ("suppressed", "suppression")


def _nullable(column: pd.Series) -> pd.Series:
    """The same values in a dtype that can hold NA (int -> Int64, bool -> boolean)."""
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.astype("boolean")
    if pd.api.types.is_integer_dtype(column.dtype) and not isinstance(column.dtype, pd.api.extensions.ExtensionDtype):
        return column.astype("Int64")
    return column


def _default_group_cols(table: pd.DataFrame) -> list[str]:
    """group_by and group when present, else the first column."""
    named = [c for c in ("group_by", "group") if c in table.columns]
    return named or list(table.columns[:1])


def suppress_small_groups(
    table: pd.DataFrame,
    settings: Settings = DEFAULT_SETTINGS,
    patients_col: str = "patients",
    group_cols: Sequence[str] | None = None,
    partition_cols: Sequence[str] | None = None,
    total_shown: bool = True,
    total_col: str = "is_total",
) -> pd.DataFrame:
    """The table with small groups (and their complements) blanked; adds `suppressed` and `suppression`.

    group_cols: the columns naming a group, kept as they are (default: group_by/group, else the first column).
    partition_cols: rows sharing these form one table for the complementary rule (default: group_by if present).
    total_shown: whether the view also shows the table's total (the KPI tiles do); True is the safe default.
    """
    if patients_col not in table.columns:
        raise KeyError(f"suppression needs a '{patients_col}' column")
    k = settings.min_group_patients
    group_cols = list(group_cols) if group_cols is not None else _default_group_cols(table)
    if partition_cols is None:
        partition_cols = ["group_by"] if "group_by" in table.columns else []
    partition_cols = list(partition_cols)
    keep = set(group_cols) | set(partition_cols) | {total_col} | set(MARKER_COLUMNS)

    out = table.reset_index(drop=True).copy()
    patients = pd.to_numeric(out[patients_col], errors="coerce").fillna(0).to_numpy(dtype="float64")
    is_total = (out[total_col].astype("boolean").fillna(False).to_numpy(dtype=bool)
                if total_col in out.columns else np.zeros(len(out), dtype=bool))
    primary = patients < k

    part = (out.groupby(partition_cols, dropna=False, sort=False).ngroup().to_numpy() if partition_cols
            else np.zeros(len(out), dtype="int64"))
    group_primary = pd.Series(primary & ~is_total).groupby(part).transform("sum").to_numpy()
    total_in_table = pd.Series(is_total).groupby(part).transform("any").to_numpy()
    needs_complement = (group_primary == 1) & (total_shown | total_in_table)

    candidates = pd.DataFrame({"part": part, "patients": patients, "row": np.arange(len(out))})
    candidates = candidates.loc[needs_complement & ~primary & ~is_total]
    chosen = candidates.sort_values(["patients", "row"], kind="stable").groupby("part", sort=False).head(1)
    complementary = np.zeros(len(out), dtype=bool)
    complementary[chosen["row"].to_numpy()] = True

    # A table whose only other "group" is its total: the total goes (or must be hidden where it is shown).
    no_candidate = needs_complement & ~np.isin(part, chosen["part"].to_numpy())
    complementary |= no_candidate & is_total & ~primary
    lone = no_candidate & ~is_total & ~total_in_table
    hidden_elsewhere = sorted({
        " / ".join(str(v) for v in values) if partition_cols else "table"
        for values in out.loc[lone, partition_cols].itertuples(index=False, name=None)
    }) if lone.any() else []

    suppressed = primary | complementary
    for column in out.columns:
        if column in keep:
            continue
        out[column] = _nullable(out[column]).mask(suppressed)
    out["suppressed"] = suppressed
    out["suppression"] = np.where(primary, f"fewer than {k} patients", np.where(complementary, COMPLEMENTARY, ""))
    out.index = table.index
    out.attrs = dict(table.attrs)
    out.attrs["total_must_be_hidden"] = hidden_elsewhere if total_shown else []
    out.attrs["min_group_patients"] = k
    return out


def for_display(table: pd.DataFrame, group_cols: Sequence[str] | None = None) -> pd.DataFrame:
    """Suppressed cells as the text "suppressed" (object columns), for screens and exports."""
    if "suppressed" not in table.columns:
        raise KeyError("run suppress_small_groups first: no 'suppressed' column")
    group_cols = set(group_cols) if group_cols is not None else set(_default_group_cols(table))
    mask = table["suppressed"].astype(bool).to_numpy()
    out = table.copy()
    for column in out.columns:
        if column in group_cols or column in MARKER_COLUMNS or column == "is_total":
            continue
        values = out[column].astype(object)
        blank = mask & values.isna().to_numpy()
        out[column] = values.where(~blank, SUPPRESSED)
    return out

