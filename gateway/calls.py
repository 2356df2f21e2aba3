"""The call tracker: unsolicited modem lines and a clock in, CallRinging / CallEnded out (pure).

Sans-I/O like h11: the daemon feeds each unsolicited line with its arrival time, calls
`tick(now)` at `next_deadline()`, and sends AT+CLCC when `poll_due(now)`, handing the answer to
`on_clcc`. The states and transitions are the table below; each line becomes one `Signal` through
the family's URC table. Facts: /work/shared/reference/modem-behaviour.md ("the reference").
"""
from __future__ import annotations

from dataclasses import dataclass

from . import atparse
from .events import ANSWERED, MISSED, UNKNOWN, CallEnded, CallRinging
from .families import Family

# ---- states and transitions ---------------------------------------------------------------------
IDLE, RINGING, CONNECTED = "idle", "ringing", "connected"

# What a line says about the call.
RING = "ring"            # RING / +CRING: one more ring (the modem rings on every cadence)
INCOMING = "incoming"    # +CLIP, +CLCC/ccinfo stat 4|5, +UCALLSTAT 4: ringing, maybe with caller ID
ACTIVE = "active"        # +CLCC stat 0, VOICE CALL: BEGIN, ^CONN, +UCALLSTAT 0: the call was taken
END = "end"              # the family's end line: the call is over
RESTART = "restart"      # the modem booted again (RDY, SMS Ready...): whatever was ringing is lost

