"""How long a finding has been open in its owner's working hours, and who hears about it.

Hours are counted in the owner's own time zone (zoneinfo) and working days, so a finding opened
on a Friday evening in Berlin has not been ignored for a weekend.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["EscalationConfig", "LadderStep", "working_hours"]

# Beyond this many days the answer no longer changes any ladder anyone would configure.
_MAX_DAYS = 400


class LadderStep(BaseModel):
    """After `after_hours` working hours open, `to` is told as well."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    after_hours: float = Field(ge=0)
    to: Literal["owner", "approver", "lead"]


class EscalationConfig(BaseModel):
    """`[escalation]`: working hours, the ladder, and the lead at its top."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start_hour: int = Field(default=9, ge=0, le=23)
    end_hour: int = Field(default=17, ge=1, le=24)
    work_days: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4])  # Monday = 0
    default_time_zone: str = "UTC"
    ladder: list[LadderStep] = Field(
        default_factory=lambda: [
            LadderStep(after_hours=0, to="owner"),
            LadderStep(after_hours=16, to="approver"),
            LadderStep(after_hours=40, to="lead"),
        ]
    )
    leads: list[str] = Field(default_factory=list)  # directory person keys

    @field_validator("default_time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (use an IANA name)") from None
        return value

    def zone(self, name: str) -> ZoneInfo:
        """The named zone, or the default when the name is empty or unknown."""
        for candidate in (name, self.default_time_zone, "UTC"):
            try:
                return ZoneInfo(candidate) if candidate else ZoneInfo("UTC")
            except (ZoneInfoNotFoundError, ValueError):
                continue
        return ZoneInfo("UTC")


def working_hours(start: datetime, end: datetime, zone: ZoneInfo, cfg: EscalationConfig) -> float:
    """Working hours between two aware datetimes, counted in `zone`."""
    if end <= start or cfg.end_hour <= cfg.start_hour:
        return 0.0
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    day = local_start.date()
    total = 0.0
    for _ in range(_MAX_DAYS):
        if day > local_end.date():
            break
        if day.weekday() in cfg.work_days:
            open_ = datetime.combine(day, time(cfg.start_hour), zone)
            close = (
                datetime.combine(day + timedelta(days=1), time(0), zone)
                if cfg.end_hour == 24
                else datetime.combine(day, time(cfg.end_hour), zone)
            )
            lo, hi = max(open_, local_start), min(close, local_end)
            if hi > lo:
                total += (hi - lo).total_seconds() / 3600
        day += timedelta(days=1)
    return total
