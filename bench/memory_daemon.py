"""Memory, daemon alone: the resident set of the real `textback run` process over many missed calls
(target <= 35 MB after 1,000 calls) and whether it keeps growing.

The harness owns the pty simulator (`SimulatedModem.start`, a thread in this process) and plays missed
calls at a fixed rate: RING, +CLIP, NO CARRIER from distinct numbers, every 10th call a repeat caller
(cooldown: recorded, not texted; within the hour: "calling again" to the owner), every 4th new caller
replying to the text-back (+CMTI, read, a lead reply, an alert to the owner). `textback run --config
FILE --db FILE` is a subprocess; only it is measured: VmRSS and VmHWM from /proc/PID/status, Pss
from /proc/PID/smaps_rollup, and the database's size (file + WAL), every --sample-every calls and
every --sample-seconds. The simulator's memory is the harness's and is not counted.

Run: `.venv/bin/python bench/memory_daemon.py --calls 1000` (writes bench/RESULTS.md);
soak: `--duration 3600` (calls as many as fit at --rate).
"""
from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import results  # noqa: E402
from bench.crash import READY, READY_TIMEOUT, Process, write_config  # noqa: E402
from gateway.simulator.modem import SimulatedModem  # noqa: E402
from gateway.simulator.scenario import InboundSms, Step  # noqa: E402

TARGET_MB = 35.0
OWNER = "+15125550199"       # the starter's owner_phone: alerts go there, counted apart
CALL_LENGTH = 0.1            # RING to NO CARRIER; short, so calls never overlap at a few a second
REPLY_AFTER = 1.0            # a reply arrives this long after its call ended (text-back long sent)
REPEAT_EVERY = 10            # every 10th call is a caller from 5 calls earlier
REPLY_EVERY = 4              # every 4th new caller answers the text-back
AREAS = ("512", "737", "214", "469", "713", "832", "210", "281", "409", "430")  # Texas area codes
TEXT_BACK_KINDS = ("missed_call", "after_hours")   # gateway.app.conversation


@dataclass(frozen=True)
class Sample:
    t: float          # seconds since the daemon said the modem was ready
    calls: int        # calls whose NO CARRIER has gone out
    rss_kb: int
    hwm_kb: int
    pss_kb: int | None
    db_kb: int


@dataclass(frozen=True)
class Plan:
    steps: list[Step]
    starts: list[float]      # ring time of each call (sim seconds)
    numbers: list[str]       # caller of each call
    replies: int


def number_for(i: int) -> str:
    """The i-th new caller: 555-xxxx numbers; 555-0199 is skipped, it is the owner's cell (OWNER)."""
    area, line = divmod(i, 9999)
    line += line >= 199
    return f"+1{AREAS[area % len(AREAS)]}555{line:04d}"


def plan_calls(calls: int, gap: float) -> Plan:
    steps, starts, numbers, fresh, replies = [], [], [], 0, 0
    for i in range(calls):
        t = 1.0 + i * gap
        if i % REPEAT_EVERY == REPEAT_EVERY - 1:
            number = numbers[i - 5]
        else:
            number, fresh = number_for(fresh), fresh + 1
            if fresh % REPLY_EVERY == 0:
                steps.append(Step(t + CALL_LENGTH + REPLY_AFTER, "",
                                  InboundSms(number, "Yes please, can you come Tuesday morning?")))
                replies += 1
        steps += [Step(t, "RING"), Step(t + 0.02, f'+CLIP: "{number}",145,"",0,"",0'),
                  Step(t + CALL_LENGTH, "NO CARRIER")]
        starts.append(t)
        numbers.append(number)
    steps.sort(key=lambda s: s.at)
    return Plan(steps, starts, numbers, replies)


def read_memory(pid: int) -> tuple[int, int, int | None]:
    """(VmRSS, VmHWM, Pss) in KB; Pss is None without /proc/PID/smaps_rollup (kernel < 4.14)."""
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                  if ":" in line)
    pss = None
    rollup = Path(f"/proc/{pid}/smaps_rollup")
    if rollup.exists():
        for line in rollup.read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    return int(status["VmRSS"].split()[0]), int(status["VmHWM"].split()[0]), pss


def db_kb(db: Path) -> int:
    return sum(p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists()) // 1024


