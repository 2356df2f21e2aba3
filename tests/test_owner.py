"""gateway.app.owner_commands: commands from the owner's phone, and the texts sent to the owner."""
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from gateway.app.owner_commands import (
    USAGE,
    Relay,
    SetStatus,
    Status,
    Unknown,
    alert,
    digest,
    parse,
    repeat_alert,
    status_expiry,
)
from gateway.clock import epoch as _epoch
from gateway.render import Segments, segments

CHICAGO = ZoneInfo("America/Chicago")


@pytest.mark.parametrize("text, expected", [
    ("#12 I can be there at 3", Relay(12, "I can be there at 3")),
    ("  #12   I can be there at 3 \n", Relay(12, "I can be there at 3")),
    ("#12: ok, see you then", Relay(12, "ok, see you then")),
    ("# 7 - Tuesday works", Relay(7, "Tuesday works")),
    ("#12 Line one\nline two", Relay(12, "Line one\nline two")),
    ("#12 booked for tuesday", Relay(12, "booked for tuesday")),
    ("#12 booked", SetStatus(12, "booked")),
    ("#12 Booked!", SetStatus(12, "booked")),
    ("#12 book", SetStatus(12, "booked")),
    ("#12booked", SetStatus(12, "booked")),
    ("#12 done", SetStatus(12, "done")), ("#12 Done.", SetStatus(12, "done")),
    ("#12 finished", SetStatus(12, "done")), ("#12 done by 5?", Relay(12, "done by 5?")),
    ("#3 lost", SetStatus(3, "lost")),
    ("#3 LOST.", SetStatus(3, "lost")),
    ("status on a roof till 3", Status("on a roof till 3", time(15, 0), bare=True)),
    ("Status: on a roof till 3pm", Status("on a roof till 3pm", time(15, 0))),
    ("status out until 15:30", Status("out until 15:30", time(15, 30))),
    ("status at the yard til 8", Status("at the yard til 8", time(8, 0), bare=True)),
    ("status back till 6", Status("back till 6", time(18, 0), bare=True)),
    ("status back till 7", Status("back till 7", time(7, 0), bare=True)),
    ("status back till 1", Status("back till 1", time(13, 0), bare=True)),
    ("status at the yard till 3:30", Status("at the yard till 3:30", time(15, 30), bare=True)),
    ("status lunch until 1:15 p.m.", Status("lunch until 1:15 p.m.", time(13, 15))),
    ("status driving till 9 AM", Status("driving till 9 AM", time(9, 0))),
    ("status away till 12am", Status("away till 12am", time(0, 0))),
    ("status away till 12", Status("away till 12", time(12, 0), bare=True)),
    ("status out 'til noon", Status("out 'til noon", time(12, 0))),
    ("status with a client until 0:30", Status("with a client until 0:30", time(0, 30))),
    ("status on a roof", Status("on a roof")),
    ("status on a roof till 3 or 4", Status("on a roof till 3 or 4")),
    ("status till 13pm", Status("till 13pm")),
    ("status till 25", Status("till 25")),
    ("status till 3:75", Status("till 3:75")),
    ("status off", Status("")),
    ("Status Clear.", Status("")),
    ("status none", Status("")),
    ("status", Unknown("status")),
    ("#12", Unknown("#12")),
    ("#12 ", Unknown("#12 ")),
    ("hello", Unknown("hello")),
    ("12 I can be there at 3", Unknown("12 I can be there at 3")),
    ("statuses?", Unknown("statuses?")),
    ("", Unknown("")),
])
def test_parse(text, expected):
    assert parse(text) == expected


def test_usage_is_one_plain_text():
    assert USAGE == ("textback commands: #12 your reply | #12 booked | #12 done | #12 lost | "
                     "status on a roof till 3 | status off")
    assert segments(USAGE) == Segments("GSM-7", 1, 112, ())


def _local(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, CHICAGO).isoformat()


@pytest.mark.parametrize("now, until, bare, expected", [
    ("2026-11-28T10:00:00-06:00", None, False, "2026-11-29T00:00:00-06:00"),
    ("2026-11-28T23:59:59-06:00", None, False, "2026-11-29T00:00:00-06:00"),
    ("2026-11-28T10:00:00-06:00", time(15, 0), True, "2026-11-28T15:00:00-06:00"),
    ("2026-11-28T10:00:00-06:00", time(15, 0), False, "2026-11-28T15:00:00-06:00"),
    # "till 8" sent in the evening means 8 pm; with "8am" it means tomorrow morning.
    ("2026-11-28T19:00:00-06:00", time(8, 0), True, "2026-11-28T20:00:00-06:00"),
    ("2026-11-28T19:00:00-06:00", time(8, 0), False, "2026-11-29T08:00:00-06:00"),
    ("2026-11-28T06:00:00-06:00", time(8, 0), True, "2026-11-28T08:00:00-06:00"),
    # "till 3" sent at 4 pm: 3 am tomorrow is next (the owner is still out at night, oddly).
    ("2026-11-28T16:00:00-06:00", time(15, 0), True, "2026-11-29T03:00:00-06:00"),
    ("2026-11-28T16:00:00-06:00", time(15, 0), False, "2026-11-29T15:00:00-06:00"),
    ("2026-11-28T15:30:00-06:00", time(15, 30), False, "2026-11-29T15:30:00-06:00"),
    ("2026-11-28T13:00:00-06:00", time(12, 0), True, "2026-11-29T00:00:00-06:00"),
    # Across the spring-forward night (2026-03-08): the local day is 23 hours long.
    ("2026-03-07T20:00:00-06:00", None, False, "2026-03-08T00:00:00-06:00"),
    ("2026-03-07T22:00:00-06:00", time(9, 0), False, "2026-03-08T09:00:00-05:00"),
    ("2026-03-08T10:00:00-05:00", None, False, "2026-03-09T00:00:00-05:00"),
    # Fall back (2026-11-01): midnight after a 25-hour day.
    ("2026-11-01T00:30:00-05:00", None, False, "2026-11-02T00:00:00-06:00"),
])
def test_status_expiry(now, until, bare, expected):
    assert _local(status_expiry(_epoch(now), until, CHICAGO, bare=bare)) == expected


