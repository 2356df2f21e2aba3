"""The `textback` command: click group, error mapping (one place), and the daemon commands.

Only click and our light modules are imported at the top: `textback --help` must stay cheap on a Pi.
Exit codes (DESIGN.md): 0 ok, 1 runtime failure (modem gone), 2 usage or config error.
"""
from __future__ import annotations

import sys
from pathlib import Path

import click

from cli.common import Group, config_option, db_option, load_config


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="textback")
def cli() -> None:
    """textback: text back the callers you could not answer, and work them as leads."""


@cli.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Overwrite files that exist already.")
def init(folder: str | None, force: bool) -> None:
    """Write a commented starter config and the default templates to edit."""
    from gateway import config
    from gateway.starter import write_starter

    target = Path(folder) if folder else config.default_path().parent
    for path in write_starter(target, force=force):
        click.echo(f"wrote {path}")
    click.echo(f"Next: edit {target / 'textback.toml'}, then run: textback config check")


@cli.group(cls=Group)
def config() -> None:
    """Check the configuration."""


@config.command("check")
@config_option
def config_check(config_path: str | None) -> None:
    """Validate the config file and the templates it names; exit 0 when good, 2 when not."""
    from gateway import config as config_mod

    cfg = load_config(config_path)
    warnings = config_mod.check(cfg)
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{cfg.path}: ok" + (f" ({len(warnings)} warning(s))" if warnings else ""))


@cli.command()
@config_option
@db_option
def run(config_path: str | None, db_path: str | None) -> None:
    """Run the daemon in the foreground (Ctrl-C or SIGTERM stops it)."""
    from cli import running

    running.run_daemon(load_config(config_path), db_path)


@cli.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@config_option
@db_option
def replay(scenario: str, config_path: str | None, db_path: str | None) -> None:
    """Play SCENARIO.json through the real pipeline on a virtual clock; print JSON lines."""
    from gateway.replay import run_replay

    run_replay(scenario, config_path=config_path, db_path=db_path, write=sys.stdout.write)
    sys.stdout.flush()


@cli.command()
@click.option("--speed", type=click.FloatRange(0.5, 20), default=2.0, show_default=True,
              help="How much faster than real time the demo plays.")
@click.option("--phone", is_flag=True,
              help="Use a simulated Android phone (SMSGate + CallGate) instead of a modem.")
@db_option
def demo(speed: float, phone: bool, db_path: str | None) -> None:
    """Watch the daemon text back missed calls on a simulated modem (no hardware)."""
    from cli import running

    if phone:
        running.run_phone_demo(db_path=db_path)
    else:
        running.run_demo(speed=speed, db_path=db_path)


@cli.group(cls=Group)
def phone() -> None:
    """The Android phone as the modem (SMSGate + CallGate)."""


@phone.command("check")
@config_option
def phone_check(config_path: str | None) -> None:
    """Say in plain words what is missing for the phone to work; exit 0 only when it would."""
    from gateway.clock import WallClock
    from gateway.errors import UsageError
    from gateway.phonecheck import run_checks

    cfg = load_config(config_path)
    if cfg.phone is None:
        raise UsageError(f'{cfg.path}: [modem] port is "{cfg.modem.port}", not "android"',
                         hint='set port = "android" and fill in [phone] (see README)')
    checks = run_checks(cfg.phone, WallClock())
    for check in checks:
        mark = {True: "ok  ", False: "FAIL", None: "note"}[check.ok]
        click.echo(f"{mark} {check.name}: {check.detail}" + (f"\n     -> {check.fix}" if check.fix else ""))
    if any(check.ok is False for check in checks):
        sys.exit(1)


def _register() -> None:
    from cli import owner

    owner.register(cli)


_register()


def main() -> None:
    cli(prog_name="textback")


if __name__ == "__main__":
    main()
