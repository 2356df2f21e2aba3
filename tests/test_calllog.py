"""The phone's call log: `content query` output parsed, and which of its calls are texted back."""
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway import config as config_mod
from gateway import events as ev
from gateway.app import reports
from gateway.app.conversation import Conversation
from gateway.app.daemon import Counters
from gateway.app.store import Store
from gateway.clock import WallClock
from gateway.phone.calllog import missed, parse, refused
from gateway.starter import write_starter

AOSP = """\
Row: 0 number=+15125550142, type=3, date=1700000100000, duration=0
Row: 1 number=5125550177, type=5, date=1700000000000, duration=0
"""
# Samsung One UI answers with its own columns too, in its own order, and a cached name with a comma.
SAMSUNG = ("Row: 0 _id=812, number=+15125550142, presentation=1, date=1700000000123, duration=0, "
           "type=3, name=Smith, Bob, logtype=100, sec_custom1=NULL, countryiso=US\n")
WITHHELD = """\
Row: 0 number=, type=3, date=1700000000000, duration=0
Row: 1 number=NULL, type=3, date=1700000001000, duration=0
Row: 2 number=-2, type=5, date=1700000002000, duration=0
"""
ODD = """\

Row: 0 number=+15125550142, type=, date=1700000000000, duration=0
Row: 1 number=+15125550143, type=3, duration=0
Row: 2 number=+15125550144, type=3, date=yesterday, duration=0
Row: x number=+15125550145, type=3, date=1700000000000
number=+15125550146, type=3, date=1700000000000
Row: 3 number=+15125550147, type=1, date=1700000003000, duration=42
"""
DENIED = ("Error while accessing provider:call_log\n"
          "java.lang.SecurityException: Permission Denial: opening provider "
          "com.android.providers.contacts.CallLogProvider from (null) (pid=8112, uid=2000) "
          "requires android.permission.READ_CALL_LOG or android.permission.WRITE_CALL_LOG\n")


@pytest.mark.parametrize("output, entries, is_refused", [
    (AOSP, (("5125550177", 5, 1700000000.0), ("+15125550142", 3, 1700000100.0)), False),
    (SAMSUNG, (("+15125550142", 3, 1700000000.123),), False),
    (WITHHELD, (("", 3, 1700000000.0), ("", 3, 1700000001.0), ("", 5, 1700000002.0)), False),
    ("No result found.\n", (), False),
    ("", (), False),
    (ODD, (("+15125550147", 1, 1700000003.0),), False),
    (DENIED, (), True),
    ("/system/bin/sh: content: not found\n", (), False),
])
def test_parse(output, entries, is_refused):
    assert (parse(output), refused(output)) == (entries, is_refused)


@given(st.text())
def test_parse_never_raises(text):
    assert isinstance(parse(text), tuple)
    assert isinstance(parse("Row: 0 " + text), tuple)


# -- which calls in the log are texted back ------------------------------------------------------
TZ = ZoneInfo("America/Chicago")
T = datetime(2026, 11, 24, 11, 0, tzinfo=TZ).timestamp()  # a Tuesday, open 07:00-17:00
H = 3600.0
A, B, C, D, LIVE, OWNER = ("+15125550142", "+15125550143", "+15125550144", "+15125550145",
                           "+15125550146", "+15125550199")
LOG = ((A, 3, T - 600), (B, 5, T - 1200), (C, 3, T - 6.5 * H), (D, 1, T - 300), ("", 3, T - 900),
       (LIVE, 3, T - 100), (OWNER, 3, T - 200))


@pytest.mark.parametrize("seen, beat, calls", [
    # First read on this box: the starting point, nothing recorded.
    (None, None, []),
    # Down 8 hours: only the last 6 count (C is older); D was answered; LIVE rang while we were
    # up; a withheld caller and the owner are recorded, not texted.
    (T - 8 * H, T - 8 * H, [(B, "rejected", "queued"), (None, "missed", "skipped withheld"),
                            (A, "missed", "queued"), (OWNER, "missed", "skipped contact")]),
    # The heartbeat says we were up until 15 min ago: only what came after.
    (T - 8 * H, T - 0.25 * H, [(A, "missed", "queued"), (OWNER, "missed", "skipped contact")]),
    # Read 5 min ago (a reconnect after the cable came out): nothing newer than that read but LIVE, which we saw.
    (T - 300, None, [(OWNER, "missed", "skipped contact")]),
])
def test_what_the_log_recovers(tmp_path, seen, beat, calls):
    write_starter(tmp_path)
    cfg = config_mod.load(tmp_path / "textback.toml")
    store = Store(tmp_path / "t.db")
    try:
        talk = Conversation(cfg, store, WallClock.starting_at(T), lambda *a, **k: None, Counters())
        live = ev.CallEnded(1, LIVE, None, False, ev.MISSED, T - 95, T - 60, 2, "call:ended")
        talk.call_ended(live)
        for key, value in (("call_log_seen", seen), ("heartbeat", beat)):
            if value is not None:
                store.set_state(key, f"{value:.3f}")
        talk.missed_in_log(ev.MissedLog(missed(LOG), T))
        talk.missed_in_log(ev.MissedLog(missed(LOG), T + 1))  # read again: nothing more
        got = [(c["number"], c["outcome"], " ".join(filter(None, (c["action"], c["reason"]))))
               for c in reversed(reports.calls(store)) if c["recovered"]]
        assert (got, float(store.get_state("call_log_seen"))) == (calls, T + 1)
    finally:
        store.close()
