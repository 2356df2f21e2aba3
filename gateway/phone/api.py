"""What the phone apps say, in our terms: pure helpers for the phone link (gateway/phone/link.py).

SMSGate's dates, its two names for one received text, its /health checks in plain words, and the
pictures of an MMS. The apps' behaviour behind each rule is in docs/reference/phone-apps.md
(SMSGate at 0cdc5d8, CallGate at eba10c9), with the file and line of their source.
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timezone

from gateway import events as ev
from gateway.render import human

# What CallGate posts about calls (C modules/webhooks/domain/WebHookEvent.kt:5-14; citations as in
# docs/reference/phone-apps.md), and the SMSGate events textback registers for.
CALL_EVENTS = ("call:ringing", "call:started", "call:ended")
SMS_EVENTS = ("sms:received", "sms:sent", "sms:delivered", "sms:failed", "mms:received",
              "mms:downloaded")


def app_date(t: float) -> str:
    """A time as SMSGate's API reads it: yyyy-MM-dd'T'HH:mm:ss.SSS and an offset (Z), nothing
    else. It refuses microseconds and offsets without a colon ("Invalid from datetime";
    docs/reference/phone-apps.md, "Dates")."""
    ms = int(t * 1000)
    whole = datetime.fromtimestamp(ms // 1000, timezone.utc)
    return whole.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def java_string_hash(text: str) -> int:
    """Java's String.hashCode: the apps name inbox entries with it."""
    units = text.encode("utf-16-be")
    h = 0
    for i in range(0, len(units), 2):
        h = (31 * h + int.from_bytes(units[i:i + 2], "big")) & 0xFFFFFFFF
    return int32(h)


def text_key(message_id: str | None) -> str | None:
    """One name for a received text: the inbox calls it "text:<signed decimal hash>", the
    sms:received webhook the same hash in unsigned hex ("Received texts")."""
    if not message_id:
        return None
    if message_id.startswith("text:"):
        return message_id
    try:
        return f"text:{int32(int(message_id, 16))}"
    except ValueError:
        return message_id


def mms_inbox_id(message_id: str) -> str:
    """The inbox id of a downloaded MMS whose mms:downloaded messageId is `message_id`: its
    attachments are served under it ("Pictures")."""
    return f"mms:{java_string_hash(message_id)}"


# -- /health ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    check: str
    words: str
    fix: str
    failing: bool   # "fail" (GET /health answers 500) or only "warn"


_NO_INTERNET_FIX = ("connect the phone to Wi-Fi or mobile data, or turn off \"Require Internet "
                    "connection\" in both apps (Settings > Webhooks): until then they hold back "
                    "their webhooks")


def _words(name: str, check: dict) -> tuple[str, str]:
    value = check.get("observedValue")
    failing = check.get("status") == "fail"
    if name == "battery:level":
        return ((f"the phone's battery is under 10 % ({value} %)" if failing else
                 f"the phone's battery is low ({value} %)"),
                "plug the phone in to charge")
    if name == "connection:status":
        return "the phone has no internet", _NO_INTERNET_FIX
    if name == "connection:transport":
        return "the phone has no network (neither Wi-Fi nor mobile data)", _NO_INTERNET_FIX
    if name == "messages:failed":
        return ((f"every text the phone tried in the last hour failed ({value})" if failing else
                 f"{value} text(s) failed on the phone in the last hour"),
                "check the SIM: credit, signal, and that SMSGate may send SMS")
    said = check.get("description") or name
    return f"the phone's check {name} fails ({said})", "see the SMSGate app on the phone"


def health_problems(body) -> list[Problem]:
    """The checks of a /health answer that are not "pass", failing ones first."""
    checks = body.get("checks") if isinstance(body, dict) else None
    if not isinstance(checks, dict):
        return []
    out = []
    for name, check in checks.items():
        if isinstance(check, dict) and check.get("status") in ("fail", "warn"):
            words, fix = _words(name, check)
            out.append(Problem(name, words, fix, check["status"] == "fail"))
    return sorted(out, key=lambda p: not p.failing)


# -- pictures --------------------------------------------------------------------------------------
def attachments(payload: dict, max_bytes: int) -> list[ev.Attachment]:
    """The parts of an mms:downloaded payload, decoded; a part the phone sent no data for, or one
    over `max_bytes`, is kept as a record of what it was and why it has no file."""
    out = []
    for part in payload.get("attachments") or []:
        if not isinstance(part, dict):
            continue
        kind = str(part.get("contentType") or "application/octet-stream")[:100]
        name = part.get("name") if isinstance(part.get("name"), str) else None
        data: bytes | None = None
        problem: str | None = None
        raw = part.get("data")
        if not isinstance(raw, str) or not raw:
            problem = "the phone sent no data for it"
        elif _decoded_size(raw) > max_bytes:   # said before decoding: a huge one is not copied
            problem = _too_big(_decoded_size(raw), max_bytes)
        else:
            try:
                data = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                problem = "its data is not valid Base64"
            else:
                if len(data) > max_bytes:
                    problem = _too_big(len(data), max_bytes)
                    data = None
        size = part.get("size") if isinstance(part.get("size"), int) else None
        out.append(ev.Attachment(part=str(part.get("partId", "")), content_type=kind, name=name,
                                 data=data, size=len(data) if data is not None else size,
                                 problem=problem))
    return out


def _decoded_size(raw: str) -> int:
    return len(raw) * 3 // 4 - (len(raw) - len(raw.rstrip("=")))


def _too_big(size: int, max_bytes: int) -> str:
    return f"too big to keep ({human(size)}, over the {human(max_bytes)} limit)"

