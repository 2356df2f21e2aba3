"""Knowing the box is alive, run from the daemon's own loop: what needs a person
(`problems`, pure), the dead-man pings, the metrics file, the daily self-test, the backup's lag
and the modem reset when it stays unregistered.

The daemon calls `tick(now)` every pass, and while it naps without a modem; it waits no longer
than `next_deadline()`. Everything here writes to the store only what `textback status` shows.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from .. import ims
from ..events import Health

log = logging.getLogger(__name__)

NO_NETWORK_LIMIT = 900.0    # no network for more than 15 min needs a person
FAILED_IN_A_ROW = 3         # texts failed for good, none sent in between: sending is broken
QUEUE_STUCK = 900.0         # a text due this long and not sent (with the link up)
BACKUP_EVERY = 60.0         # s between looks at Litestream's last upload
KEEPALIVE = 60.0            # s of silence before the AT link is asked "AT" (gateway.at.link)
LINK_FIX = {"modem": "check its USB cable and power; textback keeps trying",
            "phone": "check the phone is on and plugged in, and SMSGate and CallGate run"}


@dataclass(frozen=True)
class Facts:
    """What the checks look at, gathered by Watch.facts() (kept apart so `problems` is pure)."""

    now: float
    link: str                     # "modem" or "phone"
    silent_since: float | None    # the link last answered then (None: it answers now)
    fail_after: float
    unregistered_since: float | None
    registration: str
    ims_problem: bool
    family: str
    failed_in_a_row: int
    stuck_since: float | None     # the oldest due text, while the link is up
    backup_lag: float | None
    backup_problem: str
    selftest: dict | None         # the last result


def problems(f: Facts) -> list[str]:
    """Each thing that needs a person now, in plain words (the /fail body, one a line)."""
    from ..backup import lag_problem
    from .reports import _span

    out = []
    if f.silent_since is not None and f.now - f.silent_since > f.fail_after:
        out.append(f"the {f.link} has not answered for {_span(f.now - f.silent_since)}: "
                   f"{LINK_FIX.get(f.link, 'check it')}")
    if f.unregistered_since is not None and f.now - f.unregistered_since > NO_NETWORK_LIMIT:
        out.append(f"no network for {_span(f.now - f.unregistered_since)} (the modem is "
                   f"{f.registration}): check the antenna and that the SIM's line is active")
    if f.ims_problem:
        out.append(f"{ims.NOT_REGISTERED}: {ims.fix_for(f.family)}")
    if f.failed_in_a_row >= FAILED_IN_A_ROW:
        out.append(f"texts are failing: the last {f.failed_in_a_row} could not be sent "
                   "(textback calls shows why; check the SIM's credit)")
    if f.stuck_since is not None and f.now - f.stuck_since > QUEUE_STUCK:
        out.append(f"texts are not going out: one has waited {_span(f.now - f.stuck_since)}")
    if f.backup_problem:
        out.append(f"the backup is not running: {f.backup_problem}")
    else:
        lagging = lag_problem(f.backup_lag)
        if lagging:
            out.append(lagging)
    if f.selftest and f.selftest.get("ok") is False:
        out.append(f"the daily self-test failed: {f.selftest['detail']}")
    return out


PIN_REFUSED = ("the SIM refused the PIN in the config (modem.pin); fix it there (textback does "
               "not try it again, so the SIM does not lock)")
_DBM = re.compile(r"(-?\d+) dBm")


def keepalive(fail_after: float) -> float:
    """Quiet seconds before the AT link asks "AT": often enough that a working modem is never
    silent for fail_after, rarely enough to leave it alone (at most once a minute)."""
    return min(KEEPALIVE, fail_after / 2)


class Watch:
    def __init__(self, daemon, *, send=None) -> None:
        self.d = daemon
        cfg = daemon.config
        self.health_settings = cfg.health
        self.fail_after = cfg.health.fail_after if cfg.health else 600.0
        self.started = daemon.clock.now()
        self.pinger = None
        if cfg.health is not None:
            from .healthping import Pinger, http_send

            self.pinger = Pinger(cfg.health, send=send or http_send)
        self.unregistered_since: float | None = None
        self.ims_down_since: float | None = None
        self.registration = "unknown"
        self.ims_problem = False
        self._sent_seen = self._failed_seen = 0
        self.failed_in_a_row = 0
        self._next_metrics = 0.0
        self._next_backup = 0.0
        self.backup_lag: float | None = None
        self._backup_since = self.started
        self._ping_said: tuple[float, bool] | None = None
        if hasattr(daemon.link, "keepalive"):
            daemon.link.keepalive = keepalive(self.fail_after)
        from .selftest import Runner

        self.selftest = Runner(self) if cfg.selftest is not None else None

    # -- hooks from the daemon -----------------------------------------------------------------
    def health(self, event: Health) -> None:
        """A periodic look at the network (gateway.at.link): registration and IMS."""
        now = event.at
        self.registration = event.registration
        if event.registered:
            self.unregistered_since = None
        elif self.unregistered_since is None:
            self.unregistered_since = now
        ims_state = getattr(event, "ims", None)
        lte = getattr(event, "lte", None)
        was = self.ims_problem
        self.ims_problem = ims.problem(event.registered, lte, ims_state)
        if self.ims_problem and self.ims_down_since is None:
            self.ims_down_since = now
        elif not self.ims_problem:
            self.ims_down_since = None
        store = self.d.store
        store.set_state("ims_registered", "" if ims_state is None else str(int(ims_state)))
        if self.ims_problem != was:
            family = getattr(getattr(self.d.link, "info", None), "family", "generic")
            store.set_state("ims_problem", f"{ims.NOT_REGISTERED}|{ims.fix_for(family)}"
                            if self.ims_problem else "")
            if self.ims_problem:
                log.warning("%s", ims.NOT_REGISTERED)

    def take_sms(self, event) -> bool:
        """A text came in: the self-test's echo is taken here (True), never made a lead."""
        if self.selftest is not None and self.selftest.take(event):
            return True
        self.d.store.set_state("last_inbound_at", f"{event.at:.0f}")
        return False

    def fatal(self, exc) -> None:
        """The daemon stops on an error a person must fix (a refused PIN, no SIM): say so once
        per reason and ping_every, before it exits (systemd restarts it every few seconds)."""
        if self.pinger is None:
            return
        from ..errors import PinRefused
        from .healthping import Ping

        # A refused PIN reads differently after a restart ("refused ... before"): one reason.
        said_why = PIN_REFUSED if isinstance(exc, PinRefused) else getattr(exc, "message", exc)
        reason = f"textback cannot run: {said_why}"
        now = self.d.clock.now()
        said = json.loads(self.d.store.get_state("health_fatal_sent") or "{}")
        every = self.pinger.settings.ping_every
        if said.get("reason") == reason and now - said.get("at", 0) < every:
            return
        ok = self.pinger.send_now(Ping("fail", reason), now)
        self.d.store.set_state("health_fatal_sent", json.dumps({"reason": reason, "at": now}))
        self._record_ping(now)
        log.warning("told the health check: %s (%s)", reason, "arrived" if ok else "not arrived")

    # -- the loop ------------------------------------------------------------------------------
    def tick(self, now: float) -> None:
        for step in (self._count_texts, self._backup, self._selftest, self._reset, self._ping,
                     self._metrics):
            try:
                step(now)
            except Exception as exc:  # noqa: BLE001 - one failed check must not stop the loop
                from ..errors import StoreError

                if isinstance(exc, StoreError):
                    raise
                log.error("the %s check failed (%s: %s)", step.__name__.strip("_"),
                          type(exc).__name__, exc)
                log.debug("the failure", exc_info=True)

    def next_deadline(self) -> float | None:
        found = [self._next_metrics if self.d.config.metrics else None,
                 self._next_backup if self.d.config.backup else None,
                 self.pinger.next_deadline() if self.pinger else None,
                 self.selftest.next_deadline() if self.selftest else None,
                 self._silence_deadline()]
        now = self.d.clock.now()
        due = [t for t in found if t is not None and t > now]   # a past one: handled by tick
        return min(due) if due else None

    def _silence_deadline(self) -> float | None:
        since = self.silent_since()
        return None if since is None or self.pinger is None else since + self.fail_after + 0.01

    def silent_since(self) -> float | None:
        """Since when the link has not answered; None while it answers."""
        heard = getattr(self.d.link, "last_heard", None)
        if self.d.connected:
            return heard    # the AT link is asked "AT" after keepalive() s of quiet
        if heard is not None:
            return heard
        return self.d._lost_since if self.d._lost_since is not None else self.started

    def facts(self, now: float) -> Facts:
        stuck = None
        if self.d.connected:
            due = self.d.store.next_due_at()
            stuck = due if due is not None and due < now else None
        last = self.d.store.get_state("selftest_last")
        family = getattr(getattr(self.d.link, "info", None), "family", "generic")
        return Facts(now=now, link=self.d.link.name, silent_since=self.silent_since(),
                     fail_after=self.fail_after, unregistered_since=self.unregistered_since,
                     registration=self.registration, ims_problem=self.ims_problem,
                     family=family, failed_in_a_row=self.failed_in_a_row, stuck_since=stuck,
                     backup_lag=self.backup_lag if self.d.config.backup else None,
                     backup_problem=(self.d.store.get_state("backup_problem") or "")
                     if self.d.config.backup else "",
                     selftest=json.loads(last) if last else None)

    def _count_texts(self, now: float) -> None:
        c = self.d.counters
        if c.texts_sent > self._sent_seen:
            self.failed_in_a_row = 0
        self.failed_in_a_row += c.texts_failed - self._failed_seen
        self._sent_seen, self._failed_seen = c.texts_sent, c.texts_failed

    def _ping(self, now: float) -> None:
        if self.pinger is None:
            return
        before = self.pinger.last
        self.pinger.tick(now, problems(self.facts(now)))
        last = self.pinger.last
        if last is not None and last is not before:
            ping = last.ping
            self.d.emit("health_ping", kind=ping.kind or "ok", reason=ping.body)
        self._record_ping(now)

    def _record_ping(self, now: float) -> None:
        if self.pinger is None:
            return
        last = self.pinger.last
        if last is None or last.ok is None:
            return
        said = (last.at, last.ok)
        if said != self._ping_said:
            self._ping_said = said
            self.d.store.set_state("health_last_ping", json.dumps(
                {"at": last.at, "fail": last.ping.kind == "fail", "ok": last.ok,
                 "detail": last.detail, "reason": last.ping.body[:500]}))

    def _backup(self, now: float) -> None:
        if self.d.config.backup is None or now < self._next_backup:
            return
        self._next_backup = now + BACKUP_EVERY
        synced = self.d.replica_sync(self.d.store.path)
        if synced is not None:
            self._backup_since = synced
            self.d.store.set_state("backup_last_sync", f"{synced:.3f}")
        from ..backup import lag

        self.backup_lag = lag(now, synced, self._backup_since)
        self.d.store.set_state("backup_lag", f"{self.backup_lag:.1f}|{now:.0f}")

    def _selftest(self, now: float) -> None:
        if self.selftest is not None:
            self.selftest.tick(now)

    def _reset(self, now: float) -> None:
        """One AT+CFUN=1,1 when the modem answers but has been unregistered (network or IMS) for
        10 minutes; at most once an hour, across restarts."""
        reset = getattr(self.d.link, "reset_modem", None)
        if reset is None or not self.d.connected:
            return
        down = [t for t in (self.unregistered_since, self.ims_down_since) if t is not None]
        if not down:
            return
        last = self.d.store.get_state("last_modem_reset")
        if not ims.should_reset(now, down_since=min(down) if down else None,
                                last_reset=float(last) if last else None):
            return
        why = "no network" if self.unregistered_since is not None else "IMS (VoLTE) unregistered"
        log.warning("the modem has been unregistered (%s) for %.0f min; resetting it once "
                    "(%s)", why, (now - min(down)) / 60, ims.RESET_COMMAND)
        self.d.store.set_state("last_modem_reset", f"{now:.0f}")
        self.d.emit("modem_reset", reason=why)
        reset()

    def _metrics(self, now: float) -> None:
        settings = self.d.config.metrics
        if settings is None or now < self._next_metrics:
            return
        self._next_metrics = now + 60.0
        from . import metrics

        try:
            text = metrics.render(metrics.collect(self.metric_facts(now)))
            metrics.write(settings.textfile, text)
        except OSError as exc:
            if self.d.store.get_state("metrics_error") != exc.strerror:
                log.error("cannot write the metrics file %s (%s)", settings.textfile, exc.strerror)
                self.d.store.set_state("metrics_error", exc.strerror or str(exc))
            return
        if self.d.store.get_state("metrics_error"):
            self.d.store.set_state("metrics_error", "")

    def metric_facts(self, now: float) -> dict:
        from .reports import alive_counts

        store = self.d.store
        signal = _DBM.search(store.get_state("signal") or "")
        ims_state = store.get_state("ims_registered")
        last = json.loads(store.get_state("selftest_last") or "null")
        ping = self.pinger.last if self.pinger else None
        return {**alive_counts(store), "connected": self.d.connected,
                "signal_dbm": int(signal.group(1)) if signal else None,
                "registered": None if store.get_state("registration") is None
                else self.unregistered_since is None,
                "ims": None if not ims_state else ims_state == "1",
                "backup_lag": self.backup_lag if self.d.config.backup else None,
                "selftest_ok": None if not last or last["ok"] is None else bool(last["ok"]),
                "selftest_at": last["at"] if last else None,
                "ping_ok": None if ping is None or ping.ok is None else ping.ok}
