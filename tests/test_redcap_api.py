"""The REDCap API as a source, against a server on 127.0.0.1 started here that answers like REDCap's API: the data
dictionary and the records as CSV, 403 for a bad token, a 500 once, a response that never comes for the timeout."""
from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from analytics import redcap_api
from analytics.cli import build_parser, main
from analytics.redcap_api import Policy, RedcapApiError, fetch_export
from tests.test_redcap_cli import redcap_csv, sessions
from tests.test_redcap_export import DICTIONARY

TOKEN = "0123456789ABCDEF0123456789ABCDEF"


class FakeRedcap:
    """A REDCap API on a free port of 127.0.0.1; mode: 'ok', 'slow' (never answers until closed), 'fail_once'
    (a 500, then answers)."""

    def __init__(self, records: bytes, dictionary: bytes):
        self.mode = "ok"
        self.requests: list[dict] = []
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode("ascii")))
                fake.requests.append(form)
                if fake.mode == "slow":
                    fake.release.wait(30)
                    return
                if fake.mode == "fail_once" and len(fake.requests) == 1:
                    return self._send(500, b'{"error": "database busy"}', "application/json")
                if form.get("token") != TOKEN:
                    return self._send(403, b'{"error": "You do not have permissions to use the API"}',
                                      "application/json")
                if form.get("content") == "metadata" and form.get("format") == "csv":
                    return self._send(200, dictionary, "text/csv")
                if form.get("content") == "record" and form.get("type") == "flat" and form.get("format") == "csv":
                    return self._send(200, records, "text/csv")
                return self._send(400, b'{"error": "unknown request"}', "application/json")

            def _send(self, status: int, body: bytes, kind: str):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api():
    fake = FakeRedcap(redcap_csv(sessions()), DICTIONARY.read_bytes())
    yield fake
    fake.close()


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("REDCAP_API_TOKEN", TOKEN)
    monkeypatch.setenv("REDCAP_API_BACKOFF", "0")
    monkeypatch.setenv("OUTCOMES_LOG_FILE", str(tmp_path / "cli.log"))
    return monkeypatch


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_import_from_the_api_then_again_changes_nothing(api, env, tmp_path, capsys):
    db = str(tmp_path / "outcomes.duckdb")
    code, out, err = run(capsys, "import", "--redcap-url", api.url, "--db", db, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert (report["validation"]["accepted_rows"], report["import"]["new"]) == (15, 15)
    assert [(r["content"], r["format"]) for r in api.requests] == [("metadata", "csv"), ("record", "csv")]
    assert api.requests[1]["type"] == "flat" and api.requests[1]["rawOrLabel"] == "raw"
    code, out, _ = run(capsys, "import", "--redcap-url", api.url, "--db", db, "--json")
    again = json.loads(out)["import"]
    assert code == 0
    assert (again["new"], again["updated"], again["changed"]) == (0, 0, False)
    code, out, _ = run(capsys, "summary", "--db", db, "--json")
    assert json.loads(out)["sessions"] == 15
    assert TOKEN not in out and TOKEN not in err


def test_a_bad_token_is_a_plain_message_and_exit_2(api, env, tmp_path, capsys):
    env.setenv("REDCAP_API_TOKEN", "F" * 32)
    code, out, err = run(capsys, "import", "--redcap-url", api.url, "--db", str(tmp_path / "o.duckdb"))
    assert code == 2
    assert err.startswith("error: REDCap refused the API token (403) when asked for the data dictionary: check "
                          "REDCAP_API_TOKEN")
    assert "REDCap says: You do not have permissions to use the API" in err
    assert "F" * 32 not in out + err
    assert len(api.requests) == 1  # a refusal is not tried again
    assert not (tmp_path / "o.duckdb").exists()


def test_a_server_that_does_not_answer_times_out_after_the_attempts(api, env, tmp_path, capsys):
    api.mode = "slow"
    env.setenv("REDCAP_API_TIMEOUT", "0.2")
    env.setenv("REDCAP_API_ATTEMPTS", "2")
    code, _, err = run(capsys, "import", "--redcap-url", api.url, "--db", str(tmp_path / "o.duckdb"))
    assert code == 2
    assert err.strip() == ("error: The REDCap API gave no data dictionary: no answer within 0.2 seconds "
                           "(REDCAP_API_TIMEOUT), after 2 attempt(s). Nothing was imported; try again later.")
    assert len(api.requests) == 2


def test_a_server_error_is_tried_again_after_the_backoff(api):
    api.mode = "fail_once"
    waits = []
    records, dictionary = fetch_export(api.url, TOKEN, Policy(timeout=5, attempts=3, backoff=7), sleep=waits.append)
    assert dictionary == DICTIONARY.read_bytes()
    assert records == redcap_csv(sessions())
    assert waits == [7]
    assert len(api.requests) == 3


def test_a_closed_port_is_a_plain_message(env, tmp_path, capsys):
    env.setenv("REDCAP_API_ATTEMPTS", "1")
    code, _, err = run(capsys, "import", "--redcap-url", "http://127.0.0.1:9/api/", "--db",
                       str(tmp_path / "o.duckdb"))
    assert code == 2
    assert err.startswith("error: The REDCap API gave no data dictionary: the server could not be reached")


@pytest.mark.parametrize("token, words", [("", "No REDCap API token: put it in the environment variable "
                                                "REDCAP_API_TOKEN"),
                                          ("my-secret", "REDCAP_API_TOKEN does not hold a REDCap API token")])
def test_a_missing_or_malformed_token_is_refused_before_any_request(api, env, tmp_path, capsys, token, words):
    env.setenv("REDCAP_API_TOKEN", token)
    code, _, err = run(capsys, "import", "--redcap-url", api.url, "--db", str(tmp_path / "o.duckdb"))
    assert code == 2
    assert words in err
    assert "my-secret" not in err
    assert api.requests == []


def test_the_token_is_sent_only_over_https_except_to_this_machine():
    with pytest.raises(RedcapApiError, match="must start with https://"):
        redcap_api.checked_url("http://redcap.example.org/api/")
    assert redcap_api.checked_url("https://redcap.example.org/api/") == "https://redcap.example.org/api/"


def test_the_command_line_has_no_way_to_pass_the_token():
    importer = build_parser()._subparsers._group_actions[0].choices["import"]
    options = [o for action in importer._actions for o in action.option_strings]
    assert "--redcap-url" in options
    assert not [o for o in options if "token" in o]


def test_import_needs_a_file_or_the_url_not_both(env, tmp_path, capsys):
    code, _, err = run(capsys, "import", "--db", str(tmp_path / "o.duckdb"))
    assert code == 2 and "give a FILE to import, or --redcap-url URL" in err
    code, _, err = run(capsys, "import", "x.csv", "--redcap-url", "https://r.example/api/", "--db",
                       str(tmp_path / "o.duckdb"))
    assert code == 2 and "give a FILE or --redcap-url, not both" in err
