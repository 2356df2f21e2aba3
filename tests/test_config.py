"""gateway.config and gateway.starter: the config file, its mistakes, check(), and textback init."""
import os
import tomllib
from datetime import datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from gateway import config
from gateway.config import Business, Config, ModemSettings, OwnerSettings, PolicySettings
from gateway.errors import ConfigError, TemplateError
from gateway.render import default_templates_dir
from gateway.starter import STARTER_TOML, write_starter

FULL = '''\
[business]
name = "Acme Plumbing"
owner = "Mike"
phone = "(512) 555-0100"
owner_phone = "+1 512 555 0199"
timezone = "America/Chicago"
region = "us"
[hours]
mon = "07:00-17:00"
tue = "7:30 - 16:00"
wed = "00:00-24:00"
thu = "closed"
fri = "07:00-17:00"
sat = "Closed"
[modem]
port = "sim"
baudrate = 9600
family = "auto"
pin = "1234"
scenario = "scen/demo.json"
[policy]
cooldown_hours = 1.5
delay_seconds = 30
daily_cap = 100
blocklist = ["+15125550123", "512-555-0124"]
contacts = ["+44 7700 900123"]
text_rejected = false
text_unknown = false
[owner]
alerts = false
follow_up = true
follow_up_after_hours = 4
digest = true
digest_at = "06:45"
[templates]
dir = "my-templates"
[store]
database = "../data/leads.db"
[log]
level = "debug"
'''


