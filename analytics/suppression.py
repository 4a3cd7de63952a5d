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
  3. Across tables (suppress_family): the tables one view shows together (a page, the report, the workbook) form a
     family; primary suppression stays each table's, and complements are chosen for the family until no hidden
     row can be worked out by adding or subtracting published rows of any table and the total (a span test over
     the cells of the finest cross-classification); such extra rows read FAMILY ("hidden so another table
     cannot reveal a small group").
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
    _blank(out, suppressed, keep)
    out["suppressed"] = suppressed
    out["suppression"] = np.where(primary, f"fewer than {k} patients", np.where(complementary, COMPLEMENTARY, ""))
    out.index = table.index
    out.attrs = dict(table.attrs)
    out.attrs["total_must_be_hidden"] = hidden_elsewhere if total_shown else []
    out.attrs["min_group_patients"] = k
    return out


def _marked(table: pd.DataFrame, suppressed: np.ndarray, reasons: np.ndarray,
            group_cols: Sequence[str] | None = None, partition_cols: Sequence[str] | None = None,
            total_col: str = "is_total") -> pd.DataFrame:
    """The table with the `suppressed` rows blanked and the markers `suppressed` / `suppression` (reasons) added."""
    group_cols = list(group_cols) if group_cols is not None else _default_group_cols(table)
    if partition_cols is None:
        partition_cols = ["group_by"] if "group_by" in table.columns else []
    out = table.reset_index(drop=True).copy()
    _blank(out, suppressed, set(group_cols) | set(partition_cols) | {total_col} | set(MARKER_COLUMNS))
    out["suppressed"] = np.asarray(suppressed, dtype=bool)
    out["suppression"] = np.asarray(reasons, dtype=object)
    out.index = table.index
    out.attrs = dict(table.attrs)
    return out


def _blank(out: pd.DataFrame, mask: np.ndarray, keep) -> None:
    """Blank (NA) every figure of the masked rows in place, except the columns in `keep`."""
    for column in out.columns:
        if column in keep:
            continue
        out[column] = _nullable(out[column]).mask(mask)


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



# ---- suppression across a family of tables ---------------------------------------------------------------------
FAMILY = "hidden so another table cannot reveal a small group"
_EIGEN_TOL = 1e-9      # eigenvalues of the normalised Gram matrix below this count as zero
_RESIDUAL_TOL = 1e-7   # a suppressed row whose (normalised) distance to the published span is below this is determined
_COEF_TOL = 1e-7


def hide_more(shown: pd.DataFrame, reasons: pd.Series, group_cols: Sequence[str] | None = None,
              partition_cols: Sequence[str] | None = None, total_col: str = "is_total") -> pd.DataFrame:
    """A suppressed table (suppress_small_groups' output) with more rows hidden: `reasons` (aligned with the rows,
    text or NA) gives the reason for each row to hide; rows already suppressed keep theirs."""
    if "suppressed" not in shown.columns:
        raise KeyError("run suppress_small_groups first: no 'suppressed' column")
    reasons = pd.Series(reasons, index=shown.index).astype(object)
    more = (reasons.notna() & ~shown["suppressed"].astype(bool)).to_numpy(dtype=bool)
    if not more.any():
        return shown
    group_cols = list(group_cols) if group_cols is not None else _default_group_cols(shown)
    if partition_cols is None:
        partition_cols = ["group_by"] if "group_by" in shown.columns else []
    out = shown.copy()
    out.attrs = dict(shown.attrs)
    _blank(out, more, set(group_cols) | set(partition_cols) | {total_col} | set(MARKER_COLUMNS))
    out["suppressed"] = out["suppressed"].astype(bool) | more
    out["suppression"] = np.where(more, reasons.to_numpy(), out["suppression"].to_numpy())
    return out


def _siblings(gram: np.ndarray, s: int, tables: np.ndarray, published: np.ndarray) -> np.ndarray:
    """Rows of s's table that share a parent with s: a published row of another table holding both wholly."""
    diag = np.diag(gram)
    parents = published & (tables != tables[s]) & (tables != -1) & np.isclose(gram[s], diag[s]) & (diag > diag[s])
    if not parents.any():
        return np.zeros(len(diag), dtype=bool)
    inside = np.isclose(gram[:, parents], diag[:, None])  # row r wholly inside parent q
    return (tables == tables[s]) & inside.any(axis=1)


def family_complements(rows, suppressed, sizes, tables, total: bool = True) -> tuple[np.ndarray, list[int]]:
    """Complementary suppressions that stop any suppressed row being worked out from the published ones.

    rows: (n rows x m atoms) 0/1 matrix (dense or scipy.sparse): row i sums the atoms where it is 1; atoms are
    the finest cross-classification of every grouping variable of the family, so every published figure that is
    a sum over sessions is the row's indicator vector times the atoms' values. A suppressed row is determined
    when its vector lies in the span of the published rows (and of the all-ones total when `total`): then the
    published figures give it exactly by adding and subtracting. While one is, the next suppressed row in order
    that is determined gets one more row hidden (with every published row over exactly the same sessions: twins
    stand or fall together), among the published rows that take part in writing it: one needed in every way of
    writing it (hiding it breaks the derivation) first, then a sibling (same table, inside the same parent row of
    another table), then any row of its table, then one sharing sessions with it, then the smallest (sizes, e.g.
    patients), then the earliest.
    suppressed: bool per row (already hidden); tables: a table id per row. Returns (added: bool per row, stuck):
    stuck lists the suppressed rows only the total itself determines (a table of one group: hide the total).
    Rows with no atom are left alone. Linear algebra on the n x n Gram matrix, so atoms may be many.
    """
    from scipy import sparse

    matrix = sparse.csr_matrix(rows, dtype="float64")
    n = matrix.shape[0]
    suppressed = np.asarray(suppressed, dtype=bool).copy()
    sizes = np.nan_to_num(np.asarray(sizes, dtype="float64"), nan=0.0)
    tables = np.asarray(tables)
    if total:
        matrix = sparse.vstack([matrix, sparse.csr_matrix(np.ones((1, matrix.shape[1])))], format="csr")
    gram = (matrix @ matrix.T).toarray()
    norms = np.sqrt(np.diag(gram))
    nonempty = norms > 0
    safe = np.where(nonempty, norms, 1.0)
    unit = gram / np.outer(safe, safe)
    tables_all = np.append(tables, -1) if total else tables
    sizes_all = np.append(sizes, np.inf) if total else sizes
    twins = (unit > 1.0 - _RESIDUAL_TOL) & np.outer(nonempty, nonempty)  # rows over exactly the same sessions
    added = np.zeros(n, dtype=bool)
    stuck: list[int] = []
    while True:
        hidden = np.append(suppressed, False) if total else suppressed
        published = np.flatnonzero(nonempty & ~hidden)
        check = np.flatnonzero(nonempty[:n] & suppressed)
        check = check[~np.isin(check, stuck)]
        if len(check) == 0 or len(published) == 0:
            break
        # identical published rows stand or fall together (one hidden beside a shown twin is given away): one
        # representative per set of twins
        first = np.argmax(twins[np.ix_(published, published)], axis=1)
        kinds, kind_of = np.unique(first, return_inverse=True)
        reps = published[kinds]
        values, vectors = np.linalg.eigh(unit[np.ix_(reps, reps)])
        rank = values > _EIGEN_TOL * max(1.0, values.max())
        basis = vectors[:, rank] / np.sqrt(values[rank])  # pinv(G_RR) = basis @ basis.T
        projected = basis.T @ unit[np.ix_(reps, check)]
        residual = 1.0 - np.sum(projected ** 2, axis=0)
        determined = np.flatnonzero(residual < _RESIDUAL_TOL)
        if len(determined) == 0:
            break
        j = determined[0]
        s = check[j]
        coef = basis @ projected[:, j]                      # the least-norm way of writing row s
        null = vectors[:, ~rank]
        essential = np.linalg.norm(null, axis=1) < 1e-6 if null.shape[1] else np.ones(len(reps), dtype=bool)
        candidate = np.abs(coef) > _COEF_TOL
        if total:  # the total itself (or a row equal to it) cannot be hidden while the total is shown
            candidate &= unit[reps, n] < 1.0 - _RESIDUAL_TOL
        if not candidate.any():
            stuck.append(int(s))
            continue
        mask = np.zeros(len(unit), dtype=bool)
        mask[published] = True
        sibling = np.bincount(kind_of, _siblings(gram, s, tables_all, mask)[published], len(reps)) > 0
        same = np.bincount(kind_of, tables_all[published] == tables[s], len(reps)) > 0
        smallest = np.full(len(reps), np.inf)
        np.minimum.at(smallest, kind_of, sizes_all[published])
        overlap = gram[reps, s] > 0                         # shares sessions with s (the total aside)
        order = np.lexsort((reps[candidate], smallest[candidate], ~overlap[candidate], ~same[candidate],
                            ~sibling[candidate], ~essential[candidate]))
        chosen = published[kind_of == np.flatnonzero(candidate)[order[0]]]
        suppressed[chosen] = True
        added[chosen] = True
    # a last pass, largest first: show again any added row (with its twins) whose showing gives nothing away
    for r in sorted(np.flatnonzero(added), key=lambda i: (-sizes[i], i)):
        if not added[r]:
            continue
        back = added & twins[r, :n]
        trial = suppressed & ~back
        if not _determined(unit, nonempty, np.append(trial, False) if total else trial,
                           np.setdiff1d(np.flatnonzero(nonempty[:n] & trial), stuck)):
            suppressed, added = trial, added & ~back
    return added, stuck


def _determined(unit: np.ndarray, nonempty: np.ndarray, hidden: np.ndarray, check: np.ndarray) -> bool:
    """Whether any row of `check` lies in the span of the rows not hidden (normalised Gram matrix `unit`)."""
    published = np.flatnonzero(nonempty & ~hidden)
    if len(check) == 0 or len(published) == 0:
        return False
    values, vectors = np.linalg.eigh(unit[np.ix_(published, published)])
    rank = values > _EIGEN_TOL * max(1.0, values.max())
    projected = (vectors[:, rank] / np.sqrt(values[rank])).T @ unit[np.ix_(published, check)]
    return bool((1.0 - np.sum(projected ** 2, axis=0) < _RESIDUAL_TOL).any())


class FamilyMember:
    """One table of a family: the table as computed (before suppression), and for every session of the family the
    value of its `key` column naming the row the session counts in (NA: in no row of this table).

    options: suppress_small_groups' own arguments for the table (patients_col, group_cols, partition_cols).
    Several rows may share a key (e.g. one per adverse event for the same product): they sum the same sessions.
    A total row (is_total True) sums every session this table counts.
    """

    def __init__(self, name: str, table: pd.DataFrame, labels: pd.Series, key: str = "group", **options):
        self.name, self.table, self.labels, self.key, self.options = name, table, labels, key, options


def _atoms(members: Sequence[FamilyMember]) -> tuple[list[np.ndarray], list[pd.Index]]:
    """Per member: each atom's label code (-1: none) and the member's label values; atoms are the distinct
    combinations of every member's label over the sessions (hash factorisation, no per-session Python)."""
    codes, uniques = [], []
    combined = None
    for member in members:
        code, values = pd.factorize(pd.Series(member.labels), use_na_sentinel=True)
        codes.append(code.astype("int64"))
        uniques.append(pd.Index(np.asarray(values, dtype=object).astype(str)))
        step = code.astype("int64") + 1
        combined = step if combined is None else pd.factorize(combined * (len(values) + 1) + step)[0]
    if combined is None or len(combined) == 0:
        return [np.zeros(0, dtype="int64") for _ in members], uniques
    _, first = np.unique(combined, return_index=True)
    return [code[first] for code in codes], uniques


def suppress_family(members: Sequence[FamilyMember], settings: Settings = DEFAULT_SETTINGS,
                    total_shown: bool = True) -> dict[str, pd.DataFrame]:
    """Every table of a family (the tables a reader sees together: a page, a report, a workbook), suppressed so
    that no hidden row can be worked out by adding or subtracting published rows of any of them (and the total).

    Primary suppression is each table's own (fewer than k patients, suppress_small_groups); the complements are
    then chosen for the family as a whole by family_complements, so that a complement one table would take on its
    own is not taken when another choice protects the family with fewer rows hidden. A complement the table's own
    rule would also have taken reads "complementary", any other FAMILY. Every figure is treated as a sum over
    sessions (patient counts are not quite, as a patient can be in several groups: treating them as sums is the
    cautious side). Returns {member name: suppressed table}; attrs["total_must_be_hidden"] is non-empty when a
    hidden row can only be kept hidden by hiding the total shown elsewhere (a table of one small group).
    """
    from scipy import sparse

    own = {m.name: suppress_small_groups(m.table, settings, total_shown=total_shown, **m.options) for m in members}
    if not members:
        return own
    if len({len(pd.Series(m.labels)) for m in members}) != 1:
        raise ValueError("every member's labels must cover the same sessions")
    atom_codes, uniques = _atoms(members)
    n_atoms = len(atom_codes[0])
    row_ids, col_ids, sizes, tables, primary = [], [], [], [], []
    offset = 0
    for t, (member, codes, values) in enumerate(zip(members, atom_codes, uniques)):
        table = own[member.name]
        patients_col = member.options.get("patients_col", "patients")
        raw = member.table.reset_index(drop=True)
        keys = raw[member.key].astype("string").astype(object) if len(raw) else pd.Series([], dtype=object)
        at = values.get_indexer(pd.Index(keys.fillna("\x00").astype(str)))
        is_total = (raw["is_total"].astype("boolean").fillna(False).to_numpy(dtype=bool) if "is_total" in raw
                    else np.zeros(len(raw), dtype=bool))
        counts = pd.to_numeric(raw[patients_col], errors="coerce").fillna(0).to_numpy(dtype="float64")
        lost = (at < 0) & ~is_total & (counts > 0)
        if lost.any():
            raise ValueError(f"{member.name}: rows {keys[lost].tolist()} match no session's {member.key}")
        order = np.argsort(codes, kind="stable")
        starts = np.searchsorted(codes[order], np.arange(len(values) + 1))
        covered = order[starts[0]:] if len(values) else np.zeros(0, dtype="int64")
        for i in range(len(raw)):
            atoms = covered if is_total[i] else (order[starts[at[i]]:starts[at[i] + 1]] if at[i] >= 0 else [])
            row_ids.append(np.full(len(atoms), offset + i))
            col_ids.append(np.asarray(atoms, dtype="int64"))
        sizes.append(counts)
        tables.append(np.full(len(raw), t))
        primary.append(table["suppressed"].to_numpy(dtype=bool) & (table["suppression"] != COMPLEMENTARY).to_numpy())
        offset += len(raw)
    rows = sparse.csr_matrix((np.ones(sum(len(c) for c in col_ids)), (np.concatenate(row_ids or [[]]).astype(int),
                              np.concatenate(col_ids or [[]]).astype(int))), shape=(offset, n_atoms))
    added, stuck = family_complements(rows, np.concatenate(primary), np.concatenate(sizes),
                                      np.concatenate(tables), total=total_shown)
    shown, start = {}, 0
    k = settings.min_group_patients
    for member, first in zip(members, primary):
        table = own[member.name]
        end = start + len(table)
        mine = added[start:end]
        reason = np.where(first, f"fewer than {k} patients",
                          np.where(mine & (table["suppression"] == COMPLEMENTARY).to_numpy(), COMPLEMENTARY,
                                   np.where(mine, FAMILY, "")))
        out = _marked(member.table, first | mine, reason, **{
            name: value for name, value in member.options.items() if name in ("group_cols", "partition_cols")})
        lone = any(start <= s < end for s in stuck)
        out.attrs["total_must_be_hidden"] = (table.attrs["total_must_be_hidden"] or [member.name]) if lone else []
        out.attrs["min_group_patients"] = k
        shown[member.name] = out
        start = end
    return shown
