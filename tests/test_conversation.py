"""The owner's side on the real daemon and pty simulator: texts left on the SIM, restarts between
recording and deleting a text, follow-ups, the morning digest."""
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import serial

from gateway import config as config_mod
from gateway.app.daemon import build
from gateway.app.store import Store
from gateway.at.link import AtLink
from gateway.clock import VirtualClock
from gateway.simulator.modem import SimulatedModem
from gateway.simulator.scenario import InboundSms, Reply, Step
from gateway.starter import write_starter

TZ = ZoneInfo("America/Chicago")
# A Tuesday, open 07:00-17:00; after the digest's window (07:30-10:30), so only Wednesday has one.
START = datetime(2026, 11, 24, 11, 0, tzinfo=TZ).timestamp()
N = "+15125550142"
OWNER = "+15125550199"
CALL = [Step(0.0, "RING"), Step(0.05, f'+CLIP: "{N}",145,"",0,"",0'), Step(5.0, "NO CARRIER")]


def setup(folder: Path, **changes):
    write_starter(folder)
    path = folder / "textback.toml"
    text = path.read_text()
    for old, new in changes.items():
        text = text.replace(old, new)
    path.write_text(text)
    return config_mod.load(path)


def run(cfg, db: Path, sim: SimulatedModem, start: float, until: float, events=None):
    clock = VirtualClock(start, sim, warmup=1.0)
    store = Store(db)
    link = AtLink(lambda: serial.Serial(sim.port_name, 115200, timeout=0), clock)
    daemon = build(cfg, store, clock, link, sink=(events.append if events is not None else None), notices=False)
    try:
        daemon.run(until=until)
    finally:
        link.close()
        store.close()


def texts(sim):
    return [(s.number, s.text) for s in sim.sent]


def test_texts_left_on_the_sim_are_read_at_start_and_deleted(tmp_path):
    cfg = setup(tmp_path)
    sim = SimulatedModem("sim800", stored_texts=[(N, "Are you open Saturday?")])
    events = []
    run(cfg, tmp_path / "t.db", sim, START, START + 10, events)
    sim.close()
    assert [(e["from"], e["text"]) for e in events if e["event"] == "inbound"] == [
        (N, "Are you open Saturday?")]
    assert sim.inbox == {}
    assert texts(sim) == [(OWNER, "#1 (512) 555-0142: Are you open Saturday?")]


def test_restart_between_recording_and_deleting_neither_loses_nor_doubles(tmp_path):
    cfg = setup(tmp_path)
    # The first delete fails (as if the daemon died before it): the text stays on the SIM.
    sim = SimulatedModem("sim800", stored_texts=[(N, "Leak under the sink")],
                   replies=[Reply("AT+CMGD", ("ERROR",), 1)])
    db = tmp_path / "t.db"
    run(cfg, db, sim, START, START + 10)
    assert len(sim.inbox) == 1
    run(cfg, db, sim, START + 10, START + 20)  # restart: reads it again, knows it, deletes it
    sim.close()
    assert sim.inbox == {}
    store = Store(db)
    try:
        inbound = list(store.db.query("SELECT body FROM messages WHERE direction = 'in'"))
    finally:
        store.close()
    assert inbound == [{"body": "Leak under the sink"}]
    assert [t for t in texts(sim) if t[0] == OWNER] == [(OWNER, "#1 (512) 555-0142: Leak under the sink")]


def test_follow_up_next_business_morning_after_quiet_hours_and_the_digest(tmp_path):
    cfg = setup(tmp_path)
    sim = SimulatedModem("sim800", steps=CALL)
    run(cfg, tmp_path / "t.db", sim, START, START + 26 * 3600)  # to Wednesday noon
    sim.close()
    sent = [(datetime.fromtimestamp(START + s.at_step_time, TZ).strftime("%a %H:%M"), s.number,
             s.text) for s in sim.sent]
    assert sent == [
        ("Tue 11:00", N, "Sorry we missed your call - this is Mike at Acme Plumbing. What do you "
                         "need done? Reply here and we'll get right back to you."),
        ("Wed 07:30", OWNER, "Yesterday (Tue Nov 24): 1 missed call, 1 texted back.\n"
                             "Replies waiting: none.\nNo answer yet: 1 lead."),
        # The shop opens at 07:00 but quiet hours last until 08:00.
        ("Wed 08:00", N, "Hi, it's Mike at Acme Plumbing again. Still need a hand with that job? "
                         "Just reply and we'll set up a time."),
    ]


def test_no_follow_up_after_a_reply(tmp_path):
    cfg = setup(tmp_path, **{"digest = true": "digest = false"})
    sim = SimulatedModem("sim800", steps=CALL + [Step(600.0, "", sms=InboundSms(N, "Yes please, tomorrow"))])
    run(cfg, tmp_path / "t.db", sim, START, START + 26 * 3600)
    sim.close()
    assert [s.number for s in sim.sent] == [N, OWNER]  # the text-back and the alert; no follow-up


def test_follow_up_after_hours_setting_stays_out_of_quiet_hours(tmp_path):
    # 12 hours after a 11:00 text-back is 23:00: inside quiet hours (21:00-08:00), so 08:00.
    cfg = setup(tmp_path, **{"follow_up_after_hours = 0": "follow_up_after_hours = 12",
                             "digest = true": "digest = false"})
    sim = SimulatedModem("sim800", steps=CALL)
    run(cfg, tmp_path / "t.db", sim, START, START + 26 * 3600)
    sim.close()
    when = [datetime.fromtimestamp(START + s.at_step_time, TZ).strftime("%a %H:%M") for s in sim.sent]
    assert when == ["Tue 11:00", "Wed 08:00"]


