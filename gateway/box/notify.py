"""systemd's notify protocol, spoken by us: one datagram to $NOTIFY_SOCKET per message.

The protocol (sd_notify(3), "Notes"): newline-separated VAR=value assignments sent as a single
AF_UNIX SOCK_DGRAM datagram to the path in $NOTIFY_SOCKET; a leading "@" names a socket in the
abstract namespace (the "@" becomes a NUL byte). We write it ourselves because the `sdnotify`
package is sdist-only and imports distutils, gone since Python 3.12 (docs/reference/pi-image.md,
"systemd notify").

Every function is a no-op outside systemd (no $NOTIFY_SOCKET), so `textback run` in a terminal,
the demo and the tests need no special case. A notification that cannot be delivered is logged at
DEBUG and dropped: telling systemd how we are must never stop the daemon.
"""
from __future__ import annotations

import logging
import os
import socket
import time
from typing import Callable

log = logging.getLogger(__name__)


def _address(env) -> str | bytes | None:
    name = env.get("NOTIFY_SOCKET", "")
    if not name:
        return None
    if name.startswith("@"):
        return b"\0" + name[1:].encode()   # abstract namespace (unix(7))
    return name


def send(*assignments: str, env=None) -> bool:
    """Send "VAR=value" lines as one datagram; True when systemd's socket took it."""
    address = _address(os.environ if env is None else env)
    if address is None:
        return False
    message = "\n".join(assignments).encode()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall(message)
    except OSError as exc:
        log.debug("sd_notify to %r failed: %s", address, exc)
        return False
    return True


def _one_line(text: str) -> str:
    # A newline would start a new assignment: a STATUS= must not smuggle in a READY=1.
    return " ".join(text.splitlines())


def ready(status: str | None = None, *, env=None) -> bool:
    """READY=1 (Type=notify start-up is complete; the watchdog starts counting), with a STATUS=."""
    lines = ["READY=1"] + ([f"STATUS={_one_line(status)}"] if status else [])
    return send(*lines, env=env)


def status(text: str, *, env=None) -> bool:
    """STATUS=text: the line `systemctl status textback` shows."""
    return send(f"STATUS={_one_line(text)}", env=env)


def watchdog(*, env=None) -> bool:
    """WATCHDOG=1: the main loop is alive. Send it at least every watchdog_interval() seconds."""
    return send("WATCHDOG=1", env=env)


def stopping(status: str | None = None, *, env=None) -> bool:
    """STOPPING=1: we are shutting down on purpose (a stop is not a hang)."""
    lines = ["STOPPING=1"] + ([f"STATUS={_one_line(status)}"] if status else [])
    return send(*lines, env=env)


def watchdog_interval(*, env=None) -> float | None:
    """How often to send WATCHDOG=1, in seconds: half of WatchdogSec=, or None when not asked.

    systemd sets $WATCHDOG_USEC (microseconds) and $WATCHDOG_PID; a PID other than ours means the
    variables were inherited from a parent and are not for us (sd_watchdog_enabled(3)). Half the
    timeout is what sd_watchdog_enabled(3) recommends, so one late pass is not fatal.
    """
    env = os.environ if env is None else env
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    pid = env.get("WATCHDOG_PID", "")
    if pid and pid != str(os.getpid()):
        return None
    return usec / 2_000_000


class Watchdog:
    """Feeds the watchdog: WATCHDOG=1 when called, at most every `interval / 2` seconds.

    Called from the daemon's loop and from inside the clock's waits (gateway.clock
    KEEPALIVE_SLICE: at least every 10 s of waiting), so a send stays at most half an interval
    plus one slice apart from the last: 25 s under WatchdogSec=60 (interval 30 s), where systemd
    kills after 60.
    """

    def __init__(self, interval: float, *, now: Callable[[], float] = time.monotonic,
                 send: Callable[[], object] | None = None) -> None:
        self.every = interval / 2
        self.now, self.send = now, send or (lambda: watchdog())
        self.fed: float | None = None

    def __call__(self) -> None:
        now = self.now()
        if self.fed is None or now - self.fed >= self.every:
            self.fed = now
            self.send()
