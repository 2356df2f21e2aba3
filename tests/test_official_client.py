"""A second witness: SMSGate's own Python client (`android-sms-gateway` on PyPI, its authors')
against the fake. Where the client and the fake agree, the fake speaks the app's API as its
makers' client expects it; where they disagree, the test says who is right by the app's source.
"""
from datetime import datetime, timezone

import pytest

asg = pytest.importorskip("android_sms_gateway")
from android_sms_gateway import errors  # noqa: E402

from gateway.simulator.phone import FakeGateway  # noqa: E402

N = "+15125550142"


@pytest.fixture
def gw():
    with FakeGateway(retry_scale=0.002) as fake:
        yield fake


@pytest.fixture
def client(gw):
    user, password = gw.passwords["sms"]
    with asg.APIClient(user, password, base_url=gw.url_sms) as api:
        yield api


def test_send_and_follow_a_text(gw, client):
    sent = client.send(asg.Message(phone_numbers=[N], text_message=asg.TextMessage(text="hi"),
                                   id="w-1"))
    assert (sent.id, sent.state.value, [r.phone_number for r in sent.recipients]) == (
        "w-1", "Pending", [N])
    assert gw.wait_until(lambda: gw.messages["w-1"]["recipients"][0]["state"] == "Delivered")
    state = client.get_state("w-1")
    assert (state.state.value, sorted(state.states)) == (
        "Delivered", ["Delivered", "Pending", "Processed", "Sent"])


def test_a_known_id_is_a_409_for_the_client_too(gw, client):
    message = asg.Message(phone_numbers=[N], text_message=asg.TextMessage(text="hi"), id="w-2")
    client.send(message)
    with pytest.raises(errors.APIError) as raised:
        client.send(message)
    assert (raised.value.status_code, raised.value.response) == (
        409, {"message": "Message with the same ID already exists"})


def test_webhooks_register_list_and_delete(gw, client):
    made = client.create_webhook(asg.Webhook(id=None, url="https://pi.example/hook",
                                             event=asg.WebhookEvent.SMS_RECEIVED))
    assert [(w.id, w.url, w.event) for w in client.get_webhooks()] == [
        (made.id, "https://pi.example/hook", asg.WebhookEvent.SMS_RECEIVED)]
    with pytest.raises(errors.BadRequestError) as raised:
        client.create_webhook(asg.Webhook(id="lan", url="http://192.168.1.10/hook",
                                          event=asg.WebhookEvent.SMS_RECEIVED))
    assert raised.value.response == {"message": "url must start with https:// or http://127.0.0.1"}
    client.delete_webhook(made.id)
    assert client.get_webhooks() == []


def test_health_pass_and_a_failing_check(gw, client):
    health = client.health_check()
    assert (health.status.value, health.checks["battery:level"].observed_value) == ("pass", 94)
    gw.battery = 5
    with pytest.raises(errors.InternalServerError) as raised:   # the app answers 500
        client.health_check()
    body = raised.value.response
    assert (body["status"], body["checks"]["battery:level"]["status"]) == ("fail", "fail")


def test_the_inbox_reads_with_whole_seconds_and_refuses_microseconds(gw, client):
    # The client writes dates with datetime.isoformat(): fine for a whole second in UTC, but a
    # datetime with microseconds comes out as ...:00.123456+00:00, which the app's
    # DateTimeParser refuses; the fake refuses it the same way (the client is wrong here).
    gw.receive_sms(N, "inbox", at=1_800_000_000.0)
    found = client.list_inbox_messages(inbox_filter=asg.InboxQueryFilter(
        message_type="SMS", from_=datetime(2027, 1, 15, 7, 59, tzinfo=timezone.utc),
        to=datetime(2027, 1, 15, 8, 1, tzinfo=timezone.utc)))
    assert [(m.sender, m.content_preview) for m in found] == [(N, "inbox")]
    with pytest.raises(errors.BadRequestError) as raised:
        client.list_inbox_messages(inbox_filter=asg.InboxQueryFilter(
            from_=datetime(2027, 1, 15, 7, 59, 0, 123456, tzinfo=timezone.utc)))
    assert raised.value.response == {"message": "Invalid from datetime"}


def test_a_picture_is_downloaded_by_its_inbox_id(gw, client):
    jpeg = b"\xff\xd8\xff\xe0" + b"\x01" * 40
    item = gw.receive_mms(N, [{"contentType": "image/jpeg", "data": jpeg, "name": "a.jpg"}],
                          at=1_800_000_000.0)
    later = datetime(2030, 1, 1, tzinfo=timezone.utc)
    # The client writes include_attachments as "True" (str of a Python bool); the app reads it
    # with Kotlin's toBooleanStrictOrNull, which knows only "true" and "false": refused, by the
    # app and so by the fake. Without it the list comes, and the part is asked for by its id.
    with pytest.raises(errors.BadRequestError) as raised:
        client.list_inbox_messages(inbox_filter=asg.InboxQueryFilter(
            message_type="MMS_DOWNLOADED", include_attachments=True, to=later))
    assert raised.value.response == {"message": "includeAttachments must be true or false"}
    (message,) = client.list_inbox_messages(inbox_filter=asg.InboxQueryFilter(
        message_type="MMS_DOWNLOADED", to=later))
    (part,) = [a["partId"] for i in gw.inbox if i["id"] == item for a in i["stored"]]
    assert (message.id, client.download_attachment(item, part)) == (item, jpeg)
