"""Everything the CLI prints: rich tables for people, JSON for programs.

Customer text is data: `literal()` is the one way text from outside (a caller's words, a number the
modem gave) reaches the terminal. Markup is never interpreted and control characters (escape
sequences, OSC title changes, bells) are shown as visible codes instead of being obeyed.
"""
from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def neutralise(text: str) -> str:
    """Control characters become visible escapes: '\\x1b[2J' prints as the characters \\x1b[2J."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def literal(text: str | None, style: str = ""):
    from rich.text import Text

    return Text(neutralise(text or ""), style=style)  # Text() never parses [markup]


def cell(text: str | None, style: str = "") -> tuple[str, str]:
    """Customer text as a `columns` cell: `literal`'s rules, without a Text object."""
    return neutralise(text or ""), style


def _console(console=None):
    if console is not None:
        return console
    from rich.console import Console

    return Console(highlight=False)


def _ago(iso: str | None, now: float | None = None) -> str:
    if not iso:
        return ""
    then = datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    seconds = int((time.time() if now is None else now) - then)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return "just now"


def _local(iso: str | None, tz) -> str:
    if not iso:
        return ""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(tz).strftime(
        "%a %b %d %H:%M:%S")


def _when(iso: str | None, now: float | None, tz) -> str:
    """ "Nov 24 11:31, 29m ago": the clock time in `tz` (None: relative only) and how long ago."""
    if not iso:
        return ""
    ago = _ago(iso, now)
    if tz is None:
        return ago
    local = datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(tz)
    return f"{local:%b %d %H:%M}, {ago}"


def zone_name(tz) -> str:
    """ "America/Chicago" for a named zone; else its abbreviation now ("UTC", "CST")."""
    return getattr(tz, "key", None) or datetime.now(tz).tzname() or "local time"


def json_text(rows) -> str:
    """JSON for programs, safe on a terminal: json escapes C0 controls itself; C1 controls and
    bidi overrides (which it leaves raw with ensure_ascii=False) become \\uXXXX too."""
    import json

    text = json.dumps(rows, ensure_ascii=False, indent=1)
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n"


def print_json(rows) -> None:
    import sys

    sys.stdout.write(json_text(rows if isinstance(rows, dict) else list(rows)))


def _table(*columns, title: str | None = None, caption: str | None = None):
    """columns: names; a trailing ">" right-aligns the column."""
    from rich.table import Table

    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for column in columns:
        table.add_column(column.rstrip(">"), justify="right" if column.endswith(">") else "left")
    return table


def _width(text: str) -> int:
    if text.isascii():
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


def _fit(text: str, width: int) -> str:
    """`text` cut to `width` terminal cells, ending in an ellipsis when cut."""
    if _width(text) <= width:
        return text
    from rich.cells import set_cell_size

    return set_cell_size(text, max(0, width - 1)).rstrip() + "…" if width else ""


def columns(header: list[str], rows: list[list], *, width: int, right=(), squeeze: int = -1,
            min_squeeze: int = 12, caps: dict[int, int] | None = None,
            then: tuple[tuple[int, int], ...] = ()) -> list[list[tuple[str, str]]]:
    """A borderless table: a bold header, then one line per row, each column as wide as its widest
    cell. Column `squeeze` (the free text) gives up room when the line would be wider than
    `width`; its cells end in an ellipsis; then each (column, narrowest) of `then` in turn, if
    the line is still too wide. `caps`: {column: widest}, whatever the room (a 200-character name
    must not push the other columns away). A cell is a str (ours) or (text, style), the text
    already literal (`neutralise`d). Returns the lines as (text, style) pieces, for `write_lines`.

    Strings and tuples, not a rich Text per cell: linear in the rows and cheap per row, so that
    `leads --limit 10000` prints in well under a second (bench/leads_cold.py); a Text per cell and
    rstrip() of the whole output per row took minutes."""
    cells = [[(h, "bold") for h in header]] + [
        [(c, "") if isinstance(c, str) else c for c in row] for row in rows]
    widths = [max(_width(row[i][0]) for row in cells) for i in range(len(header))]
    for i, cap in (caps or {}).items():
        widths[i] = min(widths[i], max(cap, _width(header[i])))
    for i, narrowest in ((squeeze % len(header), min_squeeze), *then):
        over = sum(widths) + 2 * (len(widths) - 1) - width
        if over > 0:
            widths[i] = max(min(narrowest, widths[i]), widths[i] - over)
    last = len(widths) - 1
    lines = []
    for row in cells:
        line = []
        for i, ((text, style), w) in enumerate(zip(row, widths)):
            text = _fit(text, w)
            pad = " " * (w - _width(text))
            if i in right and pad:
                line.append((pad, ""))
            line.append((text, style))
            if i not in right and pad and i < last:
                line.append((pad, ""))
            if i < last:
                line.append(("  ", ""))
        while line and not line[-1][0].strip():   # no trailing blanks
            line.pop()
        lines.append(line)
    return lines


