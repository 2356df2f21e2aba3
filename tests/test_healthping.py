"""The dead-man switch: Healthchecks pings from the daemon's own loop, a local HTTP server
standing in for Healthchecks (hc-ping.com or a self-hosted one)."""
import json
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import serial

from alive_helpers import cut_alive
from gateway import config as config_mod
from gateway.app import healthping as hp
from gateway.errors import ConfigError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))


class FakeHealthchecks:
    """Records every request: (time, method, path, body). `status` and `delay` make it fail."""

    def __init__(self, status: int = 200, delay: float = 0.0):
        self.requests: list[tuple[float, str, str, str]] = []
        self.status, self.delay = status, delay
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                outer.requests.append((time.time(), self.command, self.path, body))
                time.sleep(outer.delay)
                self.send_response(outer.status)
                self.end_headers()
                self.wfile.write(b"OK")

            do_GET = do_POST = do_HEAD = _answer

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/ping/4b4e1b3e-uuid"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hc():
    server = FakeHealthchecks()
    yield server
    server.close()


def test_decide():
    ok, fail = hp.Ping("", ""), hp.Ping("fail", "the modem has not answered for 11m")
    cases = [  # (now, problems, last, expected)
        (0, [], None, ok),
        (0, ["the modem has not answered for 11m"], None, fail),
        (10, [], hp.Sent(0, ok, None), None),                  # one in flight
        (299, [], hp.Sent(0, ok, True), None),
        (300, [], hp.Sent(0, ok, True), ok),                   # every ping_every
        (5, ["the modem has not answered for 11m"], hp.Sent(0, ok, True), fail),  # news at once
        (5, [], hp.Sent(0, fail, True), ok),                   # all well again at once
        (59, [], hp.Sent(0, ok, False), None),                 # a failed one: retried
        (60, [], hp.Sent(0, ok, False), ok),
        (1, ["the modem has not answered for 11m"], hp.Sent(0, ok, False), fail),  # news: at once
    ]
    for now, problems, last, expected in cases:
        assert hp.decide(now, problems, last, 300) == expected, (now, problems, last)
    assert hp.decide(10, [], hp.Sent(0, ok, False), 10) == ok   # retry no slower than ping_every


@pytest.mark.parametrize("url, kind, expected", [
    ("https://hc-ping.com/uuid", "", "https://hc-ping.com/uuid"),
    ("https://hc-ping.com/uuid", "fail", "https://hc-ping.com/uuid/fail"),
    ("https://hc-ping.com/uuid/", "fail", "https://hc-ping.com/uuid/fail"),
    ("https://hc.example/ping/key/slug?create=1", "fail",
     "https://hc.example/ping/key/slug/fail?create=1"),
])
def test_endpoint(url, kind, expected):
    assert hp.endpoint(url, kind) == expected


@pytest.mark.parametrize("raw, message", [
    ({"ping_url": "hc-ping.com/uuid"}, "not a ping URL: 'hc-ping.com/uuid'"),
    ({"ping_url": "ftp://hc-ping.com/uuid"}, "not a ping URL"),
    ({"ping_url": "https://"}, "not a ping URL"),
    ({"ping_url": "https://hc-ping.com:http/uuid"}, "not a port"),
    ({"ping_url": "https://hc-ping.com/uuid x"}, "holds a space or a control character"),
    ({"ping_url": "https://hc ping.com/uuid"}, "holds a space or a control character"),
    ({"ping_url": "https://hc-ping.com/uu\tid"}, "holds a space or a control character"),
    ({"ping_url": "https://hc-ping.com/\U0001f600"}, "not plain ASCII"),
    ({"ping_every": 5}, "health.ping_every: must be at least 10 seconds, got 5"),
    ({"fail_after": 9.5}, "health.fail_after: must be at least 10 seconds, got 9.5"),
])
def test_bad_settings(raw, message):
    with pytest.raises(ConfigError) as err:
        config_mod._health({"ping_url": "https://hc-ping.com/u", "ping_every": 300, "fail_after": 600, **raw},
                 "t.toml")
    assert message in str(err.value)


