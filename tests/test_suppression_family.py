"""Suppression across the tables a reader sees together (analytics.suppression.suppress_family and the
presentation functions the Compare page and the reports call): the reviewer's case and hand-worked cases with
exact expected suppression sets."""
import numpy as np
import pandas as pd
import pytest

from analytics.presentation import breakdown_tables
from analytics.settings import Settings

K5 = Settings(min_group_patients=5)

# The reviewer's case: product A has 20 patients, its low-dose band 4 of them; product B's low band (3 patients)
# is suppressed too, so the dose-band table sees two suppressed bands and takes no complement of its own.
# Every band has 20 sessions, so the tertiles of the units split each product exactly at 100 / 200 / 300 U.
BANDS = {  # product -> sessions per patient in its low, middle and high band (one dose per band)
    "A": ([5, 5, 5, 5], [3, 3, 3, 3, 2, 2, 2, 2], [3, 3, 3, 3, 2, 2, 2, 2]),
    "B": ([7, 7, 6], [2] * 10, [2] * 8 + [1] * 4),
    "C": ([2] * 10, [2] * 10, [2] * 10),
}


def reviewer_sessions() -> pd.DataFrame:
    rows = []
    for product, bands in BANDS.items():
        for band, (units, per_patient) in enumerate(zip((100, 200, 300), bands)):
            for p, sessions in enumerate(per_patient):
                rows += [{"patient_id": f"{product}{band}-{p}", "product": product, "total_units": units,
                          "indication": "cervical_dystonia", "has_response": True, "responder": s % 2 == 0,
                          "response_pct": 20.0 + 10 * s} for s in range(sessions)]
    return pd.DataFrame(rows)


def determined(rows: np.ndarray, hidden: np.ndarray) -> list[int]:
    """Hidden rows whose 0/1 vector over the cells lies in the span of the published rows and the total: the
    published figures give them exactly by adding and subtracting (rank test, numpy SVD)."""
    known = np.vstack([rows[~hidden], np.ones(rows.shape[1])])
    base = np.linalg.matrix_rank(known)
    return [int(i) for i in np.flatnonzero(hidden) if np.linalg.matrix_rank(np.vstack([known, rows[i]])) == base]


def test_the_reviewer_case_the_low_band_can_no_longer_be_worked_out():
    sessions = reviewer_sessions()
    tables = {by: table for by, _, table in breakdown_tables(sessions, K5, km=False)}
    product, band = tables["product"], tables["dose_band"]
    assert product["group"].tolist() == ["A", "B", "C"]
    assert sessions.groupby("product")["patient_id"].nunique().tolist() == [20, 25, 30]
    assert band["group"].tolist() == [f"{p} {b} ({r} U)" for p in "ABC" for b, r in
                                      (("low", "<= 166.7"), ("middle", "166.7-233.3"), ("high", "> 233.3"))]
    # cells: product x band (9); rows: the 3 products, the 9 bands; the total is shown too (the KPI tiles)
    rows = np.vstack([np.kron(np.eye(3), np.ones(3)), np.eye(9)])
    hidden = np.concatenate([product["suppressed"], band["suppressed"]]).astype(bool)
    assert determined(rows, hidden) == []  # starting code: [3, 6] (A low = A - A middle - A high; B low alike)
    assert not product["suppressed"].any()
    assert band["suppressed"].tolist() == [True, True, False, True, True, False, False, False, False]
    assert band["suppression"].tolist()[:5] == [
        "fewer than 5 patients", "hidden so another table cannot reveal a small group", "",
        "fewer than 5 patients", "hidden so another table cannot reveal a small group"]
    shown = band.loc[~band["suppressed"]]
    assert shown["patients"].tolist() == [8, 12, 10, 10, 10] and shown["sessions"].tolist() == [20] * 5


def test_the_compare_page_family_hides_the_same_and_the_funnels_take_their_part():
    from analytics.presentation import compare_family, funnel_shown
    from analytics.breakdowns import breakdown
    from analytics.funnel import funnel
    sessions = reviewer_sessions().assign(practitioner_id=lambda d: np.where(d["product"] == "C", "dr-c", "dr-ab"),
                                          site="North", cycle=1)
    tables = {by: breakdown(sessions, by, K5) for by in ("product", "indication", "dose_band", "cycle")}
    by_cycle = pd.DataFrame({"cycle": [1], "n_patients": [75], "mean_response_pct": [30.0]})
    family = compare_family(sessions, K5, tables, by_cycle)
    assert family["breakdown_dose_band"]["suppressed"].tolist() == [True, True, False, True, True, False,
                                                                     False, False, False]
    assert not family["breakdown_product"]["suppressed"].any() and not family["by_cycle"]["suppressed"].any()
    assert family["funnel_practitioner_id"] == {} and family["funnel_site"] == {}
    shown = funnel_shown(funnel(sessions, "practitioner_id"), K5, {"dr-c": "hidden so another table cannot "
                                                                          "reveal a small group"})
    groups = shown["groups"]
    assert groups["suppressed"].tolist() == [False, True]  # dr-ab, dr-c
    assert pd.isna(groups.loc[1, "rate"]) and groups.loc[1, "suppression"].startswith("hidden so another table")
    assert "dr-c" not in shown["outliers"]["group"].tolist()


def member_table(patients, patients_col="patients"):
    return pd.DataFrame({"group_by": "g", "group": [f"g{i}" for i in range(len(patients))],
                         patients_col: pd.Series(patients, dtype="int64")})


def labels_for(sessions_per_group):
    return pd.Series(np.repeat([f"g{i}" for i in range(len(sessions_per_group))], sessions_per_group))


