"""Crash test: `kill -9` the real daemon at random moments while a burst of missed calls is in flight.

The harness owns a live pty simulator (`SimulatedModem.start`) playing a burst of missed calls from distinct
numbers; `textback run --config FILE` opens the pty exactly as it opens a real modem. The harness
kills the daemon (SIGKILL, seeded RNG), restarts it, repeats; then lets it finish, restarts it once
more cleanly (so the modem's missed-calls list is read after the last call), and checks the sim's
`sent` and the store:

- every missed call gets exactly one text, or a recorded reason (calls.action skipped/failed);
- a duplicate is explained only by a kill between the modem taking the PDU and `mark_sent`
  committing (store state "resent_after_crash" counts the resends; `window_hits` the kills that
  landed there with the PDU already in the modem);
- calls that rang while no daemon was up are counted apart ("rang while down") - the missed-calls
  list recovery should text them, marked recovered.

Kill moments: uniformly random after the daemon is ready, a few ms after the modem says NO CARRIER
(the record/queue window), a few ms after AT+CMGS reaches the modem (the send window), or during
start-up. Long form: `.venv/bin/python bench/crash.py --kills 300` (writes bench/RESULTS.md); the
short form is tests/test_crash.py.
"""
from __future__ import annotations

import argparse
import os
import queue
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gateway.simulator.modem import SimulatedModem  # noqa: E402
from gateway.simulator.scenario import InboundSms, Step  # noqa: E402

READY = "modem ready"        # cli/running.py logs gateway.at.session's INFO line when the modem is set up
SENT = "text sent"           # gateway.app.daemon, after mark_sent committed
READY_TIMEOUT = 15.0         # seconds for a fresh process to import, open the store and set up the modem
CALL_LENGTH = 0.5            # seconds from RING to NO CARRIER in the burst
# Kill modes and their weights: (name, weight).
MODES = (("uniform", 5), ("after_end", 2), ("after_cmgs", 2), ("startup", 1))


