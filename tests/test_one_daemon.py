"""One daemon per database (two could once run on one database and work the same outbox), the
run's start line, and replay/demo using only what they are given. Real processes, real files."""
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from gateway.app.lock import one_daemon
from gateway.errors import AlreadyRunning

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = Path(__file__).parent / "scenarios"


def start_daemon(folder: Path, db: Path) -> tuple[subprocess.Popen, list[str]]:
    """`textback run` on the simulated modem; returns once it logged that the modem is ready."""
    assert CliRunner().invoke(cli, ["init", str(folder)]).exit_code == 0
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("TEXTBACK_DB", None)
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "run", "--config",
                             str(folder / "textback.toml"), "--db", str(db)],
                            stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    seen: list[str] = []
    ready = threading.Event()

    def read():
        for line in proc.stderr:      # the daemon's own log: no sleeping, no polling
            seen.append(line)
            if "modem ready" in line:
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(120) or proc.poll() is not None:
        proc.kill()
        pytest.fail("the daemon did not come up:\n" + "".join(seen))
    return proc, seen


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    finally:
        proc.kill()


def test_a_second_daemon_on_the_same_database_exits_1_naming_the_first(tmp_path):
    db = tmp_path / "leads.db"
    first, log = start_daemon(tmp_path, db)
    try:
        second = subprocess.run([sys.executable, "-m", "cli.main", "run", "--config",
                                 str(tmp_path / "textback.toml"), "--db", str(db)],
                                capture_output=True, text=True, cwd=REPO, timeout=60)
        assert (second.returncode, second.stderr) == (1, (
            f"error: another textback daemon (PID {first.pid}) is running on {db}\n"
            f"  -> only one may: stop it first (sudo systemctl stop textback, or kill "
            f"{first.pid}), or give this one another database with --db\n"))
        # A replay or a demo given that database runs a daemon there too: refused the same way.
        replay = CliRunner().invoke(cli, ["replay", str(SCENARIOS / "sim800_missed.json"),
                                          "--db", str(db)])
        assert replay.exit_code == 1
        assert f"another textback daemon (PID {first.pid})" in replay.output
        # The owner's commands never wait for the lock: they only read.
        leads = CliRunner().invoke(cli, ["leads", "--db", str(db), "--json"])
        assert (leads.exit_code, json.loads(leads.output)) == (0, [])
    finally:
        stop(first)
    assert first.returncode == 0, "".join(log)
    with one_daemon(db):          # let go at the stop: the next start may run
        pass


def test_the_lock_is_let_go_when_the_daemon_is_killed(tmp_path):
    db = tmp_path / "leads.db"
    first, _ = start_daemon(tmp_path, db)
    first.kill()                  # kill -9: no cleanup runs, the kernel releases the lock
    first.wait(30)
    with one_daemon(db):
        with pytest.raises(AlreadyRunning, match=f"PID {os.getpid()}"):
            with one_daemon(db):
                pass


def test_the_run_says_what_it_runs_on_and_which_zone_its_log_is_in(tmp_path):
    db = tmp_path / "leads.db"
    proc, log = start_daemon(tmp_path, db)
    stop(proc)
    start = next(line for line in log if " starting: " in line)
    assert start.split(": ", 1)[1].split(" starting: ")[1] == (
        f"config {tmp_path / 'textback.toml'}, database {db}, modem sim, business "
        "'Acme Plumbing' (America/Chicago)\n")
    # every log line's time carries its UTC offset: "2026-11-28 03:20:00+0000 INFO ..."
    stamp = start.split(" INFO ")[0]
    assert stamp[-5] in "+-" and stamp[-4:].isdigit(), start


def test_replay_and_demo_ignore_the_owners_environment(tmp_path):
    # With TEXTBACK_DB set (as the README tells owners), replay wrote into the real
    # lead database; its help promised the config's database and used neither.
    assert CliRunner().invoke(cli, ["init", str(tmp_path / "bob")]).exit_code == 0
    bob = tmp_path / "bob" / "textback.toml"
    bob.write_text(bob.read_text().replace('"Acme Plumbing"', '"Bob\'s Roofing"'))
    real = tmp_path / "real.db"
    env = {"TEXTBACK_DB": str(real), "TEXTBACK_CONFIG": str(bob)}
    result = CliRunner(env=env).invoke(cli, ["replay", str(SCENARIOS / "sim800_missed.json")])
    assert result.exit_code == 0, result.output
    assert not real.exists()
    texts = [json.loads(line)["text"] for line in result.output.splitlines()
             if json.loads(line)["event"] == "sms" and json.loads(line)["status"] == "sent"]
    assert any("Acme Plumbing" in text for text in texts)      # the starter config, as it says
    # Given explicitly, they are used.
    result = CliRunner(env=env).invoke(cli, ["replay", str(SCENARIOS / "sim800_missed.json"),
                                             "--config", str(bob), "--db", str(tmp_path / "r.db")])
    assert result.exit_code == 0 and "Bob's Roofing" in result.output
    assert (tmp_path / "r.db").exists() and not real.exists()


def test_demo_help_says_what_it_uses():
    text = " ".join(CliRunner().invoke(cli, ["demo", "--help"]).output.split())
    assert "Uses the starter config (Acme Plumbing) in a throwaway folder, never yours, and a " \
           "throwaway database unless --db says otherwise." in text
    assert "$TEXTBACK_DB is not read." in text
    replay = " ".join(CliRunner().invoke(cli, ["replay", "--help"]).output.split())
    assert "Its database is not used; $TEXTBACK_CONFIG is not read." in replay


def test_the_demo_keeps_its_own_clock_and_counts_text_backs_apart(tmp_path):
    # The demo's "last activity" was measured against the real clock (the demo is
    # pinned to another day: "2h ago"), and its summary counted the owner's alert as a text-back.
    import re

    real = tmp_path / "real.db"
    result = CliRunner(env={"COLUMNS": "160", "TEXTBACK_DB": str(real)}).invoke(
        cli, ["demo", "--speed", "20"])
    assert result.exit_code == 0, result.output
    assert not real.exists()
    table = result.output.split("Leads after the demo\n")[1].split("\n\n")[0].splitlines()
    assert table[0].endswith("last activity") and table.pop() == "(times in America/Chicago)"
    assert all(re.search(r"Nov 27 1[67]:\d\d, (just now|\d+m ago)", row) for row in table[1:])
    summary = " ".join(result.output.split("\n\n")[-1].split())
    texted = len(table) - 1                       # every lead in the demo was texted back once
    assert re.fullmatch(rf"\d+ calls, \d+ missed, {texted} texted back, \d+ not texted \(.*\); "
                        r"\d+ other texts? sent \(\d+ to the owner\); \d+ retried after a modem "
                        r"error\.", summary), summary