def test_the_same_groups_counted_two_ways_are_hidden_in_both():
    """A cycle hidden in one table (few patients with a response) is hidden in the table that shows the same
    sessions with more patients, and so is its complement."""
    from analytics.suppression import FAMILY, FamilyMember, suppress_family
    labels = labels_for([6, 10, 12])
    out = suppress_family([FamilyMember("a", member_table([4, 10, 12]), labels),
                           FamilyMember("b", member_table([6, 10, 12]), labels)], K5)
    assert out["a"]["suppression"].tolist() == ["fewer than 5 patients", "complementary", ""]
    assert out["b"]["suppression"].tolist() == [FAMILY, FAMILY, ""]
    assert pd.isna(out["b"].loc[0, "patients"]) and out["b"].loc[2, "patients"] == 12


def test_crossed_tables_without_empty_cells_add_nothing():
    """Product by site, every product at every site: each table's own complement is enough (nothing hidden
    needlessly)."""
    from analytics.suppression import FamilyMember, suppress_family
    product = pd.Series(np.tile(["p0", "p1", "p2", "p3"], 12))
    site = pd.Series(np.repeat(["s0", "s1", "s2"], 16))
    products = pd.DataFrame({"group": ["p0", "p1", "p2", "p3"], "patients": [3, 9, 20, 16]})
    sites = pd.DataFrame({"group": ["s0", "s1", "s2"], "patients": [4, 30, 14]})
    out = suppress_family([FamilyMember("product", products, product), FamilyMember("site", sites, site)], K5)
    assert out["product"]["suppression"].tolist() == ["fewer than 5 patients", "complementary", "", ""]
    assert out["site"]["suppression"].tolist() == ["fewer than 5 patients", "", "complementary"]


def test_a_group_found_inside_another_is_protected_with_the_fewest_rows_hidden():
    """Empty cells: site s0 is exactly product p0, and product p2 is used only at sites s1 and s2. Site s2 (3
    patients) would follow from the site table and the total, and also as p2 - (s1 - p1). The site table's own
    rule would hide s0 (the next smallest), which p0 gives back; the family hides s1 instead, which blocks both
    ways: two rows hidden where the tables' own rules would end with every site and a product hidden."""
    from analytics.suppression import FAMILY, FamilyMember, family_complements, suppress_family
    # cells: (p0,s0) 20, (p1,s1) 20, (p2,s1) 6, (p2,s2) 3
    product = pd.Series(["p0"] * 20 + ["p1"] * 20 + ["p2"] * 9)
    site = pd.Series(["s0"] * 20 + ["s1"] * 26 + ["s2"] * 3)
    products = pd.DataFrame({"group": ["p0", "p1", "p2"], "patients": [20, 20, 9]})
    sites = pd.DataFrame({"group": ["s0", "s1", "s2"], "patients": [20, 26, 3]})
    out = suppress_family([FamilyMember("product", products, product), FamilyMember("site", sites, site)], K5)
    assert out["site"]["suppression"].tolist() == ["", FAMILY, "fewer than 5 patients"]
    assert out["product"]["suppression"].tolist() == ["", "", ""]
    rows = np.array([[1, 0, 0, 0], [0, 1, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 1]], float)
    assert determined(rows, np.array([False, True, True, False, False, False])) == []  # s0 s1 s2 p0 p1 p2
    assert determined(rows, np.array([True, False, True, False, False, False])) == [0, 2]  # the own rule's s0
    added, stuck = family_complements(rows, [False, False, True, False, False, False], [20, 26, 3, 20, 20, 9],
                                      [0, 0, 0, 1, 1, 1])
    assert added.tolist() == [False, True, False, False, False, False] and stuck == []


def test_a_lone_small_group_equal_to_the_total_asks_for_the_total_to_be_hidden():
    from analytics.suppression import FamilyMember, suppress_family
    out = suppress_family([FamilyMember("only", member_table([4]), labels_for([4]))], K5)
    assert out["only"]["suppressed"].tolist() == [True]
    assert out["only"].attrs["total_must_be_hidden"] == ["g"]


def test_rows_that_match_no_session_are_refused():
    from analytics.suppression import FamilyMember, suppress_family
    with pytest.raises(ValueError, match="match no session"):
        suppress_family([FamilyMember("t", member_table([10, 12]), labels_for([10, 0]).replace("g1", "x"))], K5)


def test_hide_more_blanks_the_rows_and_keeps_the_names():
    from analytics.suppression import hide_more, suppress_small_groups
    shown = suppress_small_groups(member_table([3, 9, 20, 16]).assign(rate=[0.1, 0.2, 0.3, 0.4]), K5)
    more = hide_more(shown, pd.Series([None, None, "why", None]))
    assert more["suppressed"].tolist() == [True, True, True, False]
    assert more["suppression"].tolist() == ["fewer than 5 patients", "complementary", "why", ""]
    assert pd.isna(more.loc[2, "rate"]) and more.loc[2, "group"] == "g2" and more.loc[3, "patients"] == 16
    assert hide_more(shown, pd.Series([None] * 4)) is shown


def test_the_family_sees_every_session_in_the_group_its_table_counts_it_in():
    from analytics.breakdowns import dose_band
    from analytics.presentation import session_groups
    sessions = reviewer_sessions()
    sessions.loc[:4, "total_units"] = np.nan
    sessions.loc[5:7, "product"] = None
    sessions.loc[8:9, "total_units"] = 166.7
    assert session_groups(sessions, "dose_band").astype(str).tolist() == dose_band(sessions)["dose_band_label"].tolist()
    assert session_groups(sessions, "product").astype(str).tolist()[5:9] == ["(not recorded)"] * 3 + ["A"]
