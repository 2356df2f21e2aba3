"""The `textback` command: click group, error mapping (one place), and the daemon commands.

Only click and our light modules are imported at the top: `textback --help` must stay cheap on a Pi.
Exit codes (docs/design.md): 0 ok, 1 runtime failure (modem gone), 2 usage or config error.
"""
from __future__ import annotations

import shlex
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
@click.option("--force", is_flag=True,
              help="Overwrite files that exist already (in /etc/textback the old ones are kept "
                   "as *.bak-DATE).")
def init(folder: str | None, force: bool) -> None:
    """Write a commented starter config and the default templates to edit."""
    from gateway import config
    from gateway.starter import write_starter

    target = Path(folder) if folder else config.default_path().parent
    kept: list = []
    written = write_starter(target, force=force, kept=kept)
    for old, backup in kept:
        click.echo(f"kept the old {old} as {backup}")
    for path in written:
        click.echo(f"wrote {path}")
    toml = target / "textback.toml"
    # The commands find the default config by themselves; any other must be named.
    check = "textback config check" + ("" if toml == config.default_path() else
                                       f" --config {shlex.quote(str(toml))}")
    click.echo(f"Next: edit {toml}, then run: {check}")


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


# replay and demo use only what they are given: a TEXTBACK_DB or TEXTBACK_CONFIG set for the owner's
# commands must not send a replay's texts into the real lead database.
REPLAY_DB_HELP = ("Write the run into this lead database (default: a throwaway one, deleted at the "
                  "end). $TEXTBACK_DB is not read.")


@cli.command()
@click.argument("scenario", type=click.Path(dir_okay=False))
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help="Run under this config's business, hours, policy and templates (default: the "
                   "starter config of `textback init`, Acme Plumbing, in a throwaway folder). "
                   "Its database is not used; $TEXTBACK_CONFIG is not read.")
@click.option("--db", "db_path", type=click.Path(dir_okay=False), help=REPLAY_DB_HELP)
def replay(scenario: str, config_path: str | None, db_path: str | None) -> None:
    """Play SCENARIO.json through the real pipeline on a virtual clock; print JSON lines.

    Uses only what it is given: the starter config and a throwaway database unless --config and
    --db say otherwise."""
    from gateway.simulator.replay import run_replay

    run_replay(scenario, config_path=config_path, db_path=db_path, write=sys.stdout.write)
    sys.stdout.flush()


def _finite(ctx, param, value):
    """FloatRange lets nan through (every comparison with nan is false)."""
    import math

    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a number from 0.5 to 20", ctx, param)
    return value


@cli.command()
@click.option("--speed", type=click.FloatRange(0.5, 20), default=2.0, show_default=True,
              callback=lambda ctx, param, value: _finite(ctx, param, value),
              help="How much faster than real time the demo plays (0.5 to 20).")
@click.option("--phone", is_flag=True,
              help="Use a simulated Android phone (SMSGate + CallGate) instead of a modem.")
@click.option("--db", "db_path", type=click.Path(dir_okay=False), help=REPLAY_DB_HELP)
def demo(speed: float, phone: bool, db_path: str | None) -> None:
    """Watch the daemon text back missed calls on a simulated modem (no hardware).

    Uses the starter config (Acme Plumbing) in a throwaway folder, never yours, and a throwaway
    database unless --db says otherwise."""
    from cli import running

    if phone:
        running.run_phone_demo(db_path=db_path)
    else:
        running.run_demo(speed=speed, db_path=db_path)


@cli.command()
@click.option("--port", "port_name", type=click.Path(dir_okay=False),
              help="The modem's port (default: /dev/textback-modem, /dev/serial/by-id/*, "
                   "ttyUSB*/ttyACM*); sim: the built-in simulated modem.")
@click.option("--test-text", "test_number", metavar="NUMBER",
              help="When all is well, also text NUMBER (E.164, e.g. +15125550142).")
