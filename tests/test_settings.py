"""Each threshold is described once, on its Settings field (analytics.settings.Knob), and every surface is made from
that: the app's sidebar, the command line's options and the reports' settings table."""
from __future__ import annotations

from dataclasses import fields

import pytest

from analytics.cli import build_parser, settings_from_args
from analytics.presentation import settings_rows
from analytics.settings import DEFAULT_SETTINGS, Settings, changed_from_defaults, knobs, label


def test_every_field_but_the_fixed_ones_has_a_knob():
    assert set(knobs()) == {f.name for f in fields(Settings)} - {"as_of", "landmark_days"}
    for name, knob in knobs().items():
        assert knob.low <= knob.shown(getattr(DEFAULT_SETTINGS, name)) <= knob.high, name
        assert knob.integer == isinstance(knob.shown(getattr(DEFAULT_SETTINGS, name)), int), name


def test_shown_and_stored_are_inverse():
    keep = knobs()["muscle_keep_fraction"]
    assert keep.shown(0.5) == 50 and keep.stored(50) == 0.5 and isinstance(keep.stored(50), float)
    short = knobs()["short_interval_days"]
    assert short.shown(84) == 84 and short.stored(90.0) == 90 and isinstance(short.stored(90.0), int)
    threshold = knobs()["responder_threshold_pct"]
    assert threshold.shown(30.0) == 30.0 and isinstance(threshold.stored(42.5), float)


@pytest.mark.parametrize("command", ["summary", "report", "timeline"])
def test_every_knob_is_a_command_line_option(command):
    parser = build_parser()
    sub = next(a for a in parser._subparsers._group_actions[0].choices.items() if a[0] == command)[1]
    options = {s for action in sub._actions for s in action.option_strings}
    for name, knob in knobs().items():
        assert f"--{name.replace('_', '-')}" in options, name
        assert set(knob.cli) <= options


def test_command_line_values_are_in_the_units_the_app_shows():
    args = build_parser().parse_args(["summary", "x.csv", "--muscle-keep-fraction", "40", "--threshold", "50",
                                      "--booster-days", "21", "--as-of", "2025-06-30"])
    settings = settings_from_args(args)
    assert settings.muscle_keep_fraction == 0.4 and settings.responder_threshold_pct == 50.0
    assert settings.booster_days == 21 and isinstance(settings.booster_days, int)
    assert settings.as_of.isoformat() == "2025-06-30"
    assert changed_from_defaults(settings) == [label("responder_threshold_pct"), label("booster_days"),
                                               label("muscle_keep_fraction")]


@pytest.mark.parametrize("option, value", [("--threshold", "500"), ("--booster-days", "2.5"),
                                           ("--waning-last-n", "0"), ("--short-interval-days", "ten")])
def test_out_of_range_values_are_refused_by_the_parser(option, value, capsys):
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["summary", "x.csv", option, value])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "out of range" in err or "is not a number" in err


def test_the_reports_settings_table_names_every_setting():
    words = [w for w, _ in settings_rows(DEFAULT_SETTINGS, "2026-09-30")]
    assert words == [label(f.name) for f in fields(Settings)]
    assert len(set(words)) == len(words)
