"""The owner's commands as a person meets them: whole outputs (tables at 120 columns, --json) and
exit codes, on databases made by a real replay and the real Store API.

The clock the commands read is pinned with TEXTBACK_NOW; the replays start 2026-11-24 10:00 in
Austin (16:00 UTC), so "now" is noon there.
"""
import json
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from cli.owner import find
from gateway.app.store import Store
from gateway.events import CallEnded
from gateway.simulator.replay import run_replay

SCENARIOS = Path(__file__).parent / "scenarios"
NOW = "2026-11-24T12:00:00-06:00"
JANE = "+15125550142"
HOSTILE = "[red]x[/red] \x1b[2J\x1b]0;pwned\x07 call me"
MISSED = ("Sorry we missed your call - this is Mike at Acme Plumbing. What do you need done? "
          "Reply here and we'll get right back to you.")


def at(clock: str) -> float:
    """ "11:05" on the replay's day, Austin time -> epoch seconds."""
    return datetime.fromisoformat(f"2026-11-24T{clock}:00-06:00").timestamp()


def missed_call(store, number, clock, key, *, text=None):
    ended = CallEnded(call_id=0, number=number, number_type=145, withheld=False, outcome="missed",
                      started=at(clock) - 9, ended=at(clock), rings=2, how="NO CARRIER")
    call_id, _ = store.record_call(ended, number, key=key, now=at(clock))
    if text is None:
        store.set_call_action(call_id, "skipped", "after hours")
        return
    outbox_id = store.queue_text(number=number, body=text, kind="missed_call", dedupe_key=key,
                                 send_at=at(clock), now=at(clock), call_id=call_id)
    store.mark_sending(outbox_id, at(clock))
    store.mark_sent(outbox_id, 7, at(clock) + 2.5)


@pytest.fixture
def home(tmp_path):
    """(config, db): the starter config; #1 Jane from the reply_and_relay replay (a reply, the
    owner's answer relayed), #2 texted back, whose reply is hostile, #3 not texted, then STOP."""
    runner = CliRunner()
    assert runner.invoke(cli, ["init", str(tmp_path)]).exit_code == 0
    config, db = tmp_path / "textback.toml", tmp_path / "textback.db"
    run_replay(SCENARIOS / "reply_and_relay.json", config_path=config, db_path=db,
               write=lambda _: None)
    store = Store(db)
    try:
        missed_call(store, "+15125550177", "11:00", "call-2", text=MISSED)
        store.record_inbound(number="+15125550177", body=HOSTILE, now=at("11:05"), dedupe_key="in-2")
        missed_call(store, "+15125550188", "11:30", "call-3")
        message_id, _, _ = store.record_inbound(number="+15125550188", body="STOP", now=at("11:31"),
                                                dedupe_key="in-3")
        store.record_opt_out("+15125550188", now=at("11:31"), message_id=message_id)
    finally:
        store.close()
    return config, db


def run(home, *args, now=NOW, db=True):
    config, path = home
    return CliRunner(env={"COLUMNS": "120", "TEXTBACK_NOW": now}).invoke(
        cli, [*args, "--config", str(config), *(["--db", str(path)] if db else [])])


def as_json(home, *args, db=True):
    result = run(home, *args, "--json", db=db)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


LEADS_TABLE = """\
#  name  phone         status     missed  last message                                  last activity
3        +15125550188  opted out       1  STOP                                          Nov 24 11:31, 29m ago  ●
2        +15125550177  replied         1  [red]x[/red] \\x1b[2J\\x1b]0;pwned\\x07 call me  Nov 24 11:05, 55m ago  ●
1        +15125550142  replied         1  I can be there at 3                           Nov 24 10:01, 1h ago   ●
(times in America/Chicago)
"""


def test_leads_table(home):
    result = run(home, "leads")
    assert (result.exit_code, result.output) == (0, LEADS_TABLE)


def test_leads_json(home):
    assert as_json(home, "leads") == [
        {"id": 3, "number": "+15125550188", "name": None, "status": "opted_out",
         "created_at": "2026-11-24T17:30:00.000Z", "last_activity_at": "2026-11-24T17:31:00.000Z",
         "missed_calls": 1, "unread": 1, "preview": "STOP", "opted_out": True},
        {"id": 2, "number": "+15125550177", "name": None, "status": "replied",
         "created_at": "2026-11-24T17:00:00.000Z", "last_activity_at": "2026-11-24T17:05:00.000Z",
         "missed_calls": 1, "unread": 1, "preview": HOSTILE, "opted_out": False},
        {"id": 1, "number": JANE, "name": None, "status": "replied",
         "created_at": "2026-11-24T16:00:05.000Z", "last_activity_at": "2026-11-24T16:01:00.000Z",
         "missed_calls": 1, "unread": 1, "preview": "I can be there at 3", "opted_out": False},
    ]


