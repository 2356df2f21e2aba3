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


# ---- 3. a device or pipe named as the database -----------------------------------------------
def fake_device(tmp_path) -> Path:
    """A character device we may chmod without harm: our own copy of /dev/null's node needs
    root (mknod), so a FIFO stands in where we are not root."""
    node = tmp_path / "devnull"
    if os.geteuid() == 0:
        os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    else:
        os.mkfifo(node, 0o666)
    node.chmod(0o666)   # (past the umask)
    return node


@pytest.mark.parametrize("command", [["book", "1"], ["name", "1", "Jane"], ["lost", "1"],
                                     ["leads"], ["status"]])
def test_a_device_as_the_database_is_refused_and_never_chmodded(home, tmp_path, command):
    config, _ = home
    node = fake_device(tmp_path)
    result = CliRunner().invoke(cli, [*command, "--config", str(config), "--db", str(node)])
    assert result.exit_code == 2, result.output
    assert "not a file, so not a lead database; nothing was changed" in result.output
    assert stat.S_IMODE(node.stat().st_mode) == 0o666
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("devnull")) == ["devnull"]


def test_run_on_a_device_is_refused_before_any_lock_file(home, tmp_path):
    config, _ = home
    node = fake_device(tmp_path)
    proc = textback("run", "--config", str(config), "--db", str(node))
    assert proc.returncode == 2, proc.stderr
    assert "not a file" in proc.stderr and "Traceback" not in proc.stderr
    assert stat.S_IMODE(node.stat().st_mode) == 0o666
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("devnull")) == ["devnull"]


def test_a_disk_io_error_is_not_called_a_full_disk():
    from gateway.app.dbfile import explain

    error = explain(sqlite3.OperationalError("disk I/O error"), Path("/x/textback.db"))
    assert "free some disk space" not in str(error)
    assert "check the SD card or disk" in str(error)


# ---- 16. a foreign file refused by run/demo/replay leaves no lock file -----------------------
@pytest.mark.parametrize("kind", ["text", "sqlite"])
def test_a_foreign_file_refused_by_run_gets_no_lock_file(home, tmp_path, kind):
    config, _ = home
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    notes = foreign / "notes.txt"
    if kind == "text":
        notes.write_text("call the plumber\n")
    else:
        sqlite3.connect(notes).execute("CREATE TABLE recipes (x)").connection.close()
    proc = textback("run", "--config", str(config), "--db", str(notes))
    assert proc.returncode == 2, proc.stderr
    assert "nothing was changed" in proc.stderr
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]
    replay = CliRunner().invoke(cli, ["replay", str(REPO / "tests/scenarios/sim800_missed.json"),
                                      "--db", str(notes)])
    assert replay.exit_code == 2, replay.output
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]


# ---- 5. one daemon per database, whatever its name ---------------------------------------------
def test_one_daemon_sees_through_symlinks_and_hard_links(home, tmp_path):
    from gateway.app.lock import one_daemon
    from gateway.errors import AlreadyRunning

    config, db = home
    other = tmp_path / "elsewhere"
    other.mkdir()
    soft, hard = other / "soft.db", other / "hard.db"
    soft.symlink_to(db)
    os.link(db, hard)
    with one_daemon(db):
        with pytest.raises(AlreadyRunning, match=f"PID {os.getpid()}"):
            with one_daemon(soft):
                pass
        with pytest.raises(AlreadyRunning, match="under another name"):
            with one_daemon(hard):
                pass
    with one_daemon(hard):   # and the other way round
        with pytest.raises(AlreadyRunning):
            with one_daemon(db):
                pass


def test_the_lock_file_is_private(home):
    from gateway.app.lock import lock_path, one_daemon

    config, db = home
    old = os.umask(0)
    try:
        with one_daemon(db):
            assert stat.S_IMODE(lock_path(db).stat().st_mode) == 0o600
    finally:
        os.umask(old)


# ---- 8. run in a folder it may not write -------------------------------------------------------
def test_run_in_a_read_only_folder_says_so(home, tmp_path):
    from gateway.app.lock import one_daemon
    from gateway.errors import StoreError

    config, _ = home
    # Permissions mean nothing to root: a file where the folder should be fails the same way
    # (the lock file cannot be created), for any user.
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot create the daemon's lock file"):
        with one_daemon(blocker / "textback.db"):
            pass
    proc = textback("run", "--config", str(config), "--db", str(blocker / "textback.db"))
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr, proc.stderr


