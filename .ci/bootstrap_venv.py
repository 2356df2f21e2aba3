"""Make a virtual environment with pip where `python3 -m venv` cannot (Debian without python3-venv:
its python3 has no ensurepip). Used by the Makefile as a fallback.

    python3 .ci/bootstrap_venv.py .venv

The pip wheel comes from where this machine's pip would fetch packages, read from pip's own
configuration as pip reads it (pip's "Configuration" docs): the files /etc/xdg/pip/pip.conf (each
of $XDG_CONFIG_DIRS), /etc/pip.conf, ~/.pip/pip.conf, ~/.config/pip/pip.conf and $PIP_CONFIG_FILE,
sections [global] then [install], overridden by PIP_INDEX_URL, PIP_EXTRA_INDEX_URL and
PIP_FIND_LINKS. Find-links folders and pages first, then the indexes (PEP 503 simple pages).
No host is written here: with no index configured at all, it asks for PIP_INDEX_URL.
"""
from __future__ import annotations

import configparser
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
import venv
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

WHEEL = re.compile(r"pip-(\d+(?:\.\d+)*)-py3-none-any\.whl")


def config_files() -> list[Path]:
    """pip's configuration files, lowest priority first (global, user, then PIP_CONFIG_FILE)."""
    dirs = os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")
    files = [Path(d) / "pip" / "pip.conf" for d in reversed(dirs) if d] + [Path("/etc/pip.conf")]
    home = Path.home()
    xdg_home = os.environ.get("XDG_CONFIG_HOME") or str(home / ".config")
    files += [home / ".pip" / "pip.conf", Path(xdg_home) / "pip" / "pip.conf"]
    if os.environ.get("PIP_CONFIG_FILE"):
        files.append(Path(os.environ["PIP_CONFIG_FILE"]))
    return files


def sources(env: dict[str, str] | None = None, files: list[Path] | None = None
            ) -> tuple[list[str], list[str]]:
    """(find-links, index URLs) as pip would use them for `pip install`."""
    env = os.environ if env is None else env
    settings: dict[str, str] = {}
    parser = configparser.RawConfigParser()
    for path in config_files() if files is None else files:
        if env.get("PIP_CONFIG_FILE") == os.devnull:
            break
        try:
            parser.read(path)
        except configparser.Error:
            continue
        for section in ("global", "install"):
            if parser.has_section(section):
                settings.update(dict(parser.items(section)))
    for key in ("index-url", "extra-index-url", "find-links"):
        variable = "PIP_" + key.upper().replace("-", "_")
        if env.get(variable):
            settings[key] = env[variable]
    if settings.get("no-index", "").lower() in ("1", "true", "yes", "on"):
        settings.pop("index-url", None), settings.pop("extra-index-url", None)
    indexes = settings.get("index-url", "").split() + settings.get("extra-index-url", "").split()
    return settings.get("find-links", "").split(), indexes


class Links(HTMLParser):
    """The anchors of a PEP 503 page (or a find-links page): (href, text)."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href)


def _fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as answer:
        return answer.read()


def candidates(find_links: list[str], indexes: list[str]) -> list[tuple[tuple[int, ...], str]]:
    """(version, location) of every pip wheel the configured sources offer."""
    found = []
    for place in find_links:
        path = Path(unquote(urlparse(place).path)) if place.startswith("file:") else Path(place)
        if "://" not in place or place.startswith("file:"):
            if path.is_dir():
                found += [(p.name, str(p)) for p in path.glob("pip-*.whl")]
            continue
        found += _anchors(place)
    for index in indexes:
        found += _anchors(index.rstrip("/") + "/pip/")
    out = []
    for name, where in found:
        match = WHEEL.fullmatch(name)
        if match:
            out.append((tuple(int(x) for x in match[1].split(".")), where))
    return sorted(out)


def _anchors(page: str) -> list[tuple[str, str]]:
    try:
        if page.startswith("file:"):   # a local index: a folder holds its page as index.html
            path = Path(unquote(urlparse(page).path))
            html = (path / "index.html" if path.is_dir() else path).read_bytes()
        else:
            html = _fetch(page)
    except OSError:
        return []
    links = Links()
    links.feed(html.decode("utf-8", "replace"))
    return [(unquote(urlparse(href).path.rsplit("/", 1)[-1]), urljoin(page, href))
            for href in links.links]


def fetch_wheel(location: str, target: Path) -> None:
    """Copy or download the wheel; check the #sha256= a simple index gives."""
    url, _, fragment = location.partition("#")
    data = Path(location).read_bytes() if "://" not in location else (
        Path(unquote(urlparse(url).path)).read_bytes() if url.startswith("file:") else _fetch(url))
    if fragment.startswith("sha256="):
        if hashlib.sha256(data).hexdigest() != fragment.removeprefix("sha256="):
            raise SystemExit(f"bootstrap_venv: {url}: sha256 does not match the index's")
    target.write_bytes(data)


def main() -> None:
    target = Path(sys.argv[1])
    find_links, indexes = sources()
    if not find_links and not indexes:
        sys.exit("bootstrap_venv: pip has no package index configured (no index-url in pip.conf, "
                 "no PIP_INDEX_URL): set PIP_INDEX_URL to your index's simple URL, or install "
                 "python3-venv")
    offered = candidates(find_links, indexes)
    if not offered:
        sys.exit(f"bootstrap_venv: no pip wheel in {' '.join(find_links + indexes)}")
    version, location = offered[-1]
    venv.EnvBuilder(with_pip=False, clear=False).create(target)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"pip-{'.'.join(map(str, version))}-py3-none-any.whl"
        fetch_wheel(location, path)
        # A wheel is a zip that Python can run from: pip installs itself from its own wheel.
        python = target / "bin" / "python"
        subprocess.run([str(python), f"{path}/pip", "install", "--quiet", "--no-index", str(path)],
                       check=True)
    print(f"made {target} with pip {'.'.join(map(str, version))} from {location.split('#')[0]}")


if __name__ == "__main__":
    main()
