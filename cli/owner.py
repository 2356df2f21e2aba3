"""The owner's commands: list and read leads, answer them, mark them, and see how textback is doing.

Only click at the top: each command imports what it needs when it runs. No SQL here: reads go
through gateway.app.reports, writes through the Store's verbs.
"""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

import click

from cli.common import UsageError, config_option, db_option, load_config

json_option = click.option("--json", "as_json", is_flag=True, help="One JSON array, for programs.")
limit_option = click.option("--limit", type=click.IntRange(1, 1_000_000), default=50,
                            show_default=True, help="Show at most this many rows.")
since_option = click.option("--since", metavar="WHEN",
                            help="Only since then: 30m, 12h, 2d, 1w or a date like 2026-11-01.")
# Names, notes and search terms: a line, not a page (a 100,000-character name filled the leads
# table; SQLite refuses LIKE patterns over 50,000 bytes, SQLITE_MAX_LIKE_PATTERN_LENGTH, with a
# traceback-shaped error).
MAX_TEXT = 200
# `--since 2d`: how many seconds each unit is.
UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_AGO = re.compile(r"(\d+)\s*([mhdw])")
MAX_SINCE = 100 * 366 * 86400   # "--since 99999999999999999999d": no time_t reaches that
# A lead given as "12" is lead #12, not a phone number: no number worth texting is this short.
LEAD_ID_MAX_DIGITS = 6
# Replies longer than this many texts need --yes: each part is billed as one text.
MAX_REPLY_PARTS = 3
# In bash, zsh and sh an unquoted "#12" starts a comment: the command never sees it.
LEAD_HINT = "write the lead as 12 or @12 (in a shell, #12 starts a comment unless quoted: '#12')"


class LeadArgument(click.Argument):
    """NUMBER|ID: when it is missing, the likely reason is an unquoted #12 (a shell comment)."""

    def process_value(self, ctx: click.Context, value):
        if self.value_is_missing(value):
            raise click.UsageError(f"Missing argument {self.make_metavar(ctx)}.\n  -> {LEAD_HINT}",
                                   ctx=ctx)
        return super().process_value(ctx, value)


class FreeText(click.ParamType):
    """Text from the owner: valid Unicode (an undecodable byte in an argument is not), and at
    most `limit` characters when given."""

    name = "text"

    def __init__(self, what: str, limit: int | None = None, allowed: str = "") -> None:
        self.what, self.limit, self.allowed = what, limit, allowed

    def convert(self, value, param, ctx):
        from gateway.render import control_character

        if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
            self.fail(f"the {self.what} holds bytes that are not UTF-8 text; retype it",
                      param, ctx)
        bad = control_character(value, self.allowed)
        if bad is not None:
            # One rule for names, notes, search terms and replies: a pasted escape sequence or a
            # bell is never stored, shown or texted.
            self.fail(f"the {self.what} holds a control character (U+{ord(bad[1]):04X}) at "
                      f"character {bad[0] + 1}; retype it"
                      + ("" if "\n" in self.allowed else " on one line"), param, ctx)
        if self.limit is not None and len(value) > self.limit:
            self.fail(f"the {self.what} is {len(value):,} characters long; at most {self.limit}",
                      param, ctx)
        return value


lead_argument = click.argument("lead", metavar="LEAD", cls=LeadArgument)


def register(cli: click.Group) -> None:
    for command in (leads, lead, reply, book, done, lost, name, calls, stats, templates, status,
                    export):
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

    if config_path is not None and not Path(config_path).exists():
        load_config(config_path)   # a --config that names no file: said, not ignored
    path = Path(db_path) if db_path else load_config(config_path).database
    if not path.exists():
        from gateway.app.dbfile import missing_hint

        raise UsageError(f"no lead database at {path}", hint=missing_hint(path))
    return path


def open_store(config_path: str | None, db_path: str | None):
    """The Store for a command that changes the database."""
    from gateway.app.store import Store

    return Store(database(config_path, db_path))


def read_store(config_path: str | None, db_path: str | None):
    """The Store for a command that only reads: opened read-only (nothing created, migrated,
    chmodded or written; someone else's file refused), so a backup or a read-only card works."""
    from gateway.app.store import Store

    return Store.read_only(database(config_path, db_path))


def quick_read(config_path: str | None, db_path: str | None, report, **query):
    """`report(db, **query)` on a plain read-only sqlite3 connection, without sqlite_utils: the
    owner's listings start fast on a Pi."""
    from gateway.app import reports

    with reports.glance(database(config_path, db_path)) as quick:
        return report(quick, **query)


