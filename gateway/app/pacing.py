"""Send like a person's phone, not a bulk sender, pure: when may the next text go?

Carriers watch a long code (an ordinary 10-digit number) for the marks of bulk sending and filter
or block it: many texts a day, texts fired faster than a thumb types, and the same words sent
again and again. Only the first is a published number (the daily cap, gateway/app/policy.py); the
other two are kept well clear of: never more than one text a second, and never the same words to
the same number twice within ten seconds (the second waits; it is not dropped, since the owner
may mean it). README, "Looking like a person's phone", says the same for the owner.
"""
from __future__ import annotations

import hashlib

MIN_GAP = 1.0      # s between the starts of any two texts
SAME_GAP = 10.0    # s between two identical texts to one number


def fingerprint(number: str, body: str) -> str:
    return hashlib.sha256(f"{number}\x00{body}".encode()).hexdigest()[:16]


class Pacer:
    """What was sent lately (kept in memory; seeded from the store at start, so that a restart
    does not reset it). `hold_until` says when a text may go; `sent` records that one went."""

    def __init__(self, recent=()) -> None:
        self.last: float | None = None
        self.same: dict[str, tuple[float, object]] = {}
        for at, number, body, text_id in recent:
            self.sent(number, body, at, text_id)

    def hold_until(self, number: str, body: str, now: float, text_id=None) -> float | None:
        """None: it may go now. Else the time it may go. `text_id` names the outbox row: its own
        retry is not a second text."""
        due = []
        if self.last is not None and now < self.last + MIN_GAP:
            due.append(self.last + MIN_GAP)
        before, which = self.same.get(fingerprint(number, body), (None, None))
        if before is not None and now < before + SAME_GAP and (which != text_id or text_id is None):
            due.append(before + SAME_GAP)
        return max(due) if due else None

    def sent(self, number: str, body: str, at: float, text_id=None) -> None:
        """A text was handed to the link at `at` (sent or not: the network may have it)."""
        self.last = at if self.last is None else max(self.last, at)
        self.same[fingerprint(number, body)] = (at, text_id)
        for key in [k for k, (t, _) in self.same.items() if t < self.last - SAME_GAP]:
            del self.same[key]
