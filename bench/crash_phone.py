"""Crash test, Android phone transport: `kill -9` the real daemon while a burst of missed calls and
texts comes in through the fake SMSGate + CallGate (the second transport).

The harness owns a `FakeGateway` (the conformance fake: real loopback HTTP servers, signed webhooks
retried as the apps retry them: SMS 15 retries, calls one attempt per copy, each phone state posted
twice, numbers in national format) on threads of this process; the daemon is a real
subprocess, `textback run --config FILE --db FILE` with `[modem] port = "android"`, its webhook
receiver on one fixed port across restarts. A burst of missed calls (call:ringing, then call:ended
with no call:started, distinct numbers) and a few incoming texts (sms:received) is played while the
harness kills the daemon (SIGKILL, seeded RNG) and restarts it; then a clean final start lets late
retries land. Counted per call, from the fake's accepted POST /message and the SQLite store:

- texted once / twice (a duplicate: here the target is 0 even in the send window, because the
  message id is ours, `textback-{outbox row}-{digest}`, so a resend gets 409 and is followed);
- a reason recorded (calls.action skipped/failed);
- lost while down: never recorded, and every delivery of its call:ended failed (CallGate makes one
  attempt by default) because no daemon listened - the transport's limit, counted apart, with the
  failed deliveries as evidence from the fake's delivery log;
- lost after a daemon took it (2xx to call:ended) - a failure, tagged with the likely cause.

Each incoming text must end as exactly one message row (webhook retries 15 times, the inbox is read
at every connect). Kill moments: uniform, after a call:ended was accepted (the settle + record
window), after the fake took a POST /message (the send window), during start-up.

Compressed for a run (documented in the report): the fake's retry back-off (10 s for CallGate and
5 s for SMSGate on the phone; a tenth of that here) and [phone] call_timeout_seconds (90 s; 5 s here, so a ringing
whose call:ended never came is decided before the end of the run).
Long form: `.venv/bin/python bench/crash_phone.py --kills 200 --seed N` (writes bench/RESULTS.md);
the short form is tests/test_crash_phone.py.
"""
from __future__ import annotations

import argparse
import json
import random
import socket
import sqlite3
import statistics
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.crash import Process, aim, pct, pick, rounds, write_config  # noqa: E402
from gateway.numbers import normalize  # noqa: E402
from gateway.phone.api import CALL_EVENTS  # noqa: E402
from gateway.phone.callbook import SETTLE  # noqa: E402  (a call is decided at most this long after call:ended)
from gateway.simulator.phone import FakeGateway  # noqa: E402

CALL_TIMEOUT = 5.0           # [phone] call_timeout_seconds for the run (90 s by default)
RETRY_BASE = 1.0             # CallGate's webhook back-off base for the run (10 s on the phone)
READY_TIMEOUT = 15.0         # s for a fresh process to import, open the store and connect
CALL_LENGTH = 0.5            # s from call:ringing to call:ended in the burst
SENT = "text sent"           # gateway.app.daemon, after mark_sent committed
# Kill modes and their weights: (name, weight).
MODES = (("uniform", 5), ("after_end", 2), ("after_post", 2), ("startup", 1))


class WatchedGateway(FakeGateway):
    """The fake, with its delivery log per number and events for the moments worth killing at."""

    def __init__(self, retry_base: float = RETRY_BASE, **kwargs):
        super().__init__(retry_scale=retry_base / 10.0, **kwargs)
        self.deliveries: list[tuple[float, str, str, bool]] = []  # (t, event, number, accepted)
        self.accepted_posts: dict[str, float] = {}  # message id -> when the fake took it
        self.ready = threading.Event()    # a daemon finished connect and read the inbox
        self.ended = threading.Event()    # a call:ended delivery was answered 2xx
        self.posted = threading.Event()   # a POST /message was taken
        for server in self._servers.values():
            server.RequestHandlerClass = _watched(self, server.RequestHandlerClass)

    def _post(self, delivery) -> bool:
        ok = super()._post(delivery)
        envelope = json.loads(delivery.body)
        payload = envelope.get("payload") or {}
        number = payload.get("sender") or payload.get("phoneNumber") or ""
        number = normalize(number, None, "US") or number   # CallGate's is as the phone saw it
        self.deliveries.append((time.monotonic(), envelope["event"], number, ok))
        if ok and envelope["event"] == "call:ended":
            self.ended.set()
        return ok

    def _process(self, message_id: str) -> None:
        self.accepted_posts[message_id] = time.monotonic()
        self.posted.set()
        super()._process(message_id)

    def waiting(self) -> int:
        """Call and incoming-text webhooks still to be delivered (status webhooks do not count)."""
        return sum(1 for event in self.pending_events() if event in CALL_EVENTS + ("sms:received",))


