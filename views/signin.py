"""Sign-in and who is using the app: the gate every run passes before anything is read, the identity line of the
sidebar, the page rules, and the audit rows of what users do.

Two modes (analytics/access.py decides what each allows):
- signed-in mode, when .streamlit/secrets.toml has an [auth] section: Streamlit's OpenID Connect sign-in
  (st.login, st.user, st.logout) against the clinic's identity provider; the roles file says who sees what;
- local mode, without [auth]: one person on this computer (the server listens on 127.0.0.1 only), with an
  analyst's rights, recorded under their operating-system user name.
A misconfigured server (OUTCOMES_REQUIRE_SIGNIN=1 without [auth], a weak cookie secret, a broken roles file, a
local mode open to the network) shows only what is wrong and serves nothing.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import datetime, timezone

import streamlit as st

from analytics import access, audit
from analytics.access import Access
from analytics.presentation import markdown_text
from views import keys

LOG = logging.getLogger("outcomes.signin")
PRODUCT = "Toxin outcomes"
ASK_FOR_ACCESS = "No access yet? Ask your clinic lead to add your e-mail address to the dashboard's roles file."
LOCAL_NOTICE = "Local mode: no sign-in, this computer only"
AUDIT_FAILED = ("The audit trail could not be written, so nothing more is shown. Tell whoever runs this dashboard "
                "(the details are in the server log).")


def auth_settings() -> Mapping | None:
    """The [auth] section of the secrets (None: local mode). Read through st.secrets, as st.login reads it."""
    try:
        if not st.secrets.load_if_toml_exists():
            return None
        section = st.secrets.get("auth")
    except FileNotFoundError:
        return None
    if section is None:
        return None
    return section.to_dict() if hasattr(section, "to_dict") else dict(section)


def _stop_with(title: str, lines: list[str]) -> None:
    st.title(PRODUCT)
    st.error(f"**{title}**\n\n" + "\n".join(f"- {markdown_text(line)}" for line in lines), icon=":material/block:")
    st.stop()


@st.cache_resource(show_spinner=False)
def _audited_sign_ins() -> set:
    """(e-mail, token time, action) already recorded by this server process: one sign-in row per sign-in."""
    return set()


def _record_once(user: str, role: str, action: str, claims: Mapping, outcome: str = "ok") -> None:
    issued = access.signed_in_at(claims)
    token = (user, issued.isoformat() if issued else "", action)
    seen = _audited_sign_ins()
    if token in seen:
        return
    try:
        audit.record(user, role, action, f"sign-in at {token[1]}" if issued else "", outcome)
    except audit.AuditError:
        LOG.exception("the audit trail could not be written (%s)", action)
        _stop_with("The audit trail could not be written.", [AUDIT_FAILED])
    seen.add(token)


def _provider_names(auth: Mapping) -> list[str]:
    return [name for name, value in auth.items() if isinstance(value, Mapping)]


def sign_in_page(auth: Mapping) -> None:
    """The only page before sign-in: the product's name, one Sign in button and who to ask. No data at all."""
    st.title(PRODUCT)
    st.markdown("Outcomes of botulinum toxin treatment at this clinic: response, duration and waning effect. "
                "Sign in with your clinic account to continue.")
    providers = _provider_names(auth)
    if len(providers) > 1:  # one button per identity provider the clinic configured
        for name in providers:
            st.button(f"Sign in with {name}", key=f"sign_in_{name}", type="primary", on_click=st.login, args=(name,))
    else:
        st.button("Sign in", key="sign_in", type="primary", icon=":material/login:", on_click=st.login,
                  args=tuple(providers))
    st.caption(ASK_FOR_ACCESS)
    st.stop()


def sign_out() -> None:
    """Record the sign-out, then let Streamlit clear the identity cookie and end the provider's session."""
    who = current()
    if who is not None and not who.local:
        try:
            audit.record(who.user, who.role, "sign_out")
        except audit.AuditError:
            LOG.exception("the audit trail could not be written (sign_out)")
    st.session_state.pop(keys.ACCESS, None)
    st.logout()


def no_access_page(email: str | None) -> None:
    st.title(PRODUCT)
    who = markdown_text(email) if email else "an account without a verified e-mail address"
    st.warning(f"You are signed in as **{who}** but have no access; ask your clinic lead.", icon=":material/lock:")
    st.button("Sign out", key="sign_out_refused", icon=":material/logout:", on_click=st.logout)
    st.stop()


def _role_of(claims: Mapping) -> str:
    """The role the roles file gives this account now ("none" when none, or when the file cannot be read)."""
    try:
        who = access.access_for(access.load_roles(access.roles_path()), claims)
    except access.RolesFileError:
        return "none"
    return who.role if who else "none"


