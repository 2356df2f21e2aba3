"""One daemon per lead database: an advisory lock on a file beside it ("<db>-lock").

Two daemons on one database would both work the outbox: a caller texted twice, the modem fought
over. flock(2) rather than SQLite's own locks, which are per transaction: this one lasts as long
as the process, and the kernel lets go of it when the process dies (kill -9, a power cut), so a
stale lock never keeps a box down. The owner's commands never take it: they only read, and must
never wait for the daemon.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

from gateway.errors import AlreadyRunning


def lock_path(db: Path) -> Path:
    return Path(f"{db}-lock")


@contextlib.contextmanager
def one_daemon(db: Path) -> Iterator[None]:
    """Hold the database's daemon lock while the block runs; AlreadyRunning, naming the holder's
    PID, when another process has it."""
    path = lock_path(db)
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, mode=0o700)   # as the Store would make it
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # a PID: nobody's secret
    except PermissionError:
        fd = os.open(path, os.O_RDONLY)   # made by another user (root): flock works read-only
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise AlreadyRunning(
            f"another textback daemon (PID {holder}) is running on {db}",
            hint=f"only one may: stop it first (sudo systemctl stop textback, or kill {holder}), "
                 "or give this one another database with --db") from None
    try:
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError:
            pass        # opened read-only: the lock holds all the same, the PID goes unsaid
        yield
    finally:
        os.close(fd)    # lets go of the lock; the file stays (removing it would race a starter)
