"""SMS PDUs, pure: the SMS-SUBMITs we hand the modem, and the text inside any PDU we are given.

Ours rather than python-gsmmodem-new's `encodeSmsSubmitPdu`: its `encodeUcs2` writes one 16-bit
unit per code point, so a character outside the Basic Multilingual Plane (every emoji) raises
"byte must be in range(0, 256)"; its `divideTextUcs2` cuts parts every 67 code points, which can
cut a surrogate pair in half; and its GSM-7 table has "`" where 3GPP TS 23.038 has "§" and "ÿ"
for form feed (gsmmodem/pdu.py, GSM7_BASIC and GSM7_EXTENDED, python-gsmmodem-new 0.13). We
still use its `decodeSmsPdu` for the header fields of received texts (numbers, timestamps).

The parts are `gateway.render.split`'s, so what `config check` and `reply --dry-run` count is what
goes out. The simulated modem decodes what we send with `read_user_data` below, the same code the
daemon reads received texts with.

References: 3GPP TS 23.040 (9.2.2.2 SMS-SUBMIT layout, 9.1.2.5 addresses, 9.2.3.24 user data
header, 9.2.3.24.1 concatenation), 3GPP TS 23.038 (clause 4 data coding scheme, 6.1.2.1 GSM-7
packing, 6.2.1 alphabet).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from gateway.render import GSM7_BASIC, GSM7_EXTENSION_CODES, MAX_PARTS, split

_GSM7_CODE = {ch: i for i, ch in enumerate(GSM7_BASIC) if ch != "\x1b"}
_GSM7_EXTENSION = {code: ch for ch, code in GSM7_EXTENSION_CODES.items()}
ESCAPE = 0x1B
DCS = {"GSM-7": 0x00, "UCS-2": 0x08}     # 23.038 clause 4: general coding, no class
IEI_CONCAT_8, IEI_CONCAT_16 = 0x00, 0x08  # 23.040 9.2.3.24.1 / 9.2.3.24.8
IEI_PORT_8, IEI_PORT_16 = 0x04, 0x05      # 23.040 9.2.3.24.3 / 9.2.3.24.4: application ports
_DIGITS = re.compile(r"\+?[0-9]{1,20}")   # 23.040 9.1.2.5: at most 20 semi-octets


class Unencodable(ValueError):
    """A text or number that no SMS-SUBMIT can carry; the message says why, for the outbox."""


@dataclass(frozen=True)
class Submit:
    """One SMS-SUBMIT PDU as AT+CMGS takes it in PDU mode (27.005 3.5.1)."""

    tpdu_length: int   # octets after the SMSC field: the <length> of AT+CMGS=<length>
    hex: str           # the whole PDU, SMSC field ("00": the SIM's own centre) first


@dataclass(frozen=True)
class UserData:
    """What a PDU's user data holds."""

    alphabet: str                                  # "GSM-7", "8-bit" or "UCS-2"
    text: str                                      # UCS-2: lone surrogates kept (see `whole_text`)
    concat: tuple[int, int, int] | None = None     # (reference, count, seq) when a part
    port: int | None = None                        # destination application port (WAP push: 2948)
    data: bytes = b""                              # 8-bit: the octets after the header, as sent


# ---- sending -----------------------------------------------------------------------------------
def address(number: str) -> bytes:
    """TP-DA (23.040 9.1.2.5): length in digits, type of address, digits as swapped semi-octets."""
    if not _DIGITS.fullmatch(number):
        raise Unencodable("the number is not a phone number a text can go to")
    digits = number.lstrip("+")
    toa = 0x91 if number.startswith("+") else 0x81   # international / unknown, ISDN numbering plan
    padded = digits + "F" * (len(digits) % 2)
    return bytes([len(digits), toa]) + bytes.fromhex(
        "".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2)))


