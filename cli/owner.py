"""The owner's commands: leads, calls and everything that works a lead.

Only click at the top: each command imports what it needs when it runs.
"""
from __future__ import annotations

from pathlib import Path

import click

from cli.common import config_option, db_option, load_config


def register(cli: click.Group) -> None:
    for command in (leads, calls):
        cli.add_command(command)


@click.command()
@config_option
@db_option
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for programs.")
def leads(config_path: str | None, db_path: str | None, limit: int, as_json: bool) -> None:
    """List leads, newest activity first."""
    from cli import show

    store = open_store(config_path, db_path)
    rows = store.leads(limit=limit)
    show.leads(rows, as_json=as_json)


@click.command()
@config_option
@db_option
@click.option("--limit", type=click.IntRange(1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON array, for programs.")
def calls(config_path: str | None, db_path: str | None, limit: int, as_json: bool) -> None:
    """Recent calls: outcome, and whether a text went out (or why not)."""
    from cli import show

    store = open_store(config_path, db_path)
    show.calls(store.calls(limit=limit), as_json=as_json)


def open_store(config_path: str | None, db_path: str | None):
    from gateway.errors import UsageError
    from gateway.store import Store

    path = Path(db_path) if db_path else load_config(config_path).database
    if not path.exists():
        raise UsageError(f"no lead database at {path}",
                         hint="run the daemon first (textback run), or pass --db FILE")
    return Store(path)


