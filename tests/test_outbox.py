"""gateway.app.outbox: which +CMS ERRORs retry, the backoff ladder, dedupe keys."""
import pytest

from gateway.app.outbox import MAX_ATTEMPTS, backoff, dedupe_key
from gateway.at.cms import classify_cms


@pytest.mark.parametrize("code, expected", [
    # Seen in the field (docs/reference/modems.md, "Sending a text"): network or modem trouble, worth waiting for.
    (38, "retry"), (41, "retry"), (42, "retry"), (47, "retry"),
    (500, "retry"), (512, "retry"), (513, "retry"), (514, "retry"), (515, "retry"), (350, "retry"),
    (None, "retry"),                     # plain ERROR or a timeout: nothing says it is final
    (27, "retry"),                       # destination out of order: the phone is off, for now
    (111, "retry"), (127, "retry"),      # unspecified: bounded retry is cheap
    (320, "retry"), (322, "retry"),      # storage state
    (331, "retry"), (332, "retry"),      # no network service, network timeout
    (9999, "retry"),                     # a code nobody documented
    # The number, our subscription or our PDU: the same bytes would fail the same way.
    (1, "permanent"), (8, "permanent"), (10, "permanent"), (21, "permanent"), (28, "permanent"),
    (29, "permanent"), (30, "permanent"), (50, "permanent"), (96, "permanent"),
    (304, "permanent"), (305, "permanent"), (321, "permanent"), (330, "permanent"),
])
def test_classify_cms(code, expected):
    assert classify_cms(code) == expected


def test_backoff_ladder():
    assert [backoff(n) for n in range(1, MAX_ATTEMPTS + 2)] == \
        [5.0, 15.0, 45.0, 120.0, 300.0, 300.0, 300.0, 300.0, 300.0]


def test_retries_give_up_within_half_an_hour():
    # The daemon retries after failed attempts 1 .. MAX_ATTEMPTS - 1, then marks the text failed.
    assert sum(backoff(n) for n in range(1, MAX_ATTEMPTS)) == 1085.0


@pytest.mark.parametrize("attempt", [0, -1])
def test_backoff_counts_from_one(attempt):
    with pytest.raises(ValueError, match="counts from 1"):
        backoff(attempt)


@pytest.mark.parametrize("args, expected", [
    (("text_back", "+15125550142", "1800000000.000|+15125550142"),
     "text_back:+15125550142:1800000000.000|+15125550142"),
    (("follow_up", "+15125550142", "1800000000.000|+15125550142"),
     "follow_up:+15125550142:1800000000.000|+15125550142"),
    (("text_back", "+447700900123", "k"), "text_back:+447700900123:k"),
])
def test_dedupe_key(args, expected):
    assert dedupe_key(*args) == expected


@pytest.mark.parametrize("args, missing", [
    (("", "+15125550142", "k"), "kind"),
    (("text_back", "", "k"), "number"),
    (("text_back", "+15125550142", ""), "call_key"),
])
def test_dedupe_key_needs_every_part(args, missing):
    with pytest.raises(ValueError, match=f"non-empty {missing}"):
        dedupe_key(*args)
