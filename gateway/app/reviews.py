"""The finished job and its review request, pure: whether to ask, and when.

A review is how a one-truck business gets its next calls, and a request the same day converts
about twice as well as one the next day, so `textback done 12` (or `#12 done` texted by the owner)
asks at once, with `review.txt` and the owner's `[reviews] url`. The rules:
- every finished job is asked the same way: Google's review policy forbids asking only the happy
  customers ("review gating"), so there is no filter, no rating question first, no opt-in;
- never to a lead who opted out (the send-time check refuses it as any text), never twice
  (one outbox key per lead), never in quiet hours: marked done at 22:30, it waits for 08:00; marked
  at 20:55 it goes at once, and should the link be down until after 21:00 it waits for 08:00 too
  (checked again when it is due: `not_before`).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from gateway.app.followup import QUIET_END, QUIET_START

KIND = "review"


def key(lead_id: int) -> str:
    """The outbox key of a lead's one review request: a second `done` queues nothing."""
    return f"review|{lead_id}"


def why_not(*, url: str, opted_out: bool, asked: bool) -> str | None:
    """Why no review request goes to this lead (None: ask)."""
    if not url:
        return "no review link is set ([reviews] url)"
    if opted_out:
        return "they opted out (STOP)"
    if asked:
        return "they were asked already"
    return None


def not_before(now: float, tz) -> float:
    """`now`, or the end of quiet hours (21:00-08:00, business time) when `now` is in them."""
    local = datetime.fromtimestamp(now, tz)
    clock = local.time()
    if QUIET_END <= clock < QUIET_START:
        return now
    day = local.date() + timedelta(days=1 if clock >= QUIET_START else 0)
    return datetime.combine(day, QUIET_END, tzinfo=tz).timestamp()
