"""`textback replay` and `textback demo`: the real daemon against the simulated modem.

Replays run on a virtual clock (no real waiting) and print one JSON object per line (docs/design.md,
"Contract: replay"); the demo runs the same pipeline on the wall clock, shifted to the scenario's
start.
"""
from __future__ import annotations

import contextlib
import json
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

REPLAY_TAIL = 120.0  # virtual seconds after the last step, so that timeouts can fire (contract)
WARMUP = 5.0  # virtual seconds before the scenario's 0 in which the daemon initialises the modem


def demo_scenario_path() -> Path:
    return Path(__file__).parent / "scenarios" / "demo.json"  # shipped as package data


@contextlib.contextmanager
def default_config(config_path: str | Path | None) -> Iterator[object]:
    """The owner's config when given, else the starter config in a throwaway folder."""
    from gateway import config as config_mod
    from gateway.starter import write_starter

    if config_path:
        yield config_mod.load(Path(config_path))
        return
    with tempfile.TemporaryDirectory(prefix="textback-") as tmp:
        write_starter(Path(tmp))
        cfg = config_mod.load(Path(tmp) / "textback.toml")
        # A transcript's replay is about calls and texts: no morning digest in the middle of it.
        yield replace(cfg, owner=replace(cfg.owner, digest=False))


def simulated_modem(scen):
    """The simulated modem that plays `scen` (a loaded Scenario)."""
    from gateway.simulator.modem import SimulatedModem

    return SimulatedModem(family=scen.family or "generic", steps=scen.steps, replies=scen.replies,
                    start=scen.start, line_end=scen.line_end, chunk=scen.chunk,
                    end_lines=scen.end_lines)


def port_opener(sim) -> Callable[[], object]:
    def opener():
        import serial

        return serial.Serial(sim.port_name, 115200, timeout=0)
    return opener


def json_sink(start: float, write: Callable[[str], None]) -> Callable[[dict], None]:
    def sink(record: dict) -> None:
        rec = dict(record)
        at = rec.pop("at")
        out = {"t": round(at - start, 3), **rec}
        write(json.dumps(out, ensure_ascii=False) + "\n")
    return sink


def run_replay(scenario_path: str | Path, *, config_path=None, db_path=None,
               write: Callable[[str], None]) -> object:
    """Play a scenario through the real daemon on a virtual clock; returns the daemon's counters."""
    from gateway.app.daemon import build
    from gateway.app.store import Store
    from gateway.at.link import AtLink
    from gateway.clock import VirtualClock
    from gateway.simulator import scenario as scenario_mod

    scen = scenario_mod.load(scenario_path)
    start = scen.start.timestamp()
    from gateway.app.lock import one_daemon

    given = contextlib.nullcontext() if db_path is None else one_daemon(Path(db_path))
    with default_config(config_path) as cfg, given, \
            tempfile.TemporaryDirectory(prefix="textback-") as tmp:
        sim = simulated_modem(scen)
        store = Store(Path(db_path) if db_path else Path(tmp) / "replay.db")
        try:
            clock = VirtualClock(start, sim, warmup=WARMUP)
            link = AtLink(port_opener(sim), clock, family=scen.family or "auto")
            # A transcript's replay is about calls and texts: no "textback is live" to the owner.
            daemon = build(cfg, store, clock, link, sink=json_sink(start, write), notices=False)
            last = scen.steps[-1].at if scen.steps else 0.0
            return daemon.run(until=start + last + REPLAY_TAIL)
        finally:
            store.close()
            sim.close()