def _watched(gateway: WatchedGateway, base):
    class Handler(base):
        def _route(self, method: str) -> None:
            super()._route(method)
            if method == "GET" and urlsplit(self.path).path == "/inbox":
                gateway.ready.set()   # connect is done and the receiver is bound: the loop runs
    return Handler


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_phone_config(folder: Path, gw: FakeGateway, listen_port: int) -> Path:
    path = write_config(folder, "android")
    (_, password), (_, calls_password) = gw.passwords["sms"], gw.passwords["calls"]
    with path.open("a") as out:
        out.write(f'\n[phone]\nurl_sms = "{gw.url_sms}"\nurl_calls = "{gw.url_calls}"\n'
                  f'password = "{password}"\ncalls_password = "{calls_password}"\n'
                  f'signing_key = "{gw.signing_key}"\nlisten_port = {listen_port}\nadb = false\n'
                  f'call_timeout_seconds = {CALL_TIMEOUT:g}\n')
    return path


@dataclass
class Report:
    seed: int
    calls: int
    texts_in: int = 0
    kills: int = 0
    modes: Counter = field(default_factory=Counter)
    texted_once: int = 0
    duplicates: int = 0                 # extra texts beyond one per number
    reason_no_text: int = 0             # recorded with a reason (skipped/failed)
    lost_recorded: list = field(default_factory=list)   # recorded, no text, no reason: FAILURE
    lost_taken: list = field(default_factory=list)      # (number, cause) a daemon took it: FAILURE
    lost_while_down: int = 0            # every call:ended delivery failed: the transport's limit
    down_attempts: Counter = field(default_factory=Counter)  # failed call:ended deliveries per such call
    inbound_once: int = 0
    inbound_lost: list = field(default_factory=list)    # FAILURE
    inbound_doubled: list = field(default_factory=list)  # FAILURE
    resent_after_crash: int = 0         # rows left 'sending' offered again (followed by 409, not resent)
    sending_at_kill: int = 0            # kills that left a row 'sending'
    window_ms: list = field(default_factory=list)  # fake took POST /message -> "text sent" logged
    restart_s: list = field(default_factory=list)  # spawn -> first GET /inbox
    wall_s: float = 0.0
    problems: list = field(default_factory=list)

    @property
    def failures(self) -> list:
        return (self.lost_recorded + self.lost_taken + self.inbound_lost + self.inbound_doubled
                + self.problems)


def _rows(db: Path, sql: str, params=()) -> list:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def _settled(db: Path, gw: WatchedGateway) -> bool:
    """No call or incoming text left to deliver, nothing queued or being sent, every call decided."""
    if gw.waiting():
        return False
    waiting = _rows(db, "SELECT count(*) FROM outbox WHERE status IN ('queued', 'sending')")[0][0]
    queued = _rows(db, "SELECT count(*) FROM calls WHERE action IN ('recorded', 'queued')")[0][0]
    return waiting == 0 and queued == 0


def plan_burst(calls: int, gap: float, every: int = 4) -> list[tuple[float, str, str, str]]:
    """(t, action, number, text): `calls` missed calls `gap` s apart from distinct numbers, and an
    incoming text from another number after every `every`-th call."""
    plan = []
    for i in range(calls):
        t, number = 0.5 + i * gap, f"+1512555{2000 + i:04d}"
        plan += [(t, "call:ringing", number, ""), (t + CALL_LENGTH, "call:ended", number, "")]
        if i % every == every - 1:
            plan.append((t + gap / 2, "sms", f"+1512555{3000 + i:04d}", f"Can you come today? #{i}"))
    return sorted(plan)


def play(gw: FakeGateway, plan, t0: float, stop: threading.Event) -> None:
    """The phone's side of the burst, on its own thread at the plan's pace (the experiment)."""
    for t, action, number, text in plan:
        if stop.wait(max(0.0, t0 + t - time.monotonic())):
            return
        if action == "sms":
            gw.receive_sms(number, text)
        else:
            gw.call_event(action, number)


