"""The call tracker: unsolicited modem lines and a clock in, CallRinging / CallEnded out (pure).

Sans-I/O like h11: the daemon feeds each unsolicited line with its arrival time, calls
`tick(now)` at `next_deadline()`, and sends AT+CLCC when `poll_due(now)`, handing the answer to
`on_clcc`. The states and transitions are the table below; each line becomes one `Signal` through
the family's URC readers (gateway.at.families). Facts: docs/reference/modems.md.

Every family is polled while a call is in progress, whether or not it sends an end line: the end
line decides at once when it comes, the call list within a poll interval when it does not, and
ring silence only when the call list cannot be had (docs/reference/modems.md, "Deciding the end").
"""
from __future__ import annotations

from dataclasses import dataclass

from gateway.at import families
from gateway.at.families import ACTIVE, END, INCOMING, RESTART, RING, Family, Signal
from gateway.events import ANSWERED, MISSED, UNKNOWN, CallEnded, CallRinging
from gateway.numbers import same_number

Event = CallRinging | CallEnded

# ---- states and transitions ---------------------------------------------------------------------
IDLE, RINGING, CONNECTED = "idle", "ringing", "connected"

# (state, signal) -> next state. A pair that is absent changes nothing: end lines with no call are
# leftovers of one already ended (SIMCom sends VOICE CALL: END, NO CARRIER and +CLCC 6 per call).
TRANSITIONS: dict[tuple[str, str], str] = {
    # A call may start with RING, +CRING, +CLIP or +CLCC 4 (docs/reference/modems.md, "Framing");
    # u-blox may send no RING at all, only +UCALLSTAT: 1,4 ("How each family reports a call").
    (IDLE, RING): RINGING,
    (IDLE, INCOMING): RINGING,
    (RINGING, RING): RINGING,
    (RINGING, INCOMING): RINGING,
    (RINGING, ACTIVE): CONNECTED,
    (RINGING, END): IDLE,           # MISSED, unless the end line says connected (^CEND duration)
    (CONNECTED, END): IDLE,         # ANSWERED
    (RINGING, RESTART): IDLE,       # UNKNOWN
    (CONNECTED, RESTART): IDLE,     # UNKNOWN
}

# Two RINGs closer than this are one ring seen twice (duplicated on two CMUX channels, OVMS#172);
# the fastest documented voice cadence is 5 s (Huawei MU509 spec 9.18).
DUPLICATE_RING = 1.0
# A call-start line this soon after a call ended is a leftover of that call, not a new caller.
LEFTOVER = 1.0
# An AT+CLCC answer that lists no call of ours means the call is over (27.007 7.18: the list of
# current calls; none, and only OK comes). Once the modem has listed this call, one such answer
# ends it. A call it never listed (hung up before the first poll, or a modem whose list leaves out
# ringing calls) needs this many empty answers in a row (rusp_firmware CLCC_ABSENT_LIMIT 3, 1 Hz)
# and no RING for one cadence of the family and one poll more: a list that leaves ringing calls
# out must not end a call that still rings.
CLCC_ABSENT_LIMIT = 3
# Failed AT+CLCC polls in a row (an error, no answer, a line that cannot be read) after which we
# stop polling this call and rely on the end line and ring silence; the decision names why.
CLCC_FAILED_LIMIT = 3


# ---- the tracker -------------------------------------------------------------------------------
@dataclass
class _Call:
    id: int
    started: float
    evidence: float                # last sign that it still rings
    next_poll: float
    number: str | None = None
    number_type: int | None = None
    withheld: bool = False
    announced: bool = False        # the first CallRinging went out
    caller_known: bool = False     # a CallRinging carried the caller ID (number or withheld)
    rings: int = 0
    last_ring: float | None = None
    cues: int = 0                  # ring cadences told by other lines (u-blox sends no RING)
    last_cue: float | None = None
    connected: bool = False
    empty_polls: int = 0
    failed_polls: int = 0
    listed: bool = False           # an AT+CLCC answer listed it: an empty one now ends it
    poll_error: str = ""           # why the last poll failed