# (state, signal) -> next state. A pair that is absent changes nothing: end lines with no call are
# leftovers of one already ended (SIMCom sends VOICE CALL: END, NO CARRIER and +CLCC 6 per call).
TRANSITIONS: dict[tuple[str, str], str] = {
    (IDLE, RING): RINGING,          # a call may start with RING, +CRING, +CLIP or +CLCC 4 (Traps 7)
    (IDLE, INCOMING): RINGING,      # u-blox may send no RING at all, only +UCALLSTAT: 1,4 (Traps 8)
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
# Empty AT+CLCC answers in a row that end a ringing call (rusp_firmware: CLCC_ABSENT_LIMIT 3, 1 Hz).
CLCC_ABSENT_LIMIT = 3
# Failed AT+CLCC polls in a row after which we stop polling this call and rely on ring silence.
CLCC_FAILED_LIMIT = 3
# 27.007 7.18 <mode> 1 is data: LTE modems list the PS bearer as a "call" (Traps 3, Quectel doc).
DATA_MODES = (1,)


@dataclass(frozen=True)
class Signal:
    kind: str
    how: str                       # the deciding signal, as CallEnded.how names it
    number: str | None = None
    number_type: int | None = None
    withheld: bool = False         # only +CLIP says so (CLI validity, or an empty number)
    connected: bool | None = None  # the end line itself says whether the call was connected (^CEND)


# ---- lines -> signals --------------------------------------------------------------------------
def read_ring(line: str) -> Signal | None:
    if line == "RING":
        return Signal(RING, "RING")
    kind = atparse.parse_cring(line)
    # +CRING: GPRS ... is the network asking for a data context (27.007 6.11), not a call.
    return Signal(RING, "+CRING") if kind is not None and not kind.startswith("GPRS") else None


def read_clip(line: str) -> Signal | None:
    clip = atparse.parse_clip(line)
    if clip is None:
        return None
    number = None if clip.withheld else clip.number
    return Signal(INCOMING, "+CLIP", number, clip.type, withheld=clip.withheld)


CLCC_KINDS = {4: INCOMING, 5: INCOMING, 0: ACTIVE, 1: ACTIVE, 6: END}   # 27.007 7.18 <stat>


def read_call_entry(entry: atparse.Clcc | None, name: str) -> Signal | None:
    """A +CLCC / +QIND ccinfo entry about an incoming voice call (not outgoing, not data)."""
    if entry is None or entry.dir != 1 or entry.mode in DATA_MODES or entry.stat not in CLCC_KINDS:
        return None
    return Signal(CLCC_KINDS[entry.stat], f"{name} stat {entry.stat}", entry.number, entry.type)


def read_ucallstat(line: str) -> Signal | None:
    stat = atparse.parse_ucallstat(line)
    if stat is None or stat.stat not in CLCC_KINDS:
        return None
    return Signal(CLCC_KINDS[stat.stat], f"+UCALLSTAT stat {stat.stat}")


def read_cend(line: str) -> Signal | None:
    cend = atparse.parse_cend(line)
    # Duration 0: never connected (chan_dongle#82); more: it was answered.
    return Signal(END, "^CEND", connected=cend.duration > 0) if cend else None


def read_voice_call(line: str) -> Signal | None:
    if line.startswith("VOICE CALL: BEGIN"):
        return Signal(ACTIVE, "VOICE CALL: BEGIN")
    return Signal(END, "VOICE CALL: END") if line.startswith("VOICE CALL: END") else None


def read_missed_call(line: str) -> Signal | None:
    missed = atparse.parse_missed_call(line)
    return Signal(END, "MISSED_CALL", missed.number, connected=False) if missed else None


def read_wind(line: str) -> Signal | None:
    wind = atparse.parse_wind(line)
    return Signal(END, "+WIND: 6") if wind is not None and wind.event == 6 else None


def read_hangup(line: str) -> Signal | None:
    return Signal(END, "HANGUP") if atparse.parse_hangup(line) is not None else None


def read_conn(line: str) -> Signal | None:
    return Signal(ACTIVE, "^CONN") if line[6:7].isdigit() else None   # ^CONN:<id>,<type>


# Family URC prefix -> reader. A family's `urcs` choose which of these it listens to.
READERS = {
    "RING": read_ring,
    "+CRING:": read_ring,
    "+CLIP:": read_clip,
    "+CLCC:": lambda line: read_call_entry(atparse.parse_clcc(line), "+CLCC"),
    '+QIND: "ccinfo"': lambda line: read_call_entry(atparse.parse_ccinfo(line), "+QIND ccinfo"),
    "NO CARRIER": lambda line: Signal(END, "NO CARRIER") if line == "NO CARRIER" else None,
    "VOICE CALL:": read_voice_call,
    "MISSED_CALL:": read_missed_call,
    "^CEND:": read_cend,
    "^CONN:": read_conn,
    "+UCALLSTAT:": read_ucallstat,
    "HANGUP:": read_hangup,
    "+WIND:": read_wind,
    **{line: (lambda text, _line=line: Signal(RESTART, _line) if text == _line else None)
       for line in ("RDY", "+CPIN: READY", "Call Ready", "SMS Ready", "SMS DONE")},
}


def same_caller(a: str, b: str) -> bool:
    """"2345640362"/129 and "+12345640362"/145 are one person (Traps 11)."""
    da, db = "".join(c for c in a if c.isdigit()), "".join(c for c in b if c.isdigit())
    return da.endswith(db) or db.endswith(da)


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


class CallTracker:
    def __init__(self, family: Family, *, ring_timeout: float = 12.0, poll_interval: float = 1.0,
                 max_ring: float = 120.0):
        self.family = family
        # Two cadences of this family, never less than ring_timeout: tolerates one lost URC
        # (rusp_firmware RING_EVIDENCE_TIMEOUT_MS = 12000; reference, Timing).
        self.silence = max(ring_timeout, 2 * family.ring_interval)
        self.poll_interval = poll_interval
        self.max_ring = max_ring
        self.state = IDLE
        self._call: _Call | None = None
        self._ids = 0
        self._now = float("-inf")
        self._ended_at: float | None = None
        self._ended_number: str | None = None

    # -- inputs ------------------------------------------------------------------------------------
    def feed(self, line: str, now: float) -> list[CallRinging | CallEnded]:
        """One unsolicited line that arrived at `now`: the events it causes ([] if unknown)."""
        events = self.tick(now)        # a deadline that passed unseen decides before this line
        signal = self._read(line)
        found = self._apply(signal, now) if signal else []
        if signal is not None and signal.kind == INCOMING and self._call is not None:
            self._cue(self._call, now)
        return events + found

    def tick(self, now: float) -> list[CallRinging | CallEnded]:
        self._now = max(self._now, now)
        call = self._call
        if self.state != RINGING or call is None:
            return []
        silent_at, too_long_at = call.evidence + self.silence, call.started + self.max_ring
        if now >= min(silent_at, too_long_at):
            if silent_at <= too_long_at:
                return self._end(MISSED, "ring silence", silent_at)
            return self._end(UNKNOWN, "ringing too long", too_long_at)
        return []

    def on_clcc(self, lines: list[str] | None, now: float) -> list[CallRinging | CallEnded]:
        """The +CLCC lines of a poll ([] = no calls), or None if the poll failed."""
        events = self.tick(now)
        call = self._call
        if lines is None:
            if call is not None:
                call.failed_polls += 1
                call.next_poll = now + self.poll_interval
            return events
        signals = [s for s in (read_call_entry(atparse.parse_clcc(line), "+CLCC") for line in lines)
                   if s is not None]
        for signal in signals:
            events += self._apply(signal, now)
        call = self._call
        if call is None:
            return events
        call.failed_polls = 0
        call.next_poll = now + self.poll_interval
        if any(s.kind in (INCOMING, ACTIVE) for s in signals):
            call.empty_polls = 0
        else:
            call.empty_polls += 1
            if call.empty_polls >= CLCC_ABSENT_LIMIT:
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
        return self._polling() and now >= self._call.next_poll

    def is_busy(self) -> bool:
        return self.state != IDLE

    def known(self, line: str) -> bool:
        return any(line.startswith(prefix) for prefix in self.family.urcs)

    # -- transitions -------------------------------------------------------------------------------
    def _polling(self) -> bool:
        call = self._call
        return (call is not None and not self.family.reliable_end
                and call.failed_polls < CLCC_FAILED_LIMIT)

    def _read(self, line: str) -> Signal | None:
        for prefix in self.family.urcs:
            if line.startswith(prefix) and prefix in READERS:
                return READERS[prefix](line)
        return None

    def _apply(self, signal: Signal, now: float) -> list[CallRinging | CallEnded]:
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
            if signal.number and call.number and not same_caller(signal.number, call.number):
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
                    and not same_caller(signal.number, self._ended_number))

    def _start(self, signal: Signal, now: float) -> list[CallRinging | CallEnded]:
        self._ids += 1
        call = self._call = _Call(self._ids, started=now, evidence=now,
                                  next_poll=now + self.poll_interval)
        self.state = RINGING
        self._note(call, signal, now)
        return [self._ringing(call, now)]

    def _note(self, call: _Call, signal: Signal, now: float) -> list[CallRinging]:
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
        """issue 14 (policy.min_rings): a modem that sends no RING (u-blox: +UCALLSTAT and
        +CLIP only) still rings once a cadence; its caller-ID lines, half a cadence apart or
        more, count the rings. Polled +CLCC answers are not cues (they come every second)."""
        if call.last_cue is None or now - call.last_cue >= self.family.ring_interval / 2:
            call.cues += 1
            call.last_cue = now

    def _ringing(self, call: _Call, now: float) -> CallRinging:
        call.announced = True
        return CallRinging(call.id, call.number, call.number_type, call.withheld, now)

    def _end(self, outcome: str, how: str, at: float) -> list[CallEnded]:
        call = self._call
        self._call, self.state, self._ended_at = None, IDLE, at
        self._ended_number = call.number
        # RING lines when the modem sends them; else the cadences its other lines told.
        return [CallEnded(call.id, call.number, call.number_type, call.withheld, outcome,
                          call.started, at, call.rings or call.cues, how)]
