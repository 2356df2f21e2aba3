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
UK = "+447785342749"
B = "+15125550177"
NO_LINK = "no review link is set ([reviews] url)"
PICTURE = "sent a picture textback can't open: ask them to text it to your cell"


def call(t, how, outcome="missed", number=N, rings=None):
    return ("call", t, number, outcome, how) if rings is None else ("call", t, number, outcome, how, rings)


def sent(t, text=MISSED, to=N):
    return ("sms", t, to, "sent", text)


def skipped(t, reason, to=N):
    return ("sms", t, to, "skipped", reason)


# Consent: what optout_words.json sends, one sender each (+1512555{1000 + i}), 20 s apart.
OPT_OUT = [
    'STOP', 'stop', 'Stop.', 'STOP!!!', 'QUIT', 'quit!', 'END', 'End', 'REVOKE', 'revoke', 'OPT OUT',
    'Opt-Out', 'optout', 'CANCEL', 'cancel please', 'UNSUBSCRIBE', 'unsubscribe me', 'STOPALL', 'stop all',
    'Stop texting me', 'remove me', 'Remove me from your list', "don't text me", 'Don’t text me!',
    'wrong number', 'Sorry, wrong number', 'no more texts', 'ＳＴＯＰ', 'STOP 🛑',
]
NEAR_MISSES = [
    "don't stop", 'can you stop by at 3', 'cancel my appointment', "please don't stop texting me",
    'the end of the day works', 'I quit my old plumber', 'remove the old heater too',
    "this isn't a wrong number, I need a plumber", 'stopped leaking now', 'help me',
]


def optout_words() -> list:
    out = []
    for i, text in enumerate(OPT_OUT + NEAR_MISSES):
        t, who = 10.0 + 20 * i, f"+1512555{1000 + i}"
        out.append(("inbound", t, who, text))
        shown = f"({who[2:5]}) {who[5:8]}-{who[8:]}"
        if text in OPT_OUT:   # one confirmation, then the owner hears of it (a second later)
            out += [sent(t, STOPPED, to=who),
                    sent(t + 1, f"#{i + 1} {shown} opted out, no more texts go to them: {text}",
                         to=OWNER)]
        else:                 # a near miss is an ordinary reply
            out.append(sent(t, f"#{i + 1} {shown}: {text}", to=OWNER))
    t = 10.0 + 20 * len(OPT_OUT + NEAR_MISSES)
    return out + [("inbound", t, "+15125551000", "STOP")]   # STOP again: no second confirmation


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
        # the owner hears of it (one text a second at most: gateway.app.pacing)
        sent(31.0, "#1 (512) 555-0142 opted out, no more texts go to them: STOP", to=OWNER),
        sent(40.0, "#1 opted out (STOP): not sent.", to=OWNER),  # the owner's relay is refused
        ("inbound", 50.0, N, "help"), sent(50.0, HELP),
        ("inbound", 60.0, N, "Start"), sent(60.0, STARTED),
        sent(70.0, "sorry, can I call you?")],
    # picture messages on the modem path (an MMS notification: a WAP push). Never passed
    # on as text; on the lead as "sent a picture message"; the owner told.
    "optout_words": optout_words(),
    # The finished job, with the starter config (no [reviews] url): marked done, nobody
    # asked, the owner told why. With a link: tests/test_reviews.py.
    "done_review": [
        call(5.0, "NO CARRIER"), sent(5.0, AFTER), ("inbound", 30.0, N, "Great, see you at 3"),
        sent(30.0, "#1 (512) 555-0142: Great, see you at 3", to=OWNER),
        call(45.0, "NO CARRIER", number=B), sent(45.0, AFTER, to=B),
        ("inbound", 50.0, B, "stop texting me"), sent(50.0, STOPPED, to=B),
        sent(51.0, "#2 (512) 555-0177 opted out, no more texts go to them: stop texting me", to=OWNER),
        ("lead_status", 60.0, 1, "done"),
        sent(60.0, f"#1 (512) 555-0142 is done; no review request: {NO_LINK}.", to=OWNER),
        sent(90.0, f"#1 (512) 555-0142 was done already; no review request: {NO_LINK}.", to=OWNER),
        ("lead_status", 100.0, 2, "done"),
        sent(100.0, f"#2 (512) 555-0177 is done; no review request: {NO_LINK}.", to=OWNER)],
    "done_at_night": [
        call(5.0, "NO CARRIER"), sent(5.0, AFTER), ("inbound", 30.0, N, "Great, see you at 3"),
        sent(30.0, "#1 (512) 555-0142: Great, see you at 3", to=OWNER),
        ("lead_status", 120.0, 1, "done"),
        sent(120.0, f"#1 (512) 555-0142 is done; no review request: {NO_LINK}.", to=OWNER)],
    # policy.min_rings = 1 (the default): a call that rang once is texted too.
    "min_rings": [call(2.0, "NO CARRIER"), sent(2.0),
                  call(43.0, "NO CARRIER", number=B, rings=3), sent(43.0, to=B)],
    "mms_notification": [
        call(5.0, "NO CARRIER", number=UK), sent(5.0, to=UK),
        ("inbound", 30.5, UK, "sent a picture message (30 kB); textback can't open it"),
        sent(30.5, f"#1 +44 7785 342749 {PICTURE}", to=OWNER)],
    "mms_spec_built": [
        call(5.0, "NO CARRIER"), sent(5.0),
        ("inbound", 30.0, N, 'sent a picture message (48 kB): "Leak under the sink"; textback '
                             "can't open it"),
        sent(30.0, f"#1 (512) 555-0142 {PICTURE}", to=OWNER)],
    "mms_unreadable": [
        call(5.0, "NO CARRIER"), sent(5.0),
        ("push", 30.0, "+15125550177", "the sender hid their number"),
        sent(30.0, "A picture message came that textback can't open (the sender hid their number);"
                   " if you expect one, ask them to text it to your cell.", to=OWNER),
        ("push", 40.0, "+15125550177", "it is cut short (40 bytes)"),
        sent(40.0, "A picture message came that textback can't open (it is cut short (40 bytes)); "
                   "if you expect one, ask them to text it to your cell.", to=OWNER),
        ("push", 50.0, "+4917222911", "a WAP push of application/vnd.wap.sic, not a picture message")],
}


