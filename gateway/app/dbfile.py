"""The lead database as a file: what a file is before SQLite touches it, and opening it read-only
for the owner's commands. Light on purpose (sqlite3 and os only): `textback leads` imports it.
"""
from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from gateway.errors import NotOurs, StoreError

BUSY_TIMEOUT = 5.0  # seconds a read waits for the daemon's write (gateway.app.store waits as long)
# The box's folders (the .deb's: deploy/README.md "Install"): the service's database lives in
# BOX_STATE, its settings in BOX_CONFIG.
BOX_STATE = Path("/var/lib/textback")
BOX_CONFIG = Path("/etc/textback/textback.toml")


def missing_hint(path: Path) -> str:
    """What to do when there is no lead database at `path`. On a box the service makes it once
    it has settings: "textback run" would be the wrong advice there."""
    if Path(path).parent != BOX_STATE:
        return "run the daemon first (textback run), or pass --db FILE"
    if not BOX_CONFIG.exists():
        return ("a new box: textback starts once it has settings. Put textback.toml on the card's "
                "boot partition and power on again, or write "
                f"{BOX_CONFIG} (sudo cp /usr/share/textback/textback.toml.example {BOX_CONFIG}, "
                "edit it, then: sudo systemctl start textback)")
    return ("the service has not made it yet: sudo systemctl start textback; if it does not stay "
            "up, systemctl status textback and journalctl -u textback say why")


def explain(exc: sqlite3.Error, path: Path) -> StoreError:
    """A SQLite error as a StoreError that says what to do."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        hint = ("the daemon (or another textback command) kept it busy too long; retry in a "
                "moment")
    elif "readonly" in text or "read-only" in text:
        hint = f"make {path} and its folder writable by the user running textback"
    elif "not a database" in text or "malformed" in text:
        # Only a file that starts as a SQLite database gets here (inspect refuses the others):
        # one damaged by a failing SD card or a copy cut short.
        return StoreError(f"lead database {path} is damaged ({text})", hint=damaged_hint(path))
    elif "no such table" in text or "no such column" in text:
        hint = ("it was made by an older textback: start the daemon once (textback run) to bring "
                "it up to date")
    elif "full" in text:
        hint = "free some disk space"
    elif "I/O" in text:
        hint = ("the storage failed to read or write: check the SD card or disk (dmesg), and "
                "that --db names a file on it")
    else:
        hint = None
    return StoreError(f"lead database {path}: {text}", hint=hint)


def damaged_hint(path: Path) -> str:
    return (f"stop textback, then restore {path} from a backup, or save what it still holds: "
            f"sqlite3 {path} .recover | sqlite3 recovered.db, and use recovered.db (--db, or "
            "store.database in the config)")


# The first 16 bytes of every SQLite 3 database (sqlite.org/fileformat.html, 1.3).
SQLITE_MAGIC = b"SQLite format 3\x00"


def inspect(path: Path) -> str:
    """What the file at `path` is before SQLite touches it: "new" (missing, empty, or a SQLite
    file with no tables yet) or "textback". Anything else is refused, the file left as it was:
    opening someone else's SQLite file for writing would add our tables to it."""
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return "new"    # to be created (or refused by _create_private, which says why)
    except OSError as exc:
        raise StoreError(f"cannot read the lead database {path}: {exc.strerror}",
                         hint="check the path and its permissions, or pass --db FILE") from None
    if stat.S_ISDIR(info.st_mode):
        raise NotOurs(f"{path} is a folder, not a lead database; nothing was changed",
                      hint="pass --db FILE, e.g. --db ~/textback.db")
    if not stat.S_ISREG(info.st_mode):
        # /dev/null, a pipe: SQLite would fail on it, and a chmod would change the device.
        kind = ("a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) else
                "a pipe" if stat.S_ISFIFO(info.st_mode) else "a socket")
        raise NotOurs(f"{path} is {kind}, not a file, so not a lead database; nothing was changed",
                      hint="pass --db FILE, e.g. --db ~/textback.db")
    try:
        with open(path, "rb") as file:
            head = file.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise StoreError(f"cannot read the lead database {path}: {exc.strerror}",
                         hint="check the path and its permissions, or pass --db FILE") from None
    if not head:
        return "new"
    if head != SQLITE_MAGIC:
        raise NotOurs(f"{path} is not a SQLite database, so not textback's lead database; "
                      "nothing was changed", hint=_NOT_OURS_HINT)
    conn = connect_ro(path)
    try:
        tables = [name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' "
            # Litestream adds _litestream_seq and _litestream_lock to any database it watches
            # (db.go init), a new one included: they do not make it someone else's.
            "AND name NOT LIKE '\\_litestream\\_%' ESCAPE '\\' ORDER BY name")]
        ours = "_sqlite_migrations" in tables and conn.execute(
            "SELECT 1 FROM _sqlite_migrations WHERE migration_set = 'textback'").fetchone()
    except sqlite3.Error as exc:
        raise explain(exc, path) from exc
    finally:
        conn.close()
    if ours:
        return "textback"
    if tables:
        shown = ", ".join(tables[:5]) + (", ..." if len(tables) > 5 else "")
        raise NotOurs(f"{path} is a SQLite database but not textback's (its tables: {shown}); "
                      "nothing was changed", hint=_NOT_OURS_HINT)
    return "new"


_NOT_OURS_HINT = ("point --db (or TEXTBACK_DB, or store.database in the config) at textback's "
                  "database, textback.db by default")


def connect_ro(path: Path, timeout: float = BUSY_TIMEOUT) -> sqlite3.Connection:
    """A read-only connection (sqlite.org/uri.html: mode=ro) that creates nothing beside the file.

    With a -wal file beside it the database is live (the daemon has it open: the WAL exists as
    long as a connection does, sqlite.org/wal.html), and a mode=ro reader shares the daemon's
    -shm, even one it may only read. With none, nothing writes the file: it is opened immutable,
    because a mode=ro reader of a WAL database would otherwise create -wal and -shm files (owned
    by the reader, which could then lock the daemon out) or fail in a read-only folder (a mounted
    card, a backup) with "attempt to write a readonly database"."""
    live = Path(f"{path}-wal").exists()
    uri = Path(path).absolute().as_uri() + ("?mode=ro" if live else "?mode=ro&immutable=1")
    try:
        return sqlite3.connect(uri, uri=True, timeout=timeout)
    except sqlite3.Error as exc:
        raise explain(exc, Path(path)) from exc


def read_only(path: str | Path, timeout: float = BUSY_TIMEOUT) -> sqlite3.Connection:
    """Open textback's lead database for the owner's read-only commands: never creates, migrates,
    chmods or writes anything; a missing file or one that is not textback's is a StoreError."""
    path = Path(path)
    if not path.exists():
        raise StoreError(f"no lead database at {path}", hint=missing_hint(path))
    if path.is_dir():
        raise StoreError(f"{path} is a folder, not a lead database", hint="pass --db FILE")
    if inspect(path) != "textback":
        raise NotOurs(f"{path} is not a textback lead database (it has no tables yet); nothing "
                      "was changed", hint=_NOT_OURS_HINT)
    return connect_ro(path, timeout)


def refuse_read_only(path: Path) -> None:
    """Writing needs a writable file: never chmod a read-only copy (a backup) to make it one."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    if not mode & stat.S_IWUSR or not os.access(path, os.W_OK):
        raise StoreError(f"lead database {path} is read-only: this command changes it",
                         hint="the reading commands (leads, lead --json, calls, stats, status, "
                              "export) work on it; to change it, use a writable copy")
