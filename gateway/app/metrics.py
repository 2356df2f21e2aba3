"""Metrics for installers: a file in Prometheus's text format for node_exporter's textfile
collector, written atomically every minute.

Rendering is pure (`render`); `write` is the only I/O: a temporary file in the same folder,
renamed over the old one, so the collector never reads half a file. Written by hand rather than
with prometheus_client: a dozen lines of text do not need a library in the daemon's memory (the
tests check the file with prometheus_client's own parser). Naming and the collector's rules:
docs/reference/metrics.md.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

WRITE_EVERY = 60.0   # every minute


@dataclass(frozen=True)
class Metric:
    name: str                   # textback_..., base units, _total for counters
    kind: str                   # "gauge" or "counter"
    help: str
    samples: tuple = field(default=())   # ((labels dict, value), ...)


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_label(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, float) and not value.is_integer():
        return repr(value)
    return str(int(value))


def render(metrics: list[Metric]) -> str:
    """The text exposition format 0.0.4: # HELP, # TYPE, then one line a sample. A metric
    with no sample (not known here) is left out whole."""
    out = []
    for m in metrics:
        if not m.samples:
            continue
        out.append(f"# HELP {m.name} {_escape_help(m.help)}")
        out.append(f"# TYPE {m.name} {m.kind}")
        for labels, value in m.samples:
            tags = ",".join(f'{k}="{_escape_label(str(v))}"' for k, v in sorted(labels.items()))
            out.append(f"{m.name}{{{tags}}} {_number(value)}" if tags else
                       f"{m.name} {_number(value)}")
    return "\n".join(out) + "\n"


def write(path: Path, text: str) -> None:
    """Atomically: the collector reads the old file or the new one, never half of one. The
    temporary name does not end in .prom, so the collector never reads it either."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            os.fchmod(file.fileno(), 0o644)   # counts and times only: node_exporter must read it
            file.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def one(name: str, kind: str, help_text: str, value, labels: dict | None = None) -> Metric:
    return Metric(name, kind, help_text, () if value is None else (((labels or {}), value),))


def collect(facts: dict) -> list[Metric]:
    """The metrics from what the daemon knows (`facts`, built by gateway.app.alive); a fact that is
    None (unknown here: IMS on a 2G modem, backup not configured) leaves its metric out."""
    f = facts
    return [
        one("textback_up", "gauge", "1 while the textback daemon's loop runs (see also "
            "node_textfile_mtime_seconds: a dead daemon stops updating this file)", 1),
        one("textback_link_connected", "gauge",
            "1 when the modem or phone answers, 0 when it is gone", f["connected"]),
        one("textback_signal_dbm", "gauge", "Signal strength in dBm, from AT+CSQ", f["signal_dbm"]),
        one("textback_network_registered", "gauge",
            "1 when registered on a network (home or roaming)", f["registered"]),
        one("textback_ims_registered", "gauge",
            "1 when IMS (VoLTE) is registered (AT+CIREG), 0 when not; absent where unknown",
            f["ims"]),
        Metric("textback_calls_total", "counter", "Calls seen, by outcome",
               tuple(({"outcome": k}, v) for k, v in sorted(f["calls"].items()))),
        Metric("textback_texts_total", "counter",
               "Texts by what became of them: sent, failed, skipped (a call not texted)",
               tuple(({"status": k}, v) for k, v in sorted(f["texts"].items()))),
        one("textback_outbox_depth", "gauge", "Texts waiting to be sent", f["outbox"]),
        one("textback_last_call_timestamp_seconds", "gauge",
            "When the last call ended (Unix time)", f["last_call"]),
        one("textback_last_text_timestamp_seconds", "gauge",
            "When the last text was sent (Unix time)", f["last_text"]),
        one("textback_backup_lag_seconds", "gauge",
            "Seconds since Litestream last copied the database to the replica", f["backup_lag"]),
        one("textback_selftest_success", "gauge",
            "1 when the last daily self-test passed, 0 when it failed", f["selftest_ok"]),
        one("textback_selftest_last_timestamp_seconds", "gauge",
            "When the last self-test finished (Unix time)", f["selftest_at"]),
        one("textback_health_ping_success", "gauge",
            "1 when the last dead-man ping arrived, 0 when it did not", f["ping_ok"]),
    ]
