"""The owner's side over SMS, pure: commands the owner texts to the gateway, and the texts the
gateway sends the owner (reply alerts, repeat-caller alerts, the morning digest).

No I/O and no clock: `now` is a parameter.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Sequence
from zoneinfo import ZoneInfo

from gateway.render import segments

# Lead statuses the owner can set by text, and the words that set them.
SET_WORDS = {"booked": "booked", "book": "booked", "lost": "lost",
             "done": "done", "finished": "done", "complete": "done", "completed": "done"}

# The answer to a text from the owner's phone that is not a command: one GSM-7 segment.
USAGE = ("textback commands: #12 your reply | #12 booked | #12 done | #12 lost | "
         "status on a roof till 3 | status off")

# Alerts stay within 2 segments and the digest within 3: long enough to read, cheap enough to
# send every time (each segment is billed as one text).
ALERT_MAX_PARTS = 2
DIGEST_MAX_PARTS = 3
# The longest status the owner can set by text: it goes into every text-back using $status
# (the owner's notes and names have the same limit on the command line).
MAX_STATUS = 200
# A shortened reply ends at a word boundary if one is at most this many characters back.
WORD_BACKOFF = 15

# A bare hour ("till 3") is read on a working day: 1-6 is afternoon, 7-11 morning, 12 noon.
# `status_expiry` then takes whichever reading (am or pm) comes next, so "till 8" sent at 7 pm
# still means 8 pm. Explicit "am"/"pm" and 24-hour times ("15:30") are taken as written.
AFTERNOON_BARE_HOURS = range(1, 7)

_RELAY = re.compile(r"#\s*(\d+)\s*[:,.\-]?\s*(.*)", re.DOTALL)
_STATUS = re.compile(r"status\b\s*[:\-]?\s*(.*)", re.DOTALL | re.IGNORECASE)
_CLEAR = {"off", "clear", "none", "done", ""}
_UNTIL = re.compile(
    r"(?<!\w)['’]?(?:till|until|til)\s+(?:(noon)|(\d{1,2})(?:[:.](\d{2}))?\s*"
    r"(a\.?m\.?|p\.?m\.?)?)\W*$", re.IGNORECASE)


@dataclass(frozen=True)
class Relay:
    """`#12 I can be there at 3`: send the text to lead 12 from the business number."""

    lead_id: int
    text: str


@dataclass(frozen=True)
class Status:
    """`status on a roof till 3`: templates show `text` as $status until it expires.

    `text` "" clears the status. `bare` is True when `until` came from an hour without am/pm;
    pass it on to `status_expiry`.
    """

    text: str
    until: time | None = None
    bare: bool = False


@dataclass(frozen=True)
class SetStatus:
    """`#12 booked` / `#12 lost`."""

    lead_id: int
    status: str


@dataclass(frozen=True)
class Unknown:
    """Anything else; the daemon answers with USAGE."""

    text: str


OwnerCommand = Relay | Status | SetStatus | Unknown


def parse(text: str) -> OwnerCommand:
    """What a text from the owner's phone asks for."""
    stripped = text.strip()
    relay = _RELAY.fullmatch(stripped)
    if relay:
        lead_id, body = int(relay.group(1)), relay.group(2).strip()
        word = body.rstrip(".!").strip().casefold()
        if word in SET_WORDS:
            return SetStatus(lead_id, SET_WORDS[word])
        return Relay(lead_id, body) if body else Unknown(text)
    status = _STATUS.fullmatch(stripped)
    if status:
        body = status.group(1).strip()
        if body.rstrip(".!").casefold() in _CLEAR:
            return Status("") if body else Unknown(text)
        until, bare = _until(body)
        return Status(body, until, bare)
    return Unknown(text)


def _until(body: str) -> tuple[time | None, bool]:
    match = _UNTIL.search(body)
    if not match:
        return None, False
    noon, hour, minute, meridiem = match.groups()
    if noon:
        return time(12, 0), False
    h, m = int(hour), int(minute or 0)
    if m > 59:
        return None, False
    if meridiem:
        if not 1 <= h <= 12:
            return None, False
        pm = meridiem.lower().startswith("p")
        return time(h % 12 + (12 if pm else 0), m), False
    if h > 23:
        return None, False
    if h == 0 or h > 12:
        return time(h, m), False
    return time(h + 12 if h in AFTERNOON_BARE_HOURS else h, m), True


