"""The contractor's own Android phone as the link: SMSGate sends and receives texts, CallGate tells
us about calls (docs/reference/phone-apps.md: every API point used, with the apps' source lines).
Same surface as the AT modem's link (gateway.link.Link).

The phone posts signed webhooks to a small HTTP receiver here (gateway.phone.webhooks), served on
the daemon's thread when `wait` sees its socket readable (no threads); call events go through the
journal (gateway.phone.journal) into the CallBook (gateway.phone.callbook), which decides calls.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from http.client import HTTPException
from pathlib import Path
from typing import TYPE_CHECKING, Callable
from urllib.parse import quote, urlsplit

from gateway import events as ev
from gateway.clock import epoch
from gateway.config import PhoneSettings
from gateway.errors import ModemError, ModemGone
from gateway.events import ModemInfo
from gateway.phone.api import CALL_EVENTS, SMS_EVENTS
from gateway.phone.callbook import WAITING, CallBook
from gateway.phone.journal import JOURNAL_KEEP, CallJournal
from gateway.phone.webhooks import Receiver

SIGNING_FIX = ("copy the signing key from SMSGate's and CallGate's Webhooks settings into [phone] "
               "signing_key (calls_signing_key for CallGate's, if it differs), then restart "
               "textback")

log = logging.getLogger(__name__)

HTTP_TIMEOUT = 5.0  # s per request to the phone; over USB or LAN an answer takes milliseconds
SEND_POLL = 0.5    # s between GET /messages/{id} while waiting (webhooks may be lost)
INBOX_POLL = 60.0  # s between GET /inbox looks (the safety net under sms:received)
INBOX_LOOKBACK = 600.0  # s of inbox read at connect: texts that came while we were away
SEEN_MAX = 5000    # event / message ids remembered for dedupe (SMSGate retries for ~2 days)
WAITING_MISSED = "call waiting: not picked up (the phone's call log)"
# s around a call in which its call-log entry is looked for (the phone stamps the ringing time)
LOG_WINDOW = 60.0
# A failure reason that no retry can fix (SMSGate's number check, docs/reference/phone-apps.md
# "Sending a text": the number does not parse or is not a mobile number). Anything else (no
# service, radio off, generic failure) may pass next time.
PERMANENT_REASONS = ("Invalid phone number",)


class PhoneLink:
    name = "phone"
    pin = ""   # the phone holds the SIM and its PIN

    def __init__(self, settings: PhoneSettings, clock, *,
                 wall: Callable[[], float] = time.time, journal: Path | None = None) -> None:
        self.settings = settings
        self.clock = clock
        self.wall = wall  # real time, for signature timestamps (the daemon's clock may be shifted)
        self.book = CallBook(settings.settle, settings.lost_end)
        self.receiver: Receiver | None = None
        self.info: ModemInfo | None = None
        self.problems: list = []                     # phoneapi.Problem from the last /health
        self._warning: str | None = None             # what the owner was last told ("" = fine)
        self._warning_fix = ""
        self._signature_warning = ""                 # webhooks refused for their signature
        self._bad_seen = 0
        self._out: list = []
        self._seen: OrderedDict = OrderedDict()      # webhook event ids and inbox ids
        self._sms_states: dict[str, tuple[str, str | None]] = {}
        self._next_inbox = 0.0
        self._next_health = 0.0
        self._inbox_since: float | None = None
        self._inbox_said: str | None = None          # the inbox refusal already logged
        self._call_log_warned = False  # one warning per run when the log cannot be read
        self.journal = CallJournal(journal) if journal else None
        self._replayed = False
        self._journal_since: float | None = None  # time of its oldest entry, for pruning

    # -- connection ------------------------------------------------------------------------------
    def _listen(self) -> Receiver:
        """The webhook receiver. A port another program holds (a second textback on this phone)
        is no lost phone to retry for ever: a ModemError, which stops the daemon with the reason
        (said once) instead of "phone lost (Address already in use)" every few seconds."""
        import errno

        s = self.settings
        try:
            return Receiver(s.listen_host, s.listen_port, [s.signing_key, s.calls_signing_key],
                            self.wall)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            raise ModemError(
                f"the webhook port {s.listen_host}:{s.listen_port} ([phone] listen_port) is taken "
                "by another program", hint="is another textback running for this phone? stop it "
                "(sudo systemctl stop textback), or give this one another listen_port") from None

    def connect(self) -> ModemInfo:
        s = self.settings
        if self.receiver is None:
            self.receiver = self._listen()
            self.receiver.keep = self._keep
        if not self._replayed:
            self._replay()
        if s.adb:
            from gateway.phone import adb

            ports = [_port(s.url_sms), _port(s.url_calls)]
            adb.link([(p, p) for p in ports], [(self.receiver.port, self.receiver.port)],
                     serial=s.adb_serial, keepalive=self.clock.keepalive)
        self._check_health()
        root = self._get("sms", "/")
        self._get("calls", "/api/v1/webhooks")
        url = s.webhook_url or f"http://127.0.0.1:{self.receiver.port}/webhook"
        self._register("sms", "/webhooks", SMS_EVENTS, url)
        self._register("calls", "/api/v1/webhooks", CALL_EVENTS, url)
        if self._inbox_since is None:
            self._inbox_since = self.wall() - INBOX_LOOKBACK
        self._next_inbox = 0.0
        self._next_health = self.clock.now() + self.settings.health_every
        if s.adb:
            self._out += self._call_log()
        self.info = ModemInfo("Android", str(root.get("model") or "phone"), "android")
        return self.info

    def _check_health(self) -> None:
        """GET /health. The app answers 500 when a check fails (battery under 10 %, no internet,
        every recent text failed): the phone still sends and posts, so that is a warning for
        the owner, not a lost phone. Only no answer at all is."""
        from gateway.phone.api import health_problems

        status, body = self._call("sms", "GET", "/health", auth=False)
        if status not in (200, 500):
            raise ModemGone(f"the phone answered {status} to GET /health: {_said(body)}",
                            hint="is it SMSGate's local server at phone.url_sms?")
        self.problems = health_problems(body)
        failing = [p for p in self.problems if p.failing]
        text = "; ".join(p.words for p in failing)
        if status == 500 and not text:
            text = f"the phone's health check fails ({_said(body)})"
        fix = "; ".join(dict.fromkeys(p.fix for p in failing)) or (
            "see the SMSGate app on the phone" if text else "")
        if text != self._warning:
            if text:
                log.warning("the phone works but needs attention: %s (%s)", text, fix)
            elif self._warning:
                log.info("the phone's health checks pass again")
            self._warning, self._warning_fix = text, fix
            self._publish()

    def _publish(self) -> None:
        """One LinkWarning for what the owner must hear: the refused signatures (nothing can
        work) before the phone's health (it still works)."""
        text = "; ".join(t for t in (self._signature_warning, self._warning) if t)
        fix = "; ".join(f for t, f in ((self._signature_warning, SIGNING_FIX),
                                       (self._warning, self._warning_fix)) if t and f)
        self._out.append(ev.LinkWarning(text, fix, self.clock.now(),
                                        failing=bool(self._signature_warning)))

    def _check_signatures(self) -> None:
        """Webhooks signed with another key than [phone] signing_key: every call and reply is
        refused, and no text-back goes out. Said once, in the log and in `textback status`, until
        one is accepted (then the refused ones were someone else's)."""
        r = self.receiver
        if r is None:
            return
        if r.bad_signatures > self._bad_seen and not r.accepted and not self._signature_warning:
            self._signature_warning = "webhooks refused: bad signature (check [phone] signing_key)"
            log.error("the phone's webhooks are refused: they are signed with another key than "
                      "[phone] signing_key; no call or reply gets through")
            self._publish()
        elif r.accepted and self._signature_warning:
            self._signature_warning = ""
            log.info("the phone's webhooks are accepted again")
            self._publish()
        self._bad_seen = r.bad_signatures

    def _read_call_log(self):
        """The phone's missed and declined calls (`calllog.parse`), or why they cannot be read
        (adb gone, or an older Android whose shell may not read the call log): a str."""
        from gateway.phone import adb, calllog

        try:
            said = adb.run(calllog.QUERY, serial=self.settings.adb_serial,
                           keepalive=self.clock.keepalive)
        except ModemGone as exc:
            said = f"{exc.message} {exc.hint or ''}"
        else:
            if not calllog.refused(said):
                return calllog.parse(said)
        return (said.strip().splitlines() or ["no answer"])[0][:160]

    def _call_log(self) -> list:
        """The phone's call log as one MissedLog: CallGate keeps no history, so this is how calls
        that rang while we were away are found. Unreadable (older Android) -> one warning, go on."""
        entries = self._read_call_log()
        if isinstance(entries, str):
            (log.debug if self._call_log_warned else log.warning)(
                "cannot read the phone's call log (%s): calls missed while textback was down "
                "will not be texted back", entries)
            self._call_log_warned = True
            return []
        from gateway.phone import calllog

        return [ev.MissedLog(calllog.missed(entries), self.clock.now())]

    def _keep(self, envelope: dict) -> None:
        """A call event, stamped with our time and written down before the phone hears 2xx."""
        if envelope.get("event") not in CALL_EVENTS:
            return
        envelope["_at"] = self.clock.now()
        if self.journal is not None:
            payload = envelope.get("payload") or {}
            at = envelope["_at"]
            self.journal.add({"id": envelope.get("id"), "event": envelope["event"],
                              "number": _number(payload), "at": at})
            if self._journal_since is None:
                self._journal_since = at
            elif at - self._journal_since > 2 * JOURNAL_KEEP:  # a daemon up for weeks: prune
                entries = self.journal.load(at)
                self.journal.rewrite(entries)
                self._journal_since = float(entries[0]["at"]) if entries else at

    def _replay(self) -> None:
        """Once per process: the call events a previous run accepted, back into the CallBook."""
        self._replayed = True
        if self.journal is None:
            return
        try:
            entries = self.journal.load(self.clock.now())
            self.journal.rewrite(entries)  # what is older than JOURNAL_KEEP goes
            self._journal_since = float(entries[0]["at"]) if entries else None
        except OSError as exc:
            log.warning("cannot read the call journal %s (%s); calls a crash cut short are not "
                        "recovered", self.journal.path, exc.strerror)
            return
        for entry in entries:
            if self._first_time(f"event:{entry.get('id')}"):
                self.book.feed(entry["event"], entry.get("number"), float(entry["at"]))
        if entries:
            log.info("%d call event(s) from before the restart played back", len(entries))

    def close(self) -> None:
        """Let go of the receiver port; what the call book holds stays (the phone still rings)."""
        if self.receiver is not None:
            self.receiver.close()
            self.receiver = None

    def _register(self, app: str, path: str, events: tuple, url: str) -> None:
        hooks = self._get(app, path)
        have = {(h.get("url"), h.get("event")) for h in hooks}
        for hook in hooks:  # ours, pointing somewhere we no longer listen
            if str(hook.get("id", "")).startswith("textback-") and hook.get("url") != url:
                self._call(app, "DELETE", f"{path}/{quote(hook['id'])}")
        for event in events:
            if (url, event) in have:
                continue
            status, body = self._call(app, "POST", path, {
                "id": "textback-" + event.replace(":", "-"), "url": url, "event": event})
            if status != 201:
                raise ModemGone(f"the phone refused the {event} webhook: {_said(body)}",
                                hint="check phone.webhook_url; it must be https:// or "
                                     "http://127.0.0.1 (USB with adb reverse)")

    # -- HTTP ------------------------------------------------------------------------------------
    def _call(self, app: str, method: str, path: str, body=None, *, auth: bool = True,
              raw: bool = False, limit: int = 1 << 20):
        s = self.settings
        self.clock.keepalive()  # each request may block HTTP_TIMEOUT s: the systemd watchdog
        base, user, password, what = (
            (s.url_sms, s.username, s.password, "SMSGate") if app == "sms"
            else (s.url_calls, s.calls_username, s.calls_password, "CallGate"))
        request = urllib.request.Request(base.rstrip("/") + path, method=method,
                                         data=None if body is None else json.dumps(body).encode())
        request.add_header("Content-Type", "application/json")
        if auth:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            request.add_header("Authorization", f"Basic {token}")
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as answer:
                status, data = answer.status, answer.read(limit + 1)
        except urllib.error.HTTPError as exc:
            status, data = exc.code, exc.read(limit + 1)
        except (OSError, HTTPException) as exc:
            raise ModemGone(f"{what} on the phone does not answer at {base} ({_reason(exc)})",
                            hint="is the phone plugged in (USB) or on the same network, and the "
                                 f"{what} app's server switched on?") from None
        if status == 401:
            key = "phone.password" if app == "sms" else "phone.calls_password"
            raise ModemGone(f"{what} refused the password in {key}",
                            hint=f"copy the password shown in the {what} app into {key}")
        if raw:
            return status, data
        try:
            return status, json.loads(data) if data else None
        except ValueError:
            return status, None

    def _get(self, app: str, path: str, *, auth: bool = True):
        status, body = self._call(app, "GET", path, auth=auth)
        if status != 200:
            raise ModemGone(f"the phone answered {status} to GET {path}: {_said(body)}",
                            hint="check that the gateway apps are running")
        return body

    # -- events ----------------------------------------------------------------------------------
    def events(self, now: float) -> list:
        if now >= self._next_health:
            self._next_health = now + self.settings.health_every
            self._check_health()
        if now >= self._next_inbox:
            self._poll_inbox()
            self._next_inbox = now + INBOX_POLL
        self._take()
        out, self._out = self._out, []
        decided = self.book.tick(now)
        if self.settings.adb and any(isinstance(call, ev.CallEnded) and call.how == WAITING
                                     for call in decided):   # CallPlaced: the owner's own call
            decided = self._check_waiting(decided)
        return out + decided

    def _check_waiting(self, decided: list) -> list:
        """Over USB the call log can tell what CallGate cannot: a call that rang while another
        was on, and was not picked up, is in the log as missed (or declined)."""
        from dataclasses import replace

        from gateway.phone import calllog

        entries = self._read_call_log()
        if isinstance(entries, str):
            log.debug("call log not read for a waiting call: %s", entries)
            return decided
        out = []
        for call in decided:
            found = (isinstance(call, ev.CallEnded) and call.how == WAITING and call.number
                     and calllog.find(entries, call.number, call.started - LOG_WINDOW,
                                      call.ended + LOG_WINDOW))
            out.append(replace(call, outcome=calllog.OUTCOMES[found[1]], how=WAITING_MISSED)
                       if found else call)
        return out

    def _take(self) -> None:
        """Serve waiting webhooks and sort what they carry: calls, texts in, send results."""
        if self.receiver is None:
            return
        self.receiver.serve_pending()
        self._check_signatures()
        at = self.clock.now()
        while self.receiver.received:
            envelope = self.receiver.received.pop(0)
            if not self._first_time(f"event:{envelope.get('id')}"):
                continue  # a retried delivery whose first copy we already took
            event, payload = envelope.get("event"), envelope.get("payload")
            payload = payload if isinstance(payload, dict) else {}
            if event in CALL_EVENTS:
                self._out += self.book.feed(event, _number(payload), envelope.get("_at", at))
            elif event == "sms:received":
                self._received(payload.get("messageId"), payload.get("sender")
                               or payload.get("phoneNumber"), payload.get("message"),
                               payload.get("receivedAt"), at)
            elif event in ("mms:received", "mms:downloaded"):
                self._picture(event, payload, at)
            elif event in ("sms:sent", "sms:delivered", "sms:failed"):
                state = {"sms:sent": "Sent", "sms:delivered": "Delivered"}.get(event, "Failed")
                self._sms_states[str(payload.get("messageId"))] = (state, payload.get("reason"))

    def _received(self, message_id, sender, text, when, at: float, attachments=(),
                  notice: bool = False) -> None:
        from gateway.phone.api import text_key

        if not isinstance(sender, str) or not sender or not isinstance(text, str):
            log.warning("a received text without a sender or a text was ignored")
            return
        sent_at = epoch(when)
        # The inbox and the webhook name one text by one hash (decimal there, hex here), made of
        # its sender, time to the millisecond and words: that name alone says "seen". (Two texts
        # alike in the same second are two texts; only one without any id falls back to them.)
        key = text_key(message_id) if isinstance(message_id, str) and message_id else \
            f"{sender}|{sent_at or 0:.0f}|{text}"
        if not self._first_time(f"sms:{key}"):
            return
        self._out.append(ev.SmsReceived(number=sender, text=text, at=at, sent_at=sent_at,
                                        handle=(message_id,), attachments=tuple(attachments),
                                        notice=notice))

    def _picture(self, event: str, payload: dict, at: float) -> None:
        """A picture message. mms:received is only its announcement (the phone's messaging app
        downloads it next, which needs mobile data): kept as a note, so that one the phone never
        downloads is not lost without a word. mms:downloaded carries the parts."""
        from gateway.phone.api import attachments, mms_inbox_id
        from gateway.render import human

        sender = payload.get("sender") or payload.get("phoneNumber")
        message_id = str(payload.get("messageId") or "")
        if event == "mms:received":
            size = payload.get("size")
            note = "[picture message: the phone has been told of it" + (
                f" ({human(size)})" if isinstance(size, int) else "") + " and downloads it next]"
            self._received(f"mms-notice:{message_id}", sender, note, payload.get("receivedAt"), at,
                           notice=True)
            return
        parts = attachments(payload, self.settings.photo_max_bytes)
        parts = [self._fetch(mms_inbox_id(message_id), part) if part.problem ==
                 "the phone sent no data for it" else part for part in parts]
        text = payload.get("body") or payload.get("subject") or ""
        self._received(f"mms:{message_id}", sender, text if isinstance(text, str) else "",
                       payload.get("receivedAt"), at, parts)

    def _fetch(self, inbox_id: str, part: ev.Attachment) -> ev.Attachment:
        """A part the webhook came without: asked for by its own route; if that fails too, the
        record keeps why."""
        from dataclasses import replace

        from gateway.render import human

        cap = self.settings.photo_max_bytes
        try:
            status, data = self._call("sms", "GET", f"/inbox/{quote(inbox_id)}/attachments/"
                                      f"{quote(part.part)}", raw=True, limit=cap)
        except ModemGone as exc:
            return replace(part, problem=f"the phone sent no data for it, and {exc.message}")
        if status != 200:
            return replace(part, problem=f"the phone sent no data for it, and answered {status} "
                                         f"when asked for it")
        if len(data) > cap:
            return replace(part, problem=f"too big to keep (over the {human(cap)} limit)")
        return replace(part, data=data, size=len(data), problem=None)

    def _first_time(self, key: str) -> bool:
        if key in self._seen:
            return False
        self._seen[key] = True
        while len(self._seen) > SEEN_MAX:
            self._seen.popitem(last=False)
        return True

    def _poll_inbox(self) -> None:
        """The safety net under sms:received. A refusal (our request is wrong, which no reconnect
        mends) is logged once and the link goes on; no answer at all is a lost phone."""
        from gateway.phone.api import app_date

        since = app_date(self._inbox_since or 0.0)   # (set at connect)
        status, items = self._call("sms", "GET", f"/inbox?type=SMS&limit=500&from={quote(since)}")
        if status != 200 or not isinstance(items, list):
            said = f"{status}: {_said(items)}"
            (log.debug if said == self._inbox_said else log.error)(
                "the phone refused the inbox read (%s); texts come by webhook only", said)
            self._inbox_said = said
            return
        at = self.clock.now()
        for item in reversed(items):  # oldest first
            if not isinstance(item, dict):
                continue
            self._received(item.get("id"), item.get("sender"), item.get("contentPreview"),
                           item.get("createdAt"), at)
            seen = epoch(item.get("createdAt"))
            if seen is not None:  # one minute back: a text stamped late is still read
                self._inbox_since = max(self._inbox_since or 0.0, seen - 60)

    def release(self, sms: ev.SmsReceived) -> None:
        """Recorded: nothing to delete, the text stays in the owner's Messages app."""

    # -- waiting and sending ---------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        due = [d for d in (self.book.next_deadline(), self._next_inbox, self._next_health)
               if d is not None]
        return min(due) if due else None

    def wait(self, deadline: float | None) -> None:
        if not self._out and self.receiver is not None:
            self.clock.wait(self.receiver.fileno(), deadline)

    def send_text(self, number: str, body: str, reference: int, *, key: str = "",
                  retry: bool = False) -> str:
        """POST /message, then follow it to Sent (its id) or Failed (SendFailed).

        The id is ours: "textback-" and `key`, which the daemon makes unique to this outbox row
        across databases (a re-imaged box, a restored backup on the same phone). If the phone took
        the text but its answer was lost, the retry gets 409 and follows the first one instead of
        sending it twice. A 409 is "ours" only when this row may have posted it before (`retry`)
        and the phone's copy is this text to this number; otherwise the id belongs to a text this
        database never sent, and the text goes under the next id, never taken as already sent.
        """
        if not key:
            key = f"{reference}-" + hashlib.sha256(f"{number}|{body}".encode()).hexdigest()[:10]
        base = f"textback-{key}"
        for attempt in range(1, 20):
            message_id = base if attempt == 1 else f"{base}-{attempt}"
            status, answer = self._call("sms", "POST", "/message", {
                "id": message_id, "textMessage": {"text": body}, "phoneNumbers": [number],
                "withDeliveryReport": True})
            if status == 409:
                answer = self._get("sms", f"/messages/{quote(message_id)}")
                if not (retry and _same(answer, number, body)):
                    log.warning("the phone already holds a text with id %s that this database "
                                "did not send; sending under the next id", message_id)
                    continue
                if _state(answer)[0] == "Failed":
                    continue  # that try failed for good: this retry is a new message
            elif status >= 500:
                raise ev.SendFailed(f"the phone answered {status}: {_said(answer)}", True)
            elif status != 202:
                raise ev.SendFailed(_said(answer), False)
            return self._follow(message_id, answer)
        raise ev.SendFailed("too many failed tries of this text", False)

    def _follow(self, message_id: str, message: dict) -> str:
        deadline = self.clock.now() + self.settings.send_wait
        next_poll = self.clock.now() + SEND_POLL
        state, reason = _state(message)
        while True:
            state, reason = self._sms_states.get(message_id, (state, reason))
            if state in ("Sent", "Delivered"):
                return message_id
            if state == "Failed":
                reason = reason or "the phone could not send it"
                raise ev.SendFailed(reason, not any(p in reason for p in PERMANENT_REASONS))
            now = self.clock.now()
            if now >= deadline:
                raise ev.SendFailed(f"the phone has not sent it after "
                                    f"{self.settings.send_wait:.0f} s (still {state})", True)
            if now >= next_poll:
                state, reason = _state(self._get("sms", f"/messages/{quote(message_id)}"))
                next_poll = now + SEND_POLL
                continue
            assert self.receiver is not None   # connected: send_text comes after connect()
            self.clock.wait(self.receiver.fileno(), min(next_poll, deadline))
            self._take()


def _number(payload: dict) -> str | None:
    """A call event's number: None for Android's copy without one (payload {}), "" withheld."""
    number = payload.get("phoneNumber")
    return number if isinstance(number, str) else None


def _same(message: dict | None, number: str, body: str) -> bool:
    """The phone's copy of a text is this text to this number (and no one else)."""
    message = message or {}
    recipients = message.get("recipients") or []
    return ((message.get("textMessage") or {}).get("text") == body
            and [r.get("phoneNumber") for r in recipients] == [number])


def _state(message: dict | None) -> tuple[str, str | None]:
    message = message or {}
    recipients = message.get("recipients") or [{}]
    return (recipients[0].get("state") or message.get("state") or "Pending",
            recipients[0].get("error"))


def _said(body) -> str:
    return (
        str(body.get("message")) if isinstance(body, dict) and body.get("message") else "no reason"
    )


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "reason", None) or exc) or type(exc).__name__


def _port(url: str) -> int:
    return urlsplit(url).port or 80


if TYPE_CHECKING:
    from gateway.link import Link

    def _a_link(link: PhoneLink) -> Link:  # mypy checks that PhoneLink is what the daemon needs
        return link
