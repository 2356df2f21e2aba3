"""The daemon loop: one path for live runs, the demo, replays and tests.

Only the link (AT modem or phone gateway) and the clock differ between them. Each pass: take the
link's events (calls ended, texts received) and decide on them (`conversation`), send what the
outbox says is due, then block until the next deadline or the next byte from the link.
"""
from __future__ import annotations

import hashlib
import logging
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from gateway import events as ev
from gateway.app.pacing import SAME_GAP, Pacer
from gateway.errors import (
    CommandTimeout,
    ModemError,
    ModemGone,
    PinRefused,
    StoreError,
    TextbackError,
)

if TYPE_CHECKING:
    from gateway.app.store import Store
    from gateway.clock import Clock
    from gateway.config import Config
    from gateway.link import Link

log = logging.getLogger(__name__)

Sink = Callable[[dict], None]
HEARTBEAT_EVERY = 30.0  # seconds between heartbeats in the store (textback status reads it)
CHORES_EVERY = 60.0     # seconds between looks for follow-ups and the morning digest
# Seconds between attempts to reopen a lost modem: quick at first (a USB re-plug or a modem reboot
# takes 10-30 s, docs/reference/modems.md, "Boot and restart"), then once a minute.
RECONNECT_BACKOFF = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
STORE_RETRY = 10.0  # seconds between tries to write a database that refused (full, locked)


@dataclass
class Counters:
    calls: int = 0
    missed: int = 0
    texts_sent: int = 0
    texts_failed: int = 0
    skipped: int = 0
    retries: int = 0
    received: int = 0
    dropped: int = 0                                    # events that could not be handled
    by_reason: dict = field(default_factory=dict)
    sent_by_kind: dict = field(default_factory=dict)    # texts sent, by kind (missed_call, ...)


def build(config: Config, store: Store, clock: Clock, link: Link, *,
          sink: Sink | None = None, notices: bool = True,
          replica_sync: Callable[[Path], float | None] | None = None) -> Daemon:
    """The daemon, wired the one way that `textback run`, the demo, replays, the tests and the
    benchmarks all use: only the link, the clock and where the records go (`sink`) differ.
    `notices`: tell the owner "textback is live" (a new config) or "was offline 2h10m" when the
    link is up; a replay of a transcript leaves them out. `replica_sync(db)`: when the backup
    (Litestream, run beside the daemon by the box) last copied the database, or None; live runs
    pass gateway.box.litestream's, which the app may not import."""
    return Daemon(config, store, clock, link, sink=sink, notices=notices,
                  replica_sync=replica_sync)


