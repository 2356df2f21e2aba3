"""`textback doctor`: find the modem, ask it what an installer needs to know, say it in plain words.

Everything comes from standard AT commands (3GPP TS 27.007 / 27.005) through our own Session, so the
doctor sees the modem exactly as the daemon does. Each finding is a Check; `ok` is True (fine),
False
(a text-back would not work: `fix` says what to do) or None (worth knowing, not blocking).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from gateway.errors import AtError, CommandTimeout


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None
    detail: str
    fix: str = ""


STABLE_NAME = "textback-modem"        # made by deploy/udev/77-textback-modem.rules
UNPLUGGED_GLOBS = ("ttyUSB*", "ttyACM*")

# +CME ERROR codes about the SIM (27.007 9.2.1), numeric (AT+CMEE=1) and verbose (=2).
SIM_ERRORS = {
    "10": ("no SIM card in the modem", "insert the SIM (contacts down) with the modem unplugged"),
    "SIM NOT INSERTED": ("no SIM card in the modem",
                         "insert the SIM (contacts down) with the modem unplugged"),
    "13": ("the SIM card failed", "reseat the SIM; try it in a phone"),
    "SIM FAILURE": ("the SIM card failed", "reseat the SIM; try it in a phone"),
    "14": ("the SIM is busy", "run textback doctor again in a minute"),
    "SIM BUSY": ("the SIM is busy", "run textback doctor again in a minute"),
    "15": ("wrong SIM type", "use the SIM the carrier gave for this line"),
    "SIM WRONG": ("wrong SIM type", "use the SIM the carrier gave for this line"),
}
# +CPIN: <code> (27.007 8.3)
PIN_STATES = {
    "READY": (True, "SIM present, no PIN needed (or already entered)", ""),
    "SIM PIN": (
        False,
        "the SIM asks for a PIN",
        "put the PIN in the config as modem.pin, or remove it with a phone",
    ),
    "SIM PUK": (
        False,
        "the SIM is locked (PUK needed after three wrong PINs)",
        "unlock it in a phone with the PUK from the carrier",
    ),
    "PH-SIM PIN": (
        False,
        "the modem is locked to another SIM",
        "ask the modem's seller for the code",
    ),
    "SIM PIN2": (True, "SIM present (asks for PIN2, which texts do not need)", ""),
}
# <stat> of +CREG / +CEREG (27.007 7.2, 10.1.22): (words, registered?)
REG_STATES = {
    0: ("not registered and not searching", False),
    1: ("registered on the home network", True),
    2: ("searching for a network", False),
    3: ("registration denied by the network", False),
    4: ("registration state unknown", False),
    5: ("registered, roaming", True),
    6: ("registered on the home network for SMS only", True),
    7: ("registered, roaming, for SMS only", True),
}
REG_FIX = {
    0: "check the antenna and that the SIM's line is active",
    2: "wait a minute near a window with the antenna on; then check that the SIM's line is active",
    3: "the carrier refused the SIM: ask them to activate the line (and IMEI) for this modem",
    4: "check the antenna; run textback doctor again in a minute",
}
# <AcT> of +COPS (27.007 7.3)
ACCESS = {0: "2G", 1: "2G", 2: "3G", 3: "2G EDGE", 4: "3G", 5: "3G", 6: "3G", 7: "LTE", 8: "2G",
          9: "LTE-M", 10: "5G", 11: "5G", 12: "5G", 13: "5G"}


def signal_bars(rssi: int) -> int | None:
    """Bars 0-4 from +CSQ <rssi> (27.007 8.5: 0 = -113 dBm or less, 2..30 = -109..-53 dBm in 2 dB
    steps, 31 = -51 dBm or more, 99 = not known). Our rule, the usual marginal/ok/good/excellent
    bands: 0-1 none, 2-9 one bar (-109..-95 dBm), 10-14 two, 15-19 three, 20-31 four; None for
    99."""
    if not 0 <= rssi <= 31:
        return None
    return 0 if rssi < 2 else 1 if rssi < 10 else 2 if rssi < 15 else 3 if rssi < 20 else 4


def candidate_ports(dev: Path = Path("/dev")) -> list[Path]:
    """The stable name first, then by-id links (the modem's name in them), else bare tty nodes."""
    found = [dev / STABLE_NAME] if (dev / STABLE_NAME).exists() else []
    by_id = dev / "serial" / "by-id"
    if by_id.is_dir():
        found += sorted(by_id.iterdir())
    if found:
        return found
    return [p for pattern in UNPLUGGED_GLOBS for p in sorted(dev.glob(pattern))]


def port_holders(device: str | Path, proc: Path = Path("/proc")) -> list[tuple[int, str]]:
    """(pid, name) of other processes with `device` open: what `fuser` does, from /proc/*/fd."""
    target = os.path.realpath(device)
    holders = []
    for entry in proc.iterdir() if proc.is_dir() else ():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:  # gone, or another user's process (run as root to see all)
            continue
        for fd in fds:
            try:
                if os.path.realpath(os.readlink(fd)) == target:
                    holders.append((int(entry.name), _comm(entry)))
                    break
            except OSError:
                continue
    return holders


def running(name: str, proc: Path = Path("/proc")) -> list[int]:
    entries = proc.iterdir() if proc.is_dir() else ()
    return sorted(int(e.name) for e in entries if e.name.isdigit() and _comm(e) == name)


def _comm(entry: Path) -> str:
    try:
        return (entry / "comm").read_text().strip()
    except OSError:
        return "?"


def check_holders(device: str, proc: Path = Path("/proc")) -> Check:
    holders = port_holders(device, proc)
    if holders:
        who = ", ".join(f"{name} (pid {pid})" for pid, name in holders)
        mm = any(name == "ModemManager" for _, name in holders)
        fix = ("sudo systemctl disable --now ModemManager && sudo systemctl mask ModemManager" if mm
               else "stop that program (the textback service itself: sudo systemctl stop textback)")
        return Check("port", False, f"{device} is held by {who}", fix)
    if running("ModemManager", proc):
        return Check("port", None, f"{device} is free, but ModemManager is running and may grab it",
                     "sudo systemctl mask --now ModemManager")
    return Check("port", True, f"{device} is free")


def port_failure(exc: Exception) -> Check:
    """Why the port would not open, and the fix for that reason: a file that is no serial port
    (/dev/null: ENOTTY) needs another --port, not a modem plugged in."""
    import errno

    code = getattr(exc, "errno", None)
    text = str(exc)
    if code == errno.ENOTTY or "Inappropriate ioctl" in text:
        return Check("port", False, "not a serial port (no modem answers on it)",
                     "give the modem's port: ls /dev/serial/by-id/ (or /dev/ttyUSB*)")
    if code == errno.EACCES or "Permission denied" in text:
        return Check("port", False, f"cannot open the modem's port: {exc}",
                     "the owner must be in group dialout: sudo usermod -aG dialout $USER, "
                     "then log in again")
    return Check("port", False, f"cannot open the modem's port: {exc}",
                 "plug the modem in; the owner must be in group dialout")


def diagnose(port_opener: Callable[[], object], clock, *, proc: Path = Path("/proc"),
             timeout: float = 5.0) -> list[Check]:
    """Open the port with `port_opener()` (an open pyserial port) and check all a text-back
    needs."""
    from gateway.at import families
    from gateway.at.session import Session

    try:
        port = port_opener()
    except Exception as exc:  # pyserial: SerialException (busy, gone, permission)
        return [port_failure(exc)]
    checks = [check_holders(port.name, proc)]
    session = Session(port, clock, timeout=timeout)
    try:
        session.synchronise()
        session.command("ATE0")
        _optional(session, "AT+CMEE=2")
    except (AtError, CommandTimeout):
        return checks + [Check("modem", False, f"no answer to AT on {port.name}",
                               "this may be the modem's GPS/diagnostic port: try another one "
                               "(--port); or unplug the modem for 10 s")]
    maker = " ".join(_optional(session, "AT+CGMI")).strip()
    model = " ".join(_optional(session, "AT+CGMM")).strip()
    detected = families.detect(maker, model)
    family = detected.name
    checks.append(Check("modem", True, f"{maker or '?'} {model or '?'} (textback family {family})"))
    sim = _check_sim(session)
    checks.append(sim)
    if sim.ok is False:
        return checks
    checks.append(_check_registration(session))
    checks.append(_check_operator(session))
    checks.append(_check_signal(session))
    checks.append(_check_sms_centre(session))
    if detected.lte:   # LTE modules: calls need VoLTE where 2G/3G are gone
        checks.append(_check_ims(session, family))
    cireg = ims_check(session, family)   # AT+CIREG (27.007 8.71) on every family
    if cireg is not None:
        checks.append(cireg)
    return checks


def overall(checks: list[Check]) -> bool:
    """Would a text-back work: every check ran and none failed (None = a warning, not a failure)."""
    names = {c.name for c in checks}
    return bool(checks) and all(c.ok is not False for c in checks) and {
        "sim", "registration", "signal", "sms centre"} <= names


def send_test(
    session, number: str, text: str = "textback test: this modem can send texts."
) -> int | None:
    """Send one text in PDU mode; the modem's message reference (raises AtError when refused)."""
    from gateway.at.pdu import encode_submit

    session.command("AT+CMGF=0")
    ref = None
    for pdu in encode_submit(number, text, 0):
        got = session.send_pdu(pdu.tpdu_length, pdu.hex)
        ref = got if ref is None else ref
    return ref


# -- the checks ------------------------------------------------------------------------------------
def _optional(session, cmd: str, prefix: str | None = None) -> list[str]:
    try:
        return session.command(cmd, prefix=prefix)
    except (AtError, CommandTimeout):
        return []


def _value(line: str) -> str:
    return line.split(":", 1)[1].strip()


def _check_sim(session) -> Check:
    try:
        lines = session.command("AT+CPIN?", prefix="+CPIN:")
    except AtError as exc:
        code = exc.line.split(":", 1)[1].strip().upper() if ":" in exc.line else ""
        words, fix = SIM_ERRORS.get(code, (f"the modem cannot read the SIM ({exc.line})",
                                           "reseat the SIM with the modem unplugged"))
        return Check("sim", False, words, fix)
    except CommandTimeout:
        return Check("sim", False, "no answer about the SIM", "unplug the modem for 10 s")
    state = _value(lines[0]) if lines else "READY"
    ok, words, fix = PIN_STATES.get(state, (False, f"the SIM is not ready ({state})",
                                            "check the SIM in a phone"))
    return Check("sim", ok, words, fix)


def _reg_stat(session, cmd: str, prefix: str) -> int | None:
    lines = _optional(session, cmd, prefix)
    if not lines:
        return None
    fields = _value(lines[0]).split(",")
    try:  # read form: <n>,<stat>[,...]
        return int(fields[1] if len(fields) > 1 else fields[0])
    except ValueError:
        return None


def _check_registration(session) -> Check:
    # LTE-only networks show 0 on +CREG (circuit switched) and 1 on +CEREG (EPS): either will do.
    stats = [s for s in (_reg_stat(session, "AT+CREG?", "+CREG:"),
                         _reg_stat(session, "AT+CEREG?", "+CEREG:")) if s is not None]
    if not stats:
        return Check("registration", False, "the modem did not say whether it is registered",
                     "run textback doctor again in a minute")
    best = next((s for s in stats if REG_STATES.get(s, ("", False))[1]), stats[0])
    words, ok = REG_STATES.get(best, (f"unknown registration state {best}", False))
    return Check("registration", ok, words, "" if ok else REG_FIX.get(best, "ask the carrier"))


def _check_operator(session) -> Check:
    lines = _optional(session, "AT+COPS?", "+COPS:")
    fields = _value(lines[0]).split(",") if lines else []
    if len(fields) < 3:
        return Check("operator", None, "no network operator selected yet")
    name = fields[2].strip('"')
    act = ACCESS.get(int(fields[3])) if len(fields) > 3 and fields[3].strip().isdigit() else None
    return Check("operator", True, name + (f" ({act})" if act else ""))


def _check_signal(session) -> Check:
    lines = _optional(session, "AT+CSQ", "+CSQ:")
    try:
        rssi = int(_value(lines[0]).split(",")[0]) if lines else 99
    except ValueError:
        rssi = 99
    bars = signal_bars(rssi)
    fix = "move the modem or its antenna (near a window, away from metal); check the antenna is on"
    if bars is None:
        return Check("signal", False, "no signal (the modem reports it as unknown)", fix)
    dbm = -113 + 2 * rssi
    detail = f"{bars} of 4 bars (CSQ {rssi}, about {dbm} dBm)"
    return Check("signal", bars > 0, detail, "" if bars else fix)


def _check_sms_centre(session) -> Check:
    lines = _optional(session, "AT+CSCA?", "+CSCA:")
    number = _value(lines[0]).split(",")[0].strip('"') if lines else ""
    if not number:
        return Check("sms centre", False, "no SMS centre number on the SIM",
                     'ask the carrier for it, then: AT+CSCA="+<number>" (27.005 3.3.1)')
    return Check("sms centre", True, number)


# Quectel EC2x: AT+QCFG="ims" -> +QCFG: "ims",<cfg>[,<state>]; cfg 0 = per carrier profile (MBN),
# 1 = on, 2 = off; state 1 = VoLTE ready (Quectel EC25&EC21 AT Commands Manual, AT+QCFG="ims").
QUECTEL_IMS = {"0": "set by the carrier profile", "1": "on", "2": "off"}


def _check_ims(session, family: str) -> Check:
    if family != "ec25":
        # Not in our reference (docs/reference/modems.md: "VoLTE depends on firmware"): say so,
        # honestly.
        return Check(
            "volte",
            None,
            "unknown: this modem's VoLTE switch is not documented for textback",
            "if calls do not ring on an LTE-only network, ask the modem's seller how to enable "
            "VoLTE",
        )
    lines = _optional(session, 'AT+QCFG="ims"', "+QCFG:")
    fields = [f.strip('" ') for f in _value(lines[0]).split(",")] if lines else []
    if len(fields) < 2:
        return Check("volte", None, "unknown: the modem did not report its IMS setting",
                     'AT+QCFG="ims",1 then restart the modem (AT+CFUN=1,1)')
    cfg = QUECTEL_IMS.get(fields[1], f"setting {fields[1]}")
    ready = " and registered" if fields[2:3] == ["1"] else ""
    on = fields[1] == "1"
    return Check("volte", True if on and ready else None, f"IMS/VoLTE {cfg}{ready}",
                 "" if on and ready else 'AT+QCFG="ims",1 then restart the modem (AT+CFUN=1,1); '
                 "calls on LTE-only networks need it")


__all__ = ["Check", "candidate_ports", "check_holders", "diagnose", "overall", "port_holders",
           "send_test", "signal_bars"]


def service_state(unit: str = "textback") -> Check:
    """Is the service running, and what did it last complain about (journal, warnings and up)?

    Informational (ok None): a stopped service is normal while the installer runs the doctor,
    since the running service holds the modem port."""
    import shutil
    import subprocess

    if shutil.which("systemctl") is None:
        return Check("service", None, "no systemd here: run `textback run` by hand")
    state = subprocess.run(["systemctl", "is-active", unit], capture_output=True, text=True,
                           timeout=10).stdout.strip() or "unknown"
    detail = f"{unit}.service is {state}"
    if shutil.which("journalctl"):
        last = subprocess.run(
            ["journalctl", "-u", unit, "-p", "warning", "-n", "1", "--no-pager", "-o", "cat"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        if last:
            detail += f"; last warning: {last.splitlines()[-1][:160]}"
    fix = {"failed": f"see why: journalctl -u {unit} -n 50; then sudo systemctl restart {unit}",
           "active": f"it holds the modem port: sudo systemctl stop {unit} before the doctor, "
                     f"start it again after"}.get(state)
    return Check("service", None, detail, fix)


def ims_check(session, family: str):
    """The `volte` line of `textback doctor` from AT+CIREG?, or None when the modem does not
    answer it (27.007 8.71 is not in older firmware)."""
    from ..ims import NOT_REGISTERED, fix_for, is_lte, parse_cireg

    registered = parse_cireg(_optional(session, "AT+CIREG?", "+CIREG:"))
    if registered is None:
        return None
    cops = _optional(session, "AT+COPS?", "+COPS:")
    lte = is_lte(cops[0] if cops else None)
    if registered:
        return Check("ims", True, "IMS (VoLTE) registered: calls can ring on LTE")
    if lte:
        return Check("ims", False, NOT_REGISTERED, fix_for(family))
    return Check("ims", None, "IMS (VoLTE) not registered; not needed while on 2G/3G",
                 "where 2G/3G are switched off, calls will need VoLTE: " + fix_for(family))
