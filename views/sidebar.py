"""The shared sidebar: the data in use, the period, the filters, the thresholds and the as-of date. It builds the
Context every page reads; the thresholds' widgets are made from the Knob of each Settings field."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from analytics.presentation import markdown_text
from analytics.selection import DEFAULT_PERIOD, FILTER_COLUMNS, PERIODS, Selection, period_bounds
from analytics.sessions import as_of_after_data, derive_sessions
from analytics.settings import DEFAULT_SETTINGS, Knob, changed_from_defaults, knobs
from views import keys, shared_view, signin
from views.cache import memo, settings_key
from views.components import lazy_expander
from views.context import Context
from views.sources import active_source, back_label, use_default


def _keep(widget_key: str, store_key: str) -> None:
    """Copy a widget's value to the key that outlives it (widgets behind a closed expander are not drawn, and
    Streamlit forgets the state of widgets that were not drawn)."""
    st.session_state[store_key] = st.session_state[widget_key]


def reset_settings() -> None:
    """Put every threshold and the as-of date back to the defaults of docs/metrics.md."""
    for name, knob in knobs().items():
        st.session_state[keys.setting(name)] = knob.shown(getattr(DEFAULT_SETTINGS, name))
    st.session_state[keys.AS_OF] = None


def _number_input(name: str, knob: Knob) -> None:
    cast = int if knob.integer else float
    widget = keys.setting_widget(name)
    st.session_state[widget] = st.session_state[keys.setting(name)]
    st.number_input(knob.label, min_value=cast(knob.low), max_value=cast(knob.high), step=cast(knob.step),
                    key=widget, help=knob.help, on_change=_keep, args=(widget, keys.setting(name)))


def thresholds(first: pd.Timestamp, latest: pd.Timestamp) -> None:
    """The as-of date and every threshold, in an expander whose widgets are only drawn while it is open."""
    with lazy_expander("Thresholds and as-of date", keys.THRESHOLDS_EXPANDER, ":material/tune:") as is_open:
        if not is_open:
            return
        st.session_state[keys.AS_OF_WIDGET] = st.session_state.get(keys.AS_OF)
        st.date_input("As of (analysis date)", key=keys.AS_OF_WIDGET, min_value=first.date(),
                      max_value=latest.date(), format="DD/MM/YYYY",
                      on_change=_keep, args=(keys.AS_OF_WIDGET, keys.AS_OF),
                      help="Sessions after it are left out; benefit still running on it is censored there. "
                           "Empty: the latest session in the data.")
        for name, knob in knobs().items():
            _number_input(name, knob)
        st.button("Reset to the defaults", on_click=reset_settings, key="reset_settings")


def _chosen_settings(as_of) -> dict:
    """The thresholds as chosen in the sidebar, in Settings' units."""
    return {name: knob.stored(st.session_state[keys.setting(name)]) for name, knob in knobs().items()} | {
        "as_of": as_of}


def _period(side, first: pd.Timestamp, latest: pd.Timestamp, as_of: pd.Timestamp):
    side.subheader("Period")
    period = side.selectbox("Sessions from", PERIODS, key=keys.PERIOD,
                            help="Every page counts the sessions dated in this period. KPI tiles compare it with "
                                 "the period of the same length just before it.")
    if period != "Custom range":
        return (period, *period_bounds(period, as_of, first))
    default_range = (max(first, as_of - pd.DateOffset(months=12) + pd.Timedelta(days=1)).date(), as_of.date())
    value = {} if keys.CUSTOM_RANGE in st.session_state else {"value": default_range}  # a shared link may set it
    chosen = side.date_input("From - to", min_value=first.date(), max_value=max(latest, as_of).date(),
                             key=keys.CUSTOM_RANGE, format="DD/MM/YYYY", **value)
    if isinstance(chosen, (tuple, list)) and len(chosen) == 2:
        return period, chosen[0], chosen[1]
    # the user has picked the first day only so far
    return period, (chosen[0] if isinstance(chosen, (tuple, list)) and chosen else first.date()), as_of.date()


def _filters(side, options: dict) -> tuple:
    side.subheader("Filters")
    who = signin.current()
    own_key = keys.filter_values("practitioner_id")
    if who is not None and who.practitioner_ids and own_key not in st.session_state:  # a practitioner starts on
        st.session_state[own_key] = [p for p in who.practitioner_ids if p in options.get("practitioner_id", [])]
    values = []
    for label, column in FILTER_COLUMNS.items():
        if not options.get(column):
            continue
        chosen = side.multiselect(label, options[column], key=keys.filter_values(column), placeholder="All")
        values.append((column, tuple(sorted(chosen))))
    return tuple(values)


