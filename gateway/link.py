"""What the daemon needs from a link to the phone network: the AT modem (gateway.at.link) or the
contractor's Android phone (gateway.phone.link). The app reaches a transport only through this;
`make lint` (mypy) checks that both links have it."""
from __future__ import annotations

from typing import Protocol

from gateway.events import ModemInfo, SmsReceived


class Link(Protocol):
    name: str   # "modem" or "phone", for log lines
    pin: str    # the SIM PIN the link tries at connect ("" for none, or a link with no SIM)

    def connect(self) -> ModemInfo:
        """Open the transport and set it up; ModemGone (retried with back-off) or ModemError."""
        ...

    def close(self) -> None:
        """Let go of the transport, so that a later connect() opens it afresh."""
        ...

    def events(self, now: float) -> list:
        """Everything that happened since last asked, in order (gateway.events records)."""
        ...

    def release(self, received: SmsReceived) -> None:
        """The daemon has recorded this text: the link may delete it (from the SIM)."""
        ...

    def next_deadline(self) -> float | None:
        """When events() next has something to do without new input; None: only input wakes it."""
        ...

    def wait(self, deadline: float | None) -> None:
        """Block until input arrives or `deadline` passes (through the clock: no real sleeps)."""
        ...

    def send_text(self, number: str, body: str, reference: int, *, key: str = "",
                  retry: bool = False) -> int | str | None:
        """Send one text; its reference (the modem's <mr>, the phone's message id). SendFailed
        says whether a retry can help; ModemGone that the link is lost."""
        ...
