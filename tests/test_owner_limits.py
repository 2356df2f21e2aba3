"""The owner's commands under hostile input: limits with clear messages, leads written
so a shell keeps them, empty results said truthfully, exports kept private."""
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from test_owner_cli import home, run  # noqa: F401  (home is a fixture)

REPO = Path(__file__).resolve().parent.parent


def test_an_unquoted_hash_lead_is_explained(home):  # noqa: F811
    # `textback book #2 --note "Thu 9am"` in bash runs `textback book`: "#2 ..." is a comment.
    result = run(home, "book")
    assert (result.exit_code, result.output.splitlines()[-2:]) == (2, [
        "Error: Missing argument LEAD.",
        "  -> write the lead as 12 or @12 (in a shell, #12 starts a comment unless quoted: '#12')"])


def test_in_a_real_shell_12_and_at_12_reach_the_command(home, tmp_path):  # noqa: F811
    config, db = home
    env = {**os.environ, "TEXTBACK_NOW": "2026-11-24T12:00:00-06:00", "TEXTBACK_DB": str(db),
           "TEXTBACK_CONFIG": str(config)}
    textback = f"{sys.executable} -m cli.main"
    for ref, code in (("1", 0), ("@1", 0), ("'#1'", 0), ("#1", 2)):
        proc = subprocess.run(["bash", "-c", f"{textback} lead {ref} --json"], cwd=REPO, env=env,
                              capture_output=True, text=True)
        assert proc.returncode == code, (ref, proc.stderr)


@pytest.mark.parametrize("status", ["opted-out", "opted out", "Opted_Out", "opted_out"])
def test_status_as_the_table_prints_it(home, status):  # noqa: F811
    result = run(home, "leads", "--status", status, "--json")
    assert [lead["id"] for lead in json.loads(result.output)] == [3]


def test_no_leads_match_is_not_no_leads_yet(home, tmp_path):  # noqa: F811
    assert run(home, "leads", "--status", "booked").output == "No leads match.\n"
    assert run(home, "leads", "--search", "nothing like it").output == "No leads match.\n"
    from gateway.app.store import Store

    Store(tmp_path / "empty.db").close()
    assert run((home[0], tmp_path / "empty.db"), "leads").output == "No leads yet.\n"


@pytest.mark.parametrize("args, message", [
    (("leads", "--search", "x" * 201), "the search term is 201 characters long; at most 200"),
    (("leads", "--search", "x" * 100_000), "the search term is 100,000 characters long; at most 200"),
    (("name", "1", "J" * 201), "the name is 201 characters long; at most 200"),
    (("book", "1", "--note", "n" * 201), "the note is 201 characters long; at most 200"),
    (("lost", "1", "--note", "n" * 5000), "the note is 5,000 characters long; at most 200"),
    (("reply", "1", "ok \udcff"), "the reply holds bytes that are not UTF-8 text; retype it"),
    (("name", "1", "Jo\udcff"), "the name holds bytes that are not UTF-8 text; retype it"),
])
def test_limits_say_what_is_wrong_and_change_nothing(home, args, message):  # noqa: F811
    before = run(home, "export", "--format", "json").output
    result = run(home, *args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert run(home, "export", "--format", "json").output == before


def test_200_characters_are_fine(home):  # noqa: F811
    assert run(home, "name", "1", "J" * 200).exit_code == 0
    assert run(home, "book", "1", "--note", "n" * 200).exit_code == 0
    assert run(home, "leads", "--search", "x" * 200).output == "No leads match.\n"


def test_a_reply_over_3_parts_needs_yes(home):  # noqa: F811
    long = "word " * 200                   # 999 characters of GSM-7: 7 parts
    result = run(home, "reply", "1", long)
    assert (result.exit_code, result.output) == (2, (
        "error: the reply would go as 7 parts, GSM-7 (999/1071): each part is billed as a text\n"
        "  -> shorten it, or add --yes to send all 7 parts\n"))
    assert run(home, "reply", "1", long, "--dry-run").output == (
        "dry run: 7 parts, GSM-7 (999/1071); nothing sent\n")
    assert run(home, "reply", "1", long, "--yes").output.startswith(
        "queued for #1 (+15125550142): 7 parts, GSM-7 (999/1071)\n")
    assert run(home, "reply", "1", "x" * 459).exit_code == 0     # 3 parts: no question


def test_a_reply_no_sms_can_carry_is_refused(home):  # noqa: F811
    result = run(home, "reply", "1", "😀" * 9000, "--yes")
    assert (result.exit_code, result.output) == (2, (
        "error: the reply cannot be sent: it is too long: 273 parts, and one SMS message can have "
        "at most 255\n  -> shorten it\n"))


def test_emoji_reply_dry_run_counts_surrogate_pairs(home):  # noqa: F811
    assert run(home, "reply", "1", "ok 👍", "--dry-run").output == (
        "dry run: 1 part, UCS-2 (5/70) because of '👍'; nothing sent\n")
    assert run(home, "reply", "1", "👍" * 36, "--dry-run").output == (   # 72 units: 2 parts
        "dry run: 2 parts, UCS-2 (72/134) because of '👍'; nothing sent\n")


def test_export_file_is_private_whatever_the_umask(home):  # noqa: F811
    out = home[0].parent / "leads.csv"
    old = os.umask(0o022)
    try:
        assert run(home, "export", "-o", str(out)).exit_code == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
        out.chmod(0o644)                                 # an older export, readable by others
        assert run(home, "export", "-o", str(out), "--force").exit_code == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_every_option_of_every_command_says_what_it_does():
    # `stats --days` once had no help text.
    import click

    from cli.main import cli

    def walk(command, path):
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, f"{path} {name}")

    bare = [f"{path} {param.opts[0]}" for path, command in walk(cli, "textback")
            for param in command.params if isinstance(param, click.Option) and not param.help]
    assert bare == []


def test_on_a_terminal_the_listing_keeps_its_styles_and_fits_the_width():
    import io
    import re

    from rich.console import Console

    from cli import show

    rows = [{"id": 7, "name": "Jo [b]", "number": "+15125550142", "status": "opted_out",
             "missed_calls": 1, "preview": "x" * 300, "last_activity_at": None, "unread": 1}]
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="standard", width=60)
    show.leads(rows, console=console)
    text = out.getvalue()
    assert "\x1b[1m#\x1b[0m" in text                          # the header is bold
    assert "\x1b[31mopted out\x1b[0m" in text                 # the status keeps its colour
    plain = re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines()
    # 60 columns: the preview gives way to the columns that matter (status, last activity)
    assert plain[1].startswith("7  Jo [b]  +15125550142  opted out       1  ")
    assert max(len(line) for line in plain) <= 60


@pytest.mark.parametrize("args, message", [
    # found by trying them: each was a traceback (OverflowError) before
    (("leads", "--limit", "100000000000000000000000"),
     "Invalid value for '--limit': 100000000000000000000000 is not in the range 1<=x<=1000000."),
    (("calls", "--since", "99999999999999999999d"),
     "error: --since: '99999999999999999999d' is further back than anything textback holds"),
    (("lead", "#@1"), "error: not a phone number or lead number: '#@1'"),
])
def test_absurd_values_get_a_message_not_a_traceback(home, args, message):  # noqa: F811
    result = run(home, *args)
    assert result.exit_code == 2 and message in result.output, result.output


def test_no_calls_match_is_not_no_calls_yet(home):  # noqa: F811
    assert run(home, "calls", "--since", "1m").output == "No calls match.\n"
