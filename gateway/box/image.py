"""`textback image customize`: put a customer's textback.toml (and templates) into an SD card image.

No root, no loop devices: the FAT boot partition is found in the image's MBR and written with mtools
at its byte offset (`mcopy -i IMAGE@@OFFSET`). On first boot
`textback-firstboot` applies the file exactly as if the installer had copied it onto the card.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import re
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

from gateway.box.card import CONFIG_NAME
from gateway.box.card import TEMPLATES_FOLDER as TEMPLATES_NAME
from gateway.errors import ImageError

SECTOR = 512
# MBR partition types of FAT (Microsoft's list; pi-gen's boot partition is 0x0c, sfdisk "type=c"):
# 0x0b FAT32 CHS, 0x0c FAT32 LBA, 0x0e FAT16 LBA; 0x06 FAT16 and 0x01 FAT12 for small images.
FAT_TYPES = {0x01, 0x06, 0x0B, 0x0C, 0x0E}
MBR_SIGNATURE = b"\x55\xaa"          # bytes 510-511 of the MBR
TABLE_AT, ENTRY_SIZE = 446, 16        # four 16-byte entries: type at +4, start LBA at +8 (LE u32)


def boot_offset(image: Path) -> int:
    """Byte offset of the first FAT partition in the image's MBR table."""
    with open(image, "rb") as f:
        mbr = f.read(SECTOR)
    if len(mbr) < SECTOR or mbr[510:512] != MBR_SIGNATURE:
        raise ImageError(f"{image} has no MBR partition table",
                         hint="give a Raspberry Pi OS .img (unpacked: xz -d image.img.xz)")
    for i in range(4):
        entry = mbr[TABLE_AT + i * ENTRY_SIZE:TABLE_AT + (i + 1) * ENTRY_SIZE]
        kind = entry[4]
        start, = struct.unpack_from("<I", entry, 8)
        if kind == 0xEE:
            raise ImageError(
                f"{image} has a GPT partition table", hint="only MBR images (Pi OS) are supported"
            )
        if kind in FAT_TYPES and start:
            return start * SECTOR
    raise ImageError(f"{image} has no FAT boot partition", hint="is this a Raspberry Pi OS image?")


def validate(customer_toml: Path, templates: Path | None) -> list[str]:
    """Check the settings exactly as first boot will (gateway.box.card: `config check`'s rules, the
    templates included, the shipped defaults overlaid by `templates`); return the warnings."""
    from gateway.box import card
    from gateway.render import default_templates_dir

    raw = Path(customer_toml).read_bytes()
    with tempfile.TemporaryDirectory(prefix="textback-image-") as tmp:
        staged = card.stage(Path(tmp), raw, str(customer_toml), default_templates_dir(), templates)
        if templates is not None:   # name the installer's own files in errors
            staged = dataclasses.replace(staged, card_label=str(templates))
            staged.names.update({staged.templates / n: str(Path(templates) / n)
                                 for n in staged.from_card()})
        return card.check(staged)


@dataclasses.dataclass
class Customized:
    written: list[str]     # "::/textback.toml", "::/textback-templates/x.txt", in writing order
    warnings: list[str]    # as `textback config check` says them
    removed: list[str]     # what an earlier customize (or copy) left that this one replaced


