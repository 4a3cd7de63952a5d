"""Views you can share: the sidebar's period, filters, thresholds and as-of date kept in the page address
(`?site=North&period=6m`), so that a link opens the same view.

`read_address` runs once per browser session, before the sidebar's widgets are drawn: it checks every parameter
against the data and the thresholds' bounds and puts the valid ones into the sidebar's state; anything unknown or
invalid is ignored and said in one short notice, never an exception. `write_address` runs at the end of every
sidebar, so the address follows the filters as they change. `copy_link` draws the "Copy link to this view" control.

What a link can do is only what the sidebar can do: it sets filters, never who may see what. A practitioner's
patient-level tables are read through Context.patient_rows whatever the address says, and a page the role may not
open stays closed (views/signin.require).
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from urllib.parse import urlencode, urlsplit, urlunsplit

import pandas as pd
import streamlit as st

from analytics.presentation import markdown_text
from analytics.selection import DEFAULT_PERIOD, FILTER_COLUMNS, PERIODS
from analytics.settings import DEFAULT_SETTINGS, knobs
from views import keys

#: The period's words in an address, both ways.
PERIOD_CODES = {"Last 3 months": "3m", "Last 6 months": "6m", "Last 12 months": "12m", "All data": "all",
                "Custom range": "custom"}
PERIOD_OF_CODE = {code: period for period, code in PERIOD_CODES.items()}
#: The filter columns' names in an address (site=North&practitioner=PR04).
FILTER_PARAMS = {"site": "site", "practitioner": "practitioner_id", "product": "product", "indication": "indication"}
DATE_PARAMS = ("from", "to", "as_of")
assert set(PERIOD_CODES) == set(PERIODS) and set(FILTER_PARAMS.values()) == set(FILTER_COLUMNS.values())


def _values(params, name: str) -> list[str]:
    """Every value given for a parameter: repeated (?site=A&site=B) or comma separated (?site=A,B)."""
    out = []
    for raw in params.get_all(name) if hasattr(params, "get_all") else [params[name]]:
        out += [v.strip() for v in str(raw).split(",") if v.strip()]
    return out


def _day(text: str) -> date | None:
    """An ISO date (2026-03-31), or None when it is not one."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return None


def parse_address(params, options: Mapping[str, list[str]], first: pd.Timestamp, latest: pd.Timestamp
                  ) -> tuple[dict, list[str]]:
    """The sidebar state an address asks for, checked: ({session-state key: value}, [what was ignored, in words]).

    options: the values each filter column offers (analytics.selection.choices); a value is matched exactly, else
    case-insensitively; others are ignored. Dates must lie within the data (first..latest), thresholds within
    their bounds. Pure apart from reading `params` (st.query_params or a dict of lists)."""
    state: dict = {}
    ignored: list[str] = []
    names = list(params.keys())
    for name in names:
        if name not in FILTER_PARAMS and name not in DATE_PARAMS and name != "period" and name not in knobs():
            ignored.append(f"'{name}' (not a setting of this app)")
    for name, column in FILTER_PARAMS.items():
        if name not in names:
            continue
        offered = options.get(column, [])
        lower = {}
        for value in offered:
            lower.setdefault(value.casefold(), []).append(value)
        chosen = []
        for value in _values(params, name):
            match = [value] if value in offered else lower.get(value.casefold(), [])
            if len(match) == 1:
                chosen.append(match[0])
            else:
                ignored.append(f"{name} '{value}' (not in the data)")
        if chosen:
            state[keys.filter_values(column)] = list(dict.fromkeys(chosen))
    if "period" in names:
        code = str(params["period"]).strip().lower()
        if code in PERIOD_OF_CODE:
            state[keys.PERIOD] = PERIOD_OF_CODE[code]
        else:
            ignored.append(f"period '{params['period']}' (use 3m, 6m, 12m, all or custom)")
    lowest, highest = first.date(), latest.date()
    days = {}
    for name in DATE_PARAMS:
        if name not in names:
            continue
        day = _day(str(params[name]))
        if day is None or not lowest <= day <= highest:
            ignored.append(f"{name} '{params[name]}' (not a date between {lowest:%d %b %Y} and {highest:%d %b %Y})")
        else:
            days[name] = day
    if "from" in days or "to" in days:
        start, end = days.get("from", lowest), days.get("to", highest)
        if start > end:
            ignored.append("from-to (the start is after the end)")
        elif state.get(keys.PERIOD, "Custom range") == "Custom range":
            state[keys.PERIOD] = "Custom range"
            state[keys.CUSTOM_RANGE] = (start, end)
        else:
            ignored.append("from-to (they go with period=custom)")
    if "as_of" in days:
        state[keys.AS_OF] = days["as_of"]
    for name, knob in knobs().items():
        if name not in names:
            continue
        try:
            value = float(str(params[name]).strip())
        except ValueError:
            value = float("nan")
        if not knob.low <= value <= knob.high or (knob.integer and value != int(value)):
            ignored.append(f"{knob.label} '{params[name]}' (must be {'a whole number ' if knob.integer else ''}"
                           f"from {knob.low:g} to {knob.high:g})")
            continue
        state[keys.setting(name)] = int(value) if knob.integer else value
    return state, ignored


