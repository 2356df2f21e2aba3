"""What `textback run` and `textback demo` do around the daemon: ports, signals, logging,
display."""

from __future__ import annotations

import logging
import signal
import tempfile
from pathlib import Path

log = logging.getLogger("textback")

READY_ANYWAY = 60.0  # seconds: tell systemd we run even if the modem is not there yet
# scenario seconds after the demo's last step: the last text goes out, then we stop
DEMO_TAIL = 12.0


def stop_on_signals(daemon, clock) -> None:
    """SIGTERM / Ctrl-C: finish the step in hand (a send is never cut in half), then leave the loop.

    The handler only sets a flag and wakes the clock's wait; raising from it could land inside a
    logging call or a store commit.
    """
    def handler(signum, frame):
        daemon.stop(signal.Signals(signum).name)
        clock.interrupt()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def setup_logging(level: str) -> None:
    # The time with its UTC offset: the machine's zone may not be the business's, and a log
    # read later (or from another box) must say which it is.
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%Y-%m-%d %H:%M:%S%z")


def start_line(cfg, db: Path) -> str:
    """What a run is about, once at the start: version, config, database, port, business."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        ours = version("textback")
    except PackageNotFoundError:   # a checkout run without installing
        ours = "(not installed)"
    port = cfg.modem.port + (f" (family {cfg.modem.family})" if cfg.modem.port not in
                             ("android", "sim") else "")
    zone = getattr(cfg.business.timezone, "key", str(cfg.business.timezone))
    return (f"textback {ours} starting: config {cfg.path}, database {db}, modem {port}, "
            f"business {cfg.business.name!r} ({zone})")


def serial_opener(port: str, baudrate: int):
    def opener():
        import serial

        from gateway.errors import ModemGone

        try:
            return serial.Serial(port, baudrate, timeout=0)
        except (serial.SerialException, OSError) as exc:
            raise ModemGone(f"cannot open the modem port {port}: {exc}",
                            hint="is the modem plugged in? check [modem] port in the config "
                                 "(ls /dev/serial/by-id/)") from exc
    return opener


def refuse_exposed_secrets(cfg) -> None:
    """A config holding a SIM PIN (or gateway passwords) must be readable by its owner only, or by
    the textback group as the installed one is (0640 root:textback)."""
    from gateway.config import exposed, private_fix
    from gateway.errors import ConfigError

    secrets = cfg.secrets()
    if secrets and exposed(cfg.path):
        raise ConfigError(
            f"holds secrets ({', '.join(secrets)}) and other users can read it",
            path=str(cfg.path),
            hint=f"{private_fix(cfg.path)}, then start again",
        )


def tell_systemd(daemon, clock, *, now=None) -> None:
    """The service's side of a start, for Type=notify: READY=1 once the modem is set up (or after
    READY_ANYWAY, so that a box whose modem is unplugged at boot is
    not restarted over and over), WATCHDOG=1 from the loop and from inside every wait of the
    clock (a command blocked for a minute must not let systemd kill us)."""
    import time

    from gateway.box import notify

    now = now or time.monotonic   # (a test passes its virtual clock's)
    interval = notify.watchdog_interval()
    feed = notify.Watchdog(interval, now=now) if interval else None
    started = now()
    state = {"ready": False}

    def on_ready(info):
        state["ready"] = True
        notify.ready(f"modem ready: {info.manufacturer} {info.model}".strip())

    def on_pass():
        if not state["ready"] and now() - started > READY_ANYWAY:
            state["ready"] = True
            notify.ready("running; waiting for the modem")
        if feed is not None:
            feed()

    daemon.on_ready = on_ready
    daemon.on_pass = on_pass
    clock.keepalive = on_pass


def link_for(cfg, clock, db: Path | None = None):
    """(link, simulated modem or None) for `[modem] port`: "android", "sim" or a device path.
    The phone link keeps its call journal next to the database `db` ("<db>-calls")."""
    from gateway.at.link import AtLink

    if cfg.modem.port == "android":
        from gateway.phone.link import PhoneLink

        journal = db.with_name(db.name + "-calls") if db else None
        return PhoneLink(cfg.phone, clock, journal=journal), None
    sim = None
    if cfg.modem.port == "sim":
        from gateway.simulator import scenario
        from gateway.simulator.replay import demo_scenario_path, port_opener, simulated_modem

        scen = scenario.load(cfg.modem.scenario or demo_scenario_path())
        sim = simulated_modem(scen)
        started = clock.now()
        sim.start(lambda: clock.now() - started)
        opener = port_opener(sim)
    else:
        opener = serial_opener(cfg.modem.port, cfg.modem.baudrate)
    return AtLink(opener, clock, family=cfg.modem.family, pin=cfg.modem.pin), sim


def _replica_sync(db: Path) -> float | None:
    """When Litestream (textback-backup.service) last copied `db`, from its socket."""
    from gateway.box.litestream import last_sync, socket_path

    return last_sync(socket_path(db))


def run_daemon(cfg, db_path: str | None) -> None:
    from gateway.app.daemon import build
    from gateway.app.lock import one_daemon
    from gateway.app.store import Store
    from gateway.clock import WallClock

    setup_logging(cfg.log_level)
    refuse_exposed_secrets(cfg)
    db = Path(db_path) if db_path else cfg.database
    with one_daemon(db):
        log.info("%s", start_line(cfg, db))
        store = Store(db)
        if cfg.backup is not None:   # Litestream checkpoints; ours only bounds the WAL
            store.leave_checkpoints_to_litestream()
        clock = WallClock()
        link, sim = link_for(cfg, clock, store.path)
        daemon = build(cfg, store, clock, link, replica_sync=_replica_sync)
        # `textback status` says so on every look: the starter's default passes every other check.
        store.set_state("simulated", "yes" if sim else "")
        if sim:
            from gateway.config import SIMULATED

            log.warning("%s", SIMULATED)
        tell_systemd(daemon, clock)
        stop_on_signals(daemon, clock)
        try:
            daemon.run()
            daemon.record_stop()
            log.info("stopped (%s)", daemon.stop_reason)
            from gateway.box import notify

            notify.stopping()
        finally:
            store.close()
            if sim:
                sim.stop()
                sim.close()


def run_demo(*, speed: float, db_path: str | None) -> None:
    from rich.console import Console

    from cli import show
    from gateway import config as config_mod
    from gateway.app.daemon import build
    from gateway.app.store import Store
    from gateway.at.link import AtLink
    from gateway.clock import WallClock
    from gateway.simulator import scenario
    from gateway.simulator.replay import demo_scenario_path, port_opener, simulated_modem
    from gateway.starter import write_starter

    console = Console(highlight=False)
    # The demo shows every event itself; log lines would only repeat them, out of step.
    logging.basicConfig(level=logging.ERROR)
    scen = scenario.load(demo_scenario_path())
    start = scen.start.timestamp()
    with tempfile.TemporaryDirectory(prefix="textback-demo-") as tmp, \
            _daemon_lock(db_path):
        write_starter(Path(tmp))
        cfg = config_mod.load(Path(tmp) / "textback.toml")
        store = Store(Path(db_path) if db_path else Path(tmp) / "demo.db")
        sim = simulated_modem(scen)
        clock = WallClock.starting_at(start, speed=speed)
        console.print(show.demo_banner(cfg, scen, speed))
        sink = show.DemoSink(console, cfg.business.timezone, cfg.business.region)
        link = AtLink(port_opener(sim), clock, family=scen.family or "auto")
        daemon = build(cfg, store, clock, link, sink=sink)
        stop_on_signals(daemon, clock)
        sim.start(lambda: clock.now() - start)
        try:
            counters = daemon.run(until=start + scen.steps[-1].at + DEMO_TAIL)
        finally:
            sim.stop()
            sim.close()
        if daemon.stop_reason:
            console.print(f"stopped ({daemon.stop_reason})")
        console.print()
        # "last activity" against the demo's own clock (pinned to the scenario's day), not the
        # real one, and in the demo business's zone.
        from gateway.app import reports

        show.leads(reports.leads(store, limit=20), console=console, title="Leads after the demo",
                   now=clock.now(), tz=cfg.business.timezone)
        console.print(show.demo_summary(counters))
        store.close()


PHONE_SCRIPT = (  # (seconds after the link is up, what the phone does)
    (1.0, "play", "missed", "+15125550142"),
    (5.0, "play", "answered", "+15125550177"),
    (9.0, "sms", "Yes please - the kitchen sink is leaking", "+15125550142"),
    (12.0, "photo", "This is under the sink", "+15125550142"),
    (15.0, "battery", 8, ""),
)
PHONE_DEMO_SECONDS = 20.0
# A tiny JPEG (a 1x1 grey pixel) for the demo's photo.
DEMO_JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c"
    "1912130f141d1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc000"
    "0b080001000101011100ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400"
    "b5100002010303020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c1"
    "1552d1f02433627282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a63"
    "6465666768696a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6"
    "b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffda0008"
    "010100003f00fbd3ffd9")


def run_phone_demo(*, db_path: str | None) -> None:
    """The daemon against the fake Android gateway (SMSGate + CallGate on loopback): a missed call
    gets a text, an answered one does not, and the caller's reply reaches the owner."""
    import threading
    import time
    from dataclasses import replace

    from rich.console import Console

    from cli import show
    from gateway import config as config_mod
    from gateway.app.daemon import build
    from gateway.app.store import Store
    from gateway.clock import WallClock
    from gateway.phone.link import PhoneLink
    from gateway.simulator.phone import FakeGateway
    from gateway.starter import write_starter

    console = Console(highlight=False)
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory(prefix="textback-demo-") as tmp, FakeGateway() as phone, \
            _daemon_lock(db_path):
        write_starter(Path(tmp))
        cfg = config_mod.load(Path(tmp) / "textback.toml")
        # The health check every 2 s instead of every minute: the demo is short.
        settings = replace(_phone_settings(phone), listen_port=0, adb=False, health_every=2.0)
        store = Store(Path(db_path) if db_path else Path(tmp) / "demo.db")
        clock = WallClock()
        console.print(f"textback demo --phone: the daemon and a simulated Android phone "
                      f"({phone.model}) running SMSGate and CallGate on this machine.\n")
        sink = show.DemoSink(console, cfg.business.timezone, cfg.business.region)
        daemon = build(cfg, store, clock, PhoneLink(settings, clock), sink=sink)
        stop_on_signals(daemon, clock)

        over = threading.Event()   # the demo ended (its time, or Ctrl-C): the script stops

        def script():
            start = time.monotonic()
            for at, action, what, number in PHONE_SCRIPT:
                # the demo's pace, nothing waits on it
                if over.wait(max(0.0, start + at - time.monotonic())) or daemon.stopping:
                    return
                if action == "play":
                    console.print(f"[dim]phone: a call from {number}, {what}[/dim]")
                    phone.play(what, number)
                elif action == "photo":
                    console.print(f"[dim]phone: a picture message arrives from {number}[/dim]")
                    phone.receive_mms(number, [{"contentType": "text/plain", "text": what},
                                               {"contentType": "image/jpeg", "data": DEMO_JPEG}])
                elif action == "battery":
                    console.print(f"[dim]phone: the battery falls to {what} %[/dim]")
                    phone.battery, phone.charging = what, False
                else:
                    console.print(f"[dim]phone: a text arrives from {number}[/dim]")
                    phone.receive_sms(number, what)

        player = threading.Thread(target=script, daemon=True)

        def start_script(info) -> None:   # once: a reconnect must not play the calls again
            if player.ident is None:
                player.start()

        daemon.on_ready = start_script
        try:
            daemon.run(until=clock.now() + PHONE_DEMO_SECONDS)
        finally:
            over.set()   # never a line from the phone after the demo's own output
            if player.ident is not None:
                player.join(timeout=10)
            daemon.link.close()
        console.print()
        from gateway.app import reports

        show.leads(reports.leads(store, limit=20), console=console, title="Leads after the demo",
                   now=clock.now(), tz=cfg.business.timezone)
        lead = store.lead_by_number("+15125550142")
        if lead:
            show.timeline(lead, reports.timeline(store, lead["id"]), tz=cfg.business.timezone,
                          console=console)
        if db_path is None:   # the paths above are about to go
            console.print("(The demo's database and the files leads sent are in a throwaway "
                          "folder, deleted now: demo --phone --db FILE keeps them.)")
        store.close()


def _daemon_lock(db_path: str | None):
    """A demo on a database it was given runs a daemon there: one at a time (gateway.app.lock)."""
    import contextlib

    from gateway.app.lock import one_daemon

    return one_daemon(Path(db_path)) if db_path else contextlib.nullcontext()


def _phone_settings(phone):
    from gateway.config import PhoneSettings

    user_sms, password = phone.passwords["sms"]
    user_calls, calls_password = phone.passwords["calls"]
    return PhoneSettings(url_sms=phone.url_sms, url_calls=phone.url_calls, username=user_sms,
                         password=password, calls_username=user_calls,
                         calls_password=calls_password, signing_key=phone.signing_key)