def encode_submit(number: str, text: str, reference: int, *, lenient: bool = False) -> list[Submit]:
    """The SMS-SUBMIT PDUs for `text` to `number`, one per part; Unencodable when none can carry it.

    `reference` (mod 256) is TP-MR and the concatenation reference: it only has to differ between
    messages in flight (23.040 9.2.3.24.1). `lenient` lets lone surrogates through, as a broken
    sending phone would: the simulated network uses it to deliver such texts to us.
    """
    encoding, parts = split(text)
    if len(parts) > MAX_PARTS:
        raise Unencodable(f"the text is too long: {len(parts)} parts, and one message can have at "
                          f"most {MAX_PARTS}")
    ref, count = reference % 256, len(parts)
    head = address(number)
    first = 0x01 | (0x40 if count > 1 else 0)      # SMS-SUBMIT, no validity period; UDHI if parts
    out = []
    for seq, part in enumerate(parts, 1):
        header = bytes([5, IEI_CONCAT_8, 3, ref, count, seq]) if count > 1 else b""
        length, data = _user_data(part, encoding, header, lenient)
        tpdu = bytes([first, ref]) + head + bytes([0x00, DCS[encoding], length]) + data
        out.append(Submit(len(tpdu), "00" + tpdu.hex().upper()))
    return out


def scts(when: datetime) -> bytes:
    """TP-SCTS (23.040 9.2.3.11): year to second as swapped semi-octets, then the offset from UTC
    in quarter hours, its sign in bit 3 of the last octet. `when` must carry its offset."""
    offset = when.utcoffset()
    if offset is None:
        raise ValueError("a service centre time stamp needs its UTC offset")
    quarters = int(offset.total_seconds() / 900)     # towards zero, as a whole quarter
    digits = when.strftime("%y%m%d%H%M%S") + f"{abs(quarters):02d}"
    octets = bytearray(int(digits[i + 1] + digits[i], 16) for i in range(0, len(digits), 2))
    if quarters < 0:
        octets[6] |= 0x08
    return bytes(octets)


def _user_data(text: str, encoding: str, header: bytes, lenient: bool) -> tuple[int, bytes]:
    """(TP-UDL, TP-UD): UDL counts septets for GSM-7 (header and fill bits in), else octets."""
    if encoding == "UCS-2":
        try:
            body = text.encode("utf-16-be", "surrogatepass" if lenient else "strict")
        except UnicodeEncodeError as exc:
            raise Unencodable(f"the text holds an invalid character (a lone surrogate, "
                              f"U+{ord(text[exc.start]):04X})") from None
        return len(header) + len(body), header + body
    septets = []
    for ch in text:
        if ch in _GSM7_CODE:
            septets.append(_GSM7_CODE[ch])
        else:
            septets += [ESCAPE, GSM7_EXTENSION_CODES[ch]]
    fill = -len(header) * 8 % 7   # the text starts on a septet boundary (23.040 9.2.3.24)
    return (len(header) * 8 + fill) // 7 + len(septets), header + _pack(septets, fill)


