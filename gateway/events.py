"""What the pure core reports: frozen records passed from the call tracker to the daemon.

Times are seconds on the daemon's clock (epoch seconds; virtual in replays).
"""
from __future__ import annotations

from dataclasses import dataclass

# Call outcomes (docs/design.md, "Contract: replay").
MISSED = "missed"
ANSWERED = "answered"
REJECTED = "rejected"
UNKNOWN = "unknown"
# Not an outcome of an incoming call: in a MissedLog, a call the owner placed from the phone.
PLACED = "placed"


@dataclass(frozen=True)
class ModemInfo:
    """What a link says it is connected to, once connected (the phone link: "Android", its
    model)."""

    manufacturer: str
    model: str
    family: str            # a modem family (gateway.at.families), or "android"


@dataclass(frozen=True)
class CallRinging:
    """A call started ringing, or its caller ID just became known (sent at most twice a call)."""

    call_id: int           # tracker-local sequence number, unique within one tracker
    # raw digits as the modem gave them ("+15125550142", "5125550142"); None if withheld/unknown
    number: str | None
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
    # the signal that decided: "NO CARRIER", "+CLCC stat 6", "^CEND", "ring silence", ...
    how: str
    recovered: bool = False  # learnt afterwards (missed-calls list), not seen ringing


@dataclass(frozen=True)
class CallPlaced:
    """The owner called a number from the phone (the phone path: an outgoing call). a
    lead called back needs no follow-up text."""

    number: str            # as the phone gave it
    at: float


@dataclass(frozen=True)
class MissedList:
    """The modem's own missed-calls list (27.007 8.11 "MC"), newest first, read at connect."""

    entries: tuple[tuple[str, int | None], ...]  # (number, type)
    at: float


@dataclass(frozen=True)
class MissedLog:
    """The phone's call log (missed and rejected calls, with times), read at connect over USB."""

    # (number, "" = withheld; outcome, MISSED or REJECTED, or PLACED for the owner's own call
    # out; epoch s), oldest first
    entries: tuple[tuple[str, str, float], ...]
    at: float


# The content type of an MMS PDU (OMA MMS encapsulation, 7.3.11): a picture message.
MMS = "application/vnd.wap.mms-message"


@dataclass(frozen=True)
class WapPush:
    """What one WAP push said (gateway.at.wap reads it from an SMS to port 2948). `problem` is
    None when it is a whole m-notification-ind."""

    content_type: str | None = None
    message_type: int | None = None
    sender: str | None = None        # From as written ("+15125550142/TYPE=PLMN" -> "+15125550142")
    hidden: bool = False             # From said "insert address": the sender hid the number
    location: str | None = None      # X-Mms-Content-Location: where the MMS waits
    size: int | None = None          # X-Mms-Message-Size, bytes
    subject: str | None = None
    transaction: str | None = None   # X-Mms-Transaction-ID
    problem: str | None = None

    @property
    def is_mms(self) -> bool:
        return self.content_type == MMS



@dataclass(frozen=True)
class SmsReceived:
    """A whole text arrived (decoded, parts joined). The link deletes it from the phone or SIM only
    when the daemon says it is recorded (`Link.release(handle)`)."""

    number: str              # the sender as the network gave it
    text: str
    at: float                # when we received it (our clock)
    sent_at: float | None    # the SMSC timestamp
    handle: tuple = ()       # the link's own reference (SIM indexes, gateway message id)
    incomplete: bool = False  # parts never came; `text` holds what did
    attachments: tuple = ()   # Attachment records of a picture message (MMS)
    notice: bool = False      # only the announcement of a picture message (recorded, no alert)
    push: WapPush | None = None  # a WAP push the modem got (an MMS notification): gateway.at.wap


@dataclass(frozen=True)
class SendFailed(Exception):
    """A text the network or gateway refused: `retry` says whether trying again can help."""

    reason: str
    retry: bool


@dataclass(frozen=True)
class Health:
    """How the link stands: for `textback status` (signal in words, network registration)."""

    signal: str                 # "4 bars (-61 dBm)", "no signal", "unknown"
    registered: bool
    registration: str           # "home network", "roaming", "searching", "denied", ...
    operator: str | None
    at: float
    ims: bool | None = None     # IMS (VoLTE) registered, from AT+CIREG? (None: not answered)
    lte: bool | None = None     # on LTE, from the <AcT> of AT+COPS?


@dataclass(frozen=True)
class Attachment:
    """A part of a picture message (MMS): its bytes, or why there are none."""

    part: str                 # the phone's part id
    content_type: str         # as the phone gave it ("image/jpeg")
    name: str | None          # the sender's file name: shown, never used as a path
    data: bytes | None        # None: not sent, not fetched, or over the size limit (problem says)
    size: int | None
    problem: str | None = None


@dataclass(frozen=True)
class LinkWarning:
    """The link works but something on its far side needs the owner: "" when all is well again."""

    text: str
    fix: str
    at: float
    failing: bool = False   # nothing works until it is fixed (webhooks refused): not a warning
