"""Building textback says nothing to worry a newcomer (issue 11: about 70 lines of setuptools
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
