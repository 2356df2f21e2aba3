"""The daemon loop against the pty simulator: faults on the serial line lose nothing, double nothing."""
import sqlite3
from pathlib import Path

import pytest
import serial

from gateway import config as config_mod
from gateway.app import reports
from gateway.app.daemon import build
from gateway.app.store import Store
from gateway.at.link import AtLink
from gateway.clock import VirtualClock
from gateway.simulator.modem import SimulatedModem
from gateway.simulator.scenario import Reply, Step
from gateway.starter import write_starter

START = 1_795_536_000.0  # Tuesday 2026-11-24 10:00 in Austin: business hours
N = "+15125550142"
CALL = [Step(0.0, "RING"), Step(0.05, f'+CLIP: "{N}",145,"",0,"",0'), Step(5.0, "NO CARRIER")]


class Replug:
    """The USB modem is pulled at `at` (scenario seconds) and a fresh one answers after that."""

    def __init__(self, first: SimulatedModem, second: SimulatedModem, at: float):
        self.first, self.second, self.at = first, second, at
        self.current = first

    def pump(self):
        self.current.pump()

    def next_step_time(self):
        step = self.current.next_step_time()
        if self.current is self.first:
            return self.at if step is None else min(step, self.at)
        return step

    def deliver_due(self, t):
        if self.current is self.first and t >= self.at:
            self.first.unplug()
            self.current = self.second
        self.current.deliver_due(t)


def config_for(folder: Path):
    if (folder / "textback.toml").exists():
        return config_mod.load(folder / "textback.toml")
    write_starter(folder)
    (folder / "textback.toml").write_text(
        (folder / "textback.toml").read_text().replace("digest = true", "digest = false"))
    return config_mod.load(folder / "textback.toml")


def daemon_for(tmp_path: Path, clock, opener):
    tmp_path.mkdir(exist_ok=True)
    cfg = config_for(tmp_path)
    store = Store(tmp_path / "t.db")
    return build(cfg, store, clock, AtLink(opener, clock), notices=False), store


def play(folder: Path, sims, *, until: float, start: float = START, line=None):
    """Run the daemon on a virtual clock driven by `line` (a sim, or a proxy over `sims`) until
    `until` seconds; close everything. (events, calls, state) for the test to look at."""
    sims = sims if isinstance(sims, (list, tuple)) else [sims]
    line = line or sims[0]
    clock = VirtualClock(start, line, warmup=1.0)
    plugged = lambda: getattr(line, "current", sims[0])  # noqa: E731  (a Replug swaps modems)
    daemon, store = daemon_for(folder, clock,
                               lambda: serial.Serial(plugged().port_name, 115200, timeout=0))
    events = []
    daemon.sink = events.append
    try:
        daemon.run(until=start + until)
        calls = reports.calls(store, limit=100)
        state = {key: store.get_state(key) for key in ("signal", "registration", "problem")}
    finally:
        store.close()
        for sim in sims:
            sim.close()
    return events, calls, state


def test_unplugged_mid_send_the_text_goes_out_once_after_replug(tmp_path):
    # The first modem takes the PDU and never answers; it is pulled 2 s later.
    first = SimulatedModem("sim800", steps=CALL, replies=[Reply("AT+CMGS", ())])
    second = SimulatedModem("sim800")
    plug = Replug(first, second, at=7.0)
    clock = VirtualClock(START, plug, warmup=1.0)
    opened = []

    def opener():
        opened.append(plug.current.port_name)
        return serial.Serial(plug.current.port_name, 115200, timeout=0)

    events = []
    daemon, store = daemon_for(tmp_path, clock, opener)
    daemon.sink = events.append
    try:
        daemon.run(until=START + 60)
        calls = reports.calls(store)
    finally:
        store.close()
        first.close()
        second.close()
    assert opened == [first.port_name, second.port_name]
    assert [(s.number, s.ref) for s in second.sent] == [(N, 1)]
    assert first.sent == []
    assert [e["event"] for e in events if e["event"] in ("modem_lost", "sms")] == ["modem_lost", "sms"]
    assert [(c["outcome"], c["action"]) for c in calls] == [("missed", "sent")]


