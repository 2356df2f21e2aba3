"""The phone link against the fake SMSGate/CallGate on loopback: real HTTP, real signed webhooks."""
import hashlib
import hmac
import json
import os
import socket
import stat
import time

import pytest

from gateway import config as config_mod
from gateway import events as ev
from gateway.app import reports
from gateway.app.daemon import build
from gateway.app.store import Store
from gateway.clock import WallClock
from gateway.errors import ModemGone
from gateway.phone.callbook import ENDED_ONLY, WAITING, CallBook
from gateway.phone.link import WAITING_MISSED, PhoneLink
from gateway.starter import write_starter

N, B = "+15125550142", "+15125550177"
KEY = "s1gnKey8"
MISS = "call:ended without call:started"


@pytest.fixture
def settings(phone_settings):
    """The shared phone settings (tests/conftest.py) with this module's timing."""
    return lambda **kw: phone_settings(**{"settle": 0.2, "send_wait": 1.0, **kw})


@pytest.fixture
def link(gw, settings):
    phone = PhoneLink(settings(), WallClock())
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
    limit = clock.now() + 20  # a bound for a loaded machine; it stops when the fake is idle
    while clock.now() < limit:
        out += link.events(clock.now())
        if gw.idle():
            break
        link.wait(clock.now() + 0.05)
    return out + link.events(clock.now() + then)


def e164(number):
    """CallGate gives the number as the phone saw it (national digits here): compare in E.164."""
    from gateway.numbers import normalize

    return normalize(number, None, "US") if number else number


def ended(out):
    return [(e.outcome, e164(e.number), e.withheld, e.how) for e in out
            if isinstance(e, ev.CallEnded)]


# -- the call scenarios, every state posted twice as CallGate does -------------------------------
@pytest.mark.parametrize("scenario, late, expected", [
    ("missed", False, [("missed", N, False, MISS)]),
    ("answered", False, [("answered", N, False, "call:started")]),
    ("declined", False, [("missed", N, False, MISS)]),
    ("outgoing", False, []),
    ("unknown", False, [("missed", None, True, MISS)]),
    ("waiting", False, [("answered", N, False, "call:started"),
                        ("answered", B, False, "call waiting: looks answered (Android cannot tell)")]),
    ("lost_end", False, [("unknown", N, False, "no call:ended within 90 s (lost event?)")]),
    ("missed", True, [("missed", N, False, MISS)]),     # posted in reverse order
    ("answered", True, [("answered", N, False, "call:started")]),
])
def test_call_scenarios(gw, link, scenario, late, expected):
    gw.play(scenario, N, B, late=late)
    assert ended(pump(link, gw, then=100)) == expected


def test_a_call_with_all_its_copies_in_is_decided_at_once_else_after_the_settle_time(gw, link):
    gw.play("missed", N)                          # both copies of ringing and of ended
    assert ended(pump(link, gw)) == [("missed", N, False, MISS)]
    gw.call_event("call:ringing", B)
    gw.call_event("call:ended", B, doubled=False)  # Android's second copy of the end is lost
    assert ended(pump(link, gw)) == []             # it may still come: wait
    assert ended(link.events(link.clock.now() + 1)) == [("missed", B, False, MISS)]


def test_late_copies_start_no_phantom_call_and_a_caller_who_rings_again_is_a_new_call():
    book = CallBook(settle=0.6)
    for event, number, at in [("call:ringing", N, 0.0), ("call:ringing", None, 0.01),
                              ("call:ended", N, 5.0), ("call:ended", None, 5.01)]:
        book.feed(event, number, 100 + at)
    assert ended(book.tick(105.01)) == [("missed", N, False, MISS)]   # complete: at once
    book.feed("call:ringing", N, 107.0)            # the same caller rings again at once
    book.feed("call:ringing", None, 107.01)
    book.feed("call:ended", None, 112.0)
    book.feed("call:ended", N, 112.01)
    assert ended(book.tick(112.01)) == [("missed", N, False, MISS)]
    assert len({g.first for g in book.groups}) == 2
    # A copy that fits neither (a third ringing without a number) is a call of its own whose
    # numbered copy was lost: recorded as unknown and withheld (nothing to text), not dropped.
    book.feed("call:ringing", None, 113.0)
    assert ended(book.tick(113.0 + 200)) == [
        ("unknown", None, True, "no call:ended within 90 s (lost event?)")]