@pytest.mark.parametrize("args, ids", [
    (("--status", "replied"), [2, 1]),
    (("--status", "opted_out"), [3]),
    (("--status", "booked"), []),
    (("--search", "water heater"), [1]),   # a message of Jane's, not the latest
    (("--search", "555-0177"), [2]),       # digits as the owner writes them
    (("--search", "[red]"), [2]),
    (("--search", "100%"), []),            # % is a character, not a wildcard
    (("--since", "45m"), [3]),
    (("--since", "1h"), [3, 2]),
    (("--since", "2026-11-24"), [3, 2, 1]),
    (("--since", "2026-11-25"), []),
    (("--limit", "1"), [3]),
])
def test_leads_filters(home, args, ids):
    assert [lead["id"] for lead in as_json(home, "leads", *args)] == ids


@pytest.mark.parametrize("args, message", [
    (("leads", "--status", "maybe"),
     "error: --status: no status 'maybe'\n"
     "  -> one of new, texted, replied, booked, lost, opted-out, called-back, done\n"),
    (("leads", "--since", "yesterday"),
     "error: --since: cannot read 'yesterday'\n"
     "  -> write 30m, 12h, 2d, 1w or a date like 2026-11-01\n"),
    (("reply", "555-01", "hi"), "error: not a phone number or lead number: '555-01'\n"
     '  -> write it like 12, +15125550142 or "(512) 555-0142"\n'),
    (("book", "plumber"), "error: not a phone number or lead number: 'plumber'\n"
     '  -> write it like 12, +15125550142 or "(512) 555-0142"\n'),
    (("reply", "#1", "  "), 'error: the reply is empty\n  -> textback reply 12 "I can be there at 3"\n'),
    (("reply", "#3", "sorry!"),
     "error: #3 (+15125550188) opted out (STOP): textback texts them nothing, not even replies\n"
     "  -> call them instead; they can text START to opt back in\n"),
    (("name", "#1", "Jane\x1b[2J"), "Usage: cli name [OPTIONS] LEAD NAME\nTry 'cli name --help' for "
     "help.\n\nError: Invalid value for 'NAME': the name holds a control character (U+001B) at "
     "character 5; retype it on one line\n"),
])
def test_usage_errors_exit_2_without_a_traceback(home, args, message):
    result = run(home, *args)
    assert (result.exit_code, result.output) == (2, message)


@pytest.mark.parametrize("args, message", [
    (("lead", "#9"), "error: no lead #9\n  -> see the lead numbers with: textback leads\n"),
    (("lead", "@99"), "error: no lead #99\n  -> see the lead numbers with: textback leads\n"),
    (("book", "#99999999999999999999999"),
     "error: no lead #99999999999999999999999\n  -> see the lead numbers with: textback leads\n"),
    (("lead", "+15125550100"), "error: no lead with the number +15125550100\n"
     "  -> see the leads with: textback leads --search DIGITS\n"),
])
def test_a_lead_that_does_not_exist_is_a_runtime_failure_exit_1(home, args, message):
    # "no lead #99" once exited 2 (usage error) though the command was well formed.
    result = run(home, *args)
    assert (result.exit_code, result.output) == (1, message)


@pytest.mark.parametrize("ref", [JANE, "(512) 555-0142", "512.555.0142", "15125550142", "#1", "1",
                                 " # 1 ", "@1", " @ 1"])
def test_a_lead_by_any_name(home, ref):
    store = Store(home[1])
    try:
        assert find(store, None, ref)["id"] == 1
    finally:
        store.close()


LEAD_2 = """\
#2 +15125550177  replied, 1 missed call
┏━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┓
┃ when (America/Chicago) ┃ what                   ┃ detail                                                             ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┩
│ Tue Nov 24 11:00:00    │ call missed            │ NO CARRIER, 2 rings; texted                                        │
│ Tue Nov 24 11:00:00    │ text out (missed_call) │ Sorry we missed your call - this is Mike at Acme Plumbing. What do │
│                        │                        │ you need done? Reply here and we'll get right back to you.  [sent] │
│ Tue Nov 24 11:05:00    │ text in                │ [red]x[/red] \\x1b[2J\\x1b]0;pwned\\x07 call me                       │
└────────────────────────┴────────────────────────┴────────────────────────────────────────────────────────────────────┘
"""


