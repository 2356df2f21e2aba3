"""The USB cable as the phone link: `adb forward` for the gateway apps, `adb reverse` for our
webhooks.

Over USB the phone needs no Wi-Fi and no certificate: the apps only post webhooks to `https://` or
`http://127.0.0.1` (docs/reference/phone-apps.md, "Webhooks"), and `adb reverse` makes the phone's
127.0.0.1:port
reach the Pi. Forwards die when the cable is pulled, so `link` runs on every (re)connect.
"""
from __future__ import annotations

import logging
import subprocess
from typing import Callable

from gateway.errors import ModemGone

log = logging.getLogger(__name__)

ADB_TIMEOUT = 10.0  # seconds; a wedged adb server answers nothing, and the daemon must go on

# What adb says on stderr -> what the installer reads (adb's own wording, platform-tools 35).
PROBLEMS = (
    ("unauthorized", "the phone has not authorised this computer for USB debugging",
     "unlock the phone and tap 'Allow' on the USB debugging prompt (tick 'Always allow')"),
    ("no devices", "no phone is connected over USB",
     "plug the phone in with a data cable and turn on USB debugging (Developer options)"),
    ("not found", "the phone named in phone.adb_serial is not connected",
     "run `adb devices` and put the serial it shows in phone.adb_serial, or leave it empty"),
    ("offline", "the phone is connected but adb sees it offline",
     "unplug and replug the cable; if it stays offline, revoke USB debugging authorisations"),
)


def run(args: list[str], *, serial: str = "", adb: str = "adb",
        keepalive: Callable[[], None] = lambda: None) -> str:
    """Run one adb command; its stdout. ModemGone with a plain message when adb cannot do it.
    `keepalive` is called first (each run may block ADB_TIMEOUT s: the systemd watchdog)."""
    keepalive()
    command = [adb, *(["-s", serial] if serial else []), *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=ADB_TIMEOUT)
    except FileNotFoundError:
        raise ModemGone("adb is not installed", hint="sudo apt install adb") from None
    except subprocess.TimeoutExpired:
        raise ModemGone(f"adb did not answer within {ADB_TIMEOUT:.0f} s",
                        hint="run `adb kill-server`, then replug the phone") from None
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip()
        for needle, message, hint in PROBLEMS:
            if needle in said.lower():
                raise ModemGone(message, hint=hint)
        raise ModemGone(f"adb {args[0]} failed: {said[:200]}",
                        hint="run `adb devices` to see what adb sees")
    return done.stdout


def link(forwards: list[tuple[int, int]], reverses: list[tuple[int, int]], *,
         serial: str = "", adb: str = "adb", keepalive: Callable[[], None] = lambda: None) -> None:
    """Forward Pi ports to the phone's apps ((pi, phone) pairs) and the phone's ports back to our
    webhook receiver ((phone, pi) pairs). Safe to repeat: adb replaces an existing rule."""
    state = run(["get-state"], serial=serial, adb=adb, keepalive=keepalive).strip()
    if state != "device":
        raise ModemGone(f"the phone is connected but adb says {state!r}",
                        hint="unlock the phone and accept the USB debugging prompt")
    for pi, phone in forwards:
        run(["forward", f"tcp:{pi}", f"tcp:{phone}"], serial=serial, adb=adb, keepalive=keepalive)
    for phone, pi in reverses:
        run(["reverse", f"tcp:{phone}", f"tcp:{pi}"], serial=serial, adb=adb, keepalive=keepalive)
    log.info("adb: %d forward(s), %d reverse(s) set up", len(forwards), len(reverses))
