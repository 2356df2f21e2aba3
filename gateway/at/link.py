"""The AT modem as a link: serial session + call tracker + stored texts, giving the daemon events.

The daemon deals in events (calls ended, texts received) and sends; each link turns its transport
into those. Here: URC lines go through the family's call tracker; `+CMTI` texts are read with
AT+CMGR, decoded and reassembled, and deleted from the SIM only once the daemon has recorded them.
"""
from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Callable

from gateway.at import families
from gateway.at.families import RESTART_LINES
from gateway.at.inbox import Reassembly, Received
from gateway.at.session import Session
from gateway.at.tracker import CallTracker
from gateway.errors import AtError, CommandTimeout
from gateway.events import Health, MissedList, ModemInfo, SendFailed, SmsReceived

log = logging.getLogger(__name__)

HEALTH_EVERY = 300.0  # seconds between signal / registration checks, for `textback status`
# 27.007 7.2 <stat> of +CREG/+CEREG
REGISTRATION = {"0": "not registered, not searching", "1": "home network", "2": "searching",
                "3": "registration denied", "4": "unknown", "5": "roaming"}
REBOOT_SETTLE = 3.0  # seconds after the last boot line before setting the modem up again
_CMTI = re.compile(r'^\+CMTI:\s*"?(?P<mem>[A-Z]+)"?\s*,\s*(?P<index>\d+)')
_CPBR = re.compile(r'^\+CPBR:\s*\d+\s*,\s*"(?P<number>[^"]*)"\s*,\s*(?P<type>\d+)?')
_CMGL = re.compile(r"^\+CMGL:\s*(?P<index>\d+)\s*,")
_CMGR = re.compile(r"^\+CMGR:")
_CNUM = re.compile(r'^\+CNUM:\s*"[^"]*"\s*,\s*"(?P<number>[^"]*)"\s*,\s*(?P<type>\d+)?')


