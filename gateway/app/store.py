"""The lead database: calls, leads, messages, the outbox and opt-outs, in one SQLite file.

The file opens as-is in Datasette: plain tables, foreign keys, times as ISO-8601 UTC text
("2026-11-28T16:00:00.123Z"). The Python API takes and returns epoch float seconds (millisecond
precision). SQL lives here and, for what people read (leads, calls, a lead's story, stats), in
gateway/app/reports.py: nowhere else.

Crash safety of the outbox (at-least-once): `mark_sending` commits before the modem sees a byte. A
row still "sending" when a Store opens means the process died between handing the text to the modem
and recording the result; the text may or may not have gone. `due()` offers it again, once per open,
and counts it in state "resent_after_crash": a contractor would rather a caller got a rare duplicate
than no text at all.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import stat
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from gateway.app.dbfile import explain as _explain
from gateway.app.dbfile import inspect, read_only, refuse_read_only
from gateway.app.policy import Facts
from gateway.clock import epoch, iso
from gateway.errors import StoreError
from gateway.events import ANSWERED, CallEnded

log = logging.getLogger(__name__)

# The statuses migration 001 allowed (never change: a shipped migration is never edited)...
STATUSES_001 = ("new", "texted", "replied", "booked", "lost", "opted_out")
# ... and today's: called back (the owner called from the phone: no follow-up) and the finished
# job came after 0.2.0; migration 005 lets the table hold them.
LEAD_STATUSES = STATUSES_001 + ("called_back", "done")
CALL_ACTIONS = ("queued", "skipped", "sent", "failed", "recorded")
OUTBOX_STATUSES = ("queued", "sending", "sent", "failed")
# Outgoing kinds that count as an automatic text-back (cooldown); the daemon uses the template name.
TEXT_BACK_KINDS = ("text_back", "missed_call", "after_hours")
# Outgoing kinds that count against the daily cap: everything the daemon sends on its own.
AUTOMATIC_KINDS = TEXT_BACK_KINDS + ("follow_up", "review")
BUSY_TIMEOUT = 5.0  # seconds a write waits for another connection (the CLI reading) to let go
LITESTREAM_AUTOCHECKPOINT = 10_000  # pages; SQLite's default is 1,000 (pragma.html)


@dataclass(frozen=True)
class Outgoing:
    """One text the outbox says is due."""

    id: int
    message_id: int
    call_id: int | None
    number: str
    body: str
    kind: str
    attempts: int   # attempts made so far (mark_sending adds one)
    status: str     # "queued", or "sending" for a text offered again after a crash
    queued_at: str = ""  # as stored: with the row id, it names the text for the phone link


def _consent_note(word: str, message_id: int | None) -> str:
    return f"{word} by text" + (f" (message {message_id})" if message_id else "")


def _migrations():
    from sqlite_utils import Migrations

    migrations = Migrations("textback")

    # Named and ordered; never edit one that has shipped: add a new one.
    @migrations(name="001_initial")
    def initial(db) -> None:
        def enum(column, values):
            return f"CHECK ({column} IN ({', '.join(repr(v) for v in values)}))"

        db.execute(f"""CREATE TABLE leads (
            id INTEGER PRIMARY KEY,
            number TEXT NOT NULL UNIQUE,
            name TEXT,
            status TEXT NOT NULL DEFAULT 'new' {enum('status', STATUSES_001)},
            created_at TEXT NOT NULL,
            last_activity_at TEXT NOT NULL,
            missed_calls INTEGER NOT NULL DEFAULT 0,
            unread INTEGER NOT NULL DEFAULT 0)""")
        db.execute(f"""CREATE TABLE calls (
            id INTEGER PRIMARY KEY,
            key TEXT NOT NULL UNIQUE,
            number TEXT,
            raw_number TEXT,
            withheld INTEGER NOT NULL DEFAULT 0,
            outcome TEXT NOT NULL,
            how TEXT,
            started_at TEXT NOT NULL,
            ended_at TEXT NOT NULL,
            rings INTEGER NOT NULL DEFAULT 0,
            lead_id INTEGER REFERENCES leads(id),
            action TEXT NOT NULL DEFAULT 'recorded' {enum('action', CALL_ACTIONS)},
            reason TEXT,
            recovered INTEGER NOT NULL DEFAULT 0)""")
        db.execute("""CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            lead_id INTEGER NOT NULL REFERENCES leads(id),
            call_id INTEGER REFERENCES calls(id),
            direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
            number TEXT NOT NULL,
            body TEXT NOT NULL,
            kind TEXT NOT NULL,
            created_at TEXT NOT NULL)""")
        db.execute(f"""CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL UNIQUE REFERENCES messages(id),
            dedupe_key TEXT NOT NULL UNIQUE,
            status TEXT NOT NULL DEFAULT 'queued' {enum('status', OUTBOX_STATUSES)},
            attempts INTEGER NOT NULL DEFAULT 0,
            send_at TEXT NOT NULL,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            modem_ref INTEGER,
            sent_at TEXT,
            queued_at TEXT NOT NULL)""")
        db.execute("""CREATE TABLE opt_outs (
            number TEXT PRIMARY KEY,
            opted_out_at TEXT NOT NULL,
            message_id INTEGER REFERENCES messages(id))""")
        db.execute("CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT)")
        # leads(): newest activity first; calls(): newest first; due()/next_due_at(): the queue;
        # facts(): texts to one number since a time; the preview: a lead's latest message.
        db.execute("CREATE INDEX leads_by_activity ON leads (last_activity_at)")
        db.execute("CREATE INDEX calls_by_end ON calls (ended_at)")
        db.execute("CREATE INDEX calls_by_lead ON calls (lead_id)")
        db.execute("CREATE INDEX outbox_by_due ON outbox (status, next_attempt_at)")
        db.execute("CREATE INDEX messages_by_number ON messages (number, direction, created_at)")
        db.execute("CREATE INDEX messages_by_lead ON messages (lead_id, created_at)")
        db.execute("CREATE INDEX messages_by_call ON messages (call_id)")

    @migrations(name="002_inbound")
    def inbound(db) -> None:
        # A received text is recorded once: a restart between recording it and deleting it from the
        # SIM (or the phone) reads it again, and the key says it is already in.
        db.execute("ALTER TABLE messages ADD COLUMN dedupe_key TEXT")
        # Texts to the owner's own phone (alerts, the digest) belong to no lead.
        db["messages"].transform(not_null={"lead_id": False})
        db.execute("CREATE UNIQUE INDEX messages_by_dedupe ON messages (dedupe_key) "
                   "WHERE dedupe_key IS NOT NULL")

    @migrations(name="003_lead_changes")
    def lead_changes(db) -> None:
        # What the owner did to a lead (status, name), with their note: the timeline shows it.
        db.execute("""CREATE TABLE lead_changes (
            id INTEGER PRIMARY KEY,
            lead_id INTEGER NOT NULL REFERENCES leads(id),
            field TEXT NOT NULL CHECK (field IN ('status', 'name')),
            old TEXT,
            new TEXT,
            note TEXT,
            changed_at TEXT NOT NULL)""")
        db.execute("CREATE INDEX lead_changes_by_lead ON lead_changes (lead_id, changed_at)")
        # `textback leads --status replied` on a big database: walk one status, newest first.
        db.execute("CREATE INDEX leads_by_status ON leads (status, last_activity_at)")

    @migrations(name="004_attachments")
    def attachments(db) -> None:
        # The parts of a picture message (MMS) a lead sent: a file beside the database when kept
        # (path), or the reason it is not (problem). One row per part, whatever became of it.
        db.execute("""CREATE TABLE attachments (
            id INTEGER PRIMARY KEY,
            message_id INTEGER NOT NULL REFERENCES messages(id),
            part TEXT NOT NULL,
            content_type TEXT NOT NULL,
            name TEXT,
            size INTEGER,
            kind TEXT NOT NULL,
            path TEXT,
            problem TEXT,
            created_at TEXT NOT NULL,
            UNIQUE (message_id, part))""")

    @migrations(name="005_done_and_called_back", transactional=False)
    def more_statuses(db) -> None:
        _widen_statuses(db, LEAD_STATUSES)

    return migrations


def _widen_statuses(db, statuses: tuple[str, ...]) -> None:
    """Let leads.status hold `statuses`: SQLite cannot change a CHECK in place, so the table is
    made anew and the rows copied (sqlite.org/lang_altertable.html, "other kinds of table schema
    changes"), with foreign keys off for the swap and checked before the commit. Run again after a
    crash between the swap and its record, it finds the work done and does nothing."""
    import re

    sql = db.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'leads'"
                     ).fetchone()[0]
    wanted = f"CHECK (status IN ({', '.join(repr(v) for v in statuses)}))"
    if wanted in sql:
        return
    new_sql, count = re.subn(r"CHECK \(status IN \([^)]*\)\)", wanted, sql)
    if count != 1:
        raise sqlite3.DatabaseError("the leads table is not as textback made it (no status check)")
    new_sql = new_sql.replace("CREATE TABLE leads", "CREATE TABLE leads_new", 1)
    if db.conn.in_transaction:
        db.conn.commit()
    db.execute("PRAGMA foreign_keys = OFF")   # a no-op inside a transaction: hence not in one
    try:
        with db.atomic():
            db.execute(new_sql)
            db.execute("INSERT INTO leads_new SELECT * FROM leads")
            db.execute("DROP TABLE leads")
            db.execute("ALTER TABLE leads_new RENAME TO leads")
            db.execute("CREATE INDEX leads_by_activity ON leads (last_activity_at)")
            db.execute("CREATE INDEX leads_by_status ON leads (status, last_activity_at)")
            if db.execute("PRAGMA foreign_key_check").fetchall():
                raise sqlite3.IntegrityError("FOREIGN KEY constraint failed after the swap")
    finally:
        db.execute("PRAGMA foreign_keys = ON")


# The service's database lives in /var/lib/textback, setgid and group textback (2770: tmpfiles.d
# and the unit's StateDirectoryMode): the owner's login, in that group, reads and writes it too.
# SQLite makes the -wal and -shm files with the database's mode (os_unix.c, robust_open callers
# use the main file's st_mode), and a WAL reader must be able to write the -shm, so in such a
# folder all three are 0660. Anywhere else (a personal install) the database is its owner's only.
PRIVATE, SHARED = 0o600, 0o660
SIDE_FILES = ("-wal", "-shm")


def _mode_for(folder: Path) -> int:
    return SHARED if folder.stat().st_mode & stat.S_ISGID else PRIVATE


def _create_private(path: Path) -> None:
    """Create the file before SQLite does (it holds customers' numbers), with the mode its folder
    calls for (_mode_for); fix the mode of an existing one, and of its -wal and -shm, if ours."""
    try:
        if not path.parent.is_dir():
            path.parent.mkdir(parents=True, mode=0o700)
        mode = _mode_for(path.parent)
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, mode)
    except FileExistsError:
        if not path.exists():   # a file where a folder on the way should be
            raise StoreError(f"cannot create the lead database {path}: a file is in the way",
                             hint="pass --db FILE with a path in an existing folder") from None
        for each in (path, *(path.with_name(path.name + s) for s in SIDE_FILES)):
            _fix_mode(each, mode)
        return
    except OSError as exc:
        raise StoreError(f"cannot create the lead database {path}: {exc.strerror}",
                         hint="check the folder exists and is writable, or pass --db FILE") from exc
    os.fchmod(fd, mode)  # the umask may have taken bits away, never added them; be exact anyway
    os.close(fd)


def _fix_mode(path: Path, mode: int) -> None:
    """Others never read it; in a shared folder the group reads and writes it (0660)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return
    if not stat.S_ISREG(info.st_mode):
        return   # never chmod a device (/dev/null) or anything else that is not our file
    now = stat.S_IMODE(info.st_mode)
    if now == mode or (mode == PRIVATE and not now & 0o077):
        return
    if info.st_uid != os.geteuid():   # the daemon's file, seen by the owner: not ours to change
        if now & 0o007:
            log.warning("lead database %s is readable by others (mode %o)", path, now)
        return
    if now & 0o077 & ~mode:
        log.warning("lead database %s was readable by others (mode %o); setting %04o",
                    path, now, mode)
    os.chmod(path, mode)


class Store:
    def __init__(self, path: str | Path, *, busy_timeout: float = BUSY_TIMEOUT):
        """Open (creating, migrating) the database; StoreError if locked, read-only, not a db."""
        from sqlite_utils import Database

        self.path = Path(path)
        inspect(self.path)          # someone else's file is refused before anything touches it
        refuse_read_only(self.path)
        _create_private(self.path)
        try:
            self.db = Database(sqlite3.connect(self.path, timeout=busy_timeout))
        except sqlite3.Error as exc:
            raise _explain(exc, self.path) from exc
        try:
            self.db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            # WAL: the CLI can read while the daemon writes (sqlite.org/wal.html).
            self.db.execute("PRAGMA journal_mode = WAL")
            # FULL, not NORMAL: in WAL mode NORMAL skips the fsync at each commit, so a power cut
            # can lose the last commits (sqlite.org/pragma.html#pragma_synchronous). A committed
            # "text queued" or "sending" must survive the Pi losing power, or we text twice or
            # never.
            self.db.execute("PRAGMA synchronous = FULL")
            self.db.execute("PRAGMA foreign_keys = ON")
            _migrations().apply(self.db)
            # Rows left "sending" by a process that died mid-send: offered again by due().
            self._orphans = {row[0] for row in self.db.execute(
                "SELECT id FROM outbox WHERE status = 'sending'").fetchall()}
        except sqlite3.Error as exc:
            self.db.close()
            raise _explain(exc, self.path) from exc
        if self._orphans:
            log.warning("%d text(s) were being sent when textback stopped; they will be sent again",
                        len(self._orphans))
        self._recounted: set[int] = set()

    @classmethod
    def read_only(cls, path: str | Path, *, busy_timeout: float = BUSY_TIMEOUT) -> Store:
        """The same Store for reading only (`read_only` above): no migration, no chmod, no new
        file; a write through it is a StoreError."""
        from sqlite_utils import Database

        self = cls.__new__(cls)
        self.path = Path(path)
        self.db = Database(read_only(self.path, busy_timeout))
        self._orphans, self._recounted = set(), set()
        return self

    def close(self) -> None:
        self.db.close()

    def leave_checkpoints_to_litestream(self) -> None:
        """With [backup] on, Litestream checkpoints the WAL itself, once it has copied it (every
        1,000 pages or minute, db.go). Our automatic checkpoint at the same 1,000 pages would
        race it; at 10,000 (Litestream's advice in its SQLITE_INTERNALS.md) it only bounds the
        WAL (about 40 MB) while Litestream is not running. docs/reference/litestream.md."""
        self.db.execute(f"PRAGMA wal_autocheckpoint = {LITESTREAM_AUTOCHECKPOINT}")

    @contextmanager
    def _write(self):
        """One transaction, committed before returning; SQLite errors become StoreError.

        BEGIN IMMEDIATE, not sqlite-utils' deferred BEGIN: a deferred transaction that reads, then
        writes, after another connection committed cannot wait its turn (SQLITE_BUSY at once, the
        busy timeout unused: sqlite.org/lang_transaction.html, "Read transactions"); owner's
        commands run beside the daemon failed so. Immediate ones queue on the busy timeout."""
        try:
            if self.db.conn.in_transaction:
                with self.db.atomic():   # nested: a savepoint
                    yield self.db
                return
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                if self.db.conn.in_transaction:
                    self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise _explain(exc, self.path) from exc

    def _one(self, sql: str, params=()):
        return self.db.execute(sql, params).fetchone()

    # -- calls and leads ---------------------------------------------------------------------
    def _touch_lead(self, number: str, now: float, *, missed: int = 0) -> int:
        self.db.execute(
            "INSERT INTO leads (number, status, created_at, last_activity_at, missed_calls) "
            "VALUES (?, 'new', ?, ?, ?) ON CONFLICT (number) DO UPDATE SET "
            "last_activity_at = max(last_activity_at, excluded.last_activity_at), "
            "missed_calls = missed_calls + excluded.missed_calls",
            (number, iso(now), iso(now), missed))
        return self._one("SELECT id FROM leads WHERE number = ?", (number,))[0]

    def record_call(self, ended: CallEnded, number: str | None, *, key: str, now: float,
                    recovered: bool = False) -> tuple[int, bool]:
        """(call id, created). The same key again returns the existing row and writes nothing.

        A call that was not answered, from a usable number, creates or updates its lead."""
        with self._write():
            row = self._one("SELECT id FROM calls WHERE key = ?", (key,))
            if row:
                return row[0], False
            lead_id: int | None
            if number is not None and ended.outcome != ANSWERED:
                lead_id = self._touch_lead(number, now, missed=1)
            elif number is not None:
                found = self._one("SELECT id FROM leads WHERE number = ?", (number,))
                lead_id = found[0] if found else None
            else:
                lead_id = None
            call_id = self.db.table("calls").insert({
                "key": key, "number": number, "raw_number": ended.number,
                "withheld": int(ended.withheld), "outcome": ended.outcome, "how": ended.how,
                "started_at": iso(ended.started), "ended_at": iso(ended.ended),
                "rings": ended.rings, "lead_id": lead_id, "action": "recorded",
                "recovered": int(recovered),
            }).last_pk
        return cast(int, call_id), True

    def set_call_action(self, call_id: int, action: str, reason: str | None = None) -> None:
        if action not in CALL_ACTIONS:
            raise ValueError(f"unknown call action {action!r}; one of {', '.join(CALL_ACTIONS)}")
        with self._write():
            self.db.execute("UPDATE calls SET action = ?, reason = ? WHERE id = ?",
                            (action, reason, call_id))

    def record_opt_out(self, number: str, *, now: float, message_id: int | None = None,
                       word: str = "stop") -> bool:
        """The caller asked for no more texts (STOP, or words that mean it): remembered for good,
        lead marked opted_out. True when this is new (False: opted out already)."""
        with self._write():
            fresh = self.db.execute(
                "INSERT OR IGNORE INTO opt_outs (number, opted_out_at, message_id) "
                "VALUES (?, ?, ?)", (number, iso(now), message_id)).rowcount == 1
            lead_id = self._touch_lead(number, now)
            # Consent changes keep their history (time, the words and the message that caused them).
            said = word.upper() if " " not in word else f'"{word}"'
            if self._one("SELECT status FROM leads WHERE id = ?", (lead_id,))[0] != "opted_out":
                self._change(lead_id, "status", "opted_out", _consent_note(said, message_id), now)
        return fresh

    def facts(self, number: str, *, now: float, day_start: float) -> Facts:
        """What policy.decide needs about `number`. Failed texts count for neither cooldown
        nor cap."""
        opted = self._one("SELECT 1 FROM opt_outs WHERE number = ?", (number,)) is not None
        marks = lambda kinds: ", ".join("?" * len(kinds))  # noqa: E731
        last = self._one(
            "SELECT max(m.created_at) FROM messages m JOIN outbox o ON o.message_id = m.id "
            f"WHERE m.number = ? AND m.direction = 'out' AND m.kind IN ({marks(TEXT_BACK_KINDS)}) "
            "AND o.status != 'failed' AND m.created_at <= ?",
            (number, *TEXT_BACK_KINDS, iso(now)))[0]
        today = self._one(
            "SELECT count(*) FROM messages m JOIN outbox o ON o.message_id = m.id "
            f"WHERE m.direction = 'out' AND m.kind IN ({marks(AUTOMATIC_KINDS)}) "
            "AND o.status != 'failed' AND m.created_at >= ? AND m.created_at <= ?",
            (*AUTOMATIC_KINDS, iso(day_start), iso(now)))[0]
        return Facts(opted_out=opted, last_text_at=epoch(last), sent_today=today)

    # -- the outbox ----------------------------------------------------------------------------
    def queue_text(self, *, number: str, body: str, kind: str, dedupe_key: str, send_at: float,
                   now: float, call_id: int | None = None, to_lead: bool = True) -> int | None:
        """Message + outbox row in one transaction; the outbox id, or None if dedupe_key exists.

        `to_lead=False` for texts to the owner's own phone: they touch no lead."""
        with self._write():
            if self._one("SELECT 1 FROM outbox WHERE dedupe_key = ?", (dedupe_key,)):
                return None
            lead_id = self._touch_lead(number, now) if to_lead else None
            if to_lead:
                self.db.execute("UPDATE leads SET status = 'texted' WHERE id = ? "
                                "AND status = 'new'", (lead_id,))
            message_id = self.db.table("messages").insert({
                "lead_id": lead_id, "call_id": call_id, "direction": "out", "number": number,
                "body": body, "kind": kind, "created_at": iso(now)}).last_pk
            outbox_id = self.db.table("outbox").insert({
                "message_id": message_id, "dedupe_key": dedupe_key, "status": "queued",
                "attempts": 0, "send_at": iso(send_at), "next_attempt_at": iso(send_at),
                "queued_at": iso(now)}).last_pk
            if call_id is not None:
                self.db.execute("UPDATE calls SET action = 'queued', reason = NULL WHERE id = ?",
                                (call_id,))
        return outbox_id

    def due(self, now: float, limit: int = 20) -> list[Outgoing]:
        """Queued texts whose time has come, oldest first, after any left "sending" by a crash."""
        orphans = sorted(self._orphans)
        rows = self.db.execute(
            "SELECT o.id, o.message_id, m.call_id, m.number, m.body, m.kind, o.attempts, o.status, "
            "o.queued_at FROM outbox o JOIN messages m ON m.id = o.message_id "
            f"WHERE (o.status = 'sending' AND o.id IN ({', '.join('?' * len(orphans))})) "
            "OR (o.status = 'queued' AND o.next_attempt_at <= ?) "
            "ORDER BY o.status = 'queued', o.next_attempt_at, o.id LIMIT ?",
            (*orphans, iso(now), limit)).fetchall()
        out = [Outgoing(*row) for row in rows]
        fresh = [o.id for o in out if o.status == "sending" and o.id not in self._recounted]
        if fresh:
            self._recounted.update(fresh)
            with self._write():
                self.db.execute(
                    "INSERT INTO state (key, value) VALUES ('resent_after_crash', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + ?",
                    (str(len(fresh)), len(fresh)))
        return out

    def next_due_at(self) -> float | None:
        """When the next queued text is due (epoch s), or None when nothing waits."""
        if self._orphans:
            row = self._one("SELECT min(next_attempt_at) FROM outbox WHERE status = 'sending' "
                            f"AND id IN ({', '.join('?' * len(self._orphans))})",
                            tuple(self._orphans))
            if row[0] is not None:
                return epoch(row[0])
        return epoch(self._one(
            "SELECT min(next_attempt_at) FROM outbox WHERE status = 'queued'")[0])

    def _outbox_update(self, outbox_id: int, sql: str, params: tuple) -> int | None:
        """Run an UPDATE on one outbox row; the call id it belongs to. StoreError if no such row."""
        cur = self.db.execute(f"UPDATE outbox SET {sql} WHERE id = ?", (*params, outbox_id))
        if cur.rowcount != 1:
            raise StoreError(f"no outbox row {outbox_id} in {self.path}")
        self._orphans.discard(outbox_id)
        return self._one("SELECT m.call_id FROM outbox o JOIN messages m ON m.id = o.message_id "
                         "WHERE o.id = ?", (outbox_id,))[0]

    def hold(self, outbox_id: int, until: float) -> None:
        """Not yet (pacing, quiet hours): offered again at `until`; no attempt is counted."""
        with self._write():
            self._outbox_update(outbox_id, "status = 'queued', next_attempt_at = ?", (iso(until),))

    def sent_since(self, since: float) -> list[tuple[float, str, str, int]]:
        """(when, number, body, outbox id) of the texts sent since `since` (gateway.app.pacing)."""
        rows = self.db.execute(
            "SELECT o.sent_at, m.number, m.body, o.id FROM outbox o JOIN messages m ON m.id = "
            "o.message_id WHERE o.status = 'sent' AND o.sent_at >= ?", (iso(since),)).fetchall()
        return [(epoch(at) or 0.0, number, body, text_id) for at, number, body, text_id in rows]

    def mark_sending(self, outbox_id: int, now: float) -> None:
        """Committed BEFORE the modem is touched: a crash from here on means "maybe sent"."""
        with self._write():
            self._outbox_update(outbox_id, "status = 'sending', attempts = attempts + 1", ())

    def mark_sent(self, outbox_id: int, ref: int | str | None, now: float) -> None:
        with self._write():
            call_id = self._outbox_update(outbox_id, "status = 'sent', modem_ref = ?, sent_at = ?",
                                          (ref, iso(now)))
            if call_id is not None:
                self.db.execute("UPDATE calls SET action = 'sent', reason = NULL WHERE id = ?",
                                (call_id,))

    def mark_retry(self, outbox_id: int, error: str, next_attempt_at: float, now: float) -> None:
        with self._write():
            self._outbox_update(outbox_id, "status = 'queued', last_error = ?, next_attempt_at = ?",
                                (error, iso(next_attempt_at)))

    def mark_failed(self, outbox_id: int, error: str, now: float) -> None:
        with self._write():
            call_id = self._outbox_update(outbox_id, "status = 'failed', last_error = ?", (error,))
            if call_id is not None:
                self.db.execute("UPDATE calls SET action = 'failed', reason = ? WHERE id = ?",
                                (error, call_id))

    def set_state(self, key: str, value: str) -> None:
        with self._write():
            self.db.execute("INSERT INTO state (key, value) VALUES (?, ?) "
                            "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    def count_skipped(self, record: dict, now: float) -> None:
        """An input that was not acted on, with why: counted, the last kept for `textback status`
        ("inputs skipped")."""
        import json

        count = int(self.get_state("dropped_events") or 0) + 1
        self.set_state("dropped_last", json.dumps({"at": iso(now), **record}))  # ASCII: storable
        self.set_state("dropped_events", str(count))

    def get_state(self, key: str) -> str | None:
        row = self._one("SELECT value FROM state WHERE key = ?", (key,))
        return row[0] if row else None

    # -- texts received, and what the daemon asks about leads ----------------------------------
    def record_inbound(self, *, number: str, body: str, now: float, dedupe_key: str,
                       kind: str = "reply") -> tuple[int, int, bool]:
        """(message id, lead id, created). A reply makes a lead "replied" unless it is further
        on."""
        with self._write():
            row = self._one("SELECT id, lead_id FROM messages WHERE dedupe_key = ?", (dedupe_key,))
            if row:
                return row[0], row[1], False
            lead_id = self._touch_lead(number, now)
            self.db.execute("UPDATE leads SET unread = unread + 1, status = CASE WHEN status IN "
                            "('new', 'texted', 'called_back') THEN 'replied' ELSE status END "
                            "WHERE id = ?",
                            (lead_id,))
            message_id = self.db.table("messages").insert({
                "lead_id": lead_id, "direction": "in", "number": number, "body": body,
                "kind": kind, "created_at": iso(now), "dedupe_key": dedupe_key}).last_pk
        return cast(int, message_id), lead_id, True

    def has_attachment(self, message_id: int, part: str) -> bool:
        return self._one("SELECT 1 FROM attachments WHERE message_id = ? AND part = ?",
                         (message_id, part)) is not None

    def record_attachment(self, message_id: int, *, part: str, content_type: str,
                          name: str | None, size: int | None, kind: str, path: str | None,
                          problem: str | None, now: float) -> None:
        """One part of a received picture message: its file, or why there is none. Once."""
        with self._write():
            self.db.execute(
                "INSERT OR IGNORE INTO attachments (message_id, part, content_type, name, size, "
                "kind, path, problem, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (message_id, part, content_type, name, size, kind, path, problem, iso(now)))

    def attachment_path(self, message_id: int, part: str) -> str | None:
        row = self._one("SELECT path FROM attachments WHERE message_id = ? AND part = ?",
                        (message_id, part))
        return row[0] if row else None

    def call_action(self, call_id: int) -> str | None:
        row = self._one("SELECT action FROM calls WHERE id = ?", (call_id,))
        return row[0] if row else None

    def undecided_calls(self, since: float) -> list[dict]:
        """Calls recorded since `since` with no decision yet (action still 'recorded')."""
        rows = self.db.query(
            "SELECT id, key, number, raw_number, withheld, outcome, how, started_at, ended_at, "
            "rings, recovered FROM calls WHERE action = 'recorded' AND outcome != 'answered' "
            "AND ended_at >= ? ORDER BY ended_at", [iso(since)])
        return [{**row, "withheld": bool(row["withheld"]), "recovered": bool(row["recovered"]),
                 "started": epoch(row["started_at"]), "ended": epoch(row["ended_at"])}
                for row in rows]

    def record_opt_in(self, number: str, *, now: float, message_id: int | None = None) -> None:
        """START after STOP: texts may go to this number again (the history stays in
        lead_changes)."""
        with self._write():
            self.db.execute("DELETE FROM opt_outs WHERE number = ?", (number,))
            lead = self._one("SELECT id, status FROM leads WHERE number = ?", (number,))
            if lead and lead[1] == "opted_out":
                self._change(lead[0], "status", "replied", _consent_note("START", message_id), now)

    def lead(self, lead_id: int) -> dict | None:
        rows = list(self.db.query("SELECT * FROM leads WHERE id = ?", [lead_id]))
        return rows[0] if rows else None

    def lead_by_number(self, number: str) -> dict | None:
        rows = list(self.db.query("SELECT * FROM leads WHERE number = ?", [number]))
        return rows[0] if rows else None

    def missed_calls_since(self, number: str, since: float) -> tuple[int, float | None]:
        """(calls not answered from `number` since `since`, when the first of them ended)."""
        count, first = self._one(
            "SELECT count(*), min(ended_at) FROM calls WHERE number = ? "
            "AND outcome != 'answered' AND ended_at >= ?",
            (number, iso(since)),
        )
        return count, epoch(first)

    def follow_up_candidates(self, since: float) -> list[tuple[int, str, float]]:
        """(lead id, number, when the text-back was sent) for leads texted since `since` that
        never answered, are not booked, lost or opted out, and have had no follow-up yet."""
        marks = ", ".join("?" * len(TEXT_BACK_KINDS))
        rows = self.db.execute(
            "SELECT l.id, l.number, max(o.sent_at) FROM leads l "
            "JOIN messages m ON m.lead_id = l.id JOIN outbox o ON o.message_id = m.id "
            f"WHERE l.status = 'texted' AND m.kind IN ({marks}) AND o.status = 'sent' "
            "AND o.sent_at >= ? AND NOT EXISTS (SELECT 1 FROM messages f WHERE f.lead_id = l.id "
            "AND (f.kind = 'follow_up' OR f.direction = 'in')) GROUP BY l.id",
            (*TEXT_BACK_KINDS, iso(since))).fetchall()
        return [(lead_id, number, cast(float, epoch(sent))) for lead_id, number, sent in rows]

    def day_summary(self, start: float, end: float) -> dict:
        """The digest's figures for [start, end): missed calls, leads texted, replies waiting
        (unread leads), leads texted that never answered."""
        span = (iso(start), iso(end))
        missed = self._one("SELECT count(*) FROM calls WHERE outcome != 'answered' "
                           "AND ended_at >= ? AND ended_at < ?", span)[0]
        texted = self._one("SELECT count(DISTINCT m.lead_id) FROM messages m JOIN outbox o "
                           "ON o.message_id = m.id WHERE o.status = 'sent' AND o.sent_at >= ? "
                           "AND o.sent_at < ?", span)[0]
        waiting = [(row[0], row[1] or row[2]) for row in self.db.execute(
            "SELECT id, name, number FROM leads WHERE unread > 0 AND status NOT IN "
            "('booked', 'lost', 'opted_out') ORDER BY last_activity_at DESC").fetchall()]
        silent = self._one("SELECT count(*) FROM leads WHERE status = 'texted'")[0]
        return {"missed": missed, "texted": texted, "waiting": waiting, "unanswered": silent}

    # -- the owner's verbs ---------------------------------------------------------------------
    def _change(self, lead_id: int, field: str, new: str | None, note: str | None,
                now: float) -> None:
        old = self._one(f"SELECT {field} FROM leads WHERE id = ?", (lead_id,))
        if old is None:
            raise StoreError(f"no lead {lead_id} in {self.path}")
        self.db.execute(f"UPDATE leads SET {field} = ? WHERE id = ?", (new, lead_id))
        self.db.table("lead_changes").insert({"lead_id": lead_id, "field": field, "old": old[0],
                                        "new": new, "note": note, "changed_at": iso(now)})

    def set_lead_status(self, lead_id: int, status: str, note: str | None, now: float) -> None:
        """The owner's word on a lead (booked, lost, ...), recorded with the note for the
        timeline."""
        if status not in LEAD_STATUSES:
            raise ValueError(f"unknown lead status {status!r}")
        with self._write():
            self._change(lead_id, "status", status, note, now)

    def set_lead_name(self, lead_id: int, name: str, now: float) -> None:
        with self._write():
            self._change(lead_id, "name", name, None, now)

    def mark_read(self, lead_id: int) -> None:
        with self._write():
            self.db.execute("UPDATE leads SET unread = 0 WHERE id = ? AND unread != 0", (lead_id,))

    def has_outbox_key(self, dedupe_key: str) -> bool:
        """A text with this key was queued (whatever became of it): it is not queued again."""
        return self._one("SELECT 1 FROM outbox WHERE dedupe_key = ?", (dedupe_key,)) is not None

    def is_opted_out(self, number: str) -> bool:
        return self._one("SELECT 1 FROM opt_outs WHERE number = ?", (number,)) is not None