# ---- 9. a damaged database is called damaged ---------------------------------------------------
def test_a_damaged_database_is_called_damaged_with_what_to_do(home):
    config, db = home
    data = bytearray(db.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)     # page 1's body: the schema, as a bad card leaves it
    db.write_bytes(bytes(data))
    for command in (["leads"], ["book", "1"]):
        result = invoke(home, *command)
        assert result.exit_code == 1, result.output
        assert f"lead database {db} is damaged" in result.output
        assert ".recover" in result.output and "backup" in result.output
        assert "not a textback database" not in result.output
    proc = textback("run", "--config", str(config), "--db", str(db))
    assert proc.returncode == 1 and "is damaged" in proc.stderr, proc.stderr


# ---- 4. status says "not running" as soon as the daemon stops --------------------------------
def test_status_uses_the_lock_not_only_the_heartbeat(home):
    from gateway.app.lock import one_daemon

    config, db = home
    store = Store(db)
    store.set_state("heartbeat", str(datetime.fromisoformat(NOW).timestamp() - 7))
    store.close()
    with one_daemon(db):
        result = invoke(home, "status")
        assert "running (heartbeat 7 s ago)" in result.output, result.output
    result = invoke(home, "status")          # stopped 0 s ago; its heartbeat still fresh
    assert result.exit_code == 1
    assert "not running (stopped; last heartbeat 7 s ago)" in result.output


def test_status_with_no_database_exits_1(home, tmp_path):
    config, _ = home
    result = CliRunner().invoke(cli, ["status", "--config", str(config),
                                      "--db", str(tmp_path / "none.db")])
    assert result.exit_code == 1, result.output
    assert "never started" in result.output


# ---- 10. owner's commands beside the daemon wait their turn ------------------------------------
def test_a_write_takes_the_write_lock_up_front(home):
    # A deferred transaction that reads, then writes after another connection committed, fails
    # at once with "database is locked" whatever the busy timeout: the Store's must not.
    config, db = home
    store = Store(db)
    other = sqlite3.connect(db, timeout=0, isolation_level=None)
    try:
        with store._write():
            assert store.lead(1)["number"] == JANE
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("UPDATE leads SET name = 'Other' WHERE id = 1")
            store.db.execute("UPDATE leads SET name = 'Mine' WHERE id = 1")
    finally:
        other.close()
        store.close()
    assert Store.read_only(db).lead(1)["name"] == "Mine"


def test_owner_commands_at_once_all_get_through(home):
    config, db = home
    procs = [subprocess.Popen([sys.executable, "-m", "cli.main", "book", "1", "--note", f"n{i}",
                               "--config", str(config), "--db", str(db)], cwd=REPO,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for i in range(12)]
    errors = [(proc.wait(120), proc.stderr.read()) for proc in procs]
    for proc in procs:
        proc.stderr.close()
    assert [e for e in errors if e[0]] == []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    assert conn.execute("SELECT count(*) FROM lead_changes").fetchone()[0] == 12
    conn.close()


# ---- 6. long names keep the leads table whole ---------------------------------------------------
@pytest.mark.parametrize("columns", [80, 200])
@pytest.mark.parametrize("length", [30, 60, 75, 200])
def test_a_long_name_keeps_every_column_of_the_leads_table(home, columns, length):
    config, db = home
    store = Store(db)
    missed_call(store, "+15125550177", "11:10", "call-2")
    store.set_lead_name(1, "A" * length, at("11:30"))
    store.set_lead_name(2, "Bo", at("11:31"))
    store.close()
    result = invoke(home, "leads", env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:4] == ["#", "name", "phone", "status"] and "last activity" in lines[0]
    for line in lines[1:3]:
        assert len(line) <= columns
        assert "+1512555" in line and "ago" in line, lines   # phone and last activity kept
    assert "Bo " in lines[1] + lines[2] and "Bo…" not in result.output   # a short name whole
    name_width = lines[0].index("phone") - lines[0].index("name")
    assert name_width <= 24 + 2


# ---- 11. an opt-out stays in sight whatever the owner marks the lead -------------------------
def test_booking_an_opted_out_lead_keeps_the_opt_out_visible(home):
    import json

    config, db = home
    store = Store(db)
    store.record_opt_out(JANE, now=at("11:05"))
    store.close()
    assert invoke(home, "book", "1", "--note", "called us back").exit_code == 0
    table = invoke(home, "leads").output
    assert "booked, opted out" in table, table
    listed = invoke(home, "leads", "--status", "opted-out", "--json")
    assert [(row["id"], row["status"], row["opted_out"]) for row in json.loads(listed.output)] == [
        (1, "booked", True)]
    assert "booked, opted out" in invoke(home, "lead", "1").output
    assert json.loads(invoke(home, "lead", "1", "--json").output)["opted_out"] is True
    refused = invoke(home, "reply", "1", "hello")
    assert refused.exit_code == 2 and "opted out" in refused.output


# ---- 7, 12, 13. config check refuses what run refuses -------------------------------------------
PORT = ('port = "sim"', 'port = "android"')
PHONE = ("[log]", '[phone]\npassword = "pw"\ncalls_password = "pw2"\nsigning_key = "key"\n\n[log]')


def configured(tmp_path, *edits, template: str | None = None) -> Path:
    """A starter config in its own folder, with (old, new) edits to its text."""
    folder = tmp_path / "cfg"
    assert CliRunner().invoke(cli, ["init", str(folder)]).exit_code == 0
    path = folder / "textback.toml"
    text = path.read_text()
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text)
    if template is not None:
        (folder / "templates" / "missed_call.txt").write_text(template)
    return path


