"""Every threshold of the metrics in one object, with the defaults of docs/metrics.md, and the words and bounds of
each one (`Knob`), from which the app's sidebar, the command line's options and the reports' settings table are
all made: a new threshold is one field here."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import date


@dataclass(frozen=True)
class Knob:
    """How a person sees and sets one threshold.

    The value shown and typed is the setting times `scale` (a fraction 0..1 is shown as a percentage), rounded to
    a whole number when `integer`. `cli` names extra command-line spellings beside --field-name."""

    label: str
    unit: str  # what the shown value is in: "%", "days", "points", "responses", "patients"
    low: float
    high: float
    step: float
    integer: bool
    help: str
    scale: float = 1.0
    cli: tuple[str, ...] = ()

    def shown(self, value: float) -> float | int:
        """The setting as the person sees it (scaled; whole when integer)."""
        shown = value * self.scale
        return int(round(shown)) if self.integer else float(shown)

    def stored(self, shown: float) -> float | int:
        """The setting from the value a person typed (the inverse of `shown`)."""
        value = shown / self.scale
        if self.scale == 1.0 and self.integer:
            return int(round(value))
        return float(value)


def _knob(default, label: str, unit: str, low: float, high: float, step: float, help: str, *, integer: bool = False,
          scale: float = 1.0, cli: tuple[str, ...] = ()):
    return field(default=default, metadata={"knob": Knob(label, unit, low, high, step, integer, help, scale, cli)})


@dataclass(frozen=True)
class Settings:
    """Thresholds that steer the metrics; every metric function takes one. Frozen so it can key a cache."""

    responder_threshold_pct: float = _knob(
        30.0, "Responder: pain reduction of at least (%)", "%", 5, 100, 5,
        "IMMPACT: 30% is a moderately important reduction, 50% a substantial one.", cli=("--threshold",))
    substantial_threshold_pct: float = _knob(
        50.0, "Substantial response: at least (%)", "%", 5, 100, 5,
        "Shown as the 'substantial' line on charts of response.")
    twstrs_responder_drop: float = _knob(
        8.0, "TWSTRS responder: drop of at least (points)", "points", 1, 40, 1,
        "Used where pain was not scored (cervical dystonia); Dashtipour 2019.")
    short_interval_days: int = _knob(
        84, "Short interval: sooner than (days)", "days", 7, 365, 7,
        "Re-injection sooner than 12 weeks (84 days) is linked to neutralising antibodies.", integer=True)
    booster_days: int = _knob(
        28, "Booster: sooner than (days)", "days", 1, 120, 1, "A top-up soon after an injection.", integer=True)
    onset_within_days: int = _knob(
        3, "Onset expected within (days)", "days", 1, 60, 1, "Share of sessions with onset by then.", integer=True)
    peak_within_days: int = _knob(
        14, "Peak expected within (days)", "days", 1, 120, 1, "Share of sessions peaking by then.", integer=True)
    waning_last_n: int = _knob(
        2, "Diminished: last N responses all low, N =", "responses", 1, 6, 1,
        "How many of the latest responses must all be low for a 'diminished' flag.", integer=True)
    waning_fraction_pct: float = _knob(
        50.0, "Low response: below (% of the patient's reference)", "%", 10, 90, 5,
        "A response below this share of the patient's reference (the mean of their two best earlier responses) "
        "counts as low.")
    dose_raise_pct: float = _knob(
        20.0, "Factor: dose raised by at least (%)", "%", 5, 200, 5, "Since the best cycle, same product.")
    muscle_keep_fraction: float = _knob(
        0.5, "Factor: muscles kept below (%)", "%", 10, 100, 5,
        "Fewer than this share of the best cycle's muscles still injected.", integer=True, scale=100.0)
    duration_shortened_pct: float = _knob(
        30.0, "Factor: benefit shorter by at least (%)", "%", 5, 90, 5,
        "Latest recorded duration against the patient's earlier median.")
    min_group_patients: int = _knob(
        5, "Hide groups with fewer than (patients)", "patients", 1, 50, 1,
        "Small-number suppression: such groups show 'suppressed' in every table, chart and export.", integer=True)
    landmark_days: tuple[int, ...] = (84, 112)  # share still benefiting at 12 and 16 weeks (fixed)
    as_of: date | None = None  # None: the latest session_date in the data

    def to_dict(self) -> dict:
        """Plain values, for JSON, reports and cache keys."""
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat() if self.as_of else None
        out["landmark_days"] = list(self.landmark_days)
        return out

    def key(self) -> str:
        """A stable text of every value: the part of a cache key (the app's, the store's first page) that says
        which settings a result was computed with."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def with_changes(self, **changes) -> "Settings":
        """A copy with some thresholds changed; unknown names raise."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **changes)


DEFAULT_SETTINGS = Settings()

# Words for the fields a person does not set with a knob (the reports' settings table names them too).
FIXED_LABELS = {"landmark_days": "Share still benefiting at (days)", "as_of": "As-of date"}


def knobs() -> dict[str, Knob]:
    """Every adjustable threshold, in the order of Settings: {field name: Knob}."""
    return {f.name: f.metadata["knob"] for f in fields(Settings) if "knob" in f.metadata}


def label(name: str) -> str:
    """The words for a Settings field, as every surface shows them."""
    knob = knobs().get(name)
    return knob.label if knob else FIXED_LABELS.get(name, name)


def changed_from_defaults(settings: Settings) -> list[str]:
    """Labels of the thresholds that differ from the defaults."""
    return [knob.label for name, knob in knobs().items()
            if getattr(settings, name) != getattr(DEFAULT_SETTINGS, name)]