DATA_PAGE = "Data"  # the Data page's title (dashboard.PAGES)


def _on_data_page() -> bool:
    """True on the Data page, whose sections use no period, filter or threshold. The entry point records the page
    being opened (signin.page_visit) before it draws the sidebar."""
    return st.session_state.get(keys.AUDITED_PAGE) == DATA_PAGE


def _keep_choices() -> None:
    """Keep the period and filter choices while their widgets are not drawn (Streamlit forgets the state of a
    widget that was not drawn in a run), so they are as they were when the user goes back to another page. Not
    the custom range: its widget has a default value, which Streamlit will not combine with a value set here."""
    for key in (keys.PERIOD, *(keys.filter_values(c) for c in FILTER_COLUMNS.values())):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def sidebar() -> Context:
    """Draw the shared sidebar and return the context every page reads. Call once per run, before the page."""
    for name, knob in knobs().items():
        st.session_state.setdefault(keys.setting(name), knob.shown(getattr(DEFAULT_SETTINGS, name)))
    st.session_state.setdefault(keys.PERIOD, DEFAULT_PERIOD)
    st.session_state.setdefault(keys.AS_OF, None)

    with st.spinner("Loading and checking the data..."):
        source, facts, load = active_source()

    side = st.sidebar
    latest, first = facts.latest, facts.first
    shared_view.read_address(facts.options, first, latest)
    chosen_as_of = st.session_state.get(keys.AS_OF)
    clamped = (pd.Timestamp(chosen_as_of) if as_of_after_data(pd.DataFrame({"session_date": [latest]}), chosen_as_of)
               else None)
    if clamped is not None:  # e.g. chosen on a longer data set: nothing is known after the latest session
        st.session_state[keys.AS_OF] = chosen_as_of = None
    as_of = pd.Timestamp(chosen_as_of).normalize() if chosen_as_of else latest

    side.markdown(f"**Data:** {markdown_text(source.label)}  \n**As of:** {as_of:%d %b %Y}"
                  + ("" if chosen_as_of else " (latest session)"))
    if source.kind == "upload":
        side.button(back_label(), on_click=use_default, key="back_to_default",
                    help="Stop using your upload in this browser session.")
    if clamped is not None:
        side.warning(f"The as-of date {clamped:%d %b %Y} is after the latest session in the data, so the latest "
                     f"session ({latest:%d %b %Y}) is used: nothing is known about the days in between.",
                     icon=":material/event_busy:")
    shared_view.notice(side)
    if _on_data_page():  # nothing on the Data page is filtered: no period, filters or thresholds to mislead
        _keep_choices()
        period, values = DEFAULT_PERIOD, ()
        start, end = period_bounds(period, as_of, first)
    else:
        period, start, end = _period(side, first, latest, as_of)
        values = _filters(side, facts.options)
        with side:
            thresholds(first, latest)
        address = shared_view.address_of(period, start, end, values,
                                          {name: st.session_state[keys.setting(name)] for name in knobs()},
                                          chosen_as_of)
        shared_view.write_address(address)
        shared_view.copy_link(side, address)

    settings = DEFAULT_SETTINGS.with_changes(**_chosen_settings(as_of.date() if chosen_as_of else None))
    changed = changed_from_defaults(settings)
    if changed and not _on_data_page():
        side.caption("Thresholds changed from the defaults: " + "; ".join(changed) + ".")

    def derived() -> pd.DataFrame:
        with st.spinner("Working out cycles, intervals, responses and benefit durations..."):
            return memo(source, "derive", ("derive", settings_key(settings)), derive_sessions,
                        lambda: ((load().data, settings), {}), big=True)

    return Context(source, load, settings, Selection(period, start, end, values), as_of, bool(chosen_as_of),
                   first, derived, signin.current(), facts.sessions)


def current() -> Context | None:
    """The context the entry point built for this run; None when the data could not be opened (or no run yet)."""
    return st.session_state.get(keys.CONTEXT)


def context() -> Context:
    """The context the entry point built for this run; stops the page with a message when there is none."""
    if keys.CONTEXT not in st.session_state:  # a page run without the entry point: build it here
        st.session_state[keys.CONTEXT] = sidebar()
    ctx = st.session_state[keys.CONTEXT]
    if ctx is None:
        st.error("The data could not be opened, so there is nothing to show. Upload your sessions file on the "
                 "**Data** page.", icon=":material/error:")
        st.stop()
    return ctx