def check(path: Path):
    return CliRunner().invoke(cli, ["config", "check", "--config", str(path)])


@pytest.mark.parametrize("edits, template, message", [
    ([("delay_seconds = 0", "delay_seconds = 999999999999")], None,
     "policy.delay_seconds: 999999999999 is too large (at most 86,400 seconds)"),
    ([("cooldown_hours = 24", "cooldown_hours = nan")], None, "policy.cooldown_hours: must be a number"),
    ([("daily_cap = 200", "daily_cap = 99999999999999")], None, "policy.daily_cap: 99999999999999 is too large"),
    ([('database = "textback.db"', 'database = ""')], None, "store.database: must name a file"),
    ([('database = "textback.db"', 'database = "templates"')], None, "is a folder, not a file"),
    ([('name = "Acme Plumbing"', 'name = "Acme\\u0000Plumbing"')], None,
     "business.name: holds a control character (U+0000) at character 5"),
    ([('name = "Acme Plumbing"', 'name = "' + "A" * 10_000 + '"')], None,
     "business.name: is 10,000 characters long; at most 100"),
    ([], "Sorry we missed you\x1b[2J\x07 - $company", "a control character (U+001B) at line 1, column 20"),
    ([], "Sorry " * 2000, "it is sent as 79 texts, each billed"),
    ([PORT, PHONE, ("[phone]\n", '[phone]\nurl_sms = "http://[::1"\n')], None,
     "phone.url_sms: not an http:// URL: 'http://[::1'"),
])
def test_config_check_refuses_what_run_would_refuse_or_mangle(tmp_path, edits, template, message):
    path = configured(tmp_path, *edits, template=template)
    path.chmod(0o600)
    result = check(path)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_config_check_refuses_readable_secrets_as_run_does(tmp_path):
    path = configured(tmp_path, PORT, PHONE)
    path.chmod(0o644)
    result = check(path)
    assert result.exit_code == 2, result.output
    assert "holds secrets (phone.password, phone.calls_password, phone.signing_key) and other " \
           "users can read it" in result.output
    run = textback("run", "--config", str(path), "--db", str(tmp_path / "t.db"))
    assert run.returncode == 2 and "other users can read it" in run.stderr
    path.chmod(0o600)
    assert check(path).exit_code == 0


def test_a_template_that_needs_a_status_is_warned_of(tmp_path):
    path = configured(tmp_path, template="Sorry, $status. $company")
    result = check(path)
    assert result.exit_code == 0
    assert "missed_call.txt: uses $status, which is empty until you set a status" in result.output
    assert "'Sorry, . Acme Plumbing'" in result.output


