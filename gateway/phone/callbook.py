"""CallGate's PHONE_STATE webhooks grouped into calls, and each call decided: pure, every time is
a parameter (the phone link feeds it; docs/reference/phone-apps.md, "Calls").

CallGate only reports PHONE_STATE changes (ringing, started = off hook, ended = idle), doubled and
unordered, so `CallBook` groups them into calls and decides each call from what the group holds,
not from the order it arrived in.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

from gateway import events as ev
from gateway.config import PhoneSettings

log = logging.getLogger(__name__)

# s a finished call waits for the other copy of its call:ended and any straggler of its other
# events (Android posts each phone state twice; CallGate sends each as its own job, in no set
# order). A call whose copies are all in is decided at once (CallBook.complete). The value is
# the settings' default ([phone] in gateway/config.py), so that one number says it.
SETTLE = PhoneSettings.settle
# s without call:ended before the call is decided unknown (a lost event): call_timeout_seconds.
LOST_END = PhoneSettings.lost_end
# s a decided call keeps taking its late copies, so that none of them starts a phantom call.
TAIL = 30.0
# s of one ring: Android tells no ring count, so policy.min_rings counts one ring per cadence of
# ringing time; 6 s is the North American cadence (2 s on, 4 s off; ITU-T E.180 Supplement 2).
RING_CYCLE = 6.0
ENDED_ONLY = "call:ended without call:ringing (its ringing was lost)"
WAITING = "call waiting: looks answered (Android cannot tell)"


@dataclass
class _Group:
    """The events of one call (or of a call plus a waiting one), as they came."""

    first: float
    last: float
    numbers: list = field(default_factory=list)  # distinct non-empty numbers that rang
    rang: bool = False
    picked: bool = False     # call:started seen (answered, or an outgoing call)
    ended: float | None = None
    ended_numbers: list = field(default_factory=list)  # numbers named by call:ended
    started_numbers: list = field(default_factory=list)  # numbers named by call:started
    ids: dict = field(default_factory=dict)      # number ("" = withheld) -> call id
    # (event, "numbered" | "blank") -> copies seen: Android's two broadcasts of each state, one
    # with EXTRA_INCOMING_NUMBER ("" for a withheld caller) and one without (payload {}).
    copies: Counter = field(default_factory=Counter)
    decided: bool = False


class CallBook:
    """PHONE_STATE webhooks in, CallRinging / CallEnded out. Pure: every time is a parameter.

    A call is decided SETTLE s after its call:ended, or at once when every copy of its events is
    in (both copies of call:ringing and of call:ended, and of call:started if any came). A decided
    call stays TAIL s to take its late copies; an event that does not fit it (a second copy of a
    kind it already has, another caller) is a new call: a caller who rings again at once.
    """

    def __init__(self, settle: float = SETTLE, lost_end: float = LOST_END) -> None:
        self.settle, self.lost_end = settle, lost_end
        self.groups: list[_Group] = []
        self._next_id = 1

    def feed(self, event: str, number: str | None, at: float) -> list:
        kind = "blank" if number is None else "numbered"
        number = (number or "").strip()
        group = self._group_for(event, number, kind, at)
        group.last = max(group.last, at)
        group.copies[(event, kind)] += 1
        if group.decided:
            assert group.ended is not None   # a decided call has its end
            if event == "call:started" and not group.picked:
                log.warning(
                    "a call:started came %.1f s after its call was decided", at - group.ended
                )
            return []
        if event == "call:started":
            group.picked = True
            if number and number not in group.started_numbers:
                group.started_numbers.append(number)
        elif event == "call:ended":
            group.ended = at if group.ended is None else group.ended
            if number and number not in group.ended_numbers:
                group.ended_numbers.append(number)
        elif event == "call:ringing":
            group.rang = True
            if number and number not in group.numbers:
                group.numbers.append(number)
                return [self._ringing(group, number, at)]
            # Withheld only when the copy that carries the number says "" (the copy without one
            # tells nothing: its twin names the caller).
            if not group.numbers and kind == "numbered" and "" not in group.ids:
                return [self._ringing(group, "", at)]
        return []

    def _group_for(self, event: str, number: str, kind: str, at: float) -> _Group:
        group = self.groups[-1] if self.groups else None
        if group is not None:
            known = group.numbers + group.ended_numbers
            stranger = bool(number) and bool(known) and number not in known
            if group.ended is not None:
                # After the end only late copies join: soon after, naming no other caller, and
                # filling a copy the call has not had yet. Anything else is the next call.
                late = (at <= group.ended + TAIL and not stranger
                        and group.copies[(event, kind)] == 0)
                if not late:
                    group = None
            elif event == "call:ended" and stranger and not group.picked:
                # With no call on, one caller rings at a time: the end of another caller's call
                # (its ringing lost) is another call; this one waits for its own end.
                group = None
        if group is None:
            group = _Group(first=at, last=at)
            self.groups.append(group)
        return group

    def _ringing(self, group: _Group, number: str, at: float) -> ev.CallRinging:
        return ev.CallRinging(call_id=self._id(group, number), number=number or None,
                              number_type=None, withheld=not number, at=at)

    def _id(self, group: _Group, number: str) -> int:
        if number not in group.ids:
            group.ids[number] = self._next_id
            self._next_id += 1
        return group.ids[number]

    @staticmethod
    def complete(group: _Group) -> bool:
        """Both copies of its ringing and of its end are in, and of its pick-up if it had one."""
        c = group.copies
        return (all(c[(event, kind)] for event in ("call:ringing", "call:ended")
                    for kind in ("numbered", "blank"))
                and c[("call:started", "numbered")] == c[("call:started", "blank")])

    def tick(self, now: float) -> list[ev.CallEnded | ev.CallPlaced]:
        out: list[ev.CallEnded | ev.CallPlaced] = []
        for group in list(self.groups):
            if group.decided:
                assert group.ended is not None   # a decided call has its end
                if now >= group.ended + TAIL:
                    self.groups.remove(group)
                continue
            settled = group.ended is not None and (
                self.complete(group) or now >= max(group.last, group.ended) + self.settle)
            lost = group.ended is None and now >= group.last + self.lost_end
            if settled or lost:
                ended = now if lost or group.ended is None else group.ended
                out += self._decide(group, ended, lost)
                group.decided = True
                group.ended = ended
        return out

    def _decide(self, group: _Group, ended: float,
                lost: bool) -> list[ev.CallEnded | ev.CallPlaced]:
        # The number comes with the ringing, or, when only its copy without one came (the other
        # lost, or taken by a daemon that was killed), with the end (found by bench/crash_phone.py).
        numbers = group.numbers or group.ended_numbers
        if not group.rang:
            if group.picked or not group.ended_numbers:
                # An outgoing call: Telecom's PhoneStateBroadcaster gives OFFHOOK the dialled
                # number (docs/reference/phone-apps.md, "Calls"). a lead called back.
                log.debug("a call with no ringing (outgoing): no text")
                return [ev.CallPlaced(number, group.first)
                        for number in group.started_numbers or group.ended_numbers]
            # call:ended alone, no call:started: not an outgoing call (those go off hook), so an
            # incoming one whose ringing was lost (CallGate tries once by default, maybe while we
            # were down). Missed or answered cannot be told: policy (text_unknown) decides.
            numbers, outcome, how = group.ended_numbers, ev.UNKNOWN, ENDED_ONLY
        elif group.picked:
            outcome, how = ev.ANSWERED, "call:started"
            if lost:
                how = "call:started (call:ended not seen)"
        elif lost:
            outcome, how = ev.UNKNOWN, f"no call:ended within {self.lost_end:.0f} s (lost event?)"
        else:
            # Declined on the phone gives the same states as not picked up: both are misses.
            outcome, how = ev.MISSED, "call:ended without call:started"
        out: list[ev.CallEnded | ev.CallPlaced] = []
        for i, number in enumerate(numbers or [""]):
            if i and group.picked:
                how = WAITING
            out.append(ev.CallEnded(call_id=self._id(group, number), number=number or None,
                                    number_type=None, withheld=not number, outcome=outcome,
                                    started=group.first, ended=ended,
                                    rings=1 + int(max(0.0, ended - group.first) // RING_CYCLE),
                                    how=how))
        return out

    def next_deadline(self) -> float | None:
        due = []
        for g in self.groups:
            if g.decided:
                continue  # forgotten at the next tick after TAIL: nothing to wake up for
            if g.ended is not None:
                due.append(g.ended if self.complete(g) else max(g.last, g.ended) + self.settle)
            else:
                due.append(g.last + self.lost_end)
        return min(due) if due else None
