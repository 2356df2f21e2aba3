"""What the simulated modem (gateway.simulator.modem) says and understands, kept apart so that
the modem holds only its behaviour: the command tables (27.007 / 27.005, and each family's vendor
commands from gateway.at.families), the command grammar, default settings and storages, the call
signs it recognises in the lines it plays (read with the daemon's own readers, with the look-ahead
that ends ring-only calls), and the SMS codecs it speaks through (the daemon's own, gateway.at.pdu).

Facts about real modems: docs/reference/modems.md.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Mapping

from gateway.at import families
from gateway.at.families import ACTIVE, END, INCOMING, RING, Family
from gateway.simulator.scenario import Step

IMEI = "490154203237518"      # the example IMEI of 3GPP TS 23.003 illustrations; not a real device
CME = {3: "operation not allowed", 4: "operation not supported", 21: "invalid index",
       50: "incorrect parameters", 100: "unknown"}    # 27.007 9.2.1

# Command key = head upper-cased + operator ("AT+CPIN?", "AT+CMGS=", "AT+CLCC"), basic commands
# whole. A string value names a SimulatedModem handler (`_do_<name>(arg) -> lines`).
GENERIC_ANSWERS: Mapping[str, object] = {
    "AT": (), "ATZ": (), "AT&F": (), "AT&W": (),
    "AT+CPIN?": ("+CPIN: READY",),
    "AT+CGMI": ("{manufacturer}",), "AT+GMI": ("{manufacturer}",),
    "AT+CGMM": ("{model}",), "AT+GMM": ("{model}",),
    "AT+CGMR": ("{revision}",), "AT+GMR": ("{revision}",),
    "AT+CGSN": (IMEI,), "AT+GSN": (IMEI,),
    "ATI": ("{manufacturer}", "{model}", "Revision: {revision}"),
    "AT+CSQ": ("+CSQ: 21,0",),
    "AT+CREG?": "creg",            # the sim's `registration` (27.007 7.2)
    "AT+COPS?": ('+COPS: 0,0,"TEXTBACK SIM",{operator_act}',),
    "AT+CNUM": "cnum",             # the sim's `own_number` (27.007 7.1); none: a bare OK
    "AT+CSCA?": ('+CSCA: "+15125550199",145',),
    "AT+CFUN?": ("+CFUN: 1",),
    "AT+CFUN=": "cfun",            # AT+CFUN=1,1 restarts the modem (27.007 8.2)
    "AT+CLCC": "list_calls",
    "AT+CMGS=": "start_sms",
    "AT+CMGR=": "read_sms",
    "AT+CMGD=": "delete_sms",
    "AT+CMGL": "list_sms", "AT+CMGL=": "list_sms", "AT+CMGL=?": "sms_stats",
    "AT+CNMA": "ack_sms", "AT+CNMA=": "ack_sms",
    "AT+CPBS?": "phonebook_status", "AT+CPBS=?": ('+CPBS: ("SM","MC")',),
    "AT+CPBR=": "read_phonebook", "AT+CPBR=?": "phonebook_range",
}
# head -> (setting, allowed values (None: any)); "=" sets it, "?" reads it, basic "ATE0" sets it.
GENERIC_SETTINGS: Mapping[str, tuple] = {
    "ATE": ("echo", ("0", "1")),
    "ATV": ("verbose", ("1",)),            # numeric result codes (ATV0) are not simulated
    "AT+CMEE": ("cmee", ("0", "1", "2")),
    "AT+CLIP": ("clip", ("0", "1")),
    "AT+CRC": ("crc", ("0", "1")),
    "AT+CMGF": ("cmgf", ("0", "1")),
    "AT+CSCS": ("cscs", ('"GSM"', '"IRA"', '"UCS2"', '"8859-1"')),
    "AT+CNMI": ("cnmi", None),
    "AT+CPMS": ("cpms", None),
    "AT+CSMS": ("csms", ("0", "1")),
    "AT+CPBS": ("cpbs", ('"SM"', '"MC"')),   # "AT+CPBS?" is a handler: it adds <used>,<total>
}
# IMS registration (27.007 8.71): answered by the LTE families only; older firmware
# (2G/3G modules) answers ERROR, as any unknown command.
IMS_ANSWERS: Mapping[str, object] = {
    "AT+CIREG?": "cireg", "AT+CIREG=?": ("+CIREG: (0-2)",), "AT+CIREG=": "cireg_set",
    "AT+CEREG?": "cereg",
}
# +CLCC=1 (call list URC mode) is a SIMCom/Quectel extension; 27.007 7.18 defines only the poll.
CLCC_URC = {"AT+CLCC": ("clcc", ("0", "1"))}



def answers_for(family: Family) -> Mapping[str, object]:
    """The command table of a family's simulated modem: 27.007's (IMS registration on the LTE
    families), and the vendor commands it takes (answered OK)."""
    return {**GENERIC_ANSWERS, **(IMS_ANSWERS if family.lte else {}),
            **dict.fromkeys(family.accepts, ())}


def settings_for(family: Family) -> Mapping[str, tuple]:
    return {**GENERIC_SETTINGS, **(CLCC_URC if family.clcc_urc else {})}


DEFAULTS = {
    "echo": "1",
    "verbose": "1",
    "cmee": "0",
    "clip": "0",
    "crc": "0",
    "cmgf": "0",
    "cscs": '"GSM"',
    "cnmi": "0,0,0,0,0",
    "cpms": '"SM","SM","SM"',
    "csms": "0",
    "clcc": "0",
    "cpbs": '"SM"',
}

# Phonebook storages (27.007 8.11) -> <total>. "SM" (the SIM's own, left empty) is the usual
# power-on choice; "MC" holds missed calls, the last 10 (<total> is the device's choice; ours).
PHONEBOOKS: Mapping[str, int] = {"SM": 250, "MC": 10}
PHONEBOOK_LENGTHS = (40, 14)   # <nlength>,<tlength> of +CPBR=? (27.007 8.12): common values, ours
# Message <stat> (27.005 3.1): PDU mode number -> text mode name. 4/"ALL" lists 0 and 1 (received).
SMS_STATS = ("REC UNREAD", "REC READ", "STO UNSENT", "STO SENT", "ALL")

# Ring-only calls (no end line in the scenario): over this long after their last ring (brief), and
# two rings further apart than RING_GAP belong to two calls: two cadences of the slowest documented
# modem (7 s, SIMCom A7682E), as rusp_firmware's 12 s RING_EVIDENCE_TIMEOUT
# (docs/reference/modems.md, "Ring cadence").
RING_OVER_AFTER = 1.0
RING_GAP = 12.0

# What a line the modem plays says about the incoming call: the daemon's own readers, for every
# family (gateway.at.families), so the simulator and the tracker cannot read one line two ways.
_SIGNS = {RING: "start", INCOMING: "start", END: "end", ACTIVE: "active"}


def read_call_sign(line: str) -> tuple[str, str | None, int | None] | None:
    """("start" | "end" | "active", number or None, type or None), or None for a line about no
    call (a restart line included: the simulated call outlives it, as the scenario says)."""
    signal = families.read(line)
    if signal is None or signal.kind not in _SIGNS:
        return None
    return _SIGNS[signal.kind], signal.number, signal.number_type


def is_end_line(line: str) -> bool:
    """A line that says the call is over (NO CARRIER, ^CEND, +CLCC stat 6...): what a modem without
    end lines never sends."""
    sign = read_call_sign(line)
    return sign is not None and sign[0] == "end"


def plan_ring_ends(steps: Iterable[Step]) -> dict[int, float]:
    """Look ahead: for each step that rings a call with no end line, when the sim deems that call
    over."""
    ends: dict[int, float] = {}
    group: list[tuple[int, float]] = []
    number: str | None = None

    def close() -> None:
        for i, _ in group:
            ends[i] = group[-1][1] + RING_OVER_AFTER
        group.clear()

    for i, step in enumerate(steps):
        sign = read_call_sign(step.rx)
        if sign is None:
            continue
        kind, new_number = sign[0], sign[1]
        if kind != "start":
            group.clear()          # an end or answer line decides this call, not silence
            number = None
            continue
        other_caller = new_number and number and new_number != number
        if group and (step.at - group[-1][1] > RING_GAP or other_caller):
            close()
            number = None
        group.append((i, step.at))
        number = new_number or number
    close()
    return ends


_BASIC = re.compile(r"^(AT(?:&?[A-Z])?)(\d*)$", re.IGNORECASE)
_EXTENDED = re.compile(r"^(AT[+^][A-Z0-9]+)(=\?|=|\?)?(.*)$", re.IGNORECASE | re.DOTALL)


def parse_command(line: str) -> tuple[str, str, str, str]:
    """(key, head, operator, argument): "AT+CMGF=0" -> ("AT+CMGF=", "AT+CMGF", "=", "0"),
    "ATE0" -> ("ATE0", "ATE", "", "0"). Anything else -> ("", "", "", line) (not a command)."""
    m = _EXTENDED.match(line)
    if m:
        head, op = m.group(1).upper(), m.group(2) or ""
        return head + op, head, op, m.group(3)
    m = _BASIC.match(line)
    if m:
        head = m.group(1).upper()
        return head + m.group(2), head, "", m.group(2)
    return "", "", "", line


def parse_stat(arg: str, text_mode: bool) -> int | None:
    """The <stat> of AT+CMGL (27.005 3.4.2; left out: "REC UNREAD") as a PDU mode number, or
    None."""
    arg = arg.strip() or ('"REC UNREAD"' if text_mode else "0")
    if text_mode:
        name = arg[1:-1].upper() if len(arg) > 1 and arg[0] == arg[-1] == '"' else ""
        return SMS_STATS.index(name) if name in SMS_STATS else None
    return int(arg) if arg.isdigit() and int(arg) < len(SMS_STATS) else None


# ---- SMS codecs (pure; gateway.at.pdu and gsmmodem.pdu are imported where used)
# -------------------
@dataclass(frozen=True)
class SmsPart:
    """The concatenation header of one part (3GPP TS 23.040 9.2.3.24.1): reassembly is the host's
    job."""

    reference: int
    count: int
    seq: int


def read_submit_pdu(length_arg: str, body: bytes) -> dict:
    """What the host sent after AT+CMGS=<length> in PDU mode; ValueError unless an SMS-SUBMIT.

    The text is read as a phone would show it, with the daemon's own reader (gateway.at.pdu): a
    surrogate pair cut across two parts shows as U+FFFD in each, so a test sees the cut."""
    from gsmmodem.pdu import decodeSmsPdu

    from gateway.at.pdu import read_user_data
    from gateway.render import whole_text

    length = int(length_arg.strip()) if length_arg.strip().isdigit() else -1
    pdu_hex = re.sub(rb"\s", b"", body).decode("ascii", errors="replace").upper()
    try:
        decoded = decodeSmsPdu(pdu_hex)
        data = read_user_data(bytes.fromhex(pdu_hex))
    except Exception as e:       # the codec raises EncodingError, StopIteration, ValueError...
        raise ValueError(f"undecodable PDU ({type(e).__name__})") from None
    if decoded.get("type") != "SMS-SUBMIT" or decoded["tpdu_length"] != length:
        raise ValueError(f"not an SMS-SUBMIT of {length} octets")
    part = SmsPart(*data.concat) if data.concat else None
    return {"number": decoded["number"], "text": whole_text(data.text), "pdu_hex": pdu_hex,
            "part": part}


def read_submit_text(number_arg: str, body: bytes, cscs: str) -> dict:
    """What the host sent after AT+CMGS="<number>" in text mode (UCS2 charset: hex of UTF-16BE)."""
    m = re.match(r'\s*"([^"]*)"', number_arg)
    if not m or not m.group(1):
        raise ValueError("no quoted number")
    body = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if cscs == '"UCS2"':
        text = bytes.fromhex(body.decode("ascii").replace("\n", "")).decode("utf-16-be")
    else:
        text = body.decode("utf-8", errors="replace")
    return {"number": m.group(1), "text": text, "pdu_hex": None, "part": None}


def encode_deliver_pdus(number: str, text: str, sent_at: datetime, reference: int = 0) -> list[str]:
    """SMS-DELIVER PDUs (hex, with an empty SMSC field) for a received text, one per part.

    The user data is laid out as in an SMS-SUBMIT, so we take the daemon's own encoder's
    (gateway.at.pdu) and rebuild the header around it (3GPP TS 23.040 9.2.2.1): first octet MTI 00 +
    TP-MMS + UDHI, TP-OA, PID, DCS, TP-SCTS. Lone surrogates go through as a broken phone would
    send them: the daemon must cope. A text longer than one message can be (255 parts) arrives as
    several messages, as a phone sends it, each with its own concatenation reference.
    """
    from gateway.at.pdu import encode_submit, scts
    from gateway.render import MAX_PARTS, split

    parts = split(text)[1]
    messages = ["".join(parts[i:i + MAX_PARTS]) for i in range(0, len(parts), MAX_PARTS)]
    pdus = []
    for n, message in enumerate(messages):
        for submit in encode_submit(number, message, reference + n, lenient=True):
            raw = bytes.fromhex(submit.hex)          # 00 (SMSC) FO MR DA... PID DCS [no VP] UDL UD
            first, address_end = raw[1], 5 + (raw[3] + 1) // 2
            address, pid, dcs, user_data = raw[3:address_end], raw[address_end], \
                raw[address_end + 1], raw[address_end + 2:]
            deliver = bytes([0x00, 0x04 | (first & 0x40)]) + address + bytes([pid, dcs]) + \
                scts(sent_at) + user_data
            pdus.append(deliver.hex().upper())
    return pdus


def describe_deliver(pdu_hex: str, read: bool, text_mode: bool) -> tuple[str, str, str]:
    """(<stat>, the fields after it, the body line) of a received text, as +CMGR, +CMGL and +CMT
    show it (27.005 3.4.2, 3.4.3, 3.4.1): PDU mode `0`, `,<length>`, the PDU; text mode
    `"REC UNREAD"`, `"<oa>",,"<scts>"`, the text. <length>: TPDU octets, not the SMSC field
    ("00")."""
    if not text_mode:   # <length> leaves out the SMSC field (its length octet and its address)
        return str(int(read)), f",{len(pdu_hex) // 2 - 1 - int(pdu_hex[:2], 16)}", pdu_hex
    from gsmmodem.pdu import decodeSmsPdu

    from gateway.at.pdu import read_user_data
    from gateway.render import whole_text

    decoded = decodeSmsPdu(pdu_hex)
    text = whole_text(read_user_data(bytes.fromhex(pdu_hex)).text)
    return f'"{SMS_STATS[int(read)]}"', f'"{decoded["number"]}",,"{scts_text(decoded["time"])}"', \
        text


def scts_text(when: datetime) -> str:
    """27.005 text-mode <scts>: "yy/MM/dd,hh:mm:ss±zz", zz in quarter hours."""
    quarters = int(when.utcoffset().total_seconds() // 900)
    return when.strftime("%y/%m/%d,%H:%M:%S") + f"{quarters:+03d}"
