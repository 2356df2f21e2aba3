"""The daemon's core behaviours, on both links through one fixture: the AT modem (the pty simulator
on the virtual clock) and the contractor's phone (the fake SMSGate + CallGate on loopback). The
same script, the same `build`, the same expectations: what a contractor gets must not depend on
the transport.
"""
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import serial

from gateway import config as config_mod
from gateway.app import reports
from gateway.app.daemon import build
from gateway.app.store import Store
from gateway.at.link import AtLink
from gateway.clock import VirtualClock, WallClock
from gateway.phone.link import PhoneLink
from gateway.simulator.modem import SimulatedModem
from gateway.simulator.scenario import InboundSms, Step
from gateway.starter import write_starter

START = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("America/Chicago")).timestamp()  # open
N, B, OWNER = "+15125550142", "+15125550177", "+15125550199"


@dataclass
class Run:
    """What one run left: the texts the network took (kind, to, text) and the store's calls."""

    sent: list
    calls: list

    def to(self, number):
        return [(kind, text) for kind, to, text in self.sent if to == number]


class ModemWorld:
    """Each action 20 s after the previous: a SIM800 plays it on the virtual clock."""

    def __init__(self, folder: Path):
        self.folder = folder

    def run(self, script, *, notices=True) -> Run:
        steps, t = [], 5.0
        for action, number, *text in script:
            clip = f'+CLIP: "{number}",145,"",0,"",0'
            if action == "missed":
                steps += [Step(t, "RING"), Step(t + 0.05, clip), Step(t + 5, "NO CARRIER")]
            elif action == "answered":
                steps += [Step(t, "RING"), Step(t + 0.05, clip),
                          Step(t + 3, f'+CLCC: 1,1,0,0,0,"{number}",145'),
                          Step(t + 9, "NO CARRIER")]
            else:
                steps.append(Step(t, "", sms=InboundSms(number, text[0])))
            t += 20
        sim = SimulatedModem("sim800", steps=steps)
        clock = VirtualClock(START, sim, warmup=1.0)
        store = Store(self.folder / "t.db")
        records = []
        link = AtLink(lambda: serial.Serial(sim.port_name, 115200, timeout=0), clock)
        daemon = build(config_in(self.folder), store, clock, link, sink=records.append,
                       notices=notices)
        try:
            daemon.run(until=START + t + 60)
            return Run(sent_texts(records), reports.calls(store))
        finally:
            link.close()
            store.close()
            sim.close()


class PhoneWorld:
    """The same actions on the fake phone, each once the previous one is over (real time, the
    clock shifted to START so that the business is open)."""

    def __init__(self, folder: Path, gw, settings):
        self.folder, self.gw, self.settings = folder, gw, settings

    def run(self, script, *, notices=True) -> Run:
        store = Store(self.folder / "t.db")
        clock = WallClock.starting_at(START)
        records = []
        link = PhoneLink(self.settings(settle=0.2, send_wait=3.0), clock)
        daemon = build(config_in(self.folder), store, clock, link, sink=records.append,
                       notices=notices)
        done = {"actions": 0}

        def next_action():
            # One action at a time: the one before decided (a call) or recorded (a text), and what it queued sent.
            if not daemon.connected or store.next_due_at() is not None:
                return
            before = script[:done["actions"]]
            calls = sum(1 for action, *_ in before if action != "text")
            if len(reports.calls(store)) < calls or inbound(records) < len(before) - calls:
                return
            if done["actions"] < len(script):
                action, number, *text = script[done["actions"]]
                done["actions"] += 1
                if action == "text":
                    self.gw.receive_sms(number, text[0])
                else:
                    self.gw.play(action, number)
            else:     # all done, every text out
                daemon.stop("done")
                clock.interrupt()

        daemon.on_pass = next_action
        try:
            daemon.run(until=clock.now() + 60)   # a bound for a loaded machine, not a target
            assert daemon.stop_reason == "done", "the phone run did not finish"
            return Run(sent_texts(records), reports.calls(store))
        finally:
            link.close()
            store.close()


def config_in(folder: Path):
    if not (folder / "textback.toml").exists():
        write_starter(folder)
        path = folder / "textback.toml"
        path.write_text(path.read_text().replace("digest = true", "digest = false"))
    return config_mod.load(folder / "textback.toml")


def sent_texts(records):
    return [(r["kind"], r["to"], r["text"]) for r in records
            if r["event"] == "sms" and r.get("status") == "sent"]


def inbound(records):
    return sum(1 for r in records if r["event"] == "inbound")


@pytest.fixture(params=["modem", "phone"])
def world(request, tmp_path):
    if request.param == "modem":
        return ModemWorld(tmp_path)
    return PhoneWorld(tmp_path, request.getfixturevalue("gw"),
                      request.getfixturevalue("phone_settings"))


def test_a_missed_call_is_texted_back_once(world):
    run = world.run([("missed", N)], notices=False)
    assert [kind for kind, _ in run.to(N)] == ["missed_call"]
    assert "Acme Plumbing" in run.to(N)[0][1]
    assert [(c["number"], c["outcome"], c["action"]) for c in run.calls] == [
        (N, "missed", "sent")]


def test_an_answered_call_gets_no_text(world):
    run = world.run([("answered", N)], notices=False)
    assert run.sent == []
    assert [(c["number"], c["outcome"], c["action"]) for c in run.calls] == [
        (N, "answered", "skipped")]


def test_a_reply_reaches_the_owner_tagged_with_the_lead(world):
    run = world.run([("missed", N), ("text", N, "the water heater is leaking")], notices=False)
    assert run.to(OWNER) == [("owner_alert", "#1 (512) 555-0142: the water heater is leaking")]


def test_stop_gets_one_confirmation_and_then_nothing(world):
    run = world.run([("missed", N), ("text", N, "STOP"), ("missed", N)], notices=False)
    assert [kind for kind, _ in run.to(N)] == ["missed_call", "opt_out_confirm"]


def test_the_owner_hears_that_textback_is_live_once(world):
    run = world.run([("missed", B)])
    assert run.to(OWNER) == [("owner_notice",
                              "textback is live on (512) 555-0100: missed calls get a text back.")]
    assert world.run([("missed", N)]).to(OWNER) == []      # the same config: said once