def write_lines(console, lines: list[list[tuple[str, str]]]) -> None:
    """Write (text, style) lines to the console's file: styles as rich renders them for this
    terminal (none when not a terminal), each line cut at the console's width."""
    from rich.console import COLOR_SYSTEMS

    system = COLOR_SYSTEMS.get(console.color_system) if console.color_system else None
    styles: dict = {}
    out = []
    for line in lines:
        room, pieces = console.width, []
        for text, style in line:
            if room <= 0:
                break
            text = _fit(text, room)
            room -= _width(text)
            if style and system is not None:
                if style not in styles:
                    styles[style] = console.get_style(style)
                text = styles[style].render(text, color_system=system)
            pieces.append(text)
        out.append("".join(pieces) + "\n")
    console.file.write("".join(out))
    console.file.flush()


STATUS_STYLES = {"new": "bold", "texted": "", "replied": "bold yellow", "booked": "green",
                 "done": "bold green", "called_back": "cyan",
                 "lost": "dim", "opted_out": "red"}
UNREAD_MARK = "●"
LEADS_HEADER = ["#", "name", "phone", "status", "missed", "last message", "last activity", ""]
NAME_CHARS = 24  # the widest the name column gets: the rest of a long name is "…"
PREVIEW_CHARS = 80  # of the latest message; the column then shrinks to the terminal's width


def status_label(lead: dict) -> str:
    """ "booked", or "booked, opted out": consent (STOP) is not a job status, and must stay in
    sight whatever the owner marks the lead."""
    status = lead["status"].replace("_", " ")
    if lead.get("opted_out") and lead["status"] != "opted_out":
        status += ", opted out"
    return status


def leads(rows, *, as_json: bool = False, console=None, title: str | None = None,
          now: float | None = None, filtered: bool = False, tz=None) -> None:
    """The leads listing. Borderless columns rather than a rich Table: `textback leads` must start
    in under twice a bare click command (bench/leads_cold.py) and a Table of 50 rows renders in
    ~40 ms where this takes ~8 ms (rich 13, x86_64). `tz`: show clock times there, and say so."""
    if as_json:
        print_json(rows)
        return
    console = _console(console)
    if not rows:
        console.print("No leads match." if filtered else "No leads yet.")
        return
    table = [[str(row["id"]), cell(row.get("name")), cell(row["number"]),
              cell(status_label(row), STATUS_STYLES.get(
                  "opted_out" if row.get("opted_out") else row["status"], "")),
              str(row.get("missed_calls") or 0),
              cell(" ".join((row.get("preview") or "")[:PREVIEW_CHARS].split())),
              _when(row.get("last_activity_at"), now, tz),
              (UNREAD_MARK, "bold yellow") if row.get("unread") else ""]
             for row in rows]
    if title:
        console.print(literal(title, "bold"))
    # The name gives up room after the message preview, then the preview goes: the number, the
    # status and the last activity always show.
    lines = columns(LEADS_HEADER, table, width=console.width, right=(0, 4), squeeze=5,
                    caps={1: NAME_CHARS}, then=((1, 10), (5, 0)))
    if tz is not None:   # said once below, not in the header: the table must fit 80 columns
        lines.append([(f"(times in {zone_name(tz)})", "dim")])
    write_lines(console, lines)


def _what_happened(row) -> str:
    if row["action"] == "skipped":
        return f"skipped: {row.get('reason') or 'no reason given'}"
    if row["action"] == "failed":
        return f"text failed: {row.get('reason') or ''}".rstrip(": ")
    return {"sent": "texted", "queued": "text queued", "recorded": "no text"}.get(
        row["action"], row["action"])


