"""Who may see and do what: the clinic's roles file, the access of a signed-in account, the age of a sign-in,
and the checks that keep a misconfigured server from starting.

Why here and pure (no Streamlit): the rules are the product's promise to the clinic ("a practitioner sees only
the patients they treated", "only analysts change the store"), so they are plain functions the pages call where
they read data, tested on their own; the pages only draw what these allow.
"""
from __future__ import annotations

import ipaddress
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

ROLES_ENV = "OUTCOMES_ROLES_FILE"
DEFAULT_ROLES_FILE = Path(__file__).resolve().parent.parent / "config" / "roles.toml"
SESSION_HOURS_ENV = "OUTCOMES_SESSION_HOURS"
DEFAULT_SESSION_HOURS = 12.0
REQUIRE_SIGNIN_ENV = "OUTCOMES_REQUIRE_SIGNIN"

LEAD, PRACTITIONER, ANALYST = "lead", "practitioner", "analyst"
ROLES = (LEAD, PRACTITIONER, ANALYST)
LOCAL = "local"  # local mode: one person on their own computer, with an analyst's rights

OVERVIEW, PATIENTS, COMPARE, DATA, AUDIT = "overview", "patients", "compare", "data", "audit"
PAGES_OF_ROLE = {
    PRACTITIONER: (OVERVIEW, PATIENTS, COMPARE),
    LEAD: (OVERVIEW, PATIENTS, COMPARE, DATA, AUDIT),
    ANALYST: (OVERVIEW, PATIENTS, COMPARE, DATA, AUDIT),
    LOCAL: (OVERVIEW, PATIENTS, COMPARE, DATA, AUDIT),
}
_RANK = {PRACTITIONER: 0, LEAD: 1, ANALYST: 2}  # an account in several groups gets the widest of their roles

SECRET_COMMAND = "python -c \"import secrets; print(secrets.token_urlsafe(48))\""
MIN_SECRET_BITS = 256  # 32 random bytes
_HEX = set("0123456789abcdefABCDEF")
_BASE64 = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/=")
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")


class RolesFileError(ValueError):
    """The roles file cannot be used; the message says where and why, in plain words."""


@dataclass(frozen=True)
class Access:
    """One user's access for one run of the app: who, in which role, and (practitioners) whose patients."""

    user: str
    role: str
    practitioner_ids: tuple[str, ...] = ()

    @property
    def local(self) -> bool:
        return self.role == LOCAL

    @property
    def pages(self) -> tuple[str, ...]:
        return PAGES_OF_ROLE[self.role]

    def may_see(self, page: str) -> bool:
        return page in self.pages

    @property
    def all_patients(self) -> bool:
        """Every patient's record (leads, analysts, local mode); a practitioner sees only the patients they treated."""
        return self.role != PRACTITIONER

    @property
    def may_change_store(self) -> bool:
        """Upload, import, undo and purge: analysts and local mode."""
        return self.role in (ANALYST, LOCAL)

    @property
    def may_read_audit(self) -> bool:
        return self.role in (LEAD, ANALYST, LOCAL)

    @property
    def may_report(self) -> bool:
        """The meeting report covers every patient's figures: leads, analysts and local mode."""
        return self.role in (LEAD, ANALYST, LOCAL)

    @property
    def label(self) -> str:
        return f"{self.user} ({self.role})"


def local_access(os_user: str) -> Access:
    return Access(os_user, LOCAL)


@dataclass(frozen=True)
class Roles:
    """The roles file, read: e-mail (lower case) -> (role, practitioner ids); group name -> role."""

    users: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    groups: Mapping[str, str] = field(default_factory=dict)


def roles_path(environ: Mapping[str, str] = os.environ) -> Path:
    value = environ.get(ROLES_ENV, "").strip()
    return Path(value) if value else DEFAULT_ROLES_FILE