def gate() -> Access:
    """Who is using the app in this run; or stop the run showing the sign-in page, the no-access page or what is
    misconfigured. The roles file is read again on every run, so a change takes effect at the next page load."""
    auth = auth_settings()
    problems = access.secrets_file_problems(st.get_option("secrets.files"))
    problems += access.startup_problems(auth, os.environ, st.get_option("server.address"), check_roles=False)
    if auth is None and not problems:
        forwarded = access.local_request_problem(st.context.headers or {})
        problems += [forwarded] if forwarded else []
    if problems:
        LOG.error("the dashboard cannot serve anyone: %s", " | ".join(problems))
        _stop_with("This dashboard is not set up correctly, so it shows nothing.", problems)
    if auth is None:
        who = access.local_access(audit.os_user())
        st.session_state[keys.ACCESS] = who
        return who
    claims = st.user.to_dict()
    if claims.get("is_logged_in") is not True:
        st.session_state.pop(keys.ACCESS, None)
        sign_in_page(auth)
    if access.session_expired(claims, datetime.now(timezone.utc), access.session_hours()):
        email = access.signed_in_email(claims) or "unknown"
        try:
            audit.record(email, _role_of(claims), "sign_out", "", "expired")
        except audit.AuditError:
            LOG.exception("the audit trail could not be written (expired sign-in)")
        st.session_state.pop(keys.ACCESS, None)
        st.logout()
        st.stop()
    try:
        who = access.access_for(access.load_roles(access.roles_path()), claims)
    except access.RolesFileError as error:  # edited into something wrong while the server runs: serve no one
        LOG.error("%s", error)
        _stop_with("This dashboard is not set up correctly, so it shows nothing.", [str(error)])
    if who is None:
        email = access.signed_in_email(claims)
        _record_once(email or str(claims.get("email") or "unknown"), "none", "sign_in_refused", claims,
                     "refused: no role" if email else "refused: no verified e-mail")
        st.session_state.pop(keys.ACCESS, None)
        no_access_page(email)
    _record_once(who.user, who.role, "sign_in", claims)
    st.session_state[keys.ACCESS] = who
    return who


def current() -> Access | None:
    """The access the gate granted in this run (None before the gate)."""
    return st.session_state.get(keys.ACCESS)


def identity() -> None:
    """The sidebar's first lines: who is signed in and the Sign out button, or the local-mode notice."""
    who = current()
    if who is None:
        return
    if who.local:
        st.sidebar.caption(f":material/computer: **{LOCAL_NOTICE}** ({markdown_text(who.user)})")
        return
    st.sidebar.caption(f":material/account_circle: Signed in as **{markdown_text(who.user)}** ({who.role})")
    st.sidebar.button("Sign out", key="sign_out", icon=":material/logout:", on_click=sign_out)


def record(action: str, obj: str = "", outcome: str = "ok") -> bool:
    """Append an audit row for the current user; False (and the server log) when it could not be written."""
    who = current()
    if who is None:
        return False
    try:
        audit.record(who.user, who.role, action, obj, outcome)
    except audit.AuditError:
        LOG.exception("the audit trail could not be written (%s)", action)
        return False
    return True


def record_or_stop(action: str, obj: str = "", outcome: str = "ok") -> None:
    """Record, and in signed-in mode show nothing more when the row cannot be written (local mode: a warning)."""
    if record(action, obj, outcome):
        return
    who = current()
    if who is not None and who.local:
        st.sidebar.warning("The audit trail could not be written (see the server log).", icon=":material/warning:")
        return
    _stop_with("The audit trail could not be written.", [AUDIT_FAILED])


def page_visit(page: str) -> None:
    """One view_page row each time a user opens a page (not on every rerun of the same page)."""
    if st.session_state.get(keys.AUDITED_PAGE) == page:
        return
    record_or_stop("view_page", page)
    st.session_state[keys.AUDITED_PAGE] = page


def patient_view(patient: str, outcome: str = "ok") -> None:
    """One view_patient row each time a user opens (or is refused) a patient's record."""
    mark = (patient, outcome)
    if st.session_state.get(keys.AUDITED_PATIENT) == mark:
        return
    record_or_stop("view_patient", patient, outcome)
    st.session_state[keys.AUDITED_PATIENT] = mark


def may_change_store() -> bool:
    """Whether the current user may import, undo or erase; a refusal is audited by the caller. Checked again where
    the store is changed, not only by not drawing the buttons."""
    who = current()
    return who is not None and who.may_change_store


def require(page: str) -> Access:
    """The current access when it includes `page`; otherwise the page stops with a plain refusal. Pages call this
    first, so a page is closed to a role even when reached without the navigation."""
    who = current()
    if who is None or not who.may_see(page):
        record("view_page", page, "refused: not in this role")
        st.error("Your role does not include this page.", icon=":material/lock:")
        st.stop()
    return who
