"""Building textback says nothing to worry a newcomer (once about 70 lines of setuptools
deprecation warnings in the first `make demo`: `project.license` as a table, and the demo
scenario's folder missing from `packages`)."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_the_wheel_builds_without_a_warning(tmp_path):
    if not all(importlib.util.find_spec(m) for m in ("setuptools", "wheel")):
        pytest.skip("setuptools and wheel are not installed here (make test installs them)")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                            "--no-build-isolation", "-w", str(tmp_path), str(REPO)],
                           capture_output=True, text=True)
    output = built.stdout + built.stderr
    assert built.returncode == 0, output[-2000:]
    assert "Warning" not in output and "deprecated" not in output, output


def test_the_version_is_written_once_and_every_record_agrees():
    """pyproject.toml holds it; the installed package, `textback --version`, the Debian
    changelog and CHANGELOG.md say the same."""
    import re
    import tomllib
    from importlib.metadata import version

    from click.testing import CliRunner

    from cli.main import cli

    written = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    debian = (REPO / "deploy" / "debian" / "changelog").read_text().split("\n", 1)[0]
    changelog = re.search(r"^## \[(\d[^\]]*)\]", (REPO / "CHANGELOG.md").read_text(), re.M)
    assert version("textback") == written
    assert CliRunner().invoke(cli, ["--version"]).output.split()[-1] == written
    assert debian.startswith(f"textback ({written}) ")
    assert changelog is not None and changelog.group(1) == written
    assert "version" not in (REPO / "gateway" / "__init__.py").read_text().split('"""')[-1]
