"""The fake phone, rule by rule, against what SMSGate (0cdc5d8) and CallGate (eba10c9) do.

Each test names the rule of docs/reference/phone-apps.md it pins (and gateway/simulator/phoneapps.py cites
the apps' source line for it). A fake kinder than the apps proves nothing: most of these are
refusals, with the apps' own status and message.
"""
import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from zoneinfo import ZoneInfo

import pytest

from gateway.simulator import phoneapps as rules
from gateway.simulator.phone import FakeGateway

KEY = "s1gnKey8"
N = "+15125550142"
LATER = "2030-01-01T00:00:00Z"   # the tests' texts are stamped in 2027; "to" defaults to now


@pytest.fixture
def gw():
    with FakeGateway(retry_scale=0.002, sms_retries=3, signing_key=KEY) as fake:
        yield fake


def call(gw, app, method, path, body=None, password=None, raw=None, kind="application/json"):
    base, (user, right) = (gw.url_sms if app == "sms" else gw.url_calls), gw.passwords[app]
    data = raw if raw is not None else None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, method=method, data=data)
    if data is not None:
        request.add_header("Content-Type", kind)
    if password != "":
        token = base64.b64encode(f"{user}:{password or right}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=20) as answer:
            status, got, headers = answer.status, answer.read(), answer.headers
    except urllib.error.HTTPError as exc:
        status, got, headers = exc.code, exc.read(), exc.headers
    try:
        return status, json.loads(got) if got else None, headers
    except ValueError:
        return status, got, headers


# -- auth and routes ------------------------------------------------------------------------------
@pytest.mark.parametrize("app, method, path, password, status", [
    ("sms", "GET", "/health", "", 200),                 # /health needs no password
    ("sms", "GET", "/", "", 401),
    ("sms", "GET", "/", "wrong", 401),
    ("sms", "GET", "/", None, 200),
    ("sms", "GET", "/messages/nope", None, 404),
    ("sms", "GET", "/nowhere", None, 404),
    ("calls", "GET", "/api/v1/webhooks", "", 401),
    ("calls", "GET", "/api/v1/webhooks", None, 200),
    ("calls", "GET", "/webhooks", None, 404),           # CallGate's routes are under /api/v1
])
def test_basic_auth_and_routes(gw, app, method, path, password, status):
    assert call(gw, app, method, path, password=password)[0] == status


def test_a_refused_password_is_a_bare_401_with_the_apps_realm(gw):
    for app, realm in (("sms", "Access to SMS Gateway"), ("calls", "Access to CallGate")):
        status, body, headers = call(gw, app, "GET", "/" if app == "sms" else "/api/v1/webhooks",
                                     password="nope")
        assert (status, body, headers["WWW-Authenticate"]) == (
            401, None, f'Basic realm="{realm}", charset=UTF-8')


def test_root_says_ok_and_the_model(gw):
    assert call(gw, "sms", "GET", "/")[:2] == (200, {"status": "ok", "model": "Pixel 7a"})


# -- POST /message ----------------------------------------------------------------------------------
TEXT = {"textMessage": {"text": "hi"}, "phoneNumbers": [N]}
CONVERT = f"Failed to convert request body to {rules.POST_CLASS}"


@pytest.mark.parametrize("body, query, status, message", [
    ({"phoneNumbers": [N]}, "", 400,
     "Must specify exactly one of: textMessage, dataMessage, or message"),
    ({**TEXT, "message": "also"}, "", 400, "Cannot specify multiple message types simultaneously"),
    ({**TEXT, "phoneNumbers": []}, "", 400, "Empty phone numbers list"),
    ({"textMessage": {"text": "hi"}}, "", 500,
     "Attempt to invoke interface method 'boolean java.util.List.isEmpty()' on a null object "
     "reference"),
    ({**TEXT, "textMessage": {"text": ""}}, "", 400, "Text message is empty"),
    ({"message": "", "phoneNumbers": [N]}, "", 400, "Text message is empty"),
    ({**TEXT, "simNumber": 0}, "", 400, "SIM number cannot be less than 1"),
    ({**TEXT, "ttl": 60, "validUntil": "2099-01-01T00:00:00.000Z"}, "", 400,
     "fields conflict: ttl and validUntil"),
    ({**TEXT, "validUntil": "2001-01-01T00:00:00.000Z"}, "", 400, "message already expired"),
    ({**TEXT, "scheduleAt": "2001-01-01T00:00:00.000Z"}, "", 400, "scheduleAt must be in the future"),
    ({**TEXT, "deviceId": "another"}, "", 400, "Invalid device ID"),
    (TEXT, "?skipPhoneValidation=yes", 400, "The string doesn't represent a boolean value: yes"),
    ({"dataMessage": {"data": "aGk=", "port": 70000}, "phoneNumbers": [N]}, "", 400,
     "Port must be between 0 and 65535"),
    ({**TEXT, "phoneNumbers": N}, "", 400, CONVERT),            # not a list
    ({**TEXT, "validUntil": "2099-01-01 00:00"}, "", 400, CONVERT),  # not Gson's date format
])
def test_post_message_refusals(gw, body, query, status, message):
    assert call(gw, "sms", "POST", "/message" + query, body)[:2] == (status, {"message": message})
    assert gw.posts == 0


def test_post_message_refuses_a_body_that_is_not_json(gw):
    assert call(gw, "sms", "POST", "/message", raw=b"{nope")[:2] == (400, {"message": CONVERT})
    assert call(gw, "sms", "POST", "/message", raw=b"{}", kind="text/plain")[0] == 415


def test_post_message_answers_202_with_the_message_as_stored_and_409_for_a_known_id(gw):
    gw.auto_send = False
    status, body, headers = call(gw, "sms", "POST", "/messages", {**TEXT, "id": "m1"})
    assert (status, headers["Content-Type"]) == (202, "application/json; charset=UTF-8")
    assert body == {"id": "m1", "deviceId": gw.device_id, "state": "Pending", "isHashed": False,
                    "isEncrypted": False, "textMessage": {"text": "hi"},
                    "recipients": [{"phoneNumber": N, "state": "Pending"}], "states": {}}
    # The id is the phone's primary key: whatever the text, a known id is a 409.
    assert call(gw, "sms", "POST", "/message", {**TEXT, "id": "m1", "textMessage": {"text": "x"}})[:2] \
        == (409, {"message": "Message with the same ID already exists"})
    gw.advance("m1", "Failed", "Send result: RESULT_ERROR_NO_SERVICE")
    status, body, _ = call(gw, "sms", "GET", "/messages/m1")
    assert (body["state"], body["recipients"], sorted(body["states"])) == (
        "Failed", [{"phoneNumber": N, "state": "Failed",
                    "error": "Send result: RESULT_ERROR_NO_SERVICE"}], ["Failed", "Pending"])
    status, listed, headers = call(gw, "sms", "GET", "/messages?state=Failed")
    assert ([m["id"] for m in listed], headers["X-Total-Count"], "textMessage" in listed[0]) == (
        ["m1"], "1", False)                              # the list leaves the content out
    assert call(gw, "sms", "GET", "/messages?state=Lost")[:2] == (
        400, {"message": "No enum constant me.capcom.smsgateway.domain.ProcessingState.Lost"})


@pytest.mark.parametrize("number, skip, state, error", [
    (N, "", "Delivered", None),
    ("(512) 555-0142", "", "Delivered", None),               # national, in the SIM's country
    ("5550142", "", "Failed", "sendSMS: Invalid phone number"),
    ("+18005550142", "", "Failed", "sendSMS: Invalid phone number type"),   # toll-free
    ("not a number", "", "Failed",
     "sendSMS: The string supplied did not seem to be a phone number."),
    ("+18005550142", "?skipPhoneValidation=true", "Delivered", None),
])
def test_a_bad_number_is_taken_then_failed_as_the_phone_would(gw, number, skip, state, error):
    status, body, _ = call(gw, "sms", "POST", "/message" + skip,
                           {"id": "m", "textMessage": {"text": "hi"}, "phoneNumbers": [number]})
    assert (status, body["state"]) == (202, "Pending")
    assert gw.wait_until(lambda: gw.messages["m"]["recipients"][0]["state"] in ("Delivered",
                                                                               "Failed"))
    recipient = call(gw, "sms", "GET", "/messages/m")[1]["recipients"][0]
    assert (recipient["state"], recipient.get("error")) == (state, error)


def test_cancel_only_while_pending(gw):
    gw.auto_send = False
    call(gw, "sms", "POST", "/message", {**TEXT, "id": "c1"})
    assert call(gw, "sms", "DELETE", "/messages/c1")[1]["state"] == "Cancelled"
    call(gw, "sms", "POST", "/message", {**TEXT, "id": "c2"})
    gw.advance("c2", "Sent")
    assert call(gw, "sms", "DELETE", "/messages/c2")[:2] == (
        400, {"message": "Message c2 is not in Pending state"})
    assert call(gw, "sms", "DELETE", "/messages/none")[:2] == (404, None)


# -- dates ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, epoch", [
    ("2027-01-15T08:00:00Z", 1800000000.0),
    ("2027-01-15T08:00:00.250Z", 1800000000.25),
    ("2027-01-15T02:00:00.000-06:00", 1800000000.0),
    ("2027-01-15T08:00:00.000+00:00", 1800000000.0),
    ("2027-01-15T08:00:00.186508+00:00", None),          # microseconds (Python's isoformat)
    ("2027-01-15T08:00:00+0000", None),                  # no colon in the offset
    ("2027-01-15T08:00:00", None),                       # no offset at all
    ("2027-01-15 08:00:00Z", None),
    ("2027-01-15T08:00:00.5Z", None),                    # the fraction is exactly 3 digits
    ("2027-02-30T00:00:00Z", 1803772800.0),              # java.time's SMART resolver: Feb 28
    ("2027-13-01T00:00:00Z", None),
])
def test_dates_only_in_the_apps_format(text, epoch):
    assert rules.parse_date(text) == epoch


