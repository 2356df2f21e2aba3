"""gateway.app.followup: when the one follow-up goes out, and never in quiet hours."""
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from gateway import config
from gateway.app.followup import FollowUpRules, due_ok, follow_up_at, rules_for
from gateway.clock import epoch as _epoch

CHICAGO = ZoneInfo("America/Chicago")
NINE_TO_FIVE = (time(9, 0), time(17, 0))
# Mon-Fri 07:00-17:00, Sat 09:00-13:00, Sun closed.
WEEK = {**dict.fromkeys(range(5), (time(7, 0), time(17, 0))), 5: (time(9, 0), time(13, 0)), 6: None}
WEEKDAYS = {**dict.fromkeys(range(5), NINE_TO_FIVE), 5: None, 6: None}
SUNDAYS = {**dict.fromkeys(range(6), None), 6: (time(10, 0), time(14, 0))}
ALWAYS = dict.fromkeys(range(7), (time(0, 0), config.END_OF_DAY))
NEVER = dict.fromkeys(range(7), None)


def _local(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, CHICAGO).isoformat()


# 2026: Fri Nov 27, Sat Nov 28, Sun Nov 29, Mon Nov 30. DST starts Sun Mar 8 (02:00 CST -> 03:00
# CDT) and ends Sun Nov 1 (02:00 CDT -> 01:00 CST).
@pytest.mark.parametrize("hours, texted, expected", [
    (WEEK, "2026-11-27T16:00:00-06:00", "2026-11-28T09:00:00-06:00"),   # Fri -> Sat opening
    (WEEK, "2026-11-28T12:00:00-06:00", "2026-11-30T08:00:00-06:00"),   # Sat -> Mon 07:00 is quiet
    (WEEK, "2026-11-29T10:00:00-06:00", "2026-11-30T08:00:00-06:00"),   # Sun -> Mon
    (WEEK, "2026-11-30T23:30:00-06:00", "2026-12-01T08:00:00-06:00"),
    (WEEK, "2026-11-30T00:30:00-06:00", "2026-12-01T08:00:00-06:00"),   # always the next day
    (WEEKDAYS, "2026-11-27T16:00:00-06:00", "2026-11-30T09:00:00-06:00"),  # over the weekend
    (WEEKDAYS, "2026-11-28T09:00:00-06:00", "2026-11-30T09:00:00-06:00"),
    (WEEKDAYS, "2026-11-26T08:00:00-06:00", "2026-11-27T09:00:00-06:00"),
    # Over the weekend DST starts: Monday 09:00 is in CDT.
    (WEEKDAYS, "2026-03-06T16:00:00-06:00", "2026-03-09T09:00:00-05:00"),
    (WEEKDAYS, "2026-03-07T11:00:00-06:00", "2026-03-09T09:00:00-05:00"),
    (SUNDAYS, "2026-03-07T15:00:00-06:00", "2026-03-08T10:00:00-05:00"),
    # ... and ends.
    (WEEKDAYS, "2026-10-30T16:00:00-05:00", "2026-11-02T09:00:00-06:00"),
    (SUNDAYS, "2026-10-31T15:00:00-05:00", "2026-11-01T10:00:00-06:00"),
    (SUNDAYS, "2026-11-01T15:00:00-06:00", "2026-11-08T10:00:00-06:00"),  # a week later
    (ALWAYS, "2026-11-27T16:00:00-06:00", "2026-11-28T08:00:00-06:00"),   # opens at 00:00
    (NEVER, "2026-11-27T16:00:00-06:00", "2026-11-28T08:00:00-06:00"),    # no open day at all
])
def test_next_business_morning(hours, texted, expected):
    rules = FollowUpRules(CHICAGO, hours)
    assert _local(follow_up_at(_epoch(texted), rules=rules)) == expected