class Daemon:
    def __init__(self, config: Config, store: Store, clock: Clock, link: Link, *,
                 sink: Sink | None = None, notices: bool = True,
                 replica_sync: Callable[[Path], float | None] | None = None) -> None:
        from gateway.app.conversation import Conversation

        self.config = config
        self.store = store
        self.clock = clock
        self.link = link
        self.sink = sink or (lambda record: None)
        self.notices = notices
        self.replica_sync = replica_sync or (lambda db: None)
        self.counters = Counters()
        self.conversation = Conversation(config, store, clock, self.emit, self.counters)
        self.connected = False
        self.stopping = False
        self.stop_reason: str | None = None
        self.on_ready: Callable[[object], None] = lambda info: None
        self.on_pass: Callable[[], None] = lambda: None   # fed once a pass (systemd watchdog)
        self._next_heartbeat = 0.0
        self._next_chores = 0.0
        self._pending: deque = deque()
        self._lost_since: float | None = None
        self._install: str | None = None
        # one text a second at most, never the same words twice in 10 s (app/pacing)
        self.pacer = Pacer(store.sent_since(clock.now() - SAME_GAP))
        from .alive import Watch  # pings, metrics, self-test, backup lag, modem reset

        self.watch = Watch(self)

    def emit(self, event: str, at: float | None = None, **fields) -> None:
        self.sink({"at": self.clock.now() if at is None else at, "event": event, **fields})

    # -- the loop --------------------------------------------------------------------------------
    def run(self, until: float | None = None) -> Counters:
        """Run until `until` (epoch seconds on our clock), or until `stop()`.

        A link that goes away (unplugged, rebooting, silent) is reopened with back-off; the outbox
        keeps what waited, and it goes out once the link is back. A SIM that refuses (PIN, no SIM)
        is not retried: that needs a person, and retrying a PIN would lock the SIM.
        """
        failures = 0
        resumed = False
        self._note("stopped_at", "")   # running again: `textback status` must not say stopped
        while not self.stopping and (until is None or self.clock.now() < until):
            self.on_pass()  # also while the modem is away: the loop itself is alive
            try:
                if not resumed:
                    self.conversation.resume()  # decisions a crash cut short
                    resumed = True
                if not self.connected:
                    self.connect()
                    failures = 0
                self.serve(until)
            except (ModemGone, CommandTimeout) as exc:
                wait = RECONNECT_BACKOFF[min(failures, len(RECONNECT_BACKOFF) - 1)]
                failures += 1
                self.disconnect(exc, wait)
                self.nap(self.clock.now() + wait, until)
            except StoreError as exc:
                # Disk full, database locked or read-only: keep the modem session, send nothing
                # that cannot be recorded, keep what happened (the events stay pending), retry.
                log.error(
                    "cannot write the lead database (%s); texts wait until it can", exc.message
                )
                self.emit("store_error", error=exc.message)
                wake = self.clock.now() + STORE_RETRY
                if self.connected:
                    self.link.wait(wake if until is None else min(wake, until))
                else:
                    self.nap(wake, until)
            except TextbackError as exc:
                self._fatal(exc)  # the health check hears why, before we exit
                raise
            except Exception as exc:  # noqa: BLE001
                # Odd input the link could not digest (a line, a PDU) met a bug: the link's
                # state is suspect, so it is set up afresh, as after a lost modem. Texts wait.
                log.error("the %s link failed on unexpected input (%s: %s); setting it up again",
                          self.link.name, type(exc).__name__, exc)
                log.debug("the link failure", exc_info=True)
                wait = RECONNECT_BACKOFF[min(failures, len(RECONNECT_BACKOFF) - 1)]
                failures += 1
                self.disconnect(ModemGone(f"{type(exc).__name__}: {exc}"), wait)
                self.nap(self.clock.now() + wait, until)
        return self.counters

    def record_stop(self) -> None:
        """The process ends cleanly (SIGTERM, Ctrl-C): `textback status` says "stopped" at once,
        rather than "running" until the heartbeat is 90 s old. `run` clears it."""
        self._note("stopped_at", f"{self.clock.now():.3f}")
        self._note("stop_reason", self.stop_reason or "")

    def nap(self, wake: float, until: float | None) -> None:
        """Wait without a link (the clock's keepalive feeds the systemd watchdog meanwhile). The
        heartbeat goes on: the daemon is alive while its modem is away, and `textback status`
        must blame the modem, not the daemon."""
        wake = wake if until is None else min(wake, until)
        while not self.stopping and self.clock.now() < wake:
            now = self.clock.now()
            if now >= self._next_heartbeat:
                self._next_heartbeat = now + HEARTBEAT_EVERY
                self._note("heartbeat", f"{now:.3f}")
            due = [t for t in (wake, self._next_heartbeat, self.watch.next_deadline())
                   if t is not None]
            self.clock.sleep(max(now, min(due)))
            self.on_pass()
            self.watch.tick(self.clock.now())  # a lost modem is reported meanwhile

    def _fatal(self, exc: Exception) -> None:
        try:
            self.watch.fatal(exc)
        except Exception as problem:  # noqa: BLE001 - the original error is the one to show
            log.debug("could not tell the health check (%s)", problem)

    def _note(self, key: str, value: str) -> None:
        """A state row for `textback status`, written while something else is wrong (the modem
        away, a stop): a database that refuses it as well must not end the loop; the loop's own
        writes say so."""
        try:
            self.store.set_state(key, value)
        except StoreError as exc:
            log.debug("could not record %s (%s)", key, exc.message)

    def connect(self) -> None:
        pin = self.link.pin
        tried = hashlib.sha256(pin.encode()).hexdigest()[:16] if pin else None
        if tried and self.store.get_state("pin_refused") == tried:
            # A restart (systemd, a crash) must not try a refused PIN again: the SIM would lock.
            raise PinRefused(
                "the SIM refused this PIN (modem.pin) before; textback will not try it again",
                hint="put the right PIN in modem.pin, then start textback",
            )
        try:
            info = self.link.connect()
        except PinRefused:
            self.store.set_state("pin_refused", tried or "")
            self.store.set_state("problem", "the SIM refused the PIN in modem.pin")
            raise
        except ModemError as exc:
            if not isinstance(exc, (ModemGone, CommandTimeout)):
                self.store.set_state("problem", exc.message)
            raise
        self.connected = True
        if self._lost_since is not None:
            log.info("%s back after %.0f s", self.link.name, self.clock.now() - self._lost_since)
            self._lost_since = None
        self.store.set_state("link_lost_at", "")
        self.emit("modem", family=info.family, model=info.model)
        if self.notices:   # the owner hears of an outage, or that a new box is live
            self.conversation.connected(info)
        self.on_ready(info)
        self.store.set_state("problem", "")
        self.store.set_state("modem", f"{info.manufacturer} {info.model}".strip())
        # The owner's listings show clock times in the business's zone without loading the
        # config (they must start fast): the zone is kept in the store.
        self.store.set_state("timezone", _zone_key(self.config.business.timezone))

    def disconnect(self, exc: Exception, wait: float) -> None:
        """One clear line, then let go of the port so that it can be opened afresh."""
        message = getattr(exc, "message", str(exc))
        hint = getattr(exc, "hint", None)
        if self._lost_since is None:  # one clear line per outage; the retries go to DEBUG
            self._lost_since = self.clock.now()
            log.warning("%s lost (%s)%s; retrying with back-off, texts wait in the queue",
                        self.link.name, message, f" -> {hint}" if hint else "")
            self._note("link_lost_at", f"{self._lost_since:.3f}")
        else:
            log.debug("%s still away (%s); next try in %g s", self.link.name, message, wait)
        # What `textback status` says about the modem until it is back (the latest reason).
        self._note("link_lost", message)
        self._note("link_lost_fix", hint or "")
        self.emit("modem_lost", error=message, retry_in=wait)
        self.connected = False
        self.link.close()

    def serve(self, until: float | None) -> None:
        while not self.stopping:
            now = self.clock.now()
            if until is not None and now >= until:
                break
            self.step(now)
            self.on_pass()
            deadlines = [d for d in (self.link.next_deadline(), self.store.next_due_at(), until,
                                     self._next_heartbeat, self._next_chores,
                                     self.watch.next_deadline()) if d is not None]
            self.link.wait(min(deadlines) if deadlines else None)
        self.handle(self.link.events(self.clock.now()))

    def stop(self, reason: str = "stop") -> None:
        self.stopping = True
        self.stop_reason = reason

    def step(self, now: float) -> None:
        self.handle(self.link.events(now))
        self.send_due()
        self.handle(self.link.events(self.clock.now()))
        if now >= self._next_chores:
            try:
                self.conversation.chores(now)
            except TextbackError:
                raise
            except Exception as exc:  # noqa: BLE001 - one failed chore must not stop the loop
                log.error("the periodic chores failed (%s: %s); next try in %.0f s",
                          type(exc).__name__, exc, CHORES_EVERY)
                log.debug("the chores failure", exc_info=True)
            self._next_chores = now + CHORES_EVERY
        if now >= self._next_heartbeat:
            self.store.set_state("heartbeat", f"{now:.3f}")
            self._next_heartbeat = now + HEARTBEAT_EVERY
        self.watch.tick(now)  # pings, metrics, self-test, backup lag, modem reset

    def handle(self, events) -> None:
        """Act on events in order. One is dropped only once acted on: if the store fails half way,
        it and those after it wait for the next pass."""
        self._pending.extend(events)
        while self._pending:
            event = self._pending[0]
            try:
                self._act(event)
            except TextbackError:
                raise
            except Exception as exc:  # noqa: BLE001 - a poison event fails alone
                self.drop(event, exc)
            self._pending.popleft()

    def drop(self, event, exc: Exception) -> None:
        """An event that cannot be handled (a bug meeting odd input): one clear line, the reason
        kept in the store for `textback status`, and the loop goes on with the next one. A text
        that came in is released all the same: kept on the SIM it would fail at every start."""
        reason = f"{type(exc).__name__}: {exc}"
        kind = type(event).__name__
        log.error("could not handle a %s (%s); skipped it", kind, reason)
        log.debug("the %s that could not be handled", kind, exc_info=True)
        self.counters.dropped += 1
        record = {"event": kind, "reason": reason[:500]}
        if isinstance(event, ev.SmsReceived):
            record["text"] = event.text[:1000]  # the store is private; the log is not
        self.store.count_skipped(record, self.clock.now())
        self.emit("dropped", what=kind, reason=reason)
        if isinstance(event, ev.SmsReceived):
            self.link.release(event)

    def _act(self, event) -> None:
        if isinstance(event, ev.CallRinging):
            self.emit(
                "ringing",
                at=event.at,
                number=self.conversation.e164(event.number, event.number_type),
                withheld=event.withheld,
            )
        elif isinstance(event, ev.CallEnded):
            self.conversation.call_ended(event)
        elif isinstance(event, ev.Health):
            self.store.set_state("health_at", f"{event.at:.3f}")   # stale once the modem is lost
            self.watch.health(event)  # network and IMS for the dead-man switch
            self.store.set_state("signal", event.signal)
            self.store.set_state("registration", event.registration)
            if event.operator:
                self.store.set_state("operator", event.operator)
            self.store.set_state("problem", "" if event.registered else
                                 f"no network: the modem is {event.registration}")
            if not event.registered:
                log.warning("no network (%s); texts wait", event.registration)
        elif isinstance(event, ev.LinkWarning):
            if not event.text and not self.store.get_state("link_warning"):
                return  # all well, as it was: nothing to say
            self.store.set_state("link_warning", event.text)
            self.store.set_state("link_warning_fix", event.fix)
            self.store.set_state("link_warning_at", f"{event.at:.0f}")
            self.store.set_state("link_warning_failing", "1" if event.failing else "")
            self.emit("link_warning", at=event.at, text=event.text, fix=event.fix)
        elif isinstance(event, ev.CallPlaced):
            self.conversation.called_back(event.number, event.at, "you called them from the phone")
        elif isinstance(event, ev.MissedList):
            self.conversation.missed_while_away(event)
        elif isinstance(event, ev.MissedLog):
            self.conversation.missed_in_log(event)
        elif isinstance(event, ev.SmsReceived):
            if self.watch.take_sms(event):  # the self-test's own text came back
                self.link.release(event)
            elif self.conversation.text_received(event):
                self.link.release(event)  # recorded: now it may leave the SIM / phone

    # -- sending ---------------------------------------------------------------------------------
    def text_key(self, item) -> str:
        """A name for this outbox row that no other database uses: the phone link makes its
        message id of it, and the phone keeps ids for good (a re-imaged box or a restored backup
        counts its rows from the same numbers). This database's own random id, the row, and a
        digest of what it says and when it was queued."""
        if self._install is None:
            self._install = self.store.get_state("install_id")
            if not self._install:
                import secrets

                self._install = secrets.token_hex(4)
                self.store.set_state("install_id", self._install)
        digest = hashlib.sha256(f"{item.number}|{item.body}|{item.queued_at}".encode())
        return f"{self._install}-{item.id}-{digest.hexdigest()[:8]}"

    def send_due(self) -> None:
        from gateway.app import outbox
        from gateway.numbers import mask

        for item in self.store.due(self.clock.now()):
            now = self.clock.now()
            who = mask(item.number)
            refusal = self.conversation.refusal(item)
            if refusal:
                self.store.mark_failed(item.id, refusal, now)
                log.warning("text to %s not sent: %s", who, refusal)
                self.emit("sms", to=item.number, text=item.body, status="failed", reason=refusal,
                          kind=item.kind)
                continue
            hold = (self.conversation.hold(item, now)
                    or self.pacer.hold_until(item.number, item.body, now, item.id))
            if hold is not None:
                self.store.hold(item.id, hold)  # not an attempt: it waits its turn
                continue
            key = self.text_key(item)
            self.store.mark_sending(item.id, now)  # committed before the link sees a byte
            self.pacer.sent(item.number, item.body, now, item.id)
            try:
                ref = self.link.send_text(item.number, item.body, item.id, key=key,
                                          retry=item.attempts > 0)
            except ModemGone:
                self.store.mark_retry(item.id, "modem gone", now, now)
                raise
            except ev.SendFailed as exc:
                attempts = item.attempts + 1
                if exc.retry and attempts < outbox.MAX_ATTEMPTS:
                    wait = outbox.backoff(attempts)
                    self.store.mark_retry(item.id, exc.reason, now + wait, now)
                    self.counters.retries += 1
                    log.warning("text to %s not sent (%s); retry %d in %.0f s", who, exc.reason,
                                attempts, wait)
                    self.emit("send_error", to=item.number, error=exc.reason, retry_in=wait)
                else:
                    self.fail(item, exc.reason, now)
            except TextbackError:
                raise
            except Exception as exc:  # noqa: BLE001 - a poison text fails alone; the loop goes on
                log.debug("the text could not be sent", exc_info=True)
                self.fail(item, f"cannot be sent ({type(exc).__name__}: {exc})", now)
            else:
                self.store.mark_sent(item.id, ref, self.clock.now())
                self.counters.texts_sent += 1
                by_kind = self.counters.sent_by_kind
                by_kind[item.kind] = by_kind.get(item.kind, 0) + 1
                log.info("text sent (%s, ref %s) to %s", item.kind, ref, who)
                self.emit("sms", to=item.number, text=item.body, status="sent", ref=ref,
                          kind=item.kind)

    def fail(self, item, reason: str, now: float) -> None:
        """This text will not go out: recorded with its reason, and the loop goes on."""
        from gateway.numbers import mask

        self.store.mark_failed(item.id, reason, now)
        self.counters.texts_failed += 1
        log.error("text to %s failed for good: %s", mask(item.number), reason)
        self.emit("sms", to=item.number, text=item.body, status="failed", reason=reason,
                  kind=item.kind)


def _zone_key(tz) -> str:
    return getattr(tz, "key", None) or ""