def test_dates_are_written_in_the_phones_own_zone():
    assert rules.format_date(1800000000.5, ZoneInfo("America/Chicago")) == \
        "2027-01-15T02:00:00.500-06:00"
    assert rules.format_date(1800000000, ZoneInfo("UTC")) == "2027-01-15T08:00:00.000Z"


# -- GET /inbox -------------------------------------------------------------------------------------
@pytest.mark.parametrize("query, message", [
    ("?from=2027-01-15T08:00:00.186508%2B00:00", "Invalid from datetime"),
    ("?to=yesterday", "Invalid to datetime"),
    ("?type=CALL", "Invalid type"),
    ("?limit=0", "limit must be between 1 and 500"),
    ("?limit=501", "limit must be between 1 and 500"),
    ("?offset=-1", "offset must be >= 0"),
    ("?includeAttachments=1", "includeAttachments must be true or false"),
    ("?deviceId=x", "Invalid device ID"),
    ("?from=2027-01-15T08:00:00Z&to=2027-01-15T07:00:00Z", "Start date cannot be after end date"),
])
def test_inbox_refusals(gw, query, message):
    assert call(gw, "sms", "GET", "/inbox" + query)[:2] == (400, {"message": message})


def test_inbox_names_a_text_by_its_hash_and_the_webhook_by_the_same_hash_in_hex(gw):
    first = gw.receive_sms(N, "one", at=1_800_000_000.0)
    second = gw.receive_sms("+15125550177", "two", at=1_800_000_060.0)
    h = rules.text_hash(N, 1_800_000_000_000, 1, "one")
    assert (first, rules.webhook_message_id(h)) == (f"text:{h}", format(h & 0xFFFFFFFF, "x"))
    items = call(gw, "sms", "GET", f"/inbox?type=SMS&limit=50&to={LATER}")[1]
    assert [(i["id"], i["contentPreview"], i["createdAt"]) for i in items] == [
        (second, "two", "2027-01-15T02:01:00.000-06:00"),
        (first, "one", "2027-01-15T02:00:00.000-06:00")]
    # from and to both count in (BETWEEN); the same text again is the same entry (the app's dedup)
    since = call(gw, "sms", "GET", f"/inbox?from=2027-01-15T08:01:00Z&to={LATER}")[1]
    assert [i["id"] for i in since] == [second]
    assert gw.receive_sms(N, "one", at=1_800_000_000.0) == first and len(gw.inbox) == 2