def read_address(options: Mapping[str, list[str]], first: pd.Timestamp, latest: pd.Timestamp) -> None:
    """Once per browser session, before the sidebar's widgets: the address's valid choices into the sidebar's state,
    the rest said in a short notice (shown by `notice`)."""
    if st.session_state.get(keys.ADDRESS_READ):
        return
    st.session_state[keys.ADDRESS_READ] = True
    if not len(st.query_params):
        return
    state, ignored = parse_address(st.query_params, options, first, latest)
    for key, value in state.items():
        st.session_state[key] = value
    if ignored:
        st.session_state[keys.ADDRESS_NOTICE] = ignored


def notice(side) -> None:
    """The short notice of what the address asked for that was ignored (until the page is left)."""
    ignored = st.session_state.pop(keys.ADDRESS_NOTICE, None)
    if ignored:
        text = "Part of the link was ignored: " + markdown_text("; ".join(ignored)) + "."
        side.warning(text, icon=":material/link_off:")
        st.toast(text, icon=":material/link_off:")  # seen on a phone too, where the sidebar starts closed


def address_of(period: str, start, end, values, settings_shown: Mapping[str, float], as_of) -> dict[str, str]:
    """The address parameters of a view: only what differs from the defaults, so a plain view has a plain link."""
    params: dict[str, str] = {}
    for name, column in FILTER_PARAMS.items():
        chosen = dict(values).get(column, ())
        if chosen:
            params[name] = ",".join(chosen)
    if period != DEFAULT_PERIOD:
        params["period"] = PERIOD_CODES[period]
    if period == "Custom range" and start and end:
        params["from"], params["to"] = pd.Timestamp(start).date().isoformat(), pd.Timestamp(end).date().isoformat()
    for name, knob in knobs().items():
        shown = settings_shown.get(name)
        if shown is not None and shown != knob.shown(getattr(DEFAULT_SETTINGS, name)):
            params[name] = f"{shown:g}" if isinstance(shown, float) else str(shown)
    if as_of:
        params["as_of"] = pd.Timestamp(as_of).date().isoformat()
    return params


def write_address(params: Mapping[str, str]) -> None:
    """Put the view's parameters in the page address (only when they changed: writing reruns nothing)."""
    current = {name: ",".join(st.query_params.get_all(name)) for name in st.query_params.keys()}
    if current != dict(params):
        st.query_params.from_dict(dict(params))


def link(params: Mapping[str, str]) -> str:
    """The full address of this page with the view's parameters."""
    base = st.context.url or ""
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(dict(params), safe=","), ""))


def copy_link(side, params: Mapping[str, str]) -> None:
    """The "Copy link to this view" control: the link in a code box, whose copy icon puts it on the clipboard."""
    with side.popover("Copy link to this view", icon=":material/link:", width="stretch"):
        st.code(link(params), language=None, wrap_lines=True)
        st.caption("Copy it with the icon at the right of the link. It opens this page with the same period, "
                   "filters and thresholds. Whoever opens it still sees only what their role allows.")
