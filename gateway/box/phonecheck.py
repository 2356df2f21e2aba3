"""`textback phone check`: what an installer needs to hear about the phone, in plain words.

Each check says what it found and, when something is wrong, what to do. The real link does the
talking (PhoneLink.connect: adb forwards, the apps' health, passwords, webhooks), so the check
finds exactly what the daemon would trip over.
"""
from __future__ import annotations

from dataclasses import dataclass

SMS_APP = "me.capcom.smsgateway"    # SMSGate's package (docs/reference/phone-apps.md)
CALL_APP = "app.callgate.android"   # CallGate's package


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool | None   # None: a reminder we cannot verify from here
    detail: str
    fix: str | None = None
    warn: bool = False  # works now, but needs the owner (the phone's own health checks)


def run_checks(settings, clock, *, adb: str = "adb") -> list[Check]:
    import logging
    import shutil

    from gateway.errors import ModemGone
    from gateway.phone import adb as adb_mod
    from gateway.phone.link import PhoneLink

    checks: list[Check] = []
    if settings.adb:
        if shutil.which(adb) is None:
            return [Check("adb", False, "adb is not installed", "sudo apt install adb")]
        checks.append(Check("adb", True, "installed"))
    link = PhoneLink(settings, clock)
    quiet = logging.getLogger("gateway.phone.link")
    quiet.disabled = True  # what the link would log, the checks below say in their own lines
    try:
        info = link.connect()
    except ModemGone as exc:
        checks.append(Check("phone", False, exc.message, exc.hint))
        return checks
    finally:
        quiet.disabled = False
        link.close()
    checks.append(Check("phone", True, f"{info.model}: SMSGate and CallGate answer, passwords "
                                        f"right, webhooks registered"))
    # SMSGate's own /health: a failing check (GET /health answers 500) still sends and posts.
    checks += [Check("phone health", None, problem.words, problem.fix, warn=problem.failing)
               for problem in link.problems]
    if settings.adb:
        try:
            idle = adb_mod.run(["shell", "dumpsys", "deviceidle", "whitelist"],
                               serial=settings.adb_serial, adb=adb)
        except ModemGone as exc:
            idle = ""
            checks.append(Check("battery", None, f"could not ask the phone ({exc.message})"))
        else:
            missing = [app for app in (SMS_APP, CALL_APP) if app not in idle]
            checks.append(Check(
                "battery", not missing,
                "battery optimisation is off for both apps" if not missing else
                f"battery optimisation is on for {', '.join(missing)}: Android may stop it",
                None if not missing else "Settings > Apps > (the app) > Battery > Unrestricted"))
    checks.append(Check("RCS", None, "replies sent as RCS chat never reach the gateway apps",
                        "Google Messages > Settings > RCS chats: off (on the contractor's phone)"))
    return checks