# -- webhooks: registration -------------------------------------------------------------------------
@pytest.mark.parametrize("app, path, body, status, answer", [
    ("sms", "/webhooks", {"id": "h", "url": "http://192.168.1.10/x", "event": "sms:received"}, 400,
     {"message": "url must start with https:// or http://127.0.0.1"}),
    ("sms", "/webhooks", {"id": "h", "url": "http://127.0.0.1.example.com/x",
                          "event": "sms:received"}, 400,
     {"message": "url must start with https:// or http://127.0.0.1"}),
    ("sms", "/webhooks", {"id": "h", "url": "http://localhost:9/x", "event": "sms:received"}, 400,
     {"message": "url must start with https:// or http://127.0.0.1"}),
    ("sms", "/webhooks", {"id": "h", "event": "sms:received"}, 400,
     {"message": "url must start with https:// or http://127.0.0.1"}),
    ("sms", "/webhooks", {"id": "h", "url": "http://127.0.0.1:9/x", "event": "call:ringing"}, 400,
     {"message": "Unsupported event"}),
    ("sms", "/webhooks", {"id": "h", "url": "http://127.0.0.1:9/x", "event": "sms:received",
                          "deviceId": "other"}, 400, {"message": "Device ID mismatch"}),
    ("sms", "/webhooks", {"id": "h", "url": "http://127.0.0.1:9/x", "event": "mms:downloaded"},
     201, {"id": "h", "url": "http://127.0.0.1:9/x", "event": "mms:downloaded", "source": "Local"}),
    ("sms", "/webhook", {"id": "h", "url": "HTTPS://pi.example/x", "event": "sms:sent"},
     201, {"id": "h", "url": "HTTPS://pi.example/x", "event": "sms:sent", "source": "Local"}),
    ("calls", "/api/v1/webhooks", {"id": "h", "url": "https://pi.example/x", "event": "call:ended"},
     201, {"id": "h", "url": "https://pi.example/x", "event": "call:ended"}),
    ("calls", "/api/v1/webhooks", {"id": "h", "url": "http://127.0.0.1:9/x", "event": "sms:received"},
     400, {"message": "Unsupported event"}),
])
def test_webhook_registration(gw, app, path, body, status, answer):
    assert call(gw, app, "POST", path, body)[:2] == (status, answer)
    listed = call(gw, app, "GET", path)[1]
    assert listed == ([answer] if status == 201 else [])
    assert call(gw, app, "DELETE", f"{path}/h")[0] == 204
    assert call(gw, app, "DELETE", f"{path}/h")[0] == 204     # gone or not: 204


