"""A conformance fake of the contractor's phone: SMSGate's and CallGate's local servers on loopback,
built from the apps' source (the rules and their citations are in gateway/simulator/phoneapps.py;
the
citation scheme, "S path:line" and "C path:line", is explained there and in
docs/reference/phone-apps.md). Strict on purpose: whatever the apps refuse, this refuses with the
same status and message, so a link that passes here does not trip on a real phone.

What the phone does on its own is modelled as the apps do it:
- SMSGate sends its webhooks one at a time from a persistent queue, retrying a failure after
  5 s, 10 s, 20 s ... up to 15 times (S modules/webhooks/workers/WebhookQueueProcessorWorker.kt:67,
  238-268; S modules/webhooks/db/WebhookQueueRepository.kt:78-102, 136-140).
- CallGate posts each PHONE_STATE broadcast as its own WorkManager job, all at once and in no set
  order; Android gives a receiver holding READ_CALL_LOG every state twice, once with the number
  and once without (C AndroidManifest.xml:15, C modules/calls/CallsReceiver.kt:16-57). A job makes
  `retry_count` attempts (C modules/webhooks/workers/SendWebhookWorker.kt:123-125), 1 by default
  (C modules/webhooks/WebhooksSettings.kt:13-14), 15 once the app's Webhooks settings screen has
  been opened (C res/xml/webhooks_preferences.xml:11-16 writes its default), 10 s apart, doubling.
- Both hold their webhooks while the phone has no internet, unless "Require Internet connection"
  is off (S modules/webhooks/WebhooksSettings.kt:12-13, C
  modules/webhooks/WebhooksSettings.kt:10-11).
Time is compressed for tests with `retry_scale` (1.0 = the apps' own back-off).
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
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

from gateway.simulator import phoneapps as rules
from gateway.simulator.phoneapps import Refusal

VERSION, RELEASE = "1.68.0", 168  # the SMSGate release at 0cdc5d8 (its CHANGELOG)
# S ...WebhookQueueProcessorWorker.kt:429-431
USER_AGENTS = {"sms": f"me.capcom.smsgateway/{VERSION}",
               "calls": "app.callgate.android/0.2.1"}      # C ...SendWebhookWorker.kt:184-186
SMS_BACKOFF = 5.0    # s, S modules/webhooks/workers/WebhookQueueProcessorWorker.kt:67
CALL_BACKOFF = 10.0  # s, WorkManager's MIN_BACKOFF_MILLIS (C ...SendWebhookWorker.kt:215-219)
# s, requestTimeoutMillis (S ...WebhookQueueProcessorWorker.kt:420, C ...SendWebhookWorker.kt:175)
POST_TIMEOUT = 30.0
_NANOID = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

# Call scenarios: (event, which number) steps; "N" the caller, "B" a second caller, "" withheld.
SCENARIOS = {
    "missed": [("call:ringing", "N"), ("call:ended", "N")],
    "answered": [("call:ringing", "N"), ("call:started", "N"), ("call:ended", "N")],
    "declined": [("call:ringing", "N"), ("call:ended", "N")],
    "outgoing": [("call:started", ""), ("call:ended", "")],
    "unknown": [("call:ringing", ""), ("call:ended", "")],
    "waiting": [("call:ringing", "N"), ("call:started", "N"), ("call:ringing", "B"),
                ("call:started", "B"), ("call:ended", "N")],
    "lost_end": [("call:ringing", "N")],
}


def nanoid(size: int = 21) -> str:
    return "".join(secrets.choice(_NANOID) for _ in range(size))


def sign(key: str, body: bytes, timestamp: str) -> str:
    """Lowercase hex HMAC-SHA256(key, body + timestamp) (S
    modules/webhooks/plugins/PayloadSingingPlugin.kt:22-36, 49-60)."""
    return hmac.new(key.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()


@dataclass
class Delivery:
    app: str
    url: str
    body: bytes
    event: str
    limit: int           # attempts allowed
    attempts: int = 0


class FakeGateway:
    def __init__(self, *, sms_password: str = "Pa55word", call_password: str = "CallPa55",
                 signing_key: str = "s1gnKey8", calls_signing_key: str | None = None,
                 retry_scale: float = 1.0, sms_retries: int = 15, call_retries: int = 1,
                 auto_send: bool = True, device_number: str = "+15125550100",
                 timezone: str = "America/Chicago", region: str = "US",
                 call_numbers: str = "national", doubled: bool = True, sms_port: int = 0,
                 calls_port: int = 0) -> None:
        self.passwords = {"sms": ("sms", sms_password), "calls": ("call", call_password)}
        self.keys = {"sms": signing_key, "calls": calls_signing_key or signing_key}
        self.signing_key = signing_key
        self.retry_scale, self.auto_send = retry_scale, auto_send
        self.sms_retries, self.call_retries = sms_retries, call_retries
        self.tz, self.region = ZoneInfo(timezone), region
        self.call_numbers, self.doubled = call_numbers, doubled
        self.device_id = secrets.token_hex(16)
        self.device_number = device_number
        self.model = "Pixel 7a"
        self.insecure = False            # SMSGate's "insecure" build accepts any http:// URL
        # What /health reports (S modules/health/...): battery, charging, internet, a network.
        self.battery, self.charging, self.internet, self.transport = 94, True, True, True
        self.internet_required = {"sms": True, "calls": True}
        self.messages: dict[str, dict] = {}
        self.inbox: list[dict] = []
        self.webhooks: dict[str, dict[str, dict]] = {"sms": {}, "calls": {}}
        self.outcomes: dict[str, tuple[str, str | None]] = {}  # number -> (final state, reason)
        self.posts = 0                    # POST /message(s) taken (202)
        self.requests: list[tuple[str, str, str, int]] = []  # (app, method, path, status)
        self.offline = False              # no answer at all; webhooks cannot leave the phone
        self.drop_responses = 0           # do the next N requests, then drop the connection
        self.lose_webhooks = False        # webhook posts vanish on the way (the phone thinks 2xx)
        # seconds added to X-Timestamp (a phone with a wrong clock)
        self.sign_skew = 0.0
        self.log: list[tuple[str, str]] = []  # (event, outcome) of every delivery attempt
        self._lock = threading.Condition()
        self._sms_queue: list = []
        self._seq = itertools.count()
        self._mms_ids = itertools.count(101)
        self._pending = 0
        self._in_flight: dict[int, str] = {}  # id(delivery) -> event, until done
        self._stopping = False
        self._servers = {app: ThreadingHTTPServer(("127.0.0.1", port), _handler(self, app))
                         for app, port in (("sms", sms_port), ("calls", calls_port))}
        for server in self._servers.values():
            server.daemon_threads = True
        self._threads = [threading.Thread(target=s.serve_forever, args=(0.05,), daemon=True)
                         for s in self._servers.values()]
        self._threads.append(threading.Thread(target=self._sms_loop, daemon=True))

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

    def now(self) -> float:
        return time.time()

    # -- controls: calls -------------------------------------------------------------------------
    def as_seen(self, number: str) -> str:
        """The caller's number as the phone shows it: national digits for a caller from the phone's
        own country (what US carriers present), else as given."""
        if self.call_numbers != "national" or not number.startswith("+"):
            return number
        import phonenumbers

        try:
            parsed = phonenumbers.parse(number, None)
        except phonenumbers.NumberParseException:
            return number
        if phonenumbers.region_code_for_number(parsed) != self.region:
            return number
        return str(parsed.national_number)

    def call_event(self, event: str, number: str, *, doubled: bool | None = None,
                   blank_first: bool = False, duplicate: bool = False) -> None:
        """One PHONE_STATE broadcast as CallGate posts it: with the number (payload
        {"phoneNumber": N}, "" for a withheld caller) and, Android's second broadcast, without it
        (payload {}: the null is left out). `duplicate`: the same envelope twice (a retry after
        our 2xx was lost on the way)."""
        doubled = self.doubled if doubled is None else doubled
        copies = [self.as_seen(number) if number else "", None] if doubled else [
            self.as_seen(number) if number else ""]
        if blank_first:
            copies.reverse()
        for copy in copies:
            self._emit("calls", event, {"phoneNumber": copy}, times=2 if duplicate else 1)

    def play(self, scenario: str, number: str = "+15125550142", other: str = "+15125550177",
             *, late: bool = False) -> None:
        """One of the call scenarios; `late` posts its events in reverse order."""
        steps = list(SCENARIOS[scenario])
        names = {"N": number, "B": other, "": ""}
        if late:
            steps.reverse()
        for i, (event, who) in enumerate(steps):
            self.call_event(event, names[who], blank_first=i % 2 == 0)

    # -- controls: texts and pictures in ---------------------------------------------------------
    def receive_sms(self, sender: str, text: str, at: float | None = None, sim: int = 1) -> str:
        """An SMS arrives: kept in the inbox (id "text:<hash>"), sms:received posted with the hex
        of the same hash (S modules/receiver/ReceiverService.kt:114-125). Returns the inbox id."""
        ms = int((self.now() if at is None else at) * 1000)
        h = rules.text_hash(sender, ms, sim, text)
        item = {"id": rules.inbox_id("text:", h), "type": "SMS", "sender": sender,
                "recipient": self.device_number, "simNumber": sim, "contentPreview": text,
                "createdAt": ms}
        with self._lock:
            if any(i["id"] == item["id"] for i in self.inbox):
                return item["id"]  # the app's dedup (S modules/receiver/ReceiverService.kt:91-104)
            self.inbox.append(item)
        self._emit("sms", "sms:received", {   # S modules/webhooks/payload/SmsEventPayload.kt:40-47
            "message": text, "receivedAt": rules.format_date(ms / 1000, self.tz),
            "messageId": rules.webhook_message_id(h), "sender": sender,
            "recipient": self.device_number, "simNumber": sim, "phoneNumber": sender})
        return item["id"]

    def receive_mms(self, sender: str, parts: list[dict], *, subject: str | None = None,
                    at: float | None = None, downloaded: bool = True, sim: int = 1) -> str | None:
        """A picture message: mms:received for the notification (S modules/receiver/MmsReceiver.kt:
        72-84), then, once the phone's messaging app has downloaded it, mms:downloaded with its
        parts in Base64 (S modules/receiver/MmsContentObserver.kt:149-172). `parts`: dicts of
        contentType and data (bytes, None: unreadable) or text. Returns the downloaded one's
        inbox id ("mms:<hash>"), or None when it is not downloaded."""
        when = self.now() if at is None else at
        transaction = nanoid(12)
        size = sum(len(p.get("data") or b"") + len((p.get("text") or "").encode()) for p in parts)
        header_id = rules.inbox_id("mms-header:", rules.java_string_hash(transaction))
        with self._lock:
            self.inbox.append({"id": header_id, "type": "MMS", "sender": sender,
                               "recipient": self.device_number, "simNumber": sim,
                               "contentPreview": subject or "MMS notification",
                               "createdAt": int(when * 1000)})
        # S modules/webhooks/payload/MmsReceivedPayload.kt:5-15
        self._emit("sms", "mms:received", {
            "transactionId": transaction, "subject": subject, "size": size,
            "receivedAt": rules.format_date(when, self.tz), "messageId": transaction,
            "sender": sender, "recipient": self.device_number, "simNumber": sim,
            "phoneNumber": sender})
        if not downloaded:
            return None
        mms_id = str(next(self._mms_ids))
        # the MMS provider keeps seconds (S modules/receiver/MmsContentReader.kt:54-55)
        ms = int(when) * 1000
        parts = [{"partId": 1000 + i, **p} for i, p in enumerate(parts)]
        body, attachments = rules.mms_parts(parts)
        item_id = rules.inbox_id("mms:", rules.java_string_hash(mms_id))
        stored = [{"partId": a["partId"], "name": a["name"], "contentType": a["contentType"],
                   "data": rules.decode_base64(a["data"])} for a in attachments if a["data"]]
        with self._lock:
            self.inbox.append({"id": item_id, "type": "MMS_DOWNLOADED", "sender": sender,
                               "recipient": self.device_number, "simNumber": sim,
                               "contentPreview": body or subject or "MMS content",
                               "createdAt": ms, "stored": stored})
        # S modules/webhooks/payload/MmsDownloadedPayload.kt:5-22
        self._emit("sms", "mms:downloaded", {
            "body": body, "subject": subject, "attachments": attachments,
            "receivedAt": rules.format_date(ms / 1000, self.tz), "messageId": mms_id,
            "sender": sender, "recipient": self.device_number, "simNumber": sim,
            "phoneNumber": sender})
        return item_id

    # -- controls: texts out ---------------------------------------------------------------------
    def advance(self, message_id: str, state: str, reason: str | None = None,
                recipient: str | None = None) -> None:
        """Move a text's recipients to `state`, firing sms:sent / sms:delivered / sms:failed per
        recipient (S modules/webhooks/EventsReceiver.kt:36-91; Processed fires nothing)."""
        now = self.now()
        with self._lock:
            message = self.messages[message_id]
            targets = [r for r in message["recipients"]
                       if recipient is None or r["phoneNumber"] == recipient]
            for r in targets:
                r["state"] = state
                r["error"] = reason if state == "Failed" else r.get("error")
            message["states"][state] = now
            if state == "Processed" and message.get("processedAt") is None:
                message["processedAt"] = now
            parts = message.get("partsCount")
        event = {"Sent": "sms:sent", "Delivered": "sms:delivered",
                 "Failed": "sms:failed"}.get(state)
        if event is None:
            return
        for r in targets:   # S modules/webhooks/payload/SmsEventPayload.kt:14-38
            at = rules.format_date(now, self.tz)
            payload = {"Sent": {"partsCount": parts if parts is not None else -1, "sentAt": at},
                       "Delivered": {"deliveredAt": at},
                       "Failed": {"failedAt": at, "reason": reason or "Unknown"}}[state]
            self._emit("sms", event, {**payload, "messageId": message_id,
                                      "sender": self.device_number,
                                      "recipient": r["phoneNumber"], "simNumber": 1,
                                      "phoneNumber": r["phoneNumber"]})

    def _process(self, message_id: str) -> None:
        """What SendMessagesWorker does with a text it takes (S modules/messages/MessagesService.kt:
        311-342, 388-522): TTL, each recipient's number, the radio's answer."""
        with self._lock:
            message = self.messages[message_id]
        if message["validUntil"] is not None and message["validUntil"] < self.now():
            self.advance(message_id, "Failed", "TTL expired")
            return
        text = message["text"] or ""
        message["partsCount"] = 1 if len(text) <= 160 else -(-len(text) // 153)
        for r in list(message["recipients"]):
            number, error = rules.check_number(r["phoneNumber"], self.region,
                                               message["skipPhoneValidation"])
            if error:
                self.advance(message_id, "Failed", error, recipient=r["phoneNumber"])
                continue
            self.advance(message_id, "Processed", recipient=r["phoneNumber"])
            state, reason = self.outcomes.get(r["phoneNumber"], ("Delivered", None))
            if state == "Failed":
                self.advance(message_id, "Failed", reason, recipient=r["phoneNumber"])
                continue
            if state == "Pending":
                continue  # the radio never answers
            self.advance(message_id, "Sent", recipient=r["phoneNumber"])
            if state == "Delivered" and message["withDeliveryReport"]:
                self.advance(message_id, "Delivered", recipient=r["phoneNumber"])

    # -- waiting ---------------------------------------------------------------------------------
    def idle(self) -> bool:
        """No webhook waiting to go out or in flight."""
        with self._lock:
            return self._pending == 0

    def wait_until(self, predicate, timeout: float = 20.0) -> bool:
        """Block until `predicate()` holds after a delivery attempt (or `timeout` real seconds)."""
        with self._lock:
            return self._lock.wait_for(predicate, timeout)

    def pending_events(self) -> list[str]:
        """The events of the webhooks not delivered yet (waiting, in flight or between tries)."""
        with self._lock:
            return list(self._in_flight.values())

    # -- webhooks --------------------------------------------------------------------------------
    def _emit(self, app: str, event: str, payload: dict, times: int = 1) -> None:
        """One envelope per webhook registered for `event` (S modules/webhooks/WebHooksService.kt:
        126-170, C modules/webhooks/WebHooksService.kt:86-113)."""
        with self._lock:
            hooks = [h for h in self.webhooks[app].values() if h["event"] == event]
        for hook in hooks:
            body = rules.gson(rules.envelope(nanoid(), hook["id"], event, self.device_id, payload))
            for _ in range(times):
                limit = 1 + self.sms_retries if app == "sms" else max(1, self.call_retries)
                delivery = Delivery(app, hook["url"], body, event, limit)
                with self._lock:
                    self._pending += 1
                    self._in_flight[id(delivery)] = event
                    if app == "sms":
                        heapq.heappush(self._sms_queue,
                                       (time.monotonic(), next(self._seq), delivery))
                        self._lock.notify_all()
                if app == "calls":
                    threading.Thread(target=self._call_job, args=(delivery,), daemon=True).start()

    def _held(self, app: str) -> bool:
        return not self.internet and self.internet_required[app]

    def _sms_loop(self) -> None:
        """SMSGate's queue: one delivery at a time, the earliest due first."""
        while True:
            with self._lock:
                while not self._stopping and (self._held("sms") or not self._sms_queue
                                              or self._sms_queue[0][0] > time.monotonic()):
                    wait = (self._sms_queue[0][0] - time.monotonic()
                            if self._sms_queue and not self._held("sms") else 0.05)
                    self._lock.wait(max(0.001, wait))
                if self._stopping:
                    return
                _, _, delivery = heapq.heappop(self._sms_queue)
            ok = self._post(delivery)
            with self._lock:
                delivery.attempts += 1
                if not ok and delivery.attempts < delivery.limit:
                    due = time.monotonic() + (self.retry_scale * SMS_BACKOFF
                                              * 2 ** (delivery.attempts - 1))
                    heapq.heappush(self._sms_queue, (due, next(self._seq), delivery))
                else:
                    self._done(delivery)
                self._lock.notify_all()

    def _call_job(self, delivery: Delivery) -> None:
        """One CallGate WorkManager job: attempts while runAttemptCount < retryCount."""
        while True:
            with self._lock:
                while self._held("calls") and not self._stopping:
                    self._lock.wait(0.05)
                if self._stopping:
                    return
            ok = self._post(delivery)
            with self._lock:
                delivery.attempts += 1
                done = ok or delivery.attempts >= delivery.limit
                if done:
                    self._done(delivery)
                self._lock.notify_all()
            if done:
                return
            delay = self.retry_scale * CALL_BACKOFF * 2 ** (delivery.attempts - 1)
            with self._lock:
                if self._lock.wait_for(lambda: self._stopping, delay):
                    return

    def _done(self, delivery: Delivery) -> None:
        self._pending -= 1
        self._in_flight.pop(id(delivery), None)

    def _post(self, delivery: Delivery) -> bool:
        """One attempt; True for 2xx (S ...WebhookQueueProcessorWorker.kt:305-335, C
        ...SendWebhookWorker.kt:132-139)."""
        if self.offline or self.lose_webhooks:
            self.log.append((delivery.event, "offline" if self.offline else "lost"))
            return self.lose_webhooks and not self.offline
        # Unix seconds (PayloadSingingPlugin.kt:25)
        timestamp = str(int(time.time() + self.sign_skew))
        request = urllib.request.Request(delivery.url, data=delivery.body, method="POST", headers={
            "Content-Type": "application/json; charset=UTF-8",
            "User-Agent": USER_AGENTS[delivery.app], "X-Timestamp": timestamp,
            "X-Signature": sign(self.keys[delivery.app], delivery.body, timestamp)})
        try:
            with urllib.request.urlopen(request, timeout=POST_TIMEOUT) as answer:
                status = answer.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (OSError, ValueError):
            status = 0
        self.log.append((delivery.event, str(status)))
        return 200 <= status < 300


