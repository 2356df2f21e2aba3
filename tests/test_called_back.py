"""the owner calls a lead back from the phone -> the lead is "called back" and gets no
follow-up. CallGate posts the outgoing call's OFFHOOK with the dialled number (Telecom's
PhoneStateBroadcaster, docs/reference/phone-apps.md "Calls"); the phone's call log shows it too."""
from types import SimpleNamespace

from gateway import events as ev
from gateway.app.conversation import Conversation
from gateway.app.daemon import Counters
from gateway.app.store import Store
from gateway.phone.callbook import CallBook
from gateway.simulator.modem import SimulatedModem
from test_conversation import CALL, OWNER, START, N, run, setup
from test_phonelink import link, pump, settings  # noqa: F401 (fixtures)

NATIONAL = "5125550142"   # as Android gives a dialled number


def test_an_outgoing_call_with_its_number_is_a_call_placed():
    book = CallBook(settle=0.6)
    for event, number, at in [("call:started", NATIONAL, 0.0), ("call:started", None, 0.01),
                              ("call:ended", NATIONAL, 20.0), ("call:ended", None, 20.01)]:
        assert book.feed(event, number, 100 + at) == []
    assert book.tick(130.0) == [ev.CallPlaced(NATIONAL, 100.0)]


def test_an_outgoing_call_without_a_number_says_nothing():
    book = CallBook(settle=0.6)
    for event, number, at in [("call:started", None, 0.0), ("call:ended", None, 5.0)]:
        book.feed(event, number, 100 + at)
    assert book.tick(130.0) == []


def test_the_phone_link_reports_the_call_back(gw, link):  # noqa: F811 (fixtures)
    gw.call_event("call:started", NATIONAL)
    gw.call_event("call:ended", NATIONAL)
    placed = [e for e in pump(link, gw, then=100) if isinstance(e, ev.CallPlaced)]
    assert [p.number for p in placed] == [NATIONAL]


def talk_for(cfg, db, at):
    store = Store(db)
    return store, Conversation(cfg, store, SimpleNamespace(now=lambda: at),
                               lambda *a, **k: None, Counters())


def test_a_lead_called_back_gets_no_follow_up(tmp_path):
    cfg = setup(tmp_path)
    db = tmp_path / "t.db"
    sim = SimulatedModem("sim800", steps=CALL)
    run(cfg, db, sim, START, START + 600)          # Tuesday 11:00: missed, texted
    store, talk = talk_for(cfg, db, START + 3600)
    talk.called_back(NATIONAL, START + 3600, "you called them from the phone")
    lead = store.lead_by_number(N)
    changes = store.db.execute("SELECT old, new, note FROM lead_changes").fetchall()
    store.close()
    assert lead["status"] == "called_back"
    assert changes == [("texted", "called_back", "you called them from the phone")]
    run(cfg, db, sim, START + 600, START + 26 * 3600)   # to Wednesday noon: no follow-up
    sim.close()
    assert [(s.number, s.text[:9]) for s in sim.sent] == [(N, "Sorry we "), (OWNER, "Yesterday")]


def test_a_follow_up_already_queued_is_refused_when_due(tmp_path):
    cfg = setup(tmp_path)
    db = tmp_path / "t.db"
    store, talk = talk_for(cfg, db, START)
    store.queue_text(number=N, body="Still need a hand?", kind="follow_up", dedupe_key="f",
                     send_at=START, now=START)
    talk.called_back(N, START, "you called them from the phone")
    item = store.due(START + 1)[0]
    refusal = talk.refusal(item)
    store.close()
    assert refusal == "no follow-up: the lead is called back now"


def test_a_booked_lead_stays_booked(tmp_path):
    cfg = setup(tmp_path)
    store, talk = talk_for(cfg, tmp_path / "t.db", START)
    store.queue_text(number=N, body="hi", kind="manual", dedupe_key="m", send_at=START, now=START)
    lead = store.lead_by_number(N)
    store.set_lead_status(lead["id"], "booked", None, START)
    talk.called_back(N, START + 60, "you called them from the phone")
    status = store.lead(lead["id"])["status"]
    store.close()
    assert status == "booked"


def test_the_call_log_shows_a_call_back_made_while_textback_was_down(tmp_path):
    cfg = setup(tmp_path)
    store, talk = talk_for(cfg, tmp_path / "t.db", START + 100)
    store.queue_text(number=N, body="hi", kind="missed_call", dedupe_key="m", send_at=START,
                     now=START)
    store.set_state("call_log_seen", f"{START:.3f}")
    talk.missed_in_log(ev.MissedLog(((NATIONAL, ev.PLACED, START + 50),), START + 100))
    status = store.lead_by_number(N)["status"]
    store.close()
    assert status == "called_back"


def test_the_call_log_names_the_owners_calls_out_apart_from_missed_ones():
    from gateway.phone import calllog

    entries = calllog.parse("Row: 0 number=5125550142, type=2, date=1700000000000, duration=30\n"
                            "Row: 1 number=+15125550143, type=3, date=1700000100000, duration=0\n")
    assert calllog.missed(entries) == (("5125550142", ev.PLACED, 1700000000.0),
                                       ("+15125550143", ev.MISSED, 1700000100.0))
    # ... and a call out is never taken for the missed call a waiting call looks for
    assert calllog.find(entries, "5125550142", 1699999990.0, 1700000010.0) is None


def test_over_usb_the_owners_call_out_is_reported_too(gw, settings, fake_adb):  # noqa: F811
    """With adb on, decided calls are checked for call waiting (their `how`): a call placed has
    none, and must come through as CallPlaced, not stop the link."""
    from gateway.clock import WallClock
    from gateway.phone.link import PhoneLink

    fake_adb()
    phone = PhoneLink(settings(adb=True), WallClock())
    phone.connect()
    try:
        gw.call_event("call:started", NATIONAL)
        gw.call_event("call:ended", NATIONAL)
        placed = [e for e in pump(phone, gw, then=100) if isinstance(e, ev.CallPlaced)]
    finally:
        phone.close()
    assert [p.number for p in placed] == [NATIONAL]
