"""The webhook receiver: the phone's signed posts in, served on the daemon's thread when `wait`
sees its socket readable (no threads). HMAC-SHA256 of the raw body and X-Timestamp, as SMSGate
and CallGate sign them (docs/reference/phone-apps.md, "Webhooks")."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import select
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Callable, cast

log = logging.getLogger(__name__)

SIGNATURE_WINDOW = 300.0  # s: SMSGate docs "Payload Signing" advise +-5 min
# Bytes of one webhook we read: an mms:downloaded carries its pictures in Base64, and carriers cap
# an MMS at a few MB; anything far bigger is refused (413) before it is read.
MAX_WEBHOOK = 32 << 20


class Receiver:
    """Signed webhooks in (HMAC-SHA256 of raw body + X-Timestamp), one request at a time, served
    only when asked (`serve_pending`). Refuses unsigned, badly signed, stale and replayed posts."""

    def __init__(self, host: str, port: int, keys: list[str], wall: Callable[[], float],
                 window: float = SIGNATURE_WINDOW) -> None:
        self.keys = [k.encode() for k in keys if k]
        self.wall, self.window = wall, window
        self.received: list[dict] = []
        self.refused = 0
        self.bad_signatures = 0   # signed, with another key: [phone] signing_key is not the app's
        self.accepted = 0
        # Called with each accepted envelope before the 2xx goes out; OSError -> 500, so the phone
        # sends it again.
        self.keep: Callable[[dict], None] = lambda envelope: None
        self._signatures: dict[str, float] = {}
        self.server = _Server((host, port), _ReceiverHandler)
        self.server.timeout = 0
        self.server.receiver = self

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def fileno(self) -> int:
        return self.server.fileno()

    def serve_pending(self) -> None:
        while select.select([self.server], [], [], 0)[0]:
            self.server.handle_request()

    def close(self) -> None:
        self.server.server_close()

    def check(self, headers, body: bytes) -> tuple[int, str]:
        stamp, signature = headers.get("X-Timestamp", ""), headers.get("X-Signature", "").lower()
        if not stamp.isdigit() or not signature:
            return 401, "unsigned"
        now = self.wall()
        if abs(now - int(stamp)) > self.window:
            return 401, "timestamp outside the window"
        if not any(hmac.compare_digest(hmac.new(key, body + stamp.encode(), hashlib.sha256)
                                       .hexdigest(), signature) for key in self.keys):
            self.bad_signatures += 1
            return 401, "bad signature"
        self._signatures = {s: t for s, t in self._signatures.items() if t > now - self.window}
        if signature in self._signatures:
            return 401, "replayed"
        self._signatures[signature] = now
        try:
            envelope = json.loads(body)
        except ValueError:
            return 400, "not JSON"
        if not isinstance(envelope, dict) or "event" not in envelope:
            return 400, "not a webhook"
        try:
            self.keep(envelope)
        except OSError as exc:
            del self._signatures[signature]  # the phone's retry must not count as a replay
            return 500, f"cannot write it down ({exc.strerror})"
        self.received.append(envelope)
        self.accepted += 1
        return 200, "ok"


class _Server(HTTPServer):
    receiver: Receiver

    # CallGate posts every state twice, each copy as its own job, all at once: connections wait
    # in the backlog while one is served, and a full backlog would lose CallGate's only attempt.
    request_queue_size = 64


class _ReceiverHandler(BaseHTTPRequestHandler):
    timeout = 2.0  # a client that stalls mid-request must not hold the daemon

    def log_message(self, *args):
        pass

    def do_POST(self):
        receiver = cast(_Server, self.server).receiver
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_WEBHOOK:
            self.close_connection = True
            status, why = ((413, f"{length} bytes, over the {MAX_WEBHOOK >> 20} MiB limit")
                           if length > 0 else (400, "no readable Content-Length"))
        else:
            status, why = receiver.check(self.headers, self.rfile.read(length))
        if status != 200:
            receiver.refused += 1
            log.warning("webhook refused: %s", why)
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
