"""analytics/access.py: the roles file, who gets which access, the age of a sign-in, the cookie secret, and the
settings that must stop a server from starting. Pure functions: no app, no browser."""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

from analytics import access
from analytics.access import Access, RolesFileError

ROOT_ROLES = """
[users."Lead@Clinic.example"]
role = "lead"
[users."dr.khan@clinic.example"]
role = "practitioner"
practitioner_id = "DR04"
[users."dr.two@clinic.example"]
role = "practitioner"
practitioner_id = ["DR01", "DR02"]
[users."data@clinic.example"]
role = "Analyst"
[groups."outcomes-leads"]
role = "lead"
[groups."outcomes-analysts"]
role = "analyst"
"""
GOOD_SECRET = "q3J9x_V2mKp8ZrT5wYbN1cLd4FgHs7UeAi0oXjQvRt6"  # 43 url-safe characters: 258 bits
AUTH = {"redirect_uri": "https://outcomes.clinic.example/oauth2callback", "cookie_secret": GOOD_SECRET,
        "client_id": "outcomes", "client_secret": "s3cret",
        "server_metadata_url": "https://login.example/.well-known/openid-configuration"}


@pytest.fixture
def roles():
    return access.parse_roles(ROOT_ROLES)


def test_the_roles_file_is_read_with_emails_and_roles_in_lower_case(roles):
    assert roles.users == {"lead@clinic.example": ("lead", ()), "dr.khan@clinic.example": ("practitioner", ("DR04",)),
                           "dr.two@clinic.example": ("practitioner", ("DR01", "DR02")),
                           "data@clinic.example": ("analyst", ())}
    assert roles.groups == {"outcomes-leads": "lead", "outcomes-analysts": "analyst"}


def test_the_committed_example_is_a_valid_roles_file():
    roles = access.load_roles(access.DEFAULT_ROLES_FILE.parent / "roles.example.toml")
    assert roles.users["dr.khan@clinic.example"] == ("practitioner", ("DR04",))
    assert roles.groups == {"outcomes-leads": "lead"}


@pytest.mark.parametrize("email, expected", [
    ("LEAD@clinic.example", Access("lead@clinic.example", "lead")),
    ("dr.khan@CLINIC.example", Access("dr.khan@clinic.example", "practitioner", ("DR04",))),
    ("  data@clinic.example ", Access("data@clinic.example", "analyst")),
])
def test_an_account_is_found_by_its_email_whatever_the_case(roles, email, expected):
    assert access.access_for(roles, {"email": email, "sub": "x"}) == expected


def test_an_unknown_account_has_no_access(roles):
    assert access.access_for(roles, {"email": "stranger@elsewhere.example"}) is None


def test_no_email_or_an_unverified_email_has_no_access(roles):
    assert access.access_for(roles, {"sub": "lead@clinic.example"}) is None
    assert access.access_for(roles, {"email": "lead@clinic.example", "email_verified": False}) is None
    assert access.access_for(roles, {"email": "lead@clinic.example", "email_verified": "false"}) is None
    assert access.access_for(roles, {"email": "lead@clinic.example", "email_verified": True}).role == "lead"


def test_groups_give_the_widest_role_and_a_users_own_entry_wins(roles):
    claims = {"email": "someone@clinic.example", "groups": ["outcomes-leads", "outcomes-analysts", "other"]}
    assert access.access_for(roles, claims) == Access("someone@clinic.example", "analyst")
    assert access.access_for(roles, {"email": "x@clinic.example", "groups": "outcomes-leads"}).role == "lead"
    assert access.access_for(roles, {"email": "dr.khan@clinic.example", "groups": ["outcomes-analysts"]}).role == \
        "practitioner"
    assert access.access_for(roles, {"email": "x@clinic.example", "groups": ["other"]}) is None


@pytest.mark.parametrize("text, says", [
    ('[users."a@b.example"]\nrole = "admin"', "role must be one of lead, practitioner, analyst"),
    ('[users."a@b.example"]\nrole = "practitioner"', "a practitioner needs practitioner_id"),
    ('[users."a@b.example"]\nrole = "practitioner"\npractitioner_id = []', "practitioner_id must be a code"),
    ('[users."a@b.example"]\nrole = "practitioner"\npractitioner_id = 4', "practitioner_id must be a code"),
    ('[users."a@b.example"]\nrole = "lead"\npractitioner_id = "DR1"', "only for the practitioner role"),
    ('[users."a@b.example"]\nrole = "practitioner"\npractioner_id = "DR1"', "unknown setting practioner_id"),
    ('[users."A@b.example"]\nrole = "lead"\n[users."a@B.example"]\nrole = "analyst"', "appears twice"),
    ('[users."not-an-email"]\nrole = "lead"', "keyed by their e-mail"),
    ('[groups."g"]\nrole = "practitioner"', "a group cannot give the practitioner role"),
    ('[admins."a@b.example"]\nrole = "lead"', "unknown section admins"),
    ('[users."a@b.example"]\nrole = ', "is not valid TOML"),
    ('[users]\n"a@b.example" = "lead"', "expected a table with a role"),
])
def test_a_roles_file_that_could_give_the_wrong_access_is_refused(text, says):
    with pytest.raises(RolesFileError, match=says):
        access.parse_roles(text)


