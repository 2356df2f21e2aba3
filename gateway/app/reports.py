"""What the owner reads: leads filtered, one lead's timeline, calls, stats, the daemon's health,
export.

Read-side queries for people; each function takes a Store, or the plain read-only connection of
`glance` (writes stay in store.py, as verbs). SQL lives here and in store.py only. Rows come back
as stored (times ISO-8601 UTC text), ready for a table or for JSON.
"""
from __future__ import annotations

import re
import sqlite3
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from gateway.render import span

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from gateway.app.store import Store

# gateway.app.store (and sqlite_utils behind it) is imported inside the functions that need it:
# `textback leads` reads through `glance` and must start as fast as a bare click command.

# The daemon writes state "heartbeat" every 30 s (gateway/app/daemon.py HEARTBEAT_EVERY): three
# missed beats mean it is not running.
HEARTBEAT_STALE = 90.0
# The modem's signal and registration are asked every 5 minutes (gateway/at/link.py
# HEALTH_EVERY): facts older than three asks are not "now" any more.
HEALTH_STALE = 900.0
# A text still queued this long after it was due means the sender is stuck (no modem, no signal).
QUEUE_STUCK = 600.0
# Failed texts this recent need the owner's eye (older ones were seen in yesterday's status).
FAILED_WINDOW = 86400.0


# Seconds a quick read waits for the daemon's write to finish (the Store waits as long).
GLANCE_TIMEOUT = 5.0


