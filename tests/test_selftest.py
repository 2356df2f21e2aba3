"""The daily self-test: the box texts its own number and expects it back within 2 minutes."""
import json
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import pytest

from alive_helpers import START, run_daemon
from gateway import config as config_mod
from gateway.app import reports
from gateway.app import selftest as st
from gateway.errors import ConfigError
from gateway.simulator.modem import SimulatedModem
from gateway.simulator.scenario import InboundSms, Step

CHICAGO = ZoneInfo("America/Chicago")


def test_next_run_is_the_next_time_of_day_in_business_time():
    at = clock_time(7, 30)
    assert st.next_run(START, at, CHICAGO) == START + 21.5 * 3600      # Tue 10:00 -> Wed 07:30
    assert st.next_run(START - 3 * 3600, at, CHICAGO) == START - 2.5 * 3600   # 07:00 -> 07:30
    assert st.next_run(START - 2.5 * 3600, at, CHICAGO) == START + 21.5 * 3600  # not twice


@pytest.mark.parametrize("text", ["7:30pm", "24:00", "07:60", "seven"])
def test_bad_times(text):
    with pytest.raises(ConfigError, match="selftest.at: not a time of day"):
        config_mod._selftest({"at": text}, "t.toml")


def verdict(trial, now, received_others=False, streak=0, drops=False):
    return trial.verdict(now, received_others=received_others, drop_streak=streak,
                         network_drops=drops)


def test_verdicts():
    sent = st.Trial("abc", "+15125550100", queued_at=0, sent_at=10)
    assert verdict(sent, 129) is None
    assert verdict(sent, 130).ok is False and "did not come back within 2 minutes" in \
        verdict(sent, 130).detail
    assert verdict(sent, 130, received_others=True).ok is False          # first loss: fail
    note = verdict(sent, 130, received_others=True, streak=1)            # second: the network
    assert note.ok is None and "does not deliver texts a SIM sends to its own" in note.detail
    assert verdict(sent, 130, drops=True).ok is True
    unsent = st.Trial("abc", "+15125550100", queued_at=0)
    assert verdict(unsent, 599) is None and verdict(unsent, 600).ok is False
    failed = st.Trial("abc", "+15125550100", queued_at=0, send_error="+CMS ERROR: 500")
    assert verdict(failed, 1).detail == "the test text could not be sent: +CMS ERROR: 500"


def result(db):
    from gateway.app.store import Store

    store = Store(db)
    try:
        return json.loads(store.get_state("selftest_last") or "null"), reports.leads(store, limit=10), [
            dict(r) for r in store.db.query("SELECT m.number, m.kind, m.body, o.status FROM "
                                            "messages m JOIN outbox o ON o.message_id = m.id")]
    finally:
        store.close()


def test_the_box_texts_itself_and_gets_it_back(tmp_path):
    db, events, sim = run_daemon(tmp_path, '[selftest]\nat = "10:01"\n', until=300,
                                 sim=SimulatedModem("sim800"))
    last, leads, texts = result(db)
    assert last["ok"] is True and last["detail"].startswith("sent and received back in ")
    assert leads == []                                    # the box is nobody's lead
    selftests = [t for t in texts if t["kind"] == "selftest"]
    assert [(t["number"], t["status"]) for t in selftests] == [("+15125550100", "sent")]
    assert [t for t in texts if t["kind"] != "selftest" and "self-test" in t["body"]] == []
    assert [e for e in events if e["event"] == "selftest"] == [
        {"at": START + last["at"] - START, "event": "selftest", "ok": True,
         "detail": last["detail"], "t": round(last["at"] - START, 3)}]
    assert 60 <= last["at"] - START <= 60 + 120


def test_a_lost_self_text_fails_alerts_the_owner_and_is_a_problem(tmp_path):
    sim = SimulatedModem("sim800", self_delivery=False)
    db, events, _ = run_daemon(tmp_path, '[selftest]\nat = "10:01"\n', until=400, sim=sim)
    last, _, texts = result(db)
    assert last["ok"] is False
    assert last["detail"] == "the test text was sent but did not come back within 2 minutes " \
                             "(receiving texts may not work)"
    alerts = [t for t in texts if t["kind"] == "owner_notice" and "self-test" in t["body"]]
    assert [(a["number"], a["body"]) for a in alerts] == [
        ("+15125550199", f"textback self-test failed: {last['detail']}")]
    from gateway.app.alive import problems  # noqa: F401 - the /fail body comes from it
    assert any(e["event"] == "selftest" and e["ok"] is False for e in events)


