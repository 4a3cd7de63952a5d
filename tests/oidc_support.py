"""Helpers for the sign-in browser tests: a real OpenID Connect provider (the `oidc-provider-mock` package) and the
app under `streamlit run` configured to sign in against it, plus the browser steps of a sign-in and a sign-out.

The provider runs on 127.0.0.1 with predefined users (one `--user-claims` per user); the app gets an `[auth]` block
in a secrets file of its own in a temporary directory (`--secrets.files`), never the repository's .streamlit/.
The browser always uses http://localhost:PORT: the cookie set on the redirect_uri's origin must be the page's.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.browser_support import stop_process

ROOT = Path(__file__).resolve().parent.parent
CLIENT_ID = "outcomes-test"
CLIENT_SECRET = "test-secret"
# The mock's pages load a style sheet from a CDN: a test never waits for the network.
OUTSIDE = re.compile(r"^https?://(?!localhost[:/]|127\.0\.0\.1[:/])")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, process: subprocess.Popen, what: str, timeout: float = 60) -> None:
    """Until `url` answers 200; raises with the end of the process's log when it exits or the time is up."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log_tail(process)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{what}: {url} did not answer within {timeout} s:\n{log_tail(process)}")


def log_tail(process: subprocess.Popen, chars: int = 3000) -> str:
    path = getattr(process, "log_path", None)
    if path is None or not Path(path).exists():
        return ""
    return Path(path).read_text(errors="replace")[-chars:]


stop = stop_process  # terminate a process started here (and only it), then close its log


def _popen(args: list[str], log_path: Path, **kwargs) -> subprocess.Popen:
    log = open(log_path, "w")  # noqa: SIM115 - closed by stop()
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, **kwargs)
    process.log_file, process.log_path = log, log_path
    return process


@dataclass
class Provider:
    """The running test identity provider: its base URL and its users' claims by `sub`."""

    url: str
    users: dict[str, dict]
    process: subprocess.Popen

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/.well-known/openid-configuration"


def start_provider(users: list[dict], log_dir: Path) -> Provider:
    """`python -m oidc_provider_mock` on a free port of 127.0.0.1 with these predefined users (each a claims dict
    with at least "sub"); returns once its discovery document answers."""
    port = free_port()
    args = [sys.executable, "-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port", str(port)]
    for claims in users:
        args += ["--user-claims", json.dumps(claims)]
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    process = _popen(args, Path(log_dir) / f"oidc_provider_{port}.log", env=env)
    provider = Provider(f"http://127.0.0.1:{port}", {u["sub"]: u for u in users}, process)
    try:
        wait_http(provider.metadata_url, process, "the OpenID Connect provider")
    except Exception:
        stop(process)
        raise
    return provider


def write_secrets(path: Path, app_port: int, provider: Provider, cookie_secret: str | None = None) -> Path:
    """A secrets.toml with the `[auth]` block pointing the app on `app_port` at `provider`."""
    cookie_secret = cookie_secret or secrets.token_urlsafe(36)  # 48 url-safe characters, 36 random bytes
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "[auth]\n"
        f'redirect_uri = "http://localhost:{app_port}/oauth2callback"\n'
        f'cookie_secret = "{cookie_secret}"\n'
        f'client_id = "{CLIENT_ID}"\n'
        f'client_secret = "{CLIENT_SECRET}"\n'
        f'server_metadata_url = "{provider.metadata_url}"\n', encoding="utf-8")
    return path


@dataclass
class App:
    """A running `streamlit run`: the browser's base URL (localhost) and the files it was started with."""

    url: str
    port: int
    process: subprocess.Popen
    workdir: Path
    env: dict = field(default_factory=dict)


def start_app(script: Path, workdir: Path, provider: Provider | None, env_extra: dict | None = None,
              cwd: Path = ROOT, port: int | None = None) -> App:
    """`streamlit run script` on 127.0.0.1:port with its own secrets file under `workdir` (an `[auth]` block for
    `provider`, or no secrets file at all when `provider` is None: local mode). Runs from `cwd` (the repository by
    default, so its .streamlit/config.toml applies as in production). Returns once /_stcore/health answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    secrets_file = workdir / "secrets.toml"
    if provider is not None:
        write_secrets(secrets_file, port, provider)
    else:
        secrets_file.write_text("", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMLIT_")}
    env.update(env_extra or {})
    args = [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
            "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
            "--secrets.files", str(secrets_file)]
    process = _popen(args, workdir / f"streamlit_{port}.log", cwd=cwd, env=env)
    app = App(f"http://localhost:{port}", port, process, workdir, env_extra or {})
    try:
        wait_http(f"http://127.0.0.1:{port}/_stcore/health", process, "streamlit")
    except Exception:
        stop(process)
        raise
    return app


def block_outside(page) -> None:
    """Abort every request that leaves this machine (the mock's CDN style sheet), so nothing waits on it."""
    page.route(OUTSIDE, lambda route: route.abort())


# The app is idle: the script is not running and no spinner or skeleton is left.
IDLE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-testid="stSpinner"]')
    && !document.querySelector('[data-testid="stSkeleton"]');
}"""


def wait_idle(page, timeout: float = 60_000) -> None:
    page.wait_for_timeout(300)  # let a rerun start before asking whether it has finished
    page.wait_for_function(IDLE, timeout=timeout)


def back_on_app(url: str, app: App) -> bool:
    """The page is the app's, not its sign-in or sign-out redirect endpoints."""
    return url.startswith(app.url) and "/oauth2callback" not in url and "/auth/" not in url


