"""WAP push over SMS, pure: what a modem hands us when someone sends the business a picture.

An MMS never reaches a modem whole: the network sends an SMS-DELIVER whose user data header
addresses application port 2948 (WAP push) and whose data is a WSP push PDU carrying an MMS
m-notification-ind: who sent it, how big, and where the phone would fetch it. textback cannot
fetch it (that needs the carrier's MMS data connection), so it says so: the lead gets "sent a
picture message", the owner a text. docs/reference/mms-notification.md walks through the bytes.

Ours, not python-messaging's (0.5.13, 2020, GPL-2.0: its WAP decoder takes any push for MMS
without reading the content type, and a cut-short one raises a bare RuntimeError). Small: only
what a notification needs, every other header skipped by its length rule, so a field we do not
know never stops the reading. Never raises: `read` returns a Push whose `problem` says what is
wrong and where.

Sources (clause numbers in the comments):
- WAP-230-WSP-20010705-a (WSP): 8.1.2 uintvar, 8.2.4.1 Push PDU, 8.4.1.2 field values,
  8.4.2.1 basic rules (Text-string, Short-integer, Long-integer, Value-length), 8.4.2.24
  Content-Type, Appendix A table 40 (content types).
- OMA-TS-MMS_ENC-V1_3-20110913-A (MMS encapsulation): 6.2 m-notification-ind, 7.2.9
  Encoded-string-value, 7.3 header fields, table 25 (field names), 8 address encoding.
- 3GPP TS 23.040 9.2.3.24.3/.4 (application port addressing, 8- and 16-bit); the port numbers
  are IANA's: 2948 wap-push, 2949 wap-pushsecure.
"""
from __future__ import annotations

from typing import Any

from gateway.events import MMS, WapPush

WAP_PUSH_PORTS = (2948, 2949)
PUSH, CONFIRMED_PUSH = 0x06, 0x07        # WSP PDU types (8.2.4.1; Appendix A table 34)
# WSP table 40: the well-known content types a push to a phone carries in practice.
CONTENT_TYPES = {0x2E: "application/vnd.wap.sic", 0x30: "application/vnd.wap.slc", 0x3E: MMS}
# MMS_ENC table 25: header field names (the octet is 0x80 | number).
MESSAGE_TYPE, TRANSACTION_ID, MMS_VERSION = 0x0C, 0x18, 0x0D
FROM, SUBJECT, MESSAGE_SIZE, CONTENT_LOCATION = 0x09, 0x16, 0x0E, 0x03
M_NOTIFICATION_IND = 0x82                # X-Mms-Message-Type value (7.3.30)
ADDRESS_PRESENT, INSERT_ADDRESS = 0x80, 0x81  # From (7.3.21)
# IANA MIBenum -> Python codec for Encoded-string-value (7.2.9); others are read as UTF-8.
CHARSETS = {3: "ascii", 4: "latin-1", 106: "utf-8", 1000: "utf-16-be", 1015: "utf-16"}

# The record the daemon acts on (gateway/events.py: a transport's words, not its codec).
Push = WapPush


class _Short(Exception):
    """The data ended in the middle of something (said once, by `read`)."""


class _Reader:
    def __init__(self, data: bytes, at: int = 0, end: int | None = None) -> None:
        self.data, self.at, self.end = data, at, len(data) if end is None else end

    def left(self) -> int:
        return self.end - self.at

    def octet(self) -> int:
        if self.at >= self.end:
            raise _Short
        self.at += 1
        return self.data[self.at - 1]

    def peek(self) -> int:
        if self.at >= self.end:
            raise _Short
        return self.data[self.at]

    def take(self, n: int) -> bytes:
        if n > self.left():
            raise _Short
        self.at += n
        return self.data[self.at - n:self.at]

    def uintvar(self) -> int:
        """WSP 8.1.2: 7 bits an octet, high bit set on all but the last; at most 5 octets."""
        value = 0
        for _ in range(5):
            octet = self.octet()
            value = value << 7 | octet & 0x7F
            if not octet & 0x80:
                return value
        raise ValueError("a length (uintvar) longer than 5 octets")

    def value_length(self) -> int:
        """8.4.2.2: Short-length (0-30) or Length-quote (31) then a uintvar."""
        first = self.octet()
        return first if first < 31 else self.uintvar()

    def text(self) -> bytes:
        """8.4.2.1 Text-string: an optional Quote (0x7F), the characters, End-of-string (0x00)."""
        if self.peek() == 0x7F:
            self.at += 1
        end = self.data.find(b"\x00", self.at, self.end)
        if end < 0:
            # The last header's text may end with the data instead: Android's PduParser reads to
            # the end of the stream there, and notifications like that are seen (SMSGate's test).
            if self.end != len(self.data) or self.at >= self.end:
                raise _Short
            end = self.end
        out, self.at = self.data[self.at:end], min(end + 1, self.end)
        return out

    def integer(self) -> int:
        """8.4.2.1 Integer-value: a Short-integer (high bit set) or a Long-integer (a length of at
        most 30, then that many octets, big-endian)."""
        first = self.octet()
        if first & 0x80:
            return first & 0x7F
        if first > 30:
            raise ValueError(f"not an integer (octet 0x{first:02X})")
        return int.from_bytes(self.take(first), "big")

    def skip_value(self) -> None:
        """8.4.1.2: any field value, by its first octet: a length then that many octets, a text
        up to its end, or one octet."""
        first = self.peek()
        if first <= 31:
            self.take(self.value_length())
        elif first <= 127:
            self.text()
        else:
            self.at += 1


