"""The leads copied off the box: [backup] settings, Litestream's config made from them, and the
real Litestream (0.5.17) against a file replica and a real OpenSSH server (sftp), killed with
SIGKILL in the middle of a burst of calls and restored into a new folder.

Litestream missing or unable to run here: those tests skip, saying why. sshd missing: the sftp
ones skip, naming the package (.ci/run installs openssh-server).
"""
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from alive_helpers import cut_alive

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

import replication as rep  # noqa: E402

from gateway import backup  # noqa: E402
from gateway.errors import ConfigError  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
NO_LITESTREAM = rep.litestream_missing()
needs_litestream = pytest.mark.skipif(NO_LITESTREAM is not None,
                                      reason=f"the real Litestream cannot run: {NO_LITESTREAM}")
needs_sshd = pytest.mark.skipif(rep.SSHD is None or not __import__("shutil").which("ssh-keygen"),
                                reason="no sshd/ssh-keygen: apt-get install openssh-server")
SYNC = 1.0        # Litestream's sync interval, as textback sets it by default
MONITOR = 1.0     # Litestream's WAL monitor interval (db.go DefaultMonitorInterval)


def raw(**kw):
    return {"replica": "", "credentials": "", "sync_interval": 1, **kw}


@pytest.mark.parametrize("url, scheme", [
    ("file:///media/usb/textback", "file"),
    ("sftp://backup@nas.local/srv/textback", "sftp"),
    ("sftp://backup@10.0.0.5:2222/home/backup/textback", "sftp"),
    ("s3://my-bucket/textback", "s3"),
])
def test_replica_urls_textback_takes(url, scheme, tmp_path):
    creds = "" if scheme == "file" else "creds.toml"
    got = backup.parse(raw(replica=url, credentials=creds), tmp_path, "t.toml")
    assert (got.replica, got.scheme) == (url, scheme)
    assert got.credentials == (None if scheme == "file" else tmp_path / "creds.toml")


@pytest.mark.parametrize("url, credentials, message, hint", [
    ("/media/usb", "", "not a replica URL textback knows: '/media/usb'", "file:///media/usb"),
    ("file://media/usb", "", "a file replica needs an absolute folder", "three slashes"),
    ("file:///", "", "a file replica needs an absolute folder", "three slashes"),
    ("sftp://nas.local/textback", "c", "an sftp replica needs a user, a host and a folder",
     "sftp://backup@nas.local"),
    ("sftp://backup:hunter2@nas/x", "c", "holds a password", "credentials file"),
    ("sftp://backup@nas/x", "", "a sftp replica needs a credentials file", "host_key"),
    ("s3://bucket/x", "", "a s3 replica needs a credentials file", "access_key_id"),
    ("https://example.org/x", "", "not a replica URL textback knows", "s3://bucket"),
    ("sftp://backup@nas:99999/x", "c", "not a replica URL", "write it like"),
    ("file:///media/usb?x=1", "", "takes no ?query", "write it like"),
])
def test_bad_replica_urls_say_what_is_wrong(url, credentials, message, hint, tmp_path):
    with pytest.raises(ConfigError) as err:
        backup.parse(raw(replica=url, credentials=credentials), tmp_path, "t.toml")
    assert message in err.value.message and "backup." in err.value.message
    assert hint in err.value.hint


def creds_file(tmp_path, text, mode=0o600):
    path = tmp_path / "creds.toml"
    path.write_text(text)
    os.chmod(path, mode)
    return backup.BackupSettings("sftp://u@h/p", "sftp", path, 1.0)


