"""An owner's hostile or clumsy use of the commands, from the README alone (a stranger's pass):
each case says what is wrong, where and what to do, exits non-zero, and loses nothing."""
import os
import sqlite3
import stat
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from gateway.app.store import Store
from gateway.events import CallEnded

REPO = Path(__file__).resolve().parent.parent
NOW = "2026-11-24T12:00:00-06:00"
JANE = "+15125550142"


def at(clock: str) -> float:
    return datetime.fromisoformat(f"2026-11-24T{clock}:00-06:00").timestamp()


def missed_call(store, number, clock, key):
    ended = CallEnded(call_id=0, number=number, number_type=145, withheld=False, outcome="missed",
                      started=at(clock) - 9, ended=at(clock), rings=2, how="NO CARRIER")
    store.record_call(ended, number, key=key, now=at(clock))


@pytest.fixture
def home(tmp_path):
    """(config, db): the starter config and a database with one lead, Jane (#1)."""
    assert CliRunner().invoke(cli, ["init", str(tmp_path)]).exit_code == 0
    config, db = tmp_path / "textback.toml", tmp_path / "textback.db"
    store = Store(db)
    missed_call(store, JANE, "11:00", "call-1")
    store.close()
    return config, db


def invoke(home, *args, db=True, env=None):
    config, path = home
    return CliRunner(env={"COLUMNS": "80", "TEXTBACK_NOW": NOW, **(env or {})}).invoke(
        cli, [*args, "--config", str(config), *(["--db", str(path)] if db else [])])


def textback(*args, stdout=subprocess.PIPE, **kwargs) -> subprocess.CompletedProcess:
    """The real command in a process of its own."""
    env = {**os.environ, "COLUMNS": "80", "TEXTBACK_NOW": NOW, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("TEXTBACK_CONFIG", None)
    env.pop("TEXTBACK_DB", None)
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=REPO, env=env,
                          stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=60, **kwargs)


def leads_in(db: Path) -> list:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT id, number FROM leads").fetchall()
    finally:
        conn.close()


# ---- 1. export -o never replaces what textback keeps ------------------------------------------
@pytest.mark.parametrize("victim", ["textback.db", "textback.toml", "textback.db-wal",
                                    "templates/missed_call.txt"])
def test_export_refuses_to_overwrite_the_database_config_and_templates(home, victim):
    config, db = home
    target = config.parent / victim
    target.touch(exist_ok=True)
    before = target.read_bytes()
    for force in ([], ["--force"]):
        result = invoke(home, "export", "-o", str(target), *force)
        assert result.exit_code == 2, result.output
        assert "nothing was written" in result.output
        assert target.read_bytes() == before
    assert leads_in(db) == [(1, JANE)]


def test_export_refuses_a_link_to_the_database_and_any_sqlite_file(home, tmp_path):
    config, db = home
    link = tmp_path / "leads.csv"
    link.symlink_to(db)
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    for target in (link, other):
        result = invoke(home, "export", "-o", str(target), "--force")
        assert result.exit_code == 2, result.output
        assert "nothing was written" in result.output
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert leads_in(db) == [(1, JANE)]


def test_export_refuses_an_existing_file_unless_forced_and_replaces_it_whole(home, tmp_path):
    target = tmp_path / "leads.csv"
    target.write_text("my notes\n")
    target.chmod(0o644)
    result = invoke(home, "export", "-o", str(target))
    assert result.exit_code == 2
    assert "exists already" in result.output and "--force" in result.output
    assert target.read_text() == "my notes\n"
    result = invoke(home, "export", "-o", str(target), "--force")
    assert result.exit_code == 0, result.output
    assert target.read_text().startswith("lead_id,number")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_export_to_a_full_device_says_so(home):
    config, db = home
    proc = textback("export", "--db", str(db), "-o", "/dev/full")
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "No space left on device" in proc.stderr and "free some disk space" in proc.stderr


def test_leads_to_a_full_device_says_so(home):
    config, db = home
    with open("/dev/full", "w") as full:
        proc = textback("leads", "--db", str(db), stdout=full)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
    assert "cannot write the output" in proc.stderr
