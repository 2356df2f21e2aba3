"""VoLTE / IMS registration: reading AT+CIREG (3GPP TS 27.007 clause 8.71) and what follows.

On a network without 2G/3G an LTE modem only rings when IMS (VoLTE) is registered. 27.007 8.71:
`AT+CIREG?` answers `+CIREG: <n>,<reg_info>[,<ext_info>]`, <reg_info> 0 = not registered,
1 = registered. Modems that predate it answer ERROR: then we do not know, and say nothing.
Sources and the families' fixes: docs/reference/ims.md.
"""
from __future__ import annotations

import re

UNREGISTERED_RESET = 600.0   # unregistered 10 min -> one AT+CFUN=1,1
RESET_EVERY = 3600.0         # ... at most once an hour
RESET_COMMAND = "AT+CFUN=1,1"   # 27.007 8.2: <fun> 1 full functionality, <rst> 1 reset first
NOT_REGISTERED = "calls will not ring: VoLTE/IMS is not registered"
# What to do, per modem family (gateway.families names). Quectel: AT+QCFG="ims" (EC25 AT
# manual); SIMCom and others keep VoLTE in firmware and carrier profiles.
FIXES = {
    "ec25": 'turn IMS on: AT+QCFG="ims",1 then AT+CFUN=1,1; if it still does not register, '
            'select the carrier\'s profile (AT+QMBNCFG="list", then AT+QMBNCFG="select",...)',
    "sim7600": "SIMCom modules need VoLTE firmware and the carrier's profile: ask the seller "
               "for a VoLTE build for your carrier, and the carrier to enable VoLTE on the line",
}
DEFAULT_FIX = ("ask the carrier to enable VoLTE on the line, and the modem's seller how to turn "
               "VoLTE on for this carrier")
_CIREG = re.compile(r"^\+CIREG:\s*(\d+)\s*,\s*(\d+)")
_CIREG_URC = re.compile(r"^\+CIREG:\s*(\d+)\s*$")


def fix_for(family: str) -> str:
    return FIXES.get(family, DEFAULT_FIX)


def parse_cireg(lines: list[str] | None) -> bool | None:
    """The read answer `+CIREG: <n>,<reg_info>[,...]` -> registered?; None when not answered."""
    for line in lines or ():
        m = _CIREG.match(line.strip())
        if m:
            return m.group(2) == "1"
    return None


def is_lte(cops: str | None) -> bool | None:
    """<AcT> 7 (E-UTRAN) or later LTE/NR access in the +COPS? read answer (27.007 7.3)."""
    if not cops:
        return None
    fields = cops.split(":", 1)[-1].split(",")
    if len(fields) < 4 or not fields[3].strip().isdigit():
        return None
    return int(fields[3]) in (7, 9, 10, 11, 12, 13)


def problem(registered: bool, lte: bool | None, ims: bool | None) -> bool:
    """LTE, registered on the network, and IMS says no: calls will not ring."""
    return bool(registered and lte and ims is False)


def should_reset(now: float, *, down_since: float | None, last_reset: float | None) -> bool:
    """One AT+CFUN=1,1 after 10 minutes unregistered (network or IMS), at most once an hour."""
    if down_since is None or now - down_since < UNREGISTERED_RESET:
        return False
    return last_reset is None or now - last_reset >= RESET_EVERY
