"""A simulated GSM modem on a real pseudo-terminal: the daemon opens `port_name` with pyserial
exactly as
it opens a real modem. Serves `make demo` (live mode, a thread), `textback replay` and the tests
(virtual mode: the caller pumps it, single-threaded, no real waiting).

What it says and when is data: the tables of `gateway.simulator.commands` (families, call signs,
codecs) and the scenario's steps and replies. This module is the device: clock, bytes in and out,
call state, the "SM" message store and the "MC" (missed calls) phonebook.
Facts about real modems: docs/reference/modems.md.
"""
from __future__ import annotations

import logging
import os
import re
import select
import threading
import tty
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterable

from gateway.at.families import FAMILIES
from gateway.at.lines import PROMPT as PROMPT_TEXT

# SmsPart and encode_deliver_pdus are also re-exported: `from gateway.simulator.modem import ...`
from gateway.simulator.commands import (  # noqa: F401
    CME,
    DEFAULTS,
    PHONEBOOK_LENGTHS,
    PHONEBOOKS,
    SMS_STATS,
    SmsPart,
    answers_for,
    describe_deliver,
    encode_deliver_pdus,
    is_end_line,
    parse_command,
    parse_stat,
    plan_ring_ends,
    read_call_sign,
    read_submit_pdu,
    read_submit_text,
    settings_for,
)
from gateway.simulator.network import OWN_NUMBER, SimNetwork
from gateway.simulator.scenario import LINE_ENDS, InboundSms, Reply, Step

log = logging.getLogger(__name__)

CTRL_Z, ESC, CR, LF = 0x1A, 0x1B, 0x0D, 0x0A
PROMPT = b"\r\n" + PROMPT_TEXT.encode()   # no line end after it (modems.md "Framing"; gammu#61)
MAX_COMMAND = 4096          # a command line longer than this is garbage; answered ERROR
# How long a +CMT waits for AT+CNMA (with AT+CSMS=1) before the network gives up: 3GPP TS 24.011
# timer TR2M, 12-20 s; the low end.
CNMA_WAIT = 12.0
# A step due at t is delivered at t minus this: a host clock counting from an epoch (1.8e9 s, float
# steps of 2.4e-7 s) hands back 0.59999990 for the 0.6 that next_step_time() told it to wait for.
TIME_SLACK = 1e-6


@dataclass(frozen=True)
class SentSms:
    number: str
    text: str
    pdu_hex: str | None        # None in text mode
    ref: int                   # the <mr> answered in "+CMGS: <mr>"
    at_step_time: float        # scenario seconds when the host finished sending it
    part: SmsPart | None = None


@dataclass(frozen=True)
class MissedCall:
    """An entry of the "MC" phonebook: an incoming call that ended without being answered."""

    number: str                # "" when withheld
    type: int                  # <type> of address (27.007 8.12): 145 international, 129, 128...
    at: float | None           # scenario seconds it began ringing; None: pre-loaded (before t=0)


@dataclass
class _Call:
    started: float
    number: str = ""
    type: int = 128
    stat: int = 4                  # 27.007 7.18 <stat>: 4 incoming, 0 active
    over_at: float | None = None   # ring-only call: over at this scenario time


@dataclass
class _PendingSms:
    arg: str
    override: tuple[str, ...] | None
    body: bytearray = field(default_factory=bytearray)
    # Bytes still to be written to the host up to the end of the "> " prompt. Until the host can
    # have seen the prompt, what it sends is not the text's body (27.005 3.5.1 and 4.3: the body
    # may be given "after that", the prompt); a real modem drops it, and so do we.
    unprompted: int = 0
    dropped: int = 0


