"""`textback backup status|run|config` and `textback restore`: the leads copied off the box with
Litestream (gateway.backup, gateway.box.litestream, gateway.box.restore)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from cli.common import Group, config_option, db_option, load_config

json_option = click.option("--json", "as_json", is_flag=True, help="One JSON object, for programs.")


@click.group(cls=Group)
def backup() -> None:
    """The copy of the leads off the box (Litestream): status, and the service's entry point."""


def _settings(config_path, db_path):
    from gateway.errors import ConfigError

    cfg = load_config(config_path)
    if cfg.backup is None:
        raise ConfigError("no replica configured", path=str(cfg.path), key="backup.replica",
                          hint='add [backup] replica = "file:///media/usb/textback" (see README, '
                               '"Knowing the box is alive")')
    return cfg, (Path(db_path) if db_path else cfg.database).absolute()


@backup.command("status")
@config_option
@db_option
@json_option
@click.pass_context
def backup_status(ctx, config_path, db_path, as_json) -> None:
    """The replica, the last position copied there and its age; exit 1 when behind or
    unreachable."""
    from gateway import backup as backup_mod
    from gateway.app.dbfile import inspect
    from gateway.box import litestream


    cfg, db = _settings(config_path, db_path)
    inspect(db)   # a file that is not textback's database is refused, as by every reading command
    now = time.time()
    report = {"replica": cfg.backup.place, "database": str(db), "reachable": True,
              "txid": None, "written_at": None, "age_seconds": None, "running": False,
              "last_upload_at": None, "local_txid": None, "up_to_date": None, "problem": None}
    try:
        position = litestream.position(litestream.replica_files(cfg.backup, db))
    except litestream.BackupError as exc:
        report["reachable"], report["problem"] = False, str(exc)
        position = None
    if position:
        report["txid"], report["written_at"] = position
        report["age_seconds"] = round(now - position[1], 1)
    synced = litestream.last_sync(litestream.socket_path(db))
    report["running"] = synced is not None
    report["last_upload_at"] = synced
    local = _local_txid(cfg.backup, db)
    report["local_txid"] = local
    if position and local:
        report["up_to_date"] = int(local, 16) <= int(position[0], 16)
    if report["problem"] is None and position is None:
        report["problem"] = "the replica holds no backup yet"
    elif report["problem"] is None and report["up_to_date"] is False and \
            report["age_seconds"] > backup_mod.LAG_LIMIT:
        report["problem"] = backup_mod.lag_problem(report["age_seconds"])
    if as_json:
        import json

        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(_words(report, now))
    ctx.exit(1 if report["problem"] else 0)


def _local_txid(settings, db: Path) -> str | None:
    from gateway.box import litestream

    try:
        done = litestream.run(settings, db, ["status", "-json", str(db)], timeout=30)
    except litestream.BackupError:
        return None
    import json

    try:
        rows = json.loads(done.stdout or "[]")
    except json.JSONDecodeError:
        return None
    txid = next((r.get("local_txid") for r in rows if isinstance(r, dict)), None)
    return txid if txid and txid != "-" else None


def _words(r: dict, now: float) -> str:
    from datetime import datetime

    from gateway.render import span as _span

    lines = [f"replica       {r['replica']}"]
    if r["txid"]:
        when = datetime.fromtimestamp(r["written_at"]).astimezone()
        lines.append(f"last copy     transaction {r['txid']}, written {_span(r['age_seconds'])} "
                     f"ago ({when:%Y-%m-%d %H:%M:%S %Z})")
    lines.append("litestream    " + (f"running, last upload {_span(now - r['last_upload_at'])} ago"
                                     if r["running"] else "not running for this database"))
    if r["local_txid"]:
        state = {True: "the replica has all of it", False: "the replica is behind",
                 None: "unknown"}[r["up_to_date"]]
        lines.append(f"this database transaction {r['local_txid']}: {state}")
    if r["problem"]:
        lines.append(f"problem       {r['problem']}")
    return "\n".join(lines)


@backup.command("run")
@config_option
@db_option
def backup_run(config_path, db_path) -> None:
    """Replicate the lead database with Litestream (textback-backup.service runs this)."""
    import logging

    from cli.running import setup_logging
    from gateway.box import litestream
    from gateway.box.restore import guard

    cfg = load_config(config_path)
    setup_logging(cfg.log_level)
    if cfg.backup is None:
        logging.getLogger("textback").info("no [backup] replica in %s: nothing to replicate",
                                           cfg.path)
        return
    db = (Path(db_path) if db_path else cfg.database).absolute()
    _not_as_someone_else(db)
    _not_twice(db)
    guard(cfg.backup, db)
    logging.getLogger("textback").info("replicating %s to %s", db, cfg.backup.place)
    sys.stdout.flush()
    litestream.replicate(cfg.backup, db, socket=litestream.socket_path(db))


