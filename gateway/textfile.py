"""Text files people write by hand (the config, the templates), read by one rule everywhere.

Windows Notepad saves UTF-8 with a byte order mark and CRLF line ends; other editors save neither.
Both are the same text to us: a leading UTF-8 BOM is dropped, and CRLF (or a lone CR) becomes LF.
`config check`, `run`, `image customize`, first boot and the templates all read through `decode`,
so a file accepted by one is accepted by all. Anything that is not UTF-8 is refused, saying so;
Notepad's "Unicode" (UTF-16) is named, because its error would otherwise be a byte offset.
"""
from __future__ import annotations

from pathlib import Path

UTF8_BOM = b"\xef\xbb\xbf"
# Notepad's "Unicode" and "Unicode big endian" encodings (UTF-16 with its byte order mark).
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class NotText(ValueError):
    """Bytes that are not UTF-8 text: `reason` says what, for a message; `hint` what to do."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
        self.hint = "save the file as UTF-8 (in Notepad: Save as, Encoding: UTF-8)"


def decode(data: bytes) -> str:
    """The text of a hand-written file: UTF-8, BOM dropped, line ends as LF. NotText if not."""
    if data.startswith(UTF16_BOMS):
        raise NotText("saved as UTF-16 (Notepad's \"Unicode\"), not UTF-8")
    try:
        text = data.removeprefix(UTF8_BOM).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotText(f"not UTF-8 text (byte {exc.start})") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read(path: Path) -> str:
    """`decode` of the file's bytes; OSError as open() raises it."""
    return decode(Path(path).read_bytes())
