"""A fake phone for tests and the demo: SMSGate's and CallGate's local APIs on loopback.

Two real HTTP servers (SMS on one port, calls on another) speaking the shapes of
phone-as-modem.md section 8 (status codes, JSON bodies with null fields omitted, Basic auth), and a
delivery thread that posts signed webhooks (X-Timestamp, X-Signature = HMAC-SHA256(key, body +
timestamp)) and retries with exponential back-off like the apps' WorkManager workers. Controls: play
the call scenarios of 8.4, move texts to Sent/Delivered/Failed, inject incoming texts, go offline.
"""
from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

VERSION = "1.68.0"  # the SMSGate release the reference describes
USER_AGENTS = {"sms": f"me.capcom.smsgateway/{VERSION}", "calls": "app.callgate.android/1.0.0"}
SMS_EVENTS = ("sms:received", "sms:sent", "sms:delivered", "sms:failed", "sms:cancelled",
              "sms:data-received", "mms:received", "mms:downloaded", "system:ping", "app:started")
CALL_EVENTS = ("call:ringing", "call:started", "call:ended")
URL_RULE = "url must start with https:// or http://127.0.0.1"  # WebHooksService.kt
_NANOID = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
# What the fake treats as a number SMSGate would refuse (PhoneHelper: libphonenumber, MOBILE or
# FIXED_LINE_OR_MOBILE): anything that is not "+" and 8-15 digits.
_VALID = re.compile(r"\+\d{8,15}")

# Section 8.4: each scenario is (event, which number) steps; "N"/"M" are the caller, "B" a second
# caller, "" an unknown caller. Doubling and lateness are delivery options, see `play`.
SCENARIOS = {
    "missed": [("call:ringing", "N"), ("call:ended", "N")],
    "answered": [("call:ringing", "N"), ("call:started", "N"), ("call:ended", "N")],
    "declined": [("call:ringing", "N"), ("call:ended", "N")],
    "outgoing": [("call:started", "N"), ("call:ended", "N")],
    "doubled": [("call:ringing", "N"), ("call:ended", "N")],
    "unknown": [("call:ringing", ""), ("call:ended", "")],
    "waiting": [("call:ringing", "N"), ("call:started", "N"), ("call:ringing", "B"),
                ("call:started", "B"), ("call:ended", "N")],
    "lost_end": [("call:ringing", "N")],
    "late": [("call:ringing", "N"), ("call:ended", "N")],
}


def nanoid(size: int = 21) -> str:
    return "".join(secrets.choice(_NANOID) for _ in range(size))