def test_a_restart_resumes_the_queue_without_doubling(tmp_path):
    # First run: the call is seen and its text queued, but every send fails (+CMS ERROR: 500) until
    # the daemon stops. Second run (a new Store on the same file, a new modem): the text goes out once.
    first = SimulatedModem("sim800", steps=CALL, replies=[Reply("AT+CMGS", ("+CMS ERROR: 500",))])
    daemon, store = daemon_for(tmp_path, VirtualClock(START, first, warmup=1.0),
                               lambda: serial.Serial(first.port_name, 115200, timeout=0))
    daemon.run(until=START + 8)
    store.close()
    first.close()

    second = SimulatedModem("sim800")
    cfg = config_for(tmp_path / "again")
    store = Store(tmp_path / "t.db")
    clock = VirtualClock(START + 8, second)
    daemon = build(cfg, store, clock,
                    AtLink(lambda: serial.Serial(second.port_name, 115200, timeout=0), clock), notices=False)
    try:
        daemon.run(until=START + 400)
        calls = reports.calls(store)
    finally:
        store.close()
        second.close()
    assert [s.number for s in second.sent] == [N]
    assert [(c["outcome"], c["action"]) for c in calls] == [("missed", "sent")]


def test_a_modem_reboot_is_followed_by_a_fresh_setup(tmp_path):
    # The modem restarts by itself (RDY ... SMS Ready, unasked): caller ID and text indications are
    # lost on a reboot, so the daemon sets it up again and the next call is still texted.
    second = "+15125550187"
    steps = CALL + [Step(20.0, "RDY"), Step(20.5, "+CPIN: READY"), Step(21.0, "Call Ready"),
                    Step(22.0, "SMS Ready"), Step(40.0, "RING"),
                    Step(40.05, f'+CLIP: "{second}",145,"",0,"",0'), Step(45.0, "NO CARRIER")]
    sim = SimulatedModem("sim800", steps=steps)
    play(tmp_path, sim, until=60)
    assert [s.number for s in sim.sent] == [N, second]
    assert sim.commands.count("AT+CLIP=1") == 2


def test_calls_missed_while_the_daemon_was_down_are_texted_once(tmp_path):
    # First start on a new box: the modem's missed-calls list is only a starting point (no times in
    # it: those calls may be weeks old). Later, the entries that are new in the list - calls that
    # rang while textback was down - are texted, marked recovered; an entry already handled is not.
    old, away = "+15125550111", "+15125550122"
    db_dir = tmp_path / "box"
    events = []

    def start(missed, at):
        sim = SimulatedModem("sim800", missed_calls=missed)
        events.extend(play(db_dir, sim, start=at, until=10)[0])
        return sim

    first = start([(old, 145)], START)
    second = start([(old, 145), (away, 145)], START + 3600)  # the newest last, as the modem adds them
    third = start([(old, 145), (away, 145)], START + 7200)    # nothing new: nothing sent
    assert (first.sent, [s.number for s in second.sent], third.sent) == ([], [away], [])
    assert [(e["number"], e["how"], e.get("recovered")) for e in events if e["event"] == "call"] == [
        (away, "missed-calls list", True)]


def test_a_crash_while_recovering_the_missed_list_loses_no_call(tmp_path):
    # The write of the second recovered call fails (a real SQLite error, from a trigger; the
    # daemon keeps retrying, sending nothing meanwhile): the list must not be taken as handled,
    # so the next start recovers that call too, and each caller is texted once.
    old, first_away, second_away = "+15125550111", "+15125550122", "+15125550133"
    db_dir = tmp_path / "box"
    missed = [(old, 145), (first_away, 145), (second_away, 145)]
    texted = []
    for n, entries in enumerate([missed[:1], missed, missed]):
        if n == 2:
            conn = sqlite3.connect(db_dir / "t.db")
            conn.execute("DROP TRIGGER power_cut")
            conn.close()
        sim = SimulatedModem("sim800", missed_calls=entries)
        play(db_dir, sim, start=START + n * 3600, until=10)
        texted.append(sorted(s.number for s in sim.sent))
        if n == 0:
            conn = sqlite3.connect(db_dir / "t.db")
            conn.execute(f"CREATE TRIGGER power_cut BEFORE INSERT ON calls WHEN NEW.number = "
                         f"'{second_away}' BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END")
            conn.close()
    assert texted == [[], [], [first_away, second_away]]


