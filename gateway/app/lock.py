"""One daemon per lead database: an advisory lock on a file beside it ("<db>-lock").

Two daemons on one database would both work the outbox: a caller texted twice, the modem fought
over. flock(2) rather than SQLite's own locks, which are per transaction: this one lasts as long
as the process, and the kernel lets go of it when the process dies (kill -9, a power cut), so a
stale lock never keeps a box down. The owner's commands never take it: they only read, and must
never wait for the daemon (`textback status` only tests it, `held`).

One database may have several names: a symlink (the lock file is named from the real path) or a
hard link (the database file itself is flocked too: one inode, whatever its names). flock and
SQLite's POSIX locks do not meet on Linux (flock(2), "NOTES"), and the database's descriptor is
closed only after the block, when the Store is closed: closing a descriptor drops the process's
POSIX locks on that file (fcntl(2), "Advisory record locking"), SQLite's included.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from pathlib import Path
from typing import Iterator

from gateway.errors import AlreadyRunning, StoreError

# The lock file holds a PID: the owner's `status` (group textback, in the service's setgid
# folder) must be able to open it to test the lock; nobody else needs to.
PRIVATE, SHARED = 0o600, 0o640


def lock_path(db: Path) -> Path:
    return Path(f"{os.path.realpath(db)}-lock")


def held(db: Path) -> bool | None:
    """Is a daemon running on `db` now? From the lock, not the heartbeat: True or False at once,
    None when this user cannot tell (the lock file unreadable). Creates and writes nothing; the
    test takes the lock shared for an instant, which a daemon starting in that instant would find
    taken (it says so and systemd starts it again)."""
    try:
        fd = os.open(lock_path(db), os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        return False
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)   # (closing lets go of a lock we took)
    return False


@contextlib.contextmanager
def one_daemon(db: Path, *, create: bool = True) -> Iterator[None]:
    """Hold the database's daemon lock while the block runs; AlreadyRunning, naming the holder's
    PID, when another process has it. A file that is not textback's (or not a file) is refused
    before any lock file is made beside it. `create=False` (a restore, which must find no
    database to write one): a database not there yet is not made; it has no other name to lock."""
    from gateway.app.dbfile import inspect
    from gateway.app.store import _create_private

    inspect(db)   # NotOurs / StoreError: nothing created
    path = lock_path(db)
    if not path.parent.is_dir():
        try:
            path.parent.mkdir(parents=True, mode=0o700)   # as the Store would make it
        except OSError as exc:
            raise _cannot(path, exc) from None
    shared = bool(path.parent.stat().st_mode & stat.S_ISGID)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, SHARED if shared else PRIVATE)
    except PermissionError:
        try:
            fd = os.open(path, os.O_RDONLY)   # made by another user (root): flock works read-only
        except OSError as exc:
            raise _cannot(path, exc) from None
    except OSError as exc:
        raise _cannot(path, exc) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise AlreadyRunning(
            f"another textback daemon (PID {holder}) is running on {db}",
            hint=f"only one may: stop it first (sudo systemctl stop textback, or kill {holder}), "
                 "or give this one another database with --db") from None
    inode = None
    try:
        try:
            info = os.fstat(fd)
            if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & 0o077 & ~SHARED:
                os.fchmod(fd, SHARED if shared else PRIVATE)   # an older 0644 one
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass        # opened read-only: the lock holds all the same, the PID goes unsaid
        if create:
            _create_private(Path(db))   # the database must exist to be locked by its inode
        if Path(db).exists():
            inode = os.open(db, os.O_RDONLY)
        try:
            if inode is not None:
                fcntl.flock(inode, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadyRunning(
                f"another textback daemon is running on {db} under another name (a hard link)",
                hint="only one may: stop it first (sudo systemctl stop textback), or give this "
                     "one another database with --db") from None
        yield
    finally:
        if inode is not None:
            os.close(inode)
        os.close(fd)    # lets go of the lock; the file stays (removing it would race a starter)


def _cannot(path: Path, exc: OSError) -> StoreError:
    return StoreError(f"cannot create the daemon's lock file {path}: {exc.strerror}",
                      hint=f"the daemon writes beside its database: make {path.parent} writable "
                           "by the user running textback, or pass --db FILE in a folder it can "
                           "write")
