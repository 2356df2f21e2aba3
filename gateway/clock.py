"""The only module that reads the time or blocks waiting for the port.

The daemon loop asks a clock two things: `now()` and `wait(fd, deadline)` ("block until the port has
bytes or `deadline` passes"). Live runs use the wall clock; the demo uses the wall clock shifted to
the
scenario's start (so an after-hours call happens after hours); replays and tests use `VirtualClock`,
which never sleeps: when the daemon would block, it lets the simulated modem answer, then jumps to
the
next thing due.
"""
from __future__ import annotations

import os
import select
import time
from datetime import datetime, timezone
from typing import Callable, Protocol

# No wait lasts longer than this in one piece (seconds of real time): between the pieces, and at
# the start of every wait, the clock calls its `keepalive`. `textback run` feeds systemd's
# watchdog from it, so a command that blocks for a minute (AT+CMGS may wait 10 s for its prompt
# and 60 s for its answer) still feeds it (WatchdogSec=60 in deploy/systemd/textback.service).
KEEPALIVE_SLICE = 10.0


def iso(t: float) -> str:
    """Epoch seconds -> "2026-11-28T16:00:00.123Z": UTC to the millisecond, sorting as text in
    time order (the lead database's times)."""
    ms = round(t * 1000)
    return datetime.fromtimestamp(ms // 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") \
        + f".{ms % 1000:03d}Z"


def epoch(text: str | None) -> float | None:
    """ISO 8601 with an offset ("...Z", "...-06:00": ours, the phone apps') -> epoch seconds;
    None for None, "" or text that is not such a time."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def _nothing() -> None:
    pass


class Clock(Protocol):
    keepalive: Callable[[], None]

    def now(self) -> float: ...
    def wait(self, fd: int, deadline: float | None) -> bool: ...
    def sleep(self, deadline: float) -> None: ...


def _select(fd: int, timeout: float | None, wake: int | None = None) -> tuple[bool, bool]:
    """(the port is readable or broken, the wake pipe was written to) after at most `timeout`."""
    watch = [fd] if wake is None else [fd, wake]
    try:
        readable, _, broken = select.select(watch, [], [fd], timeout)
    except (OSError, ValueError):
        return True, False  # the port is gone: let the read raise the real error
    woken = wake is not None and wake in readable
    if wake is not None and woken:
        while True:  # empty the pipe; the caller's loop looks at why it was woken
            try:
                if not os.read(wake, 64):
                    break
            except BlockingIOError:
                break
    return fd in readable or fd in broken, woken


class WallClock:
    """Epoch seconds from the system clock.

    `starting_at` shifts it to a chosen moment and may run it faster: the demo plays a Friday
    afternoon
    at double speed so that its after-hours call happens after hours and it ends within a minute.
    """

    def __init__(self, origin: float | None = None, speed: float = 1.0) -> None:
        self._real0 = time.time()
        self._origin = self._real0 if origin is None else origin
        self.speed = speed
        # A self-pipe: `interrupt()` (safe from a signal handler) ends a wait at once.
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self.keepalive: Callable[[], None] = _nothing

    @classmethod
    def starting_at(cls, epoch: float, speed: float = 1.0) -> "WallClock":
        return cls(origin=epoch, speed=speed)

    def now(self) -> float:
        return self._origin + (time.time() - self._real0) * self.speed

    def wait(self, fd: int, deadline: float | None) -> bool:
        """Block until `fd` is readable (True) or `deadline` passes or `interrupt()` (False)."""
        while True:
            self.keepalive()
            left = None if deadline is None else max(0.0, (deadline - self.now()) / self.speed)
            last = left is not None and left <= KEEPALIVE_SLICE
            readable, woken = _select(fd, left if last else KEEPALIVE_SLICE, self._wake_r)
            if readable or woken or last:
                return readable

    def sleep(self, deadline: float) -> None:
        """Wait with no port to watch (the modem is gone); `interrupt()` ends it early."""
        while True:
            self.keepalive()
            left = max(0.0, (deadline - self.now()) / self.speed)
            _, woken = _select(self._wake_r, min(left, KEEPALIVE_SLICE))
            if woken or left <= KEEPALIVE_SLICE:
                return

    def interrupt(self) -> None:
        try:
            os.write(self._wake_w, b"!")
        except BlockingIOError:
            pass  # the pipe is full: a wake-up is pending anyway


class VirtualClock:
    """Virtual time driven by the simulated modem's scenario: no real waiting.

    `sim` needs `pump()`, `next_step_time()` (scenario seconds or None) and `deliver_due(t)`.
    """

    def __init__(self, start: float, sim, *, warmup: float = 0.0) -> None:
        self.start = start
        # Scenario seconds, kept apart from `start` so step times stay exact (no epoch rounding).
        # A warm-up before 0 lets the daemon initialise the modem before the scenario's first line.
        self._elapsed = -warmup
        self.sim = sim
        self.keepalive: Callable[[], None] = _nothing

    def _advance(self, target: float) -> None:
        """Move to `target` (scenario seconds) in steps of at most KEEPALIVE_SLICE, calling the
        keepalive between them as the wall clock does while it blocks."""
        while target - self._elapsed > KEEPALIVE_SLICE:
            self._elapsed += KEEPALIVE_SLICE
            self.keepalive()
        self._elapsed = max(self._elapsed, target)

    def now(self) -> float:
        return self.start + self._elapsed

    def elapsed(self) -> float:
        return self._elapsed

    def wait(self, fd: int, deadline: float | None) -> bool:
        self.keepalive()
        while True:
            self.sim.deliver_due(self._elapsed)  # the sim's own call state follows our time
            self.sim.pump()  # answers whatever the host wrote: replies take no virtual time
            if _select(fd, 0)[0]:
                return True
            step = self.sim.next_step_time()
            target = None if step is None else max(self._elapsed, step)
            limit = None if deadline is None else deadline - self.start
            if limit is not None and (target is None or limit <= target):
                self._advance(limit)
                self.sim.deliver_due(self._elapsed)
                return False
            if target is None:
                return False  # nothing will ever arrive: the caller's loop decides to stop
            self._advance(target)
            self.sim.deliver_due(self._elapsed)

    def sleep(self, deadline: float) -> None:
        """No port to watch: the scenario still plays on (lines sent to nobody are lost, as in
        life)."""
        limit = deadline - self.start
        last = None
        while True:
            step = self.sim.next_step_time()
            if step is None or step > limit or step == last:
                break
            last = step
            self._advance(step)
            self.sim.deliver_due(self._elapsed)
        self._advance(limit)
        self.sim.deliver_due(self._elapsed)