def test_lead_timeline_shows_customer_text_literally_and_marks_read(home):
    result = run(home, "lead", "(512) 555-0177")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert result.output == LEAD_2
    assert [lead["unread"] for lead in as_json(home, "leads")] == [1, 0, 1]


def test_hostile_text_in_every_listing(home):
    for args in (("leads",), ("lead", "#2"), ("export",), ("export", "--format", "json"),
                 ("leads", "--json"), ("lead", "#2", "--json")):
        output = run(home, *args).output
        assert "\x1b" not in output and "\x07" not in output, args
        assert "[red]x[/red]" in output, args


def test_reply_dry_run_sends_nothing(home):
    result = run(home, "reply", "#1", "On my way — 10 min", "--dry-run")
    assert (result.exit_code, result.output) == (
        0, "dry run: 1 part, UCS-2 (18/70) because of '—'; nothing sent\n")
    store = Store(home[1])
    try:
        assert store.due(at("12:00")) == []
    finally:
        store.close()


def test_reply_is_queued_for_the_daemon(home):
    result = run(home, "reply", "512-555-0142", "I can come at 3")
    assert result.exit_code == 0
    assert result.output == (
        "queued for #1 (+15125550142): 1 part, GSM-7 (15/160)\n"
        "warning: the daemon is not running (last heartbeat 1h ago): the text goes out when it runs\n"
        "  -> start it: sudo systemctl start textback (or: textback run)\n")
    store = Store(home[1])
    try:
        (due,) = store.due(at("12:00"))
    finally:
        store.close()
    assert (due.number, due.body, due.kind) == (JANE, "I can come at 3", "manual")
    assert as_json(home, "leads")[0]["preview"] == "I can come at 3"


def test_book_lost_name_show_in_the_timeline(home):
    assert run(home, "book", "#1", "--note", "Thu 9am, $450").output == (
        "#1 (+15125550142) is booked now: Thu 9am, $450\n")
    assert run(home, "name", JANE, "  Jane   Doe ").output == "#1 (+15125550142) is Jane Doe\n"
    assert run(home, "lost", "2").output == "#2 (+15125550177) is lost now\n"
    changes = [e for e in as_json(home, "lead", "#1")["events"] if e["event"] in ("status", "name")]
    assert changes == [
        {"at": "2026-11-24T18:00:00.000Z", "event": "status", "old": "replied", "new": "booked",
         "note": "Thu 9am, $450"},
        {"at": "2026-11-24T18:00:00.000Z", "event": "name", "old": None, "new": "Jane Doe",
         "note": None}]
    assert [(lead["id"], lead["name"], lead["status"]) for lead in as_json(home, "leads")] == [
        (3, None, "opted_out"), (2, None, "lost"), (1, "Jane Doe", "booked")]


CALLS_TABLE = """\
┏━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━┳━━━━━━━━━┳━━━━━━━━━━━━┳━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━┓
┃ when                  ┃ phone        ┃ outcome ┃ how        ┃ rings ┃ text-back            ┃
┡━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━╇━━━━━━━━━╇━━━━━━━━━━━━╇━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━┩
│ Nov 24 11:30, 30m ago │ +15125550188 │ missed  │ NO CARRIER │     2 │ skipped: after hours │
│ Nov 24 11:00, 1h ago  │ +15125550177 │ missed  │ NO CARRIER │     2 │ texted               │
└───────────────────────┴──────────────┴─────────┴────────────┴───────┴──────────────────────┘
(times in America/Chicago)""" + " " * 68 + "\n"


def test_calls_say_texted_or_skipped_and_why(home):
    result = run(home, "calls", "--since", "90m")
    assert (result.exit_code, result.output) == (0, CALLS_TABLE)
    assert [(c["number"], c["action"], c["reason"]) for c in as_json(home, "calls")] == [
        ("+15125550188", "skipped", "after hours"), ("+15125550177", "sent", None),
        (JANE, "sent", None)]


STATS = """\
Last 2 day(s), 2026-11-23 to 2026-11-24
  missed calls      3
  texted back       2
  time to text      median 1.2 s, worst 2.5 s
  replied           2 of 2 leads texted (100%)
  booked            0 of 3 leads (0%)
  review requests   0
  opted out         1

per week (Monday to Sunday)
week of  missed  texted   replied  booked  median to text  reviews
Nov 23        3       2  2 (100%)  0 (0%)           1.2 s        0

missed calls a day (█ texted, ░ not texted)
Mon Nov 23
Tue Nov 24  ███████████████████████████░░░░░░░░░░░░░ 3
"""


