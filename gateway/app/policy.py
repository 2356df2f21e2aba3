"""Should this caller get a text-back now, and which one? Pure: the caller passes `now`, facts.

The checks run in the order of RULES below; the first that says no gives the reason. Reasons are a
short stable code first ("cooldown", "daily cap"), details in brackets after it, so counters can
group on the code (`reason.split(" (")[0]`).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time
from typing import Callable
from zoneinfo import ZoneInfo

from gateway.events import ANSWERED, REJECTED, UNKNOWN, CallEnded

MISSED_CALL = "missed_call"
AFTER_HOURS = "after_hours"


@dataclass(frozen=True)
class Rules:
    timezone: ZoneInfo
    hours: Mapping[int, tuple[time, time] | None]  # 0 = Monday; None or missing = closed all day
    cooldown: float = 86400.0      # seconds: one automatic text-back per caller per cooldown
    delay: float = 0.0             # seconds to wait before sending
    daily_cap: int = 200           # automatic texts per local day (README: carriers flag more)
    blocklist: frozenset[str] = frozenset()   # E.164
    contacts: frozenset[str] = frozenset()    # E.164 known contacts: never texted
    text_rejected: bool = True
    text_unknown: bool = True
    min_rings: int = 1             # fewer rings than this: a misdial, not texted


@dataclass(frozen=True)
class Facts:
    """What the store knows about this caller, read just before deciding."""

    opted_out: bool
    last_text_at: float | None   # last automatic text-back queued/sent to this number (epoch s)
    sent_today: int              # automatic texts queued/sent since local midnight


@dataclass(frozen=True)
class Decision:
    send: bool
    template: str | None    # MISSED_CALL or AFTER_HOURS when send
    reason: str | None      # why not, when not send
    send_at: float          # when to send (now + delay); `now` when not sending


@dataclass(frozen=True)
class _Case:
    """Everything one rule may look at."""

    call: CallEnded
    number: str | None
    short_code: bool
    now: float
    rules: Rules
    facts: Facts


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    hours, rest = divmod(seconds, 3600)
    return f"{hours} h {rest // 60} min" if rest >= 60 else f"{hours} h"


def _cooldown(c: _Case) -> str | None:
    last = c.facts.last_text_at
    if last is not None and c.now - last < c.rules.cooldown:
        return f"cooldown (texted {_ago(c.now - last)} ago)"
    return None


# Each rule returns a reason to stay silent, or None. Order matters: the outcome
# first (an answered call never texts), then who the caller is, then what we already did for them.
# A short code is checked before "invalid number" because short codes never normalise to E.164
# (numbers.normalize("72404") is None): the other order would hide the better reason.
RULES: tuple[Callable[[_Case], str | None], ...] = (
    lambda c: "answered" if c.call.outcome == ANSWERED else None,
    lambda c: ("rejected (text_rejected = false)"
               if c.call.outcome == REJECTED and not c.rules.text_rejected else None),
    lambda c: ("unknown (text_unknown = false)"
               if c.call.outcome == UNKNOWN and not c.rules.text_unknown else None),
    lambda c: "withheld" if c.call.withheld or not c.call.number else None,
    lambda c: "short code" if c.short_code else None,
    lambda c: "invalid number" if c.number is None else None,
    lambda c: "blocklist" if c.number in c.rules.blocklist else None,
    lambda c: "contact" if c.number in c.rules.contacts else None,
    lambda c: "opted out" if c.facts.opted_out else None,
    # a call that rang fewer times than policy.min_rings (a misdial). A call learnt
    # afterwards (the modem's missed-calls list, the phone's call log) has no ring count: kept.
    lambda c: (f"too few rings ({c.call.rings} ring{'s' if c.call.rings != 1 else ''}, "
               f"min_rings = {c.rules.min_rings})"
               if c.call.rings < c.rules.min_rings and not c.call.recovered else None),
    _cooldown,
    lambda c: (f"daily cap ({c.rules.daily_cap}) reached"
               if c.facts.sent_today >= c.rules.daily_cap else None),
)


def decide(call: CallEnded, number: str | None, *, short_code: bool, now: float, rules: Rules,
           facts: Facts) -> Decision:
    """Text this caller back, or say why not. `number`: E.164 (None if withheld or invalid)."""
    case = _Case(call, number, short_code, now, rules, facts)
    for rule in RULES:
        reason = rule(case)
        if reason is not None:
            return Decision(send=False, template=None, reason=reason, send_at=now)
    template = MISSED_CALL if in_hours(now, rules) else AFTER_HOURS
    return Decision(send=True, template=template, reason=None, send_at=now + rules.delay)


def in_hours(now: float, rules: Rules) -> bool:
    """Open for business at `now`, by the wall clock in the business time zone."""
    local = datetime.fromtimestamp(now, rules.timezone)
    span = rules.hours.get(local.weekday())
    if span is None:
        return False
    start, end = span
    wall = local.time()
    # The end is exclusive ("07:00-17:00" is closed at 17:00:00), except time.max, which config
    # uses for "24:00" (open until midnight).
    return start <= wall and (wall < end or end == time.max)


def day_start(now: float, tz) -> float:
    """Local midnight of `now`'s calendar day in `tz`, as epoch seconds.

    DST-safe: the day's first instant is computed from the local date, not by subtracting 24 h.
    Where midnight itself does not exist (a zone that springs forward at 00:00), fold=0 resolves it
    with the offset before the gap, landing on the transition: the day's first instant (PEP 495).
    """
    local = datetime.fromtimestamp(now, tz)
    midnight = datetime.combine(local.date(), time(0), tzinfo=tz)
    return midnight.timestamp()
