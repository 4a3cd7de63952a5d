"""REDCap's API as a source: the project's data dictionary and its records, pulled over HTTPS with the standard library.

`python -m analytics import --redcap-url https://redcap.example/api/` reads the API token from the environment
variable REDCAP_API_TOKEN only (never the command line, where `ps` and shell histories show it; never in a message
or a log), POSTs `content=metadata` and `content=record` (`format=csv`, `type=flat`, raw codes) and imports the
export like a file (analytics/redcap_export.py): the store's keyed upserts make a second run with the same records
change nothing.

Policy: each request waits REDCAP_API_TIMEOUT seconds (default 120) for an answer; a timeout, a connection error
or a 5xx answer is tried again, REDCAP_API_ATTEMPTS times in all (default 3), waiting REDCAP_API_BACKOFF seconds
(default 10) times the attempt number in between; a 4xx answer (a bad token: 401/403, a wrong URL: 404) is not
retried. Every failure is a `RedcapApiError` (a ValueError: the command line prints it and exits 2) in plain words.
The token must be sent encrypted: a URL that is not https is refused unless its host is this machine.
"""
from __future__ import annotations

import json
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

TOKEN_ENV = "REDCAP_API_TOKEN"
TIMEOUT_ENV = "REDCAP_API_TIMEOUT"
ATTEMPTS_ENV = "REDCAP_API_ATTEMPTS"
BACKOFF_ENV = "REDCAP_API_BACKOFF"
DEFAULT_TIMEOUT, DEFAULT_ATTEMPTS, DEFAULT_BACKOFF = 120.0, 3, 10.0
_TOKEN = re.compile(r"^[0-9A-Fa-f]{32}(?:[0-9A-Fa-f]{32})?$")  # a project token (32) or a super token (64)
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


class RedcapApiError(ValueError):
    """The API could not give the export; the message says why in plain words (never the token)."""


@dataclass(frozen=True)
class Policy:
    """How long to wait and how often to try again (see the module docstring)."""

    timeout: float = DEFAULT_TIMEOUT
    attempts: int = DEFAULT_ATTEMPTS
    backoff: float = DEFAULT_BACKOFF

    @classmethod
    def from_environment(cls) -> Policy:
        def number(name: str, default: float, low: float) -> float:
            text = os.environ.get(name, "").strip()
            if not text:
                return default
            try:
                value = float(text)
            except ValueError:
                raise RedcapApiError(f"{name} must be a number (it is '{text}').") from None
            if value < low:
                raise RedcapApiError(f"{name} must be at least {low:g}.")
            return value

        return cls(number(TIMEOUT_ENV, DEFAULT_TIMEOUT, 0.01), int(number(ATTEMPTS_ENV, DEFAULT_ATTEMPTS, 1)),
                   number(BACKOFF_ENV, DEFAULT_BACKOFF, 0))


def token_from_environment() -> str:
    """The API token from REDCAP_API_TOKEN; RedcapApiError when it is missing or not a REDCap token's shape."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise RedcapApiError(f"No REDCap API token: put it in the environment variable {TOKEN_ENV} (never on the "
                             "command line).")
    if not _TOKEN.match(token):
        raise RedcapApiError(f"{TOKEN_ENV} does not hold a REDCap API token (32 hexadecimal characters): check "
                             "what was copied.")
    return token


def checked_url(url: str) -> str:
    """The API's address; RedcapApiError unless it is https (or http to this machine, for a test server)."""
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise RedcapApiError("--redcap-url must be the API's address, such as https://redcap.example.org/api/.")
    if parts.scheme == "http" and parts.hostname not in _LOCAL_HOSTS:
        raise RedcapApiError("--redcap-url must start with https:// so that the token is sent encrypted.")
    return url.strip()