def test_credentials_are_checked(tmp_path):
    key = tmp_path / "key"
    key.write_text("secret")
    os.chmod(key, 0o600)
    good = f'key_path = "{key}"\nhost_key = "h ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA"\n'
    values = backup.read_credentials(creds_file(tmp_path, good))
    assert values == {"key_path": str(key), "host_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA"}
    cases = [
        (good, 0o644, "can be read by others"),
        (f'key_path = "{key}"\n', 0o600, "host_key: missing required key"),
        ('host_key = "ssh-ed25519 AAAA"\n', 0o600, "neither key_path nor password"),
        ('host_key = "not a key"\npassword = "x"\n', 0o600, "host_key is not an SSH public key"),
        ('host_key = "ssh-ed25519 AAAA"\nkey_path = "/nonexistent/key"\n', 0o600,
         "no private key at /nonexistent/key"),
        (good + 'secret_access_key = "x"\n', 0o600, "unknown key 'secret_access_key'"),
        ("host_key = ", 0o600, "not valid TOML"),
    ]
    for text, mode, message in cases:
        with pytest.raises(ConfigError) as err:
            backup.read_credentials(creds_file(tmp_path, text, mode))
        assert message in err.value.message, (text, err.value.message)
    os.chmod(key, 0o644)
    with pytest.raises(ConfigError, match="the private key .* can be read by others"):
        backup.read_credentials(creds_file(tmp_path, good))


def test_the_generated_config_names_every_secret_once_and_masks_them(tmp_path):
    settings = backup.BackupSettings("s3://bucket/x", "s3", tmp_path / "c", 2.5)
    creds = {"access_key_id": "AKIA123", "secret_access_key": "s$cr\"et", "region": "eu-west-1"}
    text = backup.litestream_config(settings, Path("/var/lib/textback/textback.db"), creds,
                                    socket=Path("/var/lib/textback/.s"))
    config = json.loads(text)
    assert config == {"dbs": [{"path": "/var/lib/textback/textback.db", "replica": {
        "url": "s3://bucket/x", "sync-interval": "2500ms", "access-key-id": "AKIA123",
        "secret-access-key": "s$cr\"et", "region": "eu-west-1"}}],
        "socket": {"enabled": True, "path": "/var/lib/textback/.s", "permissions": 0o660}}
    shown = backup.masked(text, creds)
    assert "AKIA123" not in shown and "s$cr" not in shown and "eu-west-1" in shown


@needs_litestream
def test_litestream_reads_the_generated_config(tmp_path):
    """The real binary takes our JSON as its YAML config, a "$" in a password untouched."""
    from gateway.box import litestream

    settings = backup.BackupSettings("file:///tmp/x", "file", None, 1.0)
    done = litestream.run(settings, tmp_path / "t.db", ["databases", "-json"], creds={})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"path": str(tmp_path / "t.db"), "replica": "file"}]


@needs_litestream
def test_litestream_reads_a_config_whose_paths_hold_an_emoji(tmp_path):
    """JSON's surrogate-pair escape of an emoji is not YAML: Litestream refused the whole config
    ("found invalid Unicode character escape code", STRANGER3 F1)."""
    from gateway.box import litestream

    folder = tmp_path / "caf\u00e9 \U0001f600"
    folder.mkdir()
    settings = backup.BackupSettings(f"file://{folder}/replica", "file", None, 1.0)
    done = litestream.run(settings, folder / "t.db", ["databases", "-json"], creds={})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"path": str(folder / "t.db"), "replica": "file"}]


def test_the_masked_config_hides_a_secret_with_an_emoji():
    text = backup.litestream_config(backup.BackupSettings("s3://b/p", "s3", None, 1.0),
                                    Path("/x/t.db"), {"access_key_id": "AK\U0001f600",
                                                      "secret_access_key": "s\u00e9cret",
                                                      "region": "us-east-1"})
    shown = backup.masked(text, {"access_key_id": "AK\U0001f600", "secret_access_key": "s\u00e9cret"})
    assert "\U0001f600" not in shown and "s\u00e9cret" not in shown and shown.count("********") == 2


def test_a_database_litestream_touched_first_is_still_ours(tmp_path):
    """Litestream adds _litestream_seq and _litestream_lock to a database it watches, even an
    empty one the daemon has not set up yet: the store must not refuse it as someone else's."""
    import sqlite3

    from gateway.app.store import Store

    db = tmp_path / "t.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE _litestream_seq (id INTEGER PRIMARY KEY, seq INTEGER)")
    conn.execute("CREATE TABLE _litestream_lock (id INTEGER)")
    conn.commit()
    conn.close()
    Store(db).close()
    assert ("leads",) in rep.rows(db, "SELECT name FROM sqlite_master")