class SimulatedModem(SimNetwork):  # own number, texts to itself, registration, IMS
    def __init__(
        self,
        family: str = "generic",
        steps: Iterable[Step] = (),
        replies: Iterable[Reply] = (),
        *,
        echo: bool = True,
        chunk: int | None = None,
        start: datetime | None = None,
        line_end: str = "\r\n",
        missed_calls: Iterable[tuple[str, int]] = (),
        stored_texts: Iterable[tuple[str, str]] = (),
        own_number: str = OWN_NUMBER,
        cnum: bool = True,
        self_delivery: bool = True,
        ims: bool | None = None,
        end_lines: bool = True,
    ):
        if family not in FAMILIES:
            raise ValueError(f"unknown modem family {family!r}; known: {', '.join(FAMILIES)}")
        if chunk is not None and chunk < 1:
            raise ValueError("chunk must be >= 1 or None")
        if line_end not in LINE_ENDS:
            raise ValueError(f"line_end must be one of {LINE_ENDS!r}")
        self.family = FAMILIES[family]
        # False: the family's end lines are never sent (a modem that only stops ringing). The call
        # still ends where the scenario ends it: it leaves AT+CLCC's list of current calls (27.007
        # 7.18) and goes to the missed calls (8.11), which is all 27.007 promises for an
        # unanswered call (docs/reference/modems.md, "Deciding the end").
        self.end_lines = end_lines
        self.answers, self.setting_names = answers_for(self.family), settings_for(self.family)
        self.steps = tuple(steps)
        self._ring_ends = plan_ring_ends(self.steps)
        self._replies = [[r, r.times] for r in replies]   # [reply, remaining uses or None]
        self._chunk = chunk
        self._line_end = line_end.encode("ascii")
        self.settings = {**DEFAULTS, "echo": "1" if echo else "0"}
        self.sent: list[SentSms] = []
        self.commands: list[str] = []
        self._next = 0             # index of the next undelivered step
        self._now = 0.0            # scenario seconds, as far as the host has told us
        self._line = bytearray()
        self._sms: _PendingSms | None = None
        self.hung = False          # hang(): commands are ignored
        self._call: _Call | None = None
        self._ref = 0
        self._deliver_ref = 0
        # scenario time 0 on the network's clock, for the timestamps of received texts
        self._start = start or datetime(2026, 1, 1, tzinfo=timezone.utc)
        self.inbox: dict[int, list] = {}   # "SM" storage: index -> [SMS-DELIVER hex, read?]
        for number, text in stored_texts:  # came while the host was away: unread, no +CMTI
            for pdu_hex in encode_deliver_pdus(number, text, self._start):
                self.inbox[max(self.inbox, default=0) + 1] = [pdu_hex, False]
        self.missed_calls = [MissedCall(number, kind, None) for number, kind in missed_calls]
        del self.missed_calls[:-PHONEBOOKS["MC"]]
        self.cnma_count = 0                # AT+CNMA that acknowledged a +CMT in time
        # -- the network around the modem -------------------------------------------
        self.own_number = own_number       # the SIM's number on the network
        self.cnum = cnum                   # AT+CNUM says it (many SIMs do not keep it)
        self.self_delivery = self_delivery  # False: a network that drops texts to oneself
        self.registration = 1              # <stat> for +CREG/+CEREG (27.007 7.2): 1 home
        self.ims = (True if "AT+CIREG?" in self.answers else None) if ims is None else ims
        self.ims_after_reset: bool | None = None   # IMS state after AT+CFUN=1,1 (None: as before)
        self.resets = 0
        self._later: list[tuple[float, object]] = []   # (scenario time, InboundSms or line)
        self._acks_due: list[float] = []   # one deadline per +CMT awaiting AT+CNMA
        self._out = bytearray()
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)    # bytes pass untouched: no echo, no CR/LF translation by the pty
        os.set_blocking(self._master, False)
        self.port_name = os.ttyname(self._slave)

    # ---- the host side of the clock -------------------------------------------------------------
    def next_step_time(self) -> float | None:
        """Scenario seconds of the next thing the sim will do: now if output is still queued
        (chunk)."""
        with self._lock:
            if self._out and self._master is not None:
                return self._now
            due = [self.steps[self._next].at] if self._next < len(self.steps) else []
            due += [at for at, _ in self._later]
            return min(due) if due else None

    def deliver_due(self, t: float) -> None:
        """Write every step with at <= t, in order (and move the sim's clock to t)."""
        with self._lock:
            while self._next < len(self.steps) and self.steps[self._next].at <= t + TIME_SLACK:
                step = self.steps[self._next]
                self._now = max(self._now, step.at)    # each step happens at its own time
                if step.sms is not None:
                    self._receive_sms(step.sms)
                else:
                    self._emit(step.rx, self._ring_ends.get(self._next))
                self._next += 1
            self._now = max(self._now, t)
            self._deliver_later(t)
            self._current_call()       # a ring-only call over by now goes to the missed calls now
            self._flush()

    def pump(self) -> None:
        """Read whatever the host wrote, answer every complete command; never blocks."""
        with self._lock:
            while self._master is not None:
                try:
                    data = os.read(self._master, 4096)
                except (BlockingIOError, OSError):
                    break
                if not data:
                    break
                self._take(data)
            self._flush()

    def send_line(self, line: str) -> None:
        with self._lock:
            self._emit(line, None)
            self._flush()

    def send_raw(self, data: bytes) -> None:
        with self._lock:
            self._out += data
            self._flush()

    # ---- live mode ------------------------------------------------------------------------------
    def start(self, clock_now: Callable[[], float]) -> None:
        """Run in a thread: `clock_now()` gives scenario seconds; steps go out when they are due."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run_live, args=(clock_now,), name="sim-modem",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _run_live(self, clock_now: Callable[[], float]) -> None:
        while not self._stop.is_set():
            self.deliver_due(clock_now())
            self.pump()
            with self._lock:
                master, queued, due = self._master, bool(self._out), self.next_step_time()
            if master is None:
                return
            wait = 0.05 if due is None else min(0.05, max(0.0, due - clock_now()))
            try:
                select.select([master], [master] if queued else [], [], wait)
            except (OSError, ValueError):
                return

    # ---- faults ---------------------------------------------------------------------------------
    def wedge(self) -> None:
        """Leave the modem waiting for a text's body, as when its "> " came after the host gave up
        on AT+CMGS: every later command is taken as text until ESC or Ctrl-Z (27.005 3.5.1)."""
        with self._lock:
            self._sms = _PendingSms(arg="0", override=None)

    def hang(self, hung: bool = True) -> None:
        """Firmware hung (or back): bytes from the host are read and ignored, nothing is
        answered."""
        with self._lock:
            self.hung = hung

    # ---- the end of the line --------------------------------------------------------------------
    def unplug(self) -> None:
        """Close the master side: the host's next read fails (EIO), as when a USB modem is
        pulled."""
        with self._lock:
            if self._master is not None:
                os.close(self._master)
                self._master = None
            self._out.clear()

    def close(self) -> None:
        self.stop()
        self.unplug()
        with self._lock:
            if self._slave is not None:
                os.close(self._slave)
                self._slave = None

    def __enter__(self) -> SimulatedModem:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- bytes in -------------------------------------------------------------------------------
    def _take(self, data: bytes) -> None:
        if self.hung:
            return
        for byte in data:
            if self._sms is not None and self._sms.unprompted:
                self._sms.dropped += 1   # sent before the prompt reached the host: dropped
                continue
            if self.settings["echo"] == "1":
                self._out.append(byte)   # echo before acting, so "ATE0\r" is itself echoed
            if self._sms is not None:
                self._take_sms_byte(byte)
            elif byte == CR:
                line, self._line = self._line, bytearray()
                self._run(line.decode("utf-8", errors="replace").strip())
            elif byte != LF and len(self._line) <= MAX_COMMAND:
                self._line.append(byte)

    def _run(self, line: str) -> None:
        if not line:
            return
        self.commands.append(line)
        log.debug("sim got %s", re.sub(r"\d{5,}", "<n>", line[:40]))
        override = self._take_override(line)
        if override is not None and not line.upper().startswith("AT+CMGS="):
            for reply_line in override:    # scenario lines: may carry a call (URC in a response)
                self._emit(reply_line)
            return
        key, head, op, arg = parse_command(line)
        answer = self.answers.get(key)
        if isinstance(answer, tuple):
            me = self.family.identity
            fields = {"manufacturer": me.manufacturer, "model": me.model,
                      "revision": me.revision, "operator_act": me.access}
            self._answer([a.format(**fields) for a in answer] + ["OK"])
        elif answer == "start_sms":
            self._out += PROMPT
            self._sms = _PendingSms(arg=arg, override=override, unprompted=len(self._out))
        elif answer is not None:
            self._answer(getattr(self, f"_do_{answer}")(arg))
        elif head in self.setting_names:
            self._answer(self._set_or_read(head, op, arg))
        else:
            self._answer([self._cme(100) if key.startswith("AT") else "ERROR"])

    def _take_override(self, line: str) -> tuple[str, ...] | None:
        for entry in self._replies:
            reply, left = entry
            if line.upper().startswith(reply.match.upper()) and left != 0:
                entry[1] = None if left is None else left - 1
                return reply.rx
        return None

    def _set_or_read(self, head: str, op: str, arg: str) -> list[str]:
        name, allowed = self.setting_names[head]
        if op == "?":
            return [f"+{head[3:]}: {self.settings[name]}", "OK"]
        if op == "=?":
            return ["OK"]
        if op == "" and not head[2:3].isalpha():    # "AT+CMGF" alone: an extended setting needs "="
            return [self._cme(4)]
        value = arg.strip() if op == "=" else (arg or "0")   # basic "ATE" means ATE0 (V.250 6.2.4)
        if allowed is not None and value.upper() not in allowed:
            return [self._cme(4)]
        self.settings[name] = value.upper() if allowed is not None else value
        return ["OK"]

    def _cme(self, code: int) -> str:
        mode = self.settings["cmee"]
        return {"0": "ERROR", "1": f"+CME ERROR: {code}"}.get(mode, f"+CME ERROR: {CME[code]}")

    def _cms(self, code: int) -> str:
        return "ERROR" if self.settings["cmee"] == "0" else f"+CMS ERROR: {code}"

    # ---- sending SMS (27.005 3.5.1) -------------------------------------------------------------
    def _take_sms_byte(self, byte: int) -> None:
        pending = self._sms
        if byte == ESC:                      # 27.005 3.5.1: ESC cancels the send
            self._sms = None
            self._answer(["OK"])
        elif byte == CTRL_Z:
            self._sms = None
            self._finish_sms(pending)
        elif len(pending.body) <= MAX_COMMAND:
            pending.body.append(byte)

    def _finish_sms(self, pending: _PendingSms) -> None:
        pdu_mode = self.settings["cmgf"] == "0"
        try:
            records = read_submit_pdu(pending.arg, bytes(pending.body)) if pdu_mode else \
                read_submit_text(pending.arg, bytes(pending.body), self.settings["cscs"])
        except ValueError as e:
            log.debug("sim rejected an SMS: %s", e)
            # 27.005 3.2.5: 304 invalid PDU mode parameter, 305 invalid text mode parameter
            self._answer([self._cms(304 if pdu_mode else 305)])
            return
        failed = pending.override is not None and (
            not pending.override or any(_is_error(line) for line in pending.override))
        if not failed:
            self._ref = self._ref % 255 + 1      # <mr> is 0..255 (27.005 3.5.1); ours count from 1
            self.sent.append(SentSms(**records, ref=self._ref, at_step_time=self._now))
            self._maybe_echo(self.sent[-1])
        if pending.override is not None:
            for line in pending.override:
                self._emit(line)
        else:
            self._answer([f"+CMGS: {self._ref}", "OK"])

    # ---- received texts: "SM" storage or straight to the host (27.005 3.4.1-3.4.4, 3.5.4) ---
    def _receive_sms(self, sms: InboundSms) -> None:
        sent_at = self._start + timedelta(seconds=self._now)
        text_mode = self.settings["cmgf"] == "1"
        # +CNMI <mt>=2: SMS-DELIVERs go straight to the host as +CMT, not stored (27.005 3.4.1)
        direct = [f.strip() for f in self.settings["cnmi"].split(",")][1:2] == ["2"]
        self._deliver_ref += 1     # the sender's concatenation reference: one per text
        pdus = [sms.pdu] if sms.pdu else \
            encode_deliver_pdus(sms.number, sms.text, sent_at, self._deliver_ref)
        for pdu_hex in pdus:
            if direct:
                _, fields, body = describe_deliver(pdu_hex, False, text_mode)
                self._answer([f"+CMT: {fields}", body])
                if self.settings["csms"] == "1":          # phase 2+: the host must acknowledge it
                    self._acks_due.append(self._now + CNMA_WAIT)
            else:
                index = max(self.inbox, default=0) + 1
                self.inbox[index] = [pdu_hex, False]
                self._emit(f'+CMTI: "SM",{index}')

    def _describe(self, index: int) -> tuple[str, str, str]:
        """Show a stored text (27.005: reading a "REC UNREAD" one makes it "REC READ")."""
        pdu_hex, was_read = self.inbox[index]
        self.inbox[index][1] = True
        return describe_deliver(pdu_hex, was_read, self.settings["cmgf"] == "1")

    def _do_read_sms(self, arg: str) -> list[str]:
        index = _first_int(arg)
        if index not in self.inbox:
            return [self._cms(321)]                 # 27.005 3.2.5: invalid memory index
        stat, fields, body = self._describe(index)
        return [f"+CMGR: {stat},{fields}", body, "OK"]

    def _do_delete_sms(self, arg: str) -> list[str]:
        if self.inbox.pop(_first_int(arg), None) is None:
            return [self._cms(321)]
        return ["OK"]

    def _do_list_sms(self, arg: str) -> list[str]:
        text_mode = self.settings["cmgf"] == "1"
        wanted = parse_stat(arg, text_mode)
        if wanted is None:
            return [self._cms(305 if text_mode else 304)]
        lines = []
        for index in sorted(self.inbox):
            if wanted in (4, int(self.inbox[index][1])):   # 4: "ALL"; stored ones are 0 or 1
                stat, fields, body = self._describe(index)
                lines += [f"+CMGL: {index},{stat},{fields}", body]
        return lines + ["OK"]

    def _do_sms_stats(self, arg: str) -> list[str]:
        if self.settings["cmgf"] == "1":
            return ["+CMGL: (" + ",".join(f'"{s}"' for s in SMS_STATS) + ")", "OK"]
        return [f"+CMGL: (0-{len(SMS_STATS) - 1})", "OK"]

    def _do_ack_sms(self, arg: str) -> list[str]:
        if arg.strip() not in ("", "0"):     # 1/2 (RP-ACK/RP-ERROR with a PDU) are not simulated
            return [self._cms(304)]
        self._acks_due = [due for due in self._acks_due if due >= self._now]   # too late: given up
        if not self._acks_due:
            return [self._cms(340)]          # 27.005 3.2.5: no +CNMA acknowledgement expected
        self._acks_due.pop(0)
        self.cnma_count += 1
        return ["OK"]

    # ---- phonebooks: "MC" holds the missed calls (27.007 8.11, 8.12) -------------------------
    def _phonebook(self) -> tuple[str, list[MissedCall], int]:
        """(the selected storage, its entries from index 1, its <total>)."""
        storage = self.settings["cpbs"].strip('"')
        # newest first, as a SIM's cyclic record files (3GPP TS 51.011: record 1 is the latest)
        entries = list(reversed(self.missed_calls)) if storage == "MC" else []
        return storage, entries, PHONEBOOKS[storage]

    def _do_phonebook_status(self, arg: str) -> list[str]:
        storage, entries, total = self._phonebook()
        return [f'+CPBS: "{storage}",{len(entries)},{total}', "OK"]

    def _do_phonebook_range(self, arg: str) -> list[str]:
        nlength, tlength = PHONEBOOK_LENGTHS
        return [f"+CPBR: (1-{self._phonebook()[2]}),{nlength},{tlength}", "OK"]

    def _do_read_phonebook(self, arg: str) -> list[str]:
        bounds = [b.strip() for b in arg.split(",")]
        if len(bounds) > 2 or not all(b.isdigit() for b in bounds):
            return [self._cme(50)]
        (first, last), (_, entries, total) = (int(bounds[0]), int(bounds[-1])), self._phonebook()
        if not 1 <= first <= last <= total:
            return [self._cme(21)]
        # empty places in the range are skipped; an all-empty range is a bare OK
        return [f'+CPBR: {i},"{entry.number}",{entry.type},""'
                for i, entry in enumerate(entries, 1) if first <= i <= last] + ["OK"]

    # ---- calls ----------------------------------------------------------------------------------
    def _note_call(self, line: str, over_at: float | None) -> None:
        sign = read_call_sign(line)
        if sign is None:
            return
        kind, number, number_type = sign
        call = self._current_call()
        if kind == "end":
            self._end_call()
        elif kind == "active":
            if call is not None:
                call.stat, call.over_at = 0, None
        else:
            if call is None or (number and call.number and number != call.number):
                self._end_call()
                call = self._call = _Call(started=self._now)
            if number is not None:
                call.number, call.type = number, number_type or call.type
            if call.stat == 4:
                call.over_at = over_at

    def _current_call(self) -> _Call | None:
        call = self._call
        if call is not None and call.over_at is not None and self._now >= call.over_at:
            self._end_call()
        return self._call

    def _end_call(self) -> None:
        call, self._call = self._call, None
        if call is not None and call.stat == 4:      # it never went active: a missed call
            self.missed_calls.append(MissedCall(call.number, call.type, call.started))
            del self.missed_calls[:-PHONEBOOKS["MC"]]

    def _do_list_calls(self, arg: str) -> list[str]:
        """27.007 7.18: one entry per current call, none (a bare OK) when there is none; in the
        family's own shape (a trailing alpha, the data bearer as a mode 1 call)."""
        call, family = self._current_call(), self.family
        listed = ["+CLCC: 1,0,0,1,0"] if family.clcc_bearer else []
        if call is not None:
            listed.append(f'+CLCC: {len(listed) + 1},1,{call.stat},0,0,"{call.number}",'
                          f"{call.type}{family.clcc_tail}")
        return listed + ["OK"]

    # ---- bytes out ------------------------------------------------------------------------------
    def _emit(self, line: str, over_at: float | None = None) -> None:
        """Send a scenario line (a step, an override): it may say something about the call. Without
        end lines, a line that ends the call is acted on but not sent."""
        if self.end_lines or not is_end_line(line):
            self._write_line(line)
        self._note_call(line, over_at)

    def _answer(self, lines: Iterable[str]) -> None:
        """Send the sim's own answer: not read as call signs (a polled +CLCC is not a ring)."""
        for line in lines:
            self._write_line(line)

    def _write_line(self, line: str) -> None:
        self._out += self._line_end + line.encode("utf-8") + self._line_end

    def _flush(self) -> None:
        """Write queued bytes; with `chunk`, only one chunk per call, so the host sees them trickle
        in."""
        while self._out and self._master is not None:
            size = len(self._out) if self._chunk is None else min(self._chunk, len(self._out))
            try:
                written = os.write(self._master, bytes(self._out[:size]))
            # pty buffer full (host not reading) or host gone: keep for later
            except OSError:
                return
            del self._out[:written]
            if self._sms is not None and self._sms.unprompted:
                self._sms.unprompted = max(0, self._sms.unprompted - written)
            if self._chunk is not None:
                return


def _first_int(arg: str) -> int:
    first = arg.split(",")[0].strip()
    return int(first) if first.isdigit() else -1


def _is_error(line: str) -> bool:
    return line == "ERROR" or line.startswith(("+CME ERROR", "+CMS ERROR"))