def test_a_missing_roles_file_says_how_to_make_one(tmp_path):
    with pytest.raises(RolesFileError, match="does not exist. Copy config/roles.example.toml"):
        access.load_roles(tmp_path / "roles.toml")


def test_the_roles_file_may_start_with_a_byte_order_mark(tmp_path):
    path = tmp_path / "roles.toml"
    path.write_bytes("\ufeff[users.\"a@b.example\"]\nrole = \"lead\"\n".encode("utf-8"))
    assert access.load_roles(path).users == {"a@b.example": ("lead", ())}


def test_what_each_role_may_do():
    lead, prac = Access("l@x.example", "lead"), Access("p@x.example", "practitioner", ("DR04",))
    analyst, local = Access("a@x.example", "analyst"), access.local_access("anna")
    assert prac.pages == ("overview", "patients", "compare")
    assert lead.pages == analyst.pages == local.pages == ("overview", "patients", "compare", "data", "audit")
    assert [a.all_patients for a in (lead, prac, analyst, local)] == [True, False, True, True]
    assert [a.may_change_store for a in (lead, prac, analyst, local)] == [False, False, True, True]
    assert [a.may_read_audit for a in (lead, prac, analyst, local)] == [True, False, True, True]
    assert not prac.may_see("data") and not prac.may_see("audit") and lead.may_see("audit")
    assert local.local and local.label == "anna (local)"


def test_a_sign_in_older_than_the_session_hours_has_expired():
    now = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
    issued = (now - timedelta(hours=12, seconds=1)).timestamp()
    assert access.session_expired({"iat": issued}, now, 12.0)
    assert not access.session_expired({"iat": (now - timedelta(hours=11, minutes=59)).timestamp()}, now, 12.0)
    assert access.session_expired({"iat": (now - timedelta(seconds=3)).timestamp()}, now, 0.0005)  # 1.8 s
    assert access.session_expired({}, now, 12.0)  # no iat: its age cannot be known
    assert access.session_expired({"iat": "yesterday"}, now, 12.0)
    assert access.session_expired({"iat": (now + timedelta(hours=1)).timestamp()}, now, 12.0)  # from the future
    assert not access.session_expired({"iat": (now + timedelta(minutes=2)).timestamp()}, now, 12.0)  # clock skew


@pytest.mark.parametrize("value, hours", [("", 12.0), ("8", 8.0), ("0.5", 0.5)])
def test_session_hours_from_the_environment(value, hours):
    assert access.session_hours({access.SESSION_HOURS_ENV: value}) == hours


@pytest.mark.parametrize("value", ["0", "-3", "twelve", "nan", "inf"])
def test_session_hours_that_are_not_a_positive_number_are_refused(value):
    with pytest.raises(ValueError, match=access.SESSION_HOURS_ENV):
        access.session_hours({access.SESSION_HOURS_ENV: value})


@pytest.mark.parametrize("secret", [secrets.token_urlsafe(32), secrets.token_hex(32), secrets.token_urlsafe(48),
                                    GOOD_SECRET])
def test_a_secret_of_32_random_bytes_or_more_is_accepted(secret):
    assert access.cookie_secret_problem(secret) is None


@pytest.mark.parametrize("secret", [None, "", "   ", "xxx", "change-me", secrets.token_hex(16),
                                    secrets.token_urlsafe(24), "a" * 100, "ab" * 50])
def test_a_weak_or_missing_cookie_secret_is_refused_with_the_command_that_makes_one(secret):
    problem = access.cookie_secret_problem(secret)
    assert problem is not None and access.SECRET_COMMAND in problem


def _startup(auth, tmp_path, address="0.0.0.0", roles_text=ROOT_ROLES, **env):
    path = tmp_path / "roles.toml"
    if roles_text is not None:
        path.write_text(roles_text, encoding="utf-8")
    return access.startup_problems(auth, {access.ROLES_ENV: str(path), **env}, address)