def business(config_path: str | None):
    """(time zone, region) from the config; with no config at all, this machine's zone and "US"."""
    from gateway import config

    if config_path is None and not config.default_path().exists():
        from datetime import datetime

        return datetime.now().astimezone().tzinfo, "US"
    cfg = load_config(config_path)
    return cfg.business.timezone, cfg.business.region


def find(store, config_path: str | None, ref: str) -> dict:
    """The lead LEAD names: "+15125550142", a national number ("(512) 555-0142"), "12", "@12" or
    "#12" ("#" starts a comment in a shell, so "12" and "@12" are the safe ones). UsageError,
    saying what to type instead, for a malformed number; NotFound for no lead. The region (for
    national numbers) is only read from the config when needed."""
    from gateway.errors import NotFound
    from gateway.numbers import normalize

    text = ref.strip()
    marked = text[:1] in ("#", "@")
    digits = text[1:].strip() if marked else text
    if digits.isascii() and digits.isdigit() and (marked or len(digits) <= LEAD_ID_MAX_DIGITS):
        # (an id beyond SQLite's 64-bit integers names no lead; int() of it would not bind)
        lead = store.lead(int(digits)) if len(digits) <= 18 else None
        if lead is None:
            raise NotFound(f"no lead #{int(digits)}",
                           hint="see the lead numbers with: textback leads")
        return lead
    number = normalize(text, None, business(config_path)[1])
    if number is None:
        raise UsageError(f"not a phone number or lead number: {ref!r}",
                         hint='write it like 12, +15125550142 or "(512) 555-0142"')
    lead = store.lead_by_number(number)
    if lead is None:
        raise NotFound(f"no lead with the number {number}",
                       hint="see the leads with: textback leads --search DIGITS")
    return lead


def parse_since(text: str, now: float, tz) -> float:
    """ "2d", "12h", "30m", "1w" before `now`, or a date "2026-11-01" (midnight, business time)."""
    from datetime import date, datetime

    if re.fullmatch(r"\d+\s*M", text.strip()):
        raise UsageError(f"--since: {text!r} is ambiguous (minutes or months?)",
                         hint="write 30m for minutes; for months, a date like 2026-09-01")
    value = text.strip().lower()
    match = _AGO.fullmatch(value)
    if match:
        seconds = int(match.group(1)) * UNITS[match.group(2)]
        if seconds > MAX_SINCE:
            raise UsageError(f"--since: {text!r} is further back than anything textback holds",
                             hint="write 30m, 12h, 2d, 1w or a date like 2026-11-01")
        return now - seconds
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--since: cannot read {text!r}",
                         hint="write 30m, 12h, 2d, 1w or a date like 2026-11-01") from None
    return datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()


def lead_status(text: str | None) -> str | None:
    """--status as the owner writes it ("opted out", "opted-out") -> a stored status."""
    from gateway.app.store import LEAD_STATUSES

    if text is None:
        return None
    wanted = "_".join(text.strip().lower().replace("-", " ").split())
    if wanted not in LEAD_STATUSES:
        raise UsageError(f"--status: no status {text!r}",
                         hint="one of " + ", ".join(s.replace("_", "-") for s in LEAD_STATUSES))
    return wanted


def _since(text: str | None, config_path: str | None) -> float | None:
    if text is None:
        return None
    tz = business(config_path)[0] if "-" in text else None  # only a date needs the zone
    return parse_since(text, now(), tz)


@click.command()
@config_option
@db_option
@click.option("--status", metavar="STATUS",
              help="Only this status: new, texted, replied, called-back, booked, done, lost, "
                   "opted-out.")
@since_option
@click.option("--search", metavar="TEXT", type=FreeText("search term", MAX_TEXT),
              help=f"Name, number or message text containing TEXT (at most {MAX_TEXT} characters).")
@limit_option
@json_option
def leads(config_path, db_path, status, since, search, limit, as_json) -> None:
    """List leads, newest activity first (a dot marks unread replies)."""
    from cli import show
    from gateway.app import reports

    query = dict(status=lead_status(status), since=_since(since, config_path), search=search,
                 limit=limit)
    rows, tz = quick_read(config_path, db_path, _with_zone(reports.leads), **query)
    filtered = status is not None or since is not None or bool(search)
    show.leads(rows, as_json=as_json, now=now(), filtered=filtered, tz=tz)


def _with_zone(report):
    """(rows, the business's time zone): both from the database, so no config is loaded."""
    def both(db, **query):
        from gateway.app.reports import zone

        return report(db, **query), zone(db)
    return both


