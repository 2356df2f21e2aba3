"""What every command shares: error mapping (the one place), and the --config / --db options."""
from __future__ import annotations

from pathlib import Path

import click

from gateway.errors import TextbackError


class Group(click.Group):
    """Maps our errors to a message and an exit code: no traceback for a user mistake."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TextbackError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)


config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), envvar="TEXTBACK_CONFIG",
    help="Config file (default: $TEXTBACK_CONFIG or ~/.config/textback/textback.toml).")
db_option = click.option(
    "--db", "db_path", type=click.Path(dir_okay=False), envvar="TEXTBACK_DB",
    help="Lead database (default: the one the config names; $TEXTBACK_DB).")


def load_config(config_path: str | None):
    from gateway import config

    return config.load(Path(config_path) if config_path else config.default_path())