def _not_twice(db: Path) -> None:
    """A second Litestream on the same database would copy it to the same replica beside the
    first (two writers on one replica), take over the control socket and remove it when it stops,
    so `textback backup status` would call the first one not running."""
    from gateway.box.litestream import BackupError, listener, socket_path

    pid = listener(socket_path(db))
    if pid is not None:
        who = f"PID {pid}" if pid else "another process"
        raise BackupError(f"Litestream ({who}) already replicates {db}",
                          hint="only one may: textback backup status says how far it is; to "
                               "restart it: sudo systemctl restart textback-backup")


def _not_as_someone_else(db: Path) -> None:
    """Litestream makes its own files beside the database: made by root (sudo textback backup
    run), they lock the service (user textback) out of them."""
    import os

    from gateway.box.litestream import BackupError

    try:
        owner = db.parent.stat().st_uid
    except OSError:
        return
    if os.geteuid() == 0 and owner != 0:
        raise BackupError(f"not as root: {db.parent} belongs to another user, and the files "
                          "Litestream makes there would lock that user out",
                          hint="the service runs it: sudo systemctl start textback-backup "
                               "(by hand: sudo -u textback textback backup run)")


@backup.command("config")
@config_option
@db_option
def backup_config(config_path, db_path) -> None:
    """Show the Litestream config made from textback.toml (secrets as stars)."""
    from gateway import backup as backup_mod
    from gateway.box import litestream

    cfg, db = _settings(config_path, db_path)
    creds = backup_mod.read_credentials(cfg.backup)
    text = backup_mod.litestream_config(cfg.backup, db, creds, socket=litestream.socket_path(db))
    click.echo(backup_mod.masked(text, creds))


@click.command()
@click.option("--from", "url", metavar="URL",
              help="The replica (file:///..., sftp://user@host/path, s3://bucket/path); "
                   "default: [backup] replica in the config.")
@click.option("--credentials", type=click.Path(dir_okay=False),
              help="The credentials file for an sftp or s3 replica (default: the config's).")
@click.option("--force", is_flag=True,
              help="Replace an existing database (it is kept as <db>.before-restore-<time>).")
@click.option("--if-missing", is_flag=True,
              help="Only when there is no database yet and the config names a replica (first "
                   "boot); otherwise do nothing, exit 0.")
@config_option
@db_option
def restore(url, credentials, force, if_missing, config_path, db_path) -> None:
    """Get the leads back from the replica into --db (refuses to replace a database without
    --force; never while textback runs on it)."""
    from cli.common import UsageError
    from gateway.backup import SCHEMES, BackupSettings, check_url
    from gateway.box import restore as restore_mod
    from gateway.errors import ConfigError

    cfg = None
    if config_path or url is None or if_missing or db_path is None:
        try:
            cfg = load_config(config_path)
        except ConfigError:
            if url is None or db_path is None:
                raise
    if if_missing:
        from cli.running import setup_logging

        setup_logging(cfg.log_level)
        db = Path(db_path) if db_path else cfg.database
        click.echo(restore_mod.restore_if_missing(cfg, db.absolute()))
        return
    if db_path is None:
        db_path = str(cfg.database)
    if url is None:
        if cfg is None or cfg.backup is None:
            raise UsageError("no replica to restore from",
                             hint="give --from URL, or set [backup] replica in the config")
        settings = cfg.backup
    else:
        scheme = check_url(url, "--from", "URL")
        creds = Path(credentials).absolute() if credentials else (
            cfg.backup.credentials if cfg is not None and cfg.backup is not None
            and cfg.backup.scheme == scheme else None)
        if scheme != "file" and creds is None:
            raise UsageError(f"a {scheme} replica needs its credentials file",
                             hint="--credentials FILE (or a config whose [backup] names one)")
        assert scheme in SCHEMES
        settings = BackupSettings(replica=url, scheme=scheme, credentials=creds,
                                  sync_interval=1.0)
    result = restore_mod.restore(settings, Path(db_path), force=force)
    for kept in result["kept"]:
        click.echo(f"kept the database that was there as {kept}")
    click.echo(f"restored {result['db']} from {result['replica']} in {result['seconds']:.1f} s")


def register(cli) -> None:
    cli.add_command(backup)
    cli.add_command(restore)