# -- HTTP ------------------------------------------------------------------------------------------
def _handler(gateway: FakeGateway, app: str):
    class Handler(BaseHTTPRequestHandler):
        server_version = "Ktor/2.2.4"
        protocol_version = "HTTP/1.0"

        def log_message(self, *args):
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
            status, body, headers = self._answer(method, parts, raw)
            gateway.requests.append((app, method, self.path, status))
            if gateway.drop_responses:
                gateway.drop_responses -= 1
                self.close_connection = True
                return  # it happened; the answer is lost
            payload = b"" if body is None else (
                body if isinstance(body, bytes) else rules.gson(body))
            try:
                self.send_response(status)
                if body is not None and "Content-Type" not in headers:
                    headers["Content-Type"] = "application/json; charset=UTF-8"
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except OSError:  # the client went away (a killed daemon): the phone shrugs
                self.close_connection = True

        def _answer(self, method, parts, raw):
            if not (app == "sms" and parts.path == "/health") and not self._authorised():
                # Ktor's basic auth challenge: 401, no body.
                return 401, None, {"WWW-Authenticate":
                                   f'Basic realm="{rules.REALMS[app]}", charset=UTF-8'}
            for verb, pattern, action in (SMS_ROUTES if app == "sms" else CALL_ROUTES):
                match = re.fullmatch(pattern, parts.path)
                if verb != method or not match:
                    continue
                body = None
                if method == "POST":
                    kind = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
                    if kind != "application/json":
                        # Ktor ContentNegotiation has no converter for it (library behaviour).
                        return 415, None, {}
                    try:
                        body = json.loads(raw) if raw else None
                    except ValueError:
                        body = _NOT_JSON
                query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                try:
                    return action(gateway, app, body, query, *map(unquote, match.groups()))
                except Refusal as refusal:
                    return refusal.status, refusal.body(), {}
            return 404, None, {}  # Ktor: no route, 404 with no body

        def _authorised(self) -> bool:
            user, password = gateway.passwords[app]
            given = self.headers.get("Authorization", "")
            if not given.startswith("Basic "):
                return False
            try:
                name, _, secret = base64.b64decode(given[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return False
            # S modules/localserver/WebService.kt:86-95, C modules/server/WebService.kt:73-82
            return hmac.compare_digest(name, user) and hmac.compare_digest(secret, password)

    return Handler


_NOT_JSON = object()


def _body(body, klass: str):
    if body is _NOT_JSON:
        raise Refusal(400, f"Failed to convert request body to {klass}")
    return body


# -- SMSGate routes (S modules/localserver/WebService.kt:139-211) ---------------------------------
def _health(gw, app, body, query):
    with gw._lock:
        hour = gw.now() - 3600
        done = [m for m in gw.messages.values() if (m.get("processedAt") or 0) >= hour]
    failed = sum(rules.message_state(m["recipients"]) == "Failed" for m in done)
    status, answer = rules.health(battery=gw.battery, charging=gw.charging, internet=gw.internet,
                                  transport=gw.transport, failed_hour=failed,
                                  processed_hour=len(done) - failed, version=VERSION,
                                  release=RELEASE)
    return status, answer, {}


def _root(gw, app, body, query):
    # S modules/localserver/WebService.kt:152-154
    return 200, {"status": "ok", "model": gw.model}, {}


def _post_message(gw, app, body, query):
    request = rules.check_post_message(_body(body, rules.POST_CLASS), query, now=gw.now(),
                                       device_id=gw.device_id)
    with gw._lock:
        message_id = request["id"] or nanoid()           # S ...MessagesRoutes.kt:168
        if message_id in gw.messages:                    # the id is the table's primary key
            # S ...MessagesService.kt:132-136
            raise Refusal(409, "Message with the same ID already exists")
        message = {**request, "id": message_id, "states": {},
                   "recipients": [{"phoneNumber": n, "state": "Pending"}
                                  for n in request["phoneNumbers"]]}
        gw.messages[message_id] = message
        gw.posts += 1
        # 202 with the row as built, before any state is recorded: states {} (S
        # data/entities/MessageWithRecipients.kt:18, S ...MessagesRoutes.kt:195-198)
        answer = rules.message_view(message, device_id=gw.device_id, include_content=True,
                                    tz=gw.tz)
        message["states"] = {"Pending": gw.now()}
    if gw.auto_send:
        threading.Thread(target=gw._process, args=(message_id,), daemon=True).start()
    return 202, answer, {}


def _get_message(gw, app, body, query, message_id):
    with gw._lock:
        message = gw.messages.get(message_id)
        if message is None:
            return 404, None, {}                         # S ...MessagesRoutes.kt:205-207
        return 200, rules.message_view(message, device_id=gw.device_id, include_content=True,
                                       tz=gw.tz), {}


def _list_messages(gw, app, body, query):
    state = query.get("state") or None                   # S ...MessagesRoutes.kt:55-56
    if state is not None and state not in rules.STATES:
        raise Refusal(400, f"No enum constant me.capcom.smsgateway.domain.ProcessingState.{state}")
    content = query.get("includeContent")
    if content is not None and content not in ("true", "false"):
        raise Refusal(400, "includeContent must be true or false")          # :59-67
    limit, offset = rules._int_or(query.get("limit"), 50), rules._int_or(query.get("offset"), 0)
    with gw._lock:
        found = [m for m in reversed(list(gw.messages.values()))
                 if state in (None, rules.message_state(m["recipients"]))]
        page = [rules.message_view(m, device_id=gw.device_id, include_content=content == "true",
                                   tz=gw.tz) for m in found[offset:offset + limit]]
    return 200, page, {"X-Total-Count": str(len(found))}                   # :117


def _cancel_message(gw, app, body, query, message_id):
    with gw._lock:
        message = gw.messages.get(message_id)
    if message is None:
        return 404, None, {}                             # S ...MessagesRoutes.kt:229-231
    state = rules.message_state(message["recipients"])
    if state != "Cancelled":
        if state != "Pending":   # S modules/messages/MessagesService.kt:102-104
            raise Refusal(400, f"Message {message_id} is not in Pending state")
        for r in message["recipients"]:
            r["state"] = "Cancelled"
        message["states"]["Cancelled"] = gw.now()
    return 200, rules.message_view(message, device_id=gw.device_id, include_content=False,
                                   tz=gw.tz), {}


def _inbox(gw, app, body, query):
    q = rules.check_inbox_query(query, now=gw.now(), device_id=gw.device_id)
    with gw._lock:
        page, total = rules.select_inbox(gw.inbox, q)
        answer = [rules.inbox_view(i, include_attachments=q["attachments"], tz=gw.tz) for i in page]
    return 200, answer, {"X-Total-Count": str(total)}   # S ...InboxRoutes.kt:148-150


def _attachment(gw, app, body, query, item_id, part):
    """S modules/localserver/routes/InboxRoutes.kt:153-177."""
    try:
        part_id = int(part)
    except ValueError:
        raise Refusal(400, "partId must be a number") from None
    with gw._lock:
        item = next((i for i in gw.inbox if i["id"] == item_id), None)
        found = next((a for a in (item or {}).get("stored", []) if a["partId"] == part_id), None)
    if found is None:
        return 404, None, {}
    name = re.sub(r'[\r\n"\\]', "_", found["name"] or "attachment")
    return 200, found["data"], {"Content-Type": found["contentType"],
                                "Content-Disposition": f'attachment; filename="{name}"'}


def _list_hooks(gw, app, body, query):
    with gw._lock:
        return 200, list(gw.webhooks[app].values()), {}


def _add_hook(gw, app, body, query):
    hook = rules.check_webhook(app, _body(body, rules.HOOK_CLASS[app]), device_id=gw.device_id,
                               insecure=gw.insecure)
    hook["id"] = hook["id"] or nanoid()
    with gw._lock:
        # upsert by id (S modules/webhooks/db/WebHooksDao.kt:27-28)
        gw.webhooks[app][hook["id"]] = hook
    return 201, hook, {}


def _delete_hook(gw, app, body, query, hook_id):
    with gw._lock:
        gw.webhooks[app].pop(hook_id, None)    # 204 whether or not it was there
    return 204, None, {}


# -- CallGate routes (C modules/server/WebService.kt:114-125) --------------------------------------
def _dial(gw, app, body, query):
    body = _body(body, "class app.callgate.android.modules.server.domain.PostCallsRequest")
    number = ((body or {}).get("call") or {}).get("phoneNumber")
    if not isinstance(number, str):
        raise Refusal(400, "Failed to convert request body to "
                           "class app.callgate.android.modules.server.domain.PostCallsRequest")
    # C modules/server/routes/CallsRoutes.kt:30-36
    return 200, {"call": {"phoneNumber": number}}, {}


def _hang_up(gw, app, body, query):
    return 404, {"message": "No ringing or active call"}, {}   # C ...CallsRoutes.kt:38-46 (idle)


SMS_ROUTES = (
    ("GET", r"/health", _health),
    ("GET", r"/", _root),
    ("POST", r"/messages?", _post_message),
    ("GET", r"/messages?", _list_messages),
    ("GET", r"/messages?/([^/]+)", _get_message),
    ("DELETE", r"/messages?/([^/]+)", _cancel_message),
    ("GET", r"/inbox", _inbox),
    ("GET", r"/inbox/([^/]+)/attachments/([^/]+)", _attachment),
    ("GET", r"/webhooks?", _list_hooks),
    ("POST", r"/webhooks?", _add_hook),
    ("DELETE", r"/webhooks?/([^/]+)", _delete_hook),
)
CALL_ROUTES = (
    ("POST", r"/api/v1/calls", _dial),
    ("DELETE", r"/api/v1/calls", _hang_up),
    ("GET", r"/api/v1/webhooks", _list_hooks),
    ("POST", r"/api/v1/webhooks", _add_hook),
    ("DELETE", r"/api/v1/webhooks/([^/]+)", _delete_hook),
)


# -- by hand: `python -m gateway.simulator.phone` --------------------------------------------------
COMMANDS = """commands, one a line:
  call missed|answered|declined|unknown|waiting|lost_end NUMBER   a call as CallGate posts it
  sms NUMBER TEXT...             a text arrives      mms NUMBER FILE [TEXT...]   a picture message
  battery PERCENT | internet on|off | fail NUMBER REASON... | quit"""


def main(argv=None) -> None:
    """The fake phone on fixed ports, driven from the terminal: try `textback run` on it."""
    import argparse
    import mimetypes
    import shlex
    from pathlib import Path

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--sms-port", type=int, default=8080)
    parser.add_argument("--calls-port", type=int, default=8084)
    args = parser.parse_args(argv)
    gw = FakeGateway(sms_port=args.sms_port, calls_port=args.calls_port).start()
    (_, password), (_, calls_password) = gw.passwords["sms"], gw.passwords["calls"]
    print(f'A fake phone ({gw.model}). In textback.toml:\n[modem]\nport = "android"\n[phone]\n'
          f'url_sms = "{gw.url_sms}"\nurl_calls = "{gw.url_calls}"\npassword = "{password}"\n'
          f'calls_password = "{calls_password}"\nsigning_key = "{gw.signing_key}"\nadb = false\n\n'
          + COMMANDS, flush=True)
    try:
        for line in iter(input, "quit"):
            words = shlex.split(line)
            try:
                if words[:1] == ["call"]:
                    gw.play(words[1], words[2] if len(words) > 2 else "+15125550142")
                elif words[:1] == ["sms"]:
                    gw.receive_sms(words[1], " ".join(words[2:]))
                elif words[:1] == ["mms"]:
                    kind = mimetypes.guess_type(words[2])[0] or "application/octet-stream"
                    gw.receive_mms(words[1], [{"contentType": "text/plain",
                                               "text": " ".join(words[3:])},
                                              {"contentType": kind, "name": Path(words[2]).name,
                                               "data": Path(words[2]).read_bytes()}])
                elif words[:1] == ["battery"]:
                    gw.battery = int(words[1])
                elif words[:1] == ["internet"]:
                    gw.internet = words[1] == "on"
                elif words[:1] == ["fail"]:
                    gw.outcomes[words[1]] = ("Failed", " ".join(words[2:]) or "Send result: "
                                             "RESULT_ERROR_GENERIC_FAILURE")
                elif words:
                    print(COMMANDS)
                    continue
                print("ok", flush=True)
            except (IndexError, KeyError, ValueError, OSError) as exc:
                print(f"not done: {exc!r}\n{COMMANDS}", flush=True)
    except (EOFError, KeyboardInterrupt):
        pass
    finally:
        gw.stop()
        print(f"texts the phone was asked to send: {len(gw.messages)}")


if __name__ == "__main__":
    main()
