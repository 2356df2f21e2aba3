"""Pure parsers for the unsolicited lines a modem sends about calls.

Every parser takes one framed line and returns a frozen record, or None when the line is not its
kind or is corrupted (u-blox URCs have been seen corrupted). None of them raises, for any input.
The shapes: docs/reference/modems.md ("the reference"), "Caller ID and call lists".
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# 27.007 7.6 <CLI validity>: 0 valid, 1 withheld by the caller, 2 not available (network).
WITHHELD_VALIDITY = (1, 2)
# One field of an AT parameter list: a quoted string (no quote inside) or bare text up to a comma.
_FIELD = re.compile(r'\s*(?:"([^"]*)"|([^",]*?))\s*(?:,|$)')
_DIGITS = re.compile(r"\d")
_INT = re.compile(r"\s*\d{1,6}\s*")
# What a bare (unquoted) number may hold: dial-string characters (27.007 7.1), nothing else.
_BARE_NUMBER = re.compile(r"[+*#0-9A-Za-z_ -]*")
BAD = object()   # a field that is present but corrupted (distinct from None: absent or empty)


@dataclass(frozen=True)
class Clip:
    """+CLIP (27.007 7.6): the caller's number as the modem gave it."""

    number: str | None      # None when empty or holding no digit
    type: int | None        # <type> (27.007 7.6): 145 international, 129 national, 128 unknown
    validity: int | None    # <CLI validity>, when the modem sends the field

    @property
    def withheld(self) -> bool:
        # Validity is the reliable signal; type 128 alone is not (a real number with 128 was seen).
        return self.validity in WITHHELD_VALIDITY or self.number is None


@dataclass(frozen=True)
class Clcc:
    """One +CLCC entry (27.007 7.18), or the same fields after +QIND: "ccinfo" (Quectel)."""

    idx: int
    dir: int                # 0 mobile originated, 1 mobile terminated (incoming)
    stat: int               # 0 active, 1 held, 2 dialing, 3 alerting, 4 incoming, 5 waiting,
                            # 6 disconnected (vendor extension)
    mode: int               # 0 voice, 1 data, 2 fax
    mpty: int
    number: str | None
    type: int | None


@dataclass(frozen=True)
class Cend:
    """Huawei ^CEND:<id>,<duration>,<end_status>[,<cc_cause>] (MU509 AT spec 10.4)."""

    id: int
    duration: int           # seconds connected: 0 for an unanswered call (chan_dongle#82)
    end_status: int | None
    cc_cause: int | None


@dataclass(frozen=True)
class CallStat:
    """u-blox +UCALLSTAT: <call_id>,<stat> (stat as +CLCC: 0 active, 4 incoming, 6 disconnected)."""

    id: int
    stat: int


@dataclass(frozen=True)
class MissedCall:
    """SIMCom LTE MISSED_CALL: <hh:mmAM> <number> (ModemManager fixture)."""

    time: str
    number: str | None


@dataclass(frozen=True)
class Wind:
    """Wavecom +WIND: <event>[,<idx>...]: event 6 = a call was released (Wavecom AT manual 7.1)."""

    event: int
    args: tuple[str, ...]


def split_fields(text: str) -> list[tuple[str, bool]] | None:
    """'"+1512",145,,"x"' -> [("+1512", True), ("145", False), ("", False), ("x", True)];
    None if malformed. The flag says whether the field was quoted."""
    fields: list[tuple[str, bool]] = []
    pos = 0
    while True:
        m = _FIELD.match(text, pos)
        if m is None or (m.end() == pos and pos < len(text)):
            return None
        quoted = m.group(1) is not None
        fields.append((m.group(1) if quoted else m.group(2), quoted))
        pos = m.end()
        if pos >= len(text):
            if text.rstrip().endswith(","):
                fields.append(("", False))   # a trailing comma opens an empty last field
            return fields


def parse_clip(line: str) -> Clip | None:
    """Every +CLIP shape of the reference: 2 to 6 fields, quoted or not, space or not."""
    fields = _fields_after(line, "+CLIP:")
    if not fields or len(fields) > 6:
        return None
    number = _number(fields[0])
    type_ = _optional_int(fields, 1)
    validity = _optional_int(fields, 5)
    if BAD in (number, type_, validity):
        return None
    return Clip(number, type_, validity)