def calls(rows, *, as_json: bool = False, console=None, now: float | None = None,
          tz=None, filtered: bool = False) -> None:
    if as_json:
        print_json(rows)
        return
    table = _table("when", "phone", "outcome", "how", "rings>", "text-back",
                   caption=f"(times in {zone_name(tz)})" if tz is not None else None)
    for row in rows:
        table.add_row(_when(row.get("ended_at"), now, tz), literal(row.get("number") or "withheld"),
                      literal(row["outcome"]), literal(row.get("how") or ""), str(row["rings"]),
                      literal(_what_happened(row)))
    _console(console).print(table if rows else "No calls match." if filtered else "No calls yet.")


def _event_line(event) -> tuple[str, object]:
    """(what, detail) for one timeline event."""
    from rich.text import Text

    kind = event["event"]
    if kind == "call":
        rings = f", {event['rings']} ring{'s' if event['rings'] != 1 else ''}"
        return (f"call {event['outcome']}",
                literal(f"{event['how'] or ''}{rings}; {_what_happened(event)}", "dim"))
    if kind == "text_out":
        state = event["status"] or "recorded"
        if event["status"] == "failed" and event.get("error"):
            state += f": {event['error']}"
        return (f"text out ({event['kind']})",
                Text.assemble(literal(event["body"]), literal(f"  [{state}]", "dim")))
    if kind == "text_in":
        if event["kind"] == "mms_notice":
            return ("picture note", literal(event["body"], "dim"))
        if event["kind"] == "mms_unopened":   # the modem path: a notification only
            return ("picture message", literal(event["body"]))
        detail = (Text.assemble(literal(event["body"], "bold")) if event["body"] else
                  Text("(an empty text)" if not event.get("attachments") else "", style="dim"))
        for part in event.get("attachments", []):
            size = part.get("size")
            size = (f", {size} bytes" if size and size < 1000 else
                    f", {size / 1000:.0f} kB" if size else "")
            line = (f"{part['kind']}: {part['path']}{size}" if part["path"] else
                    f"{part['kind']} not kept: {part['problem']}")
            if part["path"] and part.get("problem"):
                line += f" ({part['problem']})"
            detail.append("\n" if detail.plain else "").append(literal(line, "dim"))
        return ("text in" if not event.get("attachments") else "picture message", detail)
    if kind == "opt_out":
        return ("opted out", literal("no texts to this number until they text START", "dim"))
    change = f"{event['old'] or '-'} -> {event['new']}"
    return (f"{kind}", literal(change + (f": {event['note']}" if event.get("note") else "")))


def timeline(lead: dict, events, *, tz, console=None) -> None:
    from rich.text import Text

    console = _console(console)
    head = Text.assemble((f"#{lead['id']} ", "bold"), literal(lead.get("name") or "", "bold"),
                         " " if lead.get("name") else "", literal(lead["number"]),
                         f"  {status_label(lead)}, {lead['missed_calls']} missed "
                         f"call{'s' if lead['missed_calls'] != 1 else ''}")
    console.print(head)
    table = _table(f"when ({zone_name(tz)})", "what", "detail")
    table.columns[2].overflow = "fold"  # a photo's path is shown whole, folded, never cut
    for event in events:
        what, detail = _event_line(event)
        table.add_row(_local(event["at"], tz), what, detail)
    console.print(table if events else "Nothing recorded yet.")
    kept = [(event["at"], part) for event in events for part in event.get("attachments", [])
            if part["path"]]
    if kept:  # whole paths, one a line, never wrapped: to open or copy
        console.print(f"Files this lead sent (kept in {Path(kept[0][1]['path']).parent}):")
        for at, part in kept:
            console.print(Text.assemble(f"  {_local(at, tz)}  {part['kind']}: ",
                                        literal(part["path"])), soft_wrap=True)


def describe(segs) -> str:
    """ "1 part, GSM-7 (56/160)"; for UCS-2 names what forced it."""
    from gateway.render import LIMITS

    single, multi = LIMITS[segs.encoding]
    room = single if segs.parts == 1 else multi * segs.parts
    text = (
        f"{segs.parts} part{'s' if segs.parts != 1 else ''}, {segs.encoding} ({segs.units}/{room})"
    )
    if segs.ucs2_chars:
        text += " because of " + " ".join(neutralise(repr(ch)) for ch in segs.ucs2_chars[:5])
    return text


