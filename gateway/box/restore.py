"""Getting the leads back from the replica, and never copying over leads we did not come from.

`restore` writes the replica's latest database beside the target, checks it is textback's, and
renames it into place: the target is the old file or the whole new one, never half. It refuses
to replace a database unless forced, and then keeps the old one (`<db>.before-restore-<time>`).

`guard` runs before replication starts. Litestream 0.5.17, given a new database and a replica
that holds another one's history, takes the new one as the replica's latest state ("detected
database behind replica", then writes over it: docs/reference/litestream.md). A new SD card that
started without its leads would so bury them. The database remembers the replica it came from or
was first copied to (state `backup_replica`); replication starts only when that is this replica,
or the replica is empty.
"""
from __future__ import annotations

import logging
import os
import time
from datetime import datetime, timezone
from pathlib import Path

from ..backup import BackupSettings
from ..errors import AlreadyRunning, TextbackError
from .litestream import PROBLEM_KEY, STATE_KEY, BackupError, replica_files, run, said


class RestoreRefused(TextbackError):
    """A restore that would harm what is there (a database without --force, a folder for the
    file): the user's call to make, so exit 2 as for a bad argument."""

    exit_code = 2

log = logging.getLogger(__name__)

SIDE = ("-wal", "-shm")
RETRY_EVERY = 10.0     # s between tries of a first-boot restore (the network may come up late)


def _meta_dir(db: Path) -> Path:
    """Litestream's local state for `db` (db.go: "." + name + "-litestream" beside it)."""
    return db.with_name(f".{db.name}-litestream")


def exists(db: Path) -> bool:
    return db.exists() or Path(f"{db}-wal").exists()


def restore(settings: BackupSettings, db: Path, *, force: bool = False) -> dict:
    """Restore the replica's latest state to `db`. RestoreRefused when `db` exists and not `force`;
    BackupError when the replica is empty, unreachable, or holds something else."""
    from ..app.lock import one_daemon

    db = db.absolute()
    if db.is_dir():
        raise RestoreRefused(f"{db} is a folder",
                             hint="give the database file: --db FOLDER/textback.db")
    if not db.parent.is_dir():
        raise RestoreRefused(f"no folder {db.parent}", hint="create it first, or pick another --db")
    if exists(db) and not force:
        raise RestoreRefused(f"{db} exists already; a restore would replace it",
                         hint="add --force to replace it (the old one is kept beside it as "
                              f"{db.name}.before-restore-<time>), or restore to another --db")
    try:
        with one_daemon(db, create=False):   # a restore writes the database itself
            return _restore_locked(settings, db, force=force)
    except AlreadyRunning as exc:
        who = exc.message.replace("another textback daemon", "textback (or another restore)")
        raise BackupError(f"cannot restore into {db}: {who}",
                          hint="stop it first: sudo systemctl stop textback textback-backup") \
            from None


def _restore_locked(settings: BackupSettings, db: Path, *, force: bool) -> dict:
    from ..app.dbfile import inspect
    from ..errors import NotOurs

    if exists(db) and not force:   # made while we waited for the lock
        raise RestoreRefused(f"{db} exists already", hint="add --force to replace it")
    tmp = db.with_name(f".{db.name}.restoring-{os.getpid()}")
    _remove(tmp)
    started = time.monotonic()
    try:
        done = run(settings, db, ["restore", "-o", str(tmp), "-if-replica-exists",
                                  "-integrity-check", "quick", "-json", str(db)], timeout=3600)
        if done.returncode != 0:
            raise BackupError(f"the restore from {settings.place} failed: {said(done)}",
                              hint=_hint(settings))
        if not tmp.exists():
            raise BackupError(f"the replica {settings.place} holds no backup yet",
                              hint="check the URL; a replica gets its first copy once textback "
                                   "runs with [backup] replica set")
        try:
            if inspect(tmp) != "textback":
                raise NotOurs("empty")
        except NotOurs:
            raise BackupError(f"the replica {settings.place} holds a database that is not "
                              "textback's; nothing was changed",
                              hint="check the URL names textback's replica") from None
        from ..app.store import _mode_for

        os.chmod(tmp, _mode_for(db.parent))
        kept = _move_aside(db) if exists(db) else []
        os.replace(tmp, db)
    finally:
        _remove(tmp)
    _mark(db, settings.replica)
    took = time.monotonic() - started
    log.info("restored %s from %s in %.1f s", db, settings.place, took)
    return {"db": str(db), "replica": settings.replica, "kept": [str(k) for k in kept],
            "seconds": round(took, 3)}