class AtLink:
    name = "modem"

    def __init__(self, open_port: Callable[[], object], clock, *, family: str = "auto",
                 pin: str = "") -> None:
        self.open_port = open_port
        self.clock = clock
        self.family = family
        self.pin = pin
        self.session: Session | None = None
        self.info: ModemInfo | None = None
        # Made afresh at each connect (the family is known then); these serve until the first.
        self.tracker = CallTracker(families.GENERIC)
        self._reassembly = Reassembly()
        self._held: list[tuple[int, Received]] = []  # (SIM index, text) not yet deleted
        self._to_read: list[int] = []               # SIM indexes announced by +CMTI, not read yet
        self._missed: list = []                     # the missed-calls list read at connect
        self._cmt_pending = False                   # the next line is a +CMT PDU
        self._next_health = 0.0
        self._reinit_at: float | None = None  # set up the modem again at this time (after a reboot)
        # a quiet modem is asked "AT" after this many seconds, so that one that stopped
        # answering is noticed (gateway.app.alive sets it from [health] fail_after); its own number.
        self.keepalive = 60.0
        self.own_number: str | None = None
        self._heard: float | None = None   # the modem's last word, across reopened ports

    # -- connection ------------------------------------------------------------------------------
    def connect(self) -> ModemInfo:
        port = self.open_port()
        self.session = Session(port, self.clock, last_rx=self._heard)
        self.info = self.session.initialise(family=self.family, pin=self.pin)
        self.tracker = CallTracker(families.get(self.info.family))
        self._reassembly = Reassembly()
        self._held.clear()
        self._reinit_at = None
        self._to_read = self._stored_indexes()  # texts that came while we were away
        self._missed = self._missed_list()      # calls that rang while we were away
        self._next_health = 0.0
        self.own_number = self._own_number()
        return self.info

    # -- liveness, own number, reset -------------------------------------------------
    @property
    def last_heard(self) -> float | None:
        """When the modem last said anything (None: never opened)."""
        return self.session.last_rx if self.session is not None else self._heard

    def _own_number(self) -> str | None:
        """The SIM's own number, where it keeps one (27.007 7.1 +CNUM: ,"<number>",<type>)."""
        from ..numbers import normalize

        try:
            lines = self._live.command("AT+CNUM", prefix="+CNUM:")
        except (AtError, CommandTimeout):
            return None
        for line in lines:
            m = _CNUM.match(line)
            if m and m["number"]:
                return normalize(m["number"], int(m["type"]) if m["type"] else None, "US") \
                    if m["number"].startswith("+") else None
        return None

    def reset_modem(self) -> None:
        """AT+CFUN=1,1 (27.007 8.2): the modem restarts; its boot lines set it up again."""
        from ..ims import RESET_COMMAND

        try:
            self._live.command(RESET_COMMAND, timeout=15.0)
        except AtError as exc:
            log.warning("the modem refused %s (%s)", RESET_COMMAND, exc.line)

    @property
    def _live(self) -> Session:
        """The session of a connected link (events, wait and send_text come after connect())."""
        assert self.session is not None, "connect() first"
        return self.session

    def close(self) -> None:
        if self.session is not None:
            self._heard = self.session.last_rx
            try:
                self.session.port.close()
            except Exception:  # closing a port that is already gone
                pass
        self.session = None

    def _missed_list(self) -> list:
        """The modem's missed-calls phonebook (27.007 8.11/8.12), where it keeps one."""
        try:
            self._live.command('AT+CPBS="MC"')
            status = self._live.command("AT+CPBS?", prefix="+CPBS:")
            total = int(status[0].rsplit(",", 1)[1]) if status else 10
            lines = self._live.command(f"AT+CPBR=1,{total}", prefix="+CPBR:")
        except (AtError, CommandTimeout, ValueError, IndexError):
            return []
        entries = []
        for line in lines:
            m = _CPBR.match(line)
            if m:
                entries.append((m["number"], int(m["type"]) if m["type"] else None))
        return [MissedList(tuple(entries), self.clock.now())]

    def _stored_indexes(self) -> list[int]:
        try:
            lines = self._live.command("AT+CMGL=4", prefix="+CMGL:")  # 4 = all (27.005 3.4.2)
        except (AtError, CommandTimeout):
            return []
        return [int(m["index"]) for m in map(_CMGL.match, lines) if m]

    # -- events ----------------------------------------------------------------------------------
    def events(self, now: float) -> list:
        """Everything that happened since last asked: calls, whole texts, timeouts, in order."""
        out: list = self._missed
        self._missed = []
        out += self._drain()
        out += self.tracker.tick(now)
        if self.tracker.poll_due(now):
            out += self._poll_calls()
        if self._reinit_at is not None and now >= self._reinit_at:
            self._reinit_at = None
            log.warning("the modem restarted by itself; setting it up again")
            self._live.initialise(family=self.info.family if self.info else self.family,
                                  pin=self.pin)
            out += self._drain()
        while self._to_read:
            out += self._read_stored(self._to_read.pop(0))
            out += self._drain()
        out += [self._received(c) for c in self._reassembly.expire(self.clock.now())]
        if now >= self._next_health and not self.tracker.is_busy():
            self._next_health = now + HEALTH_EVERY
            out += [self._health()]
            out += self._drain()
        elif now - self._live.last_rx >= self.keepalive and not self.tracker.is_busy():
            # A hung modem answers nothing: the timeout reopens it (the dead-man).
            self._live.command("AT", timeout=5.0)
            out += self._drain()
        return out

    def _poll_calls(self) -> list:
        """AT+CLCC while a call is in progress (every family: an end line is not relied on). The
        URCs that came during the command go first: an end line that crossed the poll decides,
        and the poll's now stale answer is then a leftover of that call (gateway.at.tracker)."""
        lines: list[str] | None = None
        try:
            lines, why = self._live.command("AT+CLCC", prefix="+CLCC"), ""
        except AtError as exc:
            why = exc.line
        except CommandTimeout:
            why = "no answer"
        if lines is None:
            log.warning("AT+CLCC failed (%s): if it goes on, the call is decided by its end line "
                        "or by ring silence", why)
        out = self._drain()
        return out + self.tracker.on_clcc(lines, self.clock.now(), why=why)

    def _health(self) -> Health:
        def ask(cmd: str, prefix: str) -> str | None:
            try:
                lines = self._live.command(cmd, prefix=prefix)
            except (AtError, CommandTimeout):
                return None
            return lines[0].split(":", 1)[1].strip() if lines else None

        from ..ims import is_lte, parse_cireg

        csq = ask("AT+CSQ", "+CSQ:")
        reg = ask("AT+CREG?", "+CREG:")
        ops = ask("AT+COPS?", "+COPS:")
        stat = reg.split(",")[1].strip() if reg and "," in reg else None
        if stat not in ("1", "5"):
            # LTE-only networks: circuit switched (+CREG) says 0, EPS (+CEREG, 27.007 10.1.22) 1
            eps = ask("AT+CEREG?", "+CEREG:")
            eps_stat = eps.split(",")[1].strip() if eps and "," in eps else None
            stat = eps_stat if eps_stat in ("1", "5") or stat is None else stat
        ims = ask("AT+CIREG?", "+CIREG:")   # 27.007 8.71; older firmware: ERROR -> unknown
        operator = ops.split(",")[2].strip('"') if ops and ops.count(",") >= 2 else None
        return Health(signal=signal_words(csq), registered=stat in ("1", "5"),
                      registration=REGISTRATION.get(stat or "", "unknown"), operator=operator,
                      at=self.clock.now(), ims=parse_cireg([f"+CIREG: {ims}"] if ims else None),
                      lte=is_lte(f"+COPS: {ops}" if ops else None))

    def _drain(self) -> list:
        out = []
        urcs = self._live.urcs
        while urcs:
            at, line = urcs.popleft()
            found = self.tracker.feed(line, at)
            out += found
            if self._cmt_pending:
                # The PDU line after "+CMT: ,<len>": a text delivered straight to us, not stored
                # (27.005 3.4.1 <mt>=2). Nothing to delete; we never set AT+CSMS=1, so no +CNMA.
                self._cmt_pending = False
                out += self._take_pdu(line, None)
                continue
            cmti = _CMTI.match(line)
            if line.startswith("+CMT:"):
                self._cmt_pending = True
            elif cmti:
                self._to_read.append(int(cmti["index"]))
            elif line in RESTART_LINES and line != "+CPIN: READY":
                # Caller ID and text indications are lost on a reboot (docs/reference/modems.md,
                # "Boot and restart"). A reboot says RDY ... SMS Ready over several seconds, and SMS
                # commands fail until the end: set up again once, when the lines have stopped for a
                # while.
                self._reinit_at = at + REBOOT_SETTLE
            elif not found and not self.tracker.known(line):
                log.debug("ignored line %r", line[:60])
        return out

    def _read_stored(self, index: int) -> list:
        try:
            lines = self._live.command(f"AT+CMGR={index}")
        except (AtError, CommandTimeout) as exc:
            log.warning("could not read stored text %d: %s", index, exc)
            return []
        pdus = [line for line in lines if not _CMGR.match(line)]
        return self._take_pdu(pdus[0], index) if pdus else []

    def _take_pdu(self, pdu: str, index: int | None) -> list:
        from gateway.at.inbox import BadPdu, decode

        try:
            received = decode(pdu)
        except BadPdu as exc:
            log.warning("a received text cannot be decoded (%s); %s", exc.reason,
                        "left on the SIM" if index is not None else "dropped")
            return []
        if index is not None:
            self._held.append((index, received))
        return [self._received(c) for c in self._reassembly.add(received, self.clock.now())]

    def _received(self, complete) -> SmsReceived:
        handle = tuple(index for index, rec in self._held if _belongs(rec, complete))
        push = None
        if complete.port is not None:
            # not a text for a person but data for an application on a phone: a WAP
            # push (an MMS notification: someone sent a picture) is read, never passed on as
            # text; what any other port carries is said in words, not handed on as bytes.
            from . import wap

            push = wap.read(complete.data) if complete.port in wap.WAP_PUSH_PORTS else \
                wap.Push(problem=f"data for application port {complete.port}, not a text")
        return SmsReceived(number=complete.number, text="" if push else complete.text,
                           at=self.clock.now(), sent_at=complete.sent_at, handle=handle,
                           incomplete=complete.incomplete, push=push)

    def release(self, received: SmsReceived) -> None:
        """The daemon has recorded this text: delete its parts from the SIM."""
        for index in received.handle:
            try:
                self._live.command(f"AT+CMGD={index}")
            except (AtError, CommandTimeout) as exc:
                log.warning("could not delete text %d from the SIM: %s", index, exc)
        self._held = [(i, r) for i, r in self._held if i not in received.handle]

    # -- waiting and sending ---------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        keepalive = self.session.last_rx + self.keepalive if self.session else None
        found = [d for d in (self.tracker.next_deadline(), self._reassembly.next_deadline(),
                             self._reinit_at, keepalive) if d is not None]
        return min(found) if found else None

    def wait(self, deadline: float | None) -> None:
        if not self._to_read:
            self._live.poll(deadline)

    def send_text(self, number: str, body: str, reference: int, *, key: str = "",
                  retry: bool = False) -> int | None:
        """Send in PDU mode (GSM-7 or UCS-2, concatenated if long); the first part's reference.
        A text no PDU can carry fails for good before the modem sees a byte. (`key` and `retry`
        name the text for links that keep ids; a modem keeps none.)"""
        from gateway.at.cms import RETRY, classify_cms
        from gateway.at.pdu import Unencodable, encode_submit

        try:
            pdus = encode_submit(number, body, reference)
        except Unencodable as exc:
            raise SendFailed(f"cannot be sent: {exc}", False) from exc
        first = None
        try:
            for pdu in pdus:
                ref = self._live.send_pdu(pdu.tpdu_length, pdu.hex)
                first = ref if first is None else first
        except AtError as exc:
            raise SendFailed(exc.line, classify_cms(exc.cms_code) == RETRY) from exc
        except CommandTimeout as exc:
            raise SendFailed("no answer from the modem", True) from exc
        return first


def _belongs(received, complete) -> bool:
    if received.number != complete.number:
        return False
    if received.part is None:
        return complete.reference is None and received.text == complete.text
    return received.part.reference == complete.reference and received.part.count == complete.count


def signal_words(csq: str | None) -> str:
    """+CSQ <rssi> (27.007 8.5: 0 = -113 dBm or less, 31 = -51 dBm or more, 99 unknown) in bars:
    the usual 0-4 split of handsets and modem vendors' apps."""
    try:
        rssi = int((csq or "").split(",")[0])
    except ValueError:
        return "unknown"
    if rssi == 99:
        return "unknown"
    dbm = -113 + 2 * rssi
    bars = 0 if rssi < 2 else 1 if rssi < 10 else 2 if rssi < 15 else 3 if rssi < 20 else 4
    return f"{bars} bar{'s' if bars != 1 else ''} ({dbm} dBm)" if bars else f"no signal ({dbm} dBm)"


if TYPE_CHECKING:
    from gateway.link import Link

    def _a_link(link: AtLink) -> Link:  # mypy checks that AtLink is what the daemon needs
        return link