class Glance(SimpleNamespace):
    """A plain read-only sqlite3 connection (`db`) and its `path`: what the reports need."""

    def get_state(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None


@contextmanager
def glance(path: Path):
    """The lead database opened read-only (gateway.app.store.read_only: nothing created, migrated or
    written; someone else's file refused), on a plain sqlite3 connection with no sqlite_utils:
    what `textback leads` needs to start fast. SQLite errors while reading become StoreError."""
    from gateway.app.dbfile import explain, read_only

    conn = read_only(path, GLANCE_TIMEOUT)
    try:
        yield Glance(path=Path(path), db=conn)
    except sqlite3.Error as exc:
        raise explain(exc, Path(path)) from exc
    finally:
        conn.close()


def zone(store):
    """The business's time zone as the daemon last recorded it; this machine's when none is."""
    key = store.get_state("timezone")
    if key:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            return ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return datetime.now().astimezone().tzinfo


def _fold(text: str | None) -> str | None:
    return text.casefold() if isinstance(text, str) else text


def _like(text: str) -> str:
    return "%" + re.sub(r"([\\%_])", r"\\\1", text) + "%"


def leads(store: Store, *, status: str | None = None, since: float | None = None,
          search: str | None = None, limit: int = 50) -> list[dict]:
    """Newest activity first, with `preview` (the latest message, in or out), filtered. `status`
    is one of gateway.app.store LEAD_STATUSES (the CLI reads the owner's words for it)."""
    where, params = [], []
    # Consent is not a job status: a lead booked after their STOP is booked and opted out.
    opted = "EXISTS (SELECT 1 FROM opt_outs o WHERE o.number = l.number)"
    if status == "opted_out":
        where.append(f"(l.status = ? OR {opted})")
        params.append(status)
    elif status is not None:
        where.append("l.status = ?")
        params.append(status)
    if since is not None:
        from gateway.clock import iso

        where.append("l.last_activity_at >= ?")
        params.append(iso(since))
    if search:
        # Digits typed as the owner sees them ("555-0142") match the stored E.164 "+15125550142".
        digits = "".join(ch for ch in search if ch.isdigit())
        number_like = _like(digits) if digits and re.fullmatch(r"[\d\s()+.-]+", search) \
            else _like(search)
        # SQLite's LIKE folds ASCII only ("ZOË" missed "Zoë"): both sides folded by Python's
        # casefold (Unicode full case folding), a function on this connection only.
        conn: sqlite3.Connection = getattr(store.db, "conn", store.db)  # type: ignore[arg-type]
        conn.create_function("textback_fold", 1, _fold, deterministic=True)
        where.append(
            "(textback_fold(l.name) LIKE ? ESCAPE '\\' OR l.number LIKE ? ESCAPE '\\' OR "
            "EXISTS (SELECT 1 FROM messages s WHERE s.lead_id = l.id AND "
            "textback_fold(s.body) LIKE ? ESCAPE '\\'))"
        )
        folded = _like(search.casefold())
        params += [folded, number_like, folded]
    sql = ("SELECT l.*, (SELECT body FROM messages m WHERE m.lead_id = l.id "
           f"ORDER BY m.created_at DESC, m.id DESC LIMIT 1) AS preview, {opted} AS opted_out "
           "FROM leads l "
           + (f"WHERE {' AND '.join(where)} " if where else "")
           + "ORDER BY l.last_activity_at DESC, l.id DESC LIMIT ?")
    return [{**row, "opted_out": bool(row["opted_out"])}
            for row in _rows(store, sql, (*params, limit))]


def _rows(store: Store, sql: str, params=()) -> list[dict]:
    cursor = store.db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def calls(store: Store, *, since: float | None = None, limit: int = 50) -> list[dict]:
    """Newest first; withheld and recovered as booleans; `action` says texted / skipped
    (`reason`)."""
    from gateway.clock import iso

    rows = _rows(
        store,
        "SELECT * FROM calls "
        + ("WHERE ended_at >= ? " if since is not None else "")
        + "ORDER BY ended_at DESC, id DESC LIMIT ?",
        (*([iso(since)] if since is not None else []), limit),
    )
    return [{**row, "withheld": bool(row["withheld"]), "recovered": bool(row["recovered"])}
            for row in rows]


# Events at the same instant read in the order they happen: the call, then the text it caused.
_ORDER = {"call": 0, "text_out": 1, "text_in": 1, "opt_out": 2, "status": 3, "name": 3}


def timeline(store: Store, lead_id: int) -> list[dict]:
    """Everything that happened with one lead, oldest first: calls, texts out and in, the owner's
    changes (status with note, name), the opt-out."""
    events = [{"at": r["ended_at"], "event": "call", "outcome": r["outcome"], "how": r["how"],
               "rings": r["rings"], "action": r["action"], "reason": r["reason"]}
              for r in _rows(store, "SELECT * FROM calls WHERE lead_id = ?", (lead_id,))]
    parts: dict[int, list] = {}
    for a in _rows(store, "SELECT a.message_id, a.kind, a.content_type, a.name, a.size, a.path, "
                   "a.problem FROM attachments a JOIN messages m ON m.id = a.message_id "
                   "WHERE m.lead_id = ? ORDER BY a.id", (lead_id,)):
        parts.setdefault(a.pop("message_id"), []).append(a)
    for r in _rows(store, "SELECT m.*, o.status AS sent_status, o.sent_at, o.last_error "
                   "FROM messages m LEFT JOIN outbox o ON o.message_id = m.id WHERE m.lead_id = ?",
                   (lead_id,)):
        if r["direction"] == "in":
            events.append({"at": r["created_at"], "event": "text_in", "kind": r["kind"],
                           "body": r["body"],
                           **({"attachments": parts[r["id"]]} if r["id"] in parts else {})})
        else:
            events.append({"at": r["created_at"], "event": "text_out", "kind": r["kind"],
                           "body": r["body"], "status": r["sent_status"], "sent_at": r["sent_at"],
                           "error": r["last_error"]})
    events += [{"at": r["changed_at"], "event": r["field"], "old": r["old"], "new": r["new"],
                "note": r["note"]}
               for r in _rows(store, "SELECT * FROM lead_changes WHERE lead_id = ?", (lead_id,))]
    events += [{"at": r["opted_out_at"], "event": "opt_out"}
               for r in _rows(store, "SELECT o.opted_out_at FROM opt_outs o JOIN leads l "
                              "ON l.number = o.number WHERE l.id = ?", (lead_id,))]
    return sorted(events, key=lambda e: (e["at"], _ORDER[e["event"]]))


def stats(store: Store, *, now: float, days: int, tz: ZoneInfo) -> dict:
    """The last `days` days (today included, business time): missed calls, texted, time from
    hang-up to text sent (median, worst), reply and booked rates, opt-outs, and per-day counts."""
    import statistics
    from bisect import bisect_right

    from gateway.clock import iso

    today = datetime.fromtimestamp(now, tz).date()
    first = today - timedelta(days=days - 1)
    day_list = [first + timedelta(days=i) for i in range(days)]
    # Each day's start as stored text (UTC, sortable): a call's day is found by comparing text,
    # with no date parsing per row (a year is 18,000 rows; the owner waits on this on a Pi).
    starts = [iso(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp()) for d in day_list]
    rows = _missed_calls(store, starts[0])
    per_day = [[0, 0] for _ in day_list]
    delays, leads, texted_leads = [], set(), set()
    for ended, lead_id, delay in rows:
        slot = bisect_right(starts, ended) - 1
        per_day[slot][0] += 1
        if lead_id is not None:
            leads.add(lead_id)
        if delay is not None:
            delays.append(delay)
            texted_leads.add(lead_id)
            per_day[slot][1] += 1
    start = starts[0]
    replied = {r[0] for r in store.db.execute(
        "SELECT DISTINCT lead_id FROM messages WHERE direction = 'in' AND created_at >= ?",
        (start,))} & texted_leads
    # A finished job was booked first: "done" counts as booked.
    booked_ids = {r[0] for r in store.db.execute(
        "SELECT id FROM leads WHERE status IN ('booked', 'done')")}
    booked = booked_ids & leads
    opt_outs = store.db.execute("SELECT count(*) FROM opt_outs WHERE opted_out_at >= ?",
                                (start,)).fetchone()[0]
    rate = lambda part, whole: round(len(part) / len(whole), 3) if whole else None  # noqa: E731
    reviews = _reviews_sent(store, start)
    return {
        "days": days,
        "from": first.isoformat(),
        "to": today.isoformat(),
        "missed": len(rows),
        "texted": len(delays),
        "median_seconds": round(statistics.median(delays), 3) if delays else None,
        "worst_seconds": round(max(delays), 3) if delays else None,
        "leads": len(leads),
        "texted_leads": len(texted_leads),
        "replied": len(replied),
        "reply_rate": rate(replied, texted_leads),
        "booked": len(booked),
        "booked_rate": rate(booked, leads),
        "opt_outs": opt_outs,
        "reviews": sum(1 for _ in reviews),
        "per_day": [
            {"day": d.isoformat(), "missed": m, "texted": t} for d, (m, t) in zip(day_list, per_day)
        ],
        "per_week": weeks(store, first=first, today=today, tz=tz, booked_ids=booked_ids),
    }


def _missed_calls(store: Store, since: str) -> list[tuple]:
    """(ended_at, lead id, seconds from hang-up to the text-back sent or None) of each call not
    answered since `since` (stored ISO text)."""
    return store.db.execute(
        "SELECT c.ended_at, c.lead_id, (SELECT (julianday(min(o.sent_at)) - julianday(c.ended_at)) "
        "* 86400.0 FROM messages m JOIN outbox o ON o.message_id = m.id "
        "WHERE m.call_id = c.id AND o.status = 'sent') "
        "FROM calls c WHERE c.outcome != 'answered' AND c.ended_at >= ?", (since,)).fetchall()


def _reviews_sent(store: Store, since: str) -> list[str]:
    """When each review request went out (stored ISO text), since `since`."""
    return [r[0] for r in store.db.execute(
        "SELECT o.sent_at FROM outbox o JOIN messages m ON m.id = o.message_id "
        "WHERE m.kind = 'review' AND o.status = 'sent' AND o.sent_at >= ?", (since,))]


def weeks(store: Store, *, first: date, today: date, tz: ZoneInfo, booked_ids: set) -> list[dict]:
    """the figures an owner cares about, a row per calendar week (Monday to Sunday,
    business time) from the week holding `first` to this one, each week whole. Each week is the
    calls missed in it and what became of them: texted back, the leads texted who replied
    (whenever), the leads who called that are booked or done now, the median time from hang-up
    to text, and the review requests sent that week."""
    import statistics
    from bisect import bisect_right

    from gateway.clock import iso

    monday = first - timedelta(days=first.weekday())
    starts_d = [monday + timedelta(weeks=i) for i in range((today - monday).days // 7 + 1)]
    starts = [iso(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp()) for d in starts_d]
    rows = _missed_calls(store, starts[0])
    replied_ids = {r[0] for r in store.db.execute(
        "SELECT DISTINCT lead_id FROM messages WHERE direction = 'in' AND created_at >= ?",
        (starts[0],))}
    slots: list[dict[str, Any]] = [
        {"missed": 0, "delays": [], "leads": set(), "texted": set(), "reviews": 0}
        for _ in starts]
    for ended, lead_id, delay in rows:
        slot = slots[bisect_right(starts, ended) - 1]
        slot["missed"] += 1
        if lead_id is not None:
            slot["leads"].add(lead_id)
        if delay is not None:
            slot["delays"].append(delay)
            slot["texted"].add(lead_id)
    for sent in _reviews_sent(store, starts[0]):
        slots[bisect_right(starts, sent) - 1]["reviews"] += 1
    out = []
    for day, slot in zip(starts_d, slots):
        replied, booked = slot["texted"] & replied_ids, slot["leads"] & booked_ids
        delays = slot["delays"]
        out.append({
            "week": day.isoformat(), "to": (day + timedelta(days=6)).isoformat(),
            "missed": slot["missed"], "texted": len(delays),
            "replied": len(replied),
            "reply_rate": round(len(replied) / len(slot["texted"]), 3) if slot["texted"] else None,
            "booked": len(booked),
            "booked_rate": round(len(booked) / len(slot["leads"]), 3) if slot["leads"] else None,
            "median_seconds": round(statistics.median(delays), 3) if delays else None,
            "reviews": slot["reviews"]})
    return out


def health(store: Store, *, now: float) -> list[dict]:
    """What `textback status` shows, one check a row: {"check", "ok", "value", "fix"}.

    `ok` is None for a row that is only information (the modem model, the last call)."""
    from gateway.clock import epoch, iso

    def ago(text: str) -> float:
        """Seconds from the stored time `text` (never empty here) to now."""
        return now - (epoch(text) or now)

    beat = store.get_state("heartbeat")
    age = now - float(beat) if beat else None
    queued, oldest_due = store.db.execute(
        "SELECT count(*), min(next_attempt_at) FROM outbox WHERE status IN ('queued', 'sending')"
    ).fetchone()
    failed = store.db.execute(
        "SELECT count(*) FROM outbox o JOIN messages m ON m.id = o.message_id "
        "WHERE o.status = 'failed' AND m.created_at >= ?",
        (iso(now - FAILED_WINDOW),),
    ).fetchone()[0]
    retrying = store.db.execute("SELECT count(*) FROM outbox WHERE status = 'queued' "
                                "AND attempts > 0").fetchone()[0]
    last_call = store.db.execute("SELECT max(ended_at) FROM calls").fetchone()[0]
    stuck = oldest_due is not None and ago(oldest_due) > QUEUE_STUCK
    stopped = _number(store.get_state("stopped_at"))
    if stopped is not None and (age is None or stopped >= now - age):   # after its last beat
        running = False
        reason = store.get_state("stop_reason")
        state = f"stopped {_span(now - stopped)} ago" + (f" ({reason})" if reason else "")
    else:
        running = age is not None and age <= HEARTBEAT_STALE
        state = ("not running (never seen)" if age is None else
                 f"running (heartbeat {age:.0f} s ago)" if running else
                 f"not running (last heartbeat {_span(age)} ago)")
    rows: list[dict] = [
        {"check": "daemon", "ok": running, "value": state,
         "fix": None if running else "start it: sudo systemctl start textback (or: textback run)"},
        _modem_row(store, now, running),
    ]
    if store.get_state("simulated"):   # `textback run` on port = "sim" (cli/running.py)
        rows.append({"check": "modem port", "ok": False, "warn": True,
                     "value": 'SIMULATED (port = "sim"): nothing reaches real callers, and its '
                              "demo calls are in the lead database",
                     "fix": 'set [modem] port = "/dev/textback-modem" (or the modem\'s '
                            "/dev/serial/by-id/... path), then restart textback"})
    warning = store.get_state("link_warning")
    if warning:  # the phone answers, and needs the owner (battery, internet): texts still go
        since = store.get_state("link_warning_at")
        rows.append(
            {
                "check": "phone",
                "ok": False,
                # the phone's health: texts still go; refused webhooks: nothing gets through
                "warn": not store.get_state("link_warning_failing"),
                "value": warning + (f" (since {_span(now - float(since))} ago)" if since else ""),
                "fix": store.get_state("link_warning_fix") or "see the SMSGate app",
            }
        )
    problem = store.get_state("problem")
    if problem:  # the daemon could not set the modem up (PIN, SIM missing); it said what
        rows.append({"check": "SIM", "ok": False, "value": problem,
                     "fix": "fix the SIM or modem.pin in the config, then restart textback"})
    stale = _stale_facts(store, now, running)
    rows += [{"check": key, "ok": None, "value": value + stale, "fix": None}
             for key in ("signal", "registration", "operator")
             if (value := store.get_state(key)) is not None]
    dropped = store.get_state("dropped_events")
    if dropped:   # inputs the daemon could not handle and skipped (gateway.app.daemon.Daemon.drop)
        import json

        last = json.loads(store.get_state("dropped_last") or "{}")
        rows.append({"check": "inputs skipped", "ok": None,
                     "value": f"{dropped} (the last: a {last.get('event', '?')} at "
                              f"{last.get('at', '?')}, {last.get('reason', '?')})",
                     "fix": None})
    rows += [
        {
            "check": "texts queued",
            "ok": not stuck,
            "value": f"{queued}"
            + (f" ({retrying} retrying)" if retrying else "")
            + (f", oldest due {_span(ago(oldest_due))} ago" if stuck else ""),
            "fix": "check the modem: plugged in, SIM in, signal (textback run shows why)"
            if stuck
            else None,
        },
        {
            "check": "texts failed (24 h)",
            "ok": failed == 0,
            "value": str(failed),
            "fix": "see why with: textback calls; check SIM credit and the numbers"
            if failed
            else None,
        },
        {
            "check": "last call",
            "ok": None,
            "value": f"{_span(ago(last_call))} ago" if last_call else "none yet",
            "fix": None,
        },
    ]
    return rows


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _modem_row(store, now: float, running: bool) -> dict:
    """The modem (or phone) as the daemon last saw it. Lost while the daemon runs: the problem
    to fix, with the daemon's own reason (gateway.app.daemon.Daemon.disconnect)."""
    model = store.get_state("modem")
    lost_at = _number(store.get_state("link_lost_at"))
    if lost_at is None:
        return {"check": "modem", "ok": None, "value": model or "not seen yet", "fix": None}
    value = (f"{'lost' if model else 'not found'} since {_span(now - lost_at)} ago: "
             f"{store.get_state('link_lost') or 'no answer'}" + (f" (last seen: {model})"
                                                                 if model else ""))
    if not running:   # the daemon's last word, not now
        return {"check": "modem", "ok": None, "value": f"{value}, when the daemon last ran",
                "fix": None}
    return {"check": "modem", "ok": False, "value": value,
            "fix": (store.get_state("link_lost_fix") or "check the modem: plugged in, powered")
            + "; textback keeps trying by itself"}


def _stale_facts(store, now: float, running: bool) -> str:
    """"" when the signal and registration rows are current; else what they are: the last seen."""
    seen = _number(store.get_state("health_at"))
    lost_at = _number(store.get_state("link_lost_at"))
    when = f" {_span(now - seen)} ago" if seen is not None else ""
    if lost_at is not None and (seen is None or seen <= lost_at):
        return f" (last seen{when}, before the modem was lost)"
    if not running or (seen is not None and now - seen > HEALTH_STALE):
        return f" (last seen{when}; not current)"
    return ""


# Written by gateway.box.firstboot next to the service's database: the last card's report.
CARD_STATUS_NAME = "card-status.txt"


def card_status(folder: Path) -> dict | None:
    """The `textback status` row for the settings last found on the card (None: never a card).
    A refused card, or one that could not be written, needs the owner's eye."""
    try:
        text = (Path(folder) / CARD_STATUS_NAME).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    lines = text.splitlines()
    field = {k.strip(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
             if v and k.strip() in ("When", "File", "Key", "Problem", "Fix")}
    when = field.get("When", "").split(" (")[0]
    if lines and "REFUSED" in lines[0]:
        where = ": ".join(x for x in (field.get("File"), field.get("Key")) if x)
        return {"check": "card settings", "ok": False,
                "value": f"REFUSED {when}: {where}: {field.get('Problem', '')}",
                "fix": f"{field.get('Fix', 'see textback-status.txt on the card')}; then put the "
                       f"card back and power on (textback-status.txt on the card says the same)"}
    unwritable = next((line[line.index("The card"):] for line in lines
                       if "The card could not be written" in line), None)
    if unwritable:
        return {"check": "card settings", "ok": False,
                "value": f"applied {when}, but the card could not be written", "fix": unwritable}
    return {"check": "card settings", "ok": None, "value": f"applied {when}", "fix": None}


def not_started(path: Path) -> dict:
    """The daemon row when there is no database yet (a new box: the service never ran)."""
    return {"check": "daemon", "ok": False, "value": f"never started (no {path} yet)",
            "fix": "fix the settings (above), then: sudo systemctl start textback"}


_span = span   # the old name, kept for its callers


def export(store: Store) -> list[dict]:
    """Every lead with its messages (oldest first), for a spreadsheet or a CRM."""
    out = {lead["id"]: {**lead, "messages": []}
           for lead in _rows(store, "SELECT * FROM leads ORDER BY id")}
    for m in _rows(store, "SELECT m.lead_id, m.created_at, m.direction, m.kind, m.body, "
                   "o.status FROM messages m LEFT JOIN outbox o ON o.message_id = m.id "
                   "WHERE m.lead_id IS NOT NULL ORDER BY m.created_at, m.id"):
        out[m.pop("lead_id")]["messages"].append(m)
    return list(out.values())


EXPORT_COLUMNS = ("lead_id", "number", "name", "status", "missed_calls", "created_at",
                  "message_at", "direction", "kind", "message", "message_status")


def export_flat(leads_: list[dict]) -> list[dict]:
    """One row per message (a lead without messages: one row, message fields empty), for CSV."""
    rows = []
    for lead in leads_:
        base = {"lead_id": lead["id"], "number": lead["number"], "name": lead["name"],
                "status": lead["status"], "missed_calls": lead["missed_calls"],
                "created_at": lead["created_at"]}
        for m in lead["messages"] or [None]:
            rows.append({**base, "message_at": m and m["created_at"],
                         "direction": m and m["direction"], "kind": m and m["kind"],
                         "message": m and m["body"], "message_status": m and m["status"]})
    return rows


# -- what gateway.app.alive reads (metrics, the self-test) --------------------------------
def alive_counts(store) -> dict:
    """All-time counts and last times for the metrics file: calls by outcome, texts by status
    (sent, failed, and calls not texted as skipped), the outbox depth."""
    from .store import epoch

    calls = dict(store.db.execute("SELECT outcome, count(*) FROM calls GROUP BY outcome"))
    texts = dict(store.db.execute("SELECT status, count(*) FROM outbox WHERE status IN "
                                  "('sent', 'failed') GROUP BY status"))
    skipped = store.db.execute("SELECT count(*) FROM calls WHERE action = 'skipped'").fetchone()[0]
    depth = store.db.execute("SELECT count(*) FROM outbox WHERE status IN ('queued', 'sending')"
                             ).fetchone()[0]
    last_call = store.db.execute("SELECT max(ended_at) FROM calls").fetchone()[0]
    last_text = store.db.execute("SELECT max(sent_at) FROM outbox WHERE status = 'sent'"
                                 ).fetchone()[0]
    return {"calls": {k: calls.get(k, 0) for k in ("missed", "answered", "rejected", "unknown")},
            "texts": {"sent": texts.get("sent", 0), "failed": texts.get("failed", 0),
                      "skipped": skipped},
            "outbox": depth, "last_call": epoch(last_call), "last_text": epoch(last_text)}


def outbox_state(store, outbox_id: int) -> tuple[str, str | None, float | None] | None:
    """(status, last error, sent at) of one outbox row, or None."""
    from .store import epoch

    row = store.db.execute("SELECT status, last_error, sent_at FROM outbox WHERE id = ?",
                           (outbox_id,)).fetchone()
    return None if row is None else (row[0], row[1], epoch(row[2]))