class WatchedSim(SimulatedModem):
    """The simulator, with events for the moments worth killing at and the time each text landed."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ended = threading.Event()       # a NO CARRIER went out
        self.cmgs = threading.Event()        # an AT+CMGS started arriving
        self.landed: list[float] = []        # monotonic time of each accepted text (as `sent`)
        self._tail = b""

    def _emit(self, line, over_at=None):
        if line == "NO CARRIER":
            self.ended.set()
        return super()._emit(line, over_at)

    def _take(self, data):
        seen, self._tail = self._tail + data, (self._tail + data)[-16:]
        self.saw(seen)
        return super()._take(data)

    def saw(self, seen: bytes) -> None:
        """The latest bytes from the host (with a few before them, for a command split across
        reads)."""
        if b"AT+CMGS=" in seen:
            self.cmgs.set()

    def _finish_sms(self, pending):
        before = len(self.sent)
        super()._finish_sms(pending)
        if len(self.sent) > before:
            self.landed.append(time.monotonic())


def burst(calls: int, gap: float, first: int = 2000, *, start: float = 0.5,
          reply_every: int | None = None) -> tuple[list[Step], list[tuple[str, float]]]:
    """Steps for `calls` missed calls `gap` s apart from distinct numbers; (number, start) each.
    With `reply_every` N, the caller of every Nth call (the middle one of each N) texts back
    half a gap later (deploy/image-test/powercut.py counts those replies)."""
    steps, plan = [], []
    for i in range(calls):
        t, number = start + i * gap, f"+1512555{first + i:04d}"
        steps += [Step(t, "RING"), Step(t + 0.05, f'+CLIP: "{number}",145,"",0,"",0'),
                  Step(t + CALL_LENGTH, "NO CARRIER")]
        plan.append((number, t))
        if reply_every and i % reply_every == reply_every // 2:
            reply = InboundSms(number, "Thanks, call me back after 3")
            steps.append(Step(t + gap / 2, "", sms=reply))
    return sorted(steps, key=lambda s: s.at), plan


def write_config(folder: Path, port: str, *, owner: bool = False,
                 daily_cap: int | None = None) -> Path:
    """The starter config on `port` (a SIM800), digest and follow-up off. Without `owner`, no
    owner's cell: the burst's callers are the only ones texted (no liveness texts, alerts or
    digest to count apart)."""
    subprocess.run([sys.executable, "-m", "cli.main", "init", str(folder)], cwd=REPO, check=True,
                   stdout=subprocess.DEVNULL)
    path = folder / "textback.toml"
    text = path.read_text()
    changes = [('port = "sim"', f'port = "{port}"'), ('family = "auto"', 'family = "sim800"'),
               ("digest = true", "digest = false"), ("follow_up = true", "follow_up = false")]
    if not owner:
        changes.append(('owner_phone = "+15125550199"', 'owner_phone = ""'))
    if daily_cap is not None:
        changes.append(("daily_cap = 200", f"daily_cap = {daily_cap}"))
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new)
    # The starter's [backup], [health], [metrics], [selftest] (all off) come last: cut, so that a
    # caller may append its own (TOML allows a section once).
    path.write_text(text.split("\n[backup]")[0] + "\n")
    return path


class Process:
    """`textback run` as a subprocess; its stderr log lines arrive on a queue, with their time."""

    def __init__(self, config: Path, db: Path):
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cli.main", "run", "--config", str(config), "--db", str(db)],
            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.started = time.monotonic()
        self.lines: queue.Queue = queue.Queue()
        self.log: list[tuple[float, str]] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stderr:
            self.lines.put((time.monotonic(), line.rstrip("\n")))
        self.lines.put(None)

    def wait_for(self, text: str, timeout: float) -> float | None:
        """Monotonic time of the next stderr line holding `text`; None on timeout or exit."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                item = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return None
            if item is None:
                return None
            self.log.append(item)
            if text in item[1]:
                return item[0]

    def settle(self, quiet: float, timeout: float, done) -> bool:
        """Read log lines until `done()` holds and the daemon has said nothing for `quiet` s."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                item = self.lines.get(timeout=quiet)
            except queue.Empty:
                if done():
                    return True
                continue
            if item is None:
                return done()
            self.log.append(item)
        return False

    def kill(self) -> float:
        at = time.monotonic()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        return at

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)
        self.drain()

    def drain(self) -> None:
        while True:
            try:
                item = self.lines.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                self.log.append(item)


@dataclass
class Report:
    seed: int
    calls: int
    kills: int = 0
    modes: Counter = field(default_factory=Counter)
    texted_once: int = 0
    texted_once_recovered: int = 0
    duplicates: int = 0                 # extra texts beyond one per number
    reason_no_text: int = 0             # recorded with a reason (skipped/failed)
    lost_recorded: list = field(default_factory=list)   # recorded, no text, no reason: FAILURE
    lost_unrecorded_alive: list = field(default_factory=list)  # never recorded, daemon was up: FAILURE
    rang_while_down: int = 0            # never recorded nor texted, rang while no daemon was up
    resent_after_crash: int = 0
    window_hits: int = 0                # kills with a row 'sending' whose number got two texts
    sending_at_kill: int = 0            # kills with a row 'sending' (PDU given or not)
    sending_numbers: list = field(default_factory=list)  # the numbers of those rows, per kill
    window_ms: list = field(default_factory=list)  # modem took the PDU -> "text sent" logged
    restart_s: list = field(default_factory=list)  # spawn -> modem ready
    wall_s: float = 0.0
    problems: list = field(default_factory=list)

    @property
    def failures(self) -> list:
        return self.lost_recorded + self.lost_unrecorded_alive + self.problems

    def explained(self) -> bool:
        return self.duplicates <= self.resent_after_crash


def _rows(db: Path, sql: str, params=()) -> list:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def _settled(db: Path) -> bool:
    """Nothing queued or being sent; every call recorded has moved past 'queued'."""
    waiting = _rows(db, "SELECT count(*) FROM outbox WHERE status IN ('queued', 'sending')")[0][0]
    queued = _rows(db, "SELECT count(*) FROM calls WHERE action = 'queued'")[0][0]
    return waiting == 0 and queued == 0


def pick(rng: random.Random, modes=MODES) -> str:
    """A kill moment, by weight ((name, weight) pairs)."""
    return rng.choice([name for name, weight in modes for _ in range(weight)])


def aim(rng: random.Random, mode: str, budget: float, event: threading.Event | None = None,
        timeout: float = 0.0, spread: float = 0.0) -> None:
    """Wait for the moment to kill at: a uniform time within 2 x `budget`, or a random instant
    within `spread` s after `event` next fires (a NO CARRIER, an AT+CMGS, a webhook taken)."""
    if mode == "uniform":
        time.sleep(rng.uniform(0.0, 2 * budget))
        return
    event.clear()
    if event.wait(timeout=timeout):
        time.sleep(rng.uniform(0.0, spread))


def rounds(seed: int | None, kills: int, per_round: int, prefix: str, play,
           describe) -> tuple[int, list]:
    """Bursts until `kills` kills have landed: `play(kills, seed, folder)` -> a report per round,
    printed with `describe(report)` as it ends. (the seed, the reports)."""
    import tempfile

    seed = seed if seed is not None else random.SystemRandom().randrange(10**6)
    print(f"seed {seed}", flush=True)
    reports: list = []
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        done, n = 0, 0
        while done < kills:
            report = play(min(per_round, kills - done), seed + n, Path(tmp) / f"round{n}")
            print(describe(report), flush=True)
            for failure in report.failures:
                print("  FAILURE:", failure, flush=True)
            reports.append(report)
            done, n = done + max(1, report.kills), n + 1
    return seed, reports


def until_covered(play, *, kills: int, risky: tuple[str, ...], max_rounds: int = 30) -> tuple:
    """Bursts until at least `kills` kills have landed, `risky` modes among them each at least
    once: `play(n)` plays burst n and returns its report (and checks it). How many kills fit in
    one burst depends on how fast the machine restarts a daemon; what a test wants does not.
    Every burst kills at least once, so `max_rounds` is a guard, not a budget. (kills, modes)."""
    landed, modes = 0, {mode: 0 for mode in risky}
    for n in range(max_rounds):
        if landed >= kills and all(modes.values()):
            break
        report = play(n)
        landed += report.kills
        for mode in risky:
            modes[mode] += report.modes[mode]
    return landed, modes


def run(*, kills: int, calls: int, gap: float, seed: int, folder: Path,
        say=lambda text: None) -> Report:
    """One burst of `calls` missed calls `gap` s apart, with about `kills` kills spread over it.

    The kills are paced to fit the burst; when the burst is over before `kills` kills, fewer happen
    (the report says how many)."""
    rng = random.Random(seed)
    report = Report(seed=seed, calls=calls)
    steps, plan = burst(calls, gap)
    last_end = plan[-1][1] + CALL_LENGTH
    sim = WatchedSim("sim800", steps=steps)
    folder.mkdir(parents=True, exist_ok=True)
    config, db = write_config(folder, sim.port_name), folder / "crash.db"
    t0: list[float] = []
    sim.start(lambda: time.monotonic() - t0[0] if t0 else -1.0)
    clock = lambda: time.monotonic() - t0[0] if t0 else -1.0  # noqa: E731  sim seconds
    alive: list[tuple[float, float]] = []   # (ready, killed) in sim seconds
    began = time.monotonic()
    # Mean alive time that spreads `kills` over the burst, given what a restart costs (~0.4 s).
    budget = max(0.05, (last_end + 1.0) / max(1, kills) - 0.4)
    proc = None
    try:
        while True:
            proc = Process(config, db)
            mode = pick(rng) if t0 and clock() < last_end and report.kills < kills else None
            if mode == "startup":
                time.sleep(rng.uniform(0.0, 0.4))   # the experiment: a random moment
                if proc.proc.poll() is None:
                    proc.kill()
                    report.kills += 1
                    report.modes[mode] += 1
                    proc.drain()
                    _note_kill(db, sim, report)
                    continue
            ready = proc.wait_for(READY, READY_TIMEOUT)
            if ready is None:
                report.problems.append(f"daemon not ready within {READY_TIMEOUT} s: "
                                       f"{[line for _, line in proc.log][-5:]}")
                break
            report.restart_s.append(ready - proc.started)
            if not t0:
                t0.append(ready)
            ready_t = ready - t0[0]
            if clock() >= last_end or report.kills >= kills:
                break   # the burst is over: this daemon finishes the work
            while mode in (None, "startup"):
                mode = pick(rng)
            aim(rng, mode, budget, sim.ended if mode == "after_end" else sim.cmgs,
                timeout=2 * budget + 1.0, spread=0.03)
            killed = proc.kill() - t0[0]
            alive.append((ready_t, killed))
            report.kills += 1
            report.modes[mode] += 1
            proc.drain()
            report.window_ms += _windows(proc, sim)
            _note_kill(db, sim, report)
            say(f"kill {report.kills:4d} {mode:10s} at t={killed:6.2f} s")
        if not report.problems:
            # Let the last daemon finish the burst, then restart it once cleanly so that the
            # missed-calls list is read after the last call.
            if not proc.settle(1.0, last_end + 60.0, lambda: clock() > last_end + 0.3 and _settled(db)):
                report.problems.append("the daemon did not settle after the burst")
            report.window_ms += _windows(proc, sim)
            proc.stop()
            alive.append((ready_t, clock()))
            proc = Process(config, db)
            if proc.wait_for(READY, READY_TIMEOUT) is None:
                report.problems.append("the final restart did not get ready")
            elif not proc.settle(1.0, 60.0, lambda: _settled(db)):
                report.problems.append("the final restart did not settle")
            report.window_ms += _windows(proc, sim)
            proc.stop()
            proc = None
    finally:
        if proc is not None and proc.proc.poll() is None:
            proc.kill()
        sim.close()
    report.wall_s = time.monotonic() - began
    judge(report, plan, sim, db, alive)
    return report


def _note_kill(db: Path, sim: WatchedSim, report: Report) -> None:
    """After a kill: the rows left 'sending' (judged at the end: did their number get two texts?).
    The modem may still be taking the PDU the dead process wrote, so it is not judged here."""
    sending = _rows(db, "SELECT m.number FROM outbox o JOIN messages m ON m.id = o.message_id "
                        "WHERE o.status = 'sending'") if db.exists() else []
    report.sending_at_kill += bool(sending)
    report.sending_numbers += [number for (number,) in sending]


def _windows(proc: Process, sim: WatchedSim) -> list[float]:
    """ms from the modem accepting each text to the daemon logging it sent (pairs in order)."""
    sent = [t for t, line in proc.log if SENT in line]
    landed = [t for t in sim.landed if t >= proc.started]
    return [(s - t) * 1000 for t, s in zip(landed, sent) if s >= t]


def judge(report, plan, sim: WatchedSim, db: Path, alive, *, read=_rows,
          call_length: float = CALL_LENGTH) -> None:
    """Count each call of `plan` from the sim's texts and the store (also deploy/image-test/
    powercut.py's judge, on a database read off a powered-off disk). `alive`: (ready, killed)
    spans of the daemon."""
    texts = Counter(s.number for s in sim.sent)
    calls: dict[str, list] = {}
    for number, action, reason, recovered in read(
            db, "SELECT number, action, reason, recovered FROM calls"):
        calls.setdefault(number, []).append((action, reason, recovered))
    report.resent_after_crash = int((read(db, "SELECT value FROM state WHERE key = "
                                          "'resent_after_crash'") or [(0,)])[0][0])
    for number, start in plan:
        sent, rows = texts[number], calls.get(number, [])
        report.duplicates += max(0, sent - 1)
        if sent:
            recovered = rows and all(r[2] for r in rows)
            report.texted_once_recovered += bool(recovered)
            report.texted_once += not recovered
        elif any(r[0] in ("skipped", "failed") and r[1] for r in rows):
            report.reason_no_text += 1
        elif rows:
            report.lost_recorded.append((number, rows))
        elif any(r <= start - 0.05 and k >= start + call_length + 0.3 for r, k in alive):
            report.lost_unrecorded_alive.append(number)
        else:
            report.rang_while_down += 1
    report.window_hits = sum(1 for number in report.sending_numbers if texts[number] > 1)
    strangers = set(texts) - {number for number, _ in plan}
    if strangers:
        report.problems.append(f"texts to numbers not in the burst: {sorted(strangers)}")


def summary(report: Report) -> str:
    return (f"seed {report.seed}: {report.kills} kills ({dict(report.modes)}), {report.calls} calls: "
            f"{report.texted_once} texted once live, {report.texted_once_recovered} texted once "
            f"recovered, {report.reason_no_text} reason recorded, {report.duplicates} duplicate(s) "
            f"(resent_after_crash {report.resent_after_crash}, window hits {report.window_hits}), "
            f"{len(report.lost_recorded)} recorded-but-untexted, {len(report.lost_unrecorded_alive)} "
            f"unrecorded while up, {report.rang_while_down} rang while down; {report.wall_s:.0f} s")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))] if values else float("nan")


def main() -> None:
    from bench import results

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=300, help="kills in all (spread over rounds)")
    parser.add_argument("--per-round", type=int, default=30, help="kills per burst")
    parser.add_argument("--calls", type=int, default=30, help="missed calls per burst")
    parser.add_argument("--gap", type=float, default=1.5, help="seconds between calls")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed, reports = rounds(
        args.seed, args.kills, args.per_round, "textback-crash-",
        lambda kills, seed, folder: run(kills=kills, calls=args.calls, gap=args.gap, seed=seed,
                                        folder=folder), summary)
    total = lambda name: sum(getattr(r, name) for r in reports)  # noqa: E731
    count = lambda name: sum(len(getattr(r, name)) for r in reports)  # noqa: E731
    modes = sum((r.modes for r in reports), Counter())
    window = [w for r in reports for w in r.window_ms]
    restart = [s for r in reports for s in r.restart_s]
    calls = total("calls")
    body = (
        f"`kill -9` of `textback run` (a subprocess on the live pty simulator) at random moments "
        f"while bursts of missed calls ({args.calls} per burst, {args.gap:g} s apart, distinct "
        f"numbers) are in flight; restart after each kill; at the end one clean restart so the "
        f"modem's missed-calls list is read after the last call. Kill moments: "
        f"{', '.join(f'{k} {v}' for k, v in sorted(modes.items()))}.\n\n"
        f"| kills | calls | texted once (live) | texted once (recovered) | reason recorded | "
        f"recorded, no text | unrecorded while up | rang while down | duplicates | "
        f"resent_after_crash | kills in the send window (of kills leaving a row 'sending') |\n"
        f"|---|---|---|---|---|---|---|---|---|---|---|\n"
        f"| {total('kills')} | {calls} | {total('texted_once')} | {total('texted_once_recovered')} | "
        f"{total('reason_no_text')} | {count('lost_recorded')} | {count('lost_unrecorded_alive')} | "
        f"{total('rang_while_down')} | {total('duplicates')} | {total('resent_after_crash')} | "
        f"{total('window_hits')} of {total('sending_at_kill')} |\n\n"
        f"Duplicate window (the modem accepted the PDU -> the daemon logged \"text sent\", after "
        f"`mark_sent` committed): median {statistics.median(window) if window else float('nan'):.1f} ms, "
        f"p95 {pct(window, 0.95):.1f} ms, max {max(window, default=float('nan')):.1f} ms over "
        f"{len(window)} texts. A kill there resends the text once on restart (at-least-once, "
        f"store state `resent_after_crash`). Restart to modem ready: median "
        f"{statistics.median(restart):.2f} s.\n"
        f"Other harness problems: {sum(len(r.problems) for r in reports)}.\n\n"
        f"Command: `.venv/bin/python bench/crash.py --kills {args.kills} --seed {seed}`; "
        f"{results.machine()}; {sum(r.wall_s for r in reports):.0f} s.\n")
    results.write_section("crash", "Crash (kill -9) under a burst of missed calls", body)
    print(body)


if __name__ == "__main__":
    main()
