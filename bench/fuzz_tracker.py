"""Long fuzz: a million (or more) generated lines - real URC shapes, corrupted variants, noise -
through LineFramer + CallTracker (every family), read in random-sized chunks; counts lines per
second, events, and exceptions (must be 0). Writes bench/RESULTS.md.

Run: `.venv/bin/python bench/fuzz_tracker.py [--lines 1000000] [--seed N]`.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import results  # noqa: E402
from gateway.at import parse as atparse  # noqa: E402
from gateway.at.families import FAMILIES  # noqa: E402
from gateway.at.lines import LineFramer  # noqa: E402
from gateway.at.tracker import CallTracker  # noqa: E402

NUMBERS = ["+15125550142", "5125550142", "", "+4479460", "72404", "+1512555014", "anonymous"]
# The real line shapes (docs/reference/modems.md) the corruptions start from, `{n}` a number:
# one corpus, for this long run and tests/test_fuzz_props.py.
SHAPES = [
    "RING", "+CRING: VOICE", "+CRING: GPRS \"IP\"", "NO CARRIER", "BUSY", "OK", "ERROR",
    '+CLIP: "{n}",145,"",0,"",0', '+CLIP: "{n}",129', "+CLIP: ,128,,,,1", '+CLIP:"{n}",145',
    '+CLCC: 1,1,4,0,0,"{n}",145,""', "+CLCC: 1,1,6,0,0", '+CLCC: 1,1,0,0,0,"{n}",129',
    '+CLCC: 1,0,0,1,0,"",129',
    '+QIND: "ccinfo",1,1,4,0,0,"{n}",145', "VOICE CALL: BEGIN", "VOICE CALL: END: 000012",
    "MISSED_CALL: 10:15AM {n}", "^CEND:1,0,104,16", "^CEND:1,12,104,16", "^CONN:1,0",
    "+UCALLSTAT: 1,4", "+UCALLSTAT: 1,0", "+UCALLSTAT: 1,6", "HANGUP: 1", "+WIND: 6,1", "RDY",
    "+CPIN: READY", "Call Ready", "SMS Ready", "SMS DONE", '+CMTI: "SM",3', "+CMGS: 12",
]
ENDS = [b"\r\n", b"\r\r\n", b"\r", b"\n"]
PARSERS = (atparse.parse_clip, atparse.parse_clcc, atparse.parse_ccinfo, atparse.parse_cend,
           atparse.parse_ucallstat, atparse.parse_missed_call, atparse.parse_hangup,
           atparse.parse_wind, atparse.parse_cring)


def corrupt(rng: random.Random, line: bytes) -> bytes:
    data = bytearray(line)
    for _ in range(rng.randint(1, 3)):
        pos = rng.randint(0, len(data))
        how = rng.random()
        if how < 0.3 and pos < len(data):
            data[pos] = rng.randrange(256)
        elif how < 0.5:
            del data[pos:]
        elif how < 0.8:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        else:
            data += data[:pos]
    return bytes(data)


def generate(rng: random.Random, count: int):
    """(kind, bytes of one line with its end) x count: 50% real, 35% corrupted, 15% noise."""
    for _ in range(count):
        roll = rng.random()
        line = rng.choice(SHAPES).format(n=rng.choice(NUMBERS)).encode()
        if roll < 0.5:
            yield "real", line + rng.choice(ENDS)
        elif roll < 0.85:
            yield "corrupted", corrupt(rng, line) + rng.choice(ENDS)
        elif roll < 0.995:
            yield "noise", bytes(rng.randrange(256) for _ in range(rng.randint(0, 60))) + \
                rng.choice(ENDS)
        else:
            yield "overlong", bytes(rng.randrange(32, 127) for _ in range(rng.randint(1000, 3000))) \
                + rng.choice(ENDS)


def run(lines: int, seed: int) -> dict:
    rng = random.Random(seed)
    families = sorted(FAMILIES)
    trackers = {name: CallTracker(FAMILIES[name]) for name in families}
    framer = LineFramer()
    kinds, events, errors = Counter(), Counter(), []
    framed, buf, now, elapsed = 0, bytearray(), 0.0, 0.0
    batch = 10_000
    made = 0
    while made < lines:
        n = min(batch, lines - made)
        for kind, data in generate(rng, n):
            kinds[kind] += 1
            buf += data
        made += n
        started = time.perf_counter()
        pos = 0
        while pos < len(buf):   # reads of 1..256 bytes, as a serial port hands them over
            size = rng.randint(1, 256)
            chunk, pos = bytes(buf[pos:pos + size]), pos + size
            try:
                out = framer.feed(chunk)
            except Exception:  # the point of the run: count it, keep going
                errors.append(("framer", traceback.format_exc(limit=3)))
                continue
            for line in out:
                framed += 1
                now += rng.choice((0.01, 0.2, 0.7, 3.0, 15.0))
                for parse in PARSERS:
                    try:
                        parse(line)
                    except Exception:
                        errors.append((parse.__name__, line))
                for name, tracker in trackers.items():
                    try:
                        found = tracker.feed(line, now) + tracker.tick(now + 0.1)
                        if tracker.poll_due(now + 0.1):
                            found += tracker.on_clcc([line] if line.startswith("+CLCC") else
                                                     ([] if rng.random() < 0.8 else None), now + 0.1)
                        tracker.next_deadline()
                    except Exception:
                        errors.append((name, line, traceback.format_exc(limit=3)))
                        continue
                    for event in found:
                        events[type(event).__name__ + (f" {event.outcome}" if hasattr(
                            event, "outcome") else "")] += 1
        buf.clear()
        elapsed += time.perf_counter() - started
    return {"generated": made, "kinds": kinds, "framed": framed, "events": events,
            "errors": errors, "seconds": elapsed, "dropped": framer.dropped,
            "families": len(families)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    print(f"seed {seed}", flush=True)
    r = run(args.lines, seed)
    rate = r["framed"] / r["seconds"]
    kinds = ", ".join(f"{k} {v:,}" for k, v in sorted(r["kinds"].items()))
    events = ", ".join(f"{k} {v:,}" for k, v in sorted(r["events"].items()))
    body = (
        f"{r['generated']:,} generated lines ({kinds}) with random line ends, read in random "
        f"chunks of 1-256 bytes through `LineFramer`, every `atparse` parser, and a `CallTracker` "
        f"per family ({r['families']} families: each line is fed {r['families']} times, plus "
        f"`tick`, polls answered from the line, empty or failed).\n\n"
        f"| lines framed | overlong dropped | exceptions | lines/s (framer + parsers + "
        f"{r['families']} trackers) | events |\n|---|---|---|---|---|\n"
        f"| {r['framed']:,} | {r['dropped']:,} | {len(r['errors'])} | {rate:,.0f} | {events} |\n\n"
        f"Command: `.venv/bin/python bench/fuzz_tracker.py --lines {args.lines} --seed {seed}`; "
        f"{results.machine()}; {r['seconds']:.0f} s.\n")
    results.write_section("fuzz_tracker", "Fuzz: a million lines through framer and tracker", body)
    print(body)
    for error in r["errors"][:5]:
        print(*error, sep="\n")
    if r["errors"]:
        raise SystemExit(f"{len(r['errors'])} exception(s)")


if __name__ == "__main__":
    main()
