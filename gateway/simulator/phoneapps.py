"""The rules of SMSGate's and CallGate's local APIs as their source states them: pure functions, no
sockets, no threads, no clock (gateway/simulator/phone.py serves them over HTTP).

Every rule cites the apps' own code. "S path:line" is capcom6/android-sms-gateway at commit 0cdc5d8
(v1.68), under app/src/main/java/me/capcom/smsgateway/; "C path:line" is call-gate-app/android-app
at
commit eba10c9, under app/src/main/java/app/callgate/android/. docs/reference/phone-apps.md says the
same in words. Where a behaviour comes from a library the apps use (Ktor 2.2.4, Gson,
libphonenumber, WorkManager) rather than their own code, the comment says so.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime, timedelta, timezone

# The same Java arithmetic the link uses to match the two names of one text (reused, as a fake
# device reuses the real codecs).
from gateway.phone.api import CALL_EVENTS, int32, java_string_hash  # noqa: F401

# S modules/webhooks/domain/WebHookEvent.kt:5-35
SMS_EVENTS = ("sms:received", "sms:sent", "sms:delivered", "sms:failed", "system:ping",
              "sms:data-received", "mms:received", "mms:downloaded", "app:started",
              "sms:cancelled")
# S domain/ProcessingState.kt:3-11
STATES = ("Pending", "Cancelling", "Cancelled", "Processed", "Sent", "Delivered", "Failed")
# S modules/incoming/db/IncomingMessage.kt:7-12
INBOX_TYPES = ("SMS", "DATA_SMS", "MMS", "MMS_DOWNLOADED")
# S modules/localserver/WebService.kt:85
REALMS = {"sms": "Access to SMS Gateway",
          # C modules/server/WebService.kt:72
          "calls": "Access to CallGate"}
# S modules/webhooks/WebHooksService.kt:89, C modules/webhooks/WebHooksService.kt:59
URL_RULE = "url must start with https:// or http://127.0.0.1"
POST_CLASS = "class me.capcom.smsgateway.modules.localserver.domain.messages.PostMessageRequest"
HOOK_CLASS = {"sms": "class me.capcom.smsgateway.modules.webhooks.domain.WebHookDTO",
              "calls": "class app.callgate.android.modules.webhooks.domain.WebHookDTO"}


class Refusal(Exception):
    """What the app answers instead of doing the thing: a status and {"message": ...} (or no
    body)."""

    def __init__(self, status: int, message: str | None = None):
        super().__init__(message)
        self.status, self.message = status, message

    def body(self):
        return None if self.message is None else {"message": self.message}


# -- Java's hash codes: the inbox ids and the webhook message ids are made of them ----------------
def java_date_hash(ms: int) -> int:
    return int32(ms ^ (ms >> 32))  # Date.hashCode: (int)(getTime() ^ (getTime() >>> 32))


def text_hash(sender: str, ms: int, subscription: int | None, text: str) -> int:
    """InboxMessage.Text.hashCode (S modules/receiver/data/InboxMessage.kt:17-19, 87-92)."""
    h = java_string_hash(sender)
    h = int32(31 * h + java_date_hash(ms))
    h = int32(31 * h + (subscription or 0))
    return int32(31 * h + java_string_hash(text))


def inbox_id(prefix: str, h: int) -> str:
    # "text:" / "mms:" + signed decimal (S modules/incoming/IncomingMessagesService.kt:131-140)
    return f"{prefix}{h}"


def webhook_message_id(h: int) -> str:
    # hashCode().toUInt().toString(16) (S modules/receiver/ReceiverService.kt:119)
    return format(h & 0xFFFFFFFF, "x")


# -- dates -----------------------------------------------------------------------------------------
def format_date(t: float, tz) -> str:
    """yyyy-MM-dd'T'HH:mm:ss.SSSXXX in the phone's own time zone, as Gson writes every Date
    (S extensions/GsonBuilder.kt:13-15, C extensions/GsonBuilder.kt:13-15); XXX gives Z at
    +00:00."""
    ms = int(round(t * 1000))
    local = datetime.fromtimestamp(ms // 1000, timezone.utc).astimezone(tz)
    offset = local.utcoffset() or timedelta(0)
    if offset == timedelta(0):
        zone = "Z"
    else:
        sign, minutes = (
            ("+" if offset > timedelta(0) else "-"),
            abs(int(offset.total_seconds())) // 60,
        )
        zone = f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"
    return local.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}" + zone


_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{3}))?"
                   r"(Z|[+-](\d{2}):(\d{2}))")


def parse_date(text: str) -> float | None:
    """DateTimeParser: only yyyy-MM-dd'T'HH:mm:ss[.SSS]XXX (S helpers/DateTimeParser.kt:20-31); no
    microseconds, no offset without a colon, no naive time. None when the app would refuse it."""
    match = _DATE.fullmatch(text)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    millis = int(match.group(7) or 0)
    if match.group(8) == "Z":
        offset = timedelta(0)
    else:
        hours, minutes = int(match.group(9)), int(match.group(10))
        if hours > 18 or minutes > 59:
            return None
        offset = timedelta(hours=hours, minutes=minutes) * (1 if match.group(8)[0] == "+" else -1)
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59 and second <= 59):
        return None
    # java.time's default SMART resolver clamps a day past the month's end (Feb 30 -> Feb 28).
    for clamp in [day] + list(range(day - 1, 27, -1)):
        try:
            when = datetime(year, month, clamp, hour, minute, second, millis * 1000,
                            timezone(offset))
            return when.timestamp()
        except ValueError:
            continue
    return None


# -- JSON as Gson writes it ------------------------------------------------------------------------
_HTML = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "=": "\\u003d", "'": "\\u0027",
         "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _drop_nulls(value):
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def gson(value) -> bytes:
    """Compact JSON, null fields left out, HTML characters escaped, other text raw UTF-8: Gson's
    defaults (no serializeNulls, no disableHtmlEscaping in S extensions/GsonBuilder.kt:7-9)."""
    text = json.dumps(_drop_nulls(value), ensure_ascii=False, separators=(",", ":"))
    return re.sub("[<>&='\u2028\u2029]", lambda m: _HTML[m.group()], text).encode()


# -- SMSGate: POST /message -----------------------------------------------------------------------
def _typed(body, checks: dict, klass: str) -> None:
    """What Gson refuses while reading the body: Ktor turns it into a 400 (BadRequestException,
    S modules/localserver/WebService.kt:123, 281-285)."""
    if not isinstance(body, dict):
        raise Refusal(400, f"Failed to convert request body to {klass}")
    for key, kind in checks.items():
        value = body.get(key)
        if value is None:
            continue
        fits = (isinstance(value, bool) if kind is bool
                else isinstance(value, kind) and not isinstance(value, bool))
        if not fits:  # (Gson would coerce a few of these; refusing them is the stricter side)
            raise Refusal(400, f"Failed to convert request body to {klass}")


def check_post_message(body, query: dict, *, now: float, device_id: str) -> dict:
    """The request as the app reads it, or the Refusal it answers (in the app's order)."""
    _typed(body, {"id": str, "message": str, "phoneNumbers": list, "simNumber": int,
                  "withDeliveryReport": bool, "isEncrypted": bool, "priority": int,
                  "textMessage": dict, "dataMessage": dict, "deviceId": str, "ttl": int,
                  "validUntil": str, "scheduleAt": str}, POST_CLASS)
    text = body.get("textMessage")
    data = body.get("dataMessage")
    if text is not None and not isinstance(text.get("text"), (str, type(None))) or \
            any(not isinstance(n, str) for n in body.get("phoneNumbers") or []) or \
            not -128 <= (body.get("priority") or 0) <= 127:               # priority is a Byte
        raise Refusal(400, f"Failed to convert request body to {POST_CLASS}")
    dates = {}
    for key in ("validUntil", "scheduleAt"):                               # Gson's Date format
        if body.get(key) is not None:
            dates[key] = parse_date(body[key])
            if dates[key] is None:
                raise Refusal(400, f"Failed to convert request body to {POST_CLASS}")
    # validate(): S modules/localserver/domain/messages/PostMessageRequest.kt:44-88
    kinds = [k for k in ("textMessage", "dataMessage", "message") if body.get(k) is not None]
    if not kinds:
        raise Refusal(400, "Must specify exactly one of: textMessage, dataMessage, or message")
    if len(kinds) > 1:
        raise Refusal(400, "Cannot specify multiple message types simultaneously")
    if body.get("message") == "":
        raise Refusal(400, "Text message is empty")                       # :53-55
    if data is not None:
        port = data.get("port")
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise Refusal(400, "Port must be between 0 and 65535")        # :60-62
        if not data.get("data"):
            raise Refusal(400, "Data message cannot be empty")             # :65-67
    if text is not None and text.get("text") == "":
        raise Refusal(400, "Text message is empty")                        # :71-73
    if body.get("phoneNumbers") is None:
        # A Kotlin non-null list left null by Gson: isEmpty() throws, StatusPages says 500.
        raise Refusal(500, "Attempt to invoke interface method 'boolean java.util.List.isEmpty()' "
                           "on a null object reference")
    if not body["phoneNumbers"]:
        raise Refusal(400, "Empty phone numbers list")                     # :75-77
    if body.get("simNumber") is not None and body["simNumber"] < 1:
        raise Refusal(400, "SIM number cannot be less than 1")             # :79-81
    if "scheduleAt" in dates and dates["scheduleAt"] <= now:
        raise Refusal(400, "scheduleAt must be in the future")             # :83-85
    # The route: S modules/localserver/routes/MessagesRoutes.kt:126-199
    if body.get("deviceId") is not None and body["deviceId"] != device_id:
        raise Refusal(400, "Invalid device ID")                            # :130-136
    skip = query.get("skipPhoneValidation")
    # toBooleanStrict, :138-140
    if skip is not None and skip not in ("true", "false"):
        raise Refusal(400, f"The string doesn't represent a boolean value: {skip}")
    if body.get("ttl") is not None and body.get("validUntil") is not None:
        # PostMessageRequest.kt:30-32
        raise Refusal(400, "fields conflict: ttl and validUntil")
    valid_until = dates.get("validUntil")
    if body.get("ttl") is not None:
        valid_until = now + body["ttl"]
    if valid_until is not None and valid_until < now:
        # PostMessageRequest.kt:37-39
        raise Refusal(400, "message already expired")
    content = (text or {}).get("text") if text is not None else body.get("message")
    return {"id": body.get("id"), "text": content, "data": data,
            "phoneNumbers": list(body["phoneNumbers"]),
            "withDeliveryReport": body.get("withDeliveryReport", True) is not False,  # :175
            "simNumber": body.get("simNumber"), "validUntil": valid_until,
            "skipPhoneValidation": skip == "true", "isEncrypted": bool(body.get("isEncrypted"))}


def message_state(recipients: list[dict]) -> str:
    """MessageWithRecipients.state (S data/entities/MessageWithRecipients.kt:22-32)."""
    states = [r["state"] for r in recipients]
    for state in ("Pending", "Cancelling", "Cancelled", "Processed"):
        if state in states:
            return state
    if all(s == "Failed" for s in states):
        return "Failed"
    if all(s == "Delivered" for s in states):
        return "Delivered"
    return "Sent"


def message_view(message: dict, *, device_id: str, include_content: bool, tz) -> dict:
    """The domain Message (S modules/localserver/domain/messages/Message.kt:6-24, filled by
    MessagesRoutes.kt:274-314): content only when asked, states as a map of dates."""
    return {"id": message["id"], "deviceId": device_id,
            "state": message_state(message["recipients"]), "isHashed": False,
            "isEncrypted": message["isEncrypted"],
            "textMessage": ({"text": message["text"]} if include_content
                            and message["text"] is not None else None),
            "dataMessage": message["data"] if include_content else None,
            "recipients": [{"phoneNumber": r["phoneNumber"], "state": r["state"],
                            "error": r.get("error")} for r in message["recipients"]],
            "states": {state: format_date(at, tz) for state, at in message["states"].items()}}


def check_number(number: str, region: str | None, skip: bool) -> tuple[str | None, str | None]:
    """(the number the SIM is given, or None and the recipient's error): S
    modules/messages/MessagesService.kt:497-520 with helpers/PhoneHelper.kt:6-18 (libphonenumber,
    region = the SIM's network country, "RU" when unknown)."""
    if skip:
        return "".join(c for c in number if c.isdigit() or c in "+*#"), None
    import phonenumbers

    try:
        parsed = phonenumbers.parse(number, (region or "RU").upper())
    except phonenumbers.NumberParseException as exc:
        return None, f"sendSMS: {exc._msg}"
    if not phonenumbers.is_valid_number(parsed):
        return None, "sendSMS: Invalid phone number"
    if phonenumbers.number_type(parsed) not in (phonenumbers.PhoneNumberType.MOBILE,
                                                phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return None, "sendSMS: Invalid phone number type"
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), None


# -- SMSGate: GET /inbox ---------------------------------------------------------------------------
def check_inbox_query(query: dict, *, now: float, device_id: str) -> dict:
    """S modules/localserver/routes/InboxRoutes.kt:39-122, in its order."""
    kind = query.get("type") or None                                        # :42 (blank = any)
    if kind is not None and kind.strip() and kind not in INBOX_TYPES:
        raise Refusal(400, "Invalid type")                                  # :43-51
    attachments = query.get("includeAttachments")
    if attachments is not None and attachments not in ("true", "false"):
        raise Refusal(400, "includeAttachments must be true or false")     # :52-60
    limit, offset = _int_or(query.get("limit"), 50), _int_or(query.get("offset"), 0)  # :61-62
    if not 1 <= limit <= 500:
        raise Refusal(400, "limit must be between 1 and 500")              # :64-70
    if offset < 0:
        raise Refusal(400, "offset must be >= 0")                          # :72-78
    since, until = 0.0, now
    if "from" in query:
        since = parse_date(query["from"])
        if since is None:
            raise Refusal(400, "Invalid from datetime")                     # :83-93
    if "to" in query:
        until = parse_date(query["to"])
        if until is None:
            raise Refusal(400, "Invalid to datetime")                       # :95-105
    if query.get("deviceId") is not None and query["deviceId"] != device_id:
        raise Refusal(400, "Invalid device ID")                             # :107-114
    if since > until:
        raise Refusal(400, "Start date cannot be after end date")          # :116-122
    return {"type": kind if kind and kind.strip() else None, "from": since, "to": until,
            "limit": limit, "offset": offset, "attachments": attachments == "true"}


def _int_or(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default    # toIntOrNull() ?: default
    except ValueError:
        return default


def select_inbox(items: list[dict], q: dict) -> tuple[list[dict], int]:
    """createdAt BETWEEN from AND to (both ends in), newest first, then by id (S
    modules/incoming/db/IncomingMessagesDao.kt:27-43); the page and the total count."""
    lo, hi = int(q["from"] * 1000), int(q["to"] * 1000)
    found = [i for i in items if (q["type"] is None or i["type"] == q["type"])
             and lo <= i["createdAt"] <= hi]
    found.sort(key=lambda i: (i["createdAt"], i["id"]), reverse=True)
    return found[q["offset"]:q["offset"] + q["limit"]], len(found)


def inbox_view(item: dict, *, include_attachments: bool, tz) -> dict:
    """S modules/localserver/routes/InboxRoutes.kt:214-230, 248-257."""
    return {"id": item["id"], "type": item["type"], "sender": item["sender"],
            "recipient": item.get("recipient"), "simNumber": item.get("simNumber"),
            "contentPreview": item["contentPreview"],
            "createdAt": format_date(item["createdAt"] / 1000, tz),
            "attachments": ([{"partId": a["partId"], "name": a["name"] or "attachment",
                              "size": len(a["data"]), "contentType": a["contentType"]}
                             for a in sorted(item.get("stored", []), key=lambda a: a["partId"])]
                            if include_attachments else [])}


# -- webhook registration (both apps) ------------------------------------------------------------
def check_webhook(app: str, body, *, device_id: str, insecure: bool = False) -> dict:
    """S modules/localserver/routes/WebhooksRoutes.kt:33-45 with
    modules/webhooks/WebHooksService.kt:79-120;
    C modules/server/routes/WebhooksRoutes.kt:27-32 with
    modules/webhooks/WebHooksService.kt:55-80."""
    if not isinstance(body, dict) or any(
        body.get(k) is not None and not isinstance(body[k], str) for k in ("id", "url", "event")
    ):
        raise Refusal(400, f"Failed to convert request body to {HOOK_CLASS[app]}")
    if app == "sms" and body.get("deviceId") is not None and body["deviceId"] != device_id:
        # S WebhooksRoutes.kt:36-40
        raise Refusal(400, "Device ID mismatch")
    url = body.get("url")
    if not _url_allowed(url, insecure and app == "sms"):
        raise Refusal(400, URL_RULE)
    if body.get("event") not in (SMS_EVENTS if app == "sms" else CALL_EVENTS):
        raise Refusal(400, "Unsupported event")    # Gson reads an unknown enum name as null
    hook = {"id": body.get("id"), "url": url, "event": body["event"]}
    if app == "sms":
        hook["source"] = "Local"                   # S modules/webhooks/domain/WebHookDTO.kt:5-11
    return hook


def _url_allowed(url, insecure: bool) -> bool:
    """URLUtil.isHttpsUrl (the first 8 characters are "https://", any case), or http:// whose host
    is exactly 127.0.0.1 (java.net.URL), or any http:// on SMSGate's "insecure" build
    (S helpers/BuildHelper.kt:6-7). CallGate has no insecure build."""
    from urllib.parse import urlsplit

    if not isinstance(url, str):
        return False
    if len(url) > 7 and url[:8].lower() == "https://":
        return True
    if not (len(url) > 6 and url[:7].lower() == "http://"):
        return False
    if insecure:
        return True
    try:
        return urlsplit(url).hostname == "127.0.0.1" and "@" not in url.split("/")[2]
    except ValueError:
        return False


# -- /health --------------------------------------------------------------------------------------
def health(*, battery: int, charging: bool, internet: bool, transport: bool, failed_hour: int,
           processed_hour: int, version: str, release: int) -> tuple[int, dict]:
    """S modules/health/HealthService.kt:15-32 over the three monitors; 500 when any check fails
    (S modules/localserver/WebService.kt:140-150)."""
    def check(status, value, unit, description):
        return {"status": status, "observedValue": value, "observedUnit": unit,
                # S modules/health/domain/CheckResult.kt:3-8
                "description": description}

    failed = ("fail" if failed_hour and not processed_hour else "warn" if failed_hour
              # S modules/messages/MessagesService.kt:62-78
              else "pass")
    checks = {
        "messages:failed": check(failed, failed_hour, "messages", "Failed messages for last hour"),
        # S modules/connection/ConnectionService.kt:70-107 (Android 7+)
        "connection:status": check("pass" if internet else "fail", int(internet), "boolean",
                                   "Internet connection status"),
        "connection:transport": check("pass" if transport else "fail", 2 if transport else 0,
                                      "flags", "Network transport type"),
        "connection:cellular": check("pass", 0, "index", "Cellular network type"),
        # S modules/health/monitors/BatteryMonitor.kt:33-61
        "battery:level": check("fail" if battery < 10 else "warn" if battery < 25 else "pass",
                               battery, "percent", "Battery level in percent"),
        "battery:charging": check("pass", 5 if charging else 0, "flags", "Is the phone charging?"),
    }
    statuses = {c["status"] for c in checks.values()}
    overall = "fail" if "fail" in statuses else "warn" if "warn" in statuses else "pass"
    return (500 if overall == "fail" else 200), {        # S domain/HealthResponse.kt:8-16
        "version": version, "releaseId": release, "status": overall, "checks": checks}


# -- webhook bodies --------------------------------------------------------------------------------
def envelope(event_id: str, hook_id: str, event: str, device_id: str, payload: dict) -> dict:
    """S modules/webhooks/domain/WebHookEventDTO.kt:3-9, C
    modules/webhooks/domain/WebHookEventDTO.kt:3-9."""
    return {"id": event_id, "webhookId": hook_id, "event": event, "deviceId": device_id,
            "payload": payload}


def mms_parts(parts: list[dict]) -> tuple[str | None, list[dict]]:
    """(body, attachments) of a downloaded MMS as MmsContentReader reads its parts (S
    modules/receiver/MmsContentReader.kt:84-131): text/plain parts joined into the body, SMIL
    skipped, every other part an attachment whose data is its bytes in Base64, or null when the
    part is empty or cannot be read (:157-166)."""
    texts, attachments = [], []
    for part in parts:
        mime = part["contentType"].split(";")[0].strip().lower()
        if mime == "text/plain":
            if (part.get("text") or "").strip():
                texts.append(part["text"])
            continue
        if mime == "application/smil":
            continue
        raw = part.get("data")
        attachments.append({"partId": part["partId"], "contentType": part["contentType"],
                            "name": part.get("name"), "size": None if raw is None else len(raw),
                            "data": base64.b64encode(raw).decode() if raw else None})
    return ("\n".join(texts) or None), attachments


def decode_base64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
