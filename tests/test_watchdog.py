"""systemd's watchdog is fed while one command blocks: an AT+CMGS the modem never answers holds
the daemon for 10 + 60 s (gateway.at.session: prompt, then answer), longer than half of WatchdogSec.
The clock feeds it from inside its waits (gateway.clock KEEPALIVE_SLICE), here on the virtual
clock with `textback run`'s own wiring (cli.running.tell_systemd)."""
import configparser
import os
from pathlib import Path

import serial

from cli import running
from gateway import config as config_mod
from gateway.app.daemon import build
from gateway.app.store import Store
from gateway.at.link import AtLink
from gateway.box import notify
from gateway.clock import VirtualClock
from gateway.simulator.modem import SimulatedModem
from gateway.simulator.scenario import Reply, Step
from gateway.starter import write_starter

UNIT = Path(__file__).resolve().parent.parent / "deploy" / "systemd" / "textback.service"
START = 1_795_536_000.0  # a Tuesday, 10:00 in Austin: business hours
N = "+15125550142"


def watchdog_sec() -> float:
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read(UNIT)
    return float(unit["Service"]["WatchdogSec"])


def config_in(folder: Path):
    write_starter(folder)
    return config_mod.load(folder / "textback.toml")


def test_an_unanswered_send_leaves_no_gap_longer_than_half_the_watchdog(tmp_path, monkeypatch):
    limit = watchdog_sec()
    # The modem takes the text after its prompt and then says nothing at all, every time.
    sim = SimulatedModem("sim800", steps=[Step(1.0, "RING"), Step(1.05, f'+CLIP: "{N}",145,"",0,"",0'),
                                    Step(5.0, "NO CARRIER")],
                   replies=[Reply("AT+CMGS", ())])
    clock = VirtualClock(START, sim, warmup=1.0)
    store = Store(tmp_path / "t.db")
    link = AtLink(lambda: serial.Serial(sim.port_name, 115200, timeout=0), clock)
    daemon = build(config_in(tmp_path), store, clock, link)
    fed = []
    monkeypatch.setattr(notify, "watchdog", lambda **_: fed.append(clock.now()))
    monkeypatch.setattr(notify, "ready", lambda *a, **k: True)
    monkeypatch.setenv("WATCHDOG_USEC", str(int(limit * 1_000_000)))
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    running.tell_systemd(daemon, clock, now=clock.now)
    try:
        daemon.run(until=START + 300)
    finally:
        store.close()
        sim.close()
    cmgs = [c for c in sim.commands if c.startswith("AT+CMGS=")]
    assert len(cmgs) >= 3           # the send was tried, unanswered, and tried again
    gaps = [b - a for a, b in zip([START - 1.0] + fed, fed + [START + 300])]
    assert max(gaps) <= limit / 2, max(gaps)
