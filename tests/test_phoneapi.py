"""What the phone apps say, in our terms (gateway/phone/api.py): dates, names, health, pictures."""
import base64

import pytest

from gateway.phone.api import Problem, app_date, attachments, health_problems, human, mms_inbox_id, text_key
from gateway.simulator import phoneapps as fakeapps


@pytest.mark.parametrize("t, text", [
    (1800000000.0, "2027-01-15T08:00:00.000Z"),
    (1800000000.1867, "2027-01-15T08:00:00.186Z"),     # milliseconds, never microseconds
])
def test_app_date_is_what_smsgate_parses(t, text):
    assert app_date(t) == text
    assert fakeapps.parse_date(text) == pytest.approx(int(t * 1000) / 1000)


@pytest.mark.parametrize("sender, ms, text", [
    ("+15125550142", 1800000000000, "hello"),
    ("+15125550177", 1800000000123, "Yes 🚰 please"),   # UTF-16 code units, as Java counts
])
def test_the_webhooks_hex_id_and_the_inboxs_decimal_id_name_one_text(sender, ms, text):
    h = fakeapps.text_hash(sender, ms, 1, text)
    inbox, webhook = fakeapps.inbox_id("text:", h), fakeapps.webhook_message_id(h)
    assert text_key(webhook) == text_key(inbox) == inbox


def test_a_picture_is_named_in_the_inbox_by_the_hash_of_its_message_id():
    assert mms_inbox_id("101") == "mms:48626"     # "101".hashCode() in Java is 48626


def test_health_problems_in_plain_words():
    body = {"status": "fail", "checks": {
        "battery:level": {"status": "warn", "observedValue": 18},
        "connection:status": {"status": "fail", "observedValue": 0},
        "messages:failed": {"status": "pass", "observedValue": 0},
        "something:new": {"status": "fail", "description": "A check of a later version"}}}
    assert [(p.check, p.words, p.failing) for p in health_problems(body)] == [
        ("connection:status", "the phone has no internet", True),
        ("something:new", "the phone's check something:new fails (A check of a later version)",
         True),
        ("battery:level", "the phone's battery is low (18 %)", False)]
    assert health_problems({"status": "pass"}) == [] and health_problems("oops") == []
    assert isinstance(health_problems(body)[0], Problem)


def test_attachments_decoded_or_recorded_with_why_not():
    jpeg = b"\xff\xd8\xff" + b"\x00" * 20
    payload = {"attachments": [
        {"partId": 1, "contentType": "image/jpeg", "name": "a.jpg",
         "data": base64.b64encode(jpeg).decode()},
        {"partId": 2, "contentType": "image/png", "data": None, "size": 900},
        {"partId": 3, "contentType": "image/jpeg", "data": "not base64!"},
        {"partId": 4, "contentType": "video/mp4", "data": base64.b64encode(b"x" * 100).decode()},
        "garbage"]}
    got = attachments(payload, max_bytes=50)
    assert [(a.part, a.data, a.problem) for a in got] == [
        ("1", jpeg, None), ("2", None, "the phone sent no data for it"),
        ("3", None, "its data is not valid Base64"),
        ("4", None, "too big to keep (100 bytes, over the 50 bytes limit)")]


@pytest.mark.parametrize("size, text", [(999, "999 bytes"), (12_345, "12 kB"), (5_200_000, "5.2 MB")])
def test_human_sizes(size, text):
    assert human(size) == text