def test_a_well_configured_server_may_start(tmp_path):
    assert _startup(AUTH, tmp_path) == []
    assert _startup(None, tmp_path, "127.0.0.1") == []
    assert _startup(None, tmp_path, "localhost") == []
    assert _startup(None, tmp_path, "::1") == []


def test_require_signin_without_auth_refuses_to_start(tmp_path):
    problems = _startup(None, tmp_path, "127.0.0.1", **{access.REQUIRE_SIGNIN_ENV: "1"})
    assert len(problems) == 1 and problems[0].startswith("OUTCOMES_REQUIRE_SIGNIN=1 asks for sign-in, but")
    assert _startup(None, tmp_path, "127.0.0.1", **{access.REQUIRE_SIGNIN_ENV: "0"}) == []


@pytest.mark.parametrize("address", ["0.0.0.0", "192.168.1.20", "", None, "::"])
def test_local_mode_open_to_the_network_refuses_to_start(tmp_path, address):
    problems = _startup(None, tmp_path, address)
    assert len(problems) == 1 and "Local mode (no sign-in) serves this computer only" in problems[0]


def test_signed_in_mode_with_a_weak_secret_a_missing_setting_or_no_roles_file_refuses_to_start(tmp_path):
    problems = _startup(AUTH | {"cookie_secret": "short", "client_secret": ""}, tmp_path, roles_text=None)
    assert problems[0] == "[auth] is missing client_secret."
    assert "too short or too simple" in problems[1]
    assert "does not exist. Copy config/roles.example.toml" in problems[2]
    assert len(problems) == 3
    bad_redirect = _startup(AUTH | {"redirect_uri": "https://outcomes.clinic.example/"}, tmp_path)
    assert bad_redirect == ["[auth] redirect_uri must be set and end with /oauth2callback "
                            "(e.g. https://outcomes.clinic.example/oauth2callback)."]


def test_named_providers_may_carry_their_own_client_settings(tmp_path):
    auth = {"redirect_uri": AUTH["redirect_uri"], "cookie_secret": GOOD_SECRET,
            "microsoft": {k: AUTH[k] for k in access.PROVIDER_KEYS},
            "google": {"client_id": "g"}}
    assert _startup(auth, tmp_path) == ["[auth.google] is missing client_secret, server_metadata_url."]


def test_a_practitioners_patients_are_those_with_any_session_of_theirs():
    sessions = pd.DataFrame({"patient_id": ["P1", "P1", "P2", "P3", "P4", "P4"],
                             "practitioner_id": ["DR01", "DR04", "DR01", "DR04", None, "DR02"]})
    assert sorted(access.own_patients(sessions, ("DR04",))) == ["P1", "P3"]
    assert sorted(access.own_patients(sessions, ("DR01", "DR02"))) == ["P1", "P2", "P4"]
    assert list(access.own_patients(sessions, ("DR99",))) == []
    mask = access.patients_mask(sessions, access.own_patients(sessions, ("DR04",)))
    assert mask.tolist() == [True, True, False, True, False, False]
    assert access.patients_mask(sessions, None).all()


def test_a_secrets_file_that_is_not_valid_toml_is_refused_not_skipped(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text('[auth]\nredirect_uri = \n', encoding="utf-8")
    good = tmp_path / "good.toml"
    good.write_text('[auth]\nclient_id = "x"\n', encoding="utf-8")
    problems = access.secrets_file_problems([tmp_path / "missing.toml", good, broken])
    assert len(problems) == 1
    assert problems[0].startswith(f"The secrets file {broken} is not valid TOML (")
    assert problems[0].endswith("so sign-in cannot be read from it. Fix it; nothing is served until then.")
    assert access.secrets_file_problems([good, tmp_path / "missing.toml"]) == []


@pytest.mark.parametrize("headers", [{}, {"Host": "localhost:8501"}, {"host": "127.0.0.1:8501"},
                                     {"Host": "[::1]:8501"}, {"Host": "localhost"}])
def test_local_mode_serves_a_browser_on_this_computer(headers):
    assert access.local_request_problem(headers) is None


@pytest.mark.parametrize("headers, says", [
    ({"Host": "localhost:8501", "X-Forwarded-For": "10.0.0.7"}, "came through a proxy"),
    ({"Host": "127.0.0.1:8501", "Forwarded": "for=10.0.0.7"}, "came through a proxy"),
    ({"Host": "outcomes.clinic.example"}, "was asked for as outcomes.clinic.example"),
    ({"Host": "192.168.1.20:8501"}, "was asked for as 192.168.1.20:8501"),
])
def test_local_mode_refuses_a_request_from_a_proxy_or_another_host_name(headers, says):
    problem = access.local_request_problem(headers)
    assert problem is not None and says in problem and "local mode (no sign-in) serves this computer only" in problem