def test_a_network_that_drops_texts_to_oneself_is_named_not_failed_every_day(tmp_path):
    """Sending works and others' texts arrive, but the self-text never does, two days running:
    the second day says so (a note), and from then on the test checks sending only."""
    day = 86400.0
    sim = SimulatedModem("sim800", self_delivery=False,
                   steps=[Step(30.0, "", sms=InboundSms("+15125550142", "hi, can you come?"))])
    db, events, _ = run_daemon(tmp_path, '[selftest]\nat = "10:01"\n', until=2 * day + 400,
                               sim=sim, owner=False)
    got = [(round((e["at"] - START) / day), e["ok"], e["detail"]) for e in events
           if e["event"] == "selftest"]
    assert got == [
        (0, False, "the test text was sent but did not come back within 2 minutes (receiving "
                   "texts may not work)"),
        (1, None, "this network does not deliver texts a SIM sends to its own number; from now "
                  "on the self-test checks sending only"),
        (2, True, "sent (this network does not deliver texts to oneself, so only sending is "
                  "tested)"),
    ]


def test_without_cnum_business_phone_is_the_number_and_without_both_it_says_what_to_set(tmp_path):
    db, _, _ = run_daemon(tmp_path / "a", '[selftest]\nat = "10:01"\n', until=300,
                          sim=SimulatedModem("sim800", cnum=False))   # the starter's phone is the SIM's
    assert result(db)[0]["ok"] is True
    db, _, _ = run_daemon(tmp_path / "b", '[selftest]\nat = "10:01"\n', until=200,
                          sim=SimulatedModem("sim800", cnum=False), phone="")
    last, _, texts = result(db)
    assert last["ok"] is None
    assert last["detail"] == "not run: the SIM does not say its own number (AT+CNUM); set " \
                             "business.phone"
    assert [t for t in texts if t["kind"] == "selftest"] == []


def test_sending_that_fails_is_a_failure_without_a_text_to_the_owner(tmp_path):
    from gateway.simulator.scenario import Reply

    sim = SimulatedModem("sim800", replies=[Reply("AT+CMGS", ("+CMS ERROR: 21",))])
    db, _, _ = run_daemon(tmp_path, '[selftest]\nat = "10:01"\n', until=300, sim=sim)
    last, _, texts = result(db)
    assert last["ok"] is False and last["detail"].startswith("the test text could not be sent: ")
    assert [t for t in texts if "self-test failed" in t["body"]] == []


def test_doctor_shows_the_last_self_test(tmp_path):
    from click.testing import CliRunner

    from cli.main import cli

    db, _, _ = run_daemon(tmp_path, '[selftest]\nat = "10:01"\n', until=300)
    result_ = CliRunner().invoke(cli, ["doctor", "--port", "sim", "--db", str(db)])
    assert "note self-test: passed " in result_.output


def test_on_the_phone_path_the_self_test_uses_business_phone(tmp_path):
    """The phone as the modem (the fake SMSGate): the test text goes to business.phone, the
    phone's own number, and its echo comes back as a received text, never a lead."""

    from alive_helpers import cut_alive, phone_settings_for
    from gateway import config as config_mod
    from gateway.app.daemon import build
    from gateway.app.store import Store
    from gateway.clock import WallClock
    from gateway.phone.link import PhoneLink
    from gateway.simulator.phone import FakeGateway
    from gateway.starter import write_starter
    from test_phonelink import KEY

    write_starter(tmp_path)
    toml = tmp_path / "textback.toml"
    toml.write_text(cut_alive(toml.read_text()) + '\n[selftest]\nat = "07:30"\n')
    cfg = config_mod.load(toml)
    with FakeGateway(retry_scale=0.005, signing_key=KEY) as gw:
        store = Store(tmp_path / "t.db")
        clock = WallClock()
        daemon = build(cfg, store, clock, PhoneLink(phone_settings_for(gw), clock), notices=False)
        events = []
        daemon.sink = events.append
        daemon.watch.selftest.next = clock.now() + 1    # now rather than at 07:30

        def on_pass():
            if any(e["event"] == "selftest" for e in events):
                daemon.stop("done")
                clock.interrupt()
        daemon.on_pass = on_pass
        try:
            daemon.run(until=clock.now() + 30)
        finally:
            daemon.link.close()
        last = json.loads(store.get_state("selftest_last"))
        leads = reports.leads(store, limit=5)
        store.close()
    assert [m["recipients"][0]["phoneNumber"] for m in gw.messages.values()] == ["+15125550100"]
    assert last["ok"] is True and last["detail"].startswith("sent and received back in ")
    assert leads == []