def test_with_a_backup_textback_leaves_checkpoints_to_litestream(tmp_path):
    from gateway.app.store import LITESTREAM_AUTOCHECKPOINT, Store

    store = Store(tmp_path / "t.db")
    assert store.db.execute("PRAGMA wal_autocheckpoint").fetchone() == (1000,)
    store.leave_checkpoints_to_litestream()
    assert store.db.execute("PRAGMA wal_autocheckpoint").fetchone() == (LITESTREAM_AUTOCHECKPOINT,)
    store.close()


# -- the real thing: SIGKILL mid-burst, restore into a new folder ---------------------------------
def kill_and_restore(folder: Path, *, url=None, credentials=None) -> None:
    box = rep.Box(folder / "box", calls=30, gap=0.5, url=url, credentials=credentials)
    try:
        box.start()
        assert rep.wait_until(lambda: len(rep.committed(box.db)["texts"]) >= 18, 120), \
            "the burst did not get going"
        synced = rep.last_sync(box.db)
        killed = box.kill()
    finally:
        box.close()
    before = rep.committed(box.db)
    (folder / "new").mkdir()
    done = rep.restore_to(box.url, folder / "new" / "textback.db", credentials)
    assert done.returncode == 0, done.stderr
    after = rep.committed(folder / "new" / "textback.db")
    # Litestream's promise: what it had uploaded when it last said so. A commit is picked up by
    # its WAL monitor within MONITOR s and uploaded at the next sync: everything committed more
    # than one sync interval (and the monitor's second) before that upload, and before the kill.
    cutoff = min(killed, synced) - SYNC - MONITOR
    for kind in ("calls", "leads", "texts"):
        due = {key for key, at in before[kind].items() if at < cutoff}
        missing = sorted(due - set(after[kind]))
        assert missing == [], f"{kind} committed before the cutoff but not restored: {missing}"
        assert set(after[kind]) <= set(before[kind]), f"{kind} restored that never were"
    assert sum(at < cutoff for at in before["texts"].values()) >= 3, (cutoff, before["texts"])


@needs_litestream
def test_sigkill_mid_burst_file_replica_keeps_every_commit(tmp_path):
    kill_and_restore(tmp_path)


@needs_litestream
@needs_sshd
def test_sigkill_mid_burst_sftp_replica_keeps_every_commit(tmp_path):
    sshd = rep.Sshd(tmp_path / "sshd")
    try:
        kill_and_restore(tmp_path, url=sshd.url(tmp_path / "sftp-replica"),
                         credentials=sshd.credentials(tmp_path / "creds.toml"))
    finally:
        sshd.close()


