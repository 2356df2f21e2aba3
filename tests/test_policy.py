"""gateway.app.policy: whole decisions for real calls, business hours across DST, local midnight."""
from dataclasses import replace
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from gateway.app.policy import Decision, Facts, Rules, day_start, decide
from gateway.events import ANSWERED, MISSED, REJECTED, UNKNOWN, CallEnded

CHICAGO = ZoneInfo("America/Chicago")
WEEKDAY = (time(7, 0), time(17, 0))
RULES = Rules(timezone=CHICAGO,
              hours={0: WEEKDAY, 1: WEEKDAY, 2: WEEKDAY, 3: WEEKDAY, 4: WEEKDAY,
                     5: (time(8, 0), time(12, 0)), 6: None})
SUNDAYS_TOO = replace(RULES, hours={**RULES.hours, 6: WEEKDAY})
ALL_NIGHT = replace(RULES, hours={0: (time(20, 0), time.max)})   # config's "20:00-24:00"
NONE = Facts(opted_out=False, last_text_at=None, sent_today=0)
CALLER = "+15125550142"


def utc(text: str) -> float:
    """Times in the table are UTC on purpose: a wrong time zone or DST offset shows as a failure."""
    return datetime.fromisoformat(text + "+00:00").timestamp()


def call(outcome=MISSED, raw="5125550142", withheld=False) -> CallEnded:
    return CallEnded(call_id=1, number=raw, number_type=129, withheld=withheld, outcome=outcome,
                     started=0.0, ended=0.0, rings=3, how="NO CARRIER")


MON_NOON = utc("2026-11-30T18:00:00")     # Monday 12:00 CST (UTC-6)


def send(template, at, delay=0.0):
    return Decision(send=True, template=template, reason=None, send_at=at + delay)


def skip(reason, at=MON_NOON):
    return Decision(send=False, template=None, reason=reason, send_at=at)


