"""The daily self-test: the box texts its own number and expects the text back within 2 minutes.

That one text proves sending, receiving and registration every day. The decisions are pure
(`Trial`): gateway.app.alive queues the text through the normal outbox, hands over what comes in,
and asks what to do. Some networks never deliver a text a SIM sends to its own number; when
sending works, texts from others arrive, and the self-text does not, twice in a row, the test
says so (in `doctor` and `status`) and counts sending alone, instead of failing every day.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta

WAIT = 120.0          # the text must be back within 2 minutes of being sent
SEND_WAIT = 600.0     # a test text not even sent after this: sending is broken
DROP_STREAK = 2       # self-texts lost, while others arrive, before we blame the network
MARK = "textback self-test"


def next_run(now: float, at: time, tz) -> float:
    """The next `at` (business time) strictly after `now`."""
    local = datetime.fromtimestamp(now, tz)
    day = local.date()
    for _ in range(3):
        candidate = datetime.combine(day, at, tz).timestamp()
        if candidate > now:
            return candidate
        day += timedelta(days=1)
    raise AssertionError("unreachable")


def body(token: str) -> str:
    return f"{MARK} {token}: this box checks it can send and receive. No reply needed."


def new_token() -> str:
    return secrets.token_hex(3)


@dataclass(frozen=True)
class Result:
    at: float
    ok: bool | None        # True passed, False failed, None: a note (network drops self-texts)
    detail: str

    def as_dict(self) -> dict:
        return {"at": self.at, "ok": self.ok, "detail": self.detail}


@dataclass
class Trial:
    """One self-test in progress."""

    token: str
    number: str
    queued_at: float
    sent_at: float | None = None
    send_error: str | None = None

    def is_echo(self, number: str | None, text: str) -> bool:
        return number == self.number and self.token in text

    def deadline(self) -> float:
        return (self.sent_at + WAIT) if self.sent_at is not None else self.queued_at + SEND_WAIT

    def verdict(self, now: float, *, received_others: bool, drop_streak: int,
                network_drops: bool) -> Result | None:
        """None while still waiting; else how it went. `received_others`: a text from someone
        else came in within the last week (receiving works); `drop_streak`: self-texts lost in
        a row before this one; `network_drops`: the network is known to drop them."""
        if self.send_error is not None:
            return Result(now, False, f"the test text could not be sent: {self.send_error}")
        if now < self.deadline():
            return None
        if self.sent_at is None:
            return Result(now, False, f"the test text was not sent within {SEND_WAIT / 60:.0f} "
                                      "minutes (no modem, no network?)")
        if network_drops:
            return Result(now, True, "sent (this network does not deliver texts to oneself, so "
                                     "only sending is tested)")
        if received_others and drop_streak + 1 >= DROP_STREAK:
            return Result(now, None, "this network does not deliver texts a SIM sends to its own "
                                     "number; from now on the self-test checks sending only")
        return Result(now, False, f"the test text was sent but did not come back within "
                                  f"{WAIT / 60:.0f} minutes (receiving texts may not work)")


def passed(now: float, trial: Trial) -> Result:
    took = now - (trial.sent_at if trial.sent_at is not None else trial.queued_at)
    return Result(now, True, f"sent and received back in {took:.0f} s")


# -- the daily routine, in the daemon's loop (gateway.app.alive) ---------------------------
RECEIVING_WINDOW = 7 * 86400.0   # a text from someone else this recent: receiving works


class Runner:
    """Queues the test text through the outbox (the normal send path), watches its outbox row,
    takes the echo out of the inbound texts, and records the verdict in the store."""

    def __init__(self, watch) -> None:
        self.w = watch
        self.d = watch.d
        self.at = self.d.config.selftest.at
        self.tz = self.d.config.business.timezone
        self.trial: Trial | None = None
        self.outbox_id: int | None = None
        self.next = next_run(self.d.clock.now(), self.at, self.tz)

    def own_number(self) -> str | None:
        return getattr(self.d.link, "own_number", None) or self.d.config.business.phone

    def next_deadline(self) -> float:
        return self.trial.deadline() if self.trial is not None else self.next

    def tick(self, now: float) -> None:
        if self.trial is None:
            if now >= self.next:
                self.start(now)
            return
        from .reports import outbox_state

        state = outbox_state(self.d.store, self.outbox_id) if self.outbox_id else None
        if state is not None:
            status, error, sent_at = state
            if status == "sent" and self.trial.sent_at is None:
                self.trial.sent_at = sent_at or now
            elif status == "failed":
                self.trial.send_error = error or "failed"
        store = self.d.store
        last_in = store.get_state("last_inbound_at")
        verdict = self.trial.verdict(
            now, received_others=bool(last_in) and now - float(last_in) < RECEIVING_WINDOW,
            drop_streak=int(store.get_state("selftest_drop_streak") or 0),
            network_drops=store.get_state("selftest_network_drops") == "1")
        if verdict is not None:
            self.finish(verdict)

    def start(self, now: float) -> None:
        import logging

        self.next = next_run(now, self.at, self.tz)
        number = self.own_number()
        if not number:
            self.record(Result(now, None, "not run: the SIM does not say its own number "
                                          "(AT+CNUM); set business.phone"))
            return
        token = new_token()
        self.outbox_id = self.d.store.queue_text(
            number=number, body=body(token), kind="selftest", dedupe_key=f"selftest|{token}",
            send_at=now, now=now, to_lead=False)
        self.trial = Trial(token=token, number=number, queued_at=now)
        logging.getLogger(__name__).info("self-test: texting the box's own number")

    def take(self, event) -> bool:
        """A text came in: the echo ends the trial; a late echo is dropped quietly (True)."""
        if MARK not in event.text:
            return False
        number = self.d.conversation.e164(event.number)
        if self.trial is not None and self.trial.is_echo(number, event.text):
            self.finish(passed(event.at, self.trial))
            return True
        return number is not None and number == self.own_number()

    def finish(self, result: Result) -> None:
        store, trial = self.d.store, self.trial
        self.trial, self.outbox_id = None, None
        lost = result.ok is not True and trial is not None and trial.sent_at is not None \
            and trial.send_error is None
        streak = int(store.get_state("selftest_drop_streak") or 0)
        store.set_state("selftest_drop_streak", str(streak + 1 if lost else 0))
        if result.ok is None and lost:
            store.set_state("selftest_network_drops", "1")
        self.record(result)
        if result.ok is False and trial is not None and trial.sent_at is not None:
            self.alert(result, trial)

    def record(self, result: Result) -> None:
        import json
        import logging

        self.d.store.set_state("selftest_last", json.dumps(result.as_dict()))
        self.d.emit("selftest", ok=result.ok, detail=result.detail)
        say = logging.getLogger(__name__)
        (say.info if result.ok else say.warning)("self-test %s: %s", {True: "passed", False:
                                                 "FAILED", None: "note"}[result.ok], result.detail)

    def alert(self, result: Result, trial: Trial) -> None:
        """Sending works (the test text went out): tell the owner by text."""
        owner = self.d.config.business.owner_phone
        if not owner:
            return
        now = self.d.clock.now()
        self.d.store.queue_text(number=owner, body=f"textback self-test failed: {result.detail}",
                                kind="owner_notice", dedupe_key=f"selftest-failed|{trial.token}",
                                send_at=now, now=now, to_lead=False)
