"""Views you can share (issue 13, item 8): the sidebar's period, filters and thresholds in the page address, so a
link opens the same view; unknown or invalid parameters are ignored with a short notice, never an exception; a
practitioner's link cannot widen what their role allows."""
from __future__ import annotations

import time
from datetime import date

import pandas as pd
from streamlit.testing.v1 import AppTest

from tests.app_support import DASHBOARD, TIMEOUT, app, metric, no_errors
from tests.test_roles_pages import AUTH, PR04, setup  # noqa: F401 - setup is the roles tests' fixture
from views import keys
from views.shared_view import address_of, parse_address

OPTIONS = {"site": ["North", "South"], "practitioner_id": ["PR01", "PR04"], "product": ["Botox"], "indication": []}
FIRST, LATEST = pd.Timestamp("2024-01-01"), pd.Timestamp("2026-09-30")


class Params(dict):
    """A stand-in for st.query_params: one value per name, get_all for the repeated ones."""

    def get_all(self, name):
        value = self[name]
        return value if isinstance(value, list) else [value]


def parse(**params):
    return parse_address(Params(params), OPTIONS, FIRST, LATEST)


def test_a_valid_address_sets_the_sidebar():
    state, ignored = parse(site="north", practitioner=["PR01", "PR04"], period="6m", responder_threshold_pct="50",
                           as_of="2026-06-30")
    assert ignored == []
    assert state == {keys.filter_values("site"): ["North"], keys.filter_values("practitioner_id"): ["PR01", "PR04"],
                     keys.PERIOD: "Last 6 months", keys.setting("responder_threshold_pct"): 50.0,
                     keys.AS_OF: date(2026, 6, 30)}
    state, ignored = parse(**{"from": "2025-01-01", "to": "2025-03-31", "site": "North,South"})
    assert ignored == [] and state[keys.PERIOD] == "Custom range"
    assert state[keys.CUSTOM_RANGE] == (date(2025, 1, 1), date(2025, 3, 31))
    assert state[keys.filter_values("site")] == ["North", "South"]


def test_unknown_and_invalid_parameters_are_ignored_and_said():
    state, ignored = parse(site="Atlantis", period="5y", hack="1", responder_threshold_pct="500",
                           min_group_patients="2.5", as_of="2030-01-01", short_interval_days="abc")
    assert state == {}
    assert ignored == ["'hack' (not a setting of this app)", "site 'Atlantis' (not in the data)",
                       "period '5y' (use 3m, 6m, 12m, all or custom)",
                       "as_of '2030-01-01' (not a date between 01 Jan 2024 and 30 Sep 2026)",
                       "Responder: pain reduction of at least (%) '500' (must be from 5 to 100)",
                       "Short interval: sooner than (days) 'abc' (must be a whole number from 7 to 365)",
                       "Hide groups with fewer than (patients) '2.5' (must be a whole number from 1 to 50)"]
    state, ignored = parse(**{"from": "2025-05-01", "to": "2025-03-31"})
    assert state == {} and ignored == ["from-to (the start is after the end)"]
    state, ignored = parse(period="12m", **{"from": "2025-01-01"})
    assert state == {keys.PERIOD: "Last 12 months"} and ignored == ["from-to (they go with period=custom)"]


def test_the_address_holds_only_what_differs_from_the_defaults():
    shown = {"responder_threshold_pct": 30.0, "min_group_patients": 5}
    assert address_of("Last 12 months", None, None, (), shown, None) == {}
    assert address_of("Custom range", date(2025, 1, 1), date(2025, 3, 31), (("site", ("North", "South")),),
                      {"responder_threshold_pct": 50.0}, date(2026, 6, 30)) == {
        "site": "North,South", "period": "custom", "from": "2025-01-01", "to": "2025-03-31",
        "responder_threshold_pct": "50", "as_of": "2026-06-30"}


def opened(params: dict) -> AppTest:
    """The dashboard opened from a link with these parameters."""
    at = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
    for name, value in params.items():
        at.query_params[name] = value
    return at.run()


def test_a_link_with_a_site_opens_that_sites_figures():
    by_hand = app()
    by_hand.multiselect(key="filter_site").select("North").run()
    by_hand.selectbox(key="period").select("Last 6 months").run()
    linked = opened({"site": "North", "period": "6m"})
    no_errors(linked)
    assert linked.multiselect(key="filter_site").value == ["North"]
    assert linked.selectbox(key="period").value == "Last 6 months"
    for label in ("Patients", "Sessions", "Responder rate", "Median response"):
        assert metric(linked, label) == metric(by_hand, label), label
    assert metric(linked, "Sessions") != metric(app(), "Sessions")
    assert not linked.sidebar.warning  # nothing ignored


def test_the_address_follows_the_filters_and_the_copy_link_holds_it():
    at = app()
    assert dict(at.query_params) == {}  # the default view: a plain address
    at.multiselect(key="filter_site").select("South").run()
    at.selectbox(key="period").select("All data").run()
    assert dict(at.query_params) == {"site": "South", "period": "all"}
    assert at.code[0].value.endswith("/?site=South&period=all")  # in the "Copy link to this view" popover
    assert any("Copy link to this view" in str(p.proto) for p in at.get("popover"))


def test_a_bad_link_opens_the_default_view_with_a_short_notice():
    at = opened({"site": "<script>", "period": "forever", "responder_threshold_pct": "-1"})
    no_errors(at)
    notice = at.sidebar.warning[0].value
    assert notice.startswith("Part of the link was ignored: site '") and "period 'forever'" in notice
    assert metric(at, "Sessions") == metric(app(), "Sessions")
    assert dict(at.query_params) == {}  # the address now says the view shown


def test_a_practitioners_link_cannot_widen_what_their_role_allows(setup):  # noqa: F811
    at = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "iat": time.time(), "email": "dr.four@clinic.example"}
    at.query_params["practitioner"] = "PR01,PR02"  # another practitioner's patients, asked for by the address
    at.run()
    no_errors(at)
    assert at.sidebar.multiselect(key="filter_practitioner_id").value == ["PR01", "PR02"]  # aggregates: allowed
    at.switch_page("views/patients.py").run()
    no_errors(at)
    watchlist = at.dataframe[0].value
    assert set(watchlist["Patient"]) <= PR04  # patient-level rows: still only their own
    linked = AppTest.from_file(DASHBOARD, default_timeout=TIMEOUT)
    linked.secrets["auth"] = AUTH
    linked.user = {"is_logged_in": True, "iat": time.time(), "email": "dr.four@clinic.example"}
    linked.query_params["page"] = "data"  # an address cannot open a page the role lacks
    linked.run()
    assert linked.title[0].value == "Overview" and "'page'" in linked.sidebar.warning[0].value