def customize(image: Path, customer_toml: Path, templates: Path | None = None) -> Customized:
    """Validate, then make the image's boot partition hold this customer's settings and nothing
    of another's: textback.toml, and textback-templates/ with exactly the given templates.

    Other settings files (textback.toml.txt, "textback (1).toml") are removed, since first boot
    refuses two; the old textback-templates/ folder is removed whole, since first boot would
    overlay it on the box's templates (one customer's wording among another's). Free space is
    checked before anything is touched, and textback.toml is written last: a failure leaves no
    textback.toml, so first boot applies nothing half-written.

    ConfigError: bad settings, image untouched; ImageError: not an image we can write (read-only,
    boot partition full), or mtools missing."""
    from gateway.box.firstboot import NEAR_NAMES
    from gateway.render import template_files

    image, customer_toml = Path(image), Path(customer_toml)
    for path in (image, customer_toml):
        if not path.is_file():
            raise ImageError(f"{path}: no such file")
    if templates is not None and not Path(templates).is_dir():
        raise ImageError(f"{templates}: not a folder")
    if not image.stat().st_mode & 0o222:   # root may write it all the same: the mode is a wish
        raise ImageError(f"{image} is read-only (mode {image.stat().st_mode & 0o777:o})",
                         hint=f"if it is the image to change: chmod u+w {image}")
    warnings = validate(customer_toml, templates)
    target = f"{image}@@{boot_offset(image)}"
    sources = [(item, f"::/{TEMPLATES_NAME}/{item.name}")
               for item in (template_files(templates) if templates is not None else [])]
    sources.append((customer_toml, f"::/{CONFIG_NAME}"))
    _room_for(target, [path for path, _ in sources], folders=1 if templates is not None else 0)
    on_card = _listing(target)
    removed = [name for name in on_card
               if name.startswith(f"::/{TEMPLATES_NAME}/") and not name.endswith("/")]
    removed += [name for name in on_card if name.count("/") == 1 and name != f"::/{CONFIG_NAME}"
                and (fnmatch.fnmatch(name[3:].lower(), NEAR_NAMES)
                     or fnmatch.fnmatch(name[3:].lower(), NEAR_NAMES + ".txt"))]
    if f"::/{CONFIG_NAME}" in on_card:
        _mtools("mdel", "-i", target, f"::/{CONFIG_NAME}")   # none until the new one is complete
    for name in removed:
        if not name.startswith(f"::/{TEMPLATES_NAME}/"):
            _mtools("mdel", "-i", target, name)
    if f"::/{TEMPLATES_NAME}/" in on_card:
        _mtools("mdeltree", "-i", target, f"::/{TEMPLATES_NAME}")
    if templates is not None:
        _mtools("mmd", "-i", target, f"::/{TEMPLATES_NAME}")
    for path, name in sources:
        _mtools("mcopy", "-o", "-i", target, str(path), name)
    return Customized([name for _, name in sources], warnings, removed)


def _listing(target: str) -> list[str]:
    """Every name on the boot partition, folders ending in "/" ("::/textback-templates/x.txt")."""
    done = subprocess.run(["mdir", "-b", "-/", "-i", target, "::/"], capture_output=True)
    if done.returncode != 0 and b"not found" in done.stderr:   # mdir's word for an empty folder
        return []
    if done.returncode != 0:
        _mtools("mdir", "-i", target, "::/")   # says why, as every other mtools failure
    return done.stdout.decode(errors="replace").splitlines()


def _room_for(target: str, files: list[Path], folders: int) -> None:
    """ImageError unless the boot partition has room for the files (whole clusters each) and the
    folders, before anything is written. What will be removed is not counted: a little too
    careful, never half-written."""
    info = _mtools("minfo", "-i", target).decode(errors="replace")
    sector = int(re.search(r"sector size: (\d+) bytes", info)[1])
    cluster = sector * int(re.search(r"cluster size: (\d+) sectors", info)[1])
    listing = _mtools("mdir", "-i", target, "::/").decode(errors="replace")
    free = int(re.sub(r"\D", "", re.search(r"([\d\s.,']+) bytes free", listing)[1]))
    needed = cluster * (folders + sum(-(-max(path.stat().st_size, 1) // cluster)
                                      for path in files))
    if needed > free:
        raise ImageError(
            f"the card's boot partition is full: {free} bytes free, {needed} needed; "
            f"nothing was written",
            hint="make room on the image's boot partition (or start from a fresh image)")


def read_back(image: Path, name: str) -> bytes:
    """A file's bytes from the image's boot partition (`mtype`): for the installer and the tests."""
    return _mtools("mtype", "-i", f"{image}@@{boot_offset(image)}", name)


def _mtools(*argv: str) -> bytes:
    if shutil.which(argv[0]) is None:
        raise ImageError(f"{argv[0]} not found", hint="install mtools (apt-get install mtools)")
    done = subprocess.run(argv, capture_output=True)
    if done.returncode != 0:
        said = done.stderr.decode(errors="replace").strip()
        if "disk full" in said.lower():
            raise ImageError(f"the card's boot partition is full ({argv[0]}: {said})",
                             hint="make room on the image's boot partition, then run this again:"
                                  " the image has no textback.toml until it succeeds")
        raise ImageError(f"{argv[0]} failed: {said}",
                         hint="is the image writable and its boot partition FAT?")
    return done.stdout