class FaultUntil:
    """A fault that lasts until `at` scenario seconds, on a modem line that plays on meanwhile:
    `begin()` at construction, `end()` at `at`. The virtual clock stops at `at` to end it."""

    def __init__(self, sim: SimulatedModem, at: float):
        self.sim, self.at, self.on = sim, at, True
        self.begin()

    def begin(self): ...

    def end(self): ...

    def pump(self):
        self.sim.pump()

    def next_step_time(self):
        step = self.sim.next_step_time()
        if not self.on:
            return step
        return self.at if step is None else min(step, self.at)

    def deliver_due(self, t):
        if self.on and t >= self.at:
            self.end()
            self.on = False
        self.sim.deliver_due(t)


class LockedUntil(FaultUntil):
    """Another program holds the lead database locked."""

    def __init__(self, sim: SimulatedModem, db: Path, at: float):
        self.db = db
        super().__init__(sim, at)

    def begin(self):
        import sqlite3

        self.holder = sqlite3.connect(self.db, isolation_level=None)
        self.holder.execute("BEGIN EXCLUSIVE")

    def end(self):
        self.holder.execute("ROLLBACK")
        self.holder.close()


def test_a_locked_database_keeps_the_call_and_texts_once_it_can_write(tmp_path):
    sim = SimulatedModem("sim800", steps=CALL)
    Store(tmp_path / "t.db").close()  # the database exists, migrated
    lock = LockedUntil(sim, tmp_path / "t.db", at=12.0)
    clock = VirtualClock(START, lock, warmup=1.0)
    cfg = config_for(tmp_path)
    store = Store(tmp_path / "t.db", busy_timeout=0.01)
    events = []
    daemon = build(cfg, store, clock,
                    AtLink(lambda: serial.Serial(sim.port_name, 115200, timeout=0), clock),
                    sink=events.append, notices=False)
    try:
        daemon.run(until=START + 60)
        calls = reports.calls(store)
    finally:
        store.close()
        sim.close()
    assert "store_error" in [e["event"] for e in events]
    assert [s.number for s in sim.sent] == [N]
    assert [(c["outcome"], c["action"]) for c in calls] == [("missed", "sent")]


def test_a_refused_pin_is_never_tried_again(tmp_path):

    from gateway.errors import PinRefused

    replies = [Reply("AT+CPIN?", ("+CPIN: SIM PIN", "OK")), Reply('AT+CPIN="', ("+CME ERROR: 16",))]
    write_starter(tmp_path)
    path = tmp_path / "textback.toml"
    path.write_text(path.read_text().replace('pin = ""', 'pin = "1234"'))
    cfg = config_mod.load(path)
    sims = []
    for _ in range(2):  # the second start is what systemd's Restart= would do
        sim = SimulatedModem("sim800", replies=replies)
        sims.append(sim)
        clock = VirtualClock(START, sim)
        store = Store(tmp_path / "t.db")
        link = AtLink(lambda: serial.Serial(sim.port_name, 115200, timeout=0), clock, pin="1234")
        try:
            with pytest.raises(PinRefused):
                build(cfg, store, clock, link, notices=False).run(until=START + 10)
        finally:
            link.close()
            store.close()
            sim.close()
    assert [c for c in sims[0].commands if c.startswith('AT+CPIN="')] == ['AT+CPIN="1234"']
    assert [c for c in sims[1].commands if c.startswith('AT+CPIN="')] == []


def test_unplugged_while_idle_the_next_call_after_replug_is_texted(tmp_path):
    first = SimulatedModem("sim800")
    second = SimulatedModem("sim800", steps=[Step(20.0, "RING"), Step(20.05, CALL[1].rx),
                                       Step(25.0, "NO CARRIER")])
    play(tmp_path, [first, second], until=60, line=Replug(first, second, at=3.0))
    assert [s.number for s in second.sent] == [N]


def test_unplugged_while_ringing_the_call_is_texted_from_the_sims_missed_list(tmp_path):
    # The caller gives up while the modem is away; the SIM's missed-calls list (it travels with the
    # SIM) has the call when the modem is back: texted once, marked recovered.
    first = SimulatedModem("sim800", steps=CALL[:2])
    second = SimulatedModem("sim800", missed_calls=[(N, 145)])
    events = play(tmp_path, [first, second], until=60, line=Replug(first, second, at=2.0))[0]
    assert [s.number for s in second.sent] == [N]
    assert [(e["how"], e.get("recovered")) for e in events if e["event"] == "call"] == [
        ("missed-calls list", True)]


