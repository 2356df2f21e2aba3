"""Modem families: what each one needs at start-up and how it reports calls (data, no behaviour).

Each family is a delta on the generic 27.007 one. Facts and their sources:
/work/shared/reference/modem-behaviour.md ("the reference"): "What each family sends" and "Timing".
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Family:
    name: str
    init: tuple[str, ...]       # sent (optional: a refusal is fine) after the generic init
    ring_interval: float        # seconds between RING / caller-ID repeats (reference, Timing)
    reliable_end: bool          # sends an end line for an unanswered call; if not, poll AT+CLCC
    urcs: tuple[str, ...]       # line prefixes it sends about calls (and restarts), for the tracker


# Lines any modem sends about an incoming call (27.007 6.11 +CRING, 7.6 +CLIP, 7.18 +CLCC; NO
# CARRIER ends a call, V.250 6.3.4) and on a restart (reference "Boot timing": RDY, SMS Ready,
# SMS DONE).
CALL_URCS = ("RING", "+CRING:", "+CLIP:", "+CLCC:", "NO CARRIER")
RESTART_URCS = ("RDY", "+CPIN: READY", "Call Ready", "SMS Ready", "SMS DONE")

GENERIC = Family(
    name="generic",
    init=(),
    # 27.007 leaves the cadence to the device; documented ones are 5 s (Huawei, Telit, SARA-G3)
    # and 6 s (Quectel default, LARA measured 5.5-6 s).
    ring_interval=6.0,
    # A ring that just stops is all 27.007 promises for an unanswered call (ModemManager
    # mm-base-call.c).
    reliable_end=False,
    urcs=CALL_URCS + RESTART_URCS,
)

FAMILIES: dict[str, Family] = {
    "generic": GENERIC,
    # With AT+CLCC=1: a +CLCC stat 6 line, then NO CARRIER (reference: EAT capture comment). Cadence
    # not published: the generic one.
    "sim800": replace(GENERIC, name="sim800", init=("AT+CLCC=1",), reliable_end=True),
    # VOICE CALL: END + NO CARRIER + +CLCC 6, 4 s after the last RING; 7 s between RINGs observed on
    # the A7682E (mchobby readme); MISSED_CALL: on SIM7600-class firmware (ModemManager fixture).
    "sim7600": replace(GENERIC, name="sim7600", init=("AT+CLCC=1",), ring_interval=7.0,
                       reliable_end=True, urcs=GENERIC.urcs + ("VOICE CALL:", "MISSED_CALL:")),
    # Ring cadence: AT+QCFG="urc/ri/ring" defaults 1000 + 5000 ms (EC25&EC21 AT manual). The end
    # of an unanswered call is "not found in a log" for EC2x, so poll. AT+CLCC lists the data
    # bearer (mode 1).
    "ec25": replace(GENERIC, name="ec25", init=('AT+QINDCFG="ccinfo",1',), ring_interval=6.0,
                    urcs=GENERIC.urcs + ('+QIND: "ccinfo"',)),
    # +CRING/+CLIP every 5 s, then ^CEND:<id>,0,... for an unanswered call (MU509 spec 9.18, 10.4;
    # chan_dongle#82). ^CONN: the call was connected.
    "huawei": replace(GENERIC, name="huawei", ring_interval=5.0, reliable_end=True,
                      urcs=GENERIC.urcs + ("^CEND:", "^CONN:")),
    # May send no RING at all, only +UCALLSTAT, which has been seen lost or corrupted: poll as well.
    # Cadence measured 5.5-6 s (rusp_firmware). AT+UCALLSTAT=1 turns the URC on (u-blox AT manual).
    "ublox": replace(GENERIC, name="ublox", init=("AT+UCALLSTAT=1",), ring_interval=6.0,
                     urcs=GENERIC.urcs + ("+UCALLSTAT:",)),
    # HANGUP: <id> seen only for outgoing calls (faucamp/python-gsmmodem#12): poll.
    "zte": replace(GENERIC, name="zte", urcs=GENERIC.urcs + ("HANGUP:",)),
    # +WIND: 6,<idx> "a call has been released", enabled by bit 5 (32) of AT+WIND (Wavecom AT manual
    # 7.1; the setting is kept in non-volatile memory). Not seen for unanswered calls: poll as well.
    "wavecom": replace(GENERIC, name="wavecom", init=("AT+WIND=32",),
                       urcs=GENERIC.urcs + ("+WIND:",)),
}

# (manufacturer pattern, model pattern, family): first match wins; None matches anything. Patterns
# search the +CGMI / +CGMM answers case-insensitively. SIMCom names both generations "SIMCOM...", so
# the model decides; a model alone is enough when the manufacturer line is odd or missing.
DETECTION: tuple[tuple[str | None, str | None, str], ...] = (
    (None, r"SIM7\d{3}|A7[678]\d\d", "sim7600"),
    (None, r"SIM[89]\d\d", "sim800"),
    (r"quectel", None, "ec25"),
    (None, r"\b(EC2\d|EG2\d|EG9\d|EC200)", "ec25"),
    (r"huawei", None, "huawei"),
    (r"u-?blox", None, "ublox"),
    (None, r"\b(LARA|SARA|TOBY)-", "ublox"),
    (r"\bZTE\b", None, "zte"),
    (r"wavecom", None, "wavecom"),
)


def detect(cgmi: str, cgmm: str) -> Family:
    """The family for a modem's +CGMI / +CGMM answers; generic when nothing matches."""
    for maker, model, name in DETECTION:
        if (maker is None or re.search(maker, cgmi, re.IGNORECASE)) and \
                (model is None or re.search(model, cgmm, re.IGNORECASE)):
            return FAMILIES[name]
    return GENERIC


def get(name: str) -> Family:
    """The family called `name`; KeyError if unknown (config checks names against FAMILIES)."""
    return FAMILIES[name]
