"""Build textback_<version>_all.deb: the project wheel, a pinned wheelhouse, units, udev, sysusers.

    deploy/build-deb [--out DIR] [--wheels DIR] [--python PYTHON]

Steps: copy the project's sources to a temporary folder and build its wheel there (the work tree
gets no build/ or egg-info), `pip download` the pinned, hashed wheelhouse of requirements.txt
(the only network use), refuse any wheel that is not pure Python, stage the package tree
(`stage()`), and `dpkg-deb --root-owner-group --build` it. --wheels DIR reuses a wheelhouse
already downloaded (offline builds).
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
# What the wheel is built from (pyproject.toml [tool.setuptools]); nothing else is copied.
SOURCES = ("pyproject.toml", "setup.cfg", "README.md", "gateway", "cli", "templates")

# Package path -> (file in deploy/, mode). The wheels go to /usr/share/textback/wheels.
FILES = {
    "DEBIAN/control": ("debian/control", 0o644),
    "DEBIAN/postinst": ("debian/postinst", 0o755),
    "DEBIAN/prerm": ("debian/prerm", 0o755),
    "DEBIAN/postrm": ("debian/postrm", 0o755),
    "usr/lib/systemd/system/textback.service": ("systemd/textback.service", 0o644),
    "usr/lib/systemd/system/textback-firstboot.service":
        ("systemd/textback-firstboot.service", 0o644),
    "usr/lib/sysusers.d/textback.conf": ("debian/textback.sysusers", 0o644),
    "usr/lib/udev/rules.d/77-textback-modem.rules": ("udev/77-textback-modem.rules", 0o644),
    "usr/bin/textback": ("bin/textback", 0o755),
    "usr/share/doc/textback/README.md": ("README.md", 0o644),
    "usr/share/textback/requirements.txt": ("requirements.txt", 0o644),
}
WHEELS = "usr/share/textback/wheels"
EXAMPLE = "usr/share/textback/textback.toml.example"


def version() -> str:
    return tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["version"]


def impure(wheels: list[Path]) -> list[str]:
    """Wheel files that would not install on every Pi (compiled, or for one Python only)."""
    return [w.name for w in wheels if not w.name.endswith(("-py3-none-any.whl",
                                                            "-py2.py3-none-any.whl"))]


def stage(tree: Path, ver: str, wheels: list[Path]) -> list[str]:
    """Lay out the package in `tree`; return its files, sorted, as dpkg-deb will list them."""
    from gateway.starter import STARTER_TOML

    for target, (source, mode) in FILES.items():
        path = tree / target
        path.parent.mkdir(parents=True, exist_ok=True)
        text = (HERE / source).read_text(encoding="utf-8").replace("@VERSION@", ver)
        path.write_text(text, encoding="utf-8")
        path.chmod(mode)
    (tree / WHEELS).mkdir(parents=True, exist_ok=True)
    for wheel in wheels:
        shutil.copyfile(wheel, tree / WHEELS / wheel.name)
    (tree / EXAMPLE).write_text(STARTER_TOML.replace('port = "sim"  ',
                                                     'port = "/dev/textback-modem"'))
    size_kib = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file()) // 1024 + 1
    control = tree / "DEBIAN/control"
    control.write_text(control.read_text().replace("@SIZE@", str(size_kib)))
    for folder in [tree, *tree.rglob("*")]:
        if folder.is_dir():
            folder.chmod(0o755)
    return sorted(str(p.relative_to(tree)) for p in tree.rglob("*")
                  if p.is_file() and p.parts[len(tree.parts)] != "DEBIAN")


def build_wheel(python: str, out: Path, *, isolated: bool = True) -> Path:
    """Our own wheel, built from a copy of the sources so the work tree is left as it was."""
    with tempfile.TemporaryDirectory(prefix="textback-src-") as tmp:
        for name in SOURCES:
            src, dst = PROJECT / name, Path(tmp) / name
            if src.is_dir():
                shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copyfile(src, dst)
        flags = [] if isolated else ["--no-build-isolation"]
        subprocess.run([python, "-m", "pip", "wheel", "--quiet", "--no-deps", *flags,
                        "--wheel-dir", str(out), tmp], check=True)
    return next(out.glob(f"textback-{version()}-*.whl"))


def download_wheels(python: str, out: Path) -> list[Path]:
    subprocess.run([python, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
                    "--no-deps", "--require-hashes", "-r", str(HERE / "requirements.txt"),
                    "--dest", str(out)], check=True)
    return sorted(out.glob("*.whl"))


def build_deb(tree: Path, out: Path, ver: str) -> Path:
    deb = out / f"textback_{ver}_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(tree), str(deb)],
                   check=True, stdout=subprocess.DEVNULL)
    return deb


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="build-deb", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=PROJECT / "dist")
    parser.add_argument("--wheels", type=Path, help="an already downloaded wheelhouse")
    parser.add_argument("--python", default=sys.executable, help="the Python whose pip is used")
    parser.add_argument("--no-build-isolation", action="store_true",
                        help="build our wheel with the installed setuptools (offline)")
    args = parser.parse_args(argv)
    if not shutil.which("dpkg-deb"):
        sys.exit("build-deb: dpkg-deb not found (apt-get install dpkg)")
    ver = version()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="textback-deb-") as tmp:
        wheelhouse = Path(tmp) / "wheels"
        wheelhouse.mkdir()
        if args.wheels:
            for wheel in args.wheels.glob("*.whl"):
                if not wheel.name.startswith("textback-"):
                    shutil.copyfile(wheel, wheelhouse / wheel.name)
        else:
            download_wheels(args.python, wheelhouse)
        build_wheel(args.python, wheelhouse, isolated=not args.no_build_isolation)
        wheels = sorted(wheelhouse.glob("*.whl"))
        if bad := impure(wheels):
            sys.exit(f"build-deb: not pure-Python wheels: {', '.join(bad)}")
        stage(Path(tmp) / "tree", ver, wheels)
        deb = build_deb(Path(tmp) / "tree", args.out, ver)
    print(deb)


if __name__ == "__main__":
    sys.path.insert(0, str(PROJECT))
    main()