def stamp(t: float) -> str:
    """yyyy-MM-dd'T'HH:mm:ss.SSSXXX, as the apps' Gson writes dates (XXX gives Z for UTC)."""
    text = datetime.fromtimestamp(t, timezone.utc).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def sign(key: str, body: bytes, timestamp: str) -> str:
    return hmac.new(key.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()


def _compact(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if v is not None}  # Gson omits nulls


class _Delivery:
    def __init__(self, app: str, url: str, body: bytes, retries: int):
        self.app, self.url, self.body, self.retries = app, url, body, retries
        self.attempts = 0


class FakeGateway:
    def __init__(self, *, sms_password: str = "Pa55word", call_password: str = "CallPa55",
                 signing_key: str = "s1gnKey8", retry_base: float = 10.0, sms_retries: int = 15,
                 call_retries: int = 1, auto_send: bool = True, device_number: str = "+15125550100"):
        self.passwords = {"sms": ("sms", sms_password), "calls": ("call", call_password)}
        self.signing_key = signing_key
        self.retry_base, self.auto_send = retry_base, auto_send
        self.retries = {"sms": sms_retries, "calls": call_retries}
        self.device_id = secrets.token_hex(16)
        self.device_number = device_number
        self.model = "Pixel 7a"
        self.messages: dict[str, dict] = {}
        self.inbox: list[dict] = []
        self.webhooks: dict[str, dict[str, dict]] = {"sms": {}, "calls": {}}
        self.outcomes: dict[str, tuple[str, str | None]] = {}  # number -> final (state, reason)
        self.posts = 0            # POST /message calls accepted (202)
        self.offline = False      # requests get no answer, webhooks cannot leave the phone
        self.drop_responses = 0   # accept the next N requests, then drop the connection unanswered
        self.lose_webhooks = False  # webhook posts vanish (SMS followed by polling only)
        self.sign_skew = 0.0      # seconds added to X-Timestamp (a phone with a wrong clock)
        self.log: list[tuple[str, str]] = []  # (event, outcome) of every delivery attempt
        self._lock = threading.Condition()
        self._queue: list = []
        self._seq = itertools.count()
        self._pending = 0
        self._stopping = False
        self._servers = {app: ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, app))
                         for app in ("sms", "calls")}
        self._threads = [threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True)
                         for s in self._servers.values()]
        self._threads.append(threading.Thread(target=self._deliver_loop, daemon=True))

    # -- life ------------------------------------------------------------------------------------
    def start(self) -> "FakeGateway":
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        for server in self._servers.values():
            server.shutdown()
            server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url_sms(self) -> str:
        return f"http://127.0.0.1:{self._servers['sms'].server_address[1]}"

    @property
    def url_calls(self) -> str:
        return f"http://127.0.0.1:{self._servers['calls'].server_address[1]}"

    # -- controls: calls -------------------------------------------------------------------------
    def call_event(self, event: str, number: str, *, doubled: bool = False, blank_first: bool = False,
                   duplicate: bool = False) -> None:
        """What CallsReceiver posts for one PHONE_STATE broadcast (an unknown caller is ""). `doubled`:
        Android's second broadcast without the number (payload {}), before or after the other; `duplicate`: the same
        envelope posted twice (a retry after our 2xx was lost)."""
        copies = [number, None] if doubled else [number]
        if blank_first:
            copies.reverse()
        for copy in copies:
            for bound in self._envelopes("calls", event, _compact({"phoneNumber": copy})):
                self._enqueue(bound, times=2 if duplicate else 1)

    def play(self, scenario: str, number: str = "+15125550142", other: str = "+15125550177") -> None:
        """One of section 8.4's call scenarios. "doubled" sends every event twice (blank copy first
        on every other event); "late" posts the events in reverse order, the ringing one twice."""
        steps = SCENARIOS[scenario]
        names = {"N": number, "B": other, "": ""}
        if scenario == "late":
            steps = list(reversed(steps))
        for i, (event, who) in enumerate(steps):
            self.call_event(event, names[who], doubled=scenario == "doubled",
                            blank_first=i % 2 == 0,
                            duplicate=scenario == "late" and event == "call:ringing")

    # -- controls: texts -------------------------------------------------------------------------
    def receive_sms(self, sender: str, text: str, at: float | None = None) -> str:
        at = time.time() if at is None else at
        message_id = nanoid()
        with self._lock:
            self.inbox.append({"id": message_id, "type": "SMS", "sender": sender,
                               "recipient": self.device_number, "simNumber": 1,
                               "contentPreview": text, "createdAt": stamp(at), "_t": at})
        self._emit_sms("sms:received", {"messageId": message_id, "message": text, "sender": sender,
                                        "recipient": self.device_number, "phoneNumber": sender,
                                        "simNumber": 1, "receivedAt": stamp(at)})
        return message_id

    def advance(self, message_id: str, state: str, reason: str | None = None) -> None:
        """Move a text to Processed, Sent, Delivered or Failed (with `reason`), firing its webhook."""
        now = time.time()
        with self._lock:
            message = self.messages[message_id]
            message["state"] = state
            message["states"][state] = stamp(now)
            for recipient in message["recipients"]:
                recipient["state"] = state
                if state == "Failed":
                    recipient["error"] = reason
        to = message["recipients"][0]["phoneNumber"]
        base = {"messageId": message_id, "sender": self.device_number, "recipient": to,
                "phoneNumber": to, "simNumber": 1}
        if state == "Sent":
            self._emit_sms("sms:sent", {**base, "partsCount": 1, "sentAt": stamp(now)})
        elif state == "Delivered":
            self._emit_sms("sms:delivered", {**base, "deliveredAt": stamp(now)})
        elif state == "Failed":
            self._emit_sms("sms:failed", {**base, "failedAt": stamp(now), "reason": reason})

    def _process(self, message_id: str, validate: bool) -> None:
        """What MessagesService does once it takes the text: validate, send, report."""
        number = self.messages[message_id]["recipients"][0]["phoneNumber"]
        if validate and not _VALID.fullmatch(number):
            self.advance(message_id, "Failed", "sendSMS: Invalid phone number")
            return
        self.advance(message_id, "Processed")
        state, reason = self.outcomes.get(number, ("Delivered", None))
        if state == "Failed":
            self.advance(message_id, "Failed", reason)
            return
        self.advance(message_id, "Sent")
        if state == "Delivered":
            self.advance(message_id, "Delivered")

    # -- controls: waiting -----------------------------------------------------------------------
    def idle(self) -> bool:
        """No webhook waiting to go out or in flight."""
        with self._lock:
            return self._pending == 0

    def wait_until(self, predicate, timeout: float = 5.0) -> bool:
        """Block until `predicate()` holds after a delivery attempt (or `timeout` real seconds)."""
        with self._lock:
            return self._lock.wait_for(predicate, timeout)

    # -- webhooks --------------------------------------------------------------------------------
    def _envelopes(self, app: str, event: str, payload: dict) -> list[tuple[str, bytes, str]]:
        """(url, body, app) for every webhook registered for `event`: one envelope each."""
        with self._lock:
            hooks = [h for h in self.webhooks[app].values() if h["event"] == event]
        return [(h["url"], json.dumps({"id": nanoid(), "webhookId": h["id"], "event": event,
                                       "deviceId": self.device_id, "payload": payload},
                                      separators=(",", ":")).encode(), app) for h in hooks]

    def _emit_sms(self, event: str, payload: dict) -> None:
        for bound in self._envelopes("sms", event, _compact(payload)):
            self._enqueue(bound)

    def _enqueue(self, bound, times: int = 1) -> None:
        url, body, app = bound
        with self._lock:
            for _ in range(times):
                delivery = _Delivery(app, url, body, self.retries[app])
                heapq.heappush(self._queue, (time.monotonic(), next(self._seq), delivery))
                self._pending += 1
            self._lock.notify_all()

    def _deliver_loop(self) -> None:
        while True:
            with self._lock:
                while not self._stopping and (not self._queue
                                              or self._queue[0][0] > time.monotonic()):
                    wait = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._lock.wait(wait)
                if self._stopping:
                    return
                _, _, delivery = heapq.heappop(self._queue)
            ok = self._post(delivery)
            with self._lock:
                delivery.attempts += 1
                if not ok and delivery.attempts <= delivery.retries:
                    due = time.monotonic() + self.retry_base * 2 ** (delivery.attempts - 1)
                    heapq.heappush(self._queue, (due, next(self._seq), delivery))
                else:
                    self._pending -= 1
                self._lock.notify_all()

    def _post(self, delivery: _Delivery) -> bool:
        event = json.loads(delivery.body)["event"]
        if self.offline or self.lose_webhooks:
            self.log.append((event, "offline" if self.offline else "lost"))
            return self.lose_webhooks and not self.offline
        timestamp = str(int(time.time() + self.sign_skew))
        request = urllib.request.Request(delivery.url, data=delivery.body, method="POST", headers={
            "Content-Type": "application/json", "User-Agent": USER_AGENTS[delivery.app],
            "X-Timestamp": timestamp, "X-Signature": sign(self.signing_key, delivery.body, timestamp)})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:  # 30 s: SendWebhookWorker
                status = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (OSError, ValueError):
            status = 0
        self.log.append((event, str(status)))
        return 200 <= status < 300


