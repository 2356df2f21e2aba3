"""gateway.app.pacing: one text a second at most; never the same words to one number twice
within 10 s; a retry of the same outbox row is not a second text; a restart remembers."""
from gateway.app.pacing import MIN_GAP, SAME_GAP, Pacer

N, M = "+15125550142", "+15125550177"


def test_one_text_a_second():
    pacer = Pacer()
    assert pacer.hold_until(N, "a", 100.0) is None
    pacer.sent(N, "a", 100.0, 1)
    assert pacer.hold_until(M, "b", 100.2, 2) == 100.0 + MIN_GAP
    assert pacer.hold_until(M, "b", 101.0, 2) is None


def test_the_same_words_to_the_same_number_wait_ten_seconds():
    pacer = Pacer()
    pacer.sent(N, "ok", 100.0, 1)
    assert pacer.hold_until(N, "ok", 103.0, 2) == 100.0 + SAME_GAP
    assert pacer.hold_until(M, "ok", 103.0, 3) is None      # another number: only the 1 s rule
    assert pacer.hold_until(N, "ok!", 103.0, 4) is None     # other words
    assert pacer.hold_until(N, "ok", 110.0, 2) is None


def test_a_retry_of_the_same_text_is_not_a_second_text():
    pacer = Pacer()
    pacer.sent(N, "Sorry we missed you", 100.0, 7)
    assert pacer.hold_until(N, "Sorry we missed you", 105.0, 7) is None


def test_a_restart_remembers_what_went_lately():
    pacer = Pacer([(100.0, N, "ok", 1)])
    assert pacer.hold_until(N, "ok", 100.5, 2) == 110.0
