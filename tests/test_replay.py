"""Replays: the whole pipeline (sim over a pty, session, tracker, policy, store, outbox) per scenario.

Each scenario in tests/scenarios is a modem transcript; the expected decisions are written out in full.
The same scenarios are replayed again a byte at a time and with other line ends: the decisions must
not change.
"""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from gateway.app import reports
from gateway.app.owner_commands import USAGE
from gateway.simulator.replay import run_replay

SCENARIOS = Path(__file__).parent / "scenarios"
MISSED = ("Sorry we missed your call - this is Mike at Acme Plumbing. What do you need done? "
          "Reply here and we'll get right back to you.")
AFTER = ("Thanks for calling Acme Plumbing. We're closed right now - Mike will call you back first "
         "thing in the morning. Reply here with what you need.")
N = "+15125550142"
OLGA = ("Здравствуйте! Течёт бойлер в подвале, вода уже на полу. Можете приехать сегодня после обеда? "
        "Спасибо, Ольга")
STOPPED = ("Acme Plumbing: you are unsubscribed and will get no more texts from us. Reply START to "
           "subscribe again.")
HELP = "Acme Plumbing: we text back callers we missed. Call us on (512) 555-0100. Reply STOP to opt out."
STARTED = "Acme Plumbing: you are subscribed again. Reply STOP to opt out."
OWNER = "+15125550199"  # business.owner_phone in the starter config


def call(t, how, outcome="missed", number=N, rings=None):
    return ("call", t, number, outcome, how) if rings is None else ("call", t, number, outcome, how, rings)


def sent(t, text=MISSED, to=N):
    return ("sms", t, to, "sent", text)


def skipped(t, reason, to=N):
    return ("sms", t, to, "skipped", reason)


EXPECTED = {
    "generic_missed": [call(9.5, "NO CARRIER"), sent(9.5)],
    # No end line at all: 1 Hz AT+CLCC polls find the call gone (the sim drops it 1 s after the last RING,
    # at 7.0): the first poll after that decides.
    "generic_ring_silence": [call(8.0, "+CLCC empty"), sent(8.0)],
    "sim800_missed": [call(8.0, "+CLCC stat 6"), sent(8.0)],
    # Only RING and +CLIP from a SIM800 (its end lines never come): the caller hangs up at 13.0, the next
    # AT+CLCC poll finds no call and decides. Until 0.3.x textback trusted SIM800's end line and waited
    # for 12 s of ring silence (24.05 here).
    "sim800_ring_only": [call(14.0, "+CLCC empty", rings=3), sent(14.0)],
    # VOICE CALL: END, NO CARRIER, +CLCC 6 and MISSED_CALL: one call, one text.
    "sim7600_missed": [call(11.0, "VOICE CALL: END"), sent(11.0)],
    "ec25_missed": [call(10.0, "+QIND ccinfo stat 6"), sent(10.0)],
    "huawei_missed": [call(8.0, "^CEND"), sent(8.0)],
    "huawei_answered": [call(40.0, "^CEND", outcome="answered"), skipped(40.0, "answered")],
    "ublox_missed": [call(9.0, "+UCALLSTAT stat 6"), sent(9.0)],
    "zte_missed": [call(8.0, "HANGUP"), sent(8.0)],
    "wavecom_missed": [call(8.0, "+WIND: 6"), sent(8.0)],
    "withheld_shapes": [call(4.0, "NO CARRIER", number=None), skipped(4.0, "withheld", to=None),
                        call(24.0, "NO CARRIER", number=None), skipped(24.0, "withheld", to=None),
                        call(44.0, "NO CARRIER", number=None), skipped(44.0, "withheld", to=None)],
    "satype128_valid": [call(4.0, "NO CARRIER", number="+481239823991"), sent(4.0, to="+481239823991")],
    "answered_clcc": [call(60.0, "+CLCC stat 6", outcome="answered"), skipped(60.0, "answered")],
    "interleaved": [call(8.0, "NO CARRIER", rings=3), sent(8.0)],
    # +CMS ERROR: 500 twice: retried after 5 s, then 15 s more, then sent.
    "cms_retry": [call(5.0, "NO CARRIER"), sent(25.0)],
    "cms_permanent": [call(5.0, "NO CARRIER"), ("sms", 5.0, N, "failed", MISSED)],
    # The second call gives the number in national form with type 129: the same person. No second
    # text to the caller; the owner hears that they called again.
    "repeat_caller": [call(5.0, "NO CARRIER"), sent(5.0),
                      call(605.0, "NO CARRIER"), skipped(605.0, "cooldown (texted 10 min ago)"),
                      sent(605.0, "(512) 555-0142 called 2 times in 10 minutes (#1)", to=OWNER)],
    "after_hours": [call(5.0, "NO CARRIER"), sent(5.0, text=AFTER)],
    "short_code": [call(5.0, "NO CARRIER", number="72404"), skipped(5.0, "short code", to="72404")],
    "garbage": [call(6.0, "NO CARRIER"), sent(6.0)],
    # RING and +CLIP of a second caller arrive inside the AT+CMGS response: still tracked.
    "urc_during_send": [call(5.0, "NO CARRIER"), sent(5.0),
                        call(12.0, "NO CARRIER", number="+15125550187"), sent(12.0, to="+15125550187")],
    "reply_and_relay": [
        call(5.0, "NO CARRIER"), sent(5.0),
        ("inbound", 30.0, N, "The water heater is leaking, can you come today?"),
        sent(30.0, "#1 (512) 555-0142: The water heater is leaking, can you come today?", to=OWNER),
        sent(60.0, "I can be there at 3")],
    "owner_marks": [call(5.0, "NO CARRIER"), sent(5.0), ("lead_status", 30.0, 1, "booked"),
                    sent(40.0, USAGE, to=OWNER)],
    "reply_ucs2_multipart": [
        call(5.0, "NO CARRIER"), sent(5.0), ("inbound", 30.0, N, OLGA),
        sent(30.0, f"#1 (512) 555-0142: {OLGA}", to=OWNER)],
    "stop_start_help": [
        call(5.0, "NO CARRIER"), sent(5.0),
        ("inbound", 30.0, N, "STOP"), sent(30.0, STOPPED),
        sent(40.0, "#1 opted out (STOP): not sent.", to=OWNER),  # the owner's relay is refused
        ("inbound", 50.0, N, "help"), sent(50.0, HELP),
        ("inbound", 60.0, N, "Start"), sent(60.0, STARTED),
        sent(70.0, "sorry, can I call you?")],
}