def write(folder: Path, text: str, name="textback.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_full_config_round_trip(tmp_path):
    folder = tmp_path / "etc"
    write(folder / "scen", "{}", "demo.json")
    path = write(folder, FULL)
    assert config.load(path) == Config(
        path=path,
        business=Business(name="Acme Plumbing", owner="Mike", phone="+15125550100",
                          owner_phone="+15125550199", timezone=ZoneInfo("America/Chicago"),
                          region="US"),
        hours={0: (time(7), time(17)), 1: (time(7, 30), time(16)), 2: (time(0), time.max),
               3: None, 4: (time(7), time(17)), 5: None, 6: None},
        modem=ModemSettings(port="sim", baudrate=9600, family="auto", pin="1234",
                            scenario=folder / "scen" / "demo.json"),
        policy=PolicySettings(cooldown=5400.0, delay=30.0, daily_cap=100,
                              blocklist=frozenset({"+15125550123", "+15125550124"}),
                              contacts=frozenset({"+447700900123"}),
                              text_rejected=False, text_unknown=False),
        templates_dir=folder / "my-templates", database=tmp_path / "data" / "leads.db",
        log_level="DEBUG",
        owner=OwnerSettings(alerts=False, alerts_batch=0.0, follow_up=True, follow_up_after=4 * 3600.0, digest=True,
                            digest_at=time(6, 45)))


MINIMAL = '''\
[business]
name = "Acme Plumbing"
owner = "Mike"
timezone = "America/Chicago"
[modem]
port = "/dev/ttyUSB2"
'''


def test_minimal_config_takes_the_defaults(tmp_path):
    cfg = config.load(write(tmp_path, MINIMAL))
    assert (cfg.business.phone, cfg.business.region, cfg.hours, cfg.modem, cfg.policy,
            cfg.templates_dir, cfg.database, cfg.log_level) == (
        None, "US", {day: None for day in range(7)},
        ModemSettings("/dev/ttyUSB2", 115200, "auto", "", None),
        PolicySettings(86400.0, 0.0, 200, frozenset(), frozenset(), True, True, 1),
        tmp_path / "templates", tmp_path / "textback.db", "INFO")


# (what to change in FULL: old, new) -> (the key named, the message, a piece of the fix)
MISTAKES = [
    (('name = "Acme Plumbing"', 'name = "Acme Plumbing'), None,
     "not valid TOML: ", "fix the syntax at that line"),
    (("[policy]", "[polcy]"), "polcy", "unknown section [polcy]", "did you mean 'policy'?"),
    (("[log]", "[logging]"), "logging", "unknown section [logging]", "did you mean 'log'?"),
    (("cooldown_hours", "cooldown_hour"), "policy.cooldown_hour", "unknown key 'cooldown_hour'",
     "did you mean 'cooldown_hours'?"),
    (("baudrate", "speed"), "modem.speed", "unknown key 'speed'",
     "keys in [modem]: port, baudrate"),
    (('owner = "Mike"\n', ""), "business.owner", "missing required key", 'key = "value"'),
    (('owner = "Mike"', 'owner = "  "'), "business.owner", "must not be empty", "$owner"),
    (("daily_cap = 100", 'daily_cap = "100"'), "policy.daily_cap",
     "expected a whole number, got '100'", "daily_cap = 400 (no quotes)"),
    (("daily_cap = 100", "daily_cap = 1.5"), "policy.daily_cap",
     "expected a whole number, got 1.5", "no quotes"),
    (("delay_seconds = 30", "delay_seconds = true"), "policy.delay_seconds",
     "expected a number, got True", "delay_seconds = 24"),
    (("text_rejected = false", 'text_rejected = "no"'), "policy.text_rejected",
     "expected true or false, got 'no'", "text_rejected = true"),
    (('pin = "1234"', "pin = 1234"), "modem.pin", "expected text in quotes, got 1234",
     'pin = "value"'),
    (('contacts = ["+44 7700 900123"]', "contacts = [447700900123]"), "policy.contacts",
     "expected a list of numbers in quotes", 'contacts = ["+15125550142"]'),
    (("America/Chicago", "America/Chicgo"), "business.timezone",
     "unknown time zone 'America/Chicgo'", "did you mean 'America/Chicago'?"),
    (("America/Chicago", "Mars/Olympus"), "business.timezone",
     "unknown time zone 'Mars/Olympus'", '"America/Chicago"'),
    (('region = "us"', 'region = "XX"'), "business.region", "unknown region 'XX'", '"GB"'),
    (('mon = "07:00-17:00"', 'mon = "25:00-26:00"'), "hours.mon",
     "no such time in '25:00-26:00'", "hours 00-23"),
    (('mon = "07:00-17:00"', 'mon = "07:00-17:60"'), "hours.mon", "no such time", "minutes 00-59"),
    (('tue = "7:30 - 16:00"', 'tue = "17:00-07:00"'), "hours.tue",
     "opening hours end before they start: '17:00-07:00'", "past midnight are not supported"),
    (('tue = "7:30 - 16:00"', 'tue = "09:00-09:00"'), "hours.tue",
     "opening hours end before they start: '09:00-09:00'", '"07:00-17:00"'),
    (('fri = "07:00-17:00"', 'fri = "7am-5pm"'), "hours.fri", "bad opening hours '7am-5pm'",
     'fri = "07:00-17:00" or fri = "closed"'),
    (('"512-555-0124"]', '"512-555-0124", "call me"]'), "policy.blocklist[2]",
     "not a phone number: 'call me'", '"+15125550142"'),
    (('phone = "(512) 555-0100"', 'phone = "555-0100"'), "business.phone",
     "not a phone number: '555-0100'", "write it in full"),
    (('owner_phone = "+1 512 555 0199"', 'owner_phone = "12345"'), "business.owner_phone",
     "not a phone number", "write it in full"),
    (("cooldown_hours = 1.5", "cooldown_hours = -1"), "policy.cooldown_hours",
     "must not be negative, got -1", "use 0 or more"),
    (("delay_seconds = 30", "delay_seconds = -0.5"), "policy.delay_seconds",
     "must not be negative", "use 0 or more"),
    (("daily_cap = 100", "daily_cap = -5"), "policy.daily_cap", "must not be negative",
     "0 or more"),
    (("baudrate = 9600", "baudrate = 0"), "modem.baudrate", "baud rate must be positive",
     "115200"),
    (('port = "sim"', 'port = ""'), "modem.port", "empty modem port", "/dev/ttyUSB2"),
    (('pin = "1234"', 'pin = "12"'), "modem.pin", "a SIM PIN is 4 to 8 digits", 'pin = "1234"'),
    (('port = "sim"', 'port = "/dev/ttyUSB2"'), "modem.scenario",
     'a scenario is only played when port = "sim"', 'set port = "sim"'),
    (('scenario = "scen/demo.json"', 'scenario = "scen/nope.json"'), "modem.scenario",
     "scenario file not found", '"" for the demo'),
    (('level = "debug"', 'level = "loud"'), "log.level", "unknown log level 'loud'",
     "DEBUG, INFO, WARNING, ERROR"),
]


@pytest.mark.parametrize("change, key, message, fix", MISTAKES, ids=[m[2][:40] for m in MISTAKES])
def test_config_mistakes(tmp_path, change, key, message, fix):
    write(tmp_path / "scen", "{}", "demo.json")
    old, new = change
    assert old in FULL
    path = write(tmp_path, FULL.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        config.load(path)
    error = info.value
    assert (error.path, error.key, error.exit_code) == (str(path), key, 2)
    assert str(error).startswith(": ".join(p for p in (str(path), key) if p) + ": " + message)
    assert fix in error.hint


def test_toml_syntax_error_gives_the_line(tmp_path):
    path = write(tmp_path, FULL.replace('owner = "Mike"', 'owner = Mike'))
    with pytest.raises(ConfigError, match=r"at line 3"):
        config.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        config.load(tmp_path / "nope" / "textback.toml")
    assert str(info.value) == (f"{tmp_path / 'nope' / 'textback.toml'}: config file not found\n"
                               f"  -> create one with: textback init {tmp_path / 'nope'}")


def test_unknown_modem_family(tmp_path):
    families = pytest.importorskip("gateway.at.families")
    path = write(tmp_path, MINIMAL + 'family = "sim9000x"\n')
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert info.value.key == "modem.family"
    assert "unknown modem family 'sim9000x'" in str(info.value)
    known = sorted(families.FAMILIES)[0]
    assert config.load(write(tmp_path, MINIMAL + f'family = "{known}"\n')).modem.family == known


@pytest.mark.parametrize("env, expected", [
    ({"TEXTBACK_CONFIG": "/etc/textback/textback.toml"}, "/etc/textback/textback.toml"),
    ({"TEXTBACK_CONFIG": "/etc/x.toml", "XDG_CONFIG_HOME": "/xdg"}, "/etc/x.toml"),
    ({"XDG_CONFIG_HOME": "/xdg"}, "/xdg/textback/textback.toml"),
    ({"XDG_CONFIG_HOME": "relative"}, "HOME/.config/textback/textback.toml"),  # spec: ignored
    ({}, "HOME/.config/textback/textback.toml"),
])
def test_default_path(monkeypatch, tmp_path, env, expected):
    for name in ("TEXTBACK_CONFIG", "XDG_CONFIG_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert config.default_path() == Path(expected.replace("HOME", str(tmp_path)))


# -- textback init ---------------------------------------------------------------------------------
def test_starter_loads_and_checks_clean(tmp_path):
    written = write_starter(tmp_path / "tb")
    folder = tmp_path / "tb"
    assert written == [folder / "textback.toml"] + [
        folder / "templates" / f"{n}.txt" for n in ("after_hours", "follow_up", "missed_call", "review")]
    assert os.stat(folder / "textback.toml").st_mode & 0o777 == 0o600
    for src in default_templates_dir().glob("*.txt"):
        assert (folder / "templates" / src.name).read_text() == src.read_text()
    cfg = config.load(folder / "textback.toml")
    assert (cfg.business.name, cfg.business.phone, cfg.modem.port, cfg.templates_dir,
            cfg.database) == ("Acme Plumbing", "+15125550100", "sim", folder / "templates",
                              folder / "textback.db")
    assert config.check(cfg) == []


def test_starter_explains_every_key():
    lines = STARTER_TOML.splitlines()
    keys = {s: set(v) for s, v in tomllib.loads(STARTER_TOML).items()}
    # [phone] is there commented out: it only applies with port = "android"
    assert keys == {s: set(v) for s, v in config.SCHEMA.items() if s != "phone"}
    assert "# [phone]" in STARTER_TOML
    assert "# " in next(x for x in lines if x.startswith("[hours]"))  # one comment for the days
    for section, names in keys.items():
        for name in names if section != "hours" else ():
            line = next(x for x in lines if x.startswith(f"{name} ="))
            assert "# " in line, f"{section}.{name} has no comment"


def test_starter_never_overwrites(tmp_path):
    write_starter(tmp_path)
    (tmp_path / "templates" / "missed_call.txt").write_text("mine $owner")
    (tmp_path / "textback.toml").unlink()
    with pytest.raises(ConfigError) as info:
        write_starter(tmp_path)
    assert str(info.value) == (f"{tmp_path / 'templates' / 'after_hours.txt'}: file exists already"
                               "\n  -> edit it, or pass --force to overwrite it")
    assert not (tmp_path / "textback.toml").exists()  # nothing written when refusing
    write_starter(tmp_path, force=True)
    assert (tmp_path / "templates" / "missed_call.txt").read_text() != "mine $owner"


# -- check -------------------------------------------------------------------------------------
def started(tmp_path) -> Path:
    write_starter(tmp_path)
    return tmp_path / "textback.toml"


def test_check_warns_about_ucs2_and_length(tmp_path):
    path = started(tmp_path)
    (tmp_path / "templates" / "missed_call.txt").write_text("We’ll call you back — $owner\n")
    (tmp_path / "templates" / "follow_up.txt").write_text("Hi from $company! " * 10 + "\n")
    assert config.check(config.load(path)) == [
        "follow_up.txt: with your business details it is sent as 2 texts (230 septets); "
        "shorten it to fit in one",
        "missed_call.txt: '’' (RIGHT SINGLE QUOTATION MARK) forces UCS-2, so a text holds 70 "
        "characters instead of 160; use ' instead",
        "missed_call.txt: '—' (EM DASH) forces UCS-2, so a text holds 70 characters instead of "
        "160; use - instead",
    ]


@pytest.mark.parametrize("pin, mode, refused", [
    ("1234", 0o600, False), ("1234", 0o640, True), ("1234", 0o604, True), ("", 0o644, False)])
def test_check_refuses_a_readable_pin_as_run_does(tmp_path, pin, mode, refused):
    path = started(tmp_path)
    path.write_text(STARTER_TOML.replace('pin = ""', f'pin = "{pin}"'))
    os.chmod(path, mode)
    if not refused:
        assert config.check(config.load(path)) == []
        return
    with pytest.raises(ConfigError, match=r"holds secrets \(modem.pin\) and other users can read it"):
        config.check(config.load(path))


def test_check_rejects_broken_templates(tmp_path):
    path = started(tmp_path)
    (tmp_path / "templates" / "missed_call.txt").write_text("this is $owner at $compnay\n")
    with pytest.raises(TemplateError, match=r"unknown field \$compnay"):
        config.check(config.load(path))
    (tmp_path / "templates" / "missed_call.txt").unlink()
    with pytest.raises(TemplateError, match="missing template missed_call.txt"):
        config.check(config.load(path))


def test_android_port_needs_the_gateway_secrets(tmp_path):
    write_starter(tmp_path)
    path = tmp_path / "textback.toml"
    path.write_text(path.read_text().replace('port = "sim"', 'port = "android"'))
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert str(info.value).startswith(f'{path}: phone.password: needed when port = "android"')
    path.write_text(path.read_text() + '\n[phone]\npassword = "p1"\ncalls_password = "p2"\n'
                    'signing_key = "k"\nadb = false\nlisten_port = 9999\n')
    cfg = config.load(path)
    assert (cfg.phone.password, cfg.phone.calls_password, cfg.phone.signing_key, cfg.phone.adb,
            cfg.phone.listen_port) == ("p1", "p2", "k", False, 9999)
    assert cfg.secrets() == ["phone.password", "phone.calls_password", "phone.signing_key"]


# -- STRANGER2 #4, #5: the box's /etc/textback is read by the service as group textback ---------
@pytest.fixture
def box_dir(tmp_path, monkeypatch):
    """/etc/textback, played by a temporary folder; our own group plays textback."""
    from gateway import starter

    box = tmp_path / "etc-textback"
    monkeypatch.setattr(starter, "BOX_DIR", box.resolve())
    monkeypatch.setattr(config, "BOX_DIR", box.resolve())
    monkeypatch.setattr(starter, "_group", lambda name: os.getgid())
    return box


def test_init_in_the_box_folder_writes_a_config_the_service_can_read(box_dir):
    written = write_starter(box_dir)
    info = os.stat(box_dir / "textback.toml")
    assert (info.st_mode & 0o777, info.st_gid) == (0o640, os.getgid())
    assert written[0] == box_dir / "textback.toml"


def test_init_never_overwrites_the_box_settings_without_force_and_keeps_them_with_it(box_dir):
    write_starter(box_dir)
    customer = STARTER_TOML.replace("Acme Plumbing", "Bob's Roofing")
    (box_dir / "textback.toml").write_text(customer)
    (box_dir / "templates" / "missed_call.txt").write_text("Bob here - $company")
    with pytest.raises(ConfigError) as info:
        write_starter(box_dir)
    assert str(info.value) == (
        f"{box_dir / 'textback.toml'}: file exists already: it holds this box's settings\n"
        f"  -> edit it (sudo nano {box_dir / 'textback.toml'}), then: sudo textback config check. "
        "To start over from the starter instead: sudo textback init --force (the old files are "
        "kept as *.bak-DATE)")
    kept: list = []
    write_starter(box_dir, force=True, now=datetime(2026, 11, 28, 7, 5), kept=kept)
    assert kept == [(box_dir / "textback.toml", box_dir / "textback.toml.bak-20261128-070500"),
                    (box_dir / "templates", box_dir / "templates.bak-20261128-070500")]
    assert (box_dir / "textback.toml.bak-20261128-070500").read_text() == customer
    assert (box_dir / "templates.bak-20261128-070500" / "missed_call.txt").read_text() == \
        "Bob here - $company"
    assert (box_dir / "textback.toml").read_text() == STARTER_TOML


def test_init_that_cannot_write_says_so_without_a_traceback(tmp_path):
    (tmp_path / "templates").write_text("a file where the folder goes")
    with pytest.raises(ConfigError) as info:
        write_starter(tmp_path)
    assert str(info.value).startswith(f"{tmp_path / 'templates'}: cannot write it: ")
    assert info.value.hint == "choose a folder you may write: textback init FOLDER"


def test_init_makes_the_box_folders_0755_whatever_the_umask(box_dir):
    old = os.umask(0o007)   # the box's wrapper (deploy/bin/textback)
    try:
        write_starter(box_dir)
    finally:
        os.umask(old)
    assert [os.stat(p).st_mode & 0o777 for p in (box_dir, box_dir / "templates")] \
        == [0o755, 0o755]


def test_check_on_a_box_advises_the_group_mode_not_600(box_dir):
    write_starter(box_dir)
    path = box_dir / "textback.toml"
    path.write_text(STARTER_TOML.replace('pin = ""', 'pin = "1234"'))
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError) as refused:   # config check refuses it, as `textback run` does
        config.check(config.load(path))
    assert refused.value.message.endswith("holds secrets (modem.pin) and other users can read it")
    assert refused.value.hint == (
        f"sudo chgrp textback {path} && sudo chmod 640 {path} (the service reads it as group "
        "textback: not 600), then start again")


def test_config_check_on_a_box_warns_of_the_simulated_modem(box_dir):
    write_starter(box_dir)   # the starter's port = "sim"
    assert config.check(config.load(box_dir / "textback.toml")) == [config.SIMULATED]
    assert config.check(config.load(box_dir / "textback.toml"), box=False) == []
