"""The phone link against the fake SMSGate/CallGate on loopback: real HTTP, real signed webhooks."""
import hashlib
import hmac
import json
import os
import socket
import stat
import time

import pytest

from gateway import events as ev
from gateway.clock import WallClock
from gateway.daemon import Daemon
from gateway.errors import ModemGone
from gateway.fakegateway import FakeGateway
from gateway.phonelink import PhoneLink, PhoneSettings
from gateway.starter import write_starter
from gateway import config as config_mod
from gateway.store import Store

N, B = "+15125550142", "+15125550177"
KEY = "s1gnKey8"
MISS = "call:ended without call:started"


@pytest.fixture
def gw():
    with FakeGateway(retry_base=0.05, signing_key=KEY) as fake:
        yield fake


def settings(gw, **kw):
    base = dict(url_sms=gw.url_sms, url_calls=gw.url_calls, password="Pa55word",
                calls_password="CallPa55", signing_key=KEY, listen_port=0, adb=False, settle=0.2,
                send_wait=1.0)
    return PhoneSettings(**{**base, **kw})


@pytest.fixture
def link(gw):
    phone = PhoneLink(settings(gw), WallClock())
    phone.connect()
    yield phone
    phone.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pump(link, gw, then: float = 0.0) -> list:
    """Take events until the fake has nothing left to deliver; then ask once more `then` seconds
    ahead, so that settle times and the lost-end timeout are decided without waiting."""
    out, clock = [], link.clock
    limit = clock.now() + 5
    while clock.now() < limit:
        out += link.events(clock.now())
        if gw.idle():
            break
        link.wait(clock.now() + 0.05)
    return out + link.events(clock.now() + then)


def ended(out):
    return [(e.outcome, e.number, e.withheld, e.how) for e in out if isinstance(e, ev.CallEnded)]


# -- the nine call scenarios of phone-as-modem.md 8.4 ---------------------------------------------
@pytest.mark.parametrize("scenario, expected", [
    ("missed", [("missed", N, False, MISS)]),
    ("answered", [("answered", N, False, "call:started")]),
    ("declined", [("missed", N, False, MISS)]),
    ("outgoing", []),
    ("doubled", [("missed", N, False, MISS)]),
    ("unknown", [("missed", None, True, MISS)]),
    ("waiting", [("answered", N, False, "call:started"),
                 ("answered", B, False, "call waiting: looks answered (Android cannot tell)")]),
    ("lost_end", [("unknown", N, False, "no call:ended within 90 s (lost event?)")]),
    ("late", [("missed", N, False, MISS)]),
])
def test_call_scenarios(gw, link, scenario, expected):
    gw.play(scenario, N, B)
    assert ended(pump(link, gw, then=100)) == expected


def test_a_call_is_not_decided_before_its_late_copies_can_arrive(gw, link):
    gw.play("doubled", N)
    assert ended(pump(link, gw)) == []           # still settling
    assert ended(link.events(link.clock.now() + 1)) == [("missed", N, False, MISS)]


def test_deliveries_refused_while_the_receiver_is_down_arrive_later_once(gw):
    port = free_port()
    gw.retries["calls"] = 8
    phone = PhoneLink(settings(gw, listen_port=port), WallClock())
    phone.connect()
    phone.close()                                # the daemon is restarting
    gw.play("missed", N)
    assert gw.wait_until(lambda: sum(outcome == "0" for _, outcome in gw.log) >= 2)
    phone.connect()
    try:
        assert ended(pump(phone, gw, then=1)) == [("missed", N, False, MISS)]
    finally:
        phone.close()


# -- webhook security -----------------------------------------------------------------------------
def post_raw(link, body: bytes, headers: dict) -> tuple[int, list]:
    """One request to the link's receiver over a raw socket, served by the link's own events():
    (the status it answered, the events it gave)."""
    with socket.create_connection(("127.0.0.1", link.receiver.port)) as conn:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        conn.sendall(f"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
                     f"{head}\r\n".encode() + body)
        out = link.events(link.clock.now())
        return int(conn.recv(200).split()[1]), out


def signed(body: bytes, key: str = KEY, skew: float = 0.0) -> dict:
    stamp = str(int(time.time() + skew))
    return {"X-Timestamp": stamp,
            "X-Signature": hmac.new(key.encode(), body + stamp.encode(), hashlib.sha256).hexdigest()}


RINGING = json.dumps({"id": "e1", "webhookId": "w", "event": "call:ringing", "deviceId": "d",
                      "payload": {"phoneNumber": N}}).encode()


