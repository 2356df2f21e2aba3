"""AT line framing: bytes from the port in, whole lines out (pure).

Modems end lines with "\r\n", "\r\r\n" (SIMCom +CRING) or a bare "\r" (gammu fixture), pack a final
result and several URCs into one read, split one line across reads, and send the SMS prompt "\r\n> "
with no line end at all (gammu#61: 0D 0D 0A 3E 20): docs/reference/modems.md, "Framing".
"""
from __future__ import annotations

import re

PROMPT = "> "
# Longer than any real AT line (a 160-char text-mode SMS is the longest we expect); past this it is
# noise.
MAX_LINE = 1024

FINAL_OK = "OK"
# Final result codes that end a command we issued (27.007 5.7, 27.005 3.2.5). NO CARRIER is not
# among them: we never dial or answer, so for us it is a call URC.
_SEPARATORS = re.compile(rb"[\r\n]")
_FINAL_ERROR = re.compile(r"^(ERROR|\+CME ERROR:.*|\+CMS ERROR:.*|COMMAND NOT SUPPORT)$")


def is_final(line: str) -> bool:
    return line == FINAL_OK or bool(_FINAL_ERROR.match(line))


def is_error(line: str) -> bool:
    return bool(_FINAL_ERROR.match(line))


class LineFramer:
    """Feed it whatever `read()` returned; it returns the complete lines, in order.

    Empty lines vanish. The prompt "> " is returned as its own line the moment it is the whole
    pending
    text, since the modem sends nothing after it until we answer.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._overlong = False
        self.dropped = 0  # overlong lines discarded (garbage on the line)

    def feed(self, data: bytes) -> list[str]:
        self._buf += data
        *complete, rest = _SEPARATORS.split(bytes(self._buf))
        lines: list[str] = []
        for raw in complete:
            if self._overlong:  # the tail of a line already discarded
                self._overlong = False
                continue
            if len(raw) > MAX_LINE:
                self.dropped += 1
                continue
            text = raw.decode("utf-8", errors="replace").strip()
            if text:
                lines.append(text)
        if len(rest) > MAX_LINE:
            self.dropped += 1
            self._overlong = True
            rest = b""
        self._buf = bytearray(rest)
        if rest == b"> ":
            self._buf.clear()
            lines.append(PROMPT)
        return lines

    def pending(self) -> bytes:
        """Bytes of a line not yet ended (for tests and debugging)."""
        return bytes(self._buf)