def parse_clcc(line: str) -> Clcc | None:
    """+CLCC: <idx>,<dir>,<stat>,<mode>,<mpty>[,<number>,<type>[,<alpha>...]] (27.007 7.18)."""
    return _clcc_fields(_fields_after(line, "+CLCC:"))


def parse_ccinfo(line: str) -> Clcc | None:
    """Quectel +QIND: "ccinfo",<the +CLCC fields> (AT+QINDCFG="ccinfo",1)."""
    fields = _fields_after(line, "+QIND:")
    if not fields or fields[0] != ("ccinfo", True):
        return None
    return _clcc_fields(fields[1:])


def parse_cend(line: str) -> Cend | None:
    fields = _fields_after(line, "^CEND:")
    if not fields or not 3 <= len(fields) <= 4:
        return None
    values = [_optional_int(fields, i) for i in range(4)]
    if any(v is BAD for v in values) or values[0] is None or values[1] is None:
        return None
    return Cend(*values)


def parse_ucallstat(line: str) -> CallStat | None:
    fields = _fields_after(line, "+UCALLSTAT:")
    if not fields or len(fields) != 2:
        return None
    id_, stat = _optional_int(fields, 0), _optional_int(fields, 1)
    if id_ in (None, BAD) or stat in (None, BAD):
        return None
    return CallStat(id_, stat)


def parse_missed_call(line: str) -> MissedCall | None:
    m = re.fullmatch(r"MISSED_CALL: ?(\d{1,2}:\d{2} ?[AP]M)(?: +(\S+))?\s*", line)
    if m is None:
        return None
    number = m.group(2) if m.group(2) and _DIGITS.search(m.group(2)) else None
    return MissedCall(m.group(1), number)


def parse_hangup(line: str) -> int | None:
    """ZTE HANGUP: <id> (faucamp/python-gsmmodem#12) -> the call id."""
    m = re.fullmatch(r"HANGUP: ?(\d{1,3})\s*", line)
    return int(m.group(1)) if m else None


def parse_wind(line: str) -> Wind | None:
    fields = _fields_after(line, "+WIND:")
    if not fields or not _INT.fullmatch(fields[0][0]) or fields[0][1]:
        return None
    return Wind(int(fields[0][0]), tuple(value for value, _ in fields[1:]))


def parse_cring(line: str) -> str | None:
    """+CRING: <type> (27.007 6.11, AT+CRC=1) -> "VOICE", "DATA", "GPRS ..."; None if not +CRING."""
    if not line.startswith("+CRING:"):
        return None
    return line[len("+CRING:"):].strip().upper()


# ---- shared pieces -----------------------------------------------------------------------------
def _fields_after(line: str, prefix: str) -> list[tuple[str, bool]] | None:
    if not isinstance(line, str) or not line.startswith(prefix):
        return None
    return split_fields(line[len(prefix):].strip())


def _clcc_fields(fields: list[tuple[str, bool]] | None) -> Clcc | None:
    if not fields or len(fields) < 5 or len(fields) > 10:
        return None
    head = [_optional_int(fields, i) for i in range(5)]
    if any(v is None or v is BAD for v in head):
        return None
    number = _number(fields[5]) if len(fields) > 5 else None
    type_ = _optional_int(fields, 6)
    if number is BAD or type_ is BAD:
        return None
    return Clcc(head[0], head[1], head[2], head[3], head[4], number, type_)


def _number(field: tuple[str, bool]) -> Any:  # str | None, or BAD
    """The number field: None when it holds no digit; BAD for unquoted junk."""
    value, quoted = field
    if not quoted and not _BARE_NUMBER.fullmatch(value):
        return BAD
    return value.strip() if _DIGITS.search(value) else None


def _optional_int(fields: list[tuple[str, bool]], i: int) -> Any:  # int | None, or BAD
    """fields[i] as an int; None when absent or empty; BAD when it is not a number (corrupted)."""
    if i >= len(fields) or fields[i][0].strip() == "":
        return None
    value, quoted = fields[i]
    return int(value) if not quoted and _INT.fullmatch(value) else BAD
