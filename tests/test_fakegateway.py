"""The fake phone speaks SMSGate's and CallGate's APIs as phone-as-modem.md section 8 describes."""
import base64
import hashlib
import hmac
import json
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gateway.fakegateway import FakeGateway

KEY = "s1gnKey8"


@pytest.fixture
def gw():
    with FakeGateway(retry_base=0.01, sms_retries=3, signing_key=KEY) as fake:
        yield fake


def call(gw, app, method, path, body=None, password=None):
    base, (user, right) = (gw.url_sms if app == "sms" else gw.url_calls), gw.passwords[app]
    request = urllib.request.Request(base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
    if password != "":
        token = base64.b64encode(f"{user}:{password or right}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            status, raw, headers = answer.status, answer.read(), answer.headers
    except urllib.error.HTTPError as exc:
        status, raw, headers = exc.code, exc.read(), exc.headers
    return status, json.loads(raw) if raw else None, headers


@pytest.mark.parametrize("app, method, path, password, status", [
    ("sms", "GET", "/health", "", 200),
    ("sms", "GET", "/", "", 401),
    ("sms", "GET", "/", "wrong", 401),
    ("sms", "GET", "/", None, 200),
    ("sms", "GET", "/messages/nope", None, 404),
    ("calls", "GET", "/api/v1/webhooks", "", 401),
    ("calls", "GET", "/api/v1/webhooks", None, 200),
])
def test_basic_auth(gw, app, method, path, password, status):
    assert call(gw, app, method, path, password=password)[0] == status


TEXT = {"textMessage": {"text": "hi"}, "phoneNumbers": ["+15125550142"]}


@pytest.mark.parametrize("body, status, message", [
    ({"phoneNumbers": ["+15125550142"]}, 400,
     "Must specify exactly one of: textMessage, dataMessage, or message"),
    ({**TEXT, "message": "also"}, 400,
     "Must specify exactly one of: textMessage, dataMessage, or message"),
    ({**TEXT, "phoneNumbers": []}, 400, "Empty phone numbers list"),
    ({**TEXT, "textMessage": {"text": ""}}, 400, "Text message is empty"),
    ({**TEXT, "simNumber": 0}, 400, "SIM number cannot be less than 1"),
    ({**TEXT, "ttl": 60, "validUntil": "2027-01-01T00:00:00.000Z"}, 400,
     "fields conflict: ttl and validUntil"),
])
def test_post_message_refusals(gw, body, status, message):
    assert call(gw, "sms", "POST", "/message", body)[:2] == (status, {"message": message})


def test_post_message_shape_and_duplicate_id(gw):
    gw.auto_send = False
    status, body, _ = call(gw, "sms", "POST", "/messages", {**TEXT, "id": "m1"})
    assert status == 202
    assert body == {"id": "m1", "deviceId": gw.device_id, "state": "Pending", "isHashed": False,
                    "isEncrypted": False, "textMessage": {"text": "hi"},
                    "recipients": [{"phoneNumber": "+15125550142", "state": "Pending"}],
                    "states": {"Pending": body["states"]["Pending"]}}
    assert call(gw, "sms", "POST", "/message", {**TEXT, "id": "m1"})[:2] == (
        409, {"message": "Message with id m1 already exists"})
    gw.advance("m1", "Failed", "RESULT_ERROR_NO_SERVICE")
    status, body, _ = call(gw, "sms", "GET", "/messages/m1")
    assert (body["state"], body["recipients"], sorted(body["states"])) == (
        "Failed", [{"phoneNumber": "+15125550142", "state": "Failed",
                    "error": "RESULT_ERROR_NO_SERVICE"}], ["Failed", "Pending"])
    status, listed, headers = call(gw, "sms", "GET", "/messages?state=Failed")
    assert ([m["id"] for m in listed], headers["X-Total-Count"]) == (["m1"], "1")


@pytest.mark.parametrize("app, path, body, status, answer", [
    ("sms", "/webhooks", {"id": "h", "url": "http://192.168.1.10/x", "event": "sms:received"}, 400,
     {"message": "url must start with https:// or http://127.0.0.1"}),
    ("sms", "/webhooks", {"id": "h", "url": "http://127.0.0.1:9/x", "event": "call:ringing"}, 400,
     {"message": "Invalid event type: call:ringing"}),
    ("sms", "/webhooks", {"id": "h", "url": "http://127.0.0.1:9/x", "event": "sms:received"}, 201,
     {"id": "h", "url": "http://127.0.0.1:9/x", "event": "sms:received", "source": "Local"}),
    ("calls", "/api/v1/webhooks", {"id": "h", "url": "https://pi.example/x", "event": "call:ended"},
     201, {"id": "h", "url": "https://pi.example/x", "event": "call:ended"}),
])
def test_webhook_registration(gw, app, path, body, status, answer):
    assert call(gw, app, "POST", path, body)[:2] == (status, answer)
    listed = call(gw, app, "GET", path)[1]
    assert listed == ([answer] if status == 201 else [])
    assert call(gw, app, "DELETE", f"{path}/h")[0] == 204


def test_hang_up_with_no_call(gw):
    assert call(gw, "calls", "DELETE", "/api/v1/calls")[:2] == (
        404, {"message": "No ringing or active call"})


def test_inbox_newest_first(gw):
    first = gw.receive_sms("+15125550142", "one", at=1_800_000_000.0)
    second = gw.receive_sms("+15125550177", "two", at=1_800_000_060.0)
    items = call(gw, "sms", "GET", "/inbox?type=SMS&limit=50")[1]
    assert [(i["id"], i["sender"], i["contentPreview"], i["createdAt"]) for i in items] == [
        (second, "+15125550177", "two", "2027-01-15T08:01:00.000Z"),
        (first, "+15125550142", "one", "2027-01-15T08:00:00.000Z")]
    since = call(gw, "sms", "GET", "/inbox?from=2027-01-15T08:00:30Z")[1]
    assert [i["id"] for i in since] == [second]


def test_offline_answers_nothing(gw):
    gw.offline = True
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        call(gw, "sms", "GET", "/health")


class Recorder:
    """Somebody else's webhook receiver: answers each post with the next status in `answers`."""

    def __init__(self, answers):
        self.answers, self.got = list(answers), []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                recorder.got.append((dict(self.headers), body))
                self.send_response(recorder.answers.pop(0) if recorder.answers else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("answers, attempts", [([], 1), ([500, 503], 3), ([500] * 9, 4)])
def test_webhooks_are_signed_and_retried(gw, answers, attempts):
    recorder = Recorder(answers)
    try:
        call(gw, "sms", "POST", "/webhooks", {"url": recorder.url, "event": "sms:received"})
        message_id = gw.receive_sms("+15125550142", "is Monday ok?", at=1_800_000_000.0)
        assert gw.wait_until(gw.idle)
    finally:
        recorder.close()
    assert len(recorder.got) == attempts  # 1 try + up to sms_retries (3) retries
    headers, body = recorder.got[-1]
    expected = hmac.new(KEY.encode(), body + headers["X-Timestamp"].encode(),
                        hashlib.sha256).hexdigest()
    envelope = json.loads(body)
    assert (headers["X-Signature"], headers["User-Agent"], headers["Content-Type"]) == (
        expected, "me.capcom.smsgateway/1.68.0", "application/json")
    assert envelope == {"id": envelope["id"], "webhookId": envelope["webhookId"],
                        "event": "sms:received", "deviceId": gw.device_id, "payload": {
                            "messageId": message_id, "message": "is Monday ok?",
                            "sender": "+15125550142", "recipient": gw.device_number,
                            "phoneNumber": "+15125550142", "simNumber": 1,
                            "receivedAt": "2027-01-15T08:00:00.000Z"}}


@pytest.mark.parametrize("scenario, posted", [
    ("doubled", [("call:ringing", {}), ("call:ringing", {"phoneNumber": "+15125550142"}),
                 ("call:ended", {"phoneNumber": "+15125550142"}), ("call:ended", {})]),
    ("unknown", [("call:ringing", {"phoneNumber": ""}), ("call:ended", {"phoneNumber": ""})]),
    ("outgoing", [("call:started", {"phoneNumber": "+15125550142"}),
                  ("call:ended", {"phoneNumber": "+15125550142"})]),
])
def test_call_scenarios_post_what_callgate_posts(gw, scenario, posted):
    recorder = Recorder([])
    try:
        for event in ("call:ringing", "call:started", "call:ended"):
            call(gw, "calls", "POST", "/api/v1/webhooks", {"url": recorder.url, "event": event})
        gw.play(scenario)
        assert gw.wait_until(gw.idle)
    finally:
        recorder.close()
    got = [json.loads(body) for _, body in recorder.got]
    assert [(g["event"], g["payload"]) for g in got] == posted
    assert {h["User-Agent"] for h, _ in recorder.got} == {"app.callgate.android/1.0.0"}
