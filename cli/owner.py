"""The owner's commands: list and read leads, answer them, mark them, and see how textback is doing.

Only click at the top: each command imports what it needs when it runs. No SQL here: reads go
through gateway.reports, writes through the Store's verbs.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import click

from cli.common import config_option, db_option, load_config

json_option = click.option("--json", "as_json", is_flag=True, help="One JSON array, for programs.")
limit_option = click.option("--limit", type=click.IntRange(1), default=50, show_default=True,
                            help="Show at most this many rows.")
since_option = click.option("--since", metavar="WHEN",
                            help="Only since then: 30m, 12h, 2d, 1w or a date like 2026-11-01.")
lead_argument = click.argument("lead", metavar="NUMBER|#ID")


def register(cli: click.Group) -> None:
    for command in (leads, lead, reply, book, lost, name, calls, stats, templates, status, export):
        cli.add_command(command)


def now() -> float:
    """The clock the owner's commands read. TEXTBACK_NOW (epoch seconds or ISO time) pins it, for
    tests and for example screens in the docs."""
    pinned = os.environ.get("TEXTBACK_NOW")
    if not pinned:
        return time.time()
    try:
        return float(pinned)
    except ValueError:
        from datetime import datetime

        return datetime.fromisoformat(pinned).timestamp()


def database(config_path: str | None, db_path: str | None) -> Path:
    """The lead database's path: --db, else the config's; UsageError when there is none yet."""
    from gateway.errors import UsageError

    path = Path(db_path) if db_path else load_config(config_path).database
    if not path.exists():
        raise UsageError(f"no lead database at {path}",
                         hint="run the daemon first (textback run), or pass --db FILE")
    return path


def open_store(config_path: str | None, db_path: str | None):
    from gateway.store import Store

    return Store(database(config_path, db_path))


def quick_read(config_path: str | None, db_path: str | None, report, **query):
    """`report(store, **query)` on a plain read-only connection (no sqlite_utils import, no
    migration check: the owner's read commands start fast on a Pi); on any SQLite error (an older
    schema, a locked file) on the real Store, which migrates or explains."""
    import sqlite3

    from gateway import reports

    try:
        with reports.glance(database(config_path, db_path)) as quick:
            return report(quick, **query)
    except sqlite3.Error:
        return report(open_store(config_path, db_path), **query)


def business(config_path: str | None):
    """(time zone, region) from the config; with no config at all, this machine's zone and "US"."""
    from gateway import config

    if config_path is None and not config.default_path().exists():
        from datetime import datetime

        return datetime.now().astimezone().tzinfo, "US"
    cfg = load_config(config_path)
    return cfg.business.timezone, cfg.business.region


def find(store, config_path: str | None, ref: str) -> dict:
    """The lead NUMBER|#ID names; the region (for national numbers) is only read when needed."""
    text = ref.strip().removeprefix("#").strip()
    region = "US" if text.isdigit() and len(text) <= store.LEAD_ID_MAX_DIGITS \
        else business(config_path)[1]
    return store.find_lead(ref, region)


def _since(text: str | None, config_path: str | None) -> float | None:
    from gateway.reports import parse_since

    if text is None:
        return None
    tz = business(config_path)[0] if "-" in text else None  # only a date needs the zone
    return parse_since(text, now(), tz)


@click.command()
@config_option
@db_option
@click.option("--status", metavar="STATUS",
              help="Only this status: new, texted, replied, booked, lost, opted_out.")
@since_option
@click.option("--search", metavar="TEXT", help="Name, number or message text containing TEXT.")
@limit_option
@json_option
def leads(config_path, db_path, status, since, search, limit, as_json) -> None:
    """List leads, newest activity first (a dot marks unread replies)."""
    from cli import show
    from gateway import reports

    query = dict(status=status, since=_since(since, config_path), search=search, limit=limit)
    rows = quick_read(config_path, db_path, reports.leads, **query)
    show.leads(rows, as_json=as_json, now=now())


@click.command()
@lead_argument
@config_option
@db_option
@json_option
def lead(lead, config_path, db_path, as_json) -> None:
    """One lead's whole story: calls, texts out and in, status changes. Marks it read."""
    from cli import show
    from gateway import reports

    store = open_store(config_path, db_path)
    found = find(store, config_path, lead)
    events = reports.timeline(store, found["id"])
    if as_json:
        show.print_json(events)
        return  # a program reading the timeline has not read the replies: they stay unread
    show.timeline(found, events, tz=business(config_path)[0])
    store.mark_read(found["id"])


@click.command()
@lead_argument
@click.argument("text")
@click.option("--dry-run", is_flag=True, help="Show how the text would go (parts, encoding); send nothing.")
@config_option
@db_option
def reply(lead, text, dry_run, config_path, db_path) -> None:
    """Text a lead from the business number (the daemon sends it)."""
    import uuid

    from cli import show
    from gateway import reports
    from gateway.errors import UsageError
    from gateway.render import segments

    body = text.strip()
    if not body:
        raise UsageError("the reply is empty", hint='textback reply #12 "I can be there at 3"')
    store = open_store(config_path, db_path)
    found = find(store, config_path, lead)
    who = f"#{found['id']} ({found['number']})"
    if store.is_opted_out(found["number"]):
        raise UsageError(f"{who} opted out (STOP): textback texts them nothing, not even replies",
                         hint="call them instead; they can text START to opt back in")
    segs = segments(body)
    if dry_run:
        click.echo(f"dry run: {show.describe(segs)}; nothing sent")
        return
    t = now()
    store.queue_text(number=found["number"], body=body, kind="manual", send_at=t, now=t,
                     dedupe_key=f"manual|{found['id']}|{uuid.uuid4().hex}")
    store.mark_read(found["id"])
    click.echo(f"queued for {who}: {show.describe(segs)}")
    daemon = reports.health(store, now=t)[0]
    if not daemon["ok"]:
        click.echo(f"warning: the daemon is {daemon['value']}: the text goes out when it runs\n"
                   f"  -> {daemon['fix']}", err=True)