def test_stats(home):
    result = run(home, "stats", "--days", "2")
    assert (result.exit_code, result.output) == (0, STATS)
    figures = json.loads(run(home, "stats", "--days", "2", "--json").output)
    assert figures == {
        "days": 2, "from": "2026-11-23", "to": "2026-11-24", "missed": 3, "texted": 2,
        "median_seconds": 1.25, "worst_seconds": 2.5, "leads": 3, "texted_leads": 2, "replied": 2,
        "reply_rate": 1.0, "booked": 0, "booked_rate": 0.0, "opt_outs": 1, "reviews": 0,
        "per_day": [{"day": "2026-11-23", "missed": 0, "texted": 0},
                    {"day": "2026-11-24", "missed": 3, "texted": 2}],
        "per_week": [{"week": "2026-11-23", "to": "2026-11-29", "missed": 3, "texted": 2,
                      "replied": 2, "reply_rate": 1.0, "booked": 0, "booked_rate": 0.0,
                      "median_seconds": 1.25, "reviews": 0}]}


def test_templates_rendered_with_the_business(home):
    rows = as_json(home, "templates", db=False)
    folder = home[0].parent / "templates"
    assert [(r["name"], r["file"], r["encoding"], r["parts"], r["units"]) for r in rows] == [
        ("after_hours", str(folder / "after_hours.txt"), "GSM-7", 1, 141),
        ("follow_up", str(folder / "follow_up.txt"), "GSM-7", 1, 106),
        ("missed_call", str(folder / "missed_call.txt"), "GSM-7", 1, 125),
        # review.txt, with no [reviews] url yet: shown, so the owner sees what it would say
        ("review", str(folder / "review.txt"), "GSM-7", 1, 96)]
    assert rows[2]["text"] == MISSED
    (folder / "missed_call.txt").write_text("Sorry — $company\n")
    result = run(home, "templates", db=False)
    assert result.exit_code == 0
    assert "missed_call  1 part, UCS-2 (21/70) because of '—'\n  Sorry — Acme Plumbing\n" \
        in result.output


@pytest.mark.parametrize("beat_ago, code, output", [
    (12.0, 0, "ok daemon               running (heartbeat 12 s ago)\n"
              "   modem                SIMCOM SIM800L\n"
              "   signal               4 bars (-71 dBm)\n"
              "   registration         home network\n"
              "   operator             TEXTBACK SIM\n"
              "ok texts queued         0\n"
              "ok texts failed (24 h)  0\n"
              "   last call            30m ago\n"),
    # The daemon gone: what it last heard from the modem is said to be old (STRANGER2 #1).
    (600.0, 1, "!! daemon               not running (last heartbeat 10m ago)\n"
               "   modem                SIMCOM SIM800L\n"
               "   signal               4 bars (-71 dBm) (last seen 10m ago; not current)\n"
               "   registration         home network (last seen 10m ago; not current)\n"
               "   operator             TEXTBACK SIM (last seen 10m ago; not current)\n"
               "ok texts queued         0\n"
               "ok texts failed (24 h)  0\n"
               "   last call            30m ago\n\n"
               "Needs attention:\n"
               "  daemon: start it: sudo systemctl start textback (or: textback run)\n"),
])
def test_status(home, beat_ago, code, output):
    store = Store(home[1])
    try:
        store.set_state("heartbeat", f"{at('12:00') - beat_ago:.3f}")
        store.set_state("health_at", f"{at('12:00') - beat_ago:.3f}")
        store.set_state("modem", "SIMCOM SIM800L")
    finally:
        store.close()
    from gateway.app.lock import one_daemon

    with one_daemon(home[1]):   # a daemon holds the database (a stopped one: tests/test_hostile_owner.py)
        result = run(home, "status")
    assert (result.exit_code, result.output) == (code, output)


def test_status_flags_a_stuck_queue(home):
    assert run(home, "reply", "#1", "hello").exit_code == 0  # queued at noon, nothing sends it
    result = run(home, "status", now="2026-11-24T12:30:00-06:00")
    assert result.exit_code == 1
    assert "!! texts queued         1, oldest due 30m ago\n" in result.output
    assert "  texts queued: check the modem" in result.output