def sample(pid: int, db: Path, t: float, calls: int) -> Sample:
    rss, hwm, pss = read_memory(pid)
    return Sample(t, calls, rss, hwm, pss, db_kb(db))


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y on x; nan with fewer than two distinct x."""
    n = len(points)
    if n < 2:
        return float("nan")
    mx, my = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else float("nan")


def _rows(db: Path, sql: str) -> list:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _settled(db: Path) -> bool:
    return _rows(db, "SELECT (SELECT count(*) FROM outbox WHERE status IN ('queued', 'sending')) + "
                     "(SELECT count(*) FROM calls WHERE action = 'queued')")[0][0] == 0


def run(calls: int, gap: float, every: int, seconds: float, folder: Path, say=print) -> dict:
    plan = plan_calls(calls, gap)
    sim = SimulatedModem("sim800", steps=plan.steps)
    config, db = write_config(folder, sim.port_name, owner=True, daily_cap=calls * 3 + 100), \
        folder / "mem.db"
    t0: list[float] = []
    clock = lambda: time.monotonic() - t0[0] if t0 else -1.0  # noqa: E731  sim seconds
    sim.start(clock)
    samples: list[Sample] = []
    proc = Process(config, db)
    pid = proc.proc.pid
    try:
        if proc.wait_for(READY, READY_TIMEOUT) is None:
            raise RuntimeError(f"daemon not ready: {[line for _, line in proc.log][-5:]}")
        ready = time.monotonic()
        time.sleep(0.5)     # the set-up commands are answered; nothing has rung yet (first at 1.0)
        samples.append(sample(pid, db, time.monotonic() - ready, 0))
        t0.append(ready)
        # Milestones: just before call N+1 rings (calls 1..N over and texted), plus the clock.
        marks = {plan.starts[n] - 0.02: n for n in range(every, calls, every)}
        last_end = plan.starts[-1] + CALL_LENGTH
        next_tick = seconds
        for at in sorted(marks) + [None]:
            target = last_end if at is None else at
            while clock() < target:
                time.sleep(min(0.05, max(0.0, min(target, next_tick) - clock())))
                if clock() >= next_tick:
                    done = sum(1 for s in plan.starts if s + CALL_LENGTH <= clock())
                    samples.append(sample(pid, db, clock(), done))
                    next_tick += seconds
                if proc.proc.poll() is not None:
                    raise RuntimeError(f"daemon exited: {[line for _, line in proc.log][-5:]}")
            proc.drain()
            proc.log.clear()    # harness memory: the log lines are not needed
            if at is not None:
                samples.append(sample(pid, db, clock(), marks[at]))
                if marks[at] % 1000 == 0:
                    say(f"{marks[at]:6d} calls  {samples[-1].rss_kb / 1024:.1f} MB  t={clock():.0f} s")
        if not proc.settle(1.0, 120.0, lambda: clock() > last_end + REPLY_AFTER + 1.0 and _settled(db)):
            say("warning: the daemon did not settle after the last call")
        samples.append(sample(pid, db, clock(), calls))
        proc.stop()
    finally:
        if proc.proc.poll() is None:
            proc.kill()
        sim.close()
    return {"samples": samples, "plan": plan, **verify(plan, sim, db)}


def verify(plan: Plan, sim: SimulatedModem, db: Path) -> dict:
    """Each distinct caller texted exactly once (modem side and store), repeats skipped."""
    texts = Counter(s.number for s in sim.sent)
    callers = set(plan.numbers)
    per_caller = Counter(texts[n] for n in callers)
    store_backs = Counter(dict(_rows(db, f"SELECT number, count(*) FROM messages WHERE direction = "
                                         f"'out' AND kind IN {TEXT_BACK_KINDS} GROUP BY number")))
    return {
        "callers": len(callers),
        "texted_once": per_caller[1],
        "per_caller": dict(per_caller),
        "store_once": sum(1 for n in callers if store_backs[n] == 1),
        "owner_texts": texts[OWNER],
        "strangers": sorted(set(texts) - callers - {OWNER}),
        "calls_rows": _rows(db, "SELECT count(*) FROM calls")[0][0],
        # reasons carry details ("cooldown (texted 3 s ago)"): grouped by their first words
        "actions": dict(_rows(db, "SELECT action || coalesce(' (' || substr(reason, 1, "
                                  "instr(reason || ' (', ' (') - 1) || ')', ''), count(*) "
                                  "FROM calls GROUP BY 1")),
        "replies_stored": _rows(db, "SELECT count(*) FROM messages WHERE direction = 'in'")[0][0],
        "cache_size": _rows(db, "PRAGMA cache_size")[0][0],
    }


def at_calls(samples: list[Sample], n: int) -> Sample | None:
    return next((s for s in samples if s.calls == n), None)


def report(result: dict, command: str, wall: float) -> str:
    samples, plan = result["samples"], result["plan"]
    calls = len(plan.starts)
    half = [s for s in samples if s.calls >= calls / 2]
    per_call = slope([(s.calls, s.rss_kb) for s in half]) * 1000
    per_hour = slope([(s.t, s.rss_kb) for s in half]) * 3600
    pss_per_call = slope([(s.calls, s.pss_kb) for s in half if s.pss_kb is not None]) * 1000
    marks = [0, 100, 500] + list(range(1000, calls + 1, 1000)) + [calls]
    rows = []
    for n in dict.fromkeys(m for m in marks if m <= calls):
        s = at_calls(samples, n)
        if s is not None:
            pss = f"{s.pss_kb / 1024:.1f} MB" if s.pss_kb is not None else "-"
            rows.append(f"| {'start-up' if n == 0 else f'{n:,}'} | {s.t:,.0f} s | {s.rss_kb / 1024:.1f} MB "
                        f"| {pss} | {s.hwm_kb / 1024:.1f} MB | {s.db_kb:,} KB |")
    first = at_calls(samples, 1000)
    peak = max(s.hwm_kb for s in samples) / 1024
    ok = result["texted_once"] == result["callers"] == result["store_once"] and not result["strangers"]
    verdict = ("n/a (fewer than 1,000 calls)" if first is None else
               f"{'yes' if first.rss_kb / 1024 <= TARGET_MB else 'no'} ({first.rss_kb / 1024:.1f} MB)")
    return (
        f"`textback run` as its own process on the live pty simulator (owned by the harness, not "
        f"measured): {calls:,} missed calls, one every {plan.starts[1] - plan.starts[0] if calls > 1 else 0:g} s "
        f"({result['callers']:,} distinct callers, every {REPEAT_EVERY}th call a repeat, "
        f"{plan.replies:,} replies to the text-back), {len(samples)} samples of the daemon's "
        f"/proc/PID/status and smaps_rollup.\n\n"
        f"| calls | time | VmRSS | Pss | VmHWM | database + WAL |\n|---|---|---|---|---|---|\n"
        + "\n".join(rows) +
        f"\n\nPeak (VmHWM): {peak:.1f} MB. Growth over the second half (least squares, "
        f"{len(half)} samples): VmRSS {per_call:+.0f} KB/1,000 calls, {per_hour:+.0f} KB/hour; "
        f"Pss {pss_per_call:+.0f} KB/1,000 calls. SQLite page cache: PRAGMA cache_size "
        f"{result['cache_size']} (default: at most 2 MB per connection).\n\n"
        f"Work done: {result['texted_once']:,} of {result['callers']:,} callers texted exactly once "
        f"by the modem (texts per caller {result['per_caller']}), {result['store_once']:,} with one "
        f"text-back in the store; {result['calls_rows']:,} calls recorded ({result['actions']}); "
        f"{result['replies_stored']:,} replies stored; {result['owner_texts']:,} alerts to the owner; "
        f"{len(result['strangers'])} texts to other numbers: {'PASS' if ok else 'FAIL'}.\n\n"
        f"- <= {TARGET_MB:g} MB after 1,000 calls: {verdict}\n"
        f"- growth in the second half: {per_call:+.0f} KB/1,000 calls ({per_hour:+.0f} KB/hour)\n\n"
        f"Command: `{command}`; {results.machine()}; {wall:.0f} s.\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=5.0, help="calls per second (default 5)")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds of calls instead of --calls (the soak form, e.g. 3600)")
    parser.add_argument("--sample-every", type=int, default=100, help="calls between samples")
    parser.add_argument("--sample-seconds", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args()
    gap = 1.0 / args.rate
    calls = int(args.duration * args.rate) if args.duration else args.calls
    command = ".venv/bin/python bench/memory_daemon.py " + (
        f"--duration {args.duration:g}" if args.duration else f"--calls {args.calls}") + \
        f" --rate {args.rate:g}"
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="textback-mem-") as tmp:
        result = run(calls, gap, args.sample_every, args.sample_seconds, Path(tmp))
    body = report(result, command, time.monotonic() - began)
    if not args.no_write:
        if args.duration:  # the soak has its own section, beside the 1,000-call one
            results.write_section("memory_daemon_soak", "Memory, daemon alone, soak", body)
        else:
            results.write_section("memory_daemon", "Memory, daemon alone", body)
    print(body)


if __name__ == "__main__":
    main()
