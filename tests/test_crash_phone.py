"""Crash, short form, Android phone transport: `kill -9` the real `textback run` a few dozen times
while the fake SMSGate + CallGate plays a burst of missed calls and incoming texts; no text doubled
(not even in the send window: the message id is ours, a resend gets 409), every incoming text
recorded once, every call accounted for.

The harness is bench/crash_phone.py (the long form runs hundreds of kills). Waits are on the fake's
requests and the store, bounded; the random kill delays are the experiment.
"""
import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import crash_phone  # noqa: E402

# A seed from the environment replays a failing run exactly; otherwise a fresh one, printed.
SEED = int(os.environ.get("TEXTBACK_CRASH_SEED") or random.SystemRandom().randrange(10**6))


def test_kill_9_during_a_burst_on_the_phone_transport_doubles_nothing(tmp_path):
    print(f"crash seed {SEED} (rerun with TEXTBACK_CRASH_SEED={SEED})")
    report = crash_phone.run(kills=30, calls=16, gap=1.2, seed=SEED, folder=tmp_path)
    print(crash_phone.summary(report))
    for failure in report.failures:
        print("  FAILURE:", failure)
    assert report.problems == []
    # How many kills fit in the burst depends on timing; enough of them, and of the risky kinds.
    assert report.kills >= 15
    assert report.modes["after_end"] >= 1 and report.modes["after_post"] >= 1
    # The send window: a row left 'sending' is posted again with the same id and followed.
    assert report.duplicates == 0
    assert (report.inbound_lost, report.inbound_doubled) == ([], [])
    assert report.inbound_once == report.texts_in
    # Every call: texted, a reason recorded, lost while down (no daemon listened at either
    # delivery of its call:ended: CallGate's limit), or lost after a daemon took it (below).
    assert report.lost_recorded == []
    handled = (report.texted_once + report.reason_no_text + report.lost_while_down
               + len(report.lost_taken))
    assert handled == report.calls
    # CallGate's one attempt (its default retry count is 1), for the numbered copy of call:ended
    assert all(n == 1 for n in report.down_attempts.elements())
    # A call webhook is written to the call journal before the phone hears 2xx, and played back
    # at the next start: no call a daemon took is lost.
    assert report.lost_taken == []
