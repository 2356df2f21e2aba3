"""What every command shares: error mapping (the one place), and the --config / --db options."""
from __future__ import annotations

import os
from pathlib import Path

import click

from gateway.errors import TextbackError


class UsageError(TextbackError):
    """A bad argument on the command line (a lead that is no lead's number, a bad --since): the
    CLI's own; the daemon's code raises domain errors (gateway.errors)."""

    exit_code = 2


# Errors writing our own output (`textback leads > /dev/full`, a closed pipe): said, not raised.
OUTPUT_ERRNOS = frozenset({"ENOSPC", "EDQUOT", "EFBIG", "EIO", "EPIPE"})


class Group(click.Group):
    """Maps our errors to a message and an exit code: no traceback for a user mistake."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TextbackError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except OSError as exc:
            import errno

            if errno.errorcode.get(exc.errno or 0) not in OUTPUT_ERRNOS or exc.filename:
                raise
            _drop_stdout()
            if exc.errno != errno.EPIPE:   # a reader that left (| head) wants no message
                click.echo(f"error: cannot write the output: {exc.strerror}\n"
                           "  -> free some disk space, or send the output elsewhere", err=True)
            ctx.exit(1)


def _drop_stdout() -> None:
    """What stdout still buffers would fail again at exit ("Exception ignored ..."): point it at
    /dev/null."""
    import os
    import sys

    try:
        fd = sys.stdout.fileno()
    except (AttributeError, ValueError, OSError):
        return   # not a real file (a test's runner)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, fd)
    os.close(null)


class SharedPath(click.Path):
    """click.Path, whose "is not readable" says what to do when the file is the service's (group
    textback) and this login is not in that group yet: the README's usermod."""

    def convert(self, value, param, ctx):
        try:
            return super().convert(value, param, ctx)
        except click.BadParameter as exc:
            hint = group_hint(value)
            if hint is None:
                raise
            self.fail(f"{exc.message}\n  -> {hint}", param, ctx)


def group_hint(path) -> str | None:
    import grp

    try:
        info = os.stat(path)
        group = grp.getgrgid(info.st_gid).gr_name
    except (OSError, KeyError):
        return None
    if os.access(path, os.R_OK):
        return None
    return unreadable_advice(path, info.st_mode, group, member=info.st_gid in os.getgroups())


def unreadable_advice(path, mode: int, group: str, *, member: bool) -> str | None:
    """What to do about a service file (group textback) this process may not read: join the
    group, or, already in it, give the group read access: a 0600 file is the owner's alone
    (`textback init --force` used to write /etc/textback/textback.toml so, and the daemon, user
    textback in group textback, could not read it)."""
    if group != "textback":
        return None
    if member:
        return (f"it is group textback's, and you are in that group, but its mode "
                f"{mode & 0o777:o} lets the group read nothing: "
                f"sudo chmod 640 {path}" + (" (and 750 on its folder)" if os.path.isdir(path)
                                             else ""))
    import getpass

    return (f"it is shared with group textback, and you are not in it yet: "
            f"sudo usermod -aG textback {getpass.getuser()} (then log in again)")


config_option = click.option(
    "--config", "config_path", type=SharedPath(dir_okay=False), envvar="TEXTBACK_CONFIG",
    help="Config file (default: $TEXTBACK_CONFIG or ~/.config/textback/textback.toml).")
db_option = click.option(
    "--db", "db_path", type=SharedPath(dir_okay=False), envvar="TEXTBACK_DB",
    help="Lead database (default: the one the config names; $TEXTBACK_DB).")


def load_config(config_path: str | None):
    from gateway import config

    return config.load(Path(config_path) if config_path else config.default_path())
