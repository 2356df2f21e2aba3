"""Pictures a lead sends (the parts of an MMS), kept as files beside the lead database.

The folder is `<database>-photos/`, readable by the owner only (0700), each file 0600: they are
customers' pictures. A file is named after the lead, the message and the part, with an extension
from what its bytes are (never from the sender's file name, which is shown but never used as a
path). What the phone said is a picture but is not one is kept as a plain file, and said so.
"""
from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from gateway import events as ev

# (magic bytes at offset 0, extension); HEIF/AVIF are recognised by their "ftyp" box below.
MAGIC = ((b"\xff\xd8\xff", "jpg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"GIF87a", "gif"),
         (b"GIF89a", "gif"), (b"BM", "bmp"))
HEIF = {b"heic": "heic", b"heix": "heic", b"mif1": "heic", b"avif": "avif"}
OTHER = {"video/mp4": "mp4", "video/3gpp": "3gp", "audio/amr": "amr", "audio/mpeg": "mp3",
         "text/x-vcard": "vcf", "text/vcard": "vcf", "application/pdf": "pdf"}


def picture_type(data: bytes) -> str | None:
    """The extension of a picture format these bytes are in, or None when they are no picture."""
    for magic, ext in MAGIC:
        if data.startswith(magic):
            return ext
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:8] == b"ftyp" and data[8:12] in HEIF:
        return HEIF[data[8:12]]
    return None


def label(part: ev.Attachment) -> str:
    """What the owner is told it is: a photo (the bytes are a picture), a video, a voice note,
    or a file."""
    kind = part.content_type.split(";")[0].strip().lower()
    if part.data is not None:
        if picture_type(part.data):
            return "photo"
    elif kind.startswith("image/"):
        return "photo"
    return {"video": "video", "audio": "voice note"}.get(kind.split("/")[0], "file")


def folder_for(database: Path) -> Path:
    return database.with_name(database.name + "-photos")


def keep(
    folder: Path, lead_id: int, message_id: int, part: ev.Attachment
) -> tuple[str | None, str | None]:
    """Write the part's bytes; (path, problem): the path when kept, else why not."""
    if part.data is None:
        return None, part.problem or "the phone sent no data for it"
    kind = part.content_type.split(";")[0].strip().lower()
    ext = picture_type(part.data) or OTHER.get(kind, "bin")
    problem = None
    if kind.startswith("image/") and not picture_type(part.data):
        problem = f"the phone called it {kind}, but it is not a picture: kept as a file"
    safe_part = re.sub(r"[^A-Za-z0-9]", "", part.part)[:20] or "0"
    path = folder / f"lead{lead_id}-message{message_id}-part{safe_part}.{ext}"
    try:
        _private_folder(folder)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(part.data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        return None, f"could not be written to {folder} ({exc.strerror})"
    return str(path), problem


def _private_folder(folder: Path) -> None:
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        if stat.S_IMODE(folder.stat().st_mode) & 0o077:
            os.chmod(folder, 0o700)
