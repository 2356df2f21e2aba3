"""The phone's own call log, read over USB with `adb shell content query` (Android's
CallLog.Calls provider: TYPE 2 outgoing, 3 missed, 5 rejected).

CallGate has no call history and by default makes one attempt per webhook
(docs/reference/phone-apps.md, "Delivery"), so a call that rang while the daemon was
down is only in the phone's call log. Over USB the shell user can read it where its manifest holds
READ_CALL_LOG (recent Android; older Shell manifests lack it). Pure: text in, entries out.

`content query` prints one line per row (Android `cmds/content` ContentCommand):
    Row: 0 number=+15125550142, type=3, date=1700000000000, duration=0
and "No result found." when there is none. A value may itself hold ", " (a cached name), so a row
is cut only before ", key=".
"""
from __future__ import annotations

import re

from gateway import events as ev
from gateway.numbers import same_number

# The query as adb runs it. adb joins the arguments for the phone's shell, so the WHERE clause is
# quoted for that shell. CallLog.Calls.TYPE: 3 missed, 5 rejected (Android reference CallLog.Calls).
QUERY = ["shell", "content", "query", "--uri", "content://call_log/calls",
         "--projection", "number:type:date:duration", "--where", "'type IN (2,3,5)'"]
OUTGOING_TYPE, MISSED_TYPE, REJECTED_TYPE = 2, 3, 5   # 2: the owner called (called back)
OUTCOMES = {MISSED_TYPE: ev.MISSED, REJECTED_TYPE: ev.REJECTED}  # what an entry counts as

_ROW = re.compile(r"^Row:\s*\d+\s+(?P<fields>.*)$")
_FIELD = re.compile(r"(?:^|, )(?P<key>[A-Za-z_][A-Za-z0-9_]*)=")
# What Android stores instead of a number for a caller it could not name: empty, NULL, or the old
# sentinels "-1" unknown, "-2" private, "-3" payphone (CallerInfo / PhoneConstants).
_NO_NUMBER = re.compile(r"^(|NULL|null|-\d+)$")
# How the shell says it may not read the provider (a SecurityException from ContentCommand).
_REFUSALS = ("Permission Denial", "SecurityException", "Error while accessing provider",
             "requires android.permission")

Entry = tuple[str, int, float]  # (number, "" when withheld; CallLog type; start, epoch seconds)


def fields(row: str) -> dict[str, str]:
    """"number=+1..., type=3, name=Smith, Bob" -> {"number": "+1...", "type": "3", "name": ...}."""
    cuts = list(_FIELD.finditer(row))
    return {m["key"]: row[m.end():cuts[i + 1].start() if i + 1 < len(cuts) else len(row)].strip()
            for i, m in enumerate(cuts)}


def parse(output: str) -> tuple[Entry, ...]:
    """The rows that carry a type and a date, oldest first. Anything else is ignored; never
    raises."""
    entries = []
    for line in output.splitlines():
        m = _ROW.match(line.strip())
        if not m:
            continue
        row = fields(m["fields"])
        try:
            type_, at = int(row["type"]), int(row["date"]) / 1000.0  # date: epoch milliseconds
        except (KeyError, ValueError):
            continue
        number = row.get("number", "").strip()
        entries.append(("" if _NO_NUMBER.match(number) else number, type_, at))
    return tuple(sorted(entries, key=lambda e: e[2]))


def refused(output: str) -> bool:
    """The shell could not read the call log (no READ_CALL_LOG), whatever the exit code said:
    adbd before shell protocol v2 always exits 0."""
    return any(words in output for words in _REFUSALS)


# What the log tells the daemon (events.MissedLog): the calls a text-back may be owed for, and the
# owner's own calls out (a lead called back gets no follow-up).
LOG_KINDS = {**OUTCOMES, OUTGOING_TYPE: ev.PLACED}


def missed(entries) -> tuple[tuple[str, str, float], ...]:
    """The entries the daemon acts on, as (number, outcome, time): missed and rejected calls, and
    calls the owner placed (events.PLACED) (events.MissedLog)."""
    return tuple((number, LOG_KINDS[type_], at) for number, type_, at in entries
                 if type_ in LOG_KINDS)


def find(entries, number: str, start: float, end: float) -> tuple[str, int, float] | None:
    """The missed or rejected entry for `number` that rang between `start` and `end`, if any."""
    for entry in entries:
        if entry[0] and same_number(entry[0], number) and start <= entry[2] <= end \
                and entry[1] in OUTCOMES:
            return entry
    return None