@pytest.mark.parametrize("case, headers, status", [
    ("good", signed(RINGING), 200),
    ("unsigned", {}, 401),
    ("wrong key", signed(RINGING, key="guessed!"), 401),
    ("stale", signed(RINGING, skew=-400), 401),
    ("from the future", signed(RINGING, skew=400), 401),
    ("body changed", signed(RINGING.replace(b"142", b"143")), 401),
])
def test_webhook_signatures(link, case, headers, status):
    answered, out = post_raw(link, RINGING, headers)
    rang = [e.number for e in out if isinstance(e, ev.CallRinging)]
    assert (answered, rang) == (status, [N] if status == 200 else [])


def test_a_replayed_webhook_is_refused(link):
    headers = signed(RINGING)
    assert [post_raw(link, RINGING, headers)[0], post_raw(link, RINGING, headers)[0]] == [200, 401]
    assert link.receiver.refused == 1


def test_a_delivery_retried_after_the_call_was_decided_is_not_a_new_call(link):
    first, _ = post_raw(link, RINGING, signed(RINGING))
    ended_body = RINGING.replace(b'"e1"', b'"e2"').replace(b"ringing", b"ended")
    post_raw(link, ended_body, signed(ended_body))
    assert ended(link.events(link.clock.now() + 1)) == [("missed", N, False, MISS)]
    again, out = post_raw(link, RINGING, signed(RINGING, skew=-2))  # the same event, re-signed
    assert (first, again, out, ended(link.events(link.clock.now() + 100))) == (200, 200, [], [])


def test_a_phone_with_a_wrong_clock_is_refused_and_nothing_happens(gw, link):
    gw.sign_skew = -3600
    gw.play("missed", N)
    assert ended(pump(link, gw, then=100)) == []
    assert {outcome for _, outcome in gw.log} == {"401"}


# -- texts ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("setup, number, body, expected", [
    ({}, N, "Sorry we missed you", "sent"),
    ({"outcomes": {N: ("Sent", None)}}, N, "Sorry we missed you", "sent"),
    ({"lose_webhooks": True}, N, "Sorry we missed you", "sent"),   # found by polling
    ({"outcomes": {N: ("Failed", "RESULT_ERROR_NO_SERVICE")}}, N, "hi",
     ev.SendFailed("RESULT_ERROR_NO_SERVICE", True)),
    ({}, "5550142", "hi", ev.SendFailed("sendSMS: Invalid phone number", False)),
    ({}, N, "", ev.SendFailed("Text message is empty", False)),
    ({"auto_send": False}, N, "hi", ev.SendFailed("the phone has not sent it after 1 s (still "
                                                  "Pending)", True)),
])
def test_send(gw, link, setup, number, body, expected):
    for name, value in setup.items():
        setattr(gw, name, value)
    try:
        result = link.send_text(number, body, 7)
    except ev.SendFailed as exc:
        result = exc
    assert result == (expected if expected != "sent" else result)
    if expected == "sent":
        assert gw.messages[result]["recipients"] == [
            {"phoneNumber": number, "state": gw.messages[result]["state"]}]
        assert gw.messages[result]["state"] in ("Sent", "Delivered")


def test_a_retry_after_a_failure_is_a_new_message(gw, link):
    gw.outcomes[N] = ("Failed", "RESULT_ERROR_GENERIC_FAILURE")
    with pytest.raises(ev.SendFailed):
        link.send_text(N, "hi", 3)
    gw.outcomes.clear()
    sent = link.send_text(N, "hi", 3)
    assert sent.endswith("-2") and gw.posts == 2


def test_an_answer_lost_on_the_way_back_does_not_send_twice(gw, link):
    gw.drop_responses = 1
    with pytest.raises(ModemGone):
        link.send_text(N, "hi", 4)
    assert link.send_text(N, "hi", 4) in gw.messages
    assert gw.posts == 1


@pytest.mark.parametrize("change, message", [
    ({"offline": True}, "SMSGate on the phone does not answer at"),
    ({"passwords": {"sms": ("sms", "other"), "calls": ("call", "CallPa55")}},
     "SMSGate refused the password in phone.password"),
    ({"passwords": {"sms": ("sms", "Pa55word"), "calls": ("call", "other")}},
     "CallGate refused the password in phone.calls_password"),
])
def test_connect_says_what_is_wrong(gw, change, message):
    for name, value in change.items():
        setattr(gw, name, value)
    with pytest.raises(ModemGone) as raised:
        PhoneLink(settings(gw), WallClock()).connect()
    assert raised.value.message.startswith(message) and raised.value.hint


def test_connect_registers_every_webhook_once(gw, link):
    link.close()
    link.connect()  # again: nothing doubled
    hooks = sorted((app, h["event"]) for app in gw.webhooks for h in gw.webhooks[app].values())
    assert hooks == sorted([("calls", "call:ended"), ("calls", "call:ringing"),
                            ("calls", "call:started"), ("sms", "sms:delivered"),
                            ("sms", "sms:failed"), ("sms", "sms:received"), ("sms", "sms:sent")])