def _practitioner_ids(value, where: str) -> tuple[str, ...]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) and v.strip() for v in values):
        raise RolesFileError(f"{where}: practitioner_id must be a code or a list of codes, like \"DR04\".")
    return tuple(dict.fromkeys(v.strip() for v in values))


def _role(entry, where: str, *, group: bool) -> str:
    if not isinstance(entry, dict):
        raise RolesFileError(f"{where}: expected a table with a role, like role = \"lead\".")
    allowed = {"role"} if group else {"role", "practitioner_id"}
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise RolesFileError(f"{where}: unknown setting {', '.join(unknown)} (allowed: {', '.join(sorted(allowed))}).")
    role = entry.get("role")
    if not isinstance(role, str) or role.strip().lower() not in ROLES:
        raise RolesFileError(f"{where}: role must be one of {', '.join(ROLES)}.")
    return role.strip().lower()


def parse_roles(text: str, source: str = "the roles file") -> Roles:
    """Read the roles file's TOML; RolesFileError for anything that could give someone the wrong access.

    Refused: an unknown role or setting (a typo must not silently drop a restriction), a practitioner without
    practitioner_id, a group whose role is practitioner (a group has no one practitioner code), one e-mail
    written twice in different case, and anything but [users] and [groups] at the top.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise RolesFileError(f"{source} is not valid TOML: {error}.") from None
    unknown = sorted(set(data) - {"users", "groups"})
    if unknown:
        raise RolesFileError(f"{source}: unknown section {', '.join(unknown)} (allowed: users, groups).")
    users: dict[str, tuple[str, tuple[str, ...]]] = {}
    for email, entry in (data.get("users") or {}).items():
        where = f"{source}, users.\"{email}\""
        key = email.strip().lower()
        if "@" not in key:
            raise RolesFileError(f"{where}: a user is keyed by their e-mail address.")
        if key in users:
            raise RolesFileError(f"{where}: this e-mail appears twice (e-mails are compared without case).")
        role = _role(entry, where, group=False)
        ids: tuple[str, ...] = ()
        if role == PRACTITIONER:
            if "practitioner_id" not in entry:
                raise RolesFileError(f"{where}: a practitioner needs practitioner_id (their code in the data).")
            ids = _practitioner_ids(entry["practitioner_id"], where)
        elif "practitioner_id" in entry:
            raise RolesFileError(f"{where}: practitioner_id is only for the practitioner role.")
        users[key] = (role, ids)
    groups: dict[str, str] = {}
    for name, entry in (data.get("groups") or {}).items():
        where = f"{source}, groups.\"{name}\""
        role = _role(entry, where, group=True)
        if role == PRACTITIONER:
            raise RolesFileError(f"{where}: a group cannot give the practitioner role (each practitioner needs "
                                 "their own practitioner_id under [users]).")
        groups[name.strip()] = role
    return Roles(users, groups)


def load_roles(path: str | Path) -> Roles:
    """The roles file at path; RolesFileError when it is missing, unreadable or wrong."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RolesFileError(f"The roles file {path} does not exist. Copy config/roles.example.toml there and "
                             f"list who may use the dashboard (or set {ROLES_ENV}).") from None
    except (OSError, UnicodeDecodeError) as error:
        raise RolesFileError(f"The roles file {path} cannot be read: {error.__class__.__name__}.") from None
    return parse_roles(text, f"The roles file {path}")


def _claimed_groups(claims: Mapping) -> list[str]:
    groups = claims.get("groups")
    if isinstance(groups, str):
        return [groups]
    if isinstance(groups, (list, tuple)):
        return [g for g in groups if isinstance(g, str)]
    return []