def test_a_silent_modem_is_retried_until_it_answers(tmp_path):
    # The first four commands get no answer at all (a modem still booting, or wedged): the daemon
    # times out, lets go of the port, tries again with back-off, and then works normally.
    sim = SimulatedModem("sim800", steps=[Step(30.0, "RING"), Step(30.05, CALL[1].rx),
                                    Step(35.0, "NO CARRIER")], replies=[Reply("AT", (), 4)])
    events = play(tmp_path, sim, until=60)[0]
    assert [e["event"] for e in events if e["event"] in ("modem_lost", "modem")] == ["modem_lost", "modem"]
    assert [s.number for s in sim.sent] == [N]


class Between(FaultUntil):
    """A modem fault from `start` to `end` scenario seconds: `sim.<fault>()` at start, and
    `sim.hang(False)` at the end when the fault is a hang (a wedge ends only by our ESC)."""

    def __init__(self, sim: SimulatedModem, fault: str, start: float, end: float):
        self.fault, self.start, self.started = fault, start, False
        super().__init__(sim, end)

    def end(self):
        if self.fault == "hang":
            self.sim.hang(False)

    def next_step_time(self):
        step = super().next_step_time()
        if self.started:
            return step
        return self.start if step is None else min(step, self.start)

    def deliver_due(self, t):
        if not self.started and t >= self.start:
            getattr(self.sim, self.fault)()
            self.started = True
        super().deliver_due(t)


def later_call(at: float) -> list[Step]:
    return [Step(at, "RING"), Step(at + 0.05, f'+CLIP: "{N}",145,"",0,"",0'),
            Step(at + 5.0, "NO CARRIER")]


def test_a_modem_waiting_for_a_text_body_mid_run_texts_the_next_caller_once(tmp_path):
    # From 20 s the modem takes every command as the body of a text (a prompt we gave up on): the
    # caller at 30 s is texted once, without letting go of the port. The first command after 20 s is
    # the AT+CLCC poll of that call: it times out, the session's ESC frees the modem, and the end
    # line decides; the text then goes out at the first try.
    sim = SimulatedModem("sim800", steps=later_call(30.0))
    events = play(tmp_path, sim, until=120, line=Between(sim, "wedge", 20.0, 21.0))[0]
    assert [s.number for s in sim.sent] == [N]
    assert [e["event"] for e in events if e["event"] in ("modem_lost", "send_error")] == []
    assert [(e["outcome"], e["how"]) for e in events if e["event"] == "call"] == [("missed", "NO CARRIER")]


def test_a_modem_hung_mid_run_is_reopened_and_the_caller_texted_once_it_answers(tmp_path):
    # Hung from 20 s to 80 s: the swallowed timeouts (AT+CLCC, the send) add up to "gone"; the
    # port is reopened with back-off until the modem answers; the caller of 30 s is texted once.
    sim = SimulatedModem("sim800", steps=later_call(30.0))
    events = play(tmp_path, sim, until=200, line=Between(sim, "hang", 20.0, 80.0))[0]
    assert [s.number for s in sim.sent] == [N]
    kinds = [e["event"] for e in events if e["event"] in ("modem_lost", "modem")]
    assert kinds[0] == "modem" and kinds[1] == "modem_lost" and kinds[-1] == "modem"
    assert sum(e["event"] == "modem" and e["at"] >= START + 80 for e in events) == 1


class FullUntil(FaultUntil):
    """The disk is full: SQLite cannot grow the file."""

    def __init__(self, sim: SimulatedModem, store: Store, at: float):
        self.store = store
        super().__init__(sim, at)

    def begin(self):
        pages = self.store.db.execute("PRAGMA page_count").fetchone()[0]
        self.store.db.execute(f"PRAGMA max_page_count = {pages}")

    def end(self):
        self.store.db.execute("PRAGMA max_page_count = 1073741823")