BAR_WIDTH = 40  # characters for the longest bar in `textback stats`
WEEK_HEADER = ["week of", "missed", "texted", "replied", "booked", "median to text", "reviews"]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 3600 else f"{seconds / 3600:.1f} h"


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate * 100:.0f}%"


def stats(figures: dict, *, as_json: bool = False, console=None) -> None:
    if as_json:
        import sys

        sys.stdout.write(json_text(figures))
        return
    from rich.text import Text

    f = figures
    console = _console(console)
    lines = [
        f"Last {f['days']} day(s), {f['from']} to {f['to']}",
        f"  missed calls      {f['missed']}",
        f"  texted back       {f['texted']}",
        f"  time to text      median {_duration(f['median_seconds'])}, "
        f"worst {_duration(f['worst_seconds'])}",
        f"  replied           {f['replied']} of {f['texted_leads']} leads texted "
        f"({_percent(f['reply_rate'])})",
        f"  booked            {f['booked']} of {f['leads']} leads ({_percent(f['booked_rate'])})",
        f"  review requests   {f['reviews']}",
        f"  opted out         {f['opt_outs']}",
    ]
    console.print(Text("\n".join(lines)))
    week_rows = [[datetime.fromisoformat(w["week"]).strftime("%b %d"), str(w["missed"]),
                  str(w["texted"]), f"{w['replied']} ({_percent(w['reply_rate'])})",
                  f"{w['booked']} ({_percent(w['booked_rate'])})", _duration(w["median_seconds"]),
                  str(w["reviews"])] for w in f["per_week"]]
    console.print(Text("\nper week (Monday to Sunday)"))
    write_lines(console, columns(WEEK_HEADER, week_rows, width=console.width,
                                 right=(1, 2, 3, 4, 5, 6)))
    peak = max([d["missed"] for d in f["per_day"]] + [1])
    chart = Text("\nmissed calls a day (█ texted, ░ not texted)\n")
    for day in f["per_day"]:
        texted = round(day["texted"] * BAR_WIDTH / peak)
        rest = round(day["missed"] * BAR_WIDTH / peak) - texted
        label = datetime.fromisoformat(day["day"]).strftime("%a %b %d")
        if not day["missed"]:
            chart.append(f"{label}\n")
            continue
        chart.append(f"{label}  ").append("█" * texted, "green").append("░" * max(rest, 0), "red")
        chart.append(f" {day['missed']}\n")
    console.print(chart, end="")


def templates(rows, *, as_json: bool = False, caller: str = "", console=None) -> None:
    if as_json:
        print_json(rows)
        return
    from rich.text import Text

    console = _console(console)
    for row in rows:
        head = Text.assemble((row["name"], "bold"), "  ", literal(describe_row(row), "dim"))
        console.print(head)
        console.print(Text("  ") + literal(row["text"]))
    console.print(Text(f"(a caller with no name on file, number {caller})" if caller else "",
                       style="dim"))


def describe_row(row: dict) -> str:
    from gateway.render import Segments

    return describe(Segments(row["encoding"], row["parts"], row["units"], tuple(row["ucs2_chars"])))


def health(rows, *, as_json: bool = False, console=None) -> None:
    if as_json:
        print_json(rows)
        return
    from rich.text import Text

    console = _console(console)
    width = max(len(row["check"]) for row in rows) + 2
    marks = {True: ("ok", "green"), False: ("!!", "bold red"), None: ("  ", "")}
    out = Text()
    for row in rows:
        mark, style = (" !", "bold yellow") if row.get("warn") else marks[row["ok"]]
        out.append(f"{mark} ", style).append(f"{row['check']:<{width}}").append(
            literal(row["value"])).append("\n")
    fixes = [row for row in rows if row["ok"] is False]
    if fixes:
        out.append("\nNeeds attention:\n", "bold")
        for row in fixes:
            out.append(f"  {row['check']}: {row['fix']}\n")
    console.print(out, end="")


# Spreadsheets run a cell that starts with one of these as a formula (OWASP "CSV injection"):
# a customer's text must stay text.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str | None) -> str | None:
    """Customer text for a spreadsheet: escape sequences visible, never a formula."""
    if value is None:
        return None
    value = neutralise(value)
    return "'" + value if value.startswith(FORMULA_START) else value


