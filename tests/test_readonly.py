"""Commands that only read open the database read-only: they never create, migrate, chmod
or write; a file that is not textback's is refused and left as it was; a read-only copy (a backup,
`chmod 444`, a read-only folder or card) can be read, WAL and all. Real SQLite files throughout.

Permissions mean nothing to root, so the read-only folder cases run the command as user `nobody`
(setpriv) when the suite runs as root, and as the user itself otherwise.
"""
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli
from gateway.app.store import Store
from gateway.events import CallEnded

REPO = Path(__file__).resolve().parent.parent
NOW = "2026-11-24T12:00:00-06:00"
T = 1_795_536_000.0   # 2026-11-24 10:00 Chicago
JANE = "+15125550142"
# Every command that only reads, with what it prints on the little database below.
READERS = [("leads", "--json"), ("lead", "1", "--json"), ("lead", "1"), ("calls", "--json"),
           ("stats", "--json"), ("status", "--json"), ("export",), ("export", "--format", "json"),
           ("reply", "1", "On my way", "--dry-run")]


def expected_exit(args) -> int:
    """0, but `status` on a copy exits 1: no daemon holds it (gateway.app.lock), which needs you."""
    return 1 if args[0] == "status" else 0


def make_db(path: Path) -> Path:
    """A textback database with one lead (a missed call, the text-back, an unread reply), closed
    cleanly: WAL mode, and no -wal or -shm beside it (the daemon's last close removes them)."""
    store = Store(path)
    ended = CallEnded(call_id=0, number=JANE, number_type=145, withheld=False, outcome="missed",
                      started=T - 9, ended=T, rings=2, how="NO CARRIER")
    call_id, _ = store.record_call(ended, JANE, key="c1", now=T)
    out = store.queue_text(number=JANE, body="Sorry we missed you", kind="missed_call",
                           dedupe_key="c1", send_at=T, now=T, call_id=call_id)
    store.mark_sending(out, T)
    store.mark_sent(out, 1, T + 2)
    store.record_inbound(number=JANE, body="The sink leaks", now=T + 60, dedupe_key="in1")
    store.set_state("heartbeat", f"{T + 7200 - 5:.3f}")   # the daemon was alive at NOW
    store.close()
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
    return path


def snapshot(folder: Path) -> dict:
    """Every file in `folder`: (bytes, mode). Equal before and after means: nothing was touched."""
    return {p.name: (p.read_bytes(), stat.S_IMODE(p.stat().st_mode)) for p in folder.iterdir()}


def invoke(*args, db: Path):
    return CliRunner(env={"COLUMNS": "100", "TEXTBACK_NOW": NOW, "TEXTBACK_CONFIG": None,
                          "HOME": str(db.parent)}).invoke(cli, [*args, "--db", str(db)])


@pytest.mark.parametrize("args", READERS)
def test_readers_on_a_chmod_444_copy_work_and_touch_nothing(tmp_path, args):
    db = make_db(tmp_path / "backup.db")
    db.chmod(0o444)
    before = snapshot(tmp_path)
    result = invoke(*args, db=db)
    assert result.exit_code == expected_exit(args), result.output
    assert snapshot(tmp_path) == before          # no -wal, no -shm, no chmod, no write


def test_lead_on_a_read_only_copy_shows_the_story_and_says_it_stays_unread(tmp_path):
    db = make_db(tmp_path / "backup.db")
    db.chmod(0o444)
    result = invoke("lead", "1", db=db)
    assert result.exit_code == 0
    assert "The sink leaks" in result.output
    assert result.output.endswith(f"note: {db} is read-only; the replies stay marked unread "
                                  "there\n")


def test_lead_json_says_who_the_lead_is(tmp_path):
    db = make_db(tmp_path / "t.db")
    got = json.loads(invoke("lead", "@1", "--json", db=db).output)
    assert {k: v for k, v in got.items() if k != "events"} == {
        "id": 1, "number": JANE, "name": None, "status": "replied", "opted_out": False,
        "missed_calls": 1, "unread": 1, "created_at": "2026-11-24T16:00:00.000Z",
        "last_activity_at": "2026-11-24T16:01:00.000Z"}
    assert [e["event"] for e in got["events"]] == ["call", "text_out", "text_in"]


@pytest.mark.parametrize("journal", ["wal", "delete"])
@pytest.mark.parametrize("args", [("leads",), ("calls",), ("stats",), ("status",), ("export",),
                                  ("lead", "1", "--json"), ("book", "1"), ("name", "1", "Jo"),
                                  ("reply", "1", "hi")])