def _post(url: str, fields: dict[str, str], token: str, policy: Policy, what: str, sleep=time.sleep) -> bytes:
    """One API call with the retry policy; the answer's bytes, or RedcapApiError."""
    body = urllib.parse.urlencode({"token": token, **fields}).encode("ascii")
    problem = ""
    for attempt in range(1, policy.attempts + 1):
        request = urllib.request.Request(url, data=body, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded", "Accept": "text/csv, application/json"})
        try:
            with urllib.request.urlopen(request, timeout=policy.timeout) as answer:
                return answer.read()
        except urllib.error.HTTPError as err:
            detail = _error_text(err, token)
            if err.code in (401, 403):
                raise RedcapApiError(f"REDCap refused the API token ({err.code}) when asked for the {what}: check "
                                     f"{TOKEN_ENV} and that the token's user may export data.{detail}") from None
            if err.code < 500:
                raise RedcapApiError(f"REDCap answered {err.code} when asked for the {what}: check --redcap-url "
                                     f"(the API's address ends in /api/).{detail}") from None
            problem = f"REDCap answered {err.code} (a server error){detail}"
        except (TimeoutError, socket.timeout):
            problem = f"no answer within {policy.timeout:g} seconds ({TIMEOUT_ENV})"
        except urllib.error.URLError as err:
            reason = err.reason
            if isinstance(reason, (TimeoutError, socket.timeout)):
                problem = f"no answer within {policy.timeout:g} seconds ({TIMEOUT_ENV})"
            else:
                problem = f"the server could not be reached ({_plain_reason(reason)})"
        except (ConnectionError, OSError) as err:
            problem = f"the connection failed ({type(err).__name__})"
        if attempt < policy.attempts:
            sleep(policy.backoff * attempt)
    raise RedcapApiError(f"The REDCap API gave no {what}: {problem}, after {policy.attempts} attempt(s). Nothing was "
                         "imported; try again later.")


def _plain_reason(reason: object) -> str:
    text = getattr(reason, "strerror", None) or str(reason)
    return text.replace("[Errno", "errno").strip() or type(reason).__name__


def _error_text(err: urllib.error.HTTPError, token: str) -> str:
    """REDCap's own words about an error ({"error": "..."}), short and without the token; '' when none."""
    try:
        text = err.read(2000).decode("utf-8", "replace")
        message = json.loads(text).get("error", "") if text.strip().startswith("{") else ""
    except (OSError, ValueError, AttributeError):
        return ""
    message = " ".join(str(message).replace(token, "[token]").split())[:200]
    return f" REDCap says: {message}" if message else ""


def fetch_export(url: str, token: str | None = None, policy: Policy | None = None, sleep=time.sleep
                 ) -> tuple[bytes, bytes]:
    """(records CSV, data dictionary CSV) of the project the token opens; RedcapApiError on any failure."""
    url = checked_url(url)
    token = token or token_from_environment()
    policy = policy or Policy.from_environment()
    dictionary = _post(url, {"content": "metadata", "format": "csv", "returnFormat": "json"}, token, policy,
                       "data dictionary", sleep)
    records = _post(url, {"content": "record", "format": "csv", "type": "flat", "rawOrLabel": "raw",
                          "rawOrLabelHeaders": "raw", "exportCheckboxLabel": "false", "exportSurveyFields": "false",
                          "exportDataAccessGroups": "false", "returnFormat": "json"}, token, policy, "records", sleep)
    return records, dictionary


def prepare_import(args) -> None:
    """`import --redcap-url`: exactly one of FILE and --redcap-url; the export and its dictionary fetched into
    args.file and args.redcap_dictionary (bytes), so the import goes on as for a file."""
    url = getattr(args, "redcap_url", None)
    if not url:
        if not args.file:
            raise ValueError("give a FILE to import, or --redcap-url URL (token in REDCAP_API_TOKEN)")
        return
    if args.file:
        raise ValueError("give a FILE or --redcap-url, not both")
    if getattr(args, "redcap_dictionary", None):
        raise ValueError("--redcap-url fetches the project's data dictionary itself: leave out --redcap-dictionary")
    args.file, args.redcap_dictionary = fetch_export(url)