def signed_in_email(claims: Mapping) -> str | None:
    """The account's e-mail claim, lower case; None when missing or marked unverified by the provider."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        return None
    if claims.get("email_verified") is False or str(claims.get("email_verified")).lower() == "false":
        return None
    return email.strip().lower()


def access_for(roles: Roles, claims: Mapping) -> Access | None:
    """The access of a signed-in account: its own entry first, else the widest role of its groups; None: no access."""
    email = signed_in_email(claims)
    if email is None:
        return None
    if email in roles.users:
        role, ids = roles.users[email]
        return Access(email, role, ids)
    granted = [roles.groups[g] for g in _claimed_groups(claims) if g in roles.groups]
    if not granted:
        return None
    return Access(email, max(granted, key=_RANK.get))


def session_hours(environ: Mapping[str, str] = os.environ) -> float:
    """OUTCOMES_SESSION_HOURS (default 12): how long a sign-in lasts. ValueError when not a positive number."""
    value = environ.get(SESSION_HOURS_ENV, "").strip()
    if not value:
        return DEFAULT_SESSION_HOURS
    try:
        hours = float(value)
    except ValueError:
        raise ValueError(f"{SESSION_HOURS_ENV} must be a number of hours, like 12 (it is {value!r}).") from None
    if not math.isfinite(hours) or hours <= 0:
        raise ValueError(f"{SESSION_HOURS_ENV} must be more than 0 hours (it is {value!r}).")
    return hours


def signed_in_at(claims: Mapping) -> datetime | None:
    """When the identity token was issued (its iat claim, UTC); None when it has none."""
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, (int, float)) or not math.isfinite(iat):
        return None
    return datetime.fromtimestamp(iat, tz=timezone.utc)


def session_expired(claims: Mapping, now: datetime, hours: float) -> bool:
    """True when the sign-in is older than `hours`, or its age cannot be known (no iat: sign in again).

    Streamlit keeps the identity cookie for 30 days and never looks at the token's age itself."""
    issued = signed_in_at(claims)
    if issued is None:
        return True
    age = (now - issued).total_seconds()
    return age > hours * 3600 or age < -300  # a token from the future (clock skew beyond 5 minutes): distrust


def cookie_secret_problem(secret) -> str | None:
    """Why this cookie secret is too weak to sign identity cookies, or None when it is at least 32 random bytes.

    Judged from its characters: hexadecimal carries 4 bits a character, base64 6, anything else at most 6.5;
    a secret of few distinct characters ('aaaa...') is refused however long."""
    fix = f"Make one with: {SECRET_COMMAND}"
    if not isinstance(secret, str) or not secret.strip():
        return f"[auth] has no cookie_secret. {fix}"
    chars = set(secret)
    if chars <= _HEX:
        bits = 4 * len(secret)
    elif chars <= _BASE64:
        bits = 6 * len(secret)
    else:
        bits = 6.5 * len(secret)
    if bits < MIN_SECRET_BITS or len(chars) < 12:
        return f"[auth] cookie_secret is too short or too simple: it must hold at least 32 random bytes. {fix}"
    return None


def provider_problems(auth: Mapping) -> list[str]:
    """The [auth] settings st.login needs that are missing, in words. Providers may sit in sub-tables
    ([auth.microsoft], ...): each must have what the top level does not give."""
    problems = []
    if not str(auth.get("redirect_uri", "")).endswith("/oauth2callback"):
        problems.append("[auth] redirect_uri must be set and end with /oauth2callback "
                        "(e.g. https://outcomes.clinic.example/oauth2callback).")
    providers = {name: value for name, value in auth.items() if isinstance(value, Mapping)}
    for name, section in (providers or {"": {}}).items():
        missing = [k for k in PROVIDER_KEYS if not section.get(k) and not auth.get(k)]
        if missing:
            where = f"[auth.{name}]" if name else "[auth]"
            problems.append(f"{where} is missing {', '.join(missing)}.")
    return problems