def test_texts_in_by_webhook_and_inbox_count_once(gw, link):
    before = gw.receive_sms(N, "can you come today?")
    gw.lose_webhooks = True
    after = gw.receive_sms(B, "STOP")
    out = pump(link, gw)
    link._next_inbox = 0.0  # the minute-long poll is due now
    out += link.events(link.clock.now())
    assert [(e.number, e.text, e.handle) for e in out if isinstance(e, ev.SmsReceived)] == [
        (N, "can you come today?", (before,)), (B, "STOP", (after,))]


# -- USB: adb forward / reverse -------------------------------------------------------------------
def fake_adb(folder, *, says="device", fails=""):
    script = folder / "adb"
    script.write_text(f'#!/bin/sh\necho "$@" >> "{folder}/adb.log"\n'
                      + (f'echo "{fails}" >&2\nexit 1\n' if fails else
                         f'[ "$1" = get-state ] && echo {says}\nexit 0\n'))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return folder / "adb.log"


def test_replug_redoes_adb_forward_and_reverse(gw, tmp_path, monkeypatch):
    record = fake_adb(tmp_path)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    port = free_port()
    phone = PhoneLink(settings(gw, adb=True, listen_port=port), WallClock())
    phone.connect()
    gw.offline = True                 # unplugged: the forwarded ports stop answering
    with pytest.raises(ModemGone):
        phone.events(phone.clock.now())
    phone.close()
    gw.offline = False                # plugged back: the daemon reconnects
    phone.connect()
    phone.close()
    sms, calls = gw.url_sms.rsplit(":", 1)[1], gw.url_calls.rsplit(":", 1)[1]
    once = ["get-state", f"forward tcp:{sms} tcp:{sms}", f"forward tcp:{calls} tcp:{calls}",
            f"reverse tcp:{port} tcp:{port}"]
    assert record.read_text().splitlines() == once + once


@pytest.mark.parametrize("fails, message", [
    ("error: device unauthorized.", "the phone has not authorised this computer for USB debugging"),
    ("error: no devices/emulators found", "no phone is connected over USB"),
])
def test_adb_problems_in_plain_words(gw, tmp_path, monkeypatch, fails, message):
    fake_adb(tmp_path, fails=fails)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(ModemGone) as raised:
        PhoneLink(settings(gw, adb=True), WallClock()).connect()
    assert raised.value.message == message


def test_no_adb_installed(gw, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ModemGone) as raised:
        PhoneLink(settings(gw, adb=True), WallClock()).connect()
    assert (raised.value.message, raised.value.hint) == ("adb is not installed", "sudo apt install adb")


# -- the real daemon on the phone link ------------------------------------------------------------
def daemon_on(tmp_path, gw):
    write_starter(tmp_path)
    cfg = config_mod.load(tmp_path / "textback.toml")
    store = Store(tmp_path / "t.db")
    clock = WallClock()
    records = []
    daemon = Daemon(cfg, store, clock, PhoneLink(settings(gw), clock), sink=records.append)
    return daemon, store, records


def run_until_texted(daemon, records, to=N, seconds=8.0):
    def check():
        if any(r["event"] == "sms" and r.get("status") == "sent" and r["to"] == to
               for r in records):
            daemon.stop("texted")
            daemon.clock.interrupt()  # as the signal handler does: end the wait now
    daemon.on_pass = check
    daemon.run(until=daemon.clock.now() + seconds)


def test_daemon_texts_a_missed_caller_not_an_answered_one(tmp_path, gw):
    daemon, store, records = daemon_on(tmp_path, gw)
    daemon.on_ready = lambda info: (gw.play("answered", B), gw.play("missed", N))
    try:
        run_until_texted(daemon, records)
        calls = sorted((c["number"], c["outcome"]) for c in store.calls())
    finally:
        daemon.link.close()
        store.close()
    assert daemon.stop_reason == "texted"
    assert calls == [(N, "missed"), (B, "answered")]
    assert [m["recipients"][0]["phoneNumber"] for m in gw.messages.values()
            if m["recipients"][0]["phoneNumber"] != "+15125550199"] == [N]


def test_daemon_phone_offline_then_back_the_text_goes_once(tmp_path, gw):
    daemon, store, records = daemon_on(tmp_path, gw)

    def sink(record):
        records.append(record)
        if record["event"] == "queued" and record["to"] == N:
            gw.drop_responses = 1      # the phone takes the text, then the cable comes out
    daemon.sink = sink
    daemon.on_ready = lambda info: gw.play("missed", N)
    try:
        run_until_texted(daemon, records)
    finally:
        daemon.link.close()
        store.close()
    assert [r["event"] for r in records].count("modem_lost") == 1
    assert [m["recipients"][0]["phoneNumber"] for m in gw.messages.values()].count(N) == 1
    assert daemon.stop_reason == "texted"