def test_the_insecure_build_takes_a_lan_url_callgate_has_none(gw):
    gw.insecure = True
    lan = {"id": "h", "url": "http://192.168.1.10/x", "event": "sms:received"}
    assert call(gw, "sms", "POST", "/webhooks", lan)[0] == 201
    assert call(gw, "calls", "POST", "/api/v1/webhooks", {**lan, "event": "call:ended"})[0] == 400


def test_registration_is_an_upsert_by_id_and_a_new_id_without_one(gw):
    first = call(gw, "sms", "POST", "/webhooks", {"url": "https://a.example/", "event": "sms:sent"})[1]
    assert len(first["id"]) == 21                                      # a NanoID
    call(gw, "sms", "POST", "/webhooks", {"id": first["id"], "url": "https://b.example/",
                                          "event": "sms:failed"})
    assert call(gw, "sms", "GET", "/webhooks")[1] == [
        {"id": first["id"], "url": "https://b.example/", "event": "sms:failed", "source": "Local"}]


def test_hang_up_and_dial(gw):
    assert call(gw, "calls", "DELETE", "/api/v1/calls")[:2] == (
        404, {"message": "No ringing or active call"})
    assert call(gw, "calls", "POST", "/api/v1/calls", {"call": {"phoneNumber": N}})[:2] == (
        200, {"call": {"phoneNumber": N}})


# -- /health ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("change, status, failing", [
    ({}, 200, []),
    ({"battery": 20}, 200, []),                          # under 25 %: warn, still 200
    ({"battery": 9}, 500, ["battery:level"]),            # under 10 %: fail, 500
    ({"internet": False}, 500, ["connection:status"]),
    ({"internet": False, "transport": False}, 500, ["connection:status", "connection:transport"]),
])
def test_health_is_500_when_any_check_fails(gw, change, status, failing):
    for name, value in change.items():
        setattr(gw, name, value)
    got, body, _ = call(gw, "sms", "GET", "/health", password="")
    assert (got, sorted(k for k, c in body["checks"].items() if c["status"] == "fail")) == (
        status, failing)
    assert body["status"] == ("fail" if failing else "warn" if change else "pass")
    assert set(body["checks"]) == {"messages:failed", "connection:status", "connection:transport",
                                   "connection:cellular", "battery:level", "battery:charging"}


def test_health_fails_when_every_text_of_the_last_hour_failed(gw):
    gw.outcomes[N] = ("Failed", "Send result: RESULT_ERROR_RADIO_OFF")
    call(gw, "sms", "POST", "/message", {**TEXT, "id": "f"})
    assert gw.wait_until(lambda: gw.messages["f"]["recipients"][0]["state"] == "Failed")
    status, body, _ = call(gw, "sms", "GET", "/health")
    assert (status, body["checks"]["messages:failed"]["status"],
            body["checks"]["messages:failed"]["observedValue"]) == (500, "fail", 1)


