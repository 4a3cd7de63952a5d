"""Logs hold no cell value: tracebacks keep the stack and lose the quoted data (analytics/log_privacy.py)."""
from __future__ import annotations

import io
import logging

import pandas as pd
import pytest

from analytics import cli
from analytics.log_privacy import ScrubbingFormatter, scrub_text, scrubbed_traceback


# Secrets are built from parts: a traceback quotes the source lines of the test itself, which are not data.
NAME = "Mary O" + "'Brien-Smith"
CODE = "ZQX" + "-LOG-SECRET"
MAIL = "jane.doe" + "@example.com"
FILE = "/data/Jane_Doe" + "_DOB_1961-03-02.csv"


def _raised(func):
    try:
        func()
    except Exception as err:  # noqa: BLE001 - the test wants the live exception
        return err
    raise AssertionError("no exception")


def test_quoted_values_paths_and_identifiers_are_scrubbed():
    text = ("could not convert string to float: 'Jane Doe' in \"notes\" of /home/lead/Jane_Doe_DOB_1961.csv; "
            "ring 07700 900123 or jane.doe@example.com")
    scrubbed = scrub_text(text)
    for secret in ("Jane", "Doe", "1961", "07700", "900123", "jane.doe", "example.com"):
        assert secret not in scrubbed
    assert scrubbed.startswith("could not convert string to float: '…' in '…' of <path>")


def test_a_pandas_error_quoting_a_cell_keeps_its_stack_and_loses_the_cell():
    error = _raised(lambda: pd.Series([NAME]).astype("float64"))
    text = scrubbed_traceback(error)
    assert "Brien" not in text and "Mary" not in text
    assert "Traceback (most recent call last):" in text
    assert "test_log_privacy.py" in text  # the stack is kept for support
    assert text.rstrip().splitlines()[-1].startswith("ValueError")


def test_chained_exceptions_are_scrubbed_too():
    def inner():
        raise KeyError(f"patient '{CODE}'")

    def outer():
        try:
            inner()
        except KeyError as err:
            raise RuntimeError(f"while reading \"{CODE}2\"") from err

    text = scrubbed_traceback(_raised(outer))
    assert CODE not in text
    assert text.count("Traceback (most recent call last):") == 2
    assert "RuntimeError" in text and "KeyError" in text


def test_an_exception_whose_message_cannot_be_built_is_named_only():
    class Odd(Exception):
        def __str__(self):
            raise TypeError("no message")

    assert scrubbed_traceback(_raised(lambda: (_ for _ in ()).throw(Odd()))).rstrip().endswith("Odd")


def test_the_formatter_scrubs_messages_and_tracebacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(ScrubbingFormatter("%(levelname)s %(message)s"))
    log = logging.getLogger("outcomes.test_log_privacy")
    log.addHandler(handler)
    log.propagate = False
    try:
        log.warning("value %s rejected", "'943 476 " + "5919'")
        try:
            int(NAME)
        except ValueError:
            log.exception("page failed")
    finally:
        log.removeHandler(handler)
    text = stream.getvalue()
    assert "943 476 5919" not in text and "Brien" not in text
    assert text.startswith("WARNING value '…' rejected")
    assert "page failed" in text and "ValueError" in text


def test_the_cli_log_of_an_internal_error_names_no_file_and_no_value(tmp_path, monkeypatch, capsys):
    log_file = tmp_path / "cli.log"
    monkeypatch.setenv(cli.LOG_FILE_ENV, str(log_file))

    def broken(args):
        raise RuntimeError(f"cell '{MAIL}' of {args.file}")

    parser = cli.build_parser()
    real = parser.parse_args
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(parser, "parse_args", lambda argv: real(argv).__class__(**{**vars(real(argv)), "run": broken}))
    code = cli.main(["validate", FILE])
    assert code == 3
    text = log_file.read_text(encoding="utf-8")
    assert "RuntimeError" in text
    for secret in ("Jane", "1961", "jane.doe", "example.com"):
        assert secret not in text
    assert "Jane" not in capsys.readouterr().err


@pytest.mark.parametrize("message", ["", "plain words with no data"])
def test_harmless_messages_pass_unchanged(message):
    assert scrub_text(message) == message
