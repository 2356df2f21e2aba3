"""The replay scenario (docs/design.md, "Contract: replay"): load a JSON file into frozen records,
or say exactly which file and which place in it is wrong.

Pure apart from `load` reading the file. The simulated modem (`gateway.simulator.modem`) plays the
result.

Top-level keys: "start" (ISO 8601 with a UTC offset) and "steps" (required); optional "family"
(one of FAMILIES), "replies", "description" (free text, ignored), and two about framing:
- "line_end": how the modem ends every line it sends: "\r\n" (the default, V.250), "\r\r\n"
  (SIMCom +CRING) or "\r" (bare CR, gammu fixture). The SMS prompt stays "\r\n> ", no line end.
- "chunk": a whole number >= 1: the modem writes its bytes that many at a time (1: a byte a time).
And "end_lines": false: the modem never sends the lines that end a call (NO CARRIER, ^CEND,
+CLCC stat 6...); the call still ends at that step for AT+CLCC, as on a modem that only stops
ringing.
A step is {"at": seconds >= 0, "rx": "one line the modem sends"} or {"at": ..., "sms": {"from":
"+1...", "text": "..."}} (a text the modem receives: stored and announced with +CMTI, or sent
straight to the host as +CMT after AT+CNMI=2,2), or {"at": ..., "sms": {"pdu": "0791..."}}: one
SMS-DELIVER PDU exactly as a modem shows it in PDU mode (SMSC field first, hex), for what a phone
cannot type: an MMS notification (a WAP push), a captured oddity. A part of a longer message is
one step each. A reply is {"match": "AT+...", "rx": [lines],
"times": n or null}: host commands starting with "match" get "rx" instead of the normal answer.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.at import families
from gateway.errors import ConfigError

# Modem families the simulator can play: every family textback knows (gateway.at.families).
FAMILIES = tuple(families.FAMILIES)

# How the modem frames the lines it sends (docs/reference/modems.md, "Framing"): "\r\n" (V.250),
# "\r\r\n" (SIMCom +CRING), a bare "\r" (gammu fixture). The SMS prompt is always "\r\n> ".
LINE_ENDS = ("\r\n", "\r\r\n", "\r")

# A replay plays at most a week: it runs on a virtual clock, but every virtual hour still costs the
# daemon's periodic work (chores each minute), so "at": 1e12 would run for ever.
MAX_AT = 7 * 86400.0

_TOP_KEYS = {"start", "family", "steps", "replies", "description", "line_end", "chunk",
             "end_lines"}
_STEP_KEYS = {"at", "rx", "sms"}
_SMS_KEYS = {"from", "text", "pdu"}
MAX_PDU_HEX = 2 * 176   # 23.040: at most 12 octets of SMSC address and 164 of TPDU
_REPLY_KEYS = {"match", "rx", "times"}


@dataclass(frozen=True)
class InboundSms:
    """A text the network delivers to the modem (stored in "SM" and announced with +CMTI)."""

    number: str
    text: str
    pdu: str | None = None   # a whole SMS-DELIVER (hex), instead of number and text


@dataclass(frozen=True)
class Step:
    """At `at` scenario seconds the modem sends the line `rx` (or, with `sms`, receives a text)."""

    at: float
    rx: str
    sms: InboundSms | None = None


@dataclass(frozen=True)
class Reply:
    """Answer host commands starting with `match` with `rx`, the first `times` times (None:
    always)."""

    match: str
    rx: tuple[str, ...]
    times: int | None = None


@dataclass(frozen=True)
class Scenario:
    start: datetime
    family: str | None
    steps: tuple[Step, ...]
    replies: tuple[Reply, ...]
    line_end: str = "\r\n"         # how the modem ends every line it sends; one of LINE_ENDS
    chunk: int | None = None       # the sim writes N bytes at a time (framing tests); None: at once
    end_lines: bool = True         # False: the family's end lines are never sent


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file; every problem is a ConfigError naming the file."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read the scenario: {e}", path=source,
                          hint="give the path of a replay scenario JSON file") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"not valid JSON: {e.msg}", path=source,
                          key=f"line {e.lineno} column {e.colno}") from None
    return parse(obj, source=source)


def parse(obj: Any, source: str = "<scenario>") -> Scenario:
    """Validate an already decoded scenario; steps come back sorted by `at` (stable)."""
    def fail(key: str | None, message: str) -> ConfigError:
        return ConfigError(message, path=source, key=key)

    if not isinstance(obj, dict):
        raise fail(None, "must be a JSON object with \"start\" and \"steps\"")
    _reject_unknown(obj, _TOP_KEYS, "", fail)
    start = _parse_start(obj.get("start"), fail)
    family = obj.get("family")
    if family is not None and family not in FAMILIES:
        raise fail("family", f"must be one of {', '.join(FAMILIES)} (or left out), not {family!r}")
    steps = obj.get("steps")
    if not isinstance(steps, list):
        raise fail("steps", "must be a list of {\"at\": seconds, \"rx\": line}")
    parsed = [_parse_step(s, f"steps[{i}]", fail) for i, s in enumerate(steps)]
    replies = obj.get("replies", [])
    if not isinstance(replies, list):
        raise fail("replies", "must be a list of {\"match\": ..., \"rx\": [...]}")
    line_end = obj.get("line_end", "\r\n")
    if line_end not in LINE_ENDS:
        raise fail("line_end", f"must be one of {', '.join(json.dumps(e) for e in LINE_ENDS)} "
                               f"(how the modem ends its lines), not {json.dumps(line_end)}")
    chunk = obj.get("chunk")
    if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1):
        raise fail("chunk", "must be a whole number >= 1 (bytes per write), or left out")
    end_lines = obj.get("end_lines", True)
    if not isinstance(end_lines, bool):
        raise fail("end_lines", "must be true (the default) or false (the modem never sends the "
                                "lines that end a call)")
    return Scenario(
        start=start,
        family=family,
        # sorted() is stable: equal times keep file order
        steps=tuple(sorted(parsed, key=lambda s: s.at)),
        replies=tuple(_parse_reply(r, f"replies[{i}]", fail) for i, r in enumerate(replies)),
        line_end=line_end,
        chunk=chunk,
        end_lines=end_lines,
    )


def _reject_unknown(obj: dict, known: set[str], where: str, fail) -> None:
    for key in obj:
        if key not in known:
            raise fail(f"{where}{key}", f"unknown key (known: {', '.join(sorted(known))})")


def _parse_start(value: Any, fail) -> datetime:
    if not isinstance(value, str):
        raise fail(
            "start", 'must be an ISO 8601 time with a UTC offset, e.g. "2026-11-28T10:00:00-06:00"'
        )
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        raise fail("start", f"not an ISO 8601 time: {value!r}") from None
    if start.tzinfo is None or start.utcoffset() is None:
        raise fail("start", f"must include a UTC offset (\"-06:00\" or \"Z\"): {value!r}")
    return start


def _parse_line(value: Any, key: str, fail) -> str:
    if not isinstance(value, str):
        raise fail(key, "must be a string (one line the modem sends)")
    if "\r" in value or "\n" in value:
        raise fail(key, "must be one line: split it into several entries")
    bad = next((ch for ch in value if 0xD800 <= ord(ch) <= 0xDFFF), None)
    if bad is not None:   # a line goes over the wire as UTF-8, which has no lone surrogates
        raise fail(key, f"holds a lone surrogate (U+{ord(bad):04X}), which no modem can send; "
                        "write the whole character")
    return value


def _parse_step(step: Any, where: str, fail) -> Step:
    if not isinstance(step, dict):
        raise fail(where, "must be an object {\"at\": seconds, \"rx\": line}")
    _reject_unknown(step, _STEP_KEYS, f"{where}.", fail)
    at = step.get("at")
    # bool is an int to Python; `"at": true` is a mistake, not 1 second.
    if isinstance(at, bool) or not isinstance(at, (int, float)) or not math.isfinite(at) or at < 0:
        raise fail(f"{where}.at", "must be a number >= 0")
    if at > MAX_AT:
        raise fail(f"{where}.at", f"{at:.10g} s is more than 7 days after start (at most "
                                  f"{MAX_AT:.0f} s); a replay plays at most a week")
    if ("rx" in step) == ("sms" in step):
        raise fail(where, "needs exactly one of \"rx\" (a line the modem sends) "
                          "or \"sms\" (a text it receives)")
    if "rx" in step:
        return Step(at=float(at), rx=_parse_line(step["rx"], f"{where}.rx", fail))
    return Step(at=float(at), rx="", sms=_parse_sms(step["sms"], f"{where}.sms", fail))


def _parse_sms(sms: Any, where: str, fail) -> InboundSms:
    if not isinstance(sms, dict):
        raise fail(where, "must be an object {\"from\": \"+1...\", \"text\": \"...\"}")
    _reject_unknown(sms, _SMS_KEYS, f"{where}.", fail)
    if "pdu" in sms:
        return _parse_pdu(sms, where, fail)
    number, text = sms.get("from"), sms.get("text")
    if not isinstance(number, str) or not number.lstrip("+").isdigit():
        raise fail(f"{where}.from", "must be a phone number string such as \"+15125550142\"")
    if not isinstance(text, str):
        raise fail(f"{where}.text", "must be a string")
    return InboundSms(number=number, text=text)


def _parse_pdu(sms: dict, where: str, fail) -> InboundSms:
    if set(sms) != {"pdu"}:
        raise fail(where, "\"pdu\" stands alone: the PDU holds the sender and the text")
    pdu = sms["pdu"]
    if not isinstance(pdu, str) or not pdu or len(pdu) % 2 or len(pdu) > MAX_PDU_HEX or \
            any(ch not in "0123456789abcdefABCDEF" for ch in pdu):
        raise fail(f"{where}.pdu", f"must be an SMS-DELIVER PDU in hex (an even number of hex "
                                   f"digits, at most {MAX_PDU_HEX}), as AT+CMGR shows it")
    if int(pdu[:2], 16) * 2 + 2 >= len(pdu):
        raise fail(f"{where}.pdu", "ends inside its SMSC field: not a PDU")
    return InboundSms(number="", text="", pdu=pdu.upper())


def _parse_reply(reply: Any, where: str, fail) -> Reply:
    if not isinstance(reply, dict):
        raise fail(where, 'must be an object {"match": "AT+...", "rx": [lines], "times": n}')
    _reject_unknown(reply, _REPLY_KEYS, f"{where}.", fail)
    match = reply.get("match")
    if not isinstance(match, str) or not match.strip():
        raise fail(
            f"{where}.match", 'must be a non-empty string, the start of a host command ("AT+CMGS")'
        )
    rx = reply.get("rx")
    if not isinstance(rx, list):
        raise fail(f"{where}.rx", "must be a list of lines ([] for no answer at all)")
    lines = tuple(_parse_line(line, f"{where}.rx[{i}]", fail) for i, line in enumerate(rx))
    times = reply.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise fail(f"{where}.times", "must be a whole number >= 1, or null for always")
    return Reply(match=match, rx=lines, times=times)
