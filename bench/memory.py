"""Memory: the daemon's resident set after 1,000 simulated missed calls (target <= 35 MB), and
whether it grows between 500 and 1,000 calls.

The real daemon on the virtual clock against the pty simulator, in this process (VmRSS from
/proc/self/status, so the simulator and this harness are counted too: an upper bound for the
daemon alone). Sampled every 100 calls. Writes bench/RESULTS.md.
Run: `.venv/bin/python bench/memory.py [--calls 1000]`.
"""
from __future__ import annotations

import argparse
import gc
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import results  # noqa: E402
from bench.load import START, calls_steps, virtual_daemon  # noqa: E402

TARGET_MB = 35.0
GAP = 30.0  # seconds between calls: 1,000 calls in about 8 virtual hours


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def measure(calls: int, every: int = 100) -> tuple[list[tuple[int, float]], Counter, int]:
    steps, numbers = calls_steps(calls, GAP)
    samples = [(0, rss_mb())]
    sent: Counter = Counter()
    commands = 0
    with tempfile.TemporaryDirectory() as tmp:
        daemon, store, sim = virtual_daemon(Path(tmp), steps, daily_cap=calls * 2)
        try:
            for done in range(every, calls + 1, every):
                # Up to just before call `done + 1` rings: calls 1..done are over and texted.
                daemon.run(until=START + 1.0 + done * GAP - 1.0)
                # The simulator's own logs are the harness's memory, not the daemon's: tally, drop.
                sent.update(s.number for s in sim.sent)
                commands += len(sim.commands)
                sim.sent.clear()
                sim.commands.clear()
                gc.collect()
                samples.append((done, rss_mb()))
        finally:
            store.close()
            sim.close()
    return samples, Counter(sent[n] for n in numbers), commands


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()
    samples, texts, commands = measure(args.calls)
    at = dict(samples)
    half, end = at.get(args.calls // 2), at[args.calls]
    growth = end - half if half is not None else float("nan")
    first = at.get(1000, end)
    table = "\n".join(f"| {n:,} | {mb:.1f} MB |" for n, mb in samples)
    body = (
        f"Real daemon (virtual clock, pty simulator, SQLite WAL) in one process with the simulator; "
        f"VmRSS after each 100 missed calls ({GAP:g} s apart, distinct numbers, each texted: texts "
        f"per number {dict(texts)}; the simulator's logs ({commands:,} commands, every text) are "
        f"tallied and emptied every 100 calls, so what grows is the daemon's).\n\n"
        f"| calls | VmRSS |\n|---|---|\n{table}\n\n"
        f"After 1,000 calls: **{first:.1f} MB** (target <= {TARGET_MB:g} MB: "
        f"{'meets' if first <= TARGET_MB else 'MISSES'}); {args.calls // 2:,} -> {args.calls:,} calls: "
        f"{growth:+.1f} MB.\n\n"
        f"Command: `.venv/bin/python bench/memory.py --calls {args.calls}`; {results.machine()}.\n")
    results.write_section("memory", "Memory after 1,000 calls", body)
    print(body)


if __name__ == "__main__":
    main()
