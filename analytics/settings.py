"""Every threshold of the metrics specification in one object, with the defaults of shared/spec/metrics.md."""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import date


@dataclass(frozen=True)
class Settings:
    """Thresholds that steer the metrics; every metric function takes one. Frozen so it can key a cache."""

    responder_threshold_pct: float = 30.0  # IMMPACT "moderately important" pain reduction
    substantial_threshold_pct: float = 50.0  # IMMPACT "substantial"
    twstrs_responder_drop: float = 8.0  # TWSTRS points (Dashtipour 2019)
    short_interval_days: int = 84  # 12 weeks: spacing linked to neutralising antibodies
    booster_days: int = 28
    onset_within_days: int = 3
    peak_within_days: int = 14
    waning_last_n: int = 2  # the last N sessions with a response must all be low
    waning_fraction_pct: float = 50.0  # "low" = below this % of the best earlier response
    dose_raise_pct: float = 20.0
    muscle_keep_fraction: float = 0.5
    duration_shortened_pct: float = 30.0
    min_group_patients: int = 5  # small-number suppression
    landmark_days: tuple[int, ...] = (84, 112)  # share still benefiting at 12 and 16 weeks
    as_of: date | None = None  # None: the latest session_date in the data

    def to_dict(self) -> dict:
        """Plain values, for JSON, reports and cache keys."""
        out = asdict(self)
        out["as_of"] = self.as_of.isoformat() if self.as_of else None
        out["landmark_days"] = list(self.landmark_days)
        return out

    def with_changes(self, **changes) -> "Settings":
        """A copy with some thresholds changed; unknown names raise."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        return replace(self, **changes)


DEFAULT_SETTINGS = Settings()