@click.command()
@lead_argument
@config_option
@db_option
@json_option
def lead(lead, config_path, db_path, as_json) -> None:
    """One lead's whole story: calls, texts out and in, status changes. Marks it read.

    LEAD is its number in the listing (12 or @12; quote '#12' in a shell) or its phone number."""
    from cli import show
    from gateway.app import reports

    store = read_store(config_path, db_path)
    try:
        found = find(store, config_path, lead)
        found = {**found, "opted_out": store.is_opted_out(found["number"])}
        events = reports.timeline(store, found["id"])
    finally:
        store.close()
    if as_json:
        # A program reading the timeline has not read the replies: they stay unread.
        show.print_json({**{key: found[key] for key in LEAD_FIELDS}, "events": events})
        return
    show.timeline(found, events, tz=business(config_path)[0])
    if found["unread"]:
        _mark_read(config_path, db_path, found["id"])


# What `lead --json` says about the lead itself, before its events.
LEAD_FIELDS = ("id", "number", "name", "status", "opted_out", "missed_calls", "unread",
               "created_at", "last_activity_at")


def _mark_read(config_path, db_path, lead_id: int) -> None:
    """Reading a lead marks its replies read; a read-only copy (a backup) is shown, not changed."""
    import stat

    from gateway.errors import StoreError

    path = database(config_path, db_path)
    if not path.stat().st_mode & stat.S_IWUSR or not os.access(path, os.W_OK):
        click.echo(f"note: {path} is read-only; the replies stay marked unread there", err=True)
        return
    store = open_store(config_path, db_path)
    try:
        store.mark_read(lead_id)
    except StoreError as exc:
        click.echo(f"note: not marked read ({exc.message})", err=True)
    finally:
        store.close()


@click.command()
@lead_argument
@click.argument("text", metavar="TEXT...", nargs=-1, required=True,
                type=FreeText("reply", allowed="\n\r"))
@click.option(
    "--dry-run", is_flag=True, help="Show how the text would go (parts, encoding); send nothing."
)
@click.option(
    "--yes",
    is_flag=True,
    help=f"Send a reply longer than {MAX_REPLY_PARTS} texts (each part is billed as one).",
)
@config_option
@db_option
def reply(lead, text, dry_run, yes, config_path, db_path) -> None:
    """Text a lead from the business number (the daemon sends it).

    TEXT is the message: quoted ("I can be there at 3") or not, the words are joined with spaces.
    LEAD is its number in the listing (12 or @12; quote '#12' in a shell) or its phone number."""
    import uuid

    from cli import show
    from gateway.app import reports
    from gateway.render import segments, unsendable

    body = " ".join(text).strip()   # `reply 12 I can be there at 3`: the words, as if quoted
    if not body:
        raise UsageError("the reply is empty", hint='textback reply 12 "I can be there at 3"')
    problem = unsendable(body)
    if problem:
        raise UsageError(f"the reply cannot be sent: {problem}", hint="shorten it")
    segs = segments(body)
    if segs.parts > MAX_REPLY_PARTS and not (yes or dry_run):
        raise UsageError(f"the reply would go as {show.describe(segs)}: each part is billed as "
                         "a text", hint=f"shorten it, or add --yes to send all {segs.parts} parts")
    store = read_store(config_path, db_path)
    try:
        found = find(store, config_path, lead)
        opted_out = store.is_opted_out(found["number"])
    finally:
        store.close()
    who = f"#{found['id']} ({found['number']})"
    if opted_out:
        raise UsageError(f"{who} opted out (STOP): textback texts them nothing, not even replies",
                         hint="call them instead; they can text START to opt back in")
    if dry_run:
        click.echo(f"dry run: {show.describe(segs)}; nothing sent")
        return
    t = now()
    store = open_store(config_path, db_path)
    try:
        store.queue_text(number=found["number"], body=body, kind="manual", send_at=t, now=t,
                         dedupe_key=f"manual|{found['id']}|{uuid.uuid4().hex}")
        store.mark_read(found["id"])
        click.echo(f"queued for {who}: {show.describe(segs)}")
        daemon = reports.health(store, now=t)[0]
    finally:
        store.close()
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
@click.option(
    "--note",
    type=FreeText("note", MAX_TEXT),
    help=f"Why, when, how much: shown in the lead's timeline (at most {MAX_TEXT} characters).",
)
@config_option
@db_option
def book(lead, note, config_path, db_path) -> None:
    """Mark a lead booked (a job). LEAD: 12, @12, '#12' or the phone number."""
    _set_status("booked", lead, note, config_path, db_path)


