"""`textback phone check` against the fake gateway, and with a fake adb on PATH."""

import pytest

from gateway.box.phonecheck import run_checks
from gateway.clock import WallClock

RCS = ("RCS", None, "replies sent as RCS chat never reach the gateway apps")


def summary(checks):
    return [(c.name, c.ok, c.detail) for c in checks]


def test_all_good_over_the_lan(gw, phone_settings):
    assert summary(run_checks(phone_settings(), WallClock())) == [
        ("phone", True, "Pixel 7a: SMSGate and CallGate answer, passwords right, webhooks registered"),
        RCS]


def test_wrong_password_is_said_plainly(gw, phone_settings):
    (check,) = run_checks(phone_settings(password="nope"), WallClock())
    assert (check.name, check.ok) == ("phone", False)
    assert "password" in check.detail.lower()


def test_adb_missing_and_phone_unauthorised(gw, tmp_path, monkeypatch, phone_settings, fake_adb):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert summary(run_checks(phone_settings(adb=True), WallClock())) == [
        ("adb", False, "adb is not installed")]
    fake_adb(script='echo "error: device unauthorized." >&2; exit 1\n', path_only=True)
    checks = run_checks(phone_settings(adb=True), WallClock())
    assert summary(checks) == [
        ("adb", True, "installed"),
        ("phone", False, "the phone has not authorised this computer for USB debugging")]


def test_battery_optimisation_warning(gw, tmp_path, monkeypatch, phone_settings, fake_adb):
    fake_adb(script='case "$*" in\n'
                    '  get-state) echo device ;;\n'
                    '  *dumpsys*) echo "user,me.capcom.smsgateway,10234" ;;\n'
                    '  *) exit 0 ;;\nesac\n', path_only=True)
    checks = run_checks(phone_settings(adb=True), WallClock())
    assert summary(checks)[2] == (
        "battery", False, "battery optimisation is on for app.callgate.android: Android may stop it")


@pytest.mark.parametrize("change, expected", [
    ({"battery": 5}, [("phone health", "the phone's battery is under 10 % (5 %)", True)]),
    ({"battery": 20}, [("phone health", "the phone's battery is low (20 %)", False)]),
    ({"internet": False}, [("phone health", "the phone has no internet", True)]),
])
def test_the_phones_own_health_checks_are_warnings_not_failures(gw, change, expected, phone_settings):
    for name, value in change.items():
        setattr(gw, name, value)
    checks = run_checks(phone_settings(), WallClock())
    assert [(c.name, c.detail, c.warn) for c in checks if c.name == "phone health"] == expected
    assert [c.ok for c in checks if c.name == "phone"] == [True]   # the link works


def android_config(folder, gw, password="Pa55word"):
    """A starter config on the fake phone (over the LAN: no adb)."""
    from gateway.starter import write_starter

    write_starter(folder)
    config = folder / "textback.toml"
    text = config.read_text().replace('port = "sim"', 'port = "android"')
    config.write_text(text + f'\n[phone]\nurl_sms = "{gw.url_sms}"\nurl_calls = "{gw.url_calls}"\n'
                             f'password = "{password}"\ncalls_password = "CallPa55"\n'
                             'signing_key = "s1gnKey8"\nadb = false\nlisten_port = 0\n')
    config.chmod(0o600)
    return config


def test_phone_check_prints_warn_and_exits_0(gw, tmp_path):
    from click.testing import CliRunner

    from cli.main import cli

    config = android_config(tmp_path, gw)
    gw.battery = 4
    result = CliRunner().invoke(cli, ["phone", "check", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert ("WARN phone health: the phone's battery is under 10 % (4 %)\n"
            "     -> plug the phone in to charge") in result.output


def test_a_wrong_password_is_one_plain_line_with_no_log_noise(gw, tmp_path):
    from click.testing import CliRunner

    from cli.main import cli

    config = android_config(tmp_path, gw, password="wrong")
    gw.battery = 4              # /health answers (no password) before the password is refused
    result = CliRunner().invoke(cli, ["phone", "check", "--config", str(config)])
    assert (result.exit_code, result.output) == (
        1, "FAIL phone: SMSGate refused the password in phone.password\n"
           "     -> copy the password shown in the SMSGate app into phone.password\n")
