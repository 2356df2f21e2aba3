"""The dead-man switch: pings in the Healthchecks protocol (healthchecks.io or self-hosted).

While all is well the daemon's loop asks for a GET of `ping_url` every `ping_every` seconds; when
something needs a person it asks for a POST to `<ping_url>/fail` with the reason as the body.
Healthchecks alerts on a /fail at once, and on silence once the check's period and grace time
pass, so a box that died (power, SD card, a wedged loop) is noticed too: nothing else pings.
Protocol facts: docs/reference/healthchecks.md.

The loop only decides (`decide`, pure); one worker thread does the HTTP, so a slow DNS lookup or
a server that never answers never holds the loop. The worker sends only what the loop handed
it: a wedged loop hands nothing, and the pings stop.
"""
from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from ..config import HealthSettings

log = logging.getLogger(__name__)


TIMEOUT = 5.0            # s for one HTTP request (connect + answer)
RETRY_EVERY = 60.0       # s between tries after a ping that did not arrive
# Healthchecks keeps the first 100 kB of a ping body (docs "Pinging API"); ours are one line.
MAX_BODY = 10_000


def endpoint(url: str, kind: str = "") -> str:
    """`url` for a success ping ("") or `<url>/<kind>` ("fail", "start", "log"), the query kept
    after the path (a ping URL may carry ?rid= or ?create=)."""
    if not kind:
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + kind))


def where(url: str) -> str:
    """The host of a ping URL, for logs: the path holds the check's secret UUID."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


@dataclass(frozen=True)
class Ping:
    kind: str        # "" (all well) or "fail"
    body: str        # the reason, for a fail


@dataclass
class Sent:
    at: float        # when the loop handed it over
    ping: Ping
    ok: bool | None  # None while in flight
    detail: str = ""


def reason_of(problems: list[str]) -> str:
    return "\n".join(problems)[:MAX_BODY]


def decide(now: float, problems: list[str], last: Sent | None, every: float) -> Ping | None:
    """What to send now, if anything: a change (a new problem, or all well again) at once; the
    same news again every `every` seconds; after a ping that did not arrive, a retry every
    RETRY_EVERY (or `every`, when shorter)."""
    ping = Ping("fail", reason_of(problems)) if problems else Ping("", "")
    if last is None:
        return ping
    if last.ok is None:
        return None     # one at a time
    if last.ok is False:   # news goes at once; the same ping is retried at a slower pace
        return ping if ping != last.ping or now - last.at >= min(RETRY_EVERY, every) else None
    if ping != last.ping or now - last.at >= every:
        return ping
    return None


def next_time(last: Sent | None, every: float) -> float | None:
    if last is None or last.ok is None:
        return None
    return last.at + (min(RETRY_EVERY, every) if last.ok is False else every)


def http_send(url: str, ping: Ping) -> tuple[bool, str]:
    """One request; (arrived, what happened). Never raises."""
    import http.client
    import urllib.error
    import urllib.request

    target = endpoint(url, ping.kind)
    data = ping.body.encode("utf-8") if ping.kind else None
    method = "POST" if data is not None else "GET"
    request = urllib.request.Request(target, data=data, method=method,
                                     headers={"User-Agent": "textback",
                                              "Content-Type": "text/plain; charset=utf-8"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            answer.read(1000)
            return True, f"HTTP {answer.status}"
    except urllib.error.HTTPError as exc:
        return False, f"HTTP {exc.code} {exc.reason}"
    except (OSError, ValueError, http.client.HTTPException) as exc:
        # URLError, timeouts, refused, DNS; InvalidURL (a URL that cannot be sent as it is)
        reason = getattr(exc, "reason", exc)
        return False, f"{type(reason).__name__}: {reason}" if not isinstance(reason, str) \
            else reason


class Pinger:
    """Hands the loop's pings to a worker thread and reads back how they went."""

    def __init__(self, settings: HealthSettings, *, send=http_send) -> None:
        self.settings = settings
        self.send = send
        self.last: Sent | None = None
        self.failing_since: float | None = None   # pings have not arrived since
        self._jobs: queue.Queue = queue.Queue(maxsize=1)
        self._done: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None

    def tick(self, now: float, problems: list[str]) -> None:
        self.collect(now)
        ping = decide(now, problems, self.last, self.settings.ping_every)
        if ping is None:
            return
        if ping.kind == "fail" and (self.last is None or self.last.ping != ping):
            log.warning("telling the health check something needs a person: %s",
                        ping.body.replace("\n", "; "))
        self.last = Sent(now, ping, None)
        self._start()
        self._jobs.put_nowait(ping)

    def collect(self, now: float) -> None:
        while True:
            try:
                ok, detail = self._done.get_nowait()
            except queue.Empty:
                return
            if self.last is None:
                continue
            self.last.ok, self.last.detail = ok, detail
            host = where(self.settings.ping_url)
            if not ok and self.failing_since is None:
                self.failing_since = self.last.at
                log.warning("the health ping to %s did not arrive (%s); retrying every %.0f s",
                            host, detail, min(RETRY_EVERY, self.settings.ping_every))
            elif not ok:
                log.debug("the health ping to %s still fails (%s)", host, detail)
            elif self.failing_since is not None:
                log.info("the health ping to %s arrives again", host)
                self.failing_since = None

    def next_deadline(self) -> float | None:
        return next_time(self.last, self.settings.ping_every)

    def busy(self) -> bool:
        return self.last is not None and self.last.ok is None

    def send_now(self, ping: Ping, now: float) -> bool:
        """For a daemon about to exit: send and wait, at most TIMEOUT seconds."""
        self.last = Sent(now, ping, None)
        done = threading.Event()
        result: list = []

        def work():
            result.append(self.send(self.settings.ping_url, ping))
            done.set()

        threading.Thread(target=work, name="health-ping-last", daemon=True).start()
        done.wait(TIMEOUT + 0.5)
        ok = bool(result) and result[0][0]
        self.last.ok = ok
        return ok

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, name="health-ping", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        while True:
            ping = self._jobs.get()
            self._done.put(self.send(self.settings.ping_url, ping))
