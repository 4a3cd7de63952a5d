"""Property test of suppression across a family of tables (analytics.suppression).

Random nested tables (random parents with random child bands, random small cells) and a third table that
groups the children across parents, all shown with their total. After family suppression, checks written apart
from the implementation find no hidden row that the published rows pin down:
  - a rank test (numpy SVD on the rows themselves): a hidden row is determined when adding its vector to the
    published rows' (and the total's) does not raise the rank;
  - linear programming (scipy.optimize.linprog) on part of the cases: the least and the greatest value of each
    hidden row given every published value, the total and non-negative cells; least == greatest is determined.
Every cell holds at least one session, so the two agree; both are run. And no complement is hidden needlessly:
showing any one of them again (with the rows over the same cells) gives a hidden row away.
"""
import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from analytics.settings import Settings
from analytics.suppression import FamilyMember, family_complements, suppress_family, suppress_small_groups

K = 5
SETTINGS = Settings(min_group_patients=K)
CELL_SIZES = [1, 2, 3, 4, 6, 9, 15, 30]


def random_case(rng: np.random.Generator):
    """(rows: tables' rows x cells 0/1, table id per row, value per row, value per cell) of random nested tables:
    parents, their child bands (the cells), and a crossing grouping of the bands."""
    n_parents = int(rng.integers(1, 6))
    bands = rng.integers(1, 5, size=n_parents)
    parent_of = np.repeat(np.arange(n_parents), bands)
    cells = rng.choice(CELL_SIZES, size=len(parent_of)).astype("float64")
    cross_of = rng.integers(0, int(rng.integers(1, 4)), size=len(parent_of))
    parents = (parent_of[None, :] == np.arange(n_parents)[:, None]).astype(float)
    children = np.eye(len(parent_of))
    crossing = (cross_of[None, :] == np.unique(cross_of)[:, None]).astype(float)
    rows = np.vstack([parents, children, crossing])
    tables = np.repeat([0, 1, 2], [len(parents), len(children), len(crossing)])
    return rows, tables, rows @ cells, cells


def determined_by_rank(rows: np.ndarray, hidden: np.ndarray) -> list[int]:
    """Hidden rows whose vector lies in the span of the published rows and the total (SVD rank)."""
    known = np.vstack([rows[~hidden], np.ones(rows.shape[1])])
    base = np.linalg.matrix_rank(known)
    return [int(i) for i in np.flatnonzero(hidden) if np.linalg.matrix_rank(np.vstack([known, rows[i]])) == base]


def test_random_nested_tables_leave_no_hidden_row_determined():
    rng = np.random.default_rng(20261201)
    cases = hidden_total = added_total = 0
    while cases < 300:
        rows, tables, values, cells = random_case(rng)
        if cells.sum() < K:
            continue  # a selection of fewer than k patients shows no figure at all
        primary = values < K
        added, stuck = family_complements(rows, primary, values, tables, total=True)
        assert stuck == [] and not (added & primary).any()
        hidden = primary | added
        assert determined_by_rank(rows, hidden) == []
        for i in np.flatnonzero(added):  # and none is hidden needlessly: showing it (and its twins) gives one away
            twins = added & (rows == rows[i]).all(axis=1)
            assert determined_by_rank(rows, hidden & ~twins) != []
        if cases < 60:
            b_eq = np.append(values[~hidden], cells.sum())
            a_eq = np.vstack([rows[~hidden], np.ones(len(cells))])
            for i in np.flatnonzero(hidden):
                low = linprog(rows[i], A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
                high = linprog(-rows[i], A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
                assert low.status == 0 and high.status == 0
                assert -high.fun - low.fun > 1e-6, (cases, i)
        cases += 1
        hidden_total += int(hidden.sum())
        added_total += int(added.sum())
    assert hidden_total > 300 and added_total > 60  # the cases did hide rows, and the family added some


def test_the_checks_find_the_leak_when_each_table_is_protected_alone():
    """The oracle is not blind: the tables' own rule (primary and complementary within a table, the total shown)
    leaves determined rows in many of the same random families."""
    rng = np.random.default_rng(20261201)
    leaky = cases = 0
    while cases < 100:
        rows, tables, values, cells = random_case(rng)
        if cells.sum() < K:
            continue
        frame = pd.DataFrame({"group_by": tables, "group": np.arange(len(values)), "patients": values})
        hidden = suppress_small_groups(frame, SETTINGS)["suppressed"].to_numpy(dtype=bool)
        leaky += bool(determined_by_rank(rows, hidden))
        cases += 1
    assert leaky >= 10


def sessions_of(rng: np.random.Generator) -> pd.DataFrame:
    """Sessions (one per patient) labelled by parent, child band and crossing group, from a random case."""
    rows, tables, values, cells = random_case(rng)
    n_parents, n_children = int((tables == 0).sum()), int((tables == 1).sum())
    parent = np.argmax(rows[:n_parents], axis=0)
    cross = np.argmax(rows[tables == 2], axis=0)
    counts = cells.astype(int)
    return pd.DataFrame({"parent": np.repeat([f"P{p}" for p in parent], counts),
                         "child": np.repeat([f"P{p}-b{c}" for p, c in zip(parent, range(n_children))], counts),
                         "across": np.repeat([f"X{x}" for x in cross], counts),
                         "patient_id": np.arange(counts.sum())})


def count_table(sessions: pd.DataFrame, by: str) -> pd.DataFrame:
    table = sessions.groupby(by, sort=True).agg(patients=("patient_id", "nunique"),
                                                 sessions=("patient_id", "size")).reset_index()
    return table.rename(columns={by: "group"}).assign(group_by=by)[["group_by", "group", "patients", "sessions"]]


def family_of(sessions: pd.DataFrame) -> dict:
    members = [FamilyMember(by, count_table(sessions, by), sessions[by]) for by in ("parent", "child", "across")]
    return suppress_family(members, SETTINGS)


def test_suppress_family_on_sessions_leaves_no_hidden_row_determined():
    """The same property through the tables-and-sessions entry point the pages and reports use."""
    rng = np.random.default_rng(7)
    cases = 0
    while cases < 15:
        sessions = sessions_of(rng)
        if len(sessions) < K:
            continue
        shown = family_of(sessions)
        children = sorted(sessions["child"].unique())
        rows, hidden = [], []
        for by, table in shown.items():
            of = sessions.drop_duplicates("child").set_index("child")[by] if by != "child" else None
            for row in table.itertuples(index=False):
                rows.append([float((of[c] if of is not None else c) == row.group) for c in children])
                hidden.append(bool(row.suppressed))
            assert (table["suppressed"] | (count_table(sessions, by)["patients"] >= K)).all()
            shown_counts = table.loc[~table["suppressed"], "patients"]
            assert (shown_counts >= K).all()
        assert determined_by_rank(np.array(rows), np.array(hidden)) == []
        cases += 1


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_nothing_hidden_needlessly_without_small_cells(seed):
    rng = np.random.default_rng(seed)
    rows, tables, values, cells = random_case(rng)
    cells = cells + K  # every cell, so every row, has at least k
    values = rows @ cells
    added, stuck = family_complements(rows, values < K, values, tables)
    assert not added.any() and stuck == []