@click.command()
@lead_argument
@click.option("--note", type=FreeText("note", MAX_TEXT),
              help=f"What was done: shown in the lead's timeline (at most {MAX_TEXT} characters).")
@config_option
@db_option
def done(lead, note, config_path, db_path) -> None:
    """Mark a lead's job done. With [reviews] url set, they get one review request (now; at
    08:00 when it is night), every finished job alike. LEAD: 12, @12, '#12' or the phone number."""
    from types import SimpleNamespace

    from cli import show
    from gateway.app import reports
    from gateway.app.conversation import Conversation
    from gateway.app.daemon import Counters

    cfg = load_config(config_path)
    store = open_store(config_path, db_path)
    try:
        found = find(store, config_path, lead)
        t = now()
        talk = Conversation(cfg, store, SimpleNamespace(now=lambda: t),
                            lambda *args, **fields: None, Counters())
        said = talk.job_done(found["id"], note or None)
        queued = "review request goes" in said
        daemon = reports.health(store, now=t)[0]
    finally:
        store.close()
    click.echo(show.neutralise(said))
    if queued and not daemon["ok"]:
        click.echo(f"warning: the daemon is {daemon['value']}: the text goes out when it runs\n"
                   f"  -> {daemon['fix']}", err=True)


@click.command()
@lead_argument
@click.option(
    "--note",
    type=FreeText("note", MAX_TEXT),
    help=f"Why it was lost: shown in the lead's timeline (at most {MAX_TEXT} characters).",
)
@config_option
@db_option
def lost(lead, note, config_path, db_path) -> None:
    """Mark a lead lost (no job). LEAD: 12, @12, '#12' or the phone number."""
    _set_status("lost", lead, note, config_path, db_path)


@click.command()
@lead_argument
@click.argument("full_name", metavar="NAME", type=FreeText("name", MAX_TEXT))
@config_option
@db_option
def name(lead, full_name, config_path, db_path) -> None:
    """Give a lead a name ("Jane Doe"); templates greet them by the first name.

    LEAD: 12, @12, '#12' or the phone number."""

    text = " ".join(full_name.split())
    if not text:
        raise UsageError("the name is empty", hint='textback name 12 "Jane Doe"')
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
    from gateway.app import reports

    rows, tz = quick_read(config_path, db_path, _with_zone(reports.calls),
                          since=_since(since, config_path), limit=limit)
    show.calls(rows, as_json=as_json, now=now(), tz=tz, filtered=since is not None)


@click.command()
@click.option("--days", type=click.IntRange(1, 366), default=30, show_default=True,
              help="How many days back, today included (1 to 366).")
@config_option
@db_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object, for programs.")
def stats(days, config_path, db_path, as_json) -> None:
    """Missed calls, texts, time to text, reply and booked rates; a bar per day."""
    from cli import show
    from gateway.app import reports

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
              "first_name": "", "caller": caller, "status": "",
              "review_link": cfg.review_url, "booking_link": cfg.booking_url}
    rows = []
    for tname, text in render.with_review(render.load_templates(cfg.templates_dir)).items():
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
    from gateway.app import reports
    from gateway.app.lock import held

    path = Path(db_path) if db_path else load_config(config_path).database
    card = reports.card_status(path.parent)   # what first boot made of the installer's card
    if not path.exists():
        # A box whose daemon never ran (or a wrong --db): something needs the owner, exit 1.
        rows = [reports.not_started(path)]
        if card is None:
            from gateway.app.dbfile import missing_hint

            rows[0]["fix"] = missing_hint(path)
    else:
        from gateway.app import vitals  # backup age, last ping, self-test, VoLTE

        store = read_store(config_path, db_path)
        try:
            rows = reports.health(store, now=now()) + vitals.rows(store, now=now())
        finally:
            store.close()
        if held(path) is False:
            _stopped(rows)
    rows = ([card] if card else []) + rows
    show.health(rows, as_json=as_json)
    # A warning (the phone's battery, its internet) needs the owner but textback still works;
    # a refused card, or one that could not be written, needs the owner (daemon running or not).
    if any(row["ok"] is False and not row.get("warn") for row in rows):
        ctx.exit(1)


def _stopped(rows: list[dict]) -> None:
    """No daemon holds the database's lock (gateway.app.lock): it is not running, however fresh
    its last heartbeat (it beats every minute; a stop or kill -9 a moment ago leaves one)."""
    for row in rows:
        if row["check"] == "daemon" and row["ok"]:
            beat = row["value"].split("(", 1)[-1].rstrip(")")
            row.update(ok=False, value=f"not running (stopped; last {beat})",
                       fix="start it: sudo systemctl start textback (or: textback run)")