def test_deliveries_refused_while_the_receiver_is_down_arrive_later_once(gw, settings):
    port = free_port()
    gw.call_retries = 8   # the settings screen opened once: 15 on a phone
    phone = PhoneLink(settings(listen_port=port), WallClock())
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


# Signed when the test runs, not when it is collected: the window is about the clock at sending.
@pytest.mark.parametrize("case, sign, status", [
    ("good", lambda: signed(RINGING), 200),
    ("unsigned", lambda: {}, 401),
    ("wrong key", lambda: signed(RINGING, key="guessed!"), 401),
    ("stale", lambda: signed(RINGING, skew=-400), 401),
    ("from the future", lambda: signed(RINGING, skew=400), 401),
    ("body changed", lambda: signed(RINGING.replace(b"142", b"143")), 401),
])
def test_webhook_signatures(link, case, sign, status):
    answered, out = post_raw(link, RINGING, sign())
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
    ({}, "+18005550142", "hi", ev.SendFailed("sendSMS: Invalid phone number type", False)),
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
        assert [(r["phoneNumber"], r["state"]) for r in gw.messages[result]["recipients"]] in (
            [(number, "Sent")], [(number, "Delivered")])


def test_a_retry_after_a_failure_is_a_new_message(gw, link):
    gw.outcomes[N] = ("Failed", "RESULT_ERROR_GENERIC_FAILURE")
    with pytest.raises(ev.SendFailed):
        link.send_text(N, "hi", 3)
    gw.outcomes.clear()
    sent = link.send_text(N, "hi", 3, retry=True)
    assert sent.endswith("-2") and gw.posts == 2


def test_an_answer_lost_on_the_way_back_does_not_send_twice(gw, link):
    gw.drop_responses = 1
    with pytest.raises(ModemGone):
        link.send_text(N, "hi", 4)
    assert link.send_text(N, "hi", 4, retry=True) in gw.messages
    assert gw.posts == 1


def test_a_409_for_a_text_this_database_never_sent_is_not_taken_as_sent(gw, link):
    # A re-imaged box (or a restored backup) on the same phone: its first text reuses an id the
    # phone already holds, from another text. It must go out under the next id, not be lost.
    gw.auto_send = False
    old = link._call("sms", "POST", "/message", {"id": "textback-k1", "phoneNumbers": [B],
                                                 "textMessage": {"text": "an old text"}})[0]
    gw.auto_send = True
    sent = link.send_text(N, "Sorry we missed you", 1, key="k1")
    assert (old, sent, gw.messages[sent]["recipients"][0]["phoneNumber"]) == (
        202, "textback-k1-2", N)
    # Even the same words to the same number: this database never posted it, so it is sent.
    gw.messages["textback-k2"] = {**gw.messages[sent], "id": "textback-k2"}
    assert link.send_text(N, "Sorry we missed you", 2, key="k2") == "textback-k2-2"


@pytest.mark.parametrize("change, message", [
    ({"offline": True}, "SMSGate on the phone does not answer at"),
    ({"passwords": {"sms": ("sms", "other"), "calls": ("call", "CallPa55")}},
     "SMSGate refused the password in phone.password"),
    ({"passwords": {"sms": ("sms", "Pa55word"), "calls": ("call", "other")}},
     "CallGate refused the password in phone.calls_password"),
])
def test_connect_says_what_is_wrong(gw, change, message, settings):
    for name, value in change.items():
        setattr(gw, name, value)
    with pytest.raises(ModemGone) as raised:
        PhoneLink(settings(), WallClock()).connect()
    assert raised.value.message.startswith(message) and raised.value.hint