def test_a_full_disk_keeps_the_calls_and_texts_them_once_there_is_room(tmp_path):
    # Callers while SQLite cannot grow the file (the first few rows fit in pages it has): nothing
    # is sent that could not be recorded, nothing is forgotten; once there is room, one text each.
    numbers = [f"+1512555{2000 + i:04d}" for i in range(30)]
    steps = []
    for i, number in enumerate(numbers):
        t = 1.0 + i * 3
        steps += [Step(t, "RING"), Step(t + 0.05, f'+CLIP: "{number}",145,"",0,"",0'),
                  Step(t + 1.0, "NO CARRIER")]
    sim = SimulatedModem("sim800", steps=steps)
    cfg = config_for(tmp_path)
    store = Store(tmp_path / "t.db")
    disk = FullUntil(sim, store, at=100.0)
    clock = VirtualClock(START, disk, warmup=1.0)
    events = []
    daemon = build(cfg, store, clock,
                    AtLink(lambda: serial.Serial(sim.port_name, 115200, timeout=0), clock),
                    sink=events.append, notices=False)
    try:
        daemon.run(until=START + 200)
        calls = reports.calls(store, limit=50)
    finally:
        store.close()
        sim.close()
    assert "store_error" in [e["event"] for e in events]
    assert sorted(s.number for s in sim.sent) == numbers
    assert sorted((c["number"], c["action"]) for c in calls) == [(n, "sent") for n in numbers]


def test_no_network_is_said_in_the_status(tmp_path):
    sim = SimulatedModem("sim800", replies=[Reply("AT+CREG?", ("+CREG: 0,2", "OK")),
                                      Reply("AT+CSQ", ("+CSQ: 99,99", "OK"))])
    state = play(tmp_path, sim, until=5)[2]
    assert state == {"signal": "unknown", "registration": "searching",
                     "problem": "no network: the modem is searching"}


@pytest.mark.parametrize("csq, words", [
    ("0,0", "no signal (-113 dBm)"), ("5,0", "1 bar (-103 dBm)"), ("12,0", "2 bars (-89 dBm)"),
    ("17,0", "3 bars (-79 dBm)"), ("31,99", "4 bars (-51 dBm)"), ("99,99", "unknown"),
    ("garbage", "unknown"), (None, "unknown")])
def test_signal_in_words(csq, words):
    from gateway.at.link import signal_words

    assert signal_words(csq) == words


class ReadOnlyUntil(FullUntil):
    """The database refuses writes (read-only: a remounted card, wrong owner)."""

    def begin(self):
        self.store.db.execute("PRAGMA query_only = ON")  # every write fails as SQLITE_READONLY would

    def end(self):
        self.store.db.execute("PRAGMA query_only = OFF")


def test_a_read_only_database_sends_nothing_it_cannot_record_then_catches_up(tmp_path):
    sim = SimulatedModem("sim800", steps=CALL)
    cfg = config_for(tmp_path)
    store = Store(tmp_path / "t.db")
    clock = VirtualClock(START, ReadOnlyUntil(sim, store, at=30.0), warmup=1.0)
    events = []
    daemon = build(cfg, store, clock,
                    AtLink(lambda: serial.Serial(sim.port_name, 115200, timeout=0), clock),
                    sink=events.append, notices=False)
    try:
        daemon.run(until=START + 20)
        sent_while_read_only = list(sim.sent)
        daemon.run(until=START + 90)
        calls = reports.calls(store)
    finally:
        store.close()
        sim.close()
    errors = [e["error"] for e in events if e["event"] == "store_error"]
    assert errors and "readonly" in errors[0]
    assert sent_while_read_only == []
    assert [s.number for s in sim.sent] == [N]
    assert [(c["outcome"], c["action"]) for c in calls] == [("missed", "sent")]


# -- what `textback status` says while the modem is away --------------------------------------------
class NoModem:
    """The modem is not plugged in: the port cannot be opened (the daemon's serial_opener)."""

    def __call__(self):
        from gateway.errors import ModemGone

        raise ModemGone("cannot open the modem port /dev/textback-modem: [Errno 2] No such file "
                        "or directory", hint="is the modem plugged in? check [modem] port")


def status_of(store, now):
    """`textback status` while this test's daemon runs: it holds the database's lock, as
    `textback run` does (status asks the lock whether a daemon runs)."""
    from click.testing import CliRunner

    from cli.main import cli
    from gateway.app.lock import one_daemon

    with one_daemon(store.path):
        return CliRunner().invoke(cli, ["status", "--db", str(store.path)],
                                  env={"TEXTBACK_NOW": str(now), "COLUMNS": "300"})


