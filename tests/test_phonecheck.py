"""`textback phone check` against the fake gateway, and with a fake adb on PATH."""

import pytest

from gateway.clock import WallClock
from gateway.fakegateway import FakeGateway
from gateway.phonecheck import run_checks
from gateway.phonelink import PhoneSettings

RCS = ("RCS", None, "replies sent as RCS chat never reach the gateway apps")


@pytest.fixture
def gw():
    with FakeGateway() as gateway:
        yield gateway


def settings(gw, **kw):
    return PhoneSettings(**{**dict(url_sms=gw.url_sms, url_calls=gw.url_calls, password="Pa55word",
                                   calls_password="CallPa55", signing_key="s1gnKey8",
                                   listen_port=0, adb=False), **kw})


def summary(checks):
    return [(c.name, c.ok, c.detail) for c in checks]


def test_all_good_over_the_lan(gw):
    assert summary(run_checks(settings(gw), WallClock())) == [
        ("phone", True, "Pixel 7a: SMSGate and CallGate answer, passwords right, webhooks registered"),
        RCS]


def test_wrong_password_is_said_plainly(gw):
    (check,) = run_checks(settings(gw, password="nope"), WallClock())
    assert (check.name, check.ok) == ("phone", False)
    assert "password" in check.detail.lower()


def fake_adb(tmp_path, script):
    adb = tmp_path / "adb"
    adb.write_text("#!/bin/sh\n" + script)
    adb.chmod(0o755)
    return str(adb)


def test_adb_missing_and_phone_unauthorised(gw, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert summary(run_checks(settings(gw, adb=True), WallClock())) == [
        ("adb", False, "adb is not installed")]
    fake_adb(tmp_path, 'echo "error: device unauthorized." >&2; exit 1\n')
    checks = run_checks(settings(gw, adb=True), WallClock())
    assert summary(checks) == [
        ("adb", True, "installed"),
        ("phone", False, "the phone has not authorised this computer for USB debugging")]


def test_battery_optimisation_warning(gw, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    fake_adb(tmp_path, 'case "$*" in\n'
                       '  get-state) echo device ;;\n'
                       '  *dumpsys*) echo "user,me.capcom.smsgateway,10234" ;;\n'
                       '  *) exit 0 ;;\nesac\n')
    checks = run_checks(settings(gw, adb=True), WallClock())
    assert summary(checks)[2] == (
        "battery", False, "battery optimisation is on for app.callgate.android: Android may stop it")
