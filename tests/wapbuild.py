"""MMS notifications built from the specifications, for tests and scenarios (not shipped).

Byte by byte as the specs lay them out: 3GPP TS 23.040 9.2.2.1 (SMS-DELIVER), 9.2.3.24.4 (16-bit
application ports), 9.2.3.24.1 (concatenation); WAP-230 WSP 8.2.4.1 (Push PDU), 8.4.2.24 (content
type), 8.1.2 (uintvar); OMA-TS-MMS_ENC-V1_3 6.2 (m-notification-ind), 7.2.9, 7.3.21 (From).
"""
from __future__ import annotations


def uintvar(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | n & 0x7F)
        n >>= 7
    return bytes(reversed(out))


def text(s: str) -> bytes:
    return s.encode() + b"\x00"


def notification(*, sender: str | None = "+15125550142", hidden: bool = False,
                 size: int = 48_213, subject: str | None = None, tid: str = "T1a2b3c4",
                 location: str | None = "http://mms.example.net/m/T1a2b3c4") -> bytes:
    """An m-notification-ind: Message-Type, Transaction-ID, MMS-Version first (7.1)."""
    out = bytes([0x8C, 0x82, 0x98]) + text(tid) + bytes([0x8D, 0x92])
    if hidden:
        out += bytes([0x89, 0x01, 0x81])
    elif sender is not None:
        address = text(f"{sender}/TYPE=PLMN")
        out += bytes([0x89, len(address) + 1, 0x80]) + address
    if subject is not None:   # as an Encoded-string-value with charset utf-8 (0xEA = 106)
        value = bytes([0xEA]) + text(subject)
        out += bytes([0x96, len(value)]) + value
    size_octets = size.to_bytes((size.bit_length() + 7) // 8 or 1, "big")
    out += bytes([0x8A, 0x80, 0x8E, len(size_octets)]) + size_octets
    out += bytes([0x88, 0x05, 0x81, 0x03, 0x03, 0xF4, 0x80])      # expiry: relative, 259200 s
    if location is not None:
        out += bytes([0x83]) + text(location)
    return out


def push(body: bytes, content_type: bytes = bytes([0xBE]), tid: int = 0x01) -> bytes:
    """A WSP Push PDU: TID, type 0x06, headers length, content type (0xBE: well-known 0x3E,
    application/vnd.wap.mms-message), X-Wap-Application-Id mms.ua (0xAF 0x84), the body."""
    headers = content_type + bytes([0xAF, 0x84])
    return bytes([tid, 0x06]) + uintvar(len(headers)) + headers + body


def deliver(data: bytes, *, oa: str = "+15125550142", port: int = 2948, concat=None,
            dcs: int = 0x04) -> str:
    """One SMS-DELIVER (hex, empty SMSC field) carrying `data` to an application port."""
    digits = oa.lstrip("+")
    padded = digits + "F" * (len(digits) % 2)
    address = bytes([len(digits), 0x91 if oa.startswith("+") else 0x81]) + bytes.fromhex(
        "".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2)))
    ies = bytes([0x05, 0x04]) + port.to_bytes(2, "big") + (9200).to_bytes(2, "big")
    if concat is not None:
        ref, count, seq = concat
        ies = bytes([0x00, 0x03, ref, count, seq]) + ies
    ud = bytes([len(ies)]) + ies + data
    scts = bytes.fromhex("62114201000000")   # 2026-11-24 10:00:00 +00 (semi-octets swapped)
    tpdu = bytes([0x44]) + address + bytes([0x00, dcs]) + scts + bytes([len(ud)]) + ud
    return "00" + tpdu.hex().upper()
