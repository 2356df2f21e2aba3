"""When the one follow-up to a lead who has not replied goes out, pure: time is a parameter.

Default: the next business morning (the next day whose hours are open, at its opening time) in the
business's time zone; or a fixed delay `after`. Either way never inside quiet hours.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Mapping
from zoneinfo import ZoneInfo

# Quiet hours, local to the business: 21:00 to 08:00. The TCPA rule for telephone solicitations
# (47 U.S.C. 227(c), 47 CFR 64.1200(c)(1)) bans them before 8 a.m. and after 9 p.m. at the called
# party's location; a follow-up is the closest thing textback sends to a solicitation, and textback
# uses the business's time zone for it (most leads are local).
QUIET_START = time(21, 0)
QUIET_END = time(8, 0)

# How far ahead to look for an open day: a week covers every weekday once.
DAYS_AHEAD = 7


@dataclass(frozen=True)
class FollowUpRules:
    timezone: ZoneInfo
    hours: Mapping[int, tuple[time, time] | None]  # weekday (0 = Monday) -> (open, close) | closed
    after: float | None = None  # seconds after the text instead of "next business morning"

    def __post_init__(self):
        if self.after is not None and self.after < 0:
            raise ValueError(f"follow-up delay must not be negative, got {self.after}")


def rules_for(config, after: float | None = None) -> FollowUpRules:
    """The rules for a loaded `gateway.config.Config`."""
    return FollowUpRules(config.business.timezone, config.hours, after)


def follow_up_at(texted_at: float, *, rules: FollowUpRules) -> float:
    """Epoch seconds when the follow-up to a lead texted at `texted_at` is due.

    With `rules.after`: `texted_at + after` (elapsed seconds). Otherwise the opening time of the
    first open day after the local day of `texted_at`; the next day at QUIET_END if no day is
    open. Then moved out of quiet hours.
    """
    if rules.after is not None:
        return _out_of_quiet(texted_at + rules.after, rules.timezone)
    today = datetime.fromtimestamp(texted_at, rules.timezone).date()
    for ahead in range(1, DAYS_AHEAD + 1):
        day = today + timedelta(days=ahead)
        hours = rules.hours.get(day.weekday())
        if hours is not None:
            return _out_of_quiet(_at(day, hours[0], rules.timezone), rules.timezone)
    return _at(today + timedelta(days=1), QUIET_END, rules.timezone)


def due_ok(now: float, rules: FollowUpRules) -> bool:
    """True outside quiet hours: re-checked at send time (the daemon may have been down)."""
    return not _quiet(datetime.fromtimestamp(now, rules.timezone).time())


def _quiet(clock: time) -> bool:
    return clock >= QUIET_START or clock < QUIET_END


def _out_of_quiet(t: float, tz: ZoneInfo) -> float:
    local = datetime.fromtimestamp(t, tz)
    if not _quiet(local.time()):
        return t
    day = local.date() + timedelta(days=1 if local.time() >= QUIET_START else 0)
    return _at(day, QUIET_END, tz)


def _at(day: date, clock: time, tz: ZoneInfo) -> float:
    # A wall time that a DST change skips (02:30 on the spring-forward day) maps to the hour after.
    return datetime.combine(day, clock, tzinfo=tz).timestamp()