# -- what an installer meets ------------------------------------------------------------------
def textback(*args, env=None):
    return subprocess.run([sys.executable, "-m", "cli.main", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=300,
                          env={**{k: v for k, v in os.environ.items()
                                  if not k.startswith("TEXTBACK_")}, **(env or {})})


def a_replica(tmp_path) -> tuple[Path, str]:
    """A database with a lead, copied once to a file replica; (database, replica URL)."""
    from gateway.app.store import Store

    db = tmp_path / "old" / "textback.db"
    db.parent.mkdir()
    store = Store(db)
    store.queue_text(number="+15125550142", body="hello", kind="missed_call", dedupe_key="k",
                     send_at=0, now=0)
    store.close()
    url = f"file://{tmp_path / 'replica'}"
    settings = backup.BackupSettings(url, "file", None, 1.0)
    from gateway.box import litestream, restore

    restore.guard(settings, db)
    done = litestream.run(settings, db, ["replicate", "-once"], timeout=120)
    assert done.returncode == 0, done.stderr
    return db, url


@needs_litestream
def test_restore_refuses_to_replace_a_database_without_force_and_keeps_the_old_one(tmp_path):
    _, url = a_replica(tmp_path)
    target = tmp_path / "new" / "textback.db"
    target.parent.mkdir()
    target.write_bytes(b"")
    refused = textback("restore", "--from", url, "--db", target)
    assert refused.returncode == 2
    assert f"error: {target} exists already; a restore would replace it" in refused.stderr
    assert target.read_bytes() == b""
    forced = textback("restore", "--from", url, "--db", target, "--force")
    assert forced.returncode == 0, forced.stderr
    kept = [p for p in target.parent.iterdir() if ".before-restore-" in p.name]
    assert len(kept) == 1 and kept[0].read_bytes() == b""
    assert rep.rows(target, "SELECT number FROM leads") == [("+15125550142",)]
    assert oct(target.stat().st_mode & 0o777) == oct(0o600)


@needs_litestream
def test_two_restores_at_once_one_waits_for_nothing_and_is_told(tmp_path):
    """Two installers (or a retry in a second terminal) restoring into the same file: one wins,
    the other is refused by the daemon lock; the file is whole either way."""
    _, url = a_replica(tmp_path)
    target = tmp_path / "new" / "textback.db"
    target.parent.mkdir()
    results = []
    runs = [threading.Thread(target=lambda: results.append(
        textback("restore", "--from", url, "--db", target, "--force"))) for _ in range(2)]
    for r in runs:
        r.start()
    for r in runs:
        r.join()
    assert sorted(r.returncode for r in results) in ([0, 0], [0, 1]), [r.stderr for r in results]
    for r in results:
        if r.returncode:
            assert "cannot restore into" in r.stderr and "stop it first" in r.stderr
    assert rep.rows(target, "SELECT number FROM leads") == [("+15125550142",)]


@needs_litestream
def test_restore_refuses_while_textback_runs_on_the_database(tmp_path):
    from gateway.app.lock import one_daemon

    _, url = a_replica(tmp_path)
    target = tmp_path / "new" / "textback.db"
    target.parent.mkdir()
    with one_daemon(target):
        refused = textback("restore", "--from", url, "--db", target, "--force")
    assert refused.returncode == 1
    assert f"cannot restore into {target}: textback (or another restore) (PID {os.getpid()})" \
        in refused.stderr
    assert target.stat().st_size == 0   # the lock's empty database, as a daemon makes it: no leads


@needs_litestream
def test_a_new_database_is_never_copied_over_a_replica_holding_leads(tmp_path):
    """A new SD card whose first-boot restore could not reach the replica: the daemon runs on a
    new database, and replication refuses to bury the replica's leads under it."""
    from gateway.app.store import Store
    from gateway.box import restore
    from gateway.box.litestream import BackupError

    _, url = a_replica(tmp_path)
    fresh = tmp_path / "fresh" / "textback.db"
    fresh.parent.mkdir()
    Store(fresh).close()
    settings = backup.BackupSettings(url, "file", None, 1.0)
    with pytest.raises(BackupError, match="holds leads from another database"):
        restore.guard(settings, fresh)
    assert "holds leads from another database" in \
        rep.rows(fresh, "SELECT value FROM state WHERE key = 'backup_problem'")[0][0]
    restore.restore(settings, fresh, force=True)
    restore.guard(settings, fresh)   # restored from it: now it may be copied there
    assert rep.rows(fresh, "SELECT value FROM state WHERE key = 'backup_problem'") == [("",)]


@needs_litestream
def test_first_boot_restores_the_leads_before_the_daemon_starts(tmp_path):
    _, url = a_replica(tmp_path)
    box = tmp_path / "box"
    box.mkdir()
    textback("init", box)
    config = box / "textback.toml"
    config.write_text(cut_alive(config.read_text()) + f'\n[backup]\nreplica = "{url}"\n')
    done = textback("restore", "--if-missing", "--config", config)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"restored {box / 'textback.db'} from {url}\n"
    again = textback("restore", "--if-missing", "--config", config)
    assert again.stdout == f"{box / 'textback.db'} exists; nothing to restore\n"
    assert rep.rows(box / "textback.db", "SELECT number FROM leads") == [("+15125550142",)]


@needs_litestream
@needs_sshd
def test_sftp_with_a_wrong_key_is_told_plainly(tmp_path):
    """An installer's wrong key or a changed host key: `backup status` exits 1 and says what
    Litestream said, and where to look."""
    from gateway.app.store import Store

    sshd = rep.Sshd(tmp_path / "sshd")
    try:
        other = tmp_path / "other"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
        db = tmp_path / "textback.db"
        Store(db).close()
        textback("init", tmp_path / "cfg")
        config = tmp_path / "cfg" / "textback.toml"
        for name, creds in (("wrong key", sshd.credentials(tmp_path / "c1.toml", key=other)),
                            ("wrong host key", sshd.credentials(
                                tmp_path / "c2.toml",
                                host_key=" ".join((other.with_suffix(".pub")).read_text().split()[:2])))):
            config.write_text(cut_alive(config.read_text())
                              + f'[backup]\nreplica = "{sshd.url(tmp_path / "r")}"\n'
                              f'credentials = "{creds}"\n')
            done = textback("backup", "status", "--config", config, "--db", db)
            assert done.returncode == 1, name
            assert f"cannot read the replica {sshd.url(tmp_path / 'r')}: " in done.stdout, name
            assert ("unable to authenticate" in done.stdout if name == "wrong key"
                    else "host key mismatch" in done.stdout), done.stdout
            assert "ssh-keyscan" in done.stdout
    finally:
        sshd.close()


def _replica_folder_refusal(tmp_path, folder: Path):
    from gateway.app.store import Store

    db = tmp_path / "textback.db"
    Store(db).close()
    textback("init", tmp_path / "cfg")
    config = tmp_path / "cfg" / "textback.toml"
    config.write_text(cut_alive(config.read_text()) + f'\n[backup]\nreplica = "file://{folder}"\n')
    done = textback("backup", "run", "--config", config, "--db", db)
    status = textback("status", "--db", db, "--json")
    return done, {r["check"]: r for r in json.loads(status.stdout)}


def test_a_replica_path_that_is_a_file_is_told_plainly(tmp_path):
    """A file where the replica folder should be: `textback backup run` says why before
    Litestream ever starts, and `textback status` shows it."""
    stick = tmp_path / "stick"
    stick.mkdir()
    (stick / "textback").write_text("a file where the folder should be")
    done, rows = _replica_folder_refusal(tmp_path, stick / "textback")
    assert done.returncode == 1
    assert f"error: cannot write the replica folder {stick / 'textback'}: File exists" \
        in done.stderr
    assert "is the USB stick mounted, and writable by user textback?" in done.stderr
    assert rows["backup"]["ok"] is False
    assert rows["backup"]["value"].startswith(f"cannot write the replica folder {stick}")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a read-only file system needs root")
def test_a_stick_mounted_read_only_is_told_plainly(tmp_path):
    """A USB stick the kernel mounted read-only (a FAT error, the lock switch): even root may
    not write there."""
    stick = tmp_path / "stick"
    stick.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(stick)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount here: {mounted.stderr.strip()}")
    try:
        done, rows = _replica_folder_refusal(tmp_path, stick / "textback")
    finally:
        subprocess.run(["umount", str(stick)], check=True)
    assert done.returncode == 1
    assert f"error: cannot write the replica folder {stick / 'textback'}: Read-only file system" \
        in done.stderr
    assert rows["backup"]["ok"] is False


def test_config_check_reads_the_credentials_file(tmp_path):
    textback("init", tmp_path)
    config = tmp_path / "textback.toml"
    creds = tmp_path / "creds.toml"
    creds.write_text('host_key = "ssh-ed25519 AAAA"\npassword = "x"\n')
    creds.chmod(0o644)
    config.write_text(cut_alive(config.read_text()) + '\n[backup]\nreplica = "sftp://b@nas/x"\n'
                      'credentials = "creds.toml"\n')
    done = textback("config", "check", "--config", config)
    assert done.returncode == 2
    assert done.stderr == (f"error: {creds}: the credentials file can be read by others\n"
                           f"  -> chmod 600 {creds} (or 640 with group textback)\n")
    creds.chmod(0o600)
    assert textback("config", "check", "--config", config).returncode == 0


@needs_litestream
def test_litestream_itself_buries_a_replica_under_a_new_database(tmp_path):
    """Why `guard` exists (docs/reference/litestream.md): Litestream 0.5.17, given a new
    database and a replica holding another one's history, makes the new one the replica's
    latest state. Should an upgrade change that, this test says so."""
    import shutil

    from gateway.app.store import Store
    from gateway.box import litestream

    db = tmp_path / "box" / "textback.db"
    url = f"file://{tmp_path / 'replica'}"
    settings = backup.BackupSettings(url, "file", None, 1.0)
    for number in ("+15125550142", "+15125550177"):    # the old card, then a new one
        if db.parent.exists():
            shutil.rmtree(db.parent)
        db.parent.mkdir()
        store = Store(db)
        store.queue_text(number=number, body="hi", kind="missed_call", dedupe_key=number,
                         send_at=0, now=0)
        store.close()
        done = litestream.run(settings, db, ["replicate", "-once"], timeout=120)
        assert done.returncode == 0, done.stderr
    restored = rep.restore_to(url, tmp_path / "restored.db")
    assert restored.returncode == 0, restored.stderr
    assert rep.rows(tmp_path / "restored.db", "SELECT number FROM leads") == [("+15125550177",)]


@pytest.mark.skipif(os.geteuid() != 0, reason="the refusal is for root")
def test_backup_run_refuses_root_on_the_services_folder(tmp_path):
    """`sudo textback backup run` on a box: Litestream's files would be root's, and the service
    (user textback) locked out of them."""
    from gateway.app.store import Store

    folder = tmp_path / "var"
    folder.mkdir()
    Store(folder / "textback.db").close()
    os.chown(folder, 65534, 65534)    # as /var/lib/textback belongs to user textback
    textback("init", tmp_path / "cfg")
    config = tmp_path / "cfg" / "textback.toml"
    config.write_text(cut_alive(config.read_text()) + f'\n[backup]\nreplica = "file://{tmp_path}/r"\n')
    done = textback("backup", "run", "--config", config, "--db", folder / "textback.db")
    assert done.returncode == 1
    assert "error: not as root: " in done.stderr and "sudo systemctl start textback-backup" \
        in done.stderr
    assert not (tmp_path / "r").exists() and not (folder / ".textback.db-litestream").exists()


def test_backup_run_refuses_while_litestream_already_replicates_the_database(tmp_path):
    """A second `textback backup run` on the same database started a second Litestream beside
    the first, took over its control socket and removed it on exit (STRANGER3 F3)."""
    import socket as sockets

    from gateway.app.store import Store
    from gateway.box.litestream import socket_path

    db = tmp_path / "textback.db"
    Store(db).close()
    textback("init", tmp_path / "cfg")
    config = tmp_path / "cfg" / "textback.toml"
    config.write_text(cut_alive(config.read_text()) + f'\n[backup]\nreplica = "file://{tmp_path}/r"\n')
    first = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)   # the running Litestream
    first.bind(str(socket_path(db)))
    first.listen(4)
    try:
        done = subprocess.run([sys.executable, "-m", "cli.main", "backup", "run", "--config",
                               str(config), "--db", str(db)], cwd=REPO, capture_output=True,
                              text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("a second Litestream started on the same database")
    finally:
        first.close()
    assert done.returncode == 1, done.stderr
    assert f"error: Litestream (PID {os.getpid()}) already replicates {db}" in done.stderr
    assert "sudo systemctl restart textback-backup" in done.stderr
    assert socket_path(db).exists() and not (tmp_path / "r").exists()


@pytest.mark.parametrize("content", [b"hi\n", None])
def test_backup_status_refuses_a_file_that_is_not_textbacks_database(tmp_path, content):
    """`backup status --db` on a text file or someone else's SQLite file reported the replica and
    exit 0, as if it were the leads' (STRANGER3 F4)."""
    import sqlite3

    db = tmp_path / "other.db"
    if content is None:
        sqlite3.connect(db).execute("CREATE TABLE t (x)").connection.close()
    else:
        db.write_bytes(content)
    before = db.read_bytes()
    textback("init", tmp_path / "cfg")
    config = tmp_path / "cfg" / "textback.toml"
    config.write_text(cut_alive(config.read_text()) + f'\n[backup]\nreplica = "file://{tmp_path}/r"\n')
    done = textback("backup", "status", "--config", config, "--db", db)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "not textback's lead database" in done.stderr or "but not textback's" in done.stderr
    assert db.read_bytes() == before and done.stdout == ""