@config_option
@db_option
@click.pass_context
def doctor(ctx: click.Context, port_name: str | None, test_number: str | None,
           config_path: str | None, db_path: str | None) -> None:
    """Check modem, SIM, network, signal; exit 0 only when a text-back would work.

    Without --port: the config's [modem] port, else the ports a modem is found on."""
    import serial

    from cli.common import UsageError
    from gateway.at.session import Session
    from gateway.box import doctor as doc
    from gateway.clock import WallClock

    if test_number is not None:
        _real_number(test_number)
    if port_name is None:
        port_name = _configured_port(config_path)
    sim = None
    if port_name == "sim":
        # The built-in simulated modem (as `[modem] port = "sim"`): doctor tried without hardware.
        from gateway.simulator.modem import SimulatedModem

        sim = SimulatedModem("sim800")
        sim.start(lambda: 0.0)
        port_name = sim.port_name
    ports = [Path(port_name)] if port_name else doc.candidate_ports()
    if not ports:
        raise UsageError("no modem port found", hint="plug the modem in, or give --port")
    clock, opened, works = WallClock(), [], False
    service = doc.service_state()
    click.echo(
        f"note service: {service.detail}" + (f"\n       fix: {service.fix}" if service.fix else "")
    )

    def opener(path: Path):
        def open_port():
            opened.append(serial.Serial(str(path), 115200, timeout=0))
            return opened[-1]
        return open_port

    try:
        for path in ports:
            click.echo(f"{path}:" if sim is None else f"{path} (the built-in simulated modem):")
            checks = doc.diagnose(opener(path), clock)
            for check in checks:
                mark = {True: "ok  ", False: "FAIL", None: "note"}[check.ok]
                click.echo(f"  {mark} {check.name}: {check.detail}")
                if check.fix:
                    click.echo(f"       fix: {check.fix}")
            works = doc.overall(checks)
            if works:
                break
        for line in _selftest_notes(config_path, db_path):   # the daily self-test
            click.echo(line)
        click.echo(
            "A text-back would work." if works else "A text-back would NOT work: see FAIL above."
        )
        if works and test_number:
            ref = doc.send_test(Session(opened[-1], clock), test_number)
            click.echo(f"Test text sent (reference {ref}); check the phone.")
    finally:
        for port in opened:
            port.close()
        if sim is not None:
            sim.close()
    ctx.exit(0 if works else 1)


def _selftest_notes(config_path: str | None, db_path: str | None) -> list[str]:
    """The daemon's last self-test, from the lead database, when there is one to read."""
    import time

    from gateway.app import vitals
    from gateway.app.reports import glance
    from gateway.errors import TextbackError

    try:
        db = Path(db_path) if db_path else load_config(config_path).database
        with glance(db) as store:
            row = vitals.selftest_row(store, time.time())
            drops = store.get_state("selftest_network_drops") == "1"
    except (TextbackError, OSError):
        return []
    lines = []
    if row is not None:
        lines.append(f"{'FAIL' if row['ok'] is False else 'note'} self-test: {row['value']}")
    if drops:
        lines.append("note self-test: this network does not deliver texts a SIM sends to its own "
                     "number, so the daily self-test checks sending only")
    return lines


def _real_number(text: str) -> None:
    """--test-text: a number that exists (phonenumbers' metadata), in full international form."""
    import phonenumbers

    from cli.common import UsageError

    hint = "write it as +<country><number>, e.g. +15125550142"
    if not (text.startswith("+") and text[1:].isdigit()):
        raise UsageError(f"--test-text {text!r}: not an international number", hint=hint)
    try:
        valid = phonenumbers.is_valid_number(phonenumbers.parse(text, None))
    except phonenumbers.NumberParseException:
        valid = False
    if not valid:
        raise UsageError(f"--test-text {text!r}: no such number (too short, too long, or no "
                         "such country or area code)", hint=hint)