def _pack(septets: list[int], fill: int = 0) -> bytes:
    """23.038 6.1.2.1.1: septets packed into octets, least significant bit first, after `fill`
    zero bits."""
    bits = sum(s << (fill + 7 * i) for i, s in enumerate(septets))
    return bits.to_bytes((fill + 7 * len(septets) + 7) // 8, "little")


# ---- reading -----------------------------------------------------------------------------------
def alphabet(dcs: int) -> str:
    """TP-DCS -> "GSM-7", "8-bit", "UCS-2" or "compressed" (23.038 clause 4)."""
    group = dcs >> 4
    if group <= 0x7:                     # 00xx / 01xx: general data coding (01: auto-deletion)
        if dcs & 0x20:
            return "compressed"
        return ("GSM-7", "8-bit", "UCS-2", "GSM-7")[(dcs >> 2) & 3]  # 11 reserved: as GSM-7
    if group == 0xE:                     # message waiting indication, UCS-2
        return "UCS-2"
    if group == 0xF:                     # data coding / message class
        return "8-bit" if dcs & 0x04 else "GSM-7"
    return "GSM-7"                       # 1100/1101 message waiting; reserved groups: as GSM-7


def read_user_data(pdu: bytes) -> UserData:
    """The user data of an SMS-DELIVER or SMS-SUBMIT PDU (SMSC field first, as AT+CMGR shows it).
    ValueError, saying what, when it is cut short or malformed."""
    try:
        return _read_user_data(pdu)
    except IndexError:
        raise ValueError("it ends before its user data") from None


def _read_user_data(pdu: bytes) -> UserData:
    at = 1 + pdu[0]                      # the SMSC field
    first = pdu[at]
    kind = first & 0x03
    if kind not in (0, 1):
        raise ValueError(f"not a text message (message type {kind})")
    at += 1 + (kind == 1)                # the first octet; SUBMIT: TP-MR
    at += 2 + (pdu[at] + 1) // 2         # TP-OA / TP-DA: digits, type, semi-octets
    dcs = pdu[at + 1]
    at += 2                              # TP-PID, TP-DCS
    if kind == 0:
        at += 7                          # TP-SCTS
    else:
        at += {0: 0, 2: 1}.get((first >> 3) & 3, 7)   # TP-VP: none, relative, enhanced/absolute
    udl, data = pdu[at], pdu[at + 1:]
    coding = alphabet(dcs)
    if coding == "compressed":
        raise ValueError("its text is compressed (23.042), which textback cannot read")
    needed = (udl * 7 + 7) // 8 if coding == "GSM-7" else udl
    if len(data) < needed:
        raise ValueError(f"its user data is cut short by {needed - len(data)} octet(s)")
    data = data[:needed]
    header_len, concat, port = (_header(data) if first & 0x40 else (0, None, None))
    if coding == "GSM-7":
        fill = -header_len * 8 % 7
        skip = (header_len * 8 + fill) // 7
        text = _gsm7(_unpack(data, udl)[skip:])
    elif coding == "UCS-2":
        body = data[header_len:]
        text = body[:len(body) // 2 * 2].decode("utf-16-be", "surrogatepass")
    else:
        text = data[header_len:].decode("latin-1")
    return UserData(coding, text, concat, port, data[header_len:] if coding == "8-bit" else b"")


def _header(data: bytes) -> tuple[int, tuple[int, int, int] | None, int | None]:
    """(octets of the user data header, UDHL included; the concatenation IE if any; the
    destination application port if any)."""
    if not data:
        raise ValueError("its user data header is missing")
    size = 1 + data[0]
    if size > len(data):
        raise ValueError("its user data header is longer than its user data")
    concat, port, at = None, None, 1
    while at + 1 < size:
        iei, length = data[at], data[at + 1]
        value = data[at + 2:at + 2 + length]
        if at + 2 + length > size:
            raise ValueError("an element of its user data header runs past the header")
        if concat is None and iei == IEI_CONCAT_8 and length == 3:
            concat = (value[0], value[1], value[2])
        elif concat is None and iei == IEI_CONCAT_16 and length == 4:
            concat = (value[0] << 8 | value[1], value[2], value[3])
        elif port is None and iei == IEI_PORT_16 and length == 4:
            port = value[0] << 8 | value[1]
        elif port is None and iei == IEI_PORT_8 and length == 2:
            port = value[0]
        at += 2 + length
    return size, concat, port


def _unpack(data: bytes, count: int) -> list[int]:
    bits = int.from_bytes(data, "little")
    return [(bits >> (7 * i)) & 0x7F for i in range(count)]


def _gsm7(septets: list[int]) -> str:
    out, escaped = [], False
    for s in septets:
        if escaped:
            # 23.038 6.2.1.1: a code with no extension character shows as the default one;
            # escape twice is reserved, shown as a space.
            out.append(" " if s == ESCAPE else _GSM7_EXTENSION.get(s, GSM7_BASIC[s]))
            escaped = False
        elif s == ESCAPE:
            escaped = True
        else:
            out.append(GSM7_BASIC[s])
    return "".join(out)
