"""Shared fixtures: the simulated modem on a real pty, opened with pyserial as the daemon opens it;
the fake phone (SMSGate + CallGate on loopback), the phone link's settings for it, and a fake adb."""
from __future__ import annotations

import contextlib
import os
import stat

import pytest
import serial

from gateway.at.session import Session
from gateway.clock import VirtualClock
from gateway.config import PhoneSettings
from gateway.simulator.modem import SimulatedModem
from gateway.simulator.phone import FakeGateway
from gateway.simulator.scenario import Reply, Step

START = 1_800_000_000.0  # any epoch works: the virtual clock starts here
KEY = "s1gnKey8"          # the webhook signing key of the fake phone and of the link's settings


@contextlib.contextmanager
def sim_session(family="generic", steps=(), replies=(), **sim_options):
    """(sim, session, clock): a Session on a pyserial port over the sim's pty, on a virtual clock."""
    sim = SimulatedModem(family, steps=[Step(*s) if isinstance(s, tuple) else s for s in steps],
                   replies=[Reply(*r) if isinstance(r, tuple) else r for r in replies], **sim_options)
    port = serial.Serial(sim.port_name, 115200, timeout=0)
    clock = VirtualClock(START, sim)
    try:
        yield sim, Session(port, clock), clock
    finally:
        port.close()
        sim.close()


@pytest.fixture
def session_factory():
    return sim_session


@pytest.fixture
def gw():
    """The fake phone, its own back-off (SMSGate 5 s, CallGate 10 s) compressed 200 times."""
    with FakeGateway(retry_scale=0.005, signing_key=KEY) as fake:
        yield fake


@pytest.fixture
def phone_settings(gw):
    """PhoneSettings(**changes) for a link to `gw`, over the LAN (adb off), any free port."""
    def make(**changes) -> PhoneSettings:
        return PhoneSettings(**{**dict(url_sms=gw.url_sms, url_calls=gw.url_calls,
                                       password="Pa55word", calls_password="CallPa55",
                                       signing_key=KEY, listen_port=0, adb=False), **changes})
    return make


@pytest.fixture
def fake_adb(tmp_path, monkeypatch):
    """fake_adb(says=..., fails=..., shell_exit=..., script=...): an `adb` first on PATH that
    logs its arguments to tmp_path/adb.log (returned); `get-state` prints `says`, `adb shell`
    prints tmp_path/calllog.txt when there is one; `fails` makes every call fail with it. A
    `script` replaces all that. `path_only`: PATH holds nothing else (no real adb, no shell
    tools)."""
    def make(*, says="device", fails="", shell_exit=0, script=None, path_only=False):
        adb = tmp_path / "adb"
        body = script if script is not None else (
            f'echo "$@" >> "{tmp_path}/adb.log"\n'
            + (f'echo "{fails}" >&2\nexit 1\n' if fails else
               f'[ "$1" = get-state ] && echo {says}\n'
               f'[ "$1" = shell ] && cat "{tmp_path}/calllog.txt" 2>/dev/null '
               f'&& exit {shell_exit}\nexit 0\n'))
        adb.write_text("#!/bin/sh\n" + body)
        adb.chmod(adb.stat().st_mode | stat.S_IEXEC)
        monkeypatch.setenv("PATH", str(tmp_path) if path_only
                           else f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
        return tmp_path / "adb.log"
    return make