def _wait_ready(proc: Process, gw: WatchedGateway, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gw.ready.wait(0.05):
            return time.monotonic()
        if proc.proc.poll() is not None:
            return None
    return None


def _settle(proc: Process, db: Path, gw: WatchedGateway, after: float, timeout: float) -> bool:
    """Until the work is done, nothing moved for a second, and `after` (monotonic) has passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            return False
        if time.monotonic() >= after and _settled(db, gw):
            seen = len(gw.deliveries), len(gw.accepted_posts)
            time.sleep(1.0)   # quiet for a second: nothing new delivered or sent
            if (len(gw.deliveries), len(gw.accepted_posts)) == seen and _settled(db, gw):
                return True
        else:
            time.sleep(0.1)
    return False


def run(*, kills: int, calls: int, gap: float, seed: int, folder: Path,
        retry_base: float = RETRY_BASE, restart_delay: float = 0.0, say=lambda text: None) -> Report:
    """One burst of `calls` missed calls `gap` s apart (and a text after every 4th), with about
    `kills` kills spread over it; fewer when the burst is over first (the report says how many).
    `restart_delay`: s between a kill and the next start (systemd's RestartSec=5 on the box)."""
    rng = random.Random(seed)
    plan = plan_burst(calls, gap)
    report = Report(seed=seed, calls=calls, texts_in=sum(1 for p in plan if p[1] == "sms"))
    last_end = plan[-1][0]
    folder.mkdir(parents=True, exist_ok=True)
    gw = WatchedGateway(retry_base=retry_base).start()
    config, db = write_phone_config(folder, gw, free_port()), folder / "crash.db"
    stop_burst = threading.Event()
    t0: list[float] = []
    lives: list[tuple[float, float]] = []   # (spawned, killed) per process, monotonic
    began = time.monotonic()
    budget = max(0.05, (last_end + 1.0) / max(1, kills) - 0.4)
    proc = None
    try:
        while True:
            gw.ready.clear()
            proc = Process(config, db)
            late = t0 and time.monotonic() - t0[0] >= last_end
            mode = pick(rng, MODES) if t0 and not late and report.kills < kills else None
            if mode == "startup":
                time.sleep(rng.uniform(0.0, 0.4))   # the experiment: a random moment
                if proc.proc.poll() is None:
                    lives.append((proc.started, proc.kill()))
                    _note_kill(db, report, mode)
                    proc.drain()
                    time.sleep(restart_delay)
                    continue
            ready = _wait_ready(proc, gw, READY_TIMEOUT)
            if ready is None:
                proc.drain()
                report.problems.append(f"daemon not ready within {READY_TIMEOUT} s: "
                                       f"{[line for _, line in proc.log][-5:]}")
                break
            report.restart_s.append(ready - proc.started)
            if not t0:
                t0.append(ready)
                threading.Thread(target=play, args=(gw, plan, ready, stop_burst),
                                 daemon=True).start()
            if time.monotonic() - t0[0] >= last_end or report.kills >= kills:
                break   # the burst is over: this daemon finishes the work
            while mode in (None, "startup"):
                mode = pick(rng, MODES)
            # A text is posted only once a call has been decided, SETTLE s after its end;
            # after_end: anywhere in the settle time, where the call lived only in memory.
            aim(rng, mode, budget, gw.ended if mode == "after_end" else gw.posted,
                timeout=2 * budget + 1.0 + (SETTLE if mode == "after_post" else 0),
                spread=SETTLE + 0.2 if mode == "after_end" else 0.03)
            lives.append((proc.started, proc.kill()))
            _note_kill(db, report, mode)
            proc.drain()
            report.window_ms += _windows(proc, gw)
            say(f"kill {report.kills:4d} {mode:10s} at t={lives[-1][1] - t0[0]:6.2f} s")
            time.sleep(restart_delay)
        if not report.problems:
            end = t0[0] + last_end + SETTLE + CALL_TIMEOUT + 1.0
            if not _settle(proc, db, gw, end, last_end + 90.0):
                report.problems.append("the daemon did not settle after the burst")
            proc.stop()
            lives.append((proc.started, time.monotonic()))
            report.window_ms += _windows(proc, gw)
            gw.ready.clear()
            proc = Process(config, db)   # the clean final start
            if _wait_ready(proc, gw, READY_TIMEOUT) is None:
                report.problems.append("the final start did not get ready")
            elif not _settle(proc, db, gw, time.monotonic() + SETTLE + retry_base, 60.0):
                report.problems.append("the final start did not settle")
            proc.stop()
            lives.append((proc.started, time.monotonic()))
            report.window_ms += _windows(proc, gw)
            proc = None
    finally:
        stop_burst.set()
        if proc is not None and proc.proc.poll() is None:
            lives.append((proc.started, proc.kill()))
        gw.stop()
    report.wall_s = time.monotonic() - began
    _judge(report, plan, gw, db, lives)
    return report


def _note_kill(db: Path, report: Report, mode: str) -> None:
    report.kills += 1
    report.modes[mode] += 1
    if db.exists():
        report.sending_at_kill += bool(_rows(db, "SELECT count(*) FROM outbox "
                                                 "WHERE status = 'sending'")[0][0])


def _windows(proc: Process, gw: WatchedGateway) -> list[float]:
    """ms from the fake taking each POST /message to the daemon logging it sent (by message id)."""
    out = []
    for t, line in proc.log:
        if SENT in line and "ref " in line:
            ref = line.rsplit("ref ", 1)[1].rstrip(")")
            if ref in gw.accepted_posts and t >= gw.accepted_posts[ref]:
                out.append((t - gw.accepted_posts[ref]) * 1000)
    return out


def _life(lives, t: float) -> tuple[float, float] | None:
    return next((life for life in lives if life[0] <= t <= life[1]), None)


def _judge(report: Report, plan, gw: WatchedGateway, db: Path, lives) -> None:
    texts = Counter(m["recipients"][0]["phoneNumber"] for m in gw.messages.values())
    calls: dict[str, list] = {}
    for number, action, reason in _rows(db, "SELECT number, action, reason FROM calls"):
        calls.setdefault(number, []).append((action, reason))
    report.resent_after_crash = int((_rows(db, "SELECT value FROM state WHERE key = "
                                           "'resent_after_crash'") or [(0,)])[0][0])
    for t, action, number, text in plan:
        if action == "sms":
            rows = _rows(db, "SELECT count(*) FROM messages WHERE direction = 'in' AND number = ? "
                             "AND body = ?", (number, text))[0][0]
            report.inbound_once += rows == 1
            if rows == 0:
                report.inbound_lost.append(number)
            elif rows > 1:
                report.inbound_doubled.append((number, rows))
        if action != "call:ended":
            continue
        sent, rows = texts[number], calls.get(number, [])
        report.duplicates += max(0, sent - 1)
        ends = [(when, ok) for when, event, who, ok in gw.deliveries
                if event == "call:ended" and who == number]
        taken = [when for when, ok in ends if ok]
        if sent:
            report.texted_once += 1
        elif any(r[0] in ("skipped", "failed") and r[1] for r in rows):
            report.reason_no_text += 1
        elif rows:
            report.lost_recorded.append((number, rows))
        elif not taken:
            report.lost_while_down += 1
            report.down_attempts[len(ends)] += 1
        else:
            report.lost_taken.append((number, _cause(taken[-1], number, gw, lives)))
    strangers = set(texts) - {number for _, action, number, _ in plan if action != "sms"}
    if strangers:
        report.problems.append(f"texts to numbers not in the burst: {sorted(strangers)}")


def _cause(taken: float, number: str, gw: WatchedGateway, lives) -> str:
    """Why a call:ended that a daemon answered 2xx left no row (evidence from the kill times)."""
    life = _life(lives, taken)
    rang = [when for when, event, who, ok in gw.deliveries
            if event == "call:ringing" and who == number and ok]
    if life and not any(life[0] <= when <= life[1] for when in rang):
        return "call:ended only: its call:ringing went to an earlier run (or was lost)"
    if life and life[1] - taken < SETTLE + 0.5:
        return f"killed {life[1] - taken:.2f} s after taking call:ended (before deciding)"
    return "daemon alive: unexplained"


def summary(report: Report) -> str:
    return (f"seed {report.seed}: {report.kills} kills ({dict(report.modes)}), {report.calls} calls: "
            f"{report.texted_once} texted once, {report.reason_no_text} reason recorded, "
            f"{report.duplicates} duplicate(s) (resent_after_crash {report.resent_after_crash}, "
            f"kills leaving 'sending' {report.sending_at_kill}), {len(report.lost_recorded)} "
            f"recorded-but-untexted, {len(report.lost_taken)} lost after a daemon took them, "
            f"{report.lost_while_down} lost while down {dict(report.down_attempts)}; texts in "
            f"{report.inbound_once}/{report.texts_in} once; {report.wall_s:.0f} s")


def main() -> None:
    from bench import results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200, help="kills in all (spread over rounds)")
    parser.add_argument("--per-round", type=int, default=30, help="kills per burst")
    parser.add_argument("--calls", type=int, default=24, help="missed calls per burst")
    parser.add_argument("--gap", type=float, default=1.2, help="seconds between calls")
    parser.add_argument("--retry-base", type=float, default=RETRY_BASE,
                        help="the fake's webhook back-off base in s (10 on the phone)")
    parser.add_argument("--restart-delay", type=float, default=0.0,
                        help="s between a kill and the next start (systemd RestartSec=5 on the box)")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    seed, reports = rounds(
        args.seed, args.kills, args.per_round, "textback-crash-phone-",
        lambda kills, seed, folder: run(kills=kills, calls=args.calls, gap=args.gap, seed=seed,
                                        folder=folder, retry_base=args.retry_base,
                                        restart_delay=args.restart_delay), summary)
    total = lambda name: sum(getattr(r, name) for r in reports)  # noqa: E731
    count = lambda name: sum(len(getattr(r, name)) for r in reports)  # noqa: E731
    modes = sum((r.modes for r in reports), Counter())
    attempts = sum((r.down_attempts for r in reports), Counter())
    causes = Counter(cause.split(" s after")[0].split("killed ")[0] or "killed before deciding"
                     for r in reports for _, cause in r.lost_taken)
    window = [w for r in reports for w in r.window_ms]
    restart = [s for r in reports for s in r.restart_s]
    body = (
        f"`kill -9` of `textback run` (a subprocess, `[modem] port = \"android\"`) against the fake "
        f"SMSGate + CallGate (the conformance fake, built from the apps' source: loopback HTTP, "
        f"signed webhooks, SMS retried 15 times, each call state posted twice with one attempt "
        f"each; CallGate back-off base {args.retry_base:g} s, 10 s on the phone; "
        f"call_timeout_seconds {CALL_TIMEOUT:g}) while bursts of missed calls ({args.calls} per "
        f"burst, {args.gap:g} s apart, distinct numbers) and incoming texts are in flight; restart "
        f"{args.restart_delay:g} s after each kill; a clean final start at the end. Kill moments: "
        f"{', '.join(f'{k} {v}' for k, v in sorted(modes.items()))}.\n\n"
        f"| kills | calls | texted once | reason recorded | recorded, no text | lost after a daemon "
        f"took call:ended | lost while down | duplicates | texts in, recorded once | lost / doubled "
        f"| resent_after_crash (kills leaving a row 'sending') |\n"
        f"|---|---|---|---|---|---|---|---|---|---|---|\n"
        f"| {total('kills')} | {total('calls')} | {total('texted_once')} | "
        f"{total('reason_no_text')} | {count('lost_recorded')} | {count('lost_taken')} | "
        f"{total('lost_while_down')} | {total('duplicates')} | {total('inbound_once')} of "
        f"{total('texts_in')} | {count('inbound_lost')} / {count('inbound_doubled')} | "
        f"{total('resent_after_crash')} ({total('sending_at_kill')}) |\n\n"
        f"Lost while down (no daemon listened at CallGate's one attempt to post call:ended; "
        f"failed deliveries per such call: {dict(sorted(attempts.items()))}): CallGate's limit, not "
        f"the daemon's. Lost after a daemon took them, by cause: {dict(causes) or 'none'}.\n"
        f"Send window (the fake took POST /message -> the daemon logged \"text sent\"): median "
        f"{statistics.median(window) if window else float('nan'):.1f} ms, p95 "
        f"{pct(window, 0.95):.1f} ms over {len(window)} texts; a kill there leaves the row "
        f"'sending', the restart posts the same id, gets 409 and follows it: no second text. "
        f"Start to first inbox read: median {statistics.median(restart):.2f} s.\n"
        f"Other harness problems: {sum(len(r.problems) for r in reports)}.\n\n"
        f"Command: `.venv/bin/python bench/crash_phone.py {' '.join(sys.argv[1:]) or ''}"
        f"{'' if args.seed is not None else f' --seed {seed}'}`; "
        f"{results.machine()}; {sum(r.wall_s for r in reports):.0f} s.\n")
    if args.no_write:
        pass
    elif args.restart_delay or args.retry_base != RETRY_BASE:  # the phone's own timing: apart
        results.write_section("crash_phone_timing", "Crash (kill -9), Android phone transport, "
                              "the apps' real retry timing", body)
    else:
        results.write_section("crash_phone", "Crash (kill -9), Android phone transport", body)
    print(body)


if __name__ == "__main__":
    main()