def _handler(gateway: FakeGateway, app: str):
    """The request handler class for one of the two apps."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "Ktor/2.3"
        protocol_version = "HTTP/1.0"

        def log_message(self, *args):  # quiet: tests read `gateway.log`, not stderr
            pass

        def do_GET(self):
            self._route("GET")

        def do_POST(self):
            self._route("POST")

        def do_DELETE(self):
            self._route("DELETE")

        def _route(self, method: str) -> None:
            if gateway.offline:
                self.close_connection = True
                return  # no answer at all: the client sees the connection drop
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if gateway.drop_responses:
                gateway.drop_responses -= 1
                routes = SMS_ROUTES if app == "sms" else CALL_ROUTES
                self._dispatch(routes, method, parts, raw)  # it happens; the answer is lost
                self.close_connection = True
                return
            status, body, headers = self._answer(method, parts, raw)
            payload = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for name, value in {**headers, **({"Content-Type": "application/json"}
                                              if body is not None else {})}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _answer(self, method, parts, raw):
            if not (app == "sms" and parts.path == "/health") and not self._authorised():
                return 401, {"message": "Unauthorized"}, {"WWW-Authenticate": 'Basic realm="Access"'}
            routes = SMS_ROUTES if app == "sms" else CALL_ROUTES
            return self._dispatch(routes, method, parts, raw)

        def _dispatch(self, routes, method, parts, raw):
            for verb, pattern, action in routes:
                match = re.fullmatch(pattern, parts.path)
                if verb == method and match:
                    try:
                        body = json.loads(raw) if raw else None
                    except ValueError:
                        return 400, {"message": "Invalid JSON"}, {}
                    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                    return action(gateway, app, body, query, *match.groups())
            return 404, {"message": "Not Found"}, {}

        def _authorised(self) -> bool:
            user, password = gateway.passwords[app]
            expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
            return hmac.compare_digest(self.headers.get("Authorization", ""), expected)

    return Handler


# -- the routes, as (method, path pattern, action) ------------------------------------------------
def _health(gw, app, body, query):
    return 200, {"status": "pass", "version": VERSION, "releaseId": 1, "checks": {
        "battery:level": {"description": "Battery level in percent", "observedUnit": "percent",
                          "observedValue": 94, "status": "pass"}}}, {}


def _root(gw, app, body, query):
    return 200, {"status": "ok", "model": gw.model}, {}


def _post_message(gw, app, body, query):
    body = body or {}
    kinds = [k for k in ("textMessage", "dataMessage", "message") if body.get(k) is not None]
    if len(kinds) != 1:
        return 400, {"message": "Must specify exactly one of: textMessage, dataMessage, or message"}, {}
    if not body.get("phoneNumbers"):
        return 400, {"message": "Empty phone numbers list"}, {}
    text = (body.get("textMessage") or {}).get("text") if kinds[0] == "textMessage" else "x"
    if not text:
        return 400, {"message": "Text message is empty"}, {}
    if body.get("simNumber") is not None and body["simNumber"] < 1:
        return 400, {"message": "SIM number cannot be less than 1"}, {}
    if body.get("ttl") is not None and body.get("validUntil") is not None:
        return 400, {"message": "fields conflict: ttl and validUntil"}, {}
    with gw._lock:
        message_id = body.get("id") or nanoid()
        if message_id in gw.messages:
            return 409, {"message": f"Message with id {message_id} already exists"}, {}
        message = {"id": message_id, "deviceId": gw.device_id, "state": "Pending",
                   "isHashed": False, "isEncrypted": False,
                   "textMessage": {"text": text},
                   "recipients": [{"phoneNumber": n, "state": "Pending"}
                                  for n in body["phoneNumbers"]],
                   "states": {"Pending": stamp(time.time())}}
        gw.messages[message_id] = message
        gw.posts += 1
        answer = json.loads(json.dumps(message))
    if gw.auto_send:
        validate = query.get("skipPhoneValidation") != "true"
        threading.Thread(target=gw._process, args=(message_id, validate), daemon=True).start()
    return 202, answer, {}


def _get_message(gw, app, body, query, message_id):
    with gw._lock:
        message = gw.messages.get(message_id)
        if message is None:
            return 404, {"message": f"Message {message_id} not found"}, {}
        return 200, json.loads(json.dumps(message)), {}  # a copy, as it stands now


def _list_messages(gw, app, body, query):
    with gw._lock:
        found = [m for m in gw.messages.values()
                 if query.get("state") in (None, m["state"])]
    offset, limit = int(query.get("offset", 0)), int(query.get("limit", 50))
    return 200, found[offset:offset + limit], {"X-Total-Count": str(len(found))}


def _inbox(gw, app, body, query):
    since = _epoch(query.get("from"))
    until = _epoch(query.get("to"))
    with gw._lock:
        found = [{k: v for k, v in m.items() if not k.startswith("_")} for m in gw.inbox
                 if (since is None or m["_t"] >= since) and (until is None or m["_t"] < until)]
    found.reverse()  # newest first
    offset, limit = int(query.get("offset", 0)), min(int(query.get("limit", 50)), 500)
    return 200, found[offset:offset + limit], {"X-Total-Count": str(len(found))}


def _epoch(text: str | None) -> float | None:
    return None if not text else datetime.fromisoformat(text).timestamp()


def _list_hooks(gw, app, body, query):
    with gw._lock:
        hooks = [{k: v for k, v in h.items() if k != "app"} for h in gw.webhooks[app].values()]
    return 200, hooks, {}


def _add_hook(gw, app, body, query):
    body = body or {}
    url, event = body.get("url", ""), body.get("event")
    if not (url.startswith("https://") or url.startswith("http://127.0.0.1")):
        return 400, {"message": URL_RULE}, {}
    if event not in (SMS_EVENTS if app == "sms" else CALL_EVENTS):
        return 400, {"message": f"Invalid event type: {event}"}, {}
    hook = {"id": body.get("id") or nanoid(), "url": url, "event": event}
    if app == "sms":
        hook["source"] = "Local"
    with gw._lock:
        gw.webhooks[app][hook["id"]] = {**hook, "app": app}
    return 201, hook, {}


def _delete_hook(gw, app, body, query, hook_id):
    with gw._lock:
        gw.webhooks[app].pop(hook_id, None)
    return 204, None, {}


def _hang_up(gw, app, body, query):
    return 404, {"message": "No ringing or active call"}, {}


SMS_ROUTES = (
    ("GET", r"/health", _health),
    ("GET", r"/", _root),
    ("POST", r"/messages?", _post_message),
    ("GET", r"/messages?/([^/]+)", _get_message),
    ("GET", r"/messages?", _list_messages),
    ("GET", r"/inbox", _inbox),
    ("GET", r"/webhooks", _list_hooks),
    ("POST", r"/webhooks", _add_hook),
    ("DELETE", r"/webhooks/([^/]+)", _delete_hook),
)
CALL_ROUTES = (
    ("GET", r"/api/v1/webhooks", _list_hooks),
    ("POST", r"/api/v1/webhooks", _add_hook),
    ("DELETE", r"/api/v1/webhooks/([^/]+)", _delete_hook),
    ("DELETE", r"/api/v1/calls", _hang_up),
)