def test_status_from_parse_to_expiry():
    status = parse("status on a roof till 3")
    expires = status_expiry(_epoch("2026-11-28T09:12:00-06:00"), status.until, CHICAGO,
                            bare=status.bare)
    assert _local(expires) == "2026-11-28T15:00:00-06:00"


WORDS = "word " * 100


@pytest.mark.parametrize("lead_id, name, text, expected, parts", [
    (12, "Jane", "the water heater is leaking", "#12 Jane: the water heater is leaking",
     Segments("GSM-7", 1, 37, ())),
    (12, "(512) 555-0142", " Can you come today?\n", "#12 (512) 555-0142: Can you come today?",
     Segments("GSM-7", 1, 39, ())),
    # 306 septets = 2 parts exactly: kept whole.
    (7, "Jane", "a" * 297, "#7 Jane: " + "a" * 297, Segments("GSM-7", 2, 306, ())),
    (7, "Jane", "a" * 298, "#7 Jane: " + "a" * 294 + "...", Segments("GSM-7", 2, 306, ())),
    # Cut between words, with a GSM-7 "..." so the alert stays GSM-7.
    (12, "Jane", WORDS, "#12 Jane: " + "word " * 57 + "word...", Segments("GSM-7", 2, 302, ())),
    # A UCS-2 reply keeps UCS-2 and gets the one-character ellipsis.
    (12, "Jane", "Привет " * 30, "#12 Jane: " + "Привет " * 16 + "Привет…",
     Segments("UCS-2", 2, 129, tuple("Привет…"))),
    # UCS-2 only in the part cut away: the alert is GSM-7 again.
    (12, "Jane", WORDS + "Привет", "#12 Jane: " + "word " * 57 + "word...",
     Segments("GSM-7", 2, 302, ())),
])
def test_alert(lead_id, name, text, expected, parts):
    assert alert(lead_id, name, text) == expected
    assert segments(expected) == parts


@pytest.mark.parametrize("args, expected", [
    ((12, "Jane", 3, 20), "Jane called 3 times in 20 minutes (#12)"),
    ((12, "(512) 555-0142", 2, 4.6), "(512) 555-0142 called 2 times in 5 minutes (#12)"),
    ((5, "Jane", 2, 0.2), "Jane called 2 times in 1 minute (#5)"),
])
def test_repeat_alert(args, expected):
    assert repeat_alert(*args) == expected


MANY = [(i, f"Customer {i}") for i in range(100, 140)]


@pytest.mark.parametrize("args, day, expected", [
    ((5, 4, [(12, "Jane"), (15, "(512) 555-0142")], 2), date(2026, 11, 27),
     "Yesterday (Fri Nov 27): 5 missed calls, 4 texted back.\n"
     "Replies waiting (2): #12 Jane, #15 (512) 555-0142.\n"
     "No answer yet: 2 leads."),
    ((1, 1, [], 1), None,
     "Yesterday: 1 missed call, 1 texted back.\n"
     "Replies waiting: none.\n"
     "No answer yet: 1 lead."),
    ((0, 0, [], 0), date(2026, 3, 8),
     "Yesterday (Sun Mar 8): 0 missed calls, 0 texted back.\n"
     "Replies waiting: none.\n"
     "No answer yet: 0 leads."),
    ((50, 41, MANY, 3), date(2026, 11, 27),
     "Yesterday (Fri Nov 27): 50 missed calls, 41 texted back.\n"
     "Replies waiting (40): " + ", ".join(f"#{i} Customer {i}" for i in range(100, 118))
     + ", +22 more.\nNo answer yet: 3 leads."),  # 454 septets; one more name is 473
])
def test_digest(args, day, expected):
    text = digest(*args, day=day)
    assert text == expected
    assert segments(text).parts <= 3


def test_a_long_digest_fills_but_never_passes_three_parts():
    # One name outside GSM-7 makes the whole digest UCS-2: fewer names fit.
    text = digest(50, 41, [(7, "Zoë Ørsted")] + MANY, 3, day=date(2026, 11, 27))
    assert text == ("Yesterday (Fri Nov 27): 50 missed calls, 41 texted back.\n"
                    "Replies waiting (41): #7 Zoë Ørsted, "
                    + ", ".join(f"#{i} Customer {i}" for i in range(100, 103))
                    + ", +37 more.\nNo answer yet: 3 leads.")
    assert segments(text).parts == 3