def test_connect_registers_every_webhook_once(gw, link):
    link.close()
    link.connect()  # again: nothing doubled
    hooks = sorted((app, h["event"]) for app in gw.webhooks for h in gw.webhooks[app].values())
    assert hooks == sorted([("calls", "call:ended"), ("calls", "call:ringing"),
                            ("calls", "call:started"), ("sms", "sms:delivered"),
                            ("sms", "sms:failed"), ("sms", "sms:received"), ("sms", "sms:sent"),
                            ("sms", "mms:received"), ("sms", "mms:downloaded")])


def test_texts_in_by_webhook_and_inbox_count_once(gw, link):
    before = gw.receive_sms(N, "can you come today?")
    gw.lose_webhooks = True
    after = gw.receive_sms(B, "STOP")
    out = pump(link, gw)
    link._next_inbox = 0.0  # the minute-long poll is due now
    out += link.events(link.clock.now())
    # The webhook names the first by the hex of its inbox hash, the inbox poll the second by
    # "text:<hash>": one text each, whichever way it came.
    from gateway.phone.api import text_key

    assert sorted((e.number, e.text, text_key(e.handle[0])) for e in out
                  if isinstance(e, ev.SmsReceived)) == [
        (N, "can you come today?", before), (B, "STOP", after)]


# -- USB: adb forward / reverse -------------------------------------------------------------------
def test_replug_redoes_adb_forward_and_reverse(gw, tmp_path, monkeypatch, settings, fake_adb):
    record = fake_adb()
    port = free_port()
    phone = PhoneLink(settings(adb=True, listen_port=port), WallClock())
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
            f"reverse tcp:{port} tcp:{port}", "shell content query --uri content://call_log/calls "
            "--projection number:type:date:duration --where 'type IN (2,3,5)'"]
    assert record.read_text().splitlines() == once + once


@pytest.mark.parametrize("fails, message", [
    ("error: device unauthorized.", "the phone has not authorised this computer for USB debugging"),
    ("error: no devices/emulators found", "no phone is connected over USB"),
])
def test_adb_problems_in_plain_words(gw, tmp_path, monkeypatch, fails, message, settings, fake_adb):
    fake_adb(fails=fails)
    with pytest.raises(ModemGone) as raised:
        PhoneLink(settings(adb=True), WallClock()).connect()
    assert raised.value.message == message


def test_no_adb_installed(gw, tmp_path, monkeypatch, settings):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ModemGone) as raised:
        PhoneLink(settings(adb=True), WallClock()).connect()
    assert (raised.value.message, raised.value.hint) == ("adb is not installed", "sudo apt install adb")


# -- the real daemon on the phone link ------------------------------------------------------------
def daemon_on(tmp_path, settings):
    write_starter(tmp_path)
    cfg = config_mod.load(tmp_path / "textback.toml")
    store = Store(tmp_path / "t.db")
    clock = WallClock()
    records = []
    daemon = build(cfg, store, clock, PhoneLink(settings(), clock), sink=records.append, notices=False)
    return daemon, store, records


def run_until_texted(daemon, records, to=N, seconds=8.0):
    def check():
        if any(r["event"] == "sms" and r.get("status") == "sent" and r["to"] == to
               for r in records):
            daemon.stop("texted")
            daemon.clock.interrupt()  # as the signal handler does: end the wait now
    daemon.on_pass = check
    daemon.run(until=daemon.clock.now() + seconds)


def test_daemon_texts_a_missed_caller_not_an_answered_one(tmp_path, gw, settings):
    daemon, store, records = daemon_on(tmp_path, settings)
    daemon.on_ready = lambda info: (gw.play("answered", B), gw.play("missed", N))
    try:
        run_until_texted(daemon, records)
        calls = sorted((c["number"], c["outcome"]) for c in reports.calls(store))
    finally:
        daemon.link.close()
        store.close()
    assert daemon.stop_reason == "texted"
    assert calls == [(N, "missed"), (B, "answered")]
    assert [m["recipients"][0]["phoneNumber"] for m in gw.messages.values()
            if m["recipients"][0]["phoneNumber"] != "+15125550199"] == [N]