def decisions(lines):
    out = []
    for record in lines:
        if record["event"] == "call":
            item = ("call", record["t"], record["number"], record["outcome"], record["how"])
            out.append(item + (record["rings"],) if record["rings"] == 3 else item)
        elif record["event"] == "lead_status":
            out.append(("lead_status", record["t"], record["lead"], record["status"]))
        elif record["event"] == "inbound":
            out.append(("inbound", record["t"], record["from"], record["text"]))
        elif record["event"] == "sms":
            detail = record["text"] if record["status"] in ("sent", "failed") else record["reason"]
            out.append(("sms", record["t"], record["to"], record["status"], detail))
    return out


def replay(path, **kwargs):
    chunks = []
    run_replay(path, write=chunks.append, **kwargs)
    return [json.loads(line) for line in "".join(chunks).splitlines()]


def test_every_scenario_has_an_expectation():
    assert sorted(p.stem for p in SCENARIOS.glob("*.json")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_replay_decisions(name):
    assert decisions(replay(SCENARIOS / f"{name}.json")) == EXPECTED[name]


@pytest.mark.parametrize("variant", [{"chunk": 1}, {"line_end": "\r"}, {"line_end": "\r\r\n"},
                                     {"chunk": 3, "line_end": "\r\r\n"}])
@pytest.mark.parametrize("name", ["sim800_missed", "huawei_missed", "cms_retry", "withheld_shapes"])
def test_framing_changes_nothing(name, variant, tmp_path):
    scenario = json.loads((SCENARIOS / f"{name}.json").read_text())
    path = tmp_path / "variant.json"
    path.write_text(json.dumps({**scenario, **variant}))
    assert decisions(replay(path)) == EXPECTED[name]


MISSED_SCENARIOS = sorted(p.stem for p in SCENARIOS.glob("*_missed.json"))


@pytest.mark.parametrize("name", MISSED_SCENARIOS)
def test_without_end_lines_every_family_is_decided_by_the_call_list(name, tmp_path):
    """The same transcripts on a modem that never sends its family's end lines (the simulator's
    "end_lines": false): one missed call, one text, decided by AT+CLCC, whatever the modem says it is."""
    scenario = json.loads((SCENARIOS / f"{name}.json").read_text())
    path = tmp_path / "no_end_lines.json"
    path.write_text(json.dumps({**scenario, "end_lines": False}))
    got = decisions(replay(path))
    assert [(d[0], d[3], d[4]) if d[0] == "call" else (d[0], d[3]) for d in got] == [
        ("call", "missed", "+CLCC empty"), ("sms", "sent")]
    assert got[1][2] == N and got[1][1] == got[0][1]


def test_every_family_has_a_missed_scenario():
    from gateway.at.families import FAMILIES

    assert {name.removesuffix("_missed") for name in MISSED_SCENARIOS} == set(FAMILIES)


def test_the_db_keeps_what_the_replay_decided(tmp_path):
    from gateway.app.store import Store

    db = tmp_path / "leads.db"
    replay(SCENARIOS / "repeat_caller.json", db_path=db)
    store = Store(db)
    try:
        (lead,) = reports.leads(store)
        calls = reports.calls(store)
    finally:
        store.close()
    assert (lead["number"], lead["status"], lead["missed_calls"]) == (N, "texted", 2)
    assert sorted((c["action"], c["reason"]) for c in calls) == [
        ("sent", None), ("skipped", "cooldown (texted 10 min ago)")]


def test_cli_replay_prints_one_json_object_per_line(tmp_path):
    result = CliRunner().invoke(cli, ["replay", str(SCENARIOS / "generic_missed.json")])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.output.splitlines()]
    assert [r["event"] for r in records] == ["modem", "ringing", "ringing", "call", "queued", "sms"]
    assert records[3] == {"t": 9.5, "event": "call", "number": N, "outcome": "missed",
                          "how": "NO CARRIER", "rings": 2, "withheld": False}


def test_cli_replay_bad_scenario_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"start": "2026-11-28T10:00:00-06:00", "steps": [{"at": -1, "rx": "RING"}]}')
    result = CliRunner().invoke(cli, ["replay", str(bad)])
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {bad}: steps[0].at:")
    assert "Traceback" not in result.output


def test_no_number_or_message_text_in_the_log_at_info(caplog):
    import logging

    with caplog.at_level(logging.INFO):
        for name in ("reply_and_relay", "stop_start_help", "repeat_caller", "cms_retry", "owner_marks"):
            replay(SCENARIOS / f"{name}.json")
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "call ended" in text and "text sent" in text  # the log did say what happened
    for secret in ("512", "555", "0142", "0199", "water heater", "I can be there", "STOP", "Start"):
        assert secret not in text