class CallTracker:
    def __init__(self, family: Family, *, ring_timeout: float = 12.0, poll_interval: float = 1.0,
                 max_ring: float = 120.0):
        self.family = family
        # Two cadences of this family, never less than ring_timeout: tolerates one lost URC
        # (rusp_firmware RING_EVIDENCE_TIMEOUT_MS = 12000; modems.md "Ring cadence and ring
        # silence").
        self.silence = max(ring_timeout, 2 * family.ring_interval)
        self.poll_interval = poll_interval
        self._cadence_gone = family.ring_interval + poll_interval   # a RING is overdue by then
        self.max_ring = max_ring
        self.state = IDLE
        self._call: _Call | None = None
        self._ids = 0
        self._now = float("-inf")
        self._ended_at: float | None = None
        self._ended_number: str | None = None

    # -- inputs ------------------------------------------------------------------------------------
    def feed(self, line: str, now: float) -> list[Event]:
        """One unsolicited line that arrived at `now`: the events it causes ([] if unknown)."""
        events = self.tick(now)        # a deadline that passed unseen decides before this line
        signal = self._read(line)
        found = self._apply(signal, now) if signal else []
        if signal is not None and signal.kind == INCOMING and self._call is not None:
            self._cue(self._call, now)
        return events + found

    def tick(self, now: float) -> list[Event]:
        self._now = max(self._now, now)
        call = self._call
        if self.state != RINGING or call is None:
            return []
        silent_at, too_long_at = call.evidence + self.silence, call.started + self.max_ring
        if now >= min(silent_at, too_long_at):
            if silent_at <= too_long_at:
                return self._end(MISSED, self._silence(call), silent_at)
            return self._end(UNKNOWN, "ringing too long", too_long_at)
        return []

    def on_clcc(self, lines: list[str] | None, now: float, why: str = "no answer") -> list[Event]:
        """The +CLCC lines of a poll ([] = no calls), or None if the poll failed (`why`: the
        modem's error line, or what else went wrong)."""
        events = self.tick(now)
        signals = None if lines is None else families.read_clcc_answer(lines)
        call = self._call
        if signals is None:
            if call is not None:
                call.failed_polls += 1
                call.poll_error = why if lines is None else "an answer that cannot be read"
                call.next_poll = now + self.poll_interval
            return events
        for signal in signals:
            events += self._apply(signal, now)
        call = self._call
        if call is None:
            return events
        call.failed_polls = 0
        call.next_poll = now + self.poll_interval
        if any(s.kind in (INCOMING, ACTIVE) for s in signals):
            call.empty_polls = 0
            call.listed = True
        else:
            call.empty_polls += 1
            if call.listed or (call.empty_polls >= CLCC_ABSENT_LIMIT
                               and now - call.evidence >= self._cadence_gone):
                events += self._end(ANSWERED if call.connected else MISSED, "+CLCC empty", now)
        return events

    # -- questions ---------------------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        call = self._call
        if call is None:
            return None
        due = [call.next_poll] if self._polling() else []
        if self.state == RINGING:
            due += [call.evidence + self.silence, call.started + self.max_ring]
        return max(min(due), self._now) if due else None

    def poll_due(self, now: float) -> bool:
        call = self._call
        return call is not None and self._polling() and now >= call.next_poll

    def is_busy(self) -> bool:
        return self.state != IDLE

    def known(self, line: str) -> bool:
        return any(line.startswith(prefix) for prefix in self.family.urcs)

    # -- transitions -------------------------------------------------------------------------------
    def _polling(self) -> bool:
        call = self._call
        return call is not None and call.failed_polls < CLCC_FAILED_LIMIT

    def _silence(self, call: _Call) -> str:
        """How a ring silence is named: with the reason when the call list could not be had."""
        if call.failed_polls >= CLCC_FAILED_LIMIT:
            return f"ring silence (AT+CLCC failed: {call.poll_error})"
        return "ring silence"

    def _read(self, line: str) -> Signal | None:
        return families.read(line, self.family.urcs)

    def _apply(self, signal: Signal, now: float) -> list[Event]:
        after = TRANSITIONS.get((self.state, signal.kind))
        if after is None:
            return []
        call = self._call
        if call is None:
            if (self._ended_at is not None and now - self._ended_at < LEFTOVER
                    and not self._other_caller(signal)):
                return []
            return self._start(signal, now)
        if signal.kind in (RING, INCOMING):
            if signal.number and call.number and not same_number(signal.number, call.number):
                # A second caller while the first still "rings": the first one gave up unseen.
                return self._end(MISSED, "another caller", now) + self._start(signal, now)
            return self._note(call, signal, now)
        if signal.kind == ACTIVE:
            call.connected = True
        elif signal.kind == END:
            if call.number is None and signal.number and not call.withheld:
                call.number, call.number_type = signal.number, signal.number_type
            connected = call.connected or bool(signal.connected)
            return self._end(ANSWERED if connected else MISSED, signal.how, now)
        elif signal.kind == RESTART:
            return self._end(UNKNOWN, signal.how, now)
        self.state = after
        return []

    def _other_caller(self, signal: Signal) -> bool:
        """A caller ID that is not the ended call's own: a new call, however soon."""
        return bool(signal.number and self._ended_number
                    and not same_number(signal.number, self._ended_number))

    def _start(self, signal: Signal, now: float) -> list[Event]:
        self._ids += 1
        call = self._call = _Call(self._ids, started=now, evidence=now,
                                  next_poll=now + self.poll_interval)
        self.state = RINGING
        self._note(call, signal, now)
        return [self._ringing(call, now)]

    def _note(self, call: _Call, signal: Signal, now: float) -> list[Event]:
        """Count a ring, keep the caller ID; a CallRinging when the caller becomes known."""
        call.evidence = max(call.evidence, now)
        if signal.kind == RING and (call.last_ring is None
                                    or now - call.last_ring >= DUPLICATE_RING):
            call.rings += 1
            call.last_ring = now
        if call.number is None and not call.withheld:
            if signal.withheld:
                call.withheld, call.number_type = True, signal.number_type
            elif signal.number:
                call.number, call.number_type = signal.number, signal.number_type
        if call.caller_known or (call.number is None and not call.withheld):
            return []
        call.caller_known = True
        # Known before the first CallRinging went out: that one carries it (one event, not two).
        return [self._ringing(call, now)] if call.announced else []

    def _cue(self, call: _Call, now: float) -> None:
        """policy.min_rings: a modem that sends no RING (u-blox: +UCALLSTAT and
        +CLIP only) still rings once a cadence; its caller-ID lines, half a cadence apart or
        more, count the rings. Polled +CLCC answers are not cues (they come every second)."""
        if call.last_cue is None or now - call.last_cue >= self.family.ring_interval / 2:
            call.cues += 1
            call.last_cue = now

    def _ringing(self, call: _Call, now: float) -> CallRinging:
        call.announced = True
        return CallRinging(call.id, call.number, call.number_type, call.withheld, now)

    def _end(self, outcome: str, how: str, at: float) -> list[Event]:
        call = self._call
        assert call is not None   # only a call in progress ends
        self._call, self.state, self._ended_at = None, IDLE, at
        self._ended_number = call.number
        # RING lines when the modem sends them; else the cadences its other lines told.
        return [CallEnded(call.id, call.number, call.number_type, call.withheld, outcome,
                          call.started, at, call.rings or call.cues, how)]