def test_daemon_phone_offline_then_back_the_text_goes_once(tmp_path, gw, settings):
    daemon, store, records = daemon_on(tmp_path, settings)

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


# -- calls missed while the daemon was down, from the phone's call log (USB) -----------------------
A, C, D, E = "+15125550143", "+15125550144", "+15125550145", "+15125550146"


def call_log(*rows) -> str:
    """`content query` output for (number, CallLog type, epoch seconds) rows, newest first."""
    rows = sorted(rows, key=lambda r: -r[2])
    return "".join(f"Row: {i} number={n}, type={t}, date={int(at * 1000)}, duration=0\n"
                   for i, (n, t, at) in enumerate(rows)) or "No result found.\n"


def start_once(tmp_path, settings) -> list:
    """One start of the daemon over USB: connect, act on what the phone shows, stop. Its records."""
    cfg = config_mod.load(tmp_path / "textback.toml")
    store = Store(tmp_path / "t.db")
    clock = WallClock()
    records = []
    daemon = build(cfg, store, clock, PhoneLink(settings(adb=True), clock),
                    sink=records.append, notices=False)

    def after_first_pass():
        # Connected, and the queue empty: texts go one a second at most (gateway.app.pacing).
        if daemon.connected and store.next_due_at() is None:
            daemon.stop("done")
            clock.interrupt()
    daemon.on_pass = after_first_pass
    try:
        daemon.run(until=clock.now() + 8)
    finally:
        daemon.link.close()
        store.close()
    assert daemon.stop_reason == "done"
    return records


def texted(gw) -> list:
    return [m["recipients"][0]["phoneNumber"] for m in gw.messages.values()
            if m["recipients"][0]["phoneNumber"] != "+15125550199"]


def test_restarts_text_back_what_the_call_log_shows_missed_while_down(tmp_path, gw, monkeypatch, fake_adb, settings):
    fake_adb()
    write_starter(tmp_path)
    now = time.time()
    old = [(E, 3, now - 7200), (C, 3, now - 60)]
    (tmp_path / "calllog.txt").write_text(call_log(*old))
    first = start_once(tmp_path, settings)          # (a) a new box: the log is the starting point
    store = Store(tmp_path / "t.db")
    seen = float(store.get_state("call_log_seen"))
    down = max(seen, float(store.get_state("heartbeat")))  # the last moment we were live
    store.close()
    assert (texted(gw), [r for r in first if r["event"] == "call"], seen >= now) == ([], [], True)

    # Down: two callers missed, one answered on the phone; the old entries are still there.
    new = [(N, 3, down + 0.01), (D, 1, down + 0.02), (A, 3, down + 0.03)]
    (tmp_path / "calllog.txt").write_text(call_log(*old, *new))
    second = start_once(tmp_path, settings)         # (b) the restart texts those two, once
    third = start_once(tmp_path, settings)          # (c) and the next one nothing more
    store = Store(tmp_path / "t.db")
    calls = [(c["number"], c["outcome"], c["action"], c["recovered"]) for c in reports.calls(store)]
    store.close()
    assert sorted(texted(gw)) == sorted([N, A])
    assert [(r["number"], r["outcome"], r.get("recovered")) for r in second
            if r["event"] == "call"] == [(N, "missed", True), (A, "missed", True)]
    assert [r for r in third if r["event"] in ("call", "queued")] == []
    assert sorted(calls) == sorted([(N, "missed", "sent", True), (A, "missed", "sent", True)])


@pytest.mark.parametrize("shell_exit, said", [
    (0, ""),                                  # adbd before shell protocol v2 always exits 0
    (1, "adb shell failed: "),
])
def test_a_call_log_the_phone_refuses_is_one_warning(
    tmp_path, gw, monkeypatch, caplog, shell_exit, said, settings, fake_adb
):
    fake_adb(shell_exit=shell_exit)
    (tmp_path / "calllog.txt").write_text(
        "Error while accessing provider:call_log\njava.lang.SecurityException: Permission "
        "Denial: opening provider com.android.providers.contacts.CallLogProvider from (null) "
        "(pid=8112, uid=2000) requires android.permission.READ_CALL_LOG or "
        "android.permission.WRITE_CALL_LOG\n")
    phone = PhoneLink(settings(adb=True), WallClock())
    try:
        for _ in range(2):                    # connect, and reconnect after a replug
            info = phone.connect()
            got = phone.events(phone.clock.now())
    finally:
        phone.close()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert (info.family, got) == ("android", [])
    assert warnings == [f"cannot read the phone's call log ({said}Error while accessing provider:"
                        "call_log): calls missed while textback was down will not be texted back"]