# -- webhook delivery -------------------------------------------------------------------------------
class Recorder:
    """Somebody else's webhook receiver: answers each post with the next status in `answers`."""

    def __init__(self, answers=()):
        self.answers, self.got = list(answers), []
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                with recorder.lock:
                    recorder.got.append((dict(self.headers), body))
                    status = recorder.answers.pop(0) if recorder.answers else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder():
    rec = Recorder()
    yield rec
    rec.close()


def hook(gw, app, url, *events):
    path = "/webhooks" if app == "sms" else "/api/v1/webhooks"
    for event in events:
        assert call(gw, app, "POST", path, {"url": url, "event": event})[0] == 201


@pytest.mark.parametrize("answers, attempts", [([], 1), ([500, 503], 3), ([500] * 9, 4)])
def test_sms_webhooks_are_signed_and_retried_15_times_by_default(gw, answers, attempts):
    recorder = Recorder(answers)
    try:
        hook(gw, "sms", recorder.url, "sms:received")
        gw.receive_sms(N, "is Monday ok? a=b <c>", at=1_800_000_000.0)
        assert gw.wait_until(gw.idle)
    finally:
        recorder.close()
    assert len(recorder.got) == attempts    # 1 try + up to sms_retries (3 here, 15 on a phone)
    headers, body = recorder.got[-1]
    expected = hmac.new(KEY.encode(), body + headers["X-Timestamp"].encode(),
                        hashlib.sha256).hexdigest()
    envelope = json.loads(body)
    h = rules.text_hash(N, 1_800_000_000_000, 1, "is Monday ok? a=b <c>")
    assert (headers["X-Signature"], headers["User-Agent"]) == (expected, "me.capcom.smsgateway/1.68.0")
    assert abs(int(headers["X-Timestamp"]) - time.time()) < 60      # Unix seconds
    assert b"\\u003d" in body and b"\\u003c" in body               # Gson escapes = < > & '
    assert envelope == {"id": envelope["id"], "webhookId": envelope["webhookId"],
                        "event": "sms:received", "deviceId": gw.device_id, "payload": {
                            "message": "is Monday ok? a=b <c>",
                            "receivedAt": "2027-01-15T02:00:00.000-06:00",
                            "messageId": format(h & 0xFFFFFFFF, "x"), "sender": N,
                            "recipient": gw.device_number, "simNumber": 1, "phoneNumber": N}}
    assert b" " not in body.replace(b"is Monday ok? a\\u003db \\u003cc\\u003e", b"")  # compact
    assert FakeGateway().sms_retries == 15


def test_sms_state_webhooks_per_recipient(gw, recorder):
    hook(gw, "sms", recorder.url, "sms:sent", "sms:delivered", "sms:failed")
    call(gw, "sms", "POST", "/message", {"id": "s", "textMessage": {"text": "hi"},
                                         "phoneNumbers": [N, "5550142"]})
    assert gw.wait_until(lambda: gw.idle() and len(recorder.got) == 3)
    got = sorted((e["event"], e["payload"]["recipient"], e["payload"].get("reason"))
                 for e in (json.loads(b) for _, b in recorder.got))
    assert got == [("sms:delivered", N, None),
                   ("sms:failed", "5550142", "sendSMS: Invalid phone number"),
                   ("sms:sent", N, None)]


def test_webhooks_wait_while_the_phone_has_no_internet(gw, recorder):
    hook(gw, "sms", recorder.url, "sms:received")
    gw.internet = False                   # "Require Internet connection" is on by default
    gw.receive_sms(N, "hello")
    time.sleep(0.3)  # a negative check: nothing may arrive while it is off
    assert recorder.got == []
    gw.internet = True
    assert gw.wait_until(gw.idle) and len(recorder.got) == 1
    gw.internet, gw.internet_required["sms"] = False, False      # the switch turned off
    gw.receive_sms(N, "again")
    assert gw.wait_until(gw.idle) and len(recorder.got) == 2


def test_callgate_posts_every_state_twice_numbers_as_the_phone_saw_them(gw, recorder):
    hook(gw, "calls", recorder.url, "call:ringing", "call:started", "call:ended")
    gw.play("missed", N)
    gw.play("unknown")
    assert gw.wait_until(lambda: gw.idle() and len(recorder.got) == 8)
    posted = sorted((json.loads(b)["event"], json.dumps(json.loads(b)["payload"]))
                    for _, b in recorder.got)
    assert posted == sorted([("call:ringing", '{"phoneNumber": "5125550142"}'),
                             ("call:ringing", "{}"), ("call:ended", '{"phoneNumber": "5125550142"}'),
                             ("call:ended", "{}"), ("call:ringing", '{"phoneNumber": ""}'),
                             ("call:ringing", "{}"), ("call:ended", '{"phoneNumber": ""}'),
                             ("call:ended", "{}")])
    assert {h["User-Agent"] for h, _ in recorder.got} == {"app.callgate.android/0.2.1"}


