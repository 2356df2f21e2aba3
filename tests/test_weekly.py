"""`textback stats` per week, on a real SQLite file: missed, texted, replied (rate),
booked (rate, done counting as booked), median hang-up to text, review requests."""
from datetime import datetime
from zoneinfo import ZoneInfo

from gateway.app import reports
from gateway.app.store import Store
from gateway.events import CallEnded

TZ = ZoneInfo("America/Chicago")


def at(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def call(store, i, stamp, *, texted_after=None, answered=False):
    t = at(stamp)
    number = f"+1512555030{i}"
    ended = CallEnded(0, number, 145, False, "answered" if answered else "missed", t - 9, t, 2,
                      "NO CARRIER")
    call_id, _ = store.record_call(ended, number, key=f"k{i}", now=t)
    if texted_after is not None:
        box = store.queue_text(number=number, body="Sorry", kind="missed_call", dedupe_key=f"t{i}",
                               send_at=t, now=t, call_id=call_id)
        store.mark_sending(box, t)
        store.mark_sent(box, i, t + texted_after)
    return store.lead_by_number(number)


def test_weeks(tmp_path):
    store = Store(tmp_path / "t.db")
    # Week of Nov 16: two missed, both texted (2 s, 4 s); one replied and is done (reviewed).
    a = call(store, 1, "2026-11-17T10:00:00-06:00", texted_after=2.0)
    call(store, 2, "2026-11-18T10:00:00-06:00", texted_after=4.0)
    store.record_inbound(number=a["number"], body="yes please", now=at("2026-11-17T10:05:00-06:00"),
                         dedupe_key="in1")
    store.set_lead_status(a["id"], "done", None, at("2026-11-19T15:00:00-06:00"))
    box = store.queue_text(number=a["number"], body="review?", kind="review", dedupe_key="review|1",
                           send_at=at("2026-11-19T15:00:00-06:00"), now=at("2026-11-19T15:00:00-06:00"))
    store.mark_sending(box, 0)
    store.mark_sent(box, 9, at("2026-11-19T15:00:01-06:00"))
    # Week of Nov 23: one missed not texted, one answered (not counted), one booked.
    call(store, 3, "2026-11-23T00:30:00-06:00")
    call(store, 4, "2026-11-24T10:00:00-06:00", answered=True)
    c = call(store, 5, "2026-11-24T11:00:00-06:00", texted_after=1.0)
    store.set_lead_status(c["id"], "booked", None, at("2026-11-24T12:00:00-06:00"))
    figures = reports.stats(store, now=at("2026-11-25T09:00:00-06:00"), days=10, tz=TZ)
    store.close()
    assert figures["reviews"] == 1
    assert figures["booked"] == 2          # done counts as booked
    assert figures["per_week"] == [
        {"week": "2026-11-16", "to": "2026-11-22", "missed": 2, "texted": 2, "replied": 1,
         "reply_rate": 0.5, "booked": 1, "booked_rate": 0.5, "median_seconds": 3.0, "reviews": 1},
        {"week": "2026-11-23", "to": "2026-11-29", "missed": 2, "texted": 1, "replied": 0,
         "reply_rate": 0.0, "booked": 1, "booked_rate": 0.5, "median_seconds": 1.0, "reviews": 0}]
