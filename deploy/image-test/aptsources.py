"""The Debian archive this machine's apt is configured with, for debootstrap.

    python3 deploy/image-test/aptsources.py [ROOT]   -> prints one URI, or exits 1 saying why

The image and chroot tests build a Debian rootfs; they must fetch from where this machine's apt
fetches (a mirror, a shop's cache, an offline repository), never from a host written into our
code. Read, as apt does (sources.list(5)): the one-line `ROOT/etc/apt/sources.list` and
`sources.list.d/*.list`, and the deb822 `sources.list.d/*.sources`. The archive is the first
`deb` entry, enabled, whose suite is this system's own codename (VERSION_CODENAME in os-release)
with component main: not -security or -updates, not a third party's suite.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path


def codename(root: Path) -> str | None:
    for name in ("etc/os-release", "usr/lib/os-release"):
        try:
            lines = (root / name).read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            key, _, value = line.partition("=")
            if key == "VERSION_CODENAME":
                return value.strip().strip('"') or None
    return None


def entries(root: Path):
    """(types, uris, suites, components) for each enabled source, in apt's reading order."""
    folder = root / "etc/apt"
    files = [folder / "sources.list"] + sorted((folder / "sources.list.d").glob("*"))
    for path in files:
        if path.suffix == ".sources":
            yield from _deb822(path)
        elif path.suffix == ".list" or path.name == "sources.list":
            yield from _one_line(path)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


# sources.list(5), one-line style: deb [ option=value ... ] uri suite [component1] [component2]
ONE_LINE = re.compile(r"(deb|deb-src)\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)")


def _one_line(path: Path):
    for line in _read(path).splitlines():
        match = ONE_LINE.fullmatch(line.split("#", 1)[0].strip())
        if match:
            yield {match[1]}, [match[2]], [match[3]], match[4].split()


def _deb822(path: Path):
    for stanza in _read(path).split("\n\n"):
        fields, key = {}, None
        for line in stanza.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0].isspace() and key:
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if fields.get("enabled", "yes").lower() == "no" or "uris" not in fields:
            continue
        yield (set(fields.get("types", "").split()), fields["uris"].split(),
               fields.get("suites", "").split(), fields.get("components", "").split())


def archive(root: Path = Path("/")) -> str:
    """The URI of this system's Debian archive; ValueError saying why there is none."""
    own = codename(root)
    if own is None:
        raise ValueError(f"no VERSION_CODENAME in {root / 'etc/os-release'}")
    for types, uris, suites, components in entries(root):
        if "deb" in types and own in suites and "main" in components and uris:
            return uris[0].rstrip("/")
    raise ValueError(f"no enabled 'deb' source for suite {own} (component main) in "
                     f"{root / 'etc/apt/sources.list'} or sources.list.d/")


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/")
    try:
        print(archive(root))
    except ValueError as exc:
        sys.exit(f"aptsources: {exc}; set MIRROR to a Debian archive URI")


if __name__ == "__main__":
    main()
