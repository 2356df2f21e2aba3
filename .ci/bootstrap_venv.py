"""Make a virtual environment with pip where `python3 -m venv` cannot (Debian without python3-venv:
its python3 has no ensurepip). Used by the Makefile as a fallback; needs only PyPI.

    python3 .ci/bootstrap_venv.py .venv
"""
import json
import subprocess
import sys
import tempfile
import urllib.request
import venv
from urllib.parse import urljoin
from pathlib import Path

PYPI = "https://pypi.org/pypi/pip/json"


def main() -> None:
    target = Path(sys.argv[1])
    venv.EnvBuilder(with_pip=False, clear=False).create(target)
    with urllib.request.urlopen(PYPI, timeout=60) as answer:
        release = json.load(answer)
    wheel = next(f for f in release["urls"] if f["packagetype"] == "bdist_wheel")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / wheel["filename"]
        # Mirrors give the file's address relative to the JSON's.
        with urllib.request.urlopen(urljoin(PYPI, wheel["url"]), timeout=120) as answer:
            path.write_bytes(answer.read())
        # A wheel is a zip that Python can run from: pip installs itself from its own wheel.
        python = target / "bin" / "python"
        subprocess.run([str(python), f"{path}/pip", "install", "--quiet", "--no-index", str(path)],
                       check=True)
    print(f"made {target} with pip {release['info']['version']}")


if __name__ == "__main__":
    main()