# -- a crash while a call waits to be decided: the call journal ------------------------------------
def test_a_crash_before_a_call_is_decided_loses_nothing_the_journal_plays_it_back(tmp_path, gw, settings):
    # The receiver answered 2xx to call:ringing and call:ended (CallGate will never send them
    # again), then the process died within the settle wait, before the call was decided. The next
    # start plays the journal back: the caller is texted once; a third start adds nothing.
    write_starter(tmp_path)
    cfg = config_mod.load(tmp_path / "textback.toml")
    journal, port, clock = tmp_path / "t.db-calls", free_port(), WallClock()
    first = PhoneLink(settings(listen_port=port, settle=60.0), clock, journal=journal)
    first.connect()
    gw.play("missed", N)
    limit = time.monotonic() + 5
    while not (gw.idle() and "call:ended" in journal.read_text()) and time.monotonic() < limit:
        first.events(clock.now())
        first.wait(clock.now() + 0.05)
    first.close()  # killed: nothing decided, nothing recorded
    assert sorted(json.loads(line)["event"] for line in journal.read_text().splitlines()) == \
        ["call:ended", "call:ended", "call:ringing", "call:ringing"]  # each state twice
    assert stat.S_IMODE(os.stat(journal).st_mode) == 0o600

    store = Store(tmp_path / "t.db")
    try:
        for _ in range(2):
            records = []
            daemon = build(cfg, store, clock, PhoneLink(settings(listen_port=port), clock,
                                                         journal=journal), sink=records.append, notices=False)
            run_until_texted(daemon, records, seconds=2.0)
            daemon.link.close()
        calls = [(c["number"], c["outcome"], c["action"]) for c in reports.calls(store)]
    finally:
        store.close()
    assert calls == [(N, "missed", "sent")]
    assert [m["recipients"][0]["phoneNumber"] for m in gw.messages.values()].count(N) == 1


def test_the_call_journal_skips_a_torn_line_and_forgets_what_is_old(tmp_path):
    from gateway.phone.journal import JOURNAL_KEEP, CallJournal

    path, now = tmp_path / "calls", 1_800_000_000.0
    journal = CallJournal(path)
    for event, at in (("call:ringing", now - JOURNAL_KEEP - 1), ("call:ringing", now - 10),
                      ("call:ended", now - 5)):
        journal.add({"id": event + str(at), "event": event, "number": N, "at": at})
    with open(path, "a") as torn:  # the power went mid-write
        torn.write('{"id": "x", "event": "call:ri')
    assert [(e["event"], e["at"]) for e in journal.load(now)] == \
        [("call:ringing", now - 10), ("call:ended", now - 5)]
    journal.rewrite(journal.load(now))
    assert len(path.read_text().splitlines()) == 2
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_call_whose_ringing_came_only_without_its_number_is_named_by_its_end():
    # Android's numbered copy of the ringing lost (CallGate's one attempt fell on a restart): the
    # end still names the caller, who is texted, not recorded as a withheld call.
    book = CallBook(settle=0.6)
    for event, number, at in [("call:ringing", None, 0.0), ("call:ended", N, 3.0),
                              ("call:ended", None, 3.01)]:
        book.feed(event, number, 100 + at)
    assert ended(book.tick(110.0)) == [("missed", N, False, MISS)]