CASES = [
    # -- business hours: the template ------------------------------------------------------------
    ("monday noon", call(), CALLER, False, MON_NOON, RULES, NONE, send("missed_call", MON_NOON)),
    ("16:59:59 is open", call(), CALLER, False, utc("2026-11-30T22:59:59"), RULES, NONE,
     send("missed_call", utc("2026-11-30T22:59:59"))),
    ("17:00:00 is closed", call(), CALLER, False, utc("2026-11-30T23:00:00"), RULES, NONE,
     send("after_hours", utc("2026-11-30T23:00:00"))),
    ("06:59:59 is closed", call(), CALLER, False, utc("2026-11-30T12:59:59"), RULES, NONE,
     send("after_hours", utc("2026-11-30T12:59:59"))),
    ("07:00:00 is open", call(), CALLER, False, utc("2026-11-30T13:00:00"), RULES, NONE,
     send("missed_call", utc("2026-11-30T13:00:00"))),
    ("saturday 11:59", call(), CALLER, False, utc("2026-11-28T17:59:00"), RULES, NONE,
     send("missed_call", utc("2026-11-28T17:59:00"))),
    ("saturday 12:00", call(), CALLER, False, utc("2026-11-28T18:00:00"), RULES, NONE,
     send("after_hours", utc("2026-11-28T18:00:00"))),
    ("sunday closed (None)", call(), CALLER, False, utc("2026-11-29T18:00:00"), RULES, NONE,
     send("after_hours", utc("2026-11-29T18:00:00"))),
    ("missing day is closed", call(), CALLER, False, MON_NOON + 86400, ALL_NIGHT, NONE,
     send("after_hours", MON_NOON + 86400)),
    ("24:00 end: 23:59:59.5 open", call(), CALLER, False, utc("2026-12-01T05:59:59.500"),
     ALL_NIGHT, NONE, send("missed_call", utc("2026-12-01T05:59:59.500"))),
    ("delay", call(), CALLER, False, MON_NOON, replace(RULES, delay=45.0), NONE,
     send("missed_call", MON_NOON, delay=45.0)),
    # DST: 2026-03-08 clocks go 02:00 CST -> 03:00 CDT; 07:00 that day is 12:00 UTC, not 13:00.
    ("spring forward 06:59:59 CDT", call(), CALLER, False, utc("2026-03-08T11:59:59"), SUNDAYS_TOO,
     NONE, send("after_hours", utc("2026-03-08T11:59:59"))),
    ("spring forward 07:00 CDT", call(), CALLER, False, utc("2026-03-08T12:00:00"), SUNDAYS_TOO,
     NONE, send("missed_call", utc("2026-03-08T12:00:00"))),
    ("spring forward 16:59:59 CDT", call(), CALLER, False, utc("2026-03-08T21:59:59"),
     SUNDAYS_TOO, NONE, send("missed_call", utc("2026-03-08T21:59:59"))),
    ("spring forward 17:00 CDT", call(), CALLER, False, utc("2026-03-08T22:00:00"), SUNDAYS_TOO,
     NONE, send("after_hours", utc("2026-03-08T22:00:00"))),
    # 2026-11-01 clocks go 02:00 CDT -> 01:00 CST; 07:00 that day is 13:00 UTC.
    ("fall back 06:59:59 CST", call(), CALLER, False, utc("2026-11-01T12:59:59"), SUNDAYS_TOO,
     NONE, send("after_hours", utc("2026-11-01T12:59:59"))),
    ("fall back 07:00 CST", call(), CALLER, False, utc("2026-11-01T13:00:00"), SUNDAYS_TOO, NONE,
     send("missed_call", utc("2026-11-01T13:00:00"))),
    ("fall back 17:00 CST", call(), CALLER, False, utc("2026-11-01T23:00:00"), SUNDAYS_TOO, NONE,
     send("after_hours", utc("2026-11-01T23:00:00"))),
    # -- outcomes --------------------------------------------------------------------------------
    ("answered never texts", call(ANSWERED, raw="", withheld=True), None, False, MON_NOON, RULES,
     Facts(True, MON_NOON, 999), skip("answered")),
    ("rejected, allowed", call(REJECTED), CALLER, False, MON_NOON, RULES, NONE,
     send("missed_call", MON_NOON)),
    ("rejected, not allowed", call(REJECTED), CALLER, False, MON_NOON,
     replace(RULES, text_rejected=False), NONE, skip("rejected (text_rejected = false)")),
    ("unknown, allowed", call(UNKNOWN), CALLER, False, MON_NOON, RULES, NONE,
     send("missed_call", MON_NOON)),
    ("unknown, not allowed", call(UNKNOWN), CALLER, False, MON_NOON,
     replace(RULES, text_unknown=False), NONE, skip("unknown (text_unknown = false)")),
    # -- who is calling, in the documented order ------------------------------------------------
    ("withheld", call(raw="", withheld=True), None, False, MON_NOON, RULES, NONE, skip("withheld")),
    ("no caller id", call(raw=None), None, False, MON_NOON, RULES, NONE, skip("withheld")),
    ("short code", call(raw="72404"), None, True, MON_NOON, RULES, NONE, skip("short code")),
    ("invalid number", call(raw="5550142"), None, False, MON_NOON, RULES, NONE,
     skip("invalid number")),
    ("blocklist before contact", call(), CALLER, False, MON_NOON,
     replace(RULES, blocklist=frozenset({CALLER}), contacts=frozenset({CALLER})), NONE,
     skip("blocklist")),
    ("contact", call(), CALLER, False, MON_NOON, replace(RULES, contacts=frozenset({CALLER})),
     NONE, skip("contact")),
    ("other contacts do not matter", call(), CALLER, False, MON_NOON,
     replace(RULES, contacts=frozenset({"+15125550199"})), NONE, send("missed_call", MON_NOON)),
    ("opted out before cooldown", call(), CALLER, False, MON_NOON, RULES,
     Facts(True, MON_NOON - 60, 0), skip("opted out")),
    # -- what we already did -----------------------------------------------------------------------
    ("cooldown 12 min", call(), CALLER, False, MON_NOON, RULES,
     Facts(False, MON_NOON - 12 * 60 - 30, 0), skip("cooldown (texted 12 min ago)")),
    ("cooldown 40 s", call(), CALLER, False, MON_NOON, RULES, Facts(False, MON_NOON - 40, 0),
     skip("cooldown (texted 40 s ago)")),
    ("cooldown 23 h 59 min", call(), CALLER, False, MON_NOON, RULES,
     Facts(False, MON_NOON - 86399, 0), skip("cooldown (texted 23 h 59 min ago)")),
    ("cooldown over at exactly 24 h", call(), CALLER, False, MON_NOON, RULES,
     Facts(False, MON_NOON - 86400, 0), send("missed_call", MON_NOON)),
    ("cooldown before cap", call(), CALLER, False, MON_NOON, replace(RULES, cooldown=7200.0),
     Facts(False, MON_NOON - 3600, 400), skip("cooldown (texted 1 h ago)")),
    # The default cap is 200 (carriers' heuristics flag a long code over 200 a day).
    ("cap reached", call(), CALLER, False, MON_NOON, RULES, Facts(False, None, 200),
     skip("daily cap (200) reached")),
    ("one under the cap", call(), CALLER, False, MON_NOON, RULES, Facts(False, None, 199),
     send("missed_call", MON_NOON)),
    ("cap of 0 sends nothing", call(), CALLER, False, MON_NOON, replace(RULES, daily_cap=0), NONE,
     skip("daily cap (0) reached")),
]


@pytest.mark.parametrize("call_, number, short, now, rules, facts, expected",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decide(call_, number, short, now, rules, facts, expected):
    assert decide(call_, number, short_code=short, now=now, rules=rules, facts=facts) == expected


@pytest.mark.parametrize("zone, now, expected", [
    ("America/Chicago", "2026-11-30T18:00:00", "2026-11-30T06:00:00"),   # CST
    ("America/Chicago", "2026-07-01T04:59:59", "2026-06-30T05:00:00"),  # 23:59:59 CDT, the 30th
    ("America/Chicago", "2026-07-01T05:00:00", "2026-07-01T05:00:00"),   # midnight is its own start
    ("America/Chicago", "2026-03-08T18:00:00", "2026-03-08T06:00:00"),  # 23 h day, 00:00 CST
    ("America/Chicago", "2026-03-09T18:00:00", "2026-03-09T05:00:00"),   # the day after: CDT
    ("America/Chicago", "2026-11-01T18:00:00", "2026-11-01T05:00:00"),  # 25 h day, 00:00 CDT
    ("America/Chicago", "2026-11-01T06:30:00", "2026-11-01T05:00:00"),   # 01:30 CDT, first pass
    ("America/Chicago", "2026-11-01T07:30:00", "2026-11-01T05:00:00"),   # 01:30 CST, second pass
    ("America/Santiago", "2026-09-06T12:00:00", "2026-09-06T04:00:00"),  # no 00:00: 01:00 -03
    ("UTC", "2026-11-30T00:00:00", "2026-11-30T00:00:00"),
])
def test_day_start(zone, now, expected):
    assert day_start(utc(now), ZoneInfo(zone)) == utc(expected)
