"""The call journal: call webhooks written down (fsync) before the phone hears our 2xx, and played
back into a fresh CallBook at start (docs/reliability.md, finding 5)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from gateway.phone.api import CALL_EVENTS

# s of call events the journal keeps for a restart: as far back as undecided calls are decided
# (gateway.app.conversation UNDECIDED_WINDOW); older ones were decided and recorded long since.
JOURNAL_KEEP = 6 * 3600.0


class CallJournal:
    """Call webhooks written down (fsync) before the phone hears our 2xx.

    CallGate never sends again what we accepted, and a call waits SETTLE s in the CallBook before it
    is decided: a crash in that wait lost the call (bench/crash_phone.py: 216 of 288 calls over 200
    kills). At start the journal is played into the fresh CallBook with the times it was received
    at, so a call comes out with the same key as before; one already recorded is not recorded, or
    texted, twice. JSON lines, readable by the owner only (it holds callers' numbers).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self, now: float) -> list[dict]:
        """The entries of the last JOURNAL_KEEP s, in order; a torn last line (a power cut
        mid-write) or any line that is not an entry is skipped."""
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        entries = []
        for line in text.splitlines():
            try:
                entry = json.loads(line)
                fresh = float(entry["at"]) >= now - JOURNAL_KEEP and entry["event"] in CALL_EVENTS
            except (ValueError, TypeError, KeyError):
                continue
            if fresh:
                entries.append(entry)
        return entries

    def add(self, entry: dict) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, (json.dumps(entry) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def rewrite(self, entries: list[dict]) -> None:
        """Keep only `entries` (atomically: a new file, fsync, rename)."""
        part = self.path.with_name(self.path.name + ".part")
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, "".join(json.dumps(e) + "\n" for e in entries).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(part, self.path)
