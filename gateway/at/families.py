"""Modem families: everything textback knows about one kind of modem, in one place (pure data).

Each family is a delta on the generic 3GPP TS 27.007 one: how the modem names itself (detection,
and what the simulator answers), what it needs at start-up, its ring cadence, and which
unsolicited lines (URCs) it sends about calls (its end line among them, if it has one), each read
into a `Signal` by one reader below. The call tracker (gateway.at.tracker), the session (which
lines are URCs), the doctor and the simulated modem all read this table; adding a family is one
entry here, plus a reader when its URC is new (docs/design.md, "Adding a modem family").

Facts and their sources: docs/reference/modems.md.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable, Mapping

from gateway.at import parse

# ---- what a line says about a call ---------------------------------------------------------
RING = "ring"            # RING / +CRING: one more ring (the modem rings on every cadence)
INCOMING = "incoming"    # +CLIP, +CLCC/ccinfo stat 4|5, +UCALLSTAT 4: ringing, maybe with caller ID
ACTIVE = "active"        # +CLCC stat 0, VOICE CALL: BEGIN, ^CONN, +UCALLSTAT 0: the call was taken
END = "end"              # the family's end line: the call is over
RESTART = "restart"      # the modem booted again (RDY, SMS Ready...): whatever was ringing is lost


@dataclass(frozen=True)
class Signal:
    kind: str
    how: str                       # the deciding signal, as CallEnded.how names it
    number: str | None = None
    number_type: int | None = None
    withheld: bool = False         # only +CLIP says so (CLI validity, or an empty number)
    connected: bool | None = None  # the end line itself says whether the call was connected (^CEND)


Reader = Callable[[str], "Signal | None"]

# 27.007 7.18 <mode> 1 is data: LTE modems list the PS bearer as a "call" (docs/reference/modems.md,
# "Caller ID and call lists").
DATA_MODES = (1,)
CLCC_KINDS = {4: INCOMING, 5: INCOMING, 0: ACTIVE, 1: ACTIVE, 6: END}   # 27.007 7.18 <stat>
# What a modem says when it boots (docs/reference/modems.md, "Boot and restart").
RESTART_LINES = ("RDY", "+CPIN: READY", "Call Ready", "SMS Ready", "SMS DONE")


def read_ring(line: str) -> Signal | None:
    if line == "RING":
        return Signal(RING, "RING")
    kind = parse.parse_cring(line)
    # +CRING: GPRS ... is the network asking for a data context (27.007 6.11), not a call.
    return Signal(RING, "+CRING") if kind is not None and not kind.startswith("GPRS") else None


def read_clip(line: str) -> Signal | None:
    clip = parse.parse_clip(line)
    if clip is None:
        return None
    number = None if clip.withheld else clip.number
    return Signal(INCOMING, "+CLIP", number, clip.type, withheld=clip.withheld)


def read_call_entry(entry: parse.Clcc | None, name: str) -> Signal | None:
    """A +CLCC / +QIND ccinfo entry about an incoming voice call (not outgoing, not data)."""
    if entry is None or entry.dir != 1 or entry.mode in DATA_MODES or entry.stat not in CLCC_KINDS:
        return None
    return Signal(CLCC_KINDS[entry.stat], f"{name} stat {entry.stat}", entry.number, entry.type)


def read_clcc(line: str) -> Signal | None:
    return read_call_entry(parse.parse_clcc(line), "+CLCC")


def read_clcc_answer(lines: list[str]) -> list[Signal] | None:
    """The incoming voice calls of an AT+CLCC answer (27.007 7.18; [] when it lists none of
    them), or None when a line of it cannot be read: a garbled list says nothing about a call."""
    signals = []
    for line in lines:
        entry = parse.parse_clcc(line)
        if entry is None:
            return None
        signal = read_call_entry(entry, "+CLCC")
        if signal is not None:
            signals.append(signal)
    return signals


def read_ccinfo(line: str) -> Signal | None:
    return read_call_entry(parse.parse_ccinfo(line), "+QIND ccinfo")


def read_no_carrier(line: str) -> Signal | None:
    return Signal(END, "NO CARRIER") if line == "NO CARRIER" else None


def read_restart(line: str) -> Signal | None:
    return Signal(RESTART, line) if line in RESTART_LINES else None


def read_ucallstat(line: str) -> Signal | None:
    stat = parse.parse_ucallstat(line)
    if stat is None or stat.stat not in CLCC_KINDS:
        return None
    return Signal(CLCC_KINDS[stat.stat], f"+UCALLSTAT stat {stat.stat}")


def read_cend(line: str) -> Signal | None:
    cend = parse.parse_cend(line)
    # Duration 0: never connected (chan_dongle#82); more: it was answered.
    return Signal(END, "^CEND", connected=cend.duration > 0) if cend else None


def read_voice_call(line: str) -> Signal | None:
    if line.startswith("VOICE CALL: BEGIN"):
        return Signal(ACTIVE, "VOICE CALL: BEGIN")
    return Signal(END, "VOICE CALL: END") if line.startswith("VOICE CALL: END") else None


def read_missed_call(line: str) -> Signal | None:
    missed = parse.parse_missed_call(line)
    return Signal(END, "MISSED_CALL", missed.number, connected=False) if missed else None


def read_wind(line: str) -> Signal | None:
    wind = parse.parse_wind(line)
    return Signal(END, "+WIND: 6") if wind is not None and wind.event == 6 else None


def read_hangup(line: str) -> Signal | None:
    return Signal(END, "HANGUP") if parse.parse_hangup(line) is not None else None


def read_conn(line: str) -> Signal | None:
    return Signal(ACTIVE, "^CONN") if line[6:7].isdigit() else None   # ^CONN:<id>,<type>


# URC prefix -> reader. A family's `urcs` name the prefixes it sends.
READERS: Mapping[str, Reader] = {
    "RING": read_ring,
    "+CRING:": read_ring,
    "+CLIP:": read_clip,
    "+CLCC:": read_clcc,
    '+QIND: "ccinfo"': read_ccinfo,
    "NO CARRIER": read_no_carrier,
    "VOICE CALL:": read_voice_call,
    "MISSED_CALL:": read_missed_call,
    "^CEND:": read_cend,
    "^CONN:": read_conn,
    "+UCALLSTAT:": read_ucallstat,
    "HANGUP:": read_hangup,
    "+WIND:": read_wind,
    **dict.fromkeys(RESTART_LINES, read_restart),
}

# Lines any modem sends about an incoming call (27.007 6.11 +CRING, 7.6 +CLIP, 7.18 +CLCC; NO
# CARRIER ends a call, ITU-T V.250 6.3.4) and when it restarts.
CALL_URCS = ("RING", "+CRING:", "+CLIP:", "+CLCC:", "NO CARRIER") + RESTART_LINES


# ---- the families -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Identity:
    """How a real modem of the family answers AT+CGMI, AT+CGMM, AT+CGMR, and its access
    technology (<AcT> of +COPS?, 27.007 7.3: 0 GSM, 7 E-UTRAN). Detection must recognise it; the
    simulated modem answers with it."""

    manufacturer: str
    model: str
    revision: str
    access: int = 0


@dataclass(frozen=True)
class Family:
    name: str
    identity: Identity
    # (+CGMI pattern, +CGMM pattern): either matches, searched case-insensitively; None matches
    # anything. Families are tried in the order of FAMILIES, the first match wins.
    detect: tuple[tuple[str | None, str | None], ...] = ()
    init: tuple[str, ...] = ()  # sent (optional: a refusal is fine) after the generic set-up
    ring_interval: float = 6.0  # seconds between RING / caller-ID repeats ("Ring cadence")
    urcs: tuple[str, ...] = CALL_URCS  # the URC prefixes it sends about calls (READERS reads them)
    lte: bool = False           # an LTE module: calls need VoLTE where 2G/3G are gone (the doctor)
    # What the simulated modem answers besides 27.007: the vendor commands it takes (AT keys as
    # gateway.simulator.commands.parse_command makes them: "AT+QCFG=") and whether it has the
    # SIMCom/Quectel AT+CLCC=1 (the call list as URCs).
    accepts: tuple[str, ...] = ()
    clcc_urc: bool = False
    # How its AT+CLCC entries differ from 27.007 7.18's bare form, so that the simulated modem
    # answers as the real one does (docs/reference/modems.md, "Caller ID and call lists"): the
    # fields after <type>, and whether the data bearer is listed as a call of <mode> 1.
    clcc_tail: str = ""
    clcc_bearer: bool = False


GENERIC = Family(
    name="generic",
    identity=Identity("Generic", "GSM MODEM", "1.0"),
    # 27.007 leaves the cadence to the device; documented ones are 5 s (Huawei, Telit, SARA-G3)
    # and 6 s (Quectel default, LARA measured 5.5-6 s).
    ring_interval=6.0,
    # No end line: a ring that just stops is all 27.007 promises for an unanswered call
    # (ModemManager mm-base-call.c). Whatever end line a family sends, the tracker polls AT+CLCC
    # as well: the end line decides sooner when it comes; it is not relied on.
)

FAMILIES: dict[str, Family] = {
    "generic": GENERIC,
    # With AT+CLCC=1: a +CLCC stat 6 line, then NO CARRIER. Cadence not published: the generic one.
    # +CLCC entries end in an empty alpha ,"" (SIM800C, python-gsmmodem#112).
    "sim800": replace(
        GENERIC, name="sim800", identity=Identity("SIMCOM_Ltd", "SIMCOM_SIM800L",
                                                  "Revision:1418B05SIM800L24"),
        detect=((None, r"SIM[89]\d\d"),), init=("AT+CLCC=1",),
        accepts=("AT+CDRIND=",), clcc_urc=True, clcc_tail=',""'),
    # VOICE CALL: END + NO CARRIER + +CLCC 6, 4 s after the last RING; 7 s between RINGs observed
    # on the A7682E; MISSED_CALL: on SIM7600-class firmware. SIMCom names both generations
    # "SIMCOM...", so the model decides. +CLCC entries end in ,"",,0 (SIM7670, LilyGo#115).
    "sim7600": replace(
        GENERIC, name="sim7600", identity=Identity("SIMCOM INCORPORATED", "SIMCOM_SIM7600G-H",
                                                   "LE20B04SIM7600G22", access=7),
        detect=((None, r"SIM7\d{3}|A7[678]\d\d"),), init=("AT+CLCC=1",), ring_interval=7.0,
        urcs=CALL_URCS + ("VOICE CALL:", "MISSED_CALL:"), lte=True,
        clcc_urc=True, clcc_tail=',"",,0'),
    # Ring cadence: AT+QCFG="urc/ri/ring" defaults 1000 + 5000 ms. The end of an unanswered call
    # is not found in a log for EC2x: the poll decides. AT+CLCC lists the data bearer (mode 1).
    "ec25": replace(
        GENERIC, name="ec25", identity=Identity("Quectel", "EC25", "EC25EFAR06A06M4G", access=7),
        detect=((r"quectel", None), (None, r"\b(EC2\d|EG2\d|EG9\d|EC200)")),
        init=('AT+QINDCFG="ccinfo",1',), ring_interval=6.0,
        urcs=CALL_URCS + ('+QIND: "ccinfo"',), lte=True,
        accepts=("AT+QINDCFG=", "AT+QURCCFG=", "AT+QCFG="), clcc_urc=True, clcc_bearer=True),
    # +CRING/+CLIP every 5 s, then ^CEND:<id>,0,... for an unanswered call (MU509 AT spec 9.18,
    # 10.4). ^CONN: the call was connected.
    "huawei": replace(
        GENERIC, name="huawei", identity=Identity("huawei", "MU709s-2", "11.608.12.00.00"),
        detect=((r"huawei", None),), ring_interval=5.0,
        urcs=CALL_URCS + ("^CEND:", "^CONN:"), accepts=("AT^CURC=",)),
    # May send no RING at all, only +UCALLSTAT, which has been seen lost or corrupted (the poll
    # decides then). Cadence measured 5.5-6 s. AT+UCALLSTAT=1 turns the URC on (u-blox AT manual).
    "ublox": replace(
        GENERIC, name="ublox", identity=Identity("u-blox", "LARA-R211", "30.31", access=7),
        detect=((r"u-?blox", None), (None, r"\b(LARA|SARA|TOBY)-")), init=("AT+UCALLSTAT=1",),
        ring_interval=6.0, urcs=CALL_URCS + ("+UCALLSTAT:",), lte=True,
        accepts=("AT+UCALLSTAT=",)),
    # HANGUP: <id> seen only for outgoing calls: the poll decides.
    "zte": replace(
        GENERIC, name="zte", identity=Identity("ZTE CORPORATION", "MF626", "BD_P673A2V1.0.0B09"),
        detect=((r"\bZTE\b", None),), urcs=CALL_URCS + ("HANGUP:",)),
    # +WIND: 6,<idx> "a call has been released", enabled by bit 5 (32) of AT+WIND (Wavecom AT
    # manual 7.1; kept in non-volatile memory). Not seen for unanswered calls.
    "wavecom": replace(
        GENERIC, name="wavecom", identity=Identity("WAVECOM MODEM", "MULTIBAND  900E  1800",
                                                   "640b09gg.Q2406B"),
        detect=((r"wavecom", None),), init=("AT+WIND=32",), urcs=CALL_URCS + ("+WIND:",),
        accepts=("AT+WIND=",)),
}

# Every URC prefix some family sends about calls: the session never takes such a line for part of
# a command's answer (gateway.at.session URC_PREFIXES).
URC_PREFIXES = tuple(dict.fromkeys(p for family in FAMILIES.values() for p in family.urcs))


def detect(cgmi: str, cgmm: str) -> Family:
    """The family for a modem's +CGMI / +CGMM answers; generic when nothing matches."""
    for family in FAMILIES.values():
        for maker, model in family.detect:
            if (maker is None or re.search(maker, cgmi, re.IGNORECASE)) and \
                    (model is None or re.search(model, cgmm, re.IGNORECASE)):
                return family
    return GENERIC


def get(name: str) -> Family:
    """The family called `name`; KeyError if unknown (config checks names against FAMILIES)."""
    return FAMILIES[name]


def read(line: str, prefixes: tuple[str, ...] = URC_PREFIXES) -> Signal | None:
    """What `line` says about a call, read by the first of `prefixes` it starts with (a family's
    `urcs`; by default every family's, as the simulated modem reads the lines it plays)."""
    for prefix in prefixes:
        if line.startswith(prefix) and prefix in READERS:
            return READERS[prefix](line)
    return None