def test_a_text_delivered_straight_with_cmt_is_recorded(tmp_path):
    from gateway.simulator.modem import encode_deliver_pdus

    cfg = setup(tmp_path)
    (pdu,) = encode_deliver_pdus(N, "Can you come Monday?", datetime(2026, 11, 24, 11, 0, tzinfo=TZ))
    steps = [Step(3.0, f"+CMT: ,{len(pdu) // 2 - 1}"), Step(3.0, pdu)]
    sim = SimulatedModem("sim800", steps=steps)
    events = []
    run(cfg, tmp_path / "t.db", sim, START, START + 10, events)
    sim.close()
    assert [(e["from"], e["text"]) for e in events if e["event"] == "inbound"] == [
        (N, "Can you come Monday?")]
    assert texts(sim) == [(OWNER, "#1 (512) 555-0142: Can you come Monday?")]


def test_quiet_alerts_are_gathered_into_one_text(tmp_path):
    cfg = setup(tmp_path, **{"alerts_batch_minutes = 0": "alerts_batch_minutes = 15",
                             "digest = true": "digest = false", "follow_up = true": "follow_up = false"})
    other = "+15125550187"
    steps = CALL + [Step(60.0, "", sms=InboundSms(N, "Leak in the kitchen")),
                    Step(120.0, "", sms=InboundSms(other, "Quote for a new boiler?"))]
    sim = SimulatedModem("sim800", steps=steps)
    run(cfg, tmp_path / "t.db", sim, START, START + 3600)
    sim.close()
    to_owner = [(s.at_step_time, s.text) for s in sim.sent if s.number == OWNER]
    assert [text for _, text in to_owner] == ["#1 (512) 555-0142: Leak in the kitchen\n"
                                              "#2 (512) 555-0187: Quote for a new boiler?"]
    # 15 minutes after the first alert, give or take the daemon's one-minute chores round
    assert 60 + 15 * 60 <= to_owner[0][0] <= 60 + 16 * 60


def test_the_owner_hears_a_new_box_is_live_and_of_a_long_outage(tmp_path):
    from gateway.events import ModemInfo

    cfg = setup(tmp_path)
    sim = SimulatedModem("sim800")
    clock = VirtualClock(START, sim)
    store = Store(tmp_path / "t.db")
    daemon = build(cfg, store, clock, AtLink(lambda: None, clock), notices=False)
    info = ModemInfo("SIMCOM_Ltd", "SIMCOM_SIM800L", "sim800")

    def to_owner():
        return [row["body"] for row in store.db.query(
            "SELECT body FROM messages WHERE number = ? ORDER BY id", [OWNER])]

    try:
        daemon.conversation.connected(info)   # first start with this config: the box is live
        daemon.conversation.connected(info)   # a plain restart: nothing
        store.set_state("heartbeat", f"{START - (2 * 3600 + 10 * 60):.3f}")
        daemon.conversation.connected(info)   # back after 2h10m without a heartbeat
        sent = to_owner()
    finally:
        store.close()
        sim.close()
    assert sent == ["textback is live on (512) 555-0100: missed calls get a text back.",
                    "textback was offline 2h10m and is back now."]


def test_the_owners_status_fills_dollar_status_until_it_expires(tmp_path):
    cfg = setup(tmp_path, **{"digest = true": "digest = false"})
    (tmp_path / "templates" / "missed_call.txt").write_text("Sorry we missed you. $owner: $status\n")
    cfg = config_mod.load(tmp_path / "textback.toml")
    second = "+15125550187"
    steps = [Step(10.0, "", sms=InboundSms(OWNER, "status on a roof till 3"))] + call_at(60.0, N) \
        + call_at(4 * 3600 + 60.0, second)  # 11:01, then 15:01: after "till 3" (3 pm)
    sim = SimulatedModem("sim800", steps=steps)
    run(cfg, tmp_path / "t.db", sim, START, START + 5 * 3600)
    sim.close()
    assert texts(sim) == [(N, "Sorry we missed you. Mike: on a roof till 3"),
                          (second, "Sorry we missed you. Mike: ")]


def test_a_status_longer_than_200_characters_is_refused_by_text(tmp_path):
    cfg = setup(tmp_path, **{"digest = true": "digest = false"})
    (tmp_path / "templates" / "missed_call.txt").write_text("Sorry we missed you. $status\n")
    cfg = config_mod.load(tmp_path / "textback.toml")
    steps = [Step(10.0, "", sms=InboundSms(OWNER, "status " + "x" * 201))] + call_at(60.0, N)
    sim = SimulatedModem("sim800", steps=steps)
    run(cfg, tmp_path / "t.db", sim, START, START + 120)
    sim.close()
    assert texts(sim) == [(OWNER, "Status not set: 201 characters, at most 200."),
                          (N, "Sorry we missed you. ")]


def call_at(t, number):
    """A missed call from `number` ringing at `t` scenario seconds."""
    return [Step(t, "RING"), Step(t + 0.05, f'+CLIP: "{number}",145,"",0,"",0'),
            Step(t + 5.0, "NO CARRIER")]