def decisions(lines):
    out = []
    for record in lines:
        if record["event"] == "call":
            item = ("call", record["t"], record["number"], record["outcome"], record["how"])
            out.append(item + (record["rings"],) if record["rings"] == 3 else item)
        elif record["event"] == "lead_status":
            out.append(("lead_status", record["t"], record["lead"], record["status"]))
        elif record["event"] == "push":
            out.append(("push", record["t"], record["from"], record["problem"]))
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


def test_pushes_that_go_on_no_lead_are_counted_for_textback_status(tmp_path):
    from gateway.app.store import Store

    replay(SCENARIOS / "mms_unreadable.json", db_path=tmp_path / "t.db")
    store = Store(tmp_path / "t.db")
    count, last = store.get_state("dropped_events"), json.loads(store.get_state("dropped_last"))
    messages = store.db.execute("SELECT count(*) FROM messages WHERE direction = 'in'").fetchone()
    store.close()
    assert (count, last["event"], last["reason"], messages[0]) == (
        "3", "WAP push", "a WAP push of application/vnd.wap.sic, not a picture message", 0)


def test_each_opt_out_is_recorded_in_lead_changes_with_its_words(tmp_path):
    from gateway.app.store import Store

    replay(SCENARIOS / "optout_words.json", db_path=tmp_path / "t.db")
    store = Store(tmp_path / "t.db")
    notes = store.db.execute("SELECT l.number, c.old, c.new, c.note FROM lead_changes c JOIN "
                             "leads l ON l.id = c.lead_id ORDER BY c.id").fetchall()
    opted = {r[0] for r in store.db.execute("SELECT number FROM opt_outs")}
    store.close()
    assert len(notes) == len(OPT_OUT)   # one each, the second STOP adds nothing
    assert notes[0][1:3] == ("replied", "opted_out") and notes[0][3].startswith("STOP by text")
    assert notes[19][3].startswith('"stop texting me" by text (message ')
    assert opted == {f"+1512555{1000 + i}" for i in range(len(OPT_OUT))}