def read(data: bytes) -> Push:
    """A WSP push PDU (the user data of a port-2948 SMS, parts joined) as a Push."""
    reader = _Reader(data)
    push = Push()
    try:
        reader.octet()                                  # TID (connectionless WSP, 8.2.1)
        kind = reader.octet()
        if kind not in (PUSH, CONFIRMED_PUSH):
            return Push(problem=f"not a WAP push (WSP PDU type 0x{kind:02X})")
        size = reader.uintvar()
        if size > reader.left():
            raise _Short
        body_at = reader.at + size
        push = Push(content_type=_content_type(_Reader(data, reader.at, body_at)))
        if not push.is_mms:
            return Push(content_type=push.content_type,
                        problem=f"a WAP push of {push.content_type}, not a picture message")
        return _notification(_Reader(data, body_at), push)
    except _Short:
        return Push(content_type=push.content_type, problem=f"it is cut short ({len(data)} bytes)")
    except ValueError as exc:
        return Push(content_type=push.content_type, problem=f"it is malformed: {exc}")


def _content_type(reader: _Reader) -> str:
    """8.4.2.24: a well-known type (Short-integer), an extension type (text), or the general
    form (Value-length, then one of those, then parameters, which we do not need)."""
    first = reader.peek()
    if first <= 31:
        length = reader.value_length()
        inner = _Reader(reader.data, reader.at, reader.at + length)
        reader.take(length)
        return _content_type(inner)
    if first & 0x80:
        code = reader.octet() & 0x7F
        return CONTENT_TYPES.get(code, f"well-known content type 0x{code:02X}")
    return reader.text().decode("latin-1").strip().lower()


def _notification(reader: _Reader, push: Push) -> Push:
    """MMS_ENC 6.2: the headers of an m-notification-ind, the Message-Type first (7.1)."""
    fields: dict[str, Any] = {}
    first = True
    while reader.left():
        name = reader.octet()
        if name & 0x80 == 0:                  # an application header: Token-text, then its value
            reader.at -= 1
            reader.text()
            reader.text()
            continue
        code = name & 0x7F
        if first and code != MESSAGE_TYPE:
            raise ValueError("its first header is not X-Mms-Message-Type")
        first = False
        if code == MESSAGE_TYPE:
            fields["message_type"] = reader.octet()
            if fields["message_type"] != M_NOTIFICATION_IND:
                return Push(content_type=push.content_type, message_type=fields["message_type"],
                            problem=f"an MMS message of type 0x{fields['message_type']:02X}, not "
                                    "a notification of a new one")
        elif code == TRANSACTION_ID:
            fields["transaction"] = _string(reader.text())
        elif code == FROM:
            fields.update(_from(reader))
        elif code == SUBJECT:
            fields["subject"] = _encoded_string(reader)
        elif code == MESSAGE_SIZE:
            fields["size"] = reader.integer()
        elif code == CONTENT_LOCATION:
            fields["location"] = _string(reader.text())
        else:
            reader.skip_value()
    if "message_type" not in fields:
        raise _Short
    problem = None if fields.get("location") else "it has no X-Mms-Content-Location"
    return Push(content_type=push.content_type, problem=problem, **fields)


def _from(reader: _Reader) -> dict:
    """7.3.21 From: Value-length, then Address-present-token and the address, or
    Insert-address-token (the sender hid it)."""
    length = reader.value_length()
    inner = _Reader(reader.data, reader.at, reader.at + length)
    reader.take(length)
    token = inner.octet()
    if token == INSERT_ADDRESS:
        return {"hidden": True}
    if token != ADDRESS_PRESENT:
        raise ValueError(f"From holds token 0x{token:02X}")
    address = _encoded_string(inner)
    # 8: "+15125550142/TYPE=PLMN"; an e-mail address has no /TYPE.
    return {"sender": address.split("/TYPE=")[0].strip() or None}


def _encoded_string(reader: _Reader) -> str:
    """7.2.9 Encoded-string-value: a Text-string, or Value-length, Char-set, Text-string."""
    if reader.peek() > 31:
        return _string(reader.text())
    length = reader.value_length()
    inner = _Reader(reader.data, reader.at, reader.at + length)
    reader.take(length)
    charset = inner.integer()
    text = inner.text()
    return _string(text, CHARSETS.get(charset, "utf-8"))


def _string(raw: bytes, codec: str = "utf-8") -> str:
    return raw.decode(codec, errors="replace").replace("\x00", "")