@pytest.mark.parametrize("status, delay, url, expect", [
    (500, 0.0, None, "HTTP 500"),
    (200, 8.0, None, "timed out"),
    (200, 0.0, "http://127.0.0.1:9/x", "Connection refused"),
    # a URL http.client will not send (a space: InvalidURL, not a ValueError) or cannot encode
    (200, 0.0, "http://127.0.0.1:9/x y", "InvalidURL"),
    (200, 0.0, "http://127.0.0.1:9/\U0001f600", "ordinal not in range"),
])
def test_a_ping_that_fails_says_why_and_never_raises(status, delay, url, expect):
    server = FakeHealthchecks(status=status, delay=delay)
    try:
        started = time.monotonic()
        ok, detail = hp.http_send(url or server.url, hp.Ping("fail", "x"))
        took = time.monotonic() - started
    finally:
        server.close()
    assert (ok, expect in detail) == (False, True), detail
    assert took < hp.TIMEOUT + 2


# -- the whole daemon, virtual clock: when each ping goes ------------------------------------
class PatientClock:
    """A VirtualClock that lets an HTTP request in flight finish before virtual time moves on:
    the network answers at once, in virtual time, so the test sees the loop's own schedule."""

    def __init__(self, clock, pinger_of):
        self.clock, self.pinger_of = clock, pinger_of

    def __getattr__(self, name):
        return getattr(self.clock, name)

    def _settle(self):
        pinger = self.pinger_of()
        deadline = time.monotonic() + 20
        while pinger is not None and pinger.busy() and time.monotonic() < deadline:
            time.sleep(0.002)
            pinger.collect(self.clock.now())

    def wait(self, fd, deadline):
        self._settle()
        return self.clock.wait(fd, deadline)

    def sleep(self, deadline):
        self._settle()
        return self.clock.sleep(deadline)


def test_pings_while_the_modem_works_and_fail_names_the_modem_once_it_stops(tmp_path, hc):
    from gateway import config as config_mod
    from gateway.app.daemon import build
    from gateway.app.store import Store
    from gateway.at.link import AtLink
    from gateway.clock import VirtualClock
    from gateway.simulator.modem import SimulatedModem
    from gateway.starter import write_starter

    write_starter(tmp_path)
    toml = tmp_path / "textback.toml"
    toml.write_text(cut_alive(toml.read_text()) + f'\n[health]\nping_url = "{hc.url}"\nping_every = 60\n'
                    'fail_after = 120\n')
    toml.chmod(0o600)
    cfg = config_mod.load(toml)
    start, hang_at, end = 1_795_536_000.0, 400.0, 1200.0
    sim = SimulatedModem("sim800")
    daemon = None
    clock = PatientClock(VirtualClock(start, sim, warmup=1.0),
                         lambda: daemon.watch.pinger if daemon else None)
    store = Store(tmp_path / "t.db")
    daemon = build(cfg, store, clock, AtLink(lambda: serial.Serial(sim.port_name, 115200,
                                                                      timeout=0), clock), notices=False)
    events = []
    daemon.sink = events.append
    try:
        daemon.run(until=start + hang_at)
        sim.hang()
        daemon.run(until=start + end)
    finally:
        store.close()
        sim.close()
    pings = [(e["at"] - start, e["kind"], e["reason"]) for e in events
             if e["event"] == "health_ping"]
    before = [p for p in pings if p[0] < hang_at]
    assert [kind for _, kind, _ in before] == ["ok"] * len(before) and len(before) >= 6
    gaps = [b[0] - a[0] for a, b in zip(before, before[1:])]
    assert max(gaps) <= 60.0 + 1, gaps
    fails = [p for p in pings if p[1] == "fail"]
    assert fails, pings
    first = fails[0]
    assert hang_at < first[0] <= hang_at + 120 + 60, first   # within fail_after + ping_every
    assert first[2].startswith("the modem has not answered for "), first
    assert "check its USB cable and power" in first[2]
    after = [p for p in pings if p[0] > first[0]]
    assert after and all(p[1] == "fail" for p in after)    # it stays down: /fail, not a success
    # What the server got: the same, in the Healthchecks protocol.
    got = [(method, path.rsplit("/", 1)[-1], body) for _, method, path, body in hc.requests]
    assert got[0] == ("GET", "4b4e1b3e-uuid", "")
    assert ("POST", "fail", first[2]) in got
    assert len(got) == len(pings)