def _set_status(status: str, lead: str, note: str | None, config_path, db_path) -> None:
    from cli import show

    store = open_store(config_path, db_path)
    found = find(store, config_path, lead)
    store.set_lead_status(found["id"], status, note or None, now())
    click.echo(show.neutralise(f"#{found['id']} ({found['number']}) is {status} now"
                               + (f": {note}" if note else "")))


@click.command()
@lead_argument
@click.option("--note", help="Why, when, how much: shown in the lead's timeline.")
@config_option
@db_option
def book(lead, note, config_path, db_path) -> None:
    """Mark a lead booked (a job)."""
    _set_status("booked", lead, note, config_path, db_path)


@click.command()
@lead_argument
@click.option("--note", help="Why it was lost: shown in the lead's timeline.")
@config_option
@db_option
def lost(lead, note, config_path, db_path) -> None:
    """Mark a lead lost (no job)."""
    _set_status("lost", lead, note, config_path, db_path)


@click.command()
@lead_argument
@click.argument("full_name", metavar="NAME")
@config_option
@db_option
def name(lead, full_name, config_path, db_path) -> None:
    """Give a lead a name ("Jane Doe"); templates greet them by the first name."""
    from cli import show
    from gateway.errors import UsageError

    text = " ".join(full_name.split())
    if not text or show.neutralise(text) != text:
        raise UsageError(f"not a name: {show.neutralise(full_name)!r}",
                         hint='textback name #12 "Jane Doe"')
    store = open_store(config_path, db_path)
    found = find(store, config_path, lead)
    store.set_lead_name(found["id"], text, now())
    click.echo(f"#{found['id']} ({found['number']}) is {text}")


@click.command()
@config_option
@db_option
@since_option
@limit_option
@json_option
def calls(config_path, db_path, since, limit, as_json) -> None:
    """Recent calls: outcome, and whether a text went out (or why not)."""
    from cli import show
    from gateway import reports

    rows = quick_read(config_path, db_path, reports.calls, since=_since(since, config_path),
                      limit=limit)
    show.calls(rows, as_json=as_json, now=now())


@click.command()
@click.option("--days", type=click.IntRange(1, 366), default=30, show_default=True)
@config_option
@db_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for programs.")
def stats(days, config_path, db_path, as_json) -> None:
    """Missed calls, texts, time to text, reply and booked rates; a bar per day."""
    from cli import show
    from gateway import reports

    figures = quick_read(config_path, db_path, reports.stats, now=now(), days=days,
                         tz=business(config_path)[0])
    show.stats(figures, as_json=as_json)


@click.command()
@config_option
@json_option
def templates(config_path, as_json) -> None:
    """The message templates, filled in with your business details, with their SMS cost."""
    import phonenumbers

    from cli import show
    from gateway import render
    from gateway.numbers import display

    cfg = load_config(config_path)
    biz = cfg.business
    sample = phonenumbers.example_number(biz.region)
    caller = display(phonenumbers.format_number(sample, phonenumbers.PhoneNumberFormat.E164),
                     biz.region) if sample else ""
    fields = {"company": biz.name, "owner": biz.owner,
              "business_phone": display(biz.phone, biz.region) if biz.phone else "",
              "first_name": "", "caller": caller, "status": ""}
    rows = []
    for tname, text in render.load_templates(cfg.templates_dir).items():
        body = render.render(text, fields)
        segs = render.segments(body)
        rows.append({"name": tname, "file": str(cfg.templates_dir / f"{tname}.txt"), "text": body,
                     "encoding": segs.encoding, "parts": segs.parts, "units": segs.units,
                     "ucs2_chars": list(segs.ucs2_chars)})
    show.templates(rows, as_json=as_json, caller=caller)


@click.command()
@config_option
@db_option
@json_option
@click.pass_context
def status(ctx, config_path, db_path, as_json) -> None:
    """Is textback working? Daemon, modem, texts waiting or failing, last call. Exit 1 if not."""
    from cli import show
    from gateway import reports
    from gateway.errors import UsageError

    path = Path(db_path) if db_path else load_config(config_path).database
    card = reports.card_status(path.parent)   # what first boot made of the installer's card
    try:
        rows = reports.health(open_store(config_path, db_path), now=now())
    except UsageError:
        if card is None:
            raise
        rows = [reports.not_started(path)]   # a new box whose card was refused
    show.health(([card] if card else []) + rows, as_json=as_json)
    # A warning (the phone's battery, its internet) needs the owner but textback still works.
    if any(row["ok"] is False and not row.get("warn") for row in rows):
        ctx.exit(1)


@click.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="Write to FILE instead of the terminal.")
@config_option
@db_option
def export(fmt, output, config_path, db_path) -> None:
    """Every lead and its messages, as CSV (one row per message) or JSON (for a CRM)."""
    from cli import show
    from gateway import reports

    store = open_store(config_path, db_path)
    rows = reports.export(store)
    text = show.export_csv(reports.export_flat(rows)) if fmt == "csv" else show.json_text(rows)
    if output is None:
        click.echo(text, nl=False)
        return
    from gateway.errors import UsageError

    try:
        Path(output).write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror}",
                         hint="pick a file in a folder you can write") from None
    click.echo(f"wrote {len(rows)} lead(s) to {output}", err=True)