def is_loopback(address: str | None) -> bool:
    """True for an address only this computer can reach (127.0.0.1, ::1, localhost)."""
    if not address:
        return False  # Streamlit's default (no address) listens on every interface
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def secrets_file_problems(paths) -> list[str]:
    """The secrets files that exist but are not valid TOML. Streamlit skips such a file without a word, so an
    [auth] section with a typo would silently turn signed-in mode into local mode: this refuses instead."""
    problems = []
    for path in map(Path, paths):
        if not path.is_file():
            continue
        try:
            tomllib.loads(path.read_text(encoding="utf-8-sig"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            problems.append(f"The secrets file {path} is not valid TOML ({error}), so sign-in cannot be read from "
                            "it. Fix it; nothing is served until then.")
        except OSError as error:
            problems.append(f"The secrets file {path} cannot be read ({error.__class__.__name__}).")
    return problems


def local_request_problem(headers: Mapping[str, str]) -> str | None:
    """Why a local-mode page request does not come from a browser on this computer, or None when it does.

    Local mode listens on 127.0.0.1, but a reverse proxy on the same computer would still serve it to the
    network: a forwarded request, or one addressed to a host name other than this computer's, is refused."""
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    if any(name in lowered for name in ("x-forwarded-for", "x-forwarded-host", "forwarded", "x-real-ip")):
        return ("This request came through a proxy, but local mode (no sign-in) serves this computer only. "
                "Configure sign-in ([auth] in .streamlit/secrets.toml) to serve other computers.")
    host = lowered.get("host")
    if host is None:
        return None
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    if not is_loopback(name.strip("[]")):
        return (f"This page was asked for as {host}, but local mode (no sign-in) serves this computer only: open "
                "it as http://localhost:PORT, or configure sign-in to serve other computers.")
    return None


def startup_problems(auth: Mapping | None, environ: Mapping[str, str], server_address: str | None, *,
                     check_roles: bool = True) -> list[str]:
    """Everything that must stop the dashboard from serving anyone, in plain words; empty when it may start.

    Signed-in mode ([auth] configured): the provider settings, a strong cookie secret and (check_roles) a usable
    roles file. Local mode: only on this computer (a loopback address), and not when OUTCOMES_REQUIRE_SIGNIN=1
    asks for sign-in. Both: OUTCOMES_SESSION_HOURS must be a positive number."""
    problems = []
    try:
        session_hours(environ)
    except ValueError as error:
        problems.append(str(error))
    if not auth:
        if environ.get(REQUIRE_SIGNIN_ENV, "").strip() not in ("", "0"):
            problems.append(f"{REQUIRE_SIGNIN_ENV}=1 asks for sign-in, but .streamlit/secrets.toml has no [auth] "
                            "section. Add your identity provider there (README: Running it for a clinic), or unset "
                            f"{REQUIRE_SIGNIN_ENV} to run in local mode on this computer only.")
        elif not is_loopback(server_address):
            problems.append(f"Local mode (no sign-in) serves this computer only, but the server listens on "
                            f"{server_address or 'every network interface'}. Use --server.address 127.0.0.1, or "
                            "configure sign-in ([auth] in .streamlit/secrets.toml) to serve other computers.")
        return problems
    problems += provider_problems(auth)
    secret = cookie_secret_problem(auth.get("cookie_secret"))
    if secret:
        problems.append(secret)
    if check_roles:
        try:
            load_roles(roles_path(environ))
        except RolesFileError as error:
            problems.append(str(error))
    return problems


def own_patients(sessions: pd.DataFrame, practitioner_ids: tuple[str, ...]) -> pd.Index:
    """The patient codes with any session by one of these practitioners (the patients they treated)."""
    if not practitioner_ids or "practitioner_id" not in sessions.columns:
        return pd.Index([], dtype="object")
    mine = sessions["practitioner_id"].astype("string").isin(list(practitioner_ids)).fillna(False).to_numpy(bool)
    return pd.Index(pd.unique(sessions.loc[mine, "patient_id"].astype("string").to_numpy()), dtype="object")


def patients_mask(frame: pd.DataFrame, allowed: pd.Index | None):
    """Boolean mask of the rows of `frame` whose patient_id is allowed (None: every patient)."""
    if allowed is None:
        return pd.Series(True, index=frame.index)
    return frame["patient_id"].astype("string").isin(allowed).fillna(False).astype(bool)
