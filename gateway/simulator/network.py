"""The simulated modem's network side: the SIM's own number (AT+CNUM, 27.007 7.1),
texts to oneself delivered back (or dropped, as some networks do), registration (+CREG/+CEREG,
7.2 / 10.1.22), IMS registration (+CIREG, 8.71) and a restart on AT+CFUN=1,1 (8.2).

A mixin of gateway.simulator.modem.SimulatedModem, whose state (`settings`, `sent`, `_later`,
`_now`) it uses.
"""
from __future__ import annotations

from gateway.simulator.commands import DEFAULTS
from gateway.simulator.scenario import InboundSms

TIME_SLACK = 1e-6   # as gateway.simulator.modem: a step due at t is delivered at t minus this

OWN_NUMBER = "+15125550100"   # the simulated SIM's number (AT+CNUM)
SELF_DELIVERY = 4.0           # s for a text to oneself to come back (the network's round trip)
# SIMCom/Quectel boot lines (docs/reference/modems.md, "restart")
REBOOT_LINES = ("RDY", "+CPIN: READY", "SMS DONE")
REBOOT_TAKES = 2.0            # s from AT+CFUN=1,1 to the boot lines


class SimNetwork:
    """Mixed into SimModem: the network around the modem."""

    def _maybe_echo(self, sent) -> None:
        """A text to the SIM's own number comes back as any text does, unless the network drops
        texts to oneself. Parts come back as parts: the host reassembles them."""
        if not self.self_delivery or sent.number != self.own_number:
            return
        if sent.part is not None and sent.part.seq != sent.part.count:
            return      # the whole text comes back once, after its last part
        whole = "".join(s.text for s in self.sent[-(sent.part.count if sent.part else 1):])
        self._later.append((self._now + SELF_DELIVERY, InboundSms(self.own_number, whole)))

    def _deliver_later(self, t: float) -> None:
        due = sorted((item for item in self._later if item[0] <= t + TIME_SLACK),
                     key=lambda item: item[0])
        self._later = [item for item in self._later if item[0] > t + TIME_SLACK]
        for _, what in due:
            if isinstance(what, InboundSms):
                self._receive_sms(what)
            else:
                self._write_line(what)

    def _do_cnum(self, arg: str) -> list[str]:
        return ([f'+CNUM: "","{self.own_number}",145'] if self.cnum else []) + ["OK"]

    def _do_creg(self, arg: str) -> list[str]:
        return [f"+CREG: 0,{self.registration}", "OK"]

    def _do_cereg(self, arg: str) -> list[str]:
        return [f"+CEREG: 0,{self.registration}", "OK"]

    def _do_cireg(self, arg: str) -> list[str]:
        if self.ims is None:
            return [self._cme(4)]
        return [f"+CIREG: {self.settings.get('cireg', '0')},{int(self.ims)}", "OK"]

    def _do_cireg_set(self, arg: str) -> list[str]:
        if arg.strip() not in ("0", "1", "2"):
            return [self._cme(4)]
        self.settings["cireg"] = arg.strip()
        return ["OK"]

    def _do_cfun(self, arg: str) -> list[str]:
        """AT+CFUN=1,1: OK, then the modem restarts: settings back to their defaults, boot
        lines after REBOOT_TAKES seconds. Other <fun> values are taken and ignored."""
        fields = [f.strip() for f in arg.split(",")]
        if fields[0] not in ("0", "1", "4") or fields[1:2] not in ([], ["0"], ["1"]):
            return [self._cme(4)]
        if fields[1:2] == ["1"]:
            self.resets += 1
            echo = self.settings["echo"]
            self.settings = {**DEFAULTS, "echo": echo}
            if self.ims_after_reset is not None:
                self.ims = self.ims_after_reset
            self._later += [(self._now + REBOOT_TAKES, line) for line in REBOOT_LINES]
        return ["OK"]