@click.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv",
              show_default=True,
              help="csv: one row per message, for a spreadsheet; json: leads with their messages.")
@click.option("--output", "-o", type=click.Path(dir_okay=False),
              help="Write to FILE (readable by you only) instead of the terminal; a new file "
                   "unless --force.")
@click.option("--force", is_flag=True,
              help="Replace FILE if it exists (never the lead database, the config or a "
                   "template).")
@config_option
@db_option
def export(fmt, output, force, config_path, db_path) -> None:
    """Every lead and its messages, as CSV (one row per message) or JSON (for a CRM)."""
    from cli import show
    from gateway.app import reports

    target = None
    if output is not None and output != "-":
        target = Path(output)
        _refuse_export_target(target, force, config_path, db_path)
    store = read_store(config_path, db_path)
    try:
        rows = reports.export(store)
    finally:
        store.close()
    text = show.export_csv(reports.export_flat(rows)) if fmt == "csv" else show.json_text(rows)
    if target is None:
        click.echo(text, nl=False)
        return
    _write_private(target, text)
    click.echo(f"wrote {len(rows)} lead(s) to {output}", err=True)


# Files beside the database that are part of it: overwriting one loses or corrupts leads.
DB_SIDE_FILES = ("-wal", "-shm", "-journal", "-lock", "-calls")


def _refuse_export_target(path: Path, force: bool, config_path, db_path) -> None:
    """An export never replaces what textback keeps (the database and its side files, the config,
    the templates, any SQLite file) and, without --force, no file at all."""
    import stat

    from gateway import config as config_mod
    from gateway.app.dbfile import SQLITE_MAGIC

    try:
        info = path.stat()
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise UsageError(f"--output {path}: {exc.strerror}",
                         hint="pick a file in a folder you can write") from None
    db = database(config_path, db_path)
    config_file = Path(config_path) if config_path else config_mod.default_path()
    kept = [db, *(Path(f"{db}{side}") for side in DB_SIDE_FILES), config_file]
    templates_dir = None
    if config_file.is_file():
        try:
            templates_dir = load_config(str(config_file)).templates_dir
        except Exception:   # a broken config is the config commands' business, not export's
            templates_dir = None
    resolved = path.resolve()
    for each in kept:
        if resolved == each.resolve() or (info and each.exists() and path.samefile(each)):
            raise UsageError(f"--output {path} is textback's own {_what(each, db)}; "
                             "nothing was written", hint="export to a new file, e.g. -o leads.csv")
    if templates_dir is not None and resolved.is_relative_to(templates_dir.resolve()):
        raise UsageError(f"--output {path} is in the templates folder {templates_dir}; nothing "
                         "was written", hint="export to a new file, e.g. -o leads.csv")
    if info is None:
        return
    if not stat.S_ISREG(info.st_mode):
        return   # a pipe or a terminal (/dev/stdout): written as it is, never chmodded
    try:
        with open(path, "rb") as file:
            sqlite = file.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        sqlite = False
    if sqlite:
        raise UsageError(f"--output {path} is a SQLite database (a lead database?); nothing was "
                         "written", hint="export to a new file, e.g. -o leads.csv")
    if not force:
        raise UsageError(f"--output {path} exists already; nothing was written",
                         hint="pick a new file name, or add --force to replace it")


def _what(path: Path, db: Path) -> str:
    if path == db:
        return "lead database"
    return "config file" if str(path).endswith(".toml") else "database file"


def _write_private(path: Path, text: str) -> None:
    """Customers' numbers and words: the file is readable by its owner only (0600), as the
    database is, whatever the umask. Written whole or not at all: to a temporary file beside it,
    then renamed over (a full disk leaves the old file, or none, never half an export). A pipe
    or terminal named with -o is written directly."""
    import stat
    import tempfile

    data = text.encode("utf-8")
    try:
        special = not stat.S_ISREG(path.stat().st_mode)
    except OSError:
        special = False
    if special:
        try:
            with open(path, "wb") as file:
                file.write(data)
        except OSError as exc:
            raise UsageError(f"cannot write {path}: {exc.strerror}",
                             hint=_write_hint(exc)) from None
        return
    folder = path.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}",
                         hint="pick a file in a folder you can write") from None
    try:
        with os.fdopen(fd, "wb") as file:   # mkstemp makes it 0600 whatever the umask
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise UsageError(f"cannot write {path}: {exc.strerror}; nothing was written",
                         hint=_write_hint(exc)) from None


def _write_hint(exc: OSError) -> str:
    import errno

    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return "free some disk space, or write the export somewhere else"
    return "pick a file in a folder you can write"
