"""Everything the CLI prints: rich tables for people, JSON for programs.

Customer text is data: `literal()` is the one way text from outside (a caller's words, a number the
modem gave) reaches the terminal. Markup is never interpreted and control characters (escape
sequences, OSC title changes, bells) are shown as visible codes instead of being obeyed.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def neutralise(text: str) -> str:
    """Control characters become visible escapes: '\\x1b[2J' prints as the characters \\x1b[2J."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def literal(text: str | None, style: str = ""):
    from rich.text import Text

    return Text(neutralise(text or ""), style=style)  # Text() never parses [markup]


def _console(console=None):
    if console is not None:
        return console
    from rich.console import Console

    return Console(highlight=False)


def _ago(iso: str | None, now: datetime | None = None) -> str:
    if not iso:
        return ""
    then = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    seconds = int(((now or datetime.now(timezone.utc)) - then).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return "just now"


def print_json(rows) -> None:
    import sys

    sys.stdout.write(json.dumps(list(rows), ensure_ascii=False, indent=1) + "\n")


def leads(rows, *, as_json: bool = False, console=None, title: str | None = None) -> None:
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in ("#", "phone", "name", "status", "missed", "last message", "last activity"):
        table.add_column(column, no_wrap=True, overflow="ellipsis",
                         max_width=36 if column == "last message" else None,
                         justify="right" if column in ("#", "missed") else "left")
    for row in rows:
        table.add_row(str(row["id"]), literal(row["number"]), literal(row.get("name")),
                      literal(row["status"]), str(row.get("missed_calls") or 0),
                      literal((row.get("preview") or "")[:60]),
                      _ago(row.get("last_activity_at")))
    _console(console).print(table if rows else "No leads yet.")


def calls(rows, *, as_json: bool = False, console=None) -> None:
    if as_json:
        print_json(rows)
        return
    from rich.table import Table

    table = Table()
    for column in ("when", "phone", "outcome", "text-back", "why"):
        table.add_column(column)
    for row in rows:
        table.add_row(_ago(row.get("ended_at")), literal(row.get("number") or "withheld"),
                      literal(row["outcome"]), literal(row.get("action") or ""),
                      literal(row.get("reason") or ""))
    _console(console).print(table if rows else "No calls yet.")


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
            line.append("texted    ", style="bold green").append(self._who(rec["to"]))
            line.append(": ").append(literal(rec["text"], style="italic"))
        elif kind == "sms":
            line.append(f"{rec['status']:<10}", style="magenta").append(self._who(rec.get("to")))
            line.append(f"  {rec.get('reason')}", style="dim")
        elif kind == "send_error":
            line.append("send error", style="bold red")
            line.append(f" {rec['error']}: retrying in {rec['retry_in']:.0f} s", style="red")
        elif kind == "modem":
            line.append(f"modem ready: {rec.get('model')} (family {rec.get('family')})", style="cyan")
        else:
            return
        self.console.print(line)


def demo_summary(counters):
    from rich.text import Text

    return Text(f"\n{counters.calls} calls, {counters.missed} missed, {counters.texts_sent} texts "
                f"sent, {counters.retries} retried after a modem error, {counters.skipped} not texted "
                f"({', '.join(f'{k}: {v}' for k, v in counters.by_reason.items()) or 'none'}).")