def _hint(settings: BackupSettings) -> str:
    from .litestream import _reach_hint

    return _reach_hint(settings)


def _remove(path: Path) -> None:
    for each in (path, *(Path(f"{path}{s}") for s in SIDE)):
        try:
            each.unlink()
        except FileNotFoundError:
            pass


def _move_aside(db: Path) -> list[Path]:
    """The database (and its -wal, -shm, Litestream's state) renamed, not deleted."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    kept = []
    for each in (db, *(Path(f"{db}{s}") for s in SIDE), _meta_dir(db)):
        if each.exists():
            target = each.with_name(f"{each.name}.before-restore-{stamp}")
            os.replace(each, target)
            kept.append(target)
    return kept


def _mark(db: Path, replica: str) -> None:
    from ..app.store import Store

    store = Store(db)
    try:
        store.set_state(STATE_KEY, replica)
        store.set_state(PROBLEM_KEY, "")
    finally:
        store.close()


def restore_if_missing(cfg, db: Path, *, wait: float = 60.0) -> str:
    """First boot: no database here and the config names a replica -> its leads, before the
    daemon starts. What happened, in words. A replica that cannot be reached within `wait`
    seconds: the daemon starts on a new database (callers still get their text), and `guard`
    keeps it from being copied over the replica's leads."""
    if cfg.backup is None:
        return "no replica configured"
    if exists(db):
        return f"{db} exists; nothing to restore"
    deadline = time.monotonic() + wait
    while True:
        try:
            restore(cfg.backup, db)
            return f"restored {db} from {cfg.backup.place}"
        except BackupError as exc:
            if "holds no backup" in exc.message:
                return f"{cfg.backup.place} holds no backup yet: starting a new database"
            if time.monotonic() + RETRY_EVERY > deadline:
                raise
            log.warning("%s; trying again in %.0f s", exc.message, RETRY_EVERY)
            time.sleep(RETRY_EVERY)


def guard(settings: BackupSettings, db: Path) -> None:
    """Raise BackupError (and say why in the database, for `textback status`) unless it is safe
    to copy `db` to the replica: it came from there, was copied there before, or the replica is
    empty (then it is marked as this one's)."""
    from ..app.dbfile import connect_ro

    if not db.exists():
        raise BackupError(f"no database at {db} yet", hint="start textback first; the backup "
                                                           "starts once the database exists")
    conn = connect_ro(db)
    try:
        row = conn.execute("SELECT value FROM state WHERE key = ?", (STATE_KEY,)).fetchone()
    except Exception:   # noqa: BLE001 - no state table yet: a database being made
        row = None
    finally:
        conn.close()
    try:
        if settings.scheme == "file":
            _writable(settings)
        if row and row[0] == settings.replica:
            _problem(db, "")
            return
        files = replica_files(settings, db)
    except BackupError as exc:
        _problem(db, exc.message)
        raise
    if files:
        message = (f"the replica {settings.place} holds leads from another database (a new SD "
                   "card that started before its leads were restored?); not copying over them")
        _problem(db, message)
        raise BackupError(message, hint="to get them back: sudo systemctl stop textback "
                          "textback-backup; sudo textback restore --force; then start both. To "
                          "start a new backup instead, name an empty replica folder in [backup]")
    _mark(db, settings.replica)


def _writable(settings: BackupSettings) -> None:
    """A file replica's folder can be made and written (Litestream would only log its errors
    and keep trying): a stick mounted read-only, or owned by another user, is said plainly."""
    import tempfile
    from urllib.parse import unquote, urlsplit

    folder = Path(unquote(urlsplit(settings.replica).path))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".textback-probe-"):
            pass
    except OSError as exc:
        raise BackupError(f"cannot write the replica folder {folder}: {exc.strerror}",
                          hint="is the USB stick mounted, and writable by user textback? (the "
                               "fstab line in README, \"Knowing the box is alive\")") from None


def _problem(db: Path, text: str) -> None:
    from ..app.store import Store

    try:
        store = Store(db)
    except Exception as exc:  # noqa: BLE001 - the reason is logged anyway
        log.debug("could not record the backup problem: %s", exc)
        return
    try:
        if (store.get_state(PROBLEM_KEY) or "") != text:
            store.set_state(PROBLEM_KEY, text)
    finally:
        store.close()