def click_sign_in(page, label: str = "Sign in") -> None:
    """Press the app's sign-in button and wait for the provider's authorization form."""
    page.get_by_role("button", name=label, exact=True).click()
    page.wait_for_selector("form button[name='sub']", timeout=30_000)


def choose_user(page, app: App, sub: str) -> None:
    """On the provider's form, authenticate the predefined user `sub` and wait to be back on the app."""
    page.locator(f"form button[name='sub'][value='{sub}']").click()
    page.wait_for_url(lambda url: back_on_app(url, app), timeout=30_000)
    page.wait_for_selector('[data-testid="stApp"]', timeout=30_000)


def sign_in(page, app: App, sub: str, label: str = "Sign in") -> None:
    """The whole round trip: the app's page, its "Sign in" button, the provider's form, back on the app."""
    if not page.url.startswith(app.url):
        page.goto(app.url)
    page.get_by_role("button", name=label, exact=True).wait_for(timeout=60_000)
    click_sign_in(page, label)
    choose_user(page, app, sub)
    wait_idle(page)


def sign_out(page, app: App, label: str = "Sign out", then: str = "Sign in") -> None:
    """Press the app's sign-out button, then `back_to_sign_in`."""
    page.get_by_role("button", name=label, exact=True).click()
    back_to_sign_in(page, app, then)


def back_to_sign_in(page, app: App, then: str = "Sign in", timeout: float = 30) -> None:
    """After st.logout (a Sign out button, or the app ending an expired sign-in): confirm on the provider's
    end-session page when it shows one; return once the app shows its `then` button again (the sign-in page)."""
    deadline = time.time() + timeout
    while True:
        if back_on_app(page.url, app) and page.get_by_role("button", name=then, exact=True).count():
            break
        if time.time() > deadline:
            raise TimeoutError(f"sign-out did not come back to the app's {then!r} button")
        end = page.get_by_role("button", name="End session")
        if not back_on_app(page.url, app) and end.count():
            end.click()
        page.wait_for_timeout(200)
    wait_idle(page)


# The app's data in the sign-in tests: two practitioners with eight patients each, and one patient treated by
# both (DR02 first, DR01 later: one of DR01's patients). Every patient's response fades (75% twice, then 12.5%
# twice), so each is on the Patients page's watchlist.
PRACTITIONER_PATIENTS = {
    "DR01": [f"ZP1{i:02d}" for i in range(1, 9)],
    "DR02": [f"ZP2{i:02d}" for i in range(1, 9)],
}
SHARED_PATIENT = "ZP301"
ALL_PATIENTS = [*PRACTITIONER_PATIENTS["DR01"], *PRACTITIONER_PATIENTS["DR02"], SHARED_PATIENT]
SESSION_COLUMNS = ["patient_id", "session_date", "session_id", "site", "practitioner_id", "indication", "product",
                   "total_units", "muscles", "baseline_pain", "followup_pain", "followup_days", "onset_days",
                   "peak_days", "wearing_off_days", "pgic", "adverse_events"]


def patients_of(practitioner_id: str) -> list[str]:
    """The patients with at least one session by this practitioner in `tiny_sessions_csv` (the shared patient
    is both practitioners')."""
    return [*PRACTITIONER_PATIENTS[practitioner_id], SHARED_PATIENT]


def tiny_sessions_csv(path: Path) -> Path:
    """Write the sign-in tests' sessions file (68 sessions, 17 patients, 2025) and return its path."""
    import datetime as dt

    rows, number = [], 0
    for patient in ALL_PATIENTS:
        offset = int(patient[-2:]) + (20 if patient.startswith("ZP2") else 0)
        for cycle, followup in enumerate((2, 2, 7, 7)):
            number += 1
            if patient == SHARED_PATIENT:
                practitioner = "DR02" if cycle < 2 else "DR01"
            else:
                practitioner = "DR01" if patient.startswith("ZP1") else "DR02"
            day = dt.date(2025, 1, 6) + dt.timedelta(days=offset + 91 * cycle)
            rows.append([patient, day.isoformat(), f"S{number:05d}", "North", practitioner, "cervical_dystonia",
                         "onabotulinumtoxinA", "150", "splenius_capitis:80;trapezius:70", "8", str(followup), "21",
                         "4", "14", "70" if followup == 2 else "30", "2" if followup == 2 else "4", "none"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(",".join(r) for r in [SESSION_COLUMNS, *rows]) + "\n", encoding="utf-8")
    return path