def test_export_csv_keeps_formulas_as_text(home):
    store = Store(home[1])
    try:
        store.record_inbound(number="+15125550177", body='=HYPERLINK("http://x")', now=at("11:06"),
                             dedupe_key="in-4")
    finally:
        store.close()
    out = home[0].parent / "leads.csv"
    result = run(home, "export", "--format", "csv", "--output", str(out))
    assert (result.exit_code, result.output) == (0, f"wrote 3 lead(s) to {out}\n")
    lines = out.read_text().splitlines()
    assert lines[0] == ("lead_id,number,name,status,missed_calls,created_at,message_at,direction,"
                        "kind,message,message_status")
    assert lines[5:] == [
        "2,+15125550177,,replied,1,2026-11-24T17:00:00.000Z,2026-11-24T17:05:00.000Z,in,reply,"
        "[red]x[/red] \\x1b[2J\\x1b]0;pwned\\x07 call me,",
        '2,+15125550177,,replied,1,2026-11-24T17:00:00.000Z,2026-11-24T17:06:00.000Z,in,reply,'
        '"\'=HYPERLINK(""http://x"")",',
        "3,+15125550188,,opted_out,1,2026-11-24T17:30:00.000Z,2026-11-24T17:31:00.000Z,in,reply,"
        "STOP,"]


def test_export_json(home):
    leads = json.loads(run(home, "export", "--format", "json").output)
    assert [(lead["id"], [(m["direction"], m["kind"], m["status"]) for m in lead["messages"]])
            for lead in leads] == [
        (1, [("out", "missed_call", "sent"), ("in", "reply", None), ("out", "relay", "sent")]),
        (2, [("out", "missed_call", "sent"), ("in", "reply", None)]),
        (3, [("in", "reply", None)])]


def test_status_says_what_the_sim_needs(home):
    from gateway.app.store import Store

    config, db = home
    store = Store(db)
    try:
        store.set_state("problem", "the SIM refused the PIN in modem.pin")
    finally:
        store.close()
    result = run(home, "status", "--json")
    assert result.exit_code == 1
    sim_rows = [row for row in json.loads(result.output) if row["check"] == "SIM"]
    assert sim_rows == [{"check": "SIM", "ok": False, "value": "the SIM refused the PIN in modem.pin",
                         "fix": "fix the SIM or modem.pin in the config, then restart textback"}]


def test_stats_days_follow_business_time_across_the_end_of_daylight_saving(tmp_path):
    """Chicago falls back at 02:00 on 2026-11-01, a 25-hour day: calls land on their local day,
    including the hour that happens twice and the stroke of midnight."""
    runner = CliRunner()
    assert runner.invoke(cli, ["init", str(tmp_path)]).exit_code == 0
    store = Store(tmp_path / "textback.db")
    local = ["2026-10-30T23:59:59-05:00",   # before the three days asked for
             "2026-10-31T23:30:00-05:00",
             "2026-11-01T00:30:00-05:00", "2026-11-01T01:30:00-05:00",
             "2026-11-01T01:30:00-06:00",   # the same wall time again, after falling back
             "2026-11-01T23:59:59-06:00",
             "2026-11-02T00:00:00-06:00"]
    for i, stamp in enumerate(local):
        t = datetime.fromisoformat(stamp).timestamp()
        ended = CallEnded(call_id=0, number=f"+1512555020{i}", number_type=145, withheld=False,
                          outcome="missed", started=t - 9, ended=t, rings=2, how="NO CARRIER")
        call_id, _ = store.record_call(ended, f"+1512555020{i}", key=f"dst-{i}", now=t)
        outbox_id = store.queue_text(number=f"+1512555020{i}", body="Sorry", kind="missed_call",
                                     dedupe_key=f"dst-{i}", send_at=t, now=t, call_id=call_id)
        store.mark_sending(outbox_id, t)
        store.mark_sent(outbox_id, i, t + 1.5 + i)
    store.close()
    result = run((tmp_path / "textback.toml", tmp_path / "textback.db"), "stats", "--days", "3",
                 "--json", now="2026-11-02T12:00:00-06:00")
    figures = json.loads(result.output)
    assert figures["per_day"] == [{"day": "2026-10-31", "missed": 1, "texted": 1},
                                  {"day": "2026-11-01", "missed": 4, "texted": 4},
                                  {"day": "2026-11-02", "missed": 1, "texted": 1}]
    assert (figures["missed"], figures["median_seconds"], figures["worst_seconds"]) == (6, 5.0, 7.5)
