"""The call tracker on real transcripts: each table row is a family, the lines with their times, what
AT+CLCC answers when polled, and the whole list of events expected. A virtual clock jumps from one
deadline to the next, as the daemon's loop does."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.at.families import FAMILIES, get
from gateway.at.tracker import CallTracker
from gateway.events import ANSWERED, MISSED, UNKNOWN, CallEnded, CallRinging

NUM, NUM2 = "+15125550142", "+15125550199"
CLIP = f'+CLIP: "{NUM}",145,"",0,"",0'          # SIM800 shape
CLIP6 = f'+CLIP: "{NUM}",145,,,,0'              # Huawei / generic shape
LISTED = [f'+CLCC: 1,1,4,0,0,"{NUM}",145']      # AT+CLCC while it rings
BEARER = ["+CLCC: 2,0,0,1,0"]                   # Quectel's data bearer: mode 1, not a call


def R(at, number=None, type_=None, withheld=False, call=1):
    return CallRinging(call, number, type_, withheld, at)


def E(outcome, started, ended, rings, how, number=NUM, type_=145, withheld=False, call=1):
    return CallEnded(call, number, type_, withheld, outcome, started, ended, rings, how)


def listed_until(t_end, lines=LISTED, after=()):
    """AT+CLCC answers: the ringing call while t < t_end, then `after` (no call)."""
    return lambda t: list(lines) if t < t_end else list(after)


def run(family, steps, clcc=None, polls=None, **options):
    """Feed `steps` [(t, line)], ticking and polling at every deadline in between and for 300 s after."""
    tracker = CallTracker(get(family), **options)
    events = []

    def advance(until):
        for _ in range(1000):
            deadline = tracker.next_deadline()
            if deadline is None or deadline > until:
                return
            if tracker.poll_due(deadline):
                if polls is not None:
                    polls.append(deadline)
                events.extend(tracker.on_clcc(clcc(deadline) if clcc else None, deadline))
            events.extend(tracker.tick(deadline))
        raise AssertionError("deadline does not move")

    t = 0.0
    for t, line in steps:
        advance(t)
        events.extend(tracker.feed(line, t))
    advance(t + 300)
    assert not tracker.is_busy() and tracker.next_deadline() is None
    return events


# ---- one missed call per family, the way that family reports it ------------------------------------------
MISSED_CALLS = {
    "generic (+CLCC empty)": (
        "generic", [(0, "RING"), (0.05, CLIP6), (6, "RING"), (12, "RING")], listed_until(13),
        [R(0), R(0.05, NUM, 145), E(MISSED, 0, 13, 3, "+CLCC empty")]),
    "sim800": (
        "sim800", [(0, "RING"), (0.05, CLIP), (5, "RING"),
                   (9.4, f'+CLCC: 1,1,6,0,0,"{NUM}",145,""'), (9.5, "NO CARRIER")], None,
        [R(0), R(0.05, NUM, 145), E(MISSED, 0, 9.4, 2, "+CLCC stat 6")]),
    "sim7600 (three end lines, one end)": (
        "sim7600", [(0, "RING"), (0.02, CLIP), (7, "RING"), (14, "RING"), (18, "VOICE CALL: END"),
                    (18.01, "NO CARRIER"), (18.02, f'+CLCC: 1,1,6,0,0,"{NUM}",128'),
                    (18.03, f"MISSED_CALL: 11:53AM {NUM}")], None,
        [R(0), R(0.02, NUM, 145), E(MISSED, 0, 18, 3, "VOICE CALL: END")]),
    "ec25 (ccinfo, bearer listed)": (
        "ec25", [(0, "RING"), (0.01, CLIP6), (0.02, f'+QIND: "ccinfo",1,1,4,0,0,"{NUM}",145'),
                 (6, "RING"), (12, "RING"), (15.5, f'+QIND: "ccinfo",1,1,6,0,0,"{NUM}",145')],
        listed_until(99, LISTED + BEARER),
        [R(0), R(0.01, NUM, 145), E(MISSED, 0, 15.5, 3, "+QIND ccinfo stat 6")]),
    "ec25 (no end line: only the bearer left)": (
        "ec25", [(0, "RING"), (0.01, CLIP6), (6, "RING"), (12, "RING")],
        listed_until(13, LISTED + BEARER, BEARER),
        [R(0), R(0.01, NUM, 145), E(MISSED, 0, 13, 3, "+CLCC empty")]),
    "huawei": (
        "huawei", [(0, "+CRING: VOICE"), (0.005, '+CLIP: "+27821231234",145,,,,0'), (5, "+CRING: VOICE"),
                   (5.005, '+CLIP: "+27821231234",145,,,,0'), (8, "^CEND:1,0,104,16")], None,
        [R(0), R(0.005, "+27821231234", 145),
         E(MISSED, 0, 8, 2, "^CEND", number="+27821231234")]),
    "ublox (no RING at all: its caller-ID lines count the cadences)": (
        "ublox", [(0, "+UCALLSTAT: 1,4"), (0.1, '+CLIP: "2345640362",129'), (20, "+UCALLSTAT: 1,6")],
        listed_until(21, ['+CLCC: 1,1,4,0,0,"2345640362",129']),
        [R(0), R(0.1, "2345640362", 129), E(MISSED, 0, 20, 1, "+UCALLSTAT stat 6", "2345640362", 129)]),
    "zte": (
        "zte", [(0, "RING"), (0.1, CLIP6), (6, "RING"), (9, "HANGUP: 1")], listed_until(10),
        [R(0), R(0.1, NUM, 145), E(MISSED, 0, 9, 2, "HANGUP")]),
    "wavecom": (
        "wavecom", [(0, "RING"), (0.1, f'+CLIP: "{NUM}",145'), (5, "RING"), (8.5, "+WIND: 6,1")],
        listed_until(8.5),
        [R(0), R(0.1, NUM, 145), E(MISSED, 0, 8.5, 2, "+WIND: 6")]),
}


@pytest.mark.parametrize("family, steps, clcc, expected", MISSED_CALLS.values(), ids=MISSED_CALLS.keys())
def test_missed_call_per_family(family, steps, clcc, expected):
    assert run(family, steps, clcc) == expected


def test_every_family_has_a_transcript():
    assert {row[0] for row in MISSED_CALLS.values()} == set(FAMILIES)


# ---- withheld numbers (docs/reference/modems.md, "Caller ID and call lists") ---------------------
@pytest.mark.parametrize("clip, type_", [
    ('+CLIP: "",128,"",0,"",1', 128),
    ('+CLIP: "",128,,,,1', 128),
    ("+CLIP:,129,,,,1", 129),
    ('+CLIP: "",128,"",0,"",2', 128),
    ('+CLIP: "",128', 128),
])
def test_withheld(clip, type_):
    events = run("sim800", [(0, "RING"), (0.05, clip), (5, "RING"), (8, "NO CARRIER")])
    assert events == [R(0), R(0.05, None, type_, withheld=True),
                      E(MISSED, 0, 8, 2, "NO CARRIER", None, type_, withheld=True)]


def test_withheld_is_not_filled_in_by_a_later_number():
    events = run("sim7600", [(0, '+CLIP: "",128,,,,1'), (4, f"MISSED_CALL: 11:53AM {NUM}")])
    assert events == [R(0, None, 128, True), E(MISSED, 0, 4, 1, "MISSED_CALL", None, 128, True)]


def test_type_128_with_a_real_number_is_not_withheld():
    events = run("sim800", [(0, '+CLIP: "+481239823991",145,"",128,"",0'), (3, "NO CARRIER")])
    assert events == [R(0, "+481239823991", 145), E(MISSED, 0, 3, 1, "NO CARRIER", "+481239823991")]


# ---- answered calls: never MISSED ---------------------------------------------------------------------
ANSWERED_CALLS = {
    "sim7600 VOICE CALL: BEGIN": (
        "sim7600", [(0, "RING"), (0.02, CLIP), (3, "VOICE CALL: BEGIN"), (40, "VOICE CALL: END"),
                    (40.01, "NO CARRIER")], None,
        [R(0), R(0.02, NUM, 145), E(ANSWERED, 0, 40, 1, "VOICE CALL: END")]),
    "huawei ^CONN then ^CEND": (
        "huawei", [(0, "+CRING: VOICE"), (0.01, CLIP6), (2, "^CONN:1,0"), (60, "^CEND:1,58,104,16")], None,
        [R(0), R(0.01, NUM, 145), E(ANSWERED, 0, 60, 1, "^CEND")]),
    "huawei ^CEND duration > 0 alone (^CONN lost)": (
        "huawei", [(0, "+CRING: VOICE"), (0.01, CLIP6), (8, "^CEND:1,3,104,16")], None,
        [R(0), R(0.01, NUM, 145), E(ANSWERED, 0, 8, 1, "^CEND")]),
    "sim800 +CLCC stat 0 URC": (
        "sim800", [(0, "RING"), (0.05, CLIP), (2, f'+CLCC: 1,1,0,0,0,"{NUM}",145,""'),
                   (50, f'+CLCC: 1,1,6,0,0,"{NUM}",145,""'), (50.1, "NO CARRIER")], None,
        [R(0), R(0.05, NUM, 145), E(ANSWERED, 0, 50, 1, "+CLCC stat 6")]),
    "ublox +UCALLSTAT 0": (
        "ublox", [(0, "+UCALLSTAT: 1,4"), (0.1, CLIP6), (4, "+UCALLSTAT: 1,0"), (30, "+UCALLSTAT: 1,6")],
        lambda t: [] if t > 30 else [f'+CLCC: 1,1,{4 if t < 4 else 0},0,0,"{NUM}",145'],
        [R(0), R(0.1, NUM, 145), E(ANSWERED, 0, 30, 1, "+UCALLSTAT stat 6")]),
    "generic: poll sees it active, then gone": (
        "generic", [(0, "RING"), (0.05, CLIP6)],
        lambda t: [] if t >= 20 else [f'+CLCC: 1,1,{4 if t < 3 else 0},0,0,"{NUM}",145'],
        [R(0), R(0.05, NUM, 145), E(ANSWERED, 0, 20, 1, "+CLCC empty")]),
}


@pytest.mark.parametrize("family, steps, clcc, expected", ANSWERED_CALLS.values(), ids=ANSWERED_CALLS.keys())
def test_answered(family, steps, clcc, expected):
    assert run(family, steps, clcc) == expected


# ---- duplicates, order, leftovers ---------------------------------------------------------------------
ORDERS = {
    "CLIP before +CRING": (
        "huawei", [(0, CLIP6), (0.005, "+CRING: VOICE"), (5, "+CRING: VOICE"), (9, "^CEND:1,0,104")],
        [R(0, NUM, 145), E(MISSED, 0, 9, 2, "^CEND")]),
    "RING duplicated on two CMUX channels": (
        "sim800", [(0, "RING"), (0.01, "RING"), (0.05, CLIP), (0.06, CLIP), (6, "RING"), (6.002, "RING"),
                   (8, "NO CARRIER")],
        [R(0), R(0.05, NUM, 145), E(MISSED, 0, 8, 2, "NO CARRIER")]),
    "two RINGs before the CLIP": (
        "sim800", [(0, "RING"), (5, "RING"), (5.01, CLIP), (9, "NO CARRIER")],
        [R(0), R(5.01, NUM, 145), E(MISSED, 0, 9, 2, "NO CARRIER")]),
    # No RING: each caller-ID line half a cadence or more apart is a ring (policy.min_rings).
    "CLIP without RING": (
        "sim800", [(0, CLIP), (5, CLIP), (9, "NO CARRIER")],
        [R(0, NUM, 145), E(MISSED, 0, 9, 2, "NO CARRIER")]),
    "same caller national then international (one number, two forms)": (
        "sim800", [(0, '+CLIP: "2345640362",129'), (5, '+CLIP: "+12345640362",145'), (9, "NO CARRIER")],
        [R(0, "2345640362", 129), E(MISSED, 0, 9, 2, "NO CARRIER", "2345640362", 129)]),
    "number filled in by +CLCC when CLIP gave none": (
        "sim800", [(0, "RING"), (1, f'+CLCC: 1,1,4,0,0,"{NUM}",145,""'), (6, "NO CARRIER")],
        [R(0), R(1, NUM, 145), E(MISSED, 0, 6, 1, "NO CARRIER")]),
    "number filled in by MISSED_CALL at the end": (
        "sim7600", [(0, "RING"), (7, "RING"), (9, f"MISSED_CALL: 11:53AM {NUM}"), (9.01, "VOICE CALL: END")],
        [R(0), E(MISSED, 0, 9, 2, "MISSED_CALL", NUM, None)]),
    "a RING leftover just after the end starts nothing": (
        "sim800", [(0, "RING"), (0.05, CLIP), (5, "NO CARRIER"), (5.3, "RING"), (5.4, CLIP)],
        [R(0), R(0.05, NUM, 145), E(MISSED, 0, 5, 1, "NO CARRIER")]),
    "a second call after the first": (
        "sim800", [(0, "RING"), (0.05, CLIP), (5, "NO CARRIER"), (30, "RING"), (30.05, CLIP),
                   (33, "NO CARRIER")],
        [R(0), R(0.05, NUM, 145), E(MISSED, 0, 5, 1, "NO CARRIER"),
         R(30, call=2), R(30.05, NUM, 145, call=2), E(MISSED, 30, 33, 1, "NO CARRIER", call=2)]),
    "another caller while the first still rings": (
        "sim800", [(0, "RING"), (0.05, CLIP), (6, "RING"), (6.05, f'+CLIP: "{NUM2}",145,"",0,"",0'),
                   (9, "NO CARRIER")],
        [R(0), R(0.05, NUM, 145), E(MISSED, 0, 6.05, 2, "another caller"),
         R(6.05, NUM2, 145, call=2), E(MISSED, 6.05, 9, 1, "NO CARRIER", NUM2, call=2)]),
    "a leftover RING just after the end is ignored, but a new caller ID starts a call": (
        "sim800", [(0, "RING"), (0.05, CLIP), (5, "NO CARRIER"), (5.2, "RING"), (5.3, CLIP),
                   (5.5, f'+CLIP: "{NUM2}",145,"",0,"",0'), (9, "NO CARRIER")],
        [R(0), R(0.05, NUM, 145), E(MISSED, 0, 5, 1, "NO CARRIER"),
         R(5.5, NUM2, 145, call=2), E(MISSED, 5.5, 9, 1, "NO CARRIER", NUM2, call=2)]),
    "other families' lines are not ours": (
        "generic", [(0, "RING"), (0.05, CLIP6), (3, "^CEND:1,0,104,16"), (3.1, "VOICE CALL: END"),
                    (4, "NO CARRIER")],
        [R(0), R(0.05, NUM, 145), E(MISSED, 0, 4, 1, "NO CARRIER")]),
    "+CRING: GPRS is not a call": (
        "huawei", [(0, '+CRING: GPRS "IP","10.0.0.1"')], []),
}


@pytest.mark.parametrize("family, steps, expected", ORDERS.values(), ids=ORDERS.keys())
def test_orders_and_duplicates(family, steps, expected):
    # the polls list a ringing call without its number: the lines alone decide
    assert run(family, steps, listed_until(999, ["+CLCC: 1,1,4,0,0"])) == expected


# ---- timeouts and restarts: AT+CLCC gets no answer, so ring silence decides -----------------------------
NO_LIST = "ring silence (AT+CLCC failed: no answer)"
SAFETY_NETS = {
    "sim800 ring-only: silence after 12 s": (
        "sim800", [(0, "RING"), (0.05, CLIP), (6, "RING")], {},
        [R(0), R(0.05, NUM, 145), E(MISSED, 0, 18, 2, NO_LIST)]),
    "sim7600: two 7 s cadences": (
        "sim7600", [(0, "RING"), (7, "RING")], {},
        [R(0), E(MISSED, 0, 21, 2, NO_LIST, None, None)]),
    "huawei: a longer ring_timeout": (
        "huawei", [(0, "+CRING: VOICE"), (5, "+CRING: VOICE")], {"ring_timeout": 20},
        [R(0), E(MISSED, 0, 25, 2, NO_LIST, None, None)]),
    "ringing too long": (
        "huawei", [(t, "+CRING: VOICE") for t in range(0, 200, 5)], {},
        # the RING at 120 is a leftover of the first call; the rest rings as a second one
        [R(0), E(UNKNOWN, 0, 120, 24, "ringing too long", None, None),
         R(125, call=2), E(MISSED, 125, 207, 15, NO_LIST, None, None, call=2)]),
    "modem restart mid-call": (
        "sim800", [(0, "RING"), (0.05, CLIP), (3, "RDY"), (10, "Call Ready"), (11, "SMS Ready")], {},
        [R(0), R(0.05, NUM, 145), E(UNKNOWN, 0, 3, 1, "RDY")]),
    "+CPIN: READY unasked while ringing": (
        "ec25", [(0, "RING"), (2, "+CPIN: READY")], {},
        [R(0), E(UNKNOWN, 0, 2, 1, "+CPIN: READY", None, None)]),
    "restart lines when idle": (
        "sim800", [(0, "RDY"), (1, "+CPIN: READY"), (2, "SMS Ready")], {}, []),
}


@pytest.mark.parametrize("family, steps, options, expected", SAFETY_NETS.values(), ids=SAFETY_NETS.keys())
def test_safety_nets(family, steps, options, expected):
    assert run(family, steps, lambda t: None, **options) == expected


# ---- the AT+CLCC poll --------------------------------------------------------------------------------
def test_polls_once_per_interval_while_a_call_is_in_progress_on_every_family():
    polls = []
    run("generic", [(0, "RING"), (6, "RING")], listed_until(8), polls)
    assert polls == [1, 2, 3, 4, 5, 6, 7, 8]
    polls.clear()
    # an end line does not stop the polls: it is not relied on
    run("sim800", [(0, "RING"), (6, "RING"), (8.5, "NO CARRIER")], listed_until(9), polls)
    assert polls == [1, 2, 3, 4, 5, 6, 7, 8]
    polls.clear()
    # nor does an answer: a call that is connected is polled until it is over
    run("huawei", [(0, "+CRING: VOICE"), (2, "^CONN:1,0"), (4.5, "^CEND:1,2,104,16")], listed_until(9), polls)
    assert polls == [1, 2, 3, 4]


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_ring_only_is_decided_by_the_first_empty_poll_on_every_family(family):
    """A modem that sends only RING, whatever it identifies as: the call list decides, not silence."""
    events = run(family, [(0, "RING"), (6, "RING"), (12, "RING")], listed_until(14.5))
    assert events == [R(0), R(1, NUM, 145), E(MISSED, 0, 15, 3, "+CLCC empty")]


def test_an_end_line_and_a_poll_decide_once_whichever_comes_first():
    # the poll first: the end lines after it are leftovers
    events = run("sim800", [(0, "RING"), (0.05, CLIP), (5, "RING"), (9.2, f'+CLCC: 1,1,6,0,0,"{NUM}",145,""'),
                            (9.3, "NO CARRIER")], listed_until(8.5))
    assert events == [R(0), R(0.05, NUM, 145), E(MISSED, 0, 9, 2, "+CLCC empty")]
    # the end line first: a poll answer written before it (still listing the call) starts nothing
    tracker = CallTracker(get("huawei"))
    tracker.feed("+CRING: VOICE", 0)
    tracker.feed(CLIP6, 0.01)
    assert tracker.feed("^CEND:1,0,104,16", 3.4) == [E(MISSED, 0, 3.4, 1, "^CEND")]
    assert tracker.on_clcc(LISTED, 3.5) == []
    assert tracker.on_clcc(['+CLCC: 1,1,4,0,0,"",128'], 3.6) == []     # a withheld one, likewise
    assert not tracker.is_busy()


def test_one_empty_answer_ends_a_listed_call_a_never_listed_one_needs_three_and_a_silent_cadence():
    # listed at 1 and 2, gone at 3
    assert run("generic", [(0, "RING")], listed_until(3))[-1] == E(MISSED, 0, 3, 1, "+CLCC empty")
    # never listed (hung up before the first poll, or a list that leaves ringing calls out): three empty
    # answers in a row and no RING for one cadence and one poll (6 + 1 s generic, 7 + 1 s sim7600)
    assert run("generic", [(0, "RING")], listed_until(0))[-1] == E(MISSED, 0, 7, 1, "+CLCC empty", None, None)
    assert run("sim7600", [(0, "RING"), (0.05, CLIP)], listed_until(0))[-1] == E(MISSED, 0, 9, 1, "+CLCC empty")
    # a list that never shows the call while it still rings every 6 s: the RINGs keep it going
    events = run("sim800", [(0, "RING"), (0.05, CLIP), (6, "RING"), (12, "RING"), (18, "NO CARRIER")],
                 listed_until(0))
    assert events == [R(0), R(0.05, NUM, 145), E(MISSED, 0, 18, 3, "NO CARRIER")]


def test_failed_polls_stop_after_three_and_silence_decides_naming_why():
    polls = []
    events = run("generic", [(0, "RING"), (6, "RING")], lambda t: None, polls)
    assert polls == [1, 2, 3]
    assert events == [R(0), E(MISSED, 0, 18, 2, "ring silence (AT+CLCC failed: no answer)", None, None)]
    tracker = CallTracker(get("sim800"))
    tracker.feed("RING", 0)
    for t in (1, 2, 3):
        assert tracker.poll_due(t)
        assert tracker.on_clcc(None, t, why="+CME ERROR: SIM busy") == []
    assert not tracker.poll_due(4)
    assert tracker.tick(12) == [E(MISSED, 0, 12, 1, "ring silence (AT+CLCC failed: +CME ERROR: SIM busy)", None, None)]


@pytest.mark.parametrize("answer", [
    ["+CLCC: 1,1,4,0"],                                  # four fields: cut short
    ["+CLCC: 1,1,4,0,0,\"+1512\",1x5"],                 # a corrupted type
    [LISTED[0], "+CLCC: garbage"],
])
def test_an_answer_that_cannot_be_read_is_a_failed_poll_not_an_empty_list(answer):
    events = run("generic", [(0, "RING"), (6, "RING")], listed_until(2, LISTED, answer))
    assert events[-1] == E(MISSED, 0, 18, 2, "ring silence (AT+CLCC failed: an answer that cannot be read)")


def test_a_connected_call_whose_end_line_is_lost_ends_by_the_poll():
    events = run("huawei", [(0, "+CRING: VOICE"), (0.01, CLIP6), (2, "^CONN:1,0")],
                 lambda t: [] if t >= 60 else [f'+CLCC: 1,1,{4 if t < 2 else 0},0,0,"{NUM}",145'])
    assert events == [R(0), R(0.01, NUM, 145), E(ANSWERED, 0, 60, 1, "+CLCC empty")]


def test_poll_listing_the_call_keeps_it_alive_without_rings():
    events = run("ublox", [(0, "+UCALLSTAT: 1,4")], listed_until(40))
    assert events == [R(0), R(1, NUM, 145), E(MISSED, 0, 40, 1, "+CLCC empty")]


def test_data_entries_count_as_no_call():
    events = run("ec25", [(0, "RING"), (6, "RING")],
                 listed_until(7, ["+CLCC: 1,1,4,0,0", "+CLCC: 2,1,0,1,0"], ["+CLCC: 2,1,0,1,0"]))
    assert events == [R(0), E(MISSED, 0, 7, 2, "+CLCC empty", None, None)]


def test_poll_interval_option():
    polls = []
    run("zte", [(0, "RING")], listed_until(3), polls, poll_interval=2.0)
    assert polls == [2, 4]


@pytest.mark.parametrize("lines, expected", [
    ([], []),
    (BEARER, []),
    (["+CLCC: 1,1,4,1,0"], []),                         # mode 1 (data): never a call of ours
    (["+CLCC: 1,0,2,0,0,\"+15125550100\",145"], []),    # an outgoing call is not ours
    (LISTED, [R(5, NUM, 145)]),
    (None, []),
])
def test_on_clcc_when_idle(lines, expected):
    tracker = CallTracker(get("generic"))
    assert tracker.on_clcc(lines, 5) == expected
    assert tracker.is_busy() is bool(expected)


# ---- the questions --------------------------------------------------------------------------------------
def test_deadlines_and_busy():
    tracker = CallTracker(get("sim800"))
    assert (tracker.next_deadline(), tracker.is_busy(), tracker.poll_due(0)) == (None, False, False)
    assert tracker.feed("RING", 100) == [R(100)]
    assert (tracker.next_deadline(), tracker.is_busy(), tracker.poll_due(100.5)) == (101, True, False)
    assert tracker.poll_due(101)
    for t in (101, 102, 103):
        tracker.on_clcc(None, t)                                  # three failures: no more polls
    assert (tracker.next_deadline(), tracker.poll_due(200)) == (112, False)
    assert tracker.feed("+CLCC: 1,1,0,0,0", 104) == []            # answered: no ring timeouts any more
    assert (tracker.next_deadline(), tracker.is_busy()) == (None, True)
    assert tracker.tick(500) == []
    assert tracker.feed("NO CARRIER", 501) == [E(ANSWERED, 100, 501, 1, "NO CARRIER", None, None)]
    assert (tracker.next_deadline(), tracker.is_busy()) == (None, False)


def test_a_late_feed_decides_the_timeout_first():
    tracker = CallTracker(get("sim800"))
    tracker.feed("RING", 0)
    assert tracker.feed("RING", 40) == [E(MISSED, 0, 12, 1, "ring silence", None, None), R(40, call=2)]


@pytest.mark.parametrize("family, line, known", [
    ("generic", "RING", True), ("generic", "+CLIP: garbage", True), ("generic", "NO CARRIER", True),
    ("generic", "^CEND:1,0,104,16", False), ("huawei", "^CEND:1,0,104,16", True),
    ("sim7600", "VOICE CALL: END", True), ("sim800", "VOICE CALL: END", False),
    ("ec25", '+QIND: "ccinfo",1,1,4,0,0,"1",129', True), ("ec25", '+QIND: "csq",20', False),
    ("ublox", "+UCALLSTAT: 1,6", True), ("zte", "HANGUP: 1", True), ("wavecom", "+WIND: 6,1", True),
    ("generic", "+CMTI: \"SM\",3", False), ("generic", "OK", False), ("generic", "", False),
])
def test_known(family, line, known):
    assert CallTracker(get(family)).known(line) is known


# ---- garbage never raises -------------------------------------------------------------------------------
REAL_LINES = [
    "RING", "+CRING: VOICE", CLIP, CLIP6, '+CLIP: "",128,,,,1', "+CLIP:,129,,,,1", "NO CARRIER",
    "VOICE CALL: BEGIN", "VOICE CALL: END", f"MISSED_CALL: 11:53AM {NUM}", "^CEND:1,0,104,16",
    "^CEND:1,9,104,16", "^CONN:1,0", "+UCALLSTAT: 1,4", "+UCALLSTAT: 1,0", "+UCALLSTAT: 1,6", "HANGUP: 1",
    "+WIND: 6,1", LISTED[0], BEARER[0], "+CLCC: 1,1,6,0,0", "+CLCC: 1,1,0,0,0", '+QIND: "ccinfo",1,1,6,0,0',
    "RDY", "+CPIN: READY", "SMS Ready", "OK", "+CMTI: \"SM\",1", "+CLIP: \"+1", "+UCALLSTAT: 1,",
]
LINE = st.one_of(st.sampled_from(REAL_LINES), st.text(max_size=60),
                 st.builds(lambda a, b: a[: len(a) // 2] + b, st.sampled_from(REAL_LINES), st.text(max_size=8)))
ACTION = st.tuples(st.floats(0, 30), st.one_of(LINE, st.just(None),
                                               st.lists(st.sampled_from(REAL_LINES) | st.text(max_size=20),
                                                        max_size=3)))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(FAMILIES)), st.lists(ACTION, max_size=40))
def test_any_lines_in_any_order_never_raise(family, actions):
    tracker = CallTracker(get(family))
    now, calls = 0.0, []
    for step, what in actions:
        now += step
        if isinstance(what, str):
            calls += tracker.feed(what, now)
        elif tracker.poll_due(now) or what is None:
            calls += tracker.on_clcc(what, now)
        else:
            calls += tracker.tick(now)
        deadline = tracker.next_deadline()
        assert deadline is None or deadline >= now
        assert tracker.is_busy() or deadline is None
    ids = [e.call_id for e in calls if isinstance(e, CallEnded)]
    assert len(ids) == len(set(ids)), "one CallEnded per call"
    for call_id in ids:
        assert sum(isinstance(e, CallRinging) and e.call_id == call_id for e in calls) in (1, 2)


def test_polls_are_not_rings():
    """A call started by its caller ID and then only seen in 1 Hz AT+CLCC polls rang once as far
    as anyone can tell: the polls must not count as rings (policy.min_rings)."""
    listing = listed_until(30, [f'+CLCC: 1,1,4,0,0,"{NUM}",145'])
    events = run("generic", [(0, CLIP6)], listing)
    assert events[-1].rings == 1
    # With RING lines, they are the count; caller-ID lines beside them add nothing.
    events = run("sim800", [(0, "RING"), (0.05, CLIP), (5, "RING"), (5.05, CLIP), (9, "NO CARRIER")])
    assert events[-1].rings == 2