def test_a_missing_modem_is_the_problem_status_names_while_the_daemon_keeps_its_heartbeat(tmp_path):
    """STRANGER2 #1: the daemon waited for an unplugged modem, wrote no heartbeat, and status said
    "daemon not running ... start it" with an earlier boot's signal as if current."""
    # An earlier boot, with the modem: its facts are in the database.
    play(tmp_path, SimulatedModem("sim800"), until=5)
    # This boot: no modem at all, for five minutes.
    sim = SimulatedModem("sim800")
    clock = VirtualClock(START + 3600, sim)
    store = Store(tmp_path / "t.db")
    daemon = build(config_for(tmp_path), store, clock, AtLink(NoModem(), clock), notices=False)
    try:
        daemon.run(until=START + 3600 + 300)
        now = clock.now()
        assert now - float(store.get_state("heartbeat")) <= reports.HEARTBEAT_STALE / 3
        rows = {row["check"]: row for row in reports.health(store, now=now)}
        assert rows["daemon"]["ok"] is True
        assert (rows["modem"]["ok"], rows["modem"]["value"], rows["modem"]["fix"]) == (
            False, "lost since 5m ago: cannot open the modem port /dev/textback-modem: [Errno 2] No "
                   "such file or directory (last seen: SIMCOM_Ltd SIMCOM_SIM800L)",
            "is the modem plugged in? check [modem] port; textback keeps trying by itself")
        assert rows["signal"]["value"].endswith("(last seen 1h ago, before the modem was lost)")
        assert rows["registration"]["value"] == "home network (last seen 1h ago, before the modem was lost)"
        result = status_of(store, now)
    finally:
        store.close()
        sim.close()
    assert result.exit_code == 1
    assert "start it" not in result.output and "not running" not in result.output
    assert "Needs attention:\n  modem: is the modem plugged in?" in result.output


def test_a_new_box_without_a_modem_says_not_found_not_never_seen(tmp_path):
    sim = SimulatedModem("sim800")
    clock = VirtualClock(START, sim)
    store = Store(tmp_path / "t.db")
    daemon = build(config_for(tmp_path), store, clock, AtLink(NoModem(), clock), notices=False)
    try:
        daemon.run(until=START + 150)
        rows = {row["check"]: row for row in reports.health(store, now=clock.now())}
    finally:
        store.close()
        sim.close()
    assert rows["daemon"]["value"].startswith("running (heartbeat")
    assert rows["modem"]["value"].startswith("not found since 2m ago: cannot open the modem port")
    assert "signal" not in rows


def test_the_modem_back_clears_the_lost_row_and_the_facts_are_current_again(tmp_path):
    first, second = SimulatedModem("sim800"), SimulatedModem("sim800")
    line = Replug(first, second, at=3.0)
    clock = VirtualClock(START, line, warmup=1.0)
    daemon, store = daemon_for(tmp_path, clock,
                               lambda: serial.Serial(line.current.port_name, 115200, timeout=0))
    events = []
    daemon.sink = events.append
    try:
        daemon.run(until=START + 60)
        rows = {row["check"]: row for row in reports.health(store, now=clock.now())}
    finally:
        store.close()
        first.close()
        second.close()
    assert [e["event"] for e in events if e["event"] in ("modem", "modem_lost")] == [
        "modem", "modem_lost", "modem"]
    assert (rows["modem"]["ok"], rows["modem"]["value"]) == (None, "SIMCOM_Ltd SIMCOM_SIM800L")
    assert rows["signal"]["value"] == "4 bars (-71 dBm)"


def test_a_clean_stop_is_said_at_once(tmp_path):
    """STRANGER2 #12: status said "running" for 75-90 s after a SIGTERM (the heartbeat's age)."""
    sim = SimulatedModem("sim800")
    clock = VirtualClock(START, sim, warmup=1.0)
    daemon, store = daemon_for(tmp_path, clock,
                               lambda: serial.Serial(sim.port_name, 115200, timeout=0))
    daemon.on_pass = lambda: clock.now() >= START + 40 and daemon.stop("SIGTERM")
    try:
        daemon.run(until=START + 100)
        daemon.record_stop()   # as `textback run` does when its loop ends (cli/running.py)
        stopped = clock.now()
        row = reports.health(store, now=stopped + 2)[0]
        assert (row["ok"], row["value"]) == (False, "stopped 2s ago (SIGTERM)")
        # started again: running
        daemon.stopping = False
        daemon.on_pass = lambda: None
        daemon.run(until=stopped + 31)
        assert reports.health(store, now=clock.now())[0]["ok"] is True
    finally:
        store.close()
        sim.close()
