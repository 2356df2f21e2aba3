"""Received texts, pure: decode SMS-DELIVER PDUs and put concatenated parts back together.

No I/O and no clock: `now` is a parameter. gsmmodem is imported inside `decode`, so importing this
module costs nothing for `textback --help`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from gateway.render import whole_text

# How long a set of parts waits for its missing ones. Parts of one message normally arrive within
# seconds; an SMSC retrying a lost part retries for minutes. Ten minutes keeps a reply from being
# held back long while still catching slow parts .
MAX_WAIT = 600.0

class BadPdu(ValueError):
    """A PDU that cannot be decoded as a received text. The daemon logs it and keeps the raw PDU."""

    def __init__(self, reason: str, pdu: str):
        super().__init__(f"cannot decode SMS PDU ({len(pdu)} hex digits): {reason}")
        self.reason = reason
        self.pdu = pdu


@dataclass(frozen=True)
class Part:
    """3GPP TS 23.040 clause 9.2.3.24.1/.8: one part of a concatenated message."""

    reference: int   # the same for every part of one message (8- or 16-bit)
    count: int       # parts in the message
    seq: int         # this part, 1-based


@dataclass(frozen=True)
class Received:
    number: str               # the sender as the PDU gives it ("+15125550142", "AcmeBank")
    text: str
    sent_at: float | None     # the SMSC timestamp (TP-SCTS), epoch seconds
    part: Part | None = None  # None for a text in one piece
    port: int | None = None   # an application port (2948: a WAP push, not a text for a person)
    data: bytes = b""         # 8-bit user data as sent (a WAP push's bytes)


@dataclass(frozen=True)
class Complete:
    """A whole message (or, after `max_wait`, what arrived of it, with `incomplete=True`)."""

    number: str
    text: str                 # the parts present, joined in seq order
    sent_at: float | None     # earliest SMSC timestamp among the parts
    first_seen: float         # `now` when its first part was added
    count: int = 1            # parts the message was sent as
    missing: tuple[int, ...] = ()  # seq numbers that never came
    incomplete: bool = False
    # The concatenation reference, so the link can tell which stored parts to delete; not part of
    # what the message is (two equal texts are equal whatever their reference).
    reference: int | None = field(default=None, compare=False)
    port: int | None = None   # as Received.port (WAP push)
    data: bytes = b""         # the parts' 8-bit data joined, in seq order


def decode(pdu_hex: str) -> Received:
    """Decode one SMS-DELIVER PDU (hex, with its SMSC field, as +CMGR/+CMT give it in PDU mode).

    The header fields (sender, timestamp) come from gsmmodem's decoder; the text and the
    concatenation header from gateway.at.pdu, which reads UTF-16 surrogate pairs and the whole GSM-7
    table. A UCS-2 part may hold half a surrogate pair: `Reassembly` mends the joined text."""
    from gsmmodem.exceptions import GsmModemException
    from gsmmodem.pdu import decodeSmsPdu

    from gateway.at.pdu import read_user_data

    try:
        fields = decodeSmsPdu(pdu_hex.strip())
    # gsmmodem raises EncodingError for bad hex, StopIteration for a truncated PDU, ValueError
    # for an impossible timestamp, and IndexError/KeyError/TypeError for odd headers.
    except StopIteration:
        raise BadPdu("it ends too early", pdu_hex) from None
    except (GsmModemException, ValueError, IndexError, KeyError, TypeError) as exc:
        raise BadPdu(f"{type(exc).__name__}: {exc}", pdu_hex) from None
    if fields.get("type") != "SMS-DELIVER":
        raise BadPdu(f"not a received text but {fields.get('type')}", pdu_hex)
    try:
        # gsmmodem decodes a cut-off PDU into a cut-off text without a word: ours says so.
        data = read_user_data(bytes.fromhex(pdu_hex.strip()))
    except ValueError as exc:
        raise BadPdu(str(exc), pdu_hex) from None
    when = fields.get("time")
    part = _part(*data.concat) if data.concat else None
    return Received(number=fields.get("number") or "", text=data.text,
                    sent_at=when.timestamp() if when is not None else None, part=part,
                    port=data.port, data=data.data)


def _part(reference: int, count: int, seq: int) -> Part | None:
    # 23.040 9.2.3.24.1: a count of 0, a seq of 0 or a seq above the count means "ignore the IE".
    if count < 1 or not 1 <= seq <= count:
        return None
    return Part(reference, count, seq)


@dataclass
class _Pending:
    first_seen: float
    parts: dict[int, Received] = field(default_factory=dict)


class Reassembly:
    """Concatenated parts in, whole messages out. Pure state: the daemon feeds it and asks for its
    next deadline; after a restart it re-adds the stored, unfinished parts with their own times."""

    def __init__(self, max_wait: float = MAX_WAIT):
        self.max_wait = max_wait
        self._pending: dict[tuple[str, int, int], _Pending] = {}
        # Sets already given out, so that a late duplicate part does not start a new message:
        # key -> (forget after, seqs given out). A late part that was missing still gets through.
        self._done: dict[tuple[str, int, int], tuple[float, frozenset[int]]] = {}

    def add(self, received: Received, now: float) -> list[Complete]:
        """Take one decoded text; return the messages it completes (none, or one)."""
        self._forget(now)
        part = received.part
        if part is None or _part(part.reference, part.count, part.seq) is None or part.count == 1:
            return [Complete(received.number, whole_text(received.text), received.sent_at, now,
                             port=received.port, data=received.data)]
        key = (received.number, part.reference, part.count)
        if part.seq in self._done.get(key, (0.0, frozenset()))[1]:
            return []
        pending = self._pending.setdefault(key, _Pending(now))
        pending.parts.setdefault(part.seq, received)  # a duplicate part: the first copy stays
        if len(pending.parts) < part.count:
            return []
        return [self._finish(key, now)]

    def expire(self, now: float) -> list[Complete]:
        """Give up on sets older than `max_wait`: what arrived of each, flagged incomplete."""
        late = [key for key, p in self._pending.items() if p.first_seen + self.max_wait <= now]
        done = [self._finish(key, now) for key in late]
        self._forget(now)
        return sorted(done, key=lambda c: c.first_seen)

    def next_deadline(self) -> float | None:
        """When `expire` next has something to do; None when no set is waiting."""
        return min((p.first_seen + self.max_wait for p in self._pending.values()), default=None)

    def _finish(self, key: tuple[str, int, int], now: float) -> Complete:
        pending = self._pending.pop(key)
        number, _, count = key
        seqs = sorted(pending.parts)
        self._done[key] = (now + self.max_wait, frozenset(seqs))
        stamps = [p.sent_at for p in pending.parts.values() if p.sent_at is not None]
        missing = tuple(s for s in range(1, count + 1) if s not in pending.parts)
        first = pending.parts[seqs[0]]
        return Complete(number, whole_text("".join(pending.parts[s].text for s in seqs)),
                        min(stamps, default=None), pending.first_seen, count, missing,
                        incomplete=bool(missing), reference=key[1], port=first.port,
                        data=b"".join(pending.parts[s].data for s in seqs))

    def _forget(self, now: float) -> None:
        for key in [k for k, (until, _) in self._done.items() if until <= now]:
            del self._done[key]
