"""The metrics file for node_exporter's textfile collector, checked with prometheus_client's own
parser (the reference implementation of the text format)."""
from pathlib import Path

import pytest
import serial
from prometheus_client.parser import text_string_to_metric_families

from alive_helpers import cut_alive
from gateway import config as config_mod
from gateway.app import metrics
from gateway.errors import ConfigError


def families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_render_is_the_text_format():
    text = metrics.render([
        metrics.one("textback_up", "gauge", "up", 1),
        metrics.Metric("textback_calls_total", "counter", 'Calls "seen"\nby outcome',
                       (({"outcome": "missed"}, 3), ({"outcome": 'odd"\\'}, 0))),
        metrics.one("textback_ims_registered", "gauge", "unknown here", None),
        metrics.one("textback_backup_lag_seconds", "gauge", "lag", 1.25),
    ])
    got = families(text)
    assert set(got) == {"textback_up", "textback_calls", "textback_backup_lag_seconds"}
    calls = got["textback_calls"]
    assert calls.type == "counter" and calls.documentation == 'Calls "seen"\nby outcome'
    assert [(s.name, s.labels, s.value) for s in calls.samples] == [
        ("textback_calls_total", {"outcome": "missed"}, 3.0),
        ("textback_calls_total", {"outcome": 'odd"\\'}, 0.0)]
    assert got["textback_backup_lag_seconds"].samples[0].value == 1.25
    assert "textback_ims_registered" not in text


def test_write_is_atomic_and_readable_by_node_exporter(tmp_path):
    path = tmp_path / "textback.prom"
    path.write_text("old\n")
    metrics.write(path, "textback_up 1\n")
    assert path.read_text() == "textback_up 1\n"
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["textback.prom"]
    with pytest.raises(OSError):
        metrics.write(tmp_path / "missing" / "textback.prom", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["textback.prom"]


def test_settings():
    got = config_mod._metrics({"textfile": "prom/textback.prom"}, Path("/etc/textback"), "t.toml")
    assert got.textfile == Path("/etc/textback/prom/textback.prom")
    assert config_mod._metrics({"textfile": ""}, Path("/"), "t.toml") is None
    with pytest.raises(ConfigError, match="node_exporter reads only files ending in .prom"):
        config_mod._metrics({"textfile": "/var/lib/node/textback.txt"}, Path("/"), "t.toml")


def test_the_daemon_writes_every_series_the_issue_lists(tmp_path):
    """A missed call texted back on the simulated LTE modem, the file read back with the parser:
    daemon up, link, signal, registration, IMS, calls by outcome, texts, outbox, last call and
    text times, backup lag (a replica named), self-test."""
    from gateway import config as config_mod
    from gateway.app.daemon import build
    from gateway.app.store import Store
    from gateway.at.link import AtLink
    from gateway.clock import VirtualClock
    from gateway.simulator.modem import SimulatedModem
    from gateway.simulator.scenario import Step
    from gateway.starter import write_starter

    write_starter(tmp_path)
    toml = tmp_path / "textback.toml"
    prom = tmp_path / "node" / "textback.prom"
    prom.parent.mkdir()
    toml.write_text(cut_alive(toml.read_text()) + f'\n[metrics]\ntextfile = "{prom}"\n[backup]\n'
                    f'replica = "file://{tmp_path / "replica"}"\n[selftest]\nat = "10:03"\n')
    cfg = config_mod.load(toml)
    n = "+15125550142"
    sim = SimulatedModem("ec25", steps=[Step(0.0, "RING"), Step(0.05, f'+CLIP: "{n}",145,"",0,"",0'),
                                  Step(5.0, "RING"), Step(10.0, "RING")])
    start = 1_795_536_000.0   # Tuesday 10:00 in Austin
    clock = VirtualClock(start, sim, warmup=1.0)
    store = Store(tmp_path / "t.db")
    daemon = build(cfg, store, clock, AtLink(lambda: serial.Serial(sim.port_name, 115200,
                                                                      timeout=0), clock), notices=False)
    try:
        daemon.run(until=start + 400)
    finally:
        store.close()
        sim.close()
    got = families(prom.read_text())
    samples = [s for family in got.values() for s in family.samples]
    value = lambda name, **labels: next(  # noqa: E731
        s.value for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))
    assert value("textback_up") == 1
    assert value("textback_link_connected") == 1
    assert value("textback_signal_dbm") == -71          # the sim's +CSQ: 21
    assert value("textback_network_registered") == 1
    assert value("textback_ims_registered") == 1
    assert value("textback_calls_total", outcome="missed") == 1
    assert value("textback_calls_total", outcome="answered") == 0
    assert value("textback_texts_total", status="sent") >= 2       # the text-back and the test
    assert value("textback_texts_total", status="failed") == 0
    assert value("textback_texts_total", status="skipped") == 0
    assert value("textback_outbox_depth") == 0
    assert start < value("textback_last_call_timestamp_seconds") < start + 60
    assert start < value("textback_last_text_timestamp_seconds") < start + 400
    assert value("textback_backup_lag_seconds") >= 0    # no Litestream here: it grows
    assert value("textback_selftest_success") == 1
    assert start + 180 < value("textback_selftest_last_timestamp_seconds") < start + 400
    for family in got.values():   # Prometheus naming: prefix, counters _total, base units
        assert family.name.startswith("textback_")
        assert family.type in ("gauge", "counter")
        if family.type == "counter":
            assert all(s.name.endswith("_total") for s in family.samples)


def test_an_unwritable_metrics_folder_is_said_once_and_shown(tmp_path, caplog):
    import json

    from click.testing import CliRunner

    from alive_helpers import run_daemon
    from cli.main import cli

    db, _, _ = run_daemon(tmp_path, f'[metrics]\ntextfile = "{tmp_path / "no" / "t.prom"}"\n',
                          until=400)
    said = [r for r in caplog.records if "cannot write the metrics file" in r.getMessage()]
    assert len(said) == 1   # written every minute, said once
    result = CliRunner().invoke(cli, ["status", "--db", str(db), "--json"])
    row = next(r for r in json.loads(result.output) if r["check"] == "metrics")
    assert row == {"check": "metrics", "ok": False,
                   "value": "cannot write the metrics file (No such file or directory)",
                   "fix": "check [metrics] textfile: its folder must exist and be writable by "
                          "textback"}