def status_expiry(now: float, until: time | None, tz: ZoneInfo, *, bare: bool = False) -> float:
    """Epoch seconds when a status set at `now` expires.

    No `until`: the end of the local day (next local midnight). Otherwise the next time the clock
    shows `until` (today if still ahead, else tomorrow); with `bare`, the next of its am and pm
    readings.
    """
    local = datetime.fromtimestamp(now, tz)
    if until is None:
        return _local_epoch(local.date() + timedelta(days=1), time(0, 0), tz)
    readings = {until}
    if bare:
        readings |= {until.replace(hour=until.hour % 12), until.replace(hour=until.hour % 12 + 12)}
    candidates = [_local_epoch(local.date() + timedelta(days=d), t, tz)
                  for d in (0, 1) for t in readings]
    return min(c for c in candidates if c > now)


def _local_epoch(day: date, at: time, tz: ZoneInfo) -> float:
    return datetime.combine(day, at, tzinfo=tz).timestamp()


def alert(lead_id: int, name: str, text: str) -> str:
    """The forward of a lead's reply to the owner: "#12 Jane: the water heater is leaking".

    `name` is the lead's name, or its display number when the name is unknown. The reply is
    shortened with an ellipsis so that the alert fits in ALERT_MAX_PARTS segments.
    """
    if not text.strip():
        return f"#{lead_id} {name} sent an empty text"
    return _fit(f"#{lead_id} {name}: ", text.strip(), ALERT_MAX_PARTS)


def picture_alert(lead_id: int, name: str, labels: list[str], text: str) -> str:
    """"#12 Jane sent a photo: is this the pipe?" (or "2 photos", "a video", "a photo (not
    kept)"): the picture itself stays on the box, `textback lead 12` shows where."""
    if len(labels) == 1:
        what = f"a {labels[0]}"
    elif len(set(labels)) == 1:
        noun, _, rest = labels[0].partition(" (")
        what = f"{len(labels)} {noun}s" + (f" ({rest}" if rest else "")
    else:
        what = ", ".join(f"a {label}" for label in labels)
    head = f"#{lead_id} {name} sent {what}"
    return _fit(head + ": ", text.strip(), ALERT_MAX_PARTS) if text.strip() else head


def _fit(head: str, body: str, max_parts: int) -> str:
    if segments(head + body).parts <= max_parts:
        return head + body

    def shortened(n: int) -> str:
        kept = body[:n].rstrip()
        # "…" is not GSM-7: in a GSM-7 text it would halve the room, so use "..." there.
        ellipsis = "…" if segments(head + kept).encoding == "UCS-2" else "..."
        return head + kept + ellipsis

    low, high = 0, len(body)  # shortened(low) fits (head alone is short); shortened(high) does not
    while high - low > 1:
        mid = (low + high) // 2
        if segments(shortened(mid)).parts <= max_parts:
            low = mid
        else:
            high = mid
    # Cut between words when one ends close by, rather than mid-word.
    space = body.rfind(" ", 0, low + 1)
    if space > 0 and low < len(body) and not body[low].isspace() and low - space <= WORD_BACKOFF:
        low = space
    return shortened(low)


def opt_out_alert(lead_id: int, name: str, text: str) -> str:
    """"#12 Jane opted out: "stop texting me". No more texts go to them.": their words, since
    plain words may carry more ("don't text me, call me after 5")."""
    return _fit(f"#{lead_id} {name} opted out, no more texts go to them: ", text.strip(),
                ALERT_MAX_PARTS)


def repeat_alert(lead_id: int, name_or_number: str, calls: int, minutes: float) -> str:
    """ "Jane called 3 times in 20 minutes (#12)": repeat calls mean urgency."""
    whole = max(1, round(minutes))
    return (f"{name_or_number} called {calls} times in {whole} "
            f"minute{'' if whole == 1 else 's'} (#{lead_id})")


def digest(missed: int, texted: int, waiting: Sequence[tuple[int, str]], unanswered: int,
           *, day: date | None = None) -> str:
    """The morning digest for the owner, within DIGEST_MAX_PARTS segments.

    `missed`: yesterday's missed calls; `texted`: leads texted back yesterday; `waiting`:
    (lead_id, name or display number) of leads whose reply nobody has answered, most urgent
    first; `unanswered`: leads texted who have not replied yet. When `waiting` is too long the
    list ends with "+N more".
    """
    when = f"Yesterday ({day:%a %b} {day.day})" if day else "Yesterday"
    lines = [f"{when}: {_count(missed, 'missed call')}, {texted} texted back.",
             f"No answer yet: {_count(unanswered, 'lead')}."]
    if not waiting:
        return "\n".join([lines[0], "Replies waiting: none.", lines[1]])
    for shown in range(len(waiting), -1, -1):
        names = [f"#{lead_id} {name}" for lead_id, name in waiting[:shown]]
        if shown < len(waiting):
            names.append(f"+{len(waiting) - shown} more")
        text = "\n".join([lines[0], f"Replies waiting ({len(waiting)}): {', '.join(names)}.",
                          lines[1]])
        if segments(text).parts <= DIGEST_MAX_PARTS:
            return text
    return text


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"
