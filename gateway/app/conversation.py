"""What the daemon does with what happens: a call that ended, a text that came in, the day's chores.

Everything here decides and queues; the daemon's loop sends. Texts go through the outbox like every
text, so a restart never loses or doubles one (each has a dedupe key).
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from string import Template

from gateway import events as ev

log = logging.getLogger(__name__)

# Texts that may go to a number that opted out: the confirmation of that opt-out, and the answer
# to HELP (the person asked for it; CTIA's handbook wants HELP answered whatever the opt-in state).
CONSENT_KINDS = ("opt_out_confirm", "help_reply")
# 47 CFR 64.1200(a)(12): the one confirmation of an opt-out goes within five minutes, or not at all.
CONFIRM_WITHIN = 300.0
# What the consent keywords get back (CTIA: confirm an opt-out once; HELP names the sender).
REPLIES = {
    "opt_out_confirm": "$company: you are unsubscribed and will get no more texts from us. "
                       "Reply START to subscribe again.",
    "opt_in_confirm": "$company: you are subscribed again. Reply STOP to opt out.",
    "help_reply": "$company: we text back callers we missed. Call us on $business_phone. "
                  "Reply STOP to opt out.",
}
DIGEST_WINDOW = timedelta(hours=3)
REPEAT_WINDOW = 3600.0  # a second missed call within an hour is "calling again": tell the owner
OUTAGE = 30 * 60.0  # a heartbeat older than this at start-up is an outage worth telling the owner
# Calls recorded but never decided (a crash between the two commits) are decided at start-up if
# they ended this recently; older ones are left alone rather than texted hours late.
UNDECIDED_WINDOW = 6 * 3600.0


# The statuses a call from the owner's phone moves to "called back".
CALL_BACK_FROM = ("new", "texted", "replied")
# Phone and Pi clocks are taken to agree within 5 min (SMSGate's signing window assumes as much).
CLOCK_SKEW = 300.0


class Conversation:
    def __init__(self, config, store, clock, emit, counters) -> None:
        from gateway import render
        from gateway.app import policy

        self.config = config
        self.store = store
        self.clock = clock
        self.emit = emit
        self.counters = counters
        self.rules = policy.Rules(
            timezone=config.business.timezone, hours=config.hours,
            cooldown=config.policy.cooldown, delay=config.policy.delay,
            daily_cap=config.policy.daily_cap, blocklist=config.policy.blocklist,
            # The owner calling their own business line is not a lead.
            contacts=config.policy.contacts | {config.business.owner_phone} - {None},
            text_rejected=config.policy.text_rejected,
            text_unknown=config.policy.text_unknown, min_rings=config.policy.min_rings)
        self.templates = render.with_review(render.load_templates(config.templates_dir))

    # -- helpers ---------------------------------------------------------------------------------
    def e164(self, raw: str | None, type_: int | None = None) -> str | None:
        from gateway.numbers import normalize

        return normalize(raw, type_, self.config.business.region)

    def fields(self, number: str | None, lead: dict | None = None) -> dict[str, str]:
        from gateway.numbers import display

        business = self.config.business
        name = (lead or {}).get("name") or ""
        return {
            "company": business.name, "owner": business.owner,
            "business_phone": display(business.phone, business.region) if business.phone else "",
            "first_name": name.split()[0] if name else "",
            "caller": display(number, business.region) if number else "",
            "status": self.owner_status(),
            "review_link": self.config.review_url, "booking_link": self.config.booking_url,
        }

    def owner_status(self) -> str:
        until = self.store.get_state("owner_status_until")
        if until and float(until) <= self.clock.now():
            return ""
        return self.store.get_state("owner_status") or ""

    def queue(self, number: str, body: str, kind: str, key: str, *, call_id: int | None = None,
              send_at: float | None = None) -> int | None:
        from gateway.numbers import mask
        from gateway.render import unsendable

        now = self.clock.now()
        problem = unsendable(body)
        if problem:
            # (an empty template, or one whose fields are all empty: "$status" with no status)
            reason = f"the {kind} text cannot be sent: {problem}"
            log.error("no text to %s: %s", mask(number), reason)
            if call_id is not None:
                self.store.set_call_action(call_id, "failed", reason)
            self.emit("sms", to=number, text=body, status="failed", reason=reason, kind=kind)
            return None
        queued = self.store.queue_text(number=number, body=body, kind=kind, dedupe_key=key,
                                       send_at=now if send_at is None else send_at, now=now,
                                       call_id=call_id,
                                       to_lead=number != self.config.business.owner_phone)
        if queued is not None:
            log.info("queued a text (%s) to %s", kind, mask(number))
            self.emit(
                "queued", to=number, template=kind, send_at=now if send_at is None else send_at
            )
        return queued

    def tell_owner(self, body: str, key: str) -> None:
        import json

        owner = self.config.business.owner_phone
        if not (owner and self.config.owner.alerts):
            return
        if not self.config.owner.alerts_batch:
            self.queue(owner, body, "owner_alert", key)
            return
        # Quiet alerts: gathered in the store (a restart keeps them), sent as one text by chores().
        batch = json.loads(self.store.get_state("alert_batch") or "[]")
        if not batch:
            due = self.clock.now() + self.config.owner.alerts_batch
            self.store.set_state("alert_batch_due", f"{due:.0f}")
        self.store.set_state("alert_batch", json.dumps(batch + [body]))

    def send_alert_batch(self, now: float) -> None:
        import json

        due = self.store.get_state("alert_batch_due")
        batch = json.loads(self.store.get_state("alert_batch") or "[]")
        if not batch or due is None or float(due) > now:
            return
        self.queue(self.config.business.owner_phone, "\n".join(batch), "owner_alert",
                   f"batch|{due}")
        self.store.set_state("alert_batch", "[]")

    # -- calls -----------------------------------------------------------------------------------
    def call_ended(self, call: ev.CallEnded) -> None:
        from gateway.numbers import mask

        now = self.clock.now()
        number = self.e164(call.number, call.number_type)
        key = f"{call.started:.3f}|{number or call.number or 'withheld'}"
        call_id, created = self.store.record_call(call, number, key=key, now=now,
                                                  recovered=call.recovered)
        undecided = not created and self.store.call_action(call_id) == "recorded"
        if not (created or undecided):
            return  # recorded and decided before (the phone link's journal played after a restart)
        self.counters.calls += 1
        self.counters.missed += call.outcome == ev.MISSED
        log.info("call ended: %s from %s after %d ring(s), decided by %s", call.outcome,
                 mask(number or call.number), call.rings, call.how)
        shown = number or call.number  # a short code has no E.164 form but is still a number
        self.emit("call", at=call.ended, number=shown, outcome=call.outcome, how=call.how,
                  rings=call.rings, withheld=call.withheld,
                  **({"recovered": True} if call.recovered else {}))
        # Decide a new call, or one whose decision a store failure cut short (its event is retried).
        self.decide(call, call_id, number, key)

    def resume(self) -> None:
        """Decide calls a crash left recorded but undecided (killed between the two commits)."""
        from gateway.events import CallEnded

        for row in self.store.undecided_calls(self.clock.now() - UNDECIDED_WINDOW):
            call = CallEnded(0, row["raw_number"], None, row["withheld"], row["outcome"],
                             row["started"], row["ended"], row["rings"], row["how"],
                             recovered=row["recovered"])
            log.warning("deciding a call left undecided by a stop")
            self.decide(call, row["id"], row["number"], row["key"])

    def decide(self, call: ev.CallEnded, call_id: int, number: str | None, key: str) -> None:
        """Text back, or record why not. Safe to run again for the same call (dedupe key)."""
        from gateway.app import outbox, policy
        from gateway.numbers import is_short_code, mask

        now = self.clock.now()
        shown = number or call.number
        short = bool(call.number) and is_short_code(call.number or "", self.config.business.region)
        if number:
            facts = self.store.facts(number, now=now,
                                     day_start=policy.day_start(now, self.rules.timezone))
        else:
            facts = policy.Facts(opted_out=False, last_text_at=None, sent_today=0)
        decision = policy.decide(call, number, short_code=short, now=now, rules=self.rules,
                                 facts=facts)
        if not decision.send:
            reason = decision.reason or "skipped"
            self.store.set_call_action(call_id, "skipped", reason)
            self.counters.skipped += 1
            label = reason.split(" (")[0]
            self.counters.by_reason[label] = self.counters.by_reason.get(label, 0) + 1
            log.info("no text-back to %s: %s", mask(number or call.number), label)
            self.emit("sms", to=shown, text=None, status="skipped", reason=reason)
            if label == "cooldown" and number:
                self.repeat_caller(number, key)
            return
        assert number is not None and decision.template is not None  # a text-back has both
        lead = self.store.lead_by_number(number)
        body = self.render(decision.template, number, lead)
        self.queue(number, body, decision.template, outbox.dedupe_key("text_back", number, key),
                   call_id=call_id, send_at=decision.send_at)

    def missed_while_away(self, missed: ev.MissedList) -> None:
        """Text back calls that rang while the daemon was down (a restart, an update, a crash).

        The list has no times, so only entries that are new since the list was last read count:
        the first reading on a new box is taken as the starting point, never texted (its calls
        may be weeks old). A number we already saw ring in the last day is not recovered again.
        """
        import json

        numbers = [number for number, _ in missed.entries]
        before = self.store.get_state("missed_list")
        if before is not None:
            old = json.loads(before)
            # Newest first: the new entries are the ones before the old list (maybe cut at its end).
            fresh = next(i for i in range(len(numbers) + 1)
                         if numbers[i:] == old[:len(numbers) - i])
            now = self.clock.now()
            for number, type_ in reversed(missed.entries[:fresh]):
                e164 = self.e164(number, type_)
                if e164 and self.store.missed_calls_since(e164, now - 86400)[0]:
                    continue  # seen ringing by us, or recovered by a start a crash cut short
                self.call_ended(ev.CallEnded(0, number or None, type_, not number, ev.MISSED, now,
                                             now, 0, "missed-calls list", recovered=True))
        # Written last: a crash (a power cut) half way leaves the old list, so the next start
        # finds the same new entries and recovers what is not recorded yet (found by
        # deploy/image-test/powercut: a cut 0.3 s after start-up lost a recovered call).
        self.store.set_state("missed_list", json.dumps(numbers))

    def missed_in_log(self, found: ev.MissedLog) -> None:
        """Text back what the phone's call log shows missed (or rejected) while we were not
        listening: a restart, an update, a crash, the cable out.

        "Not listening" starts at the later of the last read of the log and the last heartbeat
        (written every 30 s while connected); calls older than UNDECIDED_WINDOW are left alone, as
        for undecided calls. The first reading on a new box is the starting point, never texted.
        A number we saw ring around that time was handled live. Each call goes the normal way
        (policy: outcome, cooldown, contacts, opt-outs), recorded as recovered.
        """
        before = self.store.get_state("call_log_seen")
        if before is not None:
            beat = self.store.get_state("heartbeat")
            since = max(float(before), float(beat or 0), self.clock.now() - UNDECIDED_WINDOW)
            for number, outcome, at in sorted(found.entries, key=lambda e: e[2]):
                if outcome == ev.PLACED:   # the owner's own call out
                    if at > since and number:
                        self.called_back(number, at,
                                         "you called them from the phone (its call log)")
                    continue
                if at <= since:
                    continue
                e164 = self.e164(number)
                if e164 and self.store.missed_calls_since(e164, at - CLOCK_SKEW)[0]:
                    continue  # seen ringing by us: already handled
                self.call_ended(ev.CallEnded(0, number or None, None, not number, outcome, at, at,
                                             0, "phone call log", recovered=True))
        # Written last: if the store fails half way the event is retried, and the keys of the
        # calls already recorded keep them from being texted twice.
        self.store.set_state("call_log_seen", f"{found.at:.3f}")

    def called_back(self, number: str, at: float, note: str) -> None:
        """The owner called a lead from the phone: the lead is "called back" and gets no
        follow-up text (follow-ups go to leads still "texted"; one already queued is refused
        when due). Only a lead not yet further on: a booked job stays booked."""
        from gateway.numbers import mask

        e164 = self.e164(number) or number
        lead = self.store.lead_by_number(e164)
        if lead is None or lead["status"] not in CALL_BACK_FROM:
            return
        self.store.set_lead_status(lead["id"], "called_back", note, max(at, 0.0))
        log.info("lead #%d called back by the owner (%s)", lead["id"], mask(e164))
        self.emit("lead_status", lead=lead["id"], status="called_back")

    def repeat_caller(self, number: str, key: str) -> None:
        """Calling again soon after a text-back means it is urgent: tell the owner, not the
        caller."""
        from gateway.app.owner_commands import repeat_alert
        from gateway.numbers import display

        now = self.clock.now()
        calls, first = self.store.missed_calls_since(number, now - REPEAT_WINDOW)
        if calls < 2 or first is None:
            return
        lead = self.store.lead_by_number(number) or {}
        who = lead.get("name") or display(number, self.config.business.region)
        self.tell_owner(repeat_alert(lead.get("id", 0), who, calls, max(1.0, (now - first) / 60)),
                        f"repeat|{key}")

    def render(self, template: str, number: str | None, lead: dict | None = None) -> str:
        from gateway import render

        return render.render(self.templates[template], self.fields(number, lead))

    # -- texts received --------------------------------------------------------------------------
    def text_received(self, sms: ev.SmsReceived) -> bool:
        """Record it, then act on it. True when it is safely recorded (the link may delete it)."""
        from gateway.app.keywords import read as read_consent
        from gateway.render import whole_text

        # Valid Unicode from here on, whatever the link gave (a phone app's JSON may carry a lone
        # surrogate): it is stored, hashed and relayed.
        sms = replace(sms, text=whole_text(sms.text))
        self.counters.received += 1
        if sms.push is not None:   # a WAP push (a picture message), never a text
            from gateway.app.mmsnotice import received

            return received(self, sms)
        number = self.e164(sms.number) or sms.number
        digest = hashlib.sha256(sms.text.encode()).hexdigest()[:16]
        key = f"in|{number}|{sms.sent_at or sms.at:.0f}|{digest}"
        if sms.attachments or sms.notice:  # a picture message: its own id names it
            key = f"in|{number}|{sms.handle[0] if sms.handle else key}"
        if number == self.config.business.owner_phone:
            if sms.attachments or sms.notice:  # the owner is no lead: a picture is not relayed
                log.info("a picture message from the owner's own phone is not relayed")
                if sms.notice or not sms.text.strip():
                    return True
            self.owner_command(sms.text, key)
            return True
        now = self.clock.now()
        kind = "mms_notice" if sms.notice else "mms" if sms.attachments else "reply"
        message_id, lead_id, created = self.store.record_inbound(
            number=number, body=sms.text, now=now, dedupe_key=key, kind=kind)
        labels = self.keep_attachments(sms, lead_id, message_id)
        if created:
            log.info("%s from lead #%d", "picture message" if labels else "picture message notice"
                     if sms.notice else "text received", lead_id)
            self.emit("inbound", **{"from": number, "text": sms.text, "lead": lead_id},
                      **({"attachments": labels} if labels else {}),
                      **({"notice": True} if sms.notice else {}))
        if sms.notice:
            # the picture itself follows (mms:downloaded); it is what the owner hears of
            return True
        # Acted on again when read again (a restart, or a store failure half way): every step
        # below is idempotent (dedupe keys, opt-out recorded once), so nothing is lost or doubled.
        consent = read_consent(sms.text)
        word = consent.kind if consent else None
        lead = self.store.lead(lead_id)
        if consent is not None and word == "stop":
            # any of the FCC's words or a plain-language opt-out; honoured at once, one
            # confirmation (a second STOP gets none), the owner told in their words.
            self.opt_out(number, lead_id, lead, message_id, consent.matched, sms.text, key)
        elif word == "start":
            self.store.record_opt_in(number, now=now, message_id=message_id)
            self.queue(
                number, self.render_reply("opt_in_confirm"), "opt_in_confirm", f"start|{key}"
            )
            self.emit("opt_in", number=number)
        elif word == "help":
            self.queue(number, self.render_reply("help_reply"), "help_reply", f"help|{key}")
        else:
            from gateway.app.owner_commands import alert, picture_alert
            from gateway.numbers import display

            who = (lead or {}).get("name") or display(number, self.config.business.region)
            body = (picture_alert(lead_id, who, labels, sms.text) if labels
                    else alert(lead_id, who, sms.text))
            self.tell_owner(body, f"alert|{key}")
        return True

    def keep_attachments(self, sms: ev.SmsReceived, lead_id: int, message_id: int) -> list[str]:
        """Each part of a picture message as a file beside the database (or the reason it is
        not one), recorded once; what each one is, for the owner ("photo", "photo (not kept)")."""
        from gateway.app import photos

        labels = []
        folder = photos.folder_for(self.store.path.absolute())  # `textback lead` may run elsewhere
        for part in sms.attachments:
            what = photos.label(part)
            if not self.store.has_attachment(message_id, part.part):
                path, problem = photos.keep(folder, lead_id, message_id, part)
                if path is None:
                    log.warning("a %s from lead #%d is not kept: %s", what, lead_id, problem)
                self.store.record_attachment(message_id, part=part.part,
                                             content_type=part.content_type, name=part.name,
                                             size=part.size, kind=what, path=path,
                                             problem=problem, now=self.clock.now())
            kept = self.store.attachment_path(message_id, part.part)
            labels.append(what if kept else f"{what} (not kept)")
        return labels

    def opt_out(self, number: str, lead_id: int, lead: dict | None, message_id: int,
                matched: str, text: str, key: str) -> None:
        """STOP, or words that mean it (app/keywords): recorded at once (lead_changes says which
        words), one confirmation, and the owner told, since plain words may carry more ("don't
        text me, call me after 5")."""
        from gateway.app.owner_commands import opt_out_alert
        from gateway.numbers import display

        fresh = self.store.record_opt_out(number, now=self.clock.now(), message_id=message_id,
                                          word=matched)
        if fresh:
            self.queue(number, self.render_reply("opt_out_confirm"), "opt_out_confirm",
                       f"stop|{key}")
            who = (lead or {}).get("name") or display(number, self.config.business.region)
            self.tell_owner(opt_out_alert(lead_id, who, text), f"optout|{key}")
        self.emit("opt_out", number=number, words=matched, **({} if fresh else {"again": True}))

    def render_reply(self, kind: str) -> str:
        return Template(REPLIES[kind]).safe_substitute(self.fields(None))

    def owner_command(self, text: str, key: str) -> None:
        """A text from the owner's own phone: relay to a lead, set a status, or mark a lead."""
        from gateway.app import owner_commands as owner

        now = self.clock.now()
        command = owner.parse(text)
        me = self.config.business.owner_phone
        if isinstance(command, owner.Relay):
            lead = self.store.lead(command.lead_id)
            if lead is None:
                self.queue(
                    me, f"No lead #{command.lead_id}. {owner.USAGE}", "owner_reply", f"re|{key}"
                )
            elif self.store.is_opted_out(lead["number"]):
                self.queue(me, f"#{command.lead_id} opted out (STOP): not sent.", "owner_reply",
                           f"re|{key}")
            else:
                self.queue(lead["number"], command.text, "relay", f"relay|{key}")
                self.emit("relay", lead=command.lead_id)
        elif isinstance(command, owner.SetStatus):
            if self.store.lead(command.lead_id) is None:
                self.queue(me, f"No lead #{command.lead_id}.", "owner_reply", f"re|{key}")
            elif command.status == "done":   # the finished job, and its review request
                said = self.job_done(command.lead_id, "by text from the owner")
                self.queue(me, said, "owner_reply", f"re|{key}")
            else:
                self.store.set_lead_status(
                    command.lead_id, command.status, "by text from the owner", now
                )
                self.emit("lead_status", lead=command.lead_id, status=command.status)
        elif isinstance(command, owner.Status) and len(command.text) > owner.MAX_STATUS:
            # It goes into every text-back that uses $status: a page of it would cost many texts.
            self.queue(me, f"Status not set: {len(command.text)} characters, at most "
                           f"{owner.MAX_STATUS}.", "owner_reply", f"re|{key}")
        elif isinstance(command, owner.Status):
            until = owner.status_expiry(now, command.until, self.config.business.timezone,
                                        bare=command.bare)
            self.store.set_state("owner_status", command.text)
            self.store.set_state("owner_status_until", f"{until:.0f}")
            self.emit("owner_status", status=command.text, until=until)
        else:
            self.queue(me, owner.USAGE, "owner_reply", f"re|{key}")

    def job_done(self, lead_id: int, note: str | None) -> str:
        """The job is done (`textback done 12`, `#12 done`): the lead marked done, and, with a
        review link set, one review request queued for now, or for 08:00 in quiet hours
        (gateway.app.reviews). Every finished job is asked the same way. Returns what happened, in a
        sentence for the owner."""
        from gateway.app import reviews
        from gateway.numbers import display

        now = self.clock.now()
        lead = self.store.lead(lead_id)
        number = lead["number"]
        who = f"#{lead_id} {lead.get('name') or display(number, self.config.business.region)}"
        first = lead["status"] != "done"
        if first:
            self.store.set_lead_status(lead_id, "done", note, now)
            self.emit("lead_status", lead=lead_id, status="done")
        why = reviews.why_not(url=self.config.review_url, opted_out=self.store.is_opted_out(number),
                              asked=self.store.has_outbox_key(reviews.key(lead_id)))
        head = f"{who} is done" if first else f"{who} was done already"
        if why:
            return f"{head}; no review request: {why}."
        send_at = reviews.not_before(now, self.config.business.timezone)
        self.queue(number, self.render(reviews.KIND, number, lead), reviews.KIND,
                   reviews.key(lead_id), send_at=send_at)
        self.emit("review_request", lead=lead_id, send_at=send_at)
        if send_at <= now:
            return f"{head}; the review request goes out now."
        at = datetime.fromtimestamp(send_at, self.config.business.timezone)
        return f"{head}; the review request goes out at {at:%H:%M} (not at night)."

    # -- sending checks and chores ---------------------------------------------------------------
    def refusal(self, item) -> str | None:
        """Why a due text must not go after all (checked at send time, after every change)."""
        from gateway.clock import epoch
        from gateway.render import unsendable

        problem = unsendable(item.body)
        if problem:
            return f"cannot be sent: {problem}"
        if item.kind == "opt_out_confirm" and item.queued_at and \
                self.clock.now() - epoch(item.queued_at) > CONFIRM_WITHIN:
            return "too late to confirm the opt-out (47 CFR 64.1200(a)(12): within 5 minutes)"
        if item.kind in CONSENT_KINDS or item.number == self.config.business.owner_phone:
            return None
        if self.store.is_opted_out(item.number):
            return "opted out"
        if item.kind == "follow_up":   # the owner called them back, or they answered, meanwhile
            lead = self.store.lead_by_number(item.number)
            if lead is not None and lead["status"] != "texted":
                return f"no follow-up: the lead is {lead['status'].replace('_', ' ')} now"
        return None

    def hold(self, item, now: float) -> float | None:
        """When a due text must wait (None: it may go now). A review request never goes in quiet
        hours: it waits for the morning (gateway.app.reviews)."""
        if item.kind == "review":
            from gateway.app.reviews import not_before

            later = not_before(now, self.config.business.timezone)
            return later if later > now else None
        return None

    def connected(self, info) -> None:
        """Tell the owner when textback comes back after a long outage, and when it first runs
        with a new config (the box has just been provisioned)."""
        from gateway.numbers import display

        owner = self.config.business.owner_phone
        now = self.clock.now()
        beat = self.store.get_state("heartbeat")
        version = self.config.stamp
        if not owner:
            return
        if beat and now - float(beat) > OUTAGE:
            self.queue(owner, f"textback was offline {_span(now - float(beat))} and is back now.",
                       "owner_notice", f"back|{float(beat):.0f}")
        if self.store.get_state("live_config") != version:
            number = self.config.business.phone
            on = display(number, self.config.business.region) if number else info.model
            self.queue(owner, f"textback is live on {on}: missed calls get a text back.",
                       "owner_notice", f"live|{version}")
            self.store.set_state("live_config", version)

    def chores(self, now: float) -> None:
        if self.config.owner.alerts_batch:
            self.send_alert_batch(now)
        if self.config.owner.follow_up:
            self.follow_ups(now)
        if self.config.owner.digest and self.config.business.owner_phone:
            self.digest(now)

    def follow_ups(self, now: float) -> None:
        from gateway.app import followup

        rules = followup.rules_for(self.config, self.config.owner.follow_up_after)
        if not followup.due_ok(now, rules):
            return
        for lead_id, number, texted_at in self.store.follow_up_candidates(now - 7 * 86400):
            if followup.follow_up_at(texted_at, rules=rules) <= now:
                lead = self.store.lead(lead_id)
                self.queue(number, self.render("follow_up", number, lead), "follow_up",
                           f"follow_up|{lead_id}|{texted_at:.0f}")

    def digest(self, now: float) -> None:
        from gateway.app.owner_commands import digest
        from gateway.numbers import display

        tz = self.config.business.timezone
        local = datetime.fromtimestamp(now, tz)
        today = local.date().isoformat()
        opens = datetime.combine(local.date(), self.config.owner.digest_at, tz)
        # A morning text: if the box was off all morning, that day's digest is skipped, not sent at
        # supper time.
        if (
            not opens <= local < opens + DIGEST_WINDOW
            or self.store.get_state("digest_day") == today
        ):
            return
        midnight = datetime.combine(local.date(), datetime.min.time(), tz)
        figures = self.store.day_summary((midnight - timedelta(days=1)).timestamp(),
                                         midnight.timestamp())
        region = self.config.business.region
        waiting = [(lead_id, display(who, region) if who.startswith("+") else who)
                   for lead_id, who in figures["waiting"]]
        body = digest(figures["missed"], figures["texted"], waiting,
                      figures["unanswered"], day=(local - timedelta(days=1)).date())
        self.queue(self.config.business.owner_phone, body, "digest", f"digest|{today}")
        self.store.set_state("digest_day", today)


def _span(seconds: float) -> str:
    """2h10m, 45m, 3d4h: an outage's length for a text."""
    minutes = int(seconds // 60)
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return f"{days}d{hours}h"
    return f"{hours}h{mins:02d}m" if hours else f"{mins}m"