# -- the real daemon process: SIGKILL and nothing more ----------------------------------------
def test_the_live_daemon_pings_fails_on_a_silent_modem_and_goes_quiet_when_killed(tmp_path, hc):
    """`textback run` as a process on the live pty simulator, ping_every and fail_after at their
    10 s minimum. Timings are printed, not asserted (the virtual-clock test above does that)."""
    import crash

    from gateway.simulator.modem import SimulatedModem

    sim = SimulatedModem("sim800")
    sim.start(lambda: 0.0)
    config = crash.write_config(tmp_path, sim.port_name)
    config.write_text(cut_alive(config.read_text()) + f'\n[health]\nping_url = "{hc.url}"\nping_every = 10\n'
                      "fail_after = 10\n")
    config.chmod(0o600)
    daemon = crash.Process(config, tmp_path / "t.db")
    try:
        assert daemon.wait_for(crash.READY, 30) is not None
        assert _wait(lambda: sum(r[1] == "GET" for r in hc.requests) >= 2, 60), hc.requests
        hung = time.time()
        sim.hang()
        assert _wait(lambda: any(r[1] == "POST" for r in hc.requests), 90), hc.requests
        fail = next(r for r in hc.requests if r[1] == "POST")
        assert fail[2].endswith("/fail") and fail[3].startswith("the modem has not answered")
        print(f"/fail arrived {fail[0] - hung:.1f} s after the modem stopped answering "
              f"(fail_after 10 + ping_every 10 = 20)")
        daemon.proc.send_signal(signal.SIGKILL)
        daemon.proc.wait(timeout=10)
        killed, count = time.time(), len(hc.requests)
        time.sleep(25)    # more than two ping_every: what would have come, had it lived
        assert len(hc.requests) == count, hc.requests[count:]
        assert all(r[0] <= killed for r in hc.requests)
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
        sim.close()