def test_a_sqlite_file_that_is_not_textbacks_is_refused_and_left_untouched(tmp_path, args, journal):
    # Once: `textback leads --db other.db` added textback's tables to it and exited 0.
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute(f"PRAGMA journal_mode = {journal}")
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.execute("INSERT INTO recipes VALUES ('soup')")
    conn.commit()
    conn.close()
    other.chmod(0o644)
    before = snapshot(tmp_path)
    result = invoke(*args, db=other)
    assert (result.exit_code, result.output) == (2, (
        f"error: {other} is a SQLite database but not textback's (its tables: recipes); nothing "
        "was changed\n"
        "  -> point --db (or TEXTBACK_DB, or store.database in the config) at textback's "
        "database, textback.db by default\n"))
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("args", [("leads",), ("book", "1")])
def test_a_text_file_is_refused_before_anything_chmods_it(tmp_path, args):
    # Once: on a text file, textback first chmodded it 644 -> 600, then failed.
    notes = tmp_path / "notes.txt"
    notes.write_text("milk, eggs\n")
    notes.chmod(0o644)
    result = invoke(*args, db=notes)
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {notes} is not a SQLite database, so not textback's "
                                    "lead database; nothing was changed\n")
    assert snapshot(tmp_path) == {"notes.txt": (b"milk, eggs\n", 0o644)}


@pytest.mark.parametrize("args", [("book", "1"), ("reply", "1", "hi"), ("name", "1", "Jo")])
def test_a_command_that_writes_refuses_a_read_only_copy_instead_of_chmodding_it(tmp_path, args):
    db = make_db(tmp_path / "backup.db")
    db.chmod(0o444)
    before = snapshot(tmp_path)
    result = invoke(*args, db=db)
    assert (result.exit_code, result.output) == (1, (
        f"error: lead database {db} is read-only: this command changes it\n"
        "  -> the reading commands (leads, lead --json, calls, stats, status, export) work on "
        "it; to change it, use a writable copy\n"))
    assert snapshot(tmp_path) == before


def test_an_empty_file_is_not_a_lead_database_to_read(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    result = invoke("leads", db=empty)
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {empty} is not a textback lead database (it has no "
                                    "tables yet); nothing was changed\n")
    assert snapshot(tmp_path) == {"empty.db": (b"", stat.S_IMODE(empty.stat().st_mode))}


# ---- another user, a read-only folder --------------------------------------------------------
def _as_other_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv (util-linux): cannot drop to nobody")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def textback(*args, cwd: Path) -> subprocess.CompletedProcess:
    """The real command, as a user who may not write `cwd` (nobody when we are root)."""
    env = {**os.environ, "COLUMNS": "100", "TEXTBACK_NOW": NOW, "HOME": str(cwd),
           "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("TEXTBACK_CONFIG", None)
    env.pop("TEXTBACK_DB", None)
    proc = subprocess.run([*_as_other_user(), sys.executable, "-m", "cli.main", *args],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    if proc.returncode and "Permission denied" in proc.stderr and "python" in proc.stderr.lower():
        pytest.skip(f"user nobody cannot run this checkout's Python: {proc.stderr[-200:]}")
    return proc


@pytest.fixture
def shared_tmp():
    """A folder others can reach (pytest's tmp_path is private to us)."""
    folder = Path(tempfile.mkdtemp(prefix="textback-ro-"))
    folder.chmod(0o755)
    yield folder
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
    shutil.rmtree(folder)


def test_a_backup_in_a_read_only_folder_can_be_read(shared_tmp):
    # A WAL database with no -wal or -shm in a folder the reader cannot write (a mounted card, a
    # backup): a mode=ro open would need to create -shm and fails ("attempt to write a readonly
    # database"); immutable needs nothing.
    card = shared_tmp / "card"
    card.mkdir()
    db = make_db(card / "textback.db")
    db.chmod(0o644)
    card.chmod(0o555)
    before = snapshot(card)
    for args in READERS:
        proc = textback(*args, "--db", str(db), cwd=card)
        assert proc.returncode == expected_exit(args), (args, proc.stderr)
    leads = json.loads(textback("leads", "--json", "--db", str(db), cwd=card).stdout)
    assert [(lead["number"], lead["preview"]) for lead in leads] == [(JANE, "The sink leaks")]
    assert snapshot(card) == before


def test_a_live_database_is_read_through_the_daemons_wal_by_a_user_who_may_not_write(shared_tmp):
    # The daemon (here: a Store held open) has written commits that are still only in its -wal;
    # the owner's user may read the files but not write the folder, the -wal or the -shm.
    box = shared_tmp / "box"
    box.mkdir()
    db = make_db(box / "textback.db")
    store = Store(db)
    try:
        store.record_inbound(number="+15125550177", body="Can you come today?", now=T + 120,
                             dedupe_key="in2")
        assert (box / "textback.db-wal").stat().st_size > 0      # the commit is in the WAL only
        for path in box.iterdir():
            path.chmod(0o644)
        box.chmod(0o755)
        before = {p.name for p in box.iterdir()}
        proc = textback("leads", "--json", "--db", str(db), cwd=box)
        assert proc.returncode == 0, proc.stderr
        assert [lead["preview"] for lead in json.loads(proc.stdout)] == [
            "Can you come today?", "The sink leaks"]
        assert {p.name for p in box.iterdir()} == before
    finally:
        store.close()
