"""The daemon on a virtual clock with [backup], [health], [metrics] and [selftest] set: a shared harness for
tests/test_metrics.py, test_selftest.py and test_ims.py."""
from pathlib import Path

import serial

START = 1_795_536_000.0   # Tuesday 2026-11-24 10:00 in Austin: business hours


def cut_alive(text: str) -> str:
    """The starter without its (empty) issue-13 sections, which come last: TOML allows a
    section once, and the tests append their own."""
    return text.split("\n[backup]")[0] + "\n"


def run_daemon(tmp_path: Path, extra: str, *, until: float, sim=None, script=(),
               owner: bool = True, phone: str | None = None, clock_wrap=None, pin: str = ""):
    """Run until `until` virtual seconds; `script`: (at, action(sim, daemon)) done between runs.
    (database path, emitted events, the sim)."""
    from gateway import config as config_mod
    from gateway.app.daemon import build
    from gateway.app.store import Store
    from gateway.at.link import AtLink
    from gateway.clock import VirtualClock
    from gateway.simulator.modem import SimulatedModem
    from gateway.starter import write_starter

    tmp_path.mkdir(exist_ok=True)
    toml = tmp_path / "textback.toml"
    again = toml.exists()      # a restart: the same config as the first run
    write_starter(tmp_path, force=again)
    text = toml.read_text().replace("digest = true", "digest = false")
    if pin:
        text = text.replace('pin = ""', f'pin = "{pin}"', 1)
    if phone is not None:
        text = text.replace('phone = "+15125550100"', f'phone = "{phone}"')
    if not owner:
        text = text.replace('owner_phone = "+15125550199"', 'owner_phone = ""')
    toml.write_text(cut_alive(text) + "\n" + extra)   # (the same text on a restart)
    toml.chmod(0o600)
    cfg = config_mod.load(toml)
    sim = sim or SimulatedModem("sim800")
    clock = VirtualClock(START, sim, warmup=1.0)
    made: list = []
    if clock_wrap is not None:   # e.g. a clock that lets HTTP in flight finish first
        clock = clock_wrap(clock, made)
    db = tmp_path / "t.db"
    store = Store(db)
    daemon = build(cfg, store, clock, AtLink(lambda: serial.Serial(sim.port_name, 115200,
                                                                      timeout=0), clock,
                                              pin=cfg.modem.pin), notices=False)
    made.append(daemon)
    events = []
    daemon.sink = events.append
    try:
        for at, action in sorted(script, key=lambda s: s[0]):
            daemon.run(until=START + at)
            action(sim, daemon)
        daemon.run(until=START + until)
    finally:
        store.close()
        sim.close()
    return db, [{**e, "t": round(e["at"] - START, 3)} for e in events], sim


def phone_settings_for(gw, **changes):
    """PhoneSettings for a link to the fake phone `gw` over the LAN (as tests/conftest.py's
    phone_settings, for tests that start the fake themselves)."""
    from gateway.config import PhoneSettings
    from test_phonelink import KEY

    return PhoneSettings(**{**dict(url_sms=gw.url_sms, url_calls=gw.url_calls,
                                   password="Pa55word", calls_password="CallPa55",
                                   signing_key=KEY, listen_port=0, adb=False, settle=0.2,
                                   send_wait=1.0), **changes})