@pytest.mark.parametrize("after, texted, expected", [
    (4 * 3600, "2026-11-27T10:00:00-06:00", "2026-11-27T14:00:00-06:00"),
    (4 * 3600, "2026-11-27T18:00:00-06:00", "2026-11-28T08:00:00-06:00"),   # 22:00 is quiet
    (3600, "2026-11-27T06:00:00-06:00", "2026-11-27T08:00:00-06:00"),       # 07:00 is quiet
    (1, "2026-11-27T07:59:59-06:00", "2026-11-27T08:00:00-06:00"),
    (0, "2026-11-27T20:59:59-06:00", "2026-11-27T20:59:59-06:00"),
    (0, "2026-11-27T21:00:00-06:00", "2026-11-28T08:00:00-06:00"),
    (0, "2026-11-27T07:59:59-06:00", "2026-11-27T08:00:00-06:00"),
    (0, "2026-11-27T08:00:00-06:00", "2026-11-27T08:00:00-06:00"),
    (0, "2026-11-27T00:00:00-06:00", "2026-11-27T08:00:00-06:00"),
    # Elapsed seconds: a day after 10:00 on the day before DST starts is 11:00 on the clock.
    (86400, "2026-03-07T10:00:00-06:00", "2026-03-08T11:00:00-05:00"),
    (3 * 3600, "2026-03-07T20:00:00-06:00", "2026-03-08T08:00:00-05:00"),
    (86400, "2026-10-31T10:00:00-05:00", "2026-11-01T09:00:00-06:00"),
    (3600, "2026-11-01T00:30:00-05:00", "2026-11-01T08:00:00-06:00"),
    # `after` ignores business hours: Saturday is fine outside quiet hours.
    (86400, "2026-11-27T16:00:00-06:00", "2026-11-28T16:00:00-06:00"),
])
def test_after_a_delay(after, texted, expected):
    rules = FollowUpRules(CHICAGO, WEEKDAYS, after=after)
    assert _local(follow_up_at(_epoch(texted), rules=rules)) == expected


@pytest.mark.parametrize("now, expected", [
    ("2026-11-27T20:59:59-06:00", True),
    ("2026-11-27T21:00:00-06:00", False),
    ("2026-11-27T23:59:59-06:00", False),
    ("2026-11-28T00:00:00-06:00", False),
    ("2026-11-28T07:59:59-06:00", False),
    ("2026-11-28T08:00:00-06:00", True),
    ("2026-11-28T12:00:00-06:00", True),
    # Local clock, not UTC: 08:30 UTC is 02:30 in Chicago; 03:00 UTC is 21:00 the day before.
    ("2026-11-28T08:30:00+00:00", False),
    ("2026-11-28T02:59:59+00:00", True),
    ("2026-11-28T03:00:00+00:00", False),
    ("2026-03-08T03:00:00-05:00", False),   # the first minute of CDT
    ("2026-03-08T08:00:00-05:00", True),
    ("2026-11-01T01:30:00-06:00", False),   # the second 01:30 of the night
])
def test_due_ok(now, expected):
    assert due_ok(_epoch(now), FollowUpRules(CHICAGO, WEEKDAYS)) is expected


def test_a_negative_delay_is_refused():
    with pytest.raises(ValueError, match="must not be negative, got -1"):
        FollowUpRules(CHICAGO, WEEKDAYS, after=-1)


def test_rules_for_a_loaded_config(tmp_path):
    path = tmp_path / "textback.toml"
    path.write_text('[business]\nname = "Acme Plumbing"\nowner = "Mike"\n'
                    'timezone = "America/Chicago"\n'
                    '[hours]\nmon = "07:00-17:00"\nsat = "09:00-13:00"\n'
                    '[modem]\nport = "sim"\n', encoding="utf-8")
    rules = rules_for(config.load(path), after=None)
    assert rules == FollowUpRules(CHICAGO, {0: (time(7, 0), time(17, 0)), 1: None, 2: None,
                                            3: None, 4: None, 5: (time(9, 0), time(13, 0)),
                                            6: None})
    # Texted on a Tuesday: the next open day is Saturday.
    assert _local(follow_up_at(_epoch("2026-11-24T10:00:00-06:00"), rules=rules)) == \
        "2026-11-28T09:00:00-06:00"