def test_callgate_makes_one_attempt_by_default(gw):
    recorder = Recorder([500] * 10)
    try:
        hook(gw, "calls", recorder.url, "call:ended")
        gw.call_event("call:ended", N, doubled=False)
        assert gw.wait_until(gw.idle)
        gw.call_retries = 3                  # the Webhooks settings screen opened: 15 on a phone
        gw.call_event("call:ended", N, doubled=False)
        assert gw.wait_until(gw.idle)
    finally:
        recorder.close()
    assert [outcome for _, outcome in gw.log] == ["500", "500", "500", "500"]


def test_callgate_posts_the_copies_at_once_not_one_after_the_other(gw):
    # Each copy is its own job: a receiver that is slow to answer one does not hold up the next.
    arrived, release = [], threading.Event()

    class Slow(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            arrived.append(time.monotonic())
            release.wait(5)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        hook(gw, "calls", f"http://127.0.0.1:{server.server_address[1]}/", "call:ringing")
        gw.call_event("call:ringing", N)
        assert gw.wait_until(lambda: len(arrived) == 2)   # both in flight together
        release.set()
        assert gw.wait_until(gw.idle)
    finally:
        release.set()
        server.shutdown()
        server.server_close()


# -- pictures (MMS) ---------------------------------------------------------------------------------
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 60


def test_a_picture_message_is_announced_then_downloaded_with_its_parts_in_base64(gw, recorder):
    hook(gw, "sms", recorder.url, "mms:received", "mms:downloaded")
    item = gw.receive_mms(N, [{"contentType": "application/smil", "data": b"<smil/>"},
                              {"contentType": "text/plain", "text": "the pipe"},
                              {"contentType": "image/jpeg", "data": JPEG, "name": "IMG_1.jpg"},
                              {"contentType": "image/png", "data": None}],
                          at=1_800_000_000.7)
    assert gw.wait_until(lambda: gw.idle() and len(recorder.got) == 2)
    received, downloaded = (json.loads(b)["payload"] for _, b in recorder.got)
    assert (received["size"], received["sender"]) == (7 + 8 + len(JPEG), N)
    assert downloaded["body"] == "the pipe"
    assert downloaded["receivedAt"] == "2027-01-15T02:00:00.000-06:00"   # MMS dates are seconds
    assert [(a["contentType"], a.get("name"), a.get("data")) for a in downloaded["attachments"]] == [
        ("image/jpeg", "IMG_1.jpg", base64.b64encode(JPEG).decode()), ("image/png", None, None)]
    assert item == f"mms:{rules.java_string_hash(downloaded['messageId'])}"
    listed = call(gw, "sms", "GET",
                  f"/inbox?type=MMS_DOWNLOADED&includeAttachments=true&to={LATER}")[1]
    part = downloaded["attachments"][0]["partId"]
    assert [(i["id"], i["contentPreview"], i["attachments"]) for i in listed] == [
        (item, "the pipe", [{"partId": part, "name": "IMG_1.jpg", "size": len(JPEG),
                             "contentType": "image/jpeg"}])]
    status, data, headers = call(gw, "sms", "GET", f"/inbox/{item}/attachments/{part}")
    assert (status, data, headers["Content-Type"]) == (200, JPEG, "image/jpeg")
    missing = downloaded["attachments"][1]["partId"]
    assert call(gw, "sms", "GET", f"/inbox/{item}/attachments/{missing}")[:2] == (404, None)
    assert call(gw, "sms", "GET", f"/inbox/{item}/attachments/x")[:2] == (
        400, {"message": "partId must be a number"})


def test_a_picture_message_the_phone_never_downloads_is_only_announced(gw, recorder):
    hook(gw, "sms", recorder.url, "mms:received", "mms:downloaded")
    assert gw.receive_mms(N, [{"contentType": "image/jpeg", "data": JPEG}], downloaded=False) is None
    assert gw.wait_until(gw.idle)
    assert [json.loads(b)["event"] for _, b in recorder.got] == ["mms:received"]
