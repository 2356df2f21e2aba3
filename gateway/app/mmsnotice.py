"""A picture message that reached the modem as a notification: what textback does.

The modem path cannot fetch an MMS (gateway.at.wap says why), so the picture stays with the carrier.
What can be done is said: the lead's timeline gets "sent a picture message", the owner a text
"#12 ... sent a picture textback can't open: ask them to text it to your cell". Nothing is passed
on as text, and nothing goes unrecorded:
- a notification naming a sender: recorded on that sender's lead (a new lead if need be), the
  owner told once (the key is the notification's own transaction id);
- a sender who hid the number, or none named: no lead to put it on; the owner is told, and the
  reason is kept where `textback status` shows skipped inputs;
- a push that is not a picture (an operator's settings or link), or one that cannot be read:
  recorded there with its reason; the owner is told only when it was a picture message.
The phone path has its own pictures (gateway.phone.link: the phone downloads them).
"""
from __future__ import annotations

import hashlib
import logging

log = logging.getLogger(__name__)

UNOPENED = "mms_unopened"   # messages.kind of a picture message textback could not open
ALERT = "sent a picture textback can't open: ask them to text it to your cell"


def describe(push) -> str:
    """What the lead's timeline says: "sent a picture message (29.7 kB): Leak under sink"."""
    from gateway.render import human

    size = f" ({human(push.size)})" if isinstance(push.size, int) and push.size > 0 else ""
    subject = f': "{push.subject.strip()}"' if push.subject and push.subject.strip() else ""
    return f"sent a picture message{size}{subject}; textback can't open it"


def received(talk, sms) -> bool:
    """Record and act on a WAP push the modem got (`sms.push`). True: recorded (the SIM may let
    it go)."""
    from gateway.numbers import display, mask

    push = sms.push
    problem = push.problem
    if problem is None and sms.incomplete:
        problem = "a part of it never came"
    if problem is not None or not push.sender:
        why = problem or "it names no sender"
        if push.hidden and problem is None:
            why = "the sender hid their number"
        talk.store.count_skipped({"event": "picture message" if push.is_mms else "WAP push",
                                  "reason": why, "from": sms.number}, talk.clock.now())
        log.warning("a %s from %s was not taken: %s", "picture message" if push.is_mms else
                    "WAP push", mask(sms.number), why)
        talk.emit("push", **{"from": sms.number, "content_type": push.content_type,
                             "problem": why})
        if push.is_mms:
            talk.tell_owner(f"A picture message came that textback can't open ({why}); if you "
                            f"expect one, ask them to text it to your cell.",
                            f"mms|{sms.number}|{_name(sms, push)}")
        return True
    number = talk.e164(push.sender) or push.sender
    body = describe(push)
    message_id, lead_id, created = talk.store.record_inbound(
        number=number, body=body, now=talk.clock.now(), dedupe_key=f"in|{number}|mms|"
        f"{_name(sms, push)}", kind=UNOPENED)
    if created:
        log.info("picture message (not opened) from lead #%d", lead_id)
        talk.emit("inbound", **{"from": number, "text": body, "lead": lead_id, "picture": True})
        lead = talk.store.lead(lead_id) or {}
        if number == talk.config.business.owner_phone:
            return True   # the owner is no lead
        who = lead.get("name") or display(number, talk.config.business.region)
        talk.tell_owner(f"#{lead_id} {who} {ALERT}", f"alert|mms|{lead_id}|{_name(sms, push)}")
    return True


def _name(sms, push) -> str:
    """What names this notification for good: its transaction id, else its location, else a
    digest of what it holds (a re-read after a restart gives the same)."""
    if push.transaction:
        return push.transaction[:100]
    seed = f"{push.location}|{push.sender}|{sms.sent_at}"
    return hashlib.sha256(seed.encode()).hexdigest()[:16]
