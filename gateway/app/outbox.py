"""The durable text queue's rules: how long to wait before a retry, when to stop, dedupe.

Pure. The queue itself lives in the store (`Store.queue_text`, `due`, `mark_*`); the daemon walks
it and asks here what a failure means.
Which send errors are worth a retry is the transport's to say (gateway.at.cms for the modem's
+CMS ERROR codes); here is how long to wait and when to give up.
"""
from __future__ import annotations

# Seconds to wait before retry n (1-based): fast for a glitch, then minutes for a network outage.
BACKOFF: tuple[float, ...] = (5.0, 15.0, 45.0, 120.0, 300.0)
# After this many failed attempts a retryable failure becomes permanent: with BACKOFF that is about
# 18 minutes of trying (5+15+45+120+300*3 s), after which a "sorry we missed you" text is stale.
MAX_ATTEMPTS = 8


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number `attempt` (1 = the first send)."""
    if attempt < 1:
        raise ValueError(f"attempt counts from 1, got {attempt}")
    return BACKOFF[min(attempt, len(BACKOFF)) - 1]


def dedupe_key(kind: str, number: str, call_key: str) -> str:
    """The key that makes queueing the same text twice a no-op (a call replayed after a restart)."""
    for name, part in (("kind", kind), ("number", number), ("call_key", call_key)):
        if not part:
            raise ValueError(f"dedupe_key needs a non-empty {name}")
    return f"{kind}:{number}:{call_key}"
