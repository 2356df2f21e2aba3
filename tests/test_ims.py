"""VoLTE / IMS: AT+CIREG (27.007 8.71) in the periodic health check, the problem it makes, and
one AT+CFUN=1,1 after 10 minutes unregistered, at most once an hour."""
import json

import pytest

from alive_helpers import run_daemon
from gateway import ims
from gateway.simulator.modem import SimulatedModem


@pytest.mark.parametrize("lines, expected", [
    (["+CIREG: 0,1"], True), (["+CIREG: 2,0,1"], False), (["+CIREG: 1,1"], True),
    ([], None), (None, None), (["+CIREG: garbage"], None),
])
def test_parse_cireg(lines, expected):
    assert ims.parse_cireg(lines) is expected


@pytest.mark.parametrize("cops, lte", [
    ('+COPS: 0,0,"T-Mobile",7', True), ('+COPS: 0,0,"Op",0', False), ('+COPS: 0,0,"Op",13', True),
    ("+COPS: 0", None), (None, None),
])
def test_is_lte(cops, lte):
    assert ims.is_lte(cops) is lte


def test_should_reset():
    assert not ims.should_reset(599, down_since=0, last_reset=None)
    assert ims.should_reset(600, down_since=0, last_reset=None)
    assert not ims.should_reset(4000, down_since=0, last_reset=1000)   # once an hour
    assert ims.should_reset(4600, down_since=0, last_reset=1000)
    assert not ims.should_reset(4600, down_since=None, last_reset=None)
    assert ims.problem(True, True, False) and not ims.problem(True, False, False)
    assert not ims.problem(True, True, None) and not ims.problem(False, True, False)


def states(db):
    from gateway.app.store import Store

    store = Store(db)
    try:
        return {k: store.get_state(k) for k in ("ims_problem", "ims_registered",
                                                "last_modem_reset")}
    finally:
        store.close()


def test_lte_without_ims_is_a_problem_and_one_reset_fixes_it(tmp_path, caplog):
    sim = SimulatedModem("ec25", ims=False)
    sim.ims_after_reset = True
    db, events, sim = run_daemon(tmp_path, "", until=1000, sim=sim)
    resets = [e for e in events if e["event"] == "modem_reset"]
    # health from t=-1
    assert [(e["t"] >= 600 - 1, e["reason"]) for e in resets] == [(True, "IMS (VoLTE) unregistered")]
    assert sim.resets == 1
    assert any("resetting it once (AT+CFUN=1,1)" in r.getMessage() for r in caplog.records)
    got = states(db)
    assert got["ims_problem"] == "" and got["ims_registered"] == "1"   # registered after it


def test_a_modem_that_stays_unregistered_is_reset_at_most_once_an_hour(tmp_path):
    sim = SimulatedModem("ec25", ims=False)
    sim.ims_after_reset = False
    db, events, sim = run_daemon(tmp_path, "", until=2 * 3600 + 700, sim=sim)
    times = [e["t"] for e in events if e["event"] == "modem_reset"]
    assert len(times) == 3 and sim.resets == 3
    assert all(b - a >= 3600 for a, b in zip(times, times[1:])), times
    got = states(db)
    assert got["ims_problem"].startswith("calls will not ring: VoLTE/IMS is not registered|turn "
                                         'IMS on: AT+QCFG="ims",1')


def test_no_network_is_reset_too_and_named_in_the_fail_ping(tmp_path):
    from gateway.app.alive import Facts, problems

    sim = SimulatedModem("sim800")
    db, events, sim = run_daemon(tmp_path, "", until=1300, sim=sim,
                                 script=[(1, lambda s, d: setattr(s, "registration", 2))])
    assert [e["reason"] for e in events if e["event"] == "modem_reset"] == ["no network"]
    facts = Facts(now=2000, link="modem", silent_since=None, fail_after=600,
                  unregistered_since=1000, registration="searching", ims_problem=False,
                  family="sim800", failed_in_a_row=0, stuck_since=None, backup_lag=None,
                  backup_problem="", selftest=None)
    assert problems(facts) == ["no network for 16m (the modem is searching): check the antenna "
                               "and that the SIM's line is active"]


def test_a_2g_modem_that_does_not_answer_cireg_is_never_a_problem(tmp_path):
    db, events, sim = run_daemon(tmp_path, "", until=1300, sim=SimulatedModem("sim800"))
    assert states(db) == {"ims_problem": None, "ims_registered": "", "last_modem_reset": None}
    assert [e for e in events if e["event"] == "modem_reset"] == []
    assert "AT+CIREG?" in sim.commands


def test_status_shows_the_volte_problem(tmp_path):
    from click.testing import CliRunner

    from cli.main import cli

    db, _, _ = run_daemon(tmp_path, "", until=400, sim=SimulatedModem("sim7600", ims=False))
    result = CliRunner().invoke(cli, ["status", "--db", str(db), "--json"])
    row = next(r for r in json.loads(result.output) if r["check"] == "VoLTE")
    assert row == {"check": "VoLTE", "ok": False,
                   "value": "calls will not ring: VoLTE/IMS is not registered",
                   "fix": ims.FIXES["sim7600"]}
