"""The daemon loop: one path for live runs, the demo, replays and tests.

Only the port and the clock differ between them. Each pass: hand queued modem lines to the call
tracker, fire its timeouts, poll AT+CLCC when it asks, send what the outbox says is due, then block
until the next deadline or the next byte from the modem.
"""
from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Callable

from . import events as ev
from .errors import AtError, CommandTimeout, ModemGone

log = logging.getLogger(__name__)

Sink = Callable[[dict], None]
HEARTBEAT_EVERY = 30.0  # seconds between heartbeats in the store (textback status reads it)
# Seconds between attempts to reopen a lost modem: quick at first (a USB re-plug or a modem reboot
# takes 10-30 s, modem-behaviour.md "Boot timing"), then once a minute.
RECONNECT_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


@dataclass
class Counters:
    calls: int = 0
    missed: int = 0
    texts_sent: int = 0
    texts_failed: int = 0
    skipped: int = 0
    retries: int = 0
    by_reason: dict = field(default_factory=dict)


class Daemon:
    def __init__(self, config, store, clock, open_port: Callable[[], object], *,
                 sink: Sink | None = None, family: str | None = None) -> None:
        from . import policy, render

        self.config = config
        self.store = store
        self.clock = clock
        self.open_port = open_port
        self.sink = sink or (lambda record: None)
        self.family = family or config.modem.family
        self.rules = policy.Rules(
            timezone=config.business.timezone, hours=config.hours,
            cooldown=config.policy.cooldown, delay=config.policy.delay,
            daily_cap=config.policy.daily_cap, blocklist=config.policy.blocklist,
            contacts=config.policy.contacts, text_rejected=config.policy.text_rejected,
            text_unknown=config.policy.text_unknown)
        self.templates = render.load_templates(config.templates_dir)
        self.counters = Counters()
        self.session = None
        self.tracker = None
        self.info = None
        self.stopping = False
        self.stop_reason: str | None = None
        self._next_heartbeat = 0.0

    # -- wiring ----------------------------------------------------------------------------------
    def connect(self) -> None:
        from . import families
        from .calls import CallTracker
        from .modem import Session

        port = self.open_port()
        self.session = Session(port, self.clock)
        self.info = self.session.initialise(family=self.family, pin=self.config.modem.pin)
        self.tracker = CallTracker(families.get(self.info.family))
        self.store.set_state("modem", f"{self.info.manufacturer} {self.info.model}".strip())
        self.emit("modem", family=self.info.family, model=self.info.model)

    def emit(self, kind: str, at: float | None = None, **fields) -> None:
        self.sink({"at": self.clock.now() if at is None else at, "event": kind, **fields})

    # -- the loop --------------------------------------------------------------------------------
    def run(self, until: float | None = None) -> Counters:
        """Run until `until` (epoch seconds on our clock), or until `stop()`.

        A modem that goes away (unplugged, rebooting, silent) is reopened with back-off; the outbox
        keeps what waited, and it goes out once the modem is back. A SIM that refuses (PIN, no SIM)
        is not retried: that needs a person, and retrying a PIN would lock the SIM.
        """
        failures = 0
        while not self.stopping and (until is None or self.clock.now() < until):
            try:
                if self.session is None:
                    self.connect()
                    failures = 0
                self.serve(until)
            except (ModemGone, CommandTimeout) as exc:
                wait = RECONNECT_BACKOFF[min(failures, len(RECONNECT_BACKOFF) - 1)]
                failures += 1
                self.disconnect(exc, wait)
                wake = self.clock.now() + wait
                self.clock.sleep(wake if until is None else min(wake, until))
        return self.counters

    def serve(self, until: float | None) -> None:
        while not self.stopping:
            now = self.clock.now()
            if until is not None and now >= until:
                break
            self.step(now)
            deadlines = [d for d in (self.tracker.next_deadline(), self.store.next_due_at(),
                                     until, self._next_heartbeat) if d is not None]
            self.session.poll(min(deadlines) if deadlines else None)
        self.drain()

    def disconnect(self, exc: Exception, wait: float) -> None:
        """One clear line, then let go of the port so that it can be opened afresh."""
        log.warning("modem lost (%s); trying again in %g s", getattr(exc, "message", exc), wait)
        self.emit("modem_lost", error=getattr(exc, "message", str(exc)), retry_in=wait)
        if self.session is not None:
            with contextlib.suppress(Exception):
                self.drain()  # lines that arrived before the loss still count
            with contextlib.suppress(Exception):
                self.session.port.close()
        self.session = None

    def stop(self, reason: str = "stop") -> None:
        self.stopping = True
        self.stop_reason = reason

    def step(self, now: float) -> None:
        self.drain()
        self.fire(self.tracker.tick(now))
        if self.tracker.poll_due(now):
            self.poll_calls(now)
        self.send_due()
        self.drain()
        if now >= self._next_heartbeat:
            self.store.set_state("heartbeat", f"{now:.3f}")
            self._next_heartbeat = now + HEARTBEAT_EVERY

    def drain(self) -> None:
        """Hand every queued modem line to the tracker, in arrival order."""
        urcs = self.session.urcs
        while urcs:
            at, line = urcs.popleft()
            events = self.tracker.feed(line, at)
            if not events and not self.tracker.known(line):
                log.debug("ignored line %r", line[:60])
            self.fire(events)

    def poll_calls(self, now: float) -> None:
        try:
            lines = self.session.command("AT+CLCC", prefix="+CLCC")
        except (AtError, CommandTimeout):
            lines = None
        self.fire(self.tracker.on_clcc(lines, self.clock.now()))

    def fire(self, events) -> None:
        for event in events:
            if isinstance(event, ev.CallRinging):
                self.emit("ringing", at=event.at, number=self._e164(event.number, event.number_type),
                          withheld=event.withheld)
            elif isinstance(event, ev.CallEnded):
                self.on_call_ended(event)

    # -- decisions -------------------------------------------------------------------------------
    def _e164(self, raw: str | None, type_: int | None) -> str | None:
        from .numbers import normalize

        return normalize(raw, type_, self.config.business.region)

    def on_call_ended(self, call: ev.CallEnded) -> None:
        from . import outbox, policy
        from .numbers import is_short_code

        now = self.clock.now()
        number = self._e164(call.number, call.number_type)
        key = f"{call.started:.3f}|{number or call.number or 'withheld'}"
        call_id, created = self.store.record_call(call, number, key=key, now=now)
        self.counters.calls += 1
        self.counters.missed += call.outcome == ev.MISSED
        log.info("call ended: %s after %d ring(s), decided by %s", call.outcome, call.rings, call.how)
        shown = number or call.number  # a short code has no E.164 form but is still a number
        self.emit("call", at=call.ended, number=shown, outcome=call.outcome, how=call.how, rings=call.rings,
                  withheld=call.withheld)
        if not created:
            return
        short = bool(call.number) and is_short_code(call.number, self.config.business.region)
        if number:
            facts = self.store.facts(number, now=now,
                                     day_start=policy.day_start(now, self.rules.timezone))
        else:
            facts = policy.Facts(opted_out=False, last_text_at=None, sent_today=0)
        decision = policy.decide(call, number, short_code=short, now=now, rules=self.rules, facts=facts)
        if not decision.send:
            self.store.set_call_action(call_id, "skipped", decision.reason)
            self.counters.skipped += 1
            reason = decision.reason or "skipped"
            self.counters.by_reason[reason.split(" (")[0]] = \
                self.counters.by_reason.get(reason.split(" (")[0], 0) + 1
            log.info("no text-back: %s", reason)
            self.emit("sms", to=shown, text=None, status="skipped", reason=reason)
            return
        body = self.render(decision.template, number)
        queued = self.store.queue_text(
            number=number, body=body, kind=decision.template,
            dedupe_key=outbox.dedupe_key("text_back", number, key),
            send_at=decision.send_at, now=now, call_id=call_id)
        if queued is not None:
            log.info("text-back queued (%s)", decision.template)
            self.emit("queued", to=number, template=decision.template, send_at=decision.send_at)

    def render(self, template: str, number: str | None) -> str:
        from . import render
        from .numbers import display

        business = self.config.business
        fields = {
            "company": business.name, "owner": business.owner,
            "business_phone": display(business.phone, business.region) if business.phone else "",
            "first_name": "", "caller": display(number, business.region) if number else "",
            "status": self.store.get_state("owner_status") or "",
        }
        return render.render(self.templates[template], fields)

    # -- sending ---------------------------------------------------------------------------------
    def send_due(self) -> None:
        from . import outbox

        for item in self.store.due(self.clock.now()):
            now = self.clock.now()
            self.store.mark_sending(item.id, now)  # committed before the modem sees a byte
            try:
                ref = self.send_text(item.number, item.body, item.id)
            except ModemGone:
                self.store.mark_retry(item.id, "modem gone", now, now)
                raise
            except (AtError, CommandTimeout) as exc:
                line = exc.line if isinstance(exc, AtError) else "timeout"
                attempts = item.attempts + 1
                code = exc.cms_code if isinstance(exc, AtError) else None
                if outbox.classify_cms(code) == "retry" and attempts < outbox.MAX_ATTEMPTS:
                    wait = outbox.backoff(attempts)
                    self.store.mark_retry(item.id, line, now + wait, now)
                    self.counters.retries += 1
                    log.warning("text not sent (%s); retry %d in %.0f s", line, attempts, wait)
                    self.emit("send_error", to=item.number, error=line, retry_in=wait)
                else:
                    self.store.mark_failed(item.id, line, now)
                    self.counters.texts_failed += 1
                    log.error("text failed for good: %s", line)
                    self.emit("sms", to=item.number, text=item.body, status="failed", reason=line)
            else:
                self.store.mark_sent(item.id, ref, self.clock.now())
                self.counters.texts_sent += 1
                log.info("text sent (ref %s)", ref)
                self.emit("sms", to=item.number, text=item.body, status="sent", ref=ref)

    def send_text(self, number: str, body: str, outbox_id: int) -> int | None:
        from gsmmodem.pdu import encodeSmsSubmitPdu

        # The concatenation reference only has to differ between messages in flight (23.040 9.2.3.24.1).
        pdus = encodeSmsSubmitPdu(number, body, reference=outbox_id % 256, requestStatusReport=False)
        first_ref = None
        for pdu in pdus:
            ref = self.session.send_pdu(pdu.tpduLength, pdu.data.hex().upper())
            first_ref = ref if first_ref is None else first_ref
        return first_ref