@pytest.mark.parametrize("fed, expected", [
    # Its ringing went to a daemon that was down (CallGate retries once): an incoming call, not
    # an outgoing one (those go off hook); missed or answered cannot be told.
    ([("call:ended", N)], [("unknown", N, False, ENDED_ONLY)]),
    ([("call:ended", None), ("call:ended", N)], [("unknown", N, False, ENDED_ONLY)]),
    ([("call:ended", None)], []),                             # nothing to text
    ([("call:started", N), ("call:ended", N)], []),           # outgoing
])
def test_a_call_ended_without_its_ringing(fed, expected):
    book = CallBook(settle=2.0)
    for i, (event, number) in enumerate(fed):
        assert book.feed(event, number, 100.0 + i * 0.1) == []
    assert ended(book.tick(110.0)) == expected


@pytest.mark.parametrize("log_rows, expected_b", [
    # B rang while N was on and was not picked up: the phone's log says missed (or declined).
    (lambda now: [(B, 3, now)], ("missed", B, False, WAITING_MISSED)),
    (lambda now: [("(512) 555-0177", 5, now)], ("rejected", B, False, WAITING_MISSED)),
    # Not in the log as missed (picked up, or an hour ago): it stays as CallGate says.
    (lambda now: [(B, 3, now - 3600), (N, 3, now)], ("answered", B, False, WAITING)),
])
def test_over_usb_the_call_log_tells_a_missed_waiting_call(
    gw, tmp_path, monkeypatch, log_rows, expected_b, settings, fake_adb
):
    fake_adb()
    (tmp_path / "calllog.txt").write_text(call_log(*log_rows(time.time())))
    phone = PhoneLink(settings(adb=True), WallClock())
    phone.connect()
    try:
        gw.play("waiting", N, B)
        assert ended(pump(phone, gw, then=100)) == [("answered", N, False, "call:started"),
                                                     expected_b]
    finally:
        phone.close()


@pytest.mark.parametrize("fed, expected", [
    # Calls close together whose ringing was lost for one of them (CallGate's one retry fell on a
    # restart): each call is decided on its own, none swallowed by its neighbour.
    ([("call:ended", A, 0.0), ("call:ended", B, 1.2), ("call:ringing", B, 1.7)],
     [("unknown", A, False, ENDED_ONLY), ("missed", B, False, MISS)]),
    ([("call:ringing", A, 0.0), ("call:ended", B, 1.2)],
     [("unknown", B, False, ENDED_ONLY), ("unknown", A, False, "no call:ended within 90 s (lost event?)")]),
    ([("call:ringing", A, 0.0), ("call:ended", A, 0.5), ("call:ringing", B, 1.0),
      ("call:ended", None, 1.5), ("call:ended", B, 1.5)],
     [("missed", A, False, MISS), ("missed", B, False, MISS)]),
])
def test_calls_close_together_with_lost_events_stay_apart(fed, expected):
    book = CallBook(settle=2.0)
    for event, number, at in fed:
        book.feed(event, number, 100.0 + at)
    assert sorted(ended(book.tick(300.0))) == sorted(expected)


def test_the_copy_without_a_number_does_not_say_withheld():
    book = CallBook()
    rang = book.feed("call:ringing", None, 100.0) + book.feed("call:ringing", N, 100.01)
    other = CallBook()                                  # a withheld caller: its numbered copy is ""
    withheld = other.feed("call:ringing", None, 100.0) + other.feed("call:ringing", "", 100.01)
    assert [(e.number, e.withheld) for e in rang + withheld] == [(N, False), (None, True)]


@pytest.mark.parametrize("rang_for, rings", [(0.5, 1), (5.9, 1), (6.0, 2), (14.0, 3)])
def test_a_phone_call_counts_one_ring_per_six_seconds_of_ringing(rang_for, rings):
    # Android tells no ring count; policy.min_rings counts the North American cadence.
    book = CallBook(settle=0.6)
    for event, number, at in [("call:ringing", N, 0.0), ("call:ringing", None, 0.01),
                              ("call:ended", N, rang_for), ("call:ended", None, rang_for + 0.01)]:
        book.feed(event, number, 100 + at)
    assert [call.rings for call in book.tick(200.0)] == [rings]