def export_csv(rows) -> str:
    """One row per message; customer text as `_cell` makes it (the JSON export keeps it exact)."""
    import csv
    import io

    from gateway.app.reports import EXPORT_COLUMNS

    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(value) if key in ("name", "message") else value
                         for key, value in row.items()})
    return out.getvalue()


# -- the demo ------------------------------------------------------------------------------------
def demo_banner(cfg, scen, speed: float):
    from rich.text import Text

    start = scen.start.astimezone(cfg.business.timezone)
    return Text.assemble(
        ("textback demo", "bold"), " - the real daemon on a simulated modem (no hardware).\n",
        f"Business: {cfg.business.name}; the clock starts {start:%A %H:%M:%S} {start.tzname()} and "
        f"runs at {speed:g}x.\n")


class DemoSink:
    """Prints the daemon's events as they happen, one line each."""

    def __init__(self, console, tz, region: str) -> None:
        self.console = console
        self.tz = tz
        self.region = region

    def _who(self, number: str | None) -> str:
        from gateway.numbers import display

        return display(number, self.region) if number else "withheld number"

    def __call__(self, rec: dict) -> None:
        from rich.text import Text

        when = datetime.fromtimestamp(rec["at"], self.tz).strftime("%H:%M:%S")
        kind = rec["event"]
        line = Text(f"{when}  ", style="dim")
        if kind == "ringing":
            if not rec.get("number") and not rec.get("withheld"):
                return  # caller ID not in yet: the next ringing event names the caller
            line.append("ringing   ", style="yellow").append(self._who(rec.get("number")))
        elif kind == "call":
            style = "red" if rec["outcome"] == "missed" else "green"
            line.append(f"{rec['outcome']:<10}", style=style).append(self._who(rec.get("number")))
            line.append(f"  ({rec['how']}, {rec['rings']} ring(s))", style="dim")
        elif kind == "sms" and rec["status"] == "sent":
            label = "to owner  " if rec.get("kind") == "owner_alert" else "texted    "
            line.append(label, style="bold green").append(self._who(rec["to"]))
            line.append(": ").append(literal(rec["text"], style="italic"))
        elif kind == "sms":
            line.append(f"{rec['status']:<10}", style="magenta").append(self._who(rec.get("to")))
            line.append(f"  {rec.get('reason')}", style="dim")
        elif kind == "inbound" and rec.get("notice"):
            line.append("picture   ", style="cyan").append(self._who(rec["from"]))
            line.append(": ").append(literal(rec["text"], style="dim"))
        elif kind == "inbound":
            line.append("reply     ", style="bold cyan").append(self._who(rec["from"]))
            if rec.get("attachments"):
                line.append(f" sent {', '.join('a ' + a for a in rec['attachments'])}")
            line.append(": ").append(literal(rec["text"], style="italic"))
        elif kind == "link_warning":
            line.append("phone     ", style="bold yellow")
            line.append(literal(rec["text"] or "its health checks pass again"))
        elif kind == "send_error":
            line.append("send error", style="bold red")
            line.append(f" {rec['error']}: retrying in {rec['retry_in']:.0f} s", style="red")
        elif kind == "modem":
            line.append(
                f"modem ready: {rec.get('model')} (family {rec.get('family')})", style="cyan"
            )
        else:
            return
        self.console.print(line)


def demo_summary(counters):
    from rich.text import Text

    from gateway.app.store import TEXT_BACK_KINDS

    texted = sum(n for kind, n in counters.sent_by_kind.items() if kind in TEXT_BACK_KINDS)
    others = counters.texts_sent - texted
    to_owner = sum(n for kind, n in counters.sent_by_kind.items()
                   if kind.startswith("owner_") or kind == "digest")
    return Text(f"\n{counters.calls} calls, {counters.missed} missed, {texted} texted back, "
                f"{counters.skipped} not texted "
                f"({', '.join(f'{k}: {v}' for k, v in counters.by_reason.items()) or 'none'}); "
                f"{others} other text{'s' if others != 1 else ''} sent"
                + (f" ({to_owner} to the owner)" if to_owner else "")
                + f"; {counters.retries} retried after a modem error.")