def test_files_others_can_change_are_warned_of_and_init_ignores_the_umask(tmp_path):
    old = os.umask(0)
    try:
        path = configured(tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE((path.parent / "templates").stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert check(path).output.endswith(": ok\n")
    template = path.parent / "templates" / "missed_call.txt"
    template.chmod(0o666)
    result = check(path)
    assert f"{template} can be changed by other users of this machine" in result.output


def test_init_where_it_cannot_write_says_so(tmp_path):
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "templates").write_text("a file where the folder goes")
    result = CliRunner().invoke(cli, ["init", str(blocked)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {blocked / 'templates'}: cannot write it: ")
    folder = tmp_path / "force"
    assert CliRunner().invoke(cli, ["init", str(folder)]).exit_code == 0
    (folder / "textback.toml").unlink()
    (folder / "textback.toml").mkdir()          # what cannot be opened for writing
    result = CliRunner().invoke(cli, ["init", str(folder), "--force"])
    assert result.exit_code == 2 and ": cannot write it: " in result.output, result.output


def test_phone_check_with_a_broken_url_says_so(tmp_path):
    path = configured(tmp_path, PORT, PHONE, ("[phone]\n", '[phone]\nurl_sms = "http://[::1"\n'))
    path.chmod(0o600)
    result = CliRunner().invoke(cli, ["phone", "check", "--config", str(path)])
    assert result.exit_code == 2, result.output
    assert "not an http:// URL" in result.output


# ---- 14. demo --speed nan -------------------------------------------------------------------------
@pytest.mark.parametrize("speed", ["nan", "inf"])
def test_demo_refuses_a_speed_that_is_no_number(speed):
    result = CliRunner().invoke(cli, ["demo", "--speed", speed])
    assert result.exit_code == 2
    assert "Invalid value for '--speed'" in result.output


# ---- 17. reply with the words unquoted --------------------------------------------------------------
def test_reply_takes_the_words_unquoted(home):
    result = invoke(home, "reply", "1", "I", "can", "be", "there", "at", "3")
    assert result.exit_code == 0, result.output
    assert Store.read_only(home[1]).db.execute(
        "SELECT body FROM messages WHERE kind = 'manual'").fetchone()[0] == "I can be there at 3"


# ---- 18. one rule for names and notes -------------------------------------------------------------
@pytest.mark.parametrize("args", [["book", "1", "--note", "paid\x1b[2J"], ["lost", "1", "--note", "a\nb"],
                                  ["name", "1", "Jane\x07"], ["leads", "--search", "x\x1b"]])
def test_control_characters_are_refused_alike_and_said_plainly(home, args):
    config, db = home
    result = invoke(home, *args)
    assert result.exit_code == 2, result.output
    assert "holds a control character (U+00" in result.output and "\\\\" not in result.output
    assert Store.read_only(db).db.execute("SELECT count(*) FROM lead_changes").fetchone()[0] == 0


# ---- 21. the smaller ones ------------------------------------------------------------------------
def test_search_folds_case_beyond_ascii(home):
    import json

    store = Store(home[1])
    store.set_lead_name(1, "Zoë Ångström", at("11:30"))
    store.close()
    for term in ("ZOË", "zoë", "ÅNGSTRÖM"):
        found = json.loads(invoke(home, "leads", "--search", term, "--json").output)
        assert [row["id"] for row in found] == [1], term


def test_since_refuses_an_ambiguous_capital_m(home):
    result = invoke(home, "leads", "--since", "2M")
    assert result.exit_code == 2
    assert "ambiguous (minutes or months?)" in result.output
    assert invoke(home, "leads", "--since", "2m").exit_code == 0


def test_status_hint_names_the_status_as_written(home):
    result = invoke(home, "leads", "--status", "optout")
    assert "opted-out" in result.output and "opted_out" not in result.output


def test_a_config_that_is_not_there_is_said_even_with_db(home, tmp_path):
    config, db = home
    result = CliRunner().invoke(cli, ["leads", "--config", str(tmp_path / "nonexistent.toml"),
                                      "--db", str(db)])
    assert result.exit_code == 2, result.output
    assert "config file not found" in result.output
    assert "textback init FOLDER writes FOLDER/textback.toml" in result.output


def test_the_phone_demo_says_its_files_are_thrown_away(monkeypatch):
    from cli import running

    monkeypatch.setattr(running, "PHONE_DEMO_SECONDS", 1.0)   # the leads and the note, not the show
    result = CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["demo", "--phone"])
    assert result.exit_code == 0, result.output
    assert "in a throwaway folder, deleted now: demo --phone --db FILE keeps them" in result.output


def test_the_phone_demo_leaves_no_script_running_after_it_ends(monkeypatch):
    """The simulated phone's script outlived a short demo and printed into whatever came next
    ("phone: the battery falls to 8 %" inside another command's output)."""
    import threading

    from cli import running

    monkeypatch.setattr(running, "PHONE_DEMO_SECONDS", 1.0)
    before = set(threading.enumerate())
    result = CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["demo", "--phone"])
    assert result.exit_code == 0, result.output
    assert [t for t in threading.enumerate() if t not in before and t.name.startswith("Thread-")
            and t.is_alive() and getattr(t, "_target", None) is not None
            and t._target.__name__ == "script"] == []


# ---- 20. no digit of a number at INFO --------------------------------------------------------------
def test_the_info_log_holds_no_digit_of_a_callers_number(caplog):
    import logging
    import re

    from gateway.simulator.replay import run_replay

    with caplog.at_level(logging.INFO):
        run_replay(REPO / "tests/scenarios/reply_and_relay.json", write=lambda _: None)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "caller-" in text                          # callers are named, by a tag
    assert "•" not in text and not re.search(r"\+\d", text), text


# ---- 15. doctor ------------------------------------------------------------------------------------
@pytest.mark.parametrize("number", ["+1512555014", "+999999999999999999"])
def test_doctor_refuses_a_test_number_that_cannot_exist(number):
    result = CliRunner().invoke(cli, ["doctor", "--port", "sim", "--test-text", number])
    assert result.exit_code == 2, result.output
    assert "no such number" in result.output and "Test text sent" not in result.output


def test_doctor_on_something_that_is_no_serial_port_says_so():
    result = CliRunner().invoke(cli, ["doctor", "--port", "/dev/null"])
    assert result.exit_code == 1
    assert "FAIL port: not a serial port" in result.output
    assert "plug the modem in" not in result.output


def test_doctor_without_port_uses_the_configs(tmp_path):
    path = configured(tmp_path)        # the starter: port = "sim"
    result = CliRunner().invoke(cli, ["doctor", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "(the built-in simulated modem):" in result.output


# ---- 19. a second phone daemon: the webhook port is taken ----------------------------------------
def test_a_taken_webhook_port_stops_the_daemon_with_the_reason_once(phone_settings, tmp_path, caplog):
    import logging
    import socket

    from gateway import config as config_mod
    from gateway.app.daemon import build
    from gateway.clock import WallClock
    from gateway.errors import ModemError
    from gateway.phone.link import PhoneLink

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    path = configured(tmp_path)
    store = Store(tmp_path / "t.db")
    clock = WallClock()
    daemon = build(config_mod.load(path), store, clock,
                   PhoneLink(phone_settings(listen_port=port), clock), notices=False)
    try:
        with caplog.at_level(logging.WARNING), \
                pytest.raises(ModemError, match=f"the webhook port 127.0.0.1:{port} .* is taken"):
            daemon.run(until=clock.now() + 30)
    finally:
        taken.close()
        store.close()
    assert "Address already in use" not in caplog.text


# ---- 2. a wrong signing key: said by the log, status and phone check ------------------------------
def test_a_wrong_signing_key_is_a_problem_in_status_and_phone_check(gw, phone_settings, tmp_path):
    from gateway import config as config_mod
    from gateway.app.daemon import build
    from gateway.app.lock import one_daemon
    from gateway.clock import WallClock
    from gateway.phone.link import PhoneLink

    path = configured(tmp_path, PORT, PHONE, ('signing_key = "key"', 'signing_key = "wrong!"'),
                      ('password = "pw"', 'password = "Pa55word"'),
                      ('calls_password = "pw2"', 'calls_password = "CallPa55"'),
                      ("[phone]\n", f'[phone]\nurl_sms = "{gw.url_sms}"\nurl_calls = "{gw.url_calls}"\n'
                                    'adb = false\nlisten_port = 0\n'))
    path.chmod(0o600)
    db = path.parent / "textback.db"
    store = Store(db)
    clock = WallClock()
    records = []
    daemon = build(config_mod.load(path), store, clock,
                   PhoneLink(phone_settings(signing_key="wrong!"), clock), sink=records.append,
                   notices=False)

    def check():
        if daemon.connected and not records_played:
            records_played.append(1)
            gw.play("missed", JANE)
        if any(r["event"] == "link_warning" for r in records):
            daemon.stop("done")
            clock.interrupt()
    records_played = []
    daemon.on_pass = check
    try:
        daemon.run(until=clock.now() + 60)
        with one_daemon(db):   # as `textback run` holds it
            status = CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["status", "--config", str(path)])
    finally:
        daemon.link.close()
        store.close()
    assert daemon.stop_reason == "done"
    assert status.exit_code == 1, status.output
    assert "webhooks refused: bad signature (check [phone] signing_key)" in status.output
    check_out = CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["phone", "check", "--config", str(path)])
    assert check_out.exit_code == 1, check_out.output
    assert "FAIL webhooks: webhooks refused: bad signature" in check_out.output