def _configured_port(config_path: str | None) -> str | None:
    """[modem] port of the config, when there is one: "sim" and device paths are what doctor
    checks; the phone has its own check."""
    from cli.common import UsageError
    from gateway import config as config_mod

    path = Path(config_path) if config_path else config_mod.default_path()
    if not path.exists():
        return None
    port = load_config(str(path)).modem.port
    if port == "android":
        raise UsageError(f'{path}: [modem] port is "android": the phone is the modem here',
                         hint="check it with: textback phone check")
    return port


@cli.group(cls=Group)
def image() -> None:
    """Prepare Raspberry Pi SD card images."""


@image.command("customize")
@click.argument("image_path", metavar="IMAGE", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--customer",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The customer's textback.toml (checked first; a bad file leaves IMAGE untouched).",
)
@click.option("--templates", type=click.Path(exists=True, file_okay=False),
              help="A folder of templates: textback-templates/ on the card becomes exactly these "
                   "(without it, the card has none and the box's own are used).")
def image_customize(image_path: str, customer: str, templates: str | None) -> None:
    """Write a customer's settings into IMAGE's boot partition (no root needed)."""
    from gateway.box import image as image_mod

    done = image_mod.customize(Path(image_path), Path(customer),
                               Path(templates) if templates else None)
    for warning in done.warnings:   # as `textback config check` says them
        click.echo(f"warning: {warning}", err=True)
    for name in done.removed:   # another customer's wording, or a second settings file
        click.echo(f"removed {name.replace('::/', 'the boot partition: /', 1)}")
    for name in done.written:   # mtools names ("::/textback.toml") as the installer sees the card
        click.echo(f"wrote {name.replace('::/', 'the boot partition: /', 1)}")


@cli.group(cls=Group)
def phone() -> None:
    """The Android phone as the modem (SMSGate + CallGate)."""


@phone.command("check")
@config_option
def phone_check(config_path: str | None) -> None:
    """Say in plain words what is missing for the phone to work; exit 0 only when it would."""
    from cli.common import UsageError
    from gateway.box.phonecheck import run_checks
    from gateway.clock import WallClock

    cfg = load_config(config_path)
    if cfg.phone is None:
        raise UsageError(f'{cfg.path}: [modem] port is "{cfg.modem.port}", not "android"',
                         hint='set port = "android" and fill in [phone] (see README)')
    checks = run_checks(cfg.phone, WallClock())
    if not any(check.ok is False for check in checks):   # one thing at a time
        checks += _webhooks_seen(cfg.database)
    for check in checks:
        mark = "WARN" if check.warn else {True: "ok  ", False: "FAIL", None: "note"}[check.ok]
        click.echo(
            f"{mark} {check.name}: {check.detail}" + (f"\n     -> {check.fix}" if check.fix else "")
        )
    if any(check.ok is False for check in checks):
        sys.exit(1)


def _webhooks_seen(db: Path) -> list:
    """What the daemon found of the phone's webhooks: a key that differs from the app's shows
    only when the phone posts one (a call, a text), so the check reads what the daemon recorded.
    Read-only; nothing when there is no database yet."""
    from gateway.box.phonecheck import Check
    from gateway.errors import TextbackError
    from gateway.phone.link import SIGNING_FIX

    if not db.is_file():
        return [Check("webhooks", None, "signatures are proven by the phone's first post (a "
                      "call or a text): `textback status` says if they are refused")]
    from gateway.app import reports

    try:
        with reports.glance(db) as seen:
            failing, text = seen.get_state("link_warning_failing"), seen.get_state("link_warning")
    except TextbackError:
        return []
    if failing:
        return [Check("webhooks", False, text or "refused", SIGNING_FIX)]
    return []


def _register() -> None:
    from cli import backup, owner

    owner.register(cli)
    backup.register(cli)  # textback backup ..., textback restore


_register()


def main() -> None:
    cli(prog_name="textback")


if __name__ == "__main__":
    main()
