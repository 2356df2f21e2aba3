"""`textback image customize`: put a customer's textback.toml (and templates) into an SD card image.

No root, no loop devices: the FAT boot partition is found in the image's MBR and written with mtools
at its byte offset (`mcopy -i IMAGE@@OFFSET`). On first boot
`textback-firstboot` applies the file exactly as if the installer had copied it onto the card.
"""
from __future__ import annotations

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
            staged.names.update({staged.templates / n: str(Path(templates) / n)
                                 for n in staged.from_card()})
        return card.check(staged)


def customize(image: Path, customer_toml: Path, templates: Path | None = None
              ) -> tuple[list[str], list[str]]:
    """Validate, then write textback.toml (and textback-templates/*.txt) into the image's boot
    partition, where first boot reads them.

    Returns (the names written, as "::/textback.toml"; the check's warnings). ConfigError: bad
    settings, image untouched; ImageError: not an image we can write, or mtools missing."""
    image, customer_toml = Path(image), Path(customer_toml)
    for path in (image, customer_toml):
        if not path.is_file():
            raise ImageError(f"{path}: no such file")
    if templates is not None and not Path(templates).is_dir():
        raise ImageError(f"{templates}: not a folder")
    warnings = validate(customer_toml, templates)
    offset = boot_offset(image)
    target = f"{image}@@{offset}"
    written = [f"::/{CONFIG_NAME}"]
    _mtools("mcopy", "-o", "-i", target, str(customer_toml), written[0])
    if templates is not None:
        folder = f"::/{TEMPLATES_NAME}"
        if subprocess.run(["mdir", "-i", target, folder], capture_output=True).returncode != 0:
            _mtools("mmd", "-i", target, folder)
        from gateway.render import template_files

        for item in template_files(templates):   # what first boot reads, nothing else
            _mtools("mcopy", "-o", "-i", target, str(item), f"{folder}/{item.name}")
            written.append(f"{folder}/{item.name}")
    return written, warnings


def read_back(image: Path, name: str) -> bytes:
    """A file's bytes from the image's boot partition (`mtype`): for the installer and the tests."""
    return _mtools("mtype", "-i", f"{image}@@{boot_offset(image)}", name)


def _mtools(*argv: str) -> bytes:
    if shutil.which(argv[0]) is None:
        raise ImageError(f"{argv[0]} not found", hint="install mtools (apt-get install mtools)")
    done = subprocess.run(argv, capture_output=True)
    if done.returncode != 0:
        raise ImageError(f"{argv[0]} failed: {done.stderr.decode(errors='replace').strip()}",
                         hint="is the image writable and its boot partition FAT?")
    return done.stdout
