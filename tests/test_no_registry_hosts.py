"""No host name of a package registry in our code or docs : builds and tests use the
machine's configured pip index and apt sources, so a shop's mirror or an offline build host works.
Where a default is unavoidable, it is asked for in the environment (MIRROR, PIP_INDEX_URL)."""
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Registries' hosts (Python, Debian, Raspberry Pi OS, piwheels, npm), as written in a URL or a doc.
HOSTS = ("pypi.org", "pypi.python.org", "pythonhosted.org", "deb.debian.org",
         "security.debian.org", "ftp.debian.org", "snapshot.debian.org", "archive.raspberrypi.",
         "raspbian.raspberrypi.", "piwheels.org", "registry.npmjs.org")


def tracked_files() -> list[Path]:
    try:
        names = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                               check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    return [REPO / n for n in names if (REPO / n).is_file() and n != "tests/test_no_registry_hosts.py"]


def test_no_registry_host_in_code_or_docs():
    found = []
    for path in tracked_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        for number, line in enumerate(text.splitlines(), 1):
            found += [f"{path.relative_to(REPO)}:{number}: {host}" for host in HOSTS
                      if host in line.lower()]
    assert found == []