def _wait(done, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return True
        time.sleep(0.05)
    return False


def test_status_shows_backup_age_last_ping_and_self_test(tmp_path):
    """`textback status` reads what the daemon recorded: the backup's last copy, the last ping,
    the last self-test ("Done means")."""
    from click.testing import CliRunner

    from cli.main import cli
    from gateway.app.store import Store

    now = time.time()
    store = Store(tmp_path / "t.db")
    store.set_state("heartbeat", f"{now - 5:.3f}")
    store.set_state("backup_last_sync", f"{now - 42:.3f}")
    store.set_state("health_last_ping", json.dumps({"at": now - 130, "fail": False, "ok": True,
                                                    "detail": "HTTP 200", "reason": ""}))
    store.set_state("selftest_last", json.dumps({"at": now - 3 * 3600 - 60, "ok": True,
                                                 "detail": "sent and received back in 6 s"}))
    store.close()
    from gateway.app.lock import one_daemon

    with one_daemon(tmp_path / "t.db"):   # a daemon runs on it (status asks its lock)
        result = CliRunner().invoke(cli, ["status", "--db", str(tmp_path / "t.db"), "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["check"]: row for row in json.loads(result.output)}
    assert rows["backup"]["value"] == "last copy to the replica 42s ago"
    assert rows["health ping"]["value"] == "2m ago, all well (HTTP 200)"
    assert rows["self-test"]["value"] == "passed 3h ago: sent and received back in 6 s"
    store = Store(tmp_path / "t.db")
    store.set_state("backup_last_sync", f"{now - 7200:.3f}")
    store.set_state("selftest_last", json.dumps({"at": now - 60, "ok": False, "detail": "x"}))
    store.close()
    result = CliRunner().invoke(cli, ["status", "--db", str(tmp_path / "t.db")])
    assert result.exit_code == 1
    assert "!! backup" in result.output and "last copy to the replica 2h ago" in result.output
    assert "!! self-test" in result.output and "FAILED 1m ago: x" in result.output


def test_a_failing_ping_server_over_many_pings(tmp_path, caplog):
    """Virtual time, a server answering 500 to everything: one warning for the whole outage,
    retries every minute, the texts unaffected, the status row saying so."""
    import json as json_

    from click.testing import CliRunner

    from alive_helpers import run_daemon
    from cli.main import cli
    from gateway.simulator.modem import SimulatedModem
    from gateway.simulator.scenario import Step

    server = FakeHealthchecks(status=500)
    n = "+15125550142"
    sim = SimulatedModem("sim800", steps=[Step(100.0, "RING"), Step(100.05, f'+CLIP: "{n}",145,"",0,"",0'),
                                    Step(105.0, "NO CARRIER")])
    try:
        db, events, _ = run_daemon(
            tmp_path, f'[health]\nping_url = "{server.url}"\nping_every = 60\n', until=600,
            sim=sim, clock_wrap=lambda clock, daemon: PatientClock(
                clock, lambda: daemon[0].watch.pinger if daemon else None))
    finally:
        server.close()
    warned = [r for r in caplog.records if "did not arrive" in r.getMessage()]
    assert len(warned) == 1 and "HTTP 500" in warned[0].getMessage()
    assert "hc-ping" not in warned[0].getMessage() and "uuid" not in warned[0].getMessage()
    pings = [e["t"] for e in events if e["event"] == "health_ping"]
    assert len(pings) >= 9 and all(60 - 1 <= b - a <= 60 + 1 for a, b in zip(pings, pings[1:]))
    assert [e["status"] for e in events if e["event"] == "sms"] == ["sent"]
    rows = {r["check"]: r for r in json_.loads(CliRunner().invoke(
        cli, ["status", "--db", str(db), "--json"]).output)}
    assert rows["health ping"]["ok"] is False
    assert "did not arrive (HTTP 500 Internal Server Error)" in rows["health ping"]["value"]


def test_on_the_phone_path_a_phone_gone_is_named_in_the_fail(tmp_path, hc):
    """The phone as the modem (the strict fake SMSGate and CallGate): pings while it answers,
    `/fail` naming the phone once it stops answering for fail_after."""

    from alive_helpers import phone_settings_for
    from gateway import config as config_mod
    from gateway.app.daemon import build
    from gateway.app.store import Store
    from gateway.clock import WallClock
    from gateway.phone.link import PhoneLink
    from gateway.simulator.phone import FakeGateway
    from gateway.starter import write_starter
    from test_phonelink import KEY

    write_starter(tmp_path)
    toml = tmp_path / "textback.toml"
    toml.write_text(cut_alive(toml.read_text()) + f'\n[health]\nping_url = "{hc.url}"\n'
                    "ping_every = 10\nfail_after = 10\n")
    toml.chmod(0o600)
    cfg = config_mod.load(toml)
    with FakeGateway(retry_scale=0.005, signing_key=KEY) as gw:
        store = Store(tmp_path / "t.db")
        clock = WallClock()
        daemon = build(cfg, store, clock,
                        PhoneLink(phone_settings_for(gw, health_every=1.0), clock), notices=False)
        state = {"gone": None}

        def on_pass():
            if state["gone"] is None and any(r[1] == "GET" for r in hc.requests):
                state["gone"] = time.time()
                gw.offline = True          # the phone stops answering
            if any(r[1] == "POST" for r in hc.requests):
                daemon.stop("failed")
                clock.interrupt()
        daemon.on_pass = on_pass
        try:
            daemon.run(until=clock.now() + 90)
        finally:
            daemon.link.close()
            store.close()
    fails = [r for r in hc.requests if r[1] == "POST"]
    assert daemon.stop_reason == "failed", hc.requests
    assert fails[0][2].endswith("/fail")
    assert fails[0][3].startswith("the phone has not answered for ")
    assert "check the phone is on and plugged in" in fails[0][3]
    assert fails[0][0] > state["gone"]


def test_a_refused_pin_is_told_once_before_the_daemon_exits(tmp_path, hc):
    """The daemon stops on a SIM that refuses its PIN (never retried: the SIM would lock), and
    systemd starts it again every few seconds: the health check hears why once, not each time."""
    from alive_helpers import run_daemon
    from gateway.errors import PinRefused
    from gateway.simulator.modem import SimulatedModem
    from gateway.simulator.scenario import Reply

    def start():
        sim = SimulatedModem("sim800", replies=[Reply("AT+CPIN?", ("+CPIN: SIM PIN", "OK")),
                                          Reply('AT+CPIN="', ("+CME ERROR: 16",))])
        with pytest.raises(PinRefused):
            run_daemon(tmp_path, f'[health]\nping_url = "{hc.url}"\n', until=60, sim=sim,
                       pin="1234")

    start()
    start()     # a restart: the same reason within ping_every is not sent again
    assert [(m, p.rsplit("/", 1)[-1], b) for _, m, p, b in hc.requests] == [
        ("POST", "fail", "textback cannot run: the SIM refused the PIN in the config (modem.pin); "
                         "fix it there (textback does not try it again, so the SIM does not lock)")]


def test_status_and_the_ping_agree_on_when_the_backup_is_too_far_behind():
    from gateway import backup
    from gateway.app import vitals

    assert vitals.LAG_LIMIT == backup.LAG_LIMIT
