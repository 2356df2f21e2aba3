"""Load: 100 missed calls within 5 minutes on the simulator, all texted, none doubled.

1. Virtual clock (as `textback replay`: VirtualClock + AtLink + Daemon + Store on the pty simulator):
   the whole 5-minute burst, checked from the modem's side (`sim.sent`) and the store.
2. Wall clock, live daemon (bench/ring_to_text.py's TimedSim): a shorter burst at real speed,
   time from the modem's NO CARRIER to the first byte of AT+CMGS (median, p95, max).

Writes bench/RESULTS.md. Run: `.venv/bin/python bench/load.py [--calls 100] [--live-calls 40]`.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import serial  # noqa: E402

from bench import results  # noqa: E402
from gateway import config as config_mod  # noqa: E402
from gateway.app import reports  # noqa: E402
from gateway.app.daemon import build  # noqa: E402
from gateway.app.store import Store  # noqa: E402
from gateway.at.link import AtLink  # noqa: E402
from gateway.clock import VirtualClock  # noqa: E402
from gateway.simulator.modem import SimulatedModem  # noqa: E402
from gateway.simulator.scenario import Step  # noqa: E402
from gateway.starter import write_starter  # noqa: E402

START = 1_795_536_000.0  # Tuesday 2026-11-24 10:00 in Austin: business hours (tests/test_daemon.py)
CALL_LENGTH = 0.5


def calls_steps(calls: int, gap: float, first: int = 3000) -> tuple[list[Step], list[str]]:
    steps, numbers = [], []
    for i in range(calls):
        t, number = 1.0 + i * gap, f"+1512{first // 10000 + 555:03d}{(first + i) % 10000:04d}"
        steps += [Step(t, "RING"), Step(t + 0.05, f'+CLIP: "{number}",145,"",0,"",0'),
                  Step(t + CALL_LENGTH, "NO CARRIER")]
        numbers.append(number)
    return steps, numbers


def config_in(folder: Path, daily_cap: int = 400):
    write_starter(folder)
    path = folder / "textback.toml"
    text = path.read_text().replace("digest = true", "digest = false") \
        .replace("follow_up = true", "follow_up = false") \
        .replace("daily_cap = 200", f"daily_cap = {daily_cap}")
    path.write_text(text)
    return config_mod.load(path)


def virtual_daemon(folder: Path, steps, *, daily_cap: int = 400):
    """(daemon, store, sim): the real daemon on a virtual clock against the pty simulator."""
    cfg = config_in(folder, daily_cap)
    sim = SimulatedModem("sim800", steps=steps)
    clock = VirtualClock(START, sim, warmup=1.0)
    store = Store(folder / "load.db")
    link = AtLink(lambda: serial.Serial(sim.port_name, 115200, timeout=0), clock, family="sim800")
    # notices=False: the benchmark counts the callers' texts, not the owner's "textback is live".
    return build(cfg, store, clock, link, notices=False), store, sim


def virtual(calls: int, window: float) -> dict:
    gap = (window - 2.0) / calls
    steps, numbers = calls_steps(calls, gap)
    with tempfile.TemporaryDirectory() as tmp:
        daemon, store, sim = virtual_daemon(Path(tmp), steps)
        began = time.perf_counter()
        try:
            daemon.run(until=START + window + 30.0)
            rows = reports.calls(store, limit=calls * 2)
            resent = store.get_state("resent_after_crash")
        finally:
            store.close()
            sim.close()
        wall = time.perf_counter() - began
    sent = Counter(s.number for s in sim.sent)
    last_text = max((s.at_step_time for s in sim.sent), default=0.0)
    return {
        "calls": calls, "gap": gap, "texted": sum(1 for n in numbers if sent[n] >= 1),
        "doubled": sum(1 for n in numbers if sent[n] > 1),
        "others": sum(v for n, v in sent.items() if n not in numbers),
        "recorded": len(rows), "actions": Counter(r["action"] for r in rows),
        "resent": resent, "wall": wall, "last_text": last_text,
    }


def main() -> None:
    import ring_to_text

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--window", type=float, default=300.0, help="seconds the calls come within")
    parser.add_argument("--live-calls", type=int, default=40)
    parser.add_argument("--live-gap", type=float, default=1.0)
    args = parser.parse_args()
    v = virtual(args.calls, args.window)
    ms = sorted(ring_to_text.measure(args.live_calls, args.live_gap))
    median, p95, worst = statistics.median(ms), ms[min(len(ms) - 1, int(len(ms) * 0.95))], ms[-1]
    ok = v["texted"] == v["calls"] and v["doubled"] == 0 and v["others"] == 0
    actions = ", ".join(f"{k} {n}" for k, n in sorted(v["actions"].items()))
    body = (
        f"**{v['calls']} missed calls within {args.window:g} s** (one every {v['gap']:.2f} s, distinct "
        f"numbers), real daemon on the virtual clock against the pty simulator (as `textback "
        f"replay`): {v['texted']}/{v['calls']} texted, {v['doubled']} doubled, {v['others']} texts "
        f"to other numbers; calls recorded {v['recorded']} ({actions}); last text at "
        f"{v['last_text']:.1f} s; {v['wall']:.1f} s of wall time. {'PASS' if ok else 'FAIL'}.\n\n"
        f"**End of call to AT+CMGS, live** (wall clock at real speed; `ring_to_text.TimedSim`): "
        f"{args.live_calls} missed calls {args.live_gap:g} s apart, all texted once.\n\n"
        f"| calls | median | p95 | max |\n|---|---|---|---|\n"
        f"| {args.live_calls} | {median:.1f} ms | {p95:.1f} ms | {worst:.1f} ms |\n\n"
        f"Command: `.venv/bin/python bench/load.py --calls {args.calls} --live-calls "
        f"{args.live_calls}`; {results.machine()}.\n")
    results.write_section("load", "Load: 100 missed calls in 5 minutes", body)
    print(body)
    if not ok:
        raise SystemExit("not every call was texted exactly once")


if __name__ == "__main__":
    main()
