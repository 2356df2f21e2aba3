"""Our AT session over pyserial: one command in flight, every other line handed on, never dropped.

python-gsmmodem-new returns RING/+CLIP inside a pending command's reply and never fires the call
callback (docs/design.md, "Decisions so far"), so the session is ours. Lines that are not part of
the pending
command's response are queued in `urcs` with the time they arrived; the daemon drains the queue
after
each command and while idle.
"""
from __future__ import annotations

import logging
from collections import deque

from gateway.at import families
from gateway.at.lines import PROMPT, LineFramer, is_error, is_final
from gateway.errors import AtError, CommandTimeout, ModemError, ModemGone, PinRefused
from gateway.events import ModemInfo

log = logging.getLogger(__name__)

# Unsolicited lines we know by their start: what any family sends about calls and restarts
# (gateway.at.families), and what 27.005 / 27.007 and vendors send about texts, the network and
# status (docs/reference/modems.md, "Framing"). A line starting with one of these is never taken
# as part of a command's response, unless the command expects exactly that prefix (AT+CLCC ->
# +CLCC, AT+CPIN? -> +CPIN).
OTHER_URCS = (
    "BUSY", "NO ANSWER", "+CMTI", "+CMT:", "+CDS", "+CDSI", "^ORIG", "^CONF", "^RSSI", "^BOOT",
    "^MODE", "+QIND", "+CIEV", "+CPIN", "PB DONE", "+CFUN", "+CUSD", "+CREG", "+CGREG", "+CEREG",
    "+ZDONR", "+ZPASR",
)
URC_PREFIXES = families.URC_PREFIXES + OTHER_URCS
CTRL_Z = "\x1a"
ESC = "\x1b"
# Commands in a row with no answer before the session calls the modem gone: one timeout can be a
# slow network answer; three mean a hung or rebooted modem, which only reopening and setting it up
# again cures (the timeouts of AT+CLCC, health checks and reads are otherwise swallowed).
SILENT_LIMIT = 3


def is_urc(line: str) -> bool:
    return line.startswith(URC_PREFIXES)


