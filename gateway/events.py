"""What the pure core reports: frozen records passed from the call tracker to the daemon.

Times are seconds on the daemon's clock (epoch seconds; virtual in replays).
"""
from __future__ import annotations

from dataclasses import dataclass

# Call outcomes (DESIGN.md, contract: replay output).
MISSED = "missed"
ANSWERED = "answered"
REJECTED = "rejected"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class CallRinging:
    """A call started ringing, or its caller ID just became known (sent at most twice a call)."""

    call_id: int           # tracker-local sequence number, unique within one tracker
    number: str | None     # raw digits as the modem gave them ("+15125550142", "5125550142"); None if withheld/unknown
    number_type: int | None  # 27.007 <type>: 145 international, 129 national/unknown, 128 unknown
    withheld: bool
    at: float


@dataclass(frozen=True)
class CallEnded:
    """A call is over and the tracker has decided how it ended."""

    call_id: int
    number: str | None
    number_type: int | None
    withheld: bool         # the network said the number was withheld / not available
    outcome: str           # MISSED, ANSWERED, REJECTED or UNKNOWN
    started: float         # first ring / first sign of the call
    ended: float           # when the end was decided
    rings: int             # RING / +CRING lines seen
    how: str               # the signal that decided: "NO CARRIER", "+CLCC stat 6", "^CEND", "ring silence", ...


@dataclass(frozen=True)
class SmsReceived:
    """A text arrived (decoded); `index` is the modem storage slot when it was stored there."""

    number: str
    text: str
    at: float
    storage: str | None = None
    index: int | None = None
