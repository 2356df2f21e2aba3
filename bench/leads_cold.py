"""`textback leads` cold: a fresh process listing the newest leads of a 100,000-lead database, against
`python3 -c "import click, sqlite3"` (the floor for any click command reading SQLite). Target <= 2x.
And `leads --limit 10000` on the same database, under 1 s: the listing is linear in its rows.

"Cold" means a new interpreter each run (imports, opening the store read-only, the query), as
when the owner types the command on a Pi; the OS file cache and the bytecode cache are warm (one
untimed run of each first), as on an installed system.

Writes bench/RESULTS.md (the section between its markers). Run:
`.venv/bin/python bench/leads_cold.py [--leads 100000] [--runs 9]`.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import results  # noqa: E402
from gateway.app.store import Store  # noqa: E402
from gateway.clock import iso  # noqa: E402

TARGET = 2.0
LONG_LIMIT = 10_000   # `leads --limit 10000`: a long listing, linear in the rows
LONG_TARGET = 1.0     # seconds, the whole command
START = 1_790_000_000.0  # any epoch: lead i was last active START + i * 60 s
STATUSES = ("texted", "replied", "booked", "lost", "new")


def build(path: Path, leads: int) -> None:
    """One transaction of plain inserts: each lead has a missed call, the text-back and, for every
    other lead, a reply."""
    store = Store(path)
    body = ("Sorry we missed your call - this is Mike at Acme Plumbing. What do you need done? "
            "Reply here and we'll get right back to you.")
    with store.db.conn:
        conn = store.db.conn
        conn.executemany(
            "INSERT INTO leads (id, number, status, created_at, last_activity_at, missed_calls, "
            "unread) VALUES (?, ?, ?, ?, ?, 1, ?)",
            ((i, f"+1512{5_000_000 + i:07d}", STATUSES[i % len(STATUSES)], iso(START + i * 60),
              iso(START + i * 60 + 30), i % 2) for i in range(1, leads + 1)))
        conn.executemany(
            "INSERT INTO messages (lead_id, direction, number, body, kind, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            ((i, "out", f"+1512{5_000_000 + i:07d}", body, "missed_call", iso(START + i * 60))
             for i in range(1, leads + 1)))
        conn.executemany(
            "INSERT INTO messages (lead_id, direction, number, body, kind, created_at) "
            "VALUES (?, 'in', ?, ?, 'reply', ?)",
            ((i, f"+1512{5_000_000 + i:07d}", f"Leak under the sink, job {i}", iso(START + i * 60 + 30))
             for i in range(2, leads + 1, 2)))
    store.close()


def timed(commands: list[list[str]], runs: int, pycache: Path) -> list[list[float]]:
    """Each command `runs` times, interleaved (A B A B ...) so that load from other processes
    weighs on both alike; one untimed run of each first."""
    # Bytecode cached as an installed package has it (pip compiles at install), in a folder of our
    # own: with PYTHONDONTWRITEBYTECODE every run would recompile our modules, not click's.
    env = {**os.environ, "COLUMNS": "120", "PYTHONPYCACHEPREFIX": str(pycache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    times: list[list[float]] = [[] for _ in commands]
    for i in range(runs + 1):
        for argv, out in zip(commands, times):
            t0 = time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env=env)
            if i:
                out.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    script = Path(sys.executable).parent / "textback"
    textback = [str(script)] if script.exists() else [sys.executable, "-m", "cli.main"]
    with tempfile.TemporaryDirectory(prefix="textback-bench-") as tmp:
        db = Path(tmp) / "leads.db"
        t0 = time.perf_counter()
        build(db, args.leads)
        built = time.perf_counter() - t0
        pycache = Path(tmp) / "pycache"
        leads, floor, long = map(statistics.median, timed(
            [[*textback, "leads", "--db", str(db)], [sys.executable, "-c", "import click, sqlite3"],
             [*textback, "leads", "--db", str(db), "--limit", str(LONG_LIMIT)]],
            args.runs, pycache))
    ratio = leads / floor
    verdict = "meets" if ratio <= TARGET else "MISSES"
    long_verdict = "meets" if long <= LONG_TARGET else "MISSES"
    body = (
        f"A fresh process running `textback leads --db FILE` (50 newest of {args.leads:,} leads, "
        f"each with its text-back, half with a reply) against `python3 -c \"import click, sqlite3\"`; "
        f"median of {args.runs} interleaved runs each, file and bytecode caches warm.\n\n"
        "| leads | textback leads | import click, sqlite3 | ratio | target |\n|---|---|---|---|---|\n"
        f"| {args.leads:,} | {leads * 1000:.0f} ms | {floor * 1000:.0f} ms | {ratio:.2f}x "
        f"| <= {TARGET:g}x ({verdict}) |\n\n"
        f"A long listing, `textback leads --db FILE --limit {LONG_LIMIT}` (120 columns, to a pipe), "
        f"same runs: median {long * 1000:.0f} ms, target < {LONG_TARGET:g} s ({long_verdict}). "
        "Before 0.2.0's hostile-input work the table was built in time quadratic in the rows: 443 s for 10,000 "
        "rows (`--limit 500` 1.5 s, `--limit 2000` 16 s).\n\n"
        f"Command: `.venv/bin/python bench/leads_cold.py --leads {args.leads} --runs {args.runs}`; "
        f"{results.machine()}; database built in {built:.1f} s.")
    results.write_section("leads_cold", "textback leads, cold", body)
    print(body)


if __name__ == "__main__":
    main()