class Session:
    """One AT conversation with one modem. `port` is an open pyserial port (timeout=0)."""

    def __init__(self, port, clock, *, timeout: float = 10.0) -> None:
        self.port = port
        self.clock = clock
        self.timeout = timeout
        self.framer = LineFramer()
        self.urcs: deque[tuple[float, str]] = deque()
        self._lines: deque[str] = deque()
        self._stale = False  # a command timed out: its answer may still come
        self.silent = 0      # commands in a row that got no answer
        # 27.005 leaves it open; real networks answer AT+CMGS within tens of s
        self.sms_timeout = 60.0

    # -- reading -------------------------------------------------------------------------------
    def _fill(self, deadline: float | None) -> bool:
        """Wait for bytes until `deadline`; frame them into `_lines`. False when nothing came."""
        if not self.clock.wait(self.port.fileno(), deadline):
            return False
        try:
            data = self.port.read(4096)
        except Exception as exc:  # pyserial raises SerialException for EIO and for EOF alike
            raise ModemGone(
                f"the modem stopped answering on {self.port.name}: {exc}",
                hint="check the USB cable and power; textback reconnects by itself",
            ) from exc
        if data:
            log.debug("rx %r", _mask(data))
            self._lines.extend(self.framer.feed(data))
        return True

    def poll(self, deadline: float | None) -> None:
        """Idle wait: move whatever arrives before `deadline` into `urcs`."""
        while not self._lines and self._fill(deadline):
            pass  # bytes came but no whole line yet
        now = self.clock.now()
        while self._lines:
            line = self._lines.popleft()
            if line != PROMPT:
                self.urcs.append((now, line))

    def _next_line(self, deadline: float, command: str) -> str:
        while not self._lines:
            if self.clock.now() >= deadline:
                self._stale = True
                self.silent += 1
                if self.silent >= SILENT_LIMIT:
                    raise ModemGone(f"the modem stopped answering ({self.silent} commands in a row "
                                    f"got no answer, the last {command.split('=')[0]})",
                                    hint="textback reopens the port and sets the modem up again")
                raise CommandTimeout(f"no answer from the modem to {command.split('=')[0]}",
                                     hint="the modem may be rebooting; textback retries")
            self._fill(deadline)
        return self._lines.popleft()

    def _recover(self) -> None:
        """After a timeout: the late answer may still come, and the modem may be waiting for a
        text's body (a prompt that came after we gave up), taking every command as text. ESC
        leaves that state (27.005 3.5.1); whatever comes back is dropped."""
        if self._stale:
            self._write(ESC + "\r")
            self.drain(0.5)

    # -- writing -------------------------------------------------------------------------------
    def _write(self, text: str) -> None:
        log.debug("tx %r", _mask(text.encode()))
        try:
            self.port.write(text.encode("ascii"))
        except Exception as exc:
            raise ModemGone(
                f"cannot write to {self.port.name}: {exc}",
                hint="check the USB cable and power; textback reconnects by itself",
            ) from exc

    def command(
        self, cmd: str, *, prefix: str | None = None, timeout: float | None = None
    ) -> list[str]:
        """Send one command; return its information lines. URCs that arrive meanwhile go to
        `urcs`."""
        self._recover()  # a timed-out command's late answer must not be taken for this one's
        self._write(cmd + "\r")
        deadline = self.clock.now() + (timeout or self.timeout)
        info: list[str] = []
        while True:
            line = self._next_line(deadline, cmd)
            if line.upper() == cmd.upper() or line == PROMPT:
                continue  # echo (ATE0 itself is echoed) or a stray prompt
            if is_final(line):
                self.silent = 0
                if is_error(line):
                    raise AtError(cmd, line)
                return info
            if prefix is not None and line.startswith(prefix):
                info.append(line)
            elif is_urc(line):
                self.urcs.append((self.clock.now(), line))
            elif prefix is None:
                info.append(line)
            else:
                self.urcs.append((self.clock.now(), line))

    def send_pdu(self, tpdu_length: int, pdu_hex: str) -> int | None:
        """AT+CMGS in PDU mode (27.005 3.5.1); returns the message reference the modem gave."""
        cmd = f"AT+CMGS={tpdu_length}"
        self._recover()
        self._write(cmd + "\r")
        deadline = self.clock.now() + self.timeout
        while True:  # the prompt "> " comes with no line end
            line = self._next_line(deadline, cmd)
            if line == PROMPT:
                self.silent = 0
                break
            if line.upper() == cmd.upper():
                continue
            if is_final(line):  # an error, or OK without a prompt: the modem did not take the PDU
                self.silent = 0
                raise AtError(cmd, line)
            self.urcs.append((self.clock.now(), line))
        self._write(pdu_hex + CTRL_Z)
        deadline = self.clock.now() + self.sms_timeout
        ref: int | None = None
        while True:
            line = self._next_line(deadline, cmd)
            if line.strip(CTRL_Z) == pdu_hex or line == PROMPT:
                continue  # the PDU echoed back (gammu#58)
            if line.startswith("+CMGS:"):
                ref = _int_or_none(line.split(":", 1)[1])
            elif is_final(line):
                if is_error(line):
                    raise AtError(cmd, line)
                return ref
            else:
                self.urcs.append((self.clock.now(), line))

    # -- set-up --------------------------------------------------------------------------------
    def synchronise(self, attempts: int = 3) -> None:
        """Get the modem's attention: it may be half-way through a line, in the SMS prompt, or
        booting.

        Esc leaves the SMS prompt; whatever the modem says to that (ERROR on some) is drained so
        that
        every later final result belongs to the command that asked for it.
        """
        self._write(ESC + "\r")
        self.drain(0.3)
        for attempt in range(attempts):
            self.silent = 0  # these tries are counted here, and end in CommandTimeout
            try:
                self.command("AT", timeout=2.0)
                return
            except (AtError, CommandTimeout):
                if attempt == attempts - 1:
                    raise
                self.drain(0.5)

    def drain(self, quiet: float) -> None:
        """Read until the modem has been quiet for `quiet` s; keep URCs, drop stale answers."""
        self._stale = False
        while True:
            while self._lines:
                line = self._lines.popleft()
                if is_urc(line):
                    self.urcs.append((self.clock.now(), line))
                else:
                    log.debug("dropped stale line %r", line[:40])
            if not self._fill(self.clock.now() + quiet):
                return

    def initialise(self, *, family: str = "auto", pin: str = "") -> ModemInfo:
        from gateway.at import families

        self.synchronise()
        self.command("ATE0")
        self._optional("AT+CMEE=2")  # verbose errors; some firmware only has =1
        self._unlock(pin)
        maker = " ".join(self._optional("AT+CGMI")).strip()
        model = " ".join(self._optional("AT+CGMM")).strip()
        fam = families.detect(maker, model) if family == "auto" else families.get(family)
        self.command("AT+CLIP=1")  # caller ID on (27.007 7.6)
        for extra in fam.init:
            self._optional(extra)
        # PDU mode: the only way to send UCS-2 and concatenated texts reliably
        self.command("AT+CMGF=0")
        # new texts stored and announced with +CMTI (27.005 3.4.1)
        self._optional("AT+CNMI=2,1,0,0,0")
        log.info("modem ready: %s %s (family %s)", maker or "?", model or "?", fam.name)
        return ModemInfo(maker, model, fam.name)

    def _optional(self, cmd: str) -> list[str]:
        try:
            return self.command(cmd)
        except AtError as exc:
            log.debug("optional %s refused: %s", cmd, exc.line)
            return []

    def _unlock(self, pin: str) -> None:
        state = self.command("AT+CPIN?", prefix="+CPIN:")
        status = state[0].split(":", 1)[1].strip() if state else "READY"
        if status == "READY":
            return
        if status == "SIM PIN" and pin:
            # One try only: three wrong PINs lock the SIM until the PUK (27.007 8.3).
            try:
                self.command(f'AT+CPIN="{pin}"')
            except AtError as exc:
                raise PinRefused(
                    "the SIM refused the PIN in the config (modem.pin)",
                    hint="fix modem.pin; textback will not try again, so the SIM does not lock",
                ) from exc
            return
        if status == "SIM PIN":
            raise ModemError("the SIM asks for a PIN", hint="put it in the config as modem.pin")
        raise ModemError(
            f"the SIM is not ready ({status})", hint="check the SIM card; a PUK may be needed"
        )


def _int_or_none(text: str) -> int | None:
    try:
        return int(text.strip().split(",")[0])
    except ValueError:
        return None


def _mask(data: bytes) -> bytes:
    """Hide digits of phone numbers in DEBUG traces: keep the first 4 and last 2 of a run of 7+."""
    import re

    return re.sub(rb"(\+?\d{4})\d{3,}(\d{2})", rb"\1***\2", data)
