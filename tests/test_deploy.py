"""deploy/: the units, udev rules, sysusers file, wheelhouse pins and the .deb's file list.

Each check that needs a Debian tool skips, saying which, when the tool is missing; .ci/run installs
them (systemd for systemd-analyze and systemd-sysusers, dpkg for dpkg-deb).
"""
from __future__ import annotations

import importlib.util
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from gateway import firstboot

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
UNITS = ("textback.service", "textback-firstboot.service")


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


@pytest.mark.parametrize("unit, setting", [
    ("textback.service", ("Service", "Type", "notify")),
    ("textback.service", ("Service", "WatchdogSec", "60")),
    ("textback.service", ("Service", "Restart", "on-failure")),
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
    ("textback-firstboot.service",
     ("Service", "ExecStart", "/opt/textback/bin/textback-firstboot")),
    ("textback-firstboot.service", ("Unit", "Before", "textback.service")),
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
@pytest.mark.parametrize("script", ["postinst", "prerm", "postrm"])
def test_maintainer_scripts_are_valid_sh(script):
    done = subprocess.run(["sh", "-n", str(DEPLOY / "debian" / script)], capture_output=True,
                          text=True)
    assert (done.returncode, done.stderr) == (0, "")


def test_every_dependency_is_pinned_with_a_hash():
    pyproject = tomllib.loads((DEPLOY.parent / "pyproject.toml").read_text())
    wanted = {re.split(r"[<>=!~ \[]", d)[0].lower() for d in pyproject["project"]["dependencies"]}
    pins = {}
    for line in (DEPLOY / "requirements.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            match = re.fullmatch(r"([a-z0-9-]+)==([\w.]+) --hash=sha256:[0-9a-f]{64}", line)
            assert match, line
            pins[match[1]] = match[2]
    assert wanted <= set(pins)


@pytest.mark.parametrize("name, pure", [
    ("rich-15.0.0-py3-none-any.whl", True),
    ("pyserial-3.5-py2.py3-none-any.whl", True),
    ("sdnotify-0.3.2.tar.gz", False),
    ("pyyaml-6.0.2-cp311-cp311-manylinux_2_17_x86_64.whl", False),
])
def test_only_pure_python_wheels_are_accepted(name, pure):
    assert package_module().impure([Path(name)]) == ([] if pure else [name])


EXPECTED_FILES = [
    "usr/bin/textback",
    "usr/lib/systemd/system/textback-firstboot.service",
    "usr/lib/systemd/system/textback.service",
    "usr/lib/sysusers.d/textback.conf",
    "usr/lib/udev/rules.d/77-textback-modem.rules",
    "usr/share/doc/textback/README.md",
    "usr/share/textback/requirements.txt",
    "usr/share/textback/textback.toml.example",
    "usr/share/textback/wheels/textback-0.1.0-py3-none-any.whl",
]


def test_package_file_list(tmp_path):
    """A real dpkg-deb build from our own wheel (the pinned wheelhouse needs PyPI: not here)."""
    dpkg_deb = needs("dpkg-deb")
    pkg = package_module()
    ver = pkg.version()
    # Offline with setuptools and wheel installed; else pip fetches them for an isolated build.
    offline = all(importlib.util.find_spec(m) for m in ("setuptools", "wheel"))
    try:
        wheel = pkg.build_wheel(sys.executable, tmp_path / "wheels", isolated=not offline)
    except subprocess.CalledProcessError:
        if offline:
            raise
        pytest.skip("cannot build the textback wheel: install setuptools and wheel, or reach PyPI")
    files = pkg.stage(tmp_path / "tree", ver, [wheel])
    expected = [f.replace("0.1.0", ver) for f in EXPECTED_FILES]
    assert files == expected
    deb = pkg.build_deb(tmp_path / "tree", tmp_path, ver)
    assert deb.name == f"textback_{ver}_all.deb"
    listing = subprocess.run([dpkg_deb, "--contents", str(deb)], capture_output=True, text=True,
                             check=True).stdout.splitlines()
    entries = {line.split()[-1].removeprefix("./"): line.split()[:2] for line in listing
               if not line.endswith("/")}
    assert sorted(entries) == expected
    assert entries["usr/bin/textback"] == ["-rwxr-xr-x", "root/root"]
    assert entries["usr/lib/systemd/system/textback.service"] == ["-rw-r--r--", "root/root"]
    control = subprocess.run([dpkg_deb, "--field", str(deb), "Package", "Version", "Architecture"],
                             capture_output=True, text=True, check=True).stdout
    assert control == f"Package: textback\nVersion: {ver}\nArchitecture: all\n"
    postinst = (tmp_path / "tree/DEBIAN/postinst").read_text()
    assert f'VERSION="{ver}"' in postinst and "--no-index" in postinst


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
            "from gateway.render import default_templates_dir; from gateway.replay import "
            "demo_scenario_path; from gateway.starter import write_starter; from pathlib import Path; "
            "print(gateway.__file__.startswith(sys.argv[1])); "
            "print(sorted(p.name for p in default_templates_dir().glob('*.txt'))); "
            "print(demo_scenario_path().is_file()); "
            "print(len(write_starter(Path(sys.argv[2]))))")
    out = subprocess.run([sys.executable, "-c", code, str(site), str(tmp_path / "etc")],
                         capture_output=True, text=True, cwd=tmp_path, check=True).stdout.split("\n")
    assert out[:4] == ["True", "['after_hours.txt', 'follow_up.txt', 'missed_call.txt']", "True", "4"]
