"""What `textback status` (and `doctor`) show of the box's vitals: the backup's age,
the last dead-man ping, the last self-test, IMS, a modem reset, the metrics file. Read from the
state the daemon records (gateway.app.alive); light, as the owner's commands must start fast."""
from __future__ import annotations

import json

# gateway.backup.LAG_LIMIT, repeated to keep this import-light (tests/test_healthping.py
# checks that both agree).
LAG_LIMIT = 3600.0


def _span(seconds: float) -> str:
    from .reports import _span as span

    return span(seconds)


def rows(store, *, now: float) -> list[dict]:
    out = []
    for row in (_backup(store, now), _ping(store, now), selftest_row(store, now), _ims(store),
                _reset(store, now), _metrics(store)):
        if row is not None:
            out.append(row)
    return out


def _row(check: str, ok, value: str, fix: str | None = None) -> dict:
    return {"check": check, "ok": ok, "value": value, "fix": fix}


def _backup(store, now: float) -> dict | None:
    problem = store.get_state("backup_problem")
    synced = store.get_state("backup_last_sync")
    checked = store.get_state("backup_lag")
    if problem:
        return _row("backup", False, problem, "textback backup status says more; see README, "
                                              "\"Knowing the box is alive\"")
    if synced:
        age = now - float(synced)
        ok = age <= LAG_LIMIT
        return _row("backup", ok, f"last copy to the replica {_span(age)} ago",
                    None if ok else "is Litestream running (systemctl status textback-backup)? "
                                    "is the replica reachable (textback backup status)?")
    if checked:
        lag, _, at = checked.partition("|")
        behind = float(lag) + now - float(at or now)
        return _row("backup", behind <= LAG_LIMIT,
                    f"no copy seen yet ({_span(behind)} since textback started watching)",
                    None if behind <= LAG_LIMIT else
                    "start it: sudo systemctl start textback-backup; textback backup status")
    return None


def _ping(store, now: float) -> dict | None:
    last = store.get_state("health_last_ping")
    if not last:
        return None
    ping = json.loads(last)
    ago = _span(now - ping["at"])
    said = f"FAIL: {ping['reason'].splitlines()[0]}" if ping["fail"] else "all well"
    if ping["ok"]:
        return _row("health ping", None, f"{ago} ago, {said} ({ping['detail']})")
    return _row("health ping", False, f"{ago} ago did not arrive ({ping['detail']}); it said: "
                                      f"{said}",
                "check the box's internet and [health] ping_url; textback retries every minute")


def selftest_row(store, now: float) -> dict | None:
    last = store.get_state("selftest_last")
    if not last:
        return None
    result = json.loads(last)
    word = {True: "passed", False: "FAILED", None: "note"}[result["ok"]]
    return _row("self-test", None if result["ok"] is not False else False,
                f"{word} {_span(now - result['at'])} ago: {result['detail']}",
                None if result["ok"] is not False else
                "sudo systemctl stop textback; textback doctor (signal, SIM, network)")


def _ims(store) -> dict | None:
    problem = store.get_state("ims_problem")
    if not problem:
        return None
    text, _, fix = problem.partition("|")
    return _row("VoLTE", False, text, fix)


def _reset(store, now: float) -> dict | None:
    at = store.get_state("last_modem_reset")
    if not at:
        return None
    return _row("modem reset", None, f"AT+CFUN=1,1 {_span(now - float(at))} ago (it had been "
                                     "unregistered for 10 minutes)")


def _metrics(store) -> dict | None:
    error = store.get_state("metrics_error")
    if not error:
        return None
    return _row("metrics", False, f"cannot write the metrics file ({error})",
                "check [metrics] textfile: its folder must exist and be writable by textback")
