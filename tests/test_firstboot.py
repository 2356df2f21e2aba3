"""gateway.box.firstboot against a temporary root tree; root/boot/firmware plays the card's FAT."""
from __future__ import annotations

import json
import os
import stat
import subprocess
import tomllib
from datetime import datetime, timezone

import pytest

from gateway import config
from gateway.box import firstboot
from gateway.errors import ConfigError
from gateway.render import default_templates_dir
from gateway.starter import STARTER_TOML

NOW = datetime(2026, 11, 28, 16, 5, tzinfo=timezone.utc)
WHEN = ("When:      2026-11-28 16:05 UTC (the Pi's clock; it may be off before it reaches the "
        "network)")
GOOD = (STARTER_TOML.replace('port = "sim"  ', 'port = "/dev/textback-modem"')
        .replace('pin = ""      ', 'pin = "1234"  '))
OLD_CONFIG = GOOD.replace("Acme Plumbing", "Old Name")
REFUSAL_TAIL = [
    "",
    "The box keeps its previous settings: /etc/textback/textback.toml was not changed.",
    "Fix the file on this card, put the card back in the Pi and power it on again: the file is "
    "checked at every boot until it is applied.",
]


@pytest.fixture
def tree(tmp_path):
    paths = firstboot.Paths.under(tmp_path)
    paths.boot.mkdir(parents=True)
    return paths


def card(paths, name="textback.toml", text=GOOD, templates=None):
    (paths.boot / name).write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    for file_name, body in (templates or {}).items():
        (paths.boot / "textback-templates").mkdir(exist_ok=True)
        (paths.boot / "textback-templates" / file_name).write_text(body, encoding="utf-8")


def status(paths):
    raw = (paths.boot / "textback-status.txt").read_bytes()
    assert b"\n" not in raw.replace(b"\r\n", b"")     # CRLF throughout, for any laptop
    return raw.decode().split("\r\n")


def test_good_file_is_installed_scrubbed_and_reported(tree):
    card(tree)
    outcome = firstboot.apply(tree, NOW)
    assert (outcome.result, outcome.exit_code) == ("applied", 0)
    installed = tree.etc / "textback.toml"
    assert installed.read_text() == GOOD
    assert stat.S_IMODE(installed.stat().st_mode) == 0o600        # no textback group in root/etc
    assert sorted(p.name for p in (tree.etc / "templates").iterdir()) == [
        "after_hours.txt", "follow_up.txt", "missed_call.txt", "review.txt"]
    assert not (tree.boot / "textback.toml").exists()
    applied = (tree.boot / "textback.toml.applied").read_bytes().decode()
    assert '"1234"' not in applied and firstboot.secrets_left(applied) == []
    assert status(tree) == [
        "textback: settings APPLIED",
        WHEN,
        "From:      textback.toml on this card, now renamed textback.toml.applied "
        "(secrets removed)",
        "Installed: /etc/textback/textback.toml (root only: no textback group yet)",
        "Templates: none on the card; the box's own are kept",
        "Business:  Acme Plumbing (owner Mike), time zone America/Chicago",
        "Modem:     port /dev/textback-modem, family auto, SIM PIN set",
        "",
        "textback starts with these settings now. To change them later, put a new textback.toml "
        "on this card and power the Pi on again.",
        "",
    ]


def test_what_the_daemon_reads_is_readable_under_the_units_umask(tree):
    """textback-firstboot.service runs with UMask=0077; the daemon, user textback, must still
    list /etc/textback/templates and read them (found by make image-test: 'missing template')."""
    card(tree, templates={"missed_call.txt": "Hi, $company here."})
    old = os.umask(0o077)
    try:
        assert firstboot.apply(tree, NOW).result == "applied"
    finally:
        os.umask(old)
    modes = {p.relative_to(tree.root).as_posix(): oct(stat.S_IMODE(p.stat().st_mode))
             for p in [tree.etc, *tree.etc.rglob("*")]}
    assert modes == {"etc/textback": "0o755", "etc/textback/templates": "0o755",
                     "etc/textback/templates/after_hours.txt": "0o644",
                     "etc/textback/templates/follow_up.txt": "0o644",
                     "etc/textback/templates/missed_call.txt": "0o644",
                     "etc/textback/templates/review.txt": "0o644",
                     "etc/textback/textback.toml": "0o600"}   # 0640 with a textback group


def test_config_is_group_readable_when_the_textback_group_exists(tree):
    (tree.root / "etc").mkdir()
    # Our own gid, so that chown works without root.
    (tree.root / "etc/group").write_text(f"root:x:0:\ntextback:x:{os.getgid()}:mike\n")
    card(tree)
    firstboot.apply(tree, NOW)
    installed = (tree.etc / "textback.toml").stat()
    assert (stat.S_IMODE(installed.st_mode), installed.st_gid) == (0o640, os.getgid())
    assert status(tree)[3] == "Installed: /etc/textback/textback.toml (readable by group textback)"


@pytest.mark.parametrize("text, expected", [
    (GOOD.replace('pin = "1234"', 'pin = "12"'),
     ["File:      textback.toml (on the card)", "Key:       modem.pin",
      "Problem:   a SIM PIN is 4 to 8 digits",
      'Fix:       write it in quotes, like pin = "1234", or pin = "" for none']),
    (GOOD.replace("[hours]", "[hours]\nmonday = \"08:00-12:00\""),
     ["File:      textback.toml (on the card)", "Key:       hours.monday",
      "Problem:   unknown key 'monday'", "Fix:       did you mean 'mon'?"]),
    (GOOD.replace('timezone = "America/Chicago"', 'timezone = "America/Chicgo"'),
     ["File:      textback.toml (on the card)", "Key:       business.timezone",
      "Problem:   unknown time zone 'America/Chicgo'",
      "Fix:       did you mean 'America/Chicago'?"]),
    (GOOD.replace('name = "Acme Plumbing"', 'name = Acme Plumbing'),
     ["File:      textback.toml (on the card)",
      "Problem:   not valid TOML: Invalid value (at line 4, column 8)",
      'Fix:       fix the syntax at that line: key = "text", key = 24, key = ["a", "b"], '
      "[section]"]),
    ("café = 1".encode("latin-1"),
     ["File:      textback.toml (on the card)", "Problem:   not UTF-8 text (byte 3)",
      "Fix:       save the file as UTF-8 (in Notepad: Save as, Encoding: UTF-8)"]),
    ("café = 1".encode("utf-16"),
     ["File:      textback.toml (on the card)",
      'Problem:   saved as UTF-16 (Notepad\'s "Unicode"), not UTF-8',
      "Fix:       save the file as UTF-8 (in Notepad: Save as, Encoding: UTF-8)"]),
])
def test_bad_file_is_refused_and_the_old_config_kept(tree, text, expected):
    tree.etc.mkdir(parents=True)
    (tree.etc / "textback.toml").write_text(OLD_CONFIG)
    card(tree, text=text)
    before = (tree.boot / "textback.toml").read_bytes()
    outcome = firstboot.apply(tree, NOW)
    assert (outcome.result, outcome.exit_code) == ("refused", 2)
    assert status(tree) == ["textback: settings REFUSED, nothing was changed", WHEN,
                            *expected, *REFUSAL_TAIL, ""]
    assert (tree.etc / "textback.toml").read_text() == OLD_CONFIG
    assert not (tree.etc / "templates").exists()
    assert (tree.boot / "textback.toml").read_bytes() == before   # left for the installer to fix
    assert not (tree.boot / "textback.toml.applied").exists()


def test_refusal_on_a_new_box_says_textback_will_not_start(tree):
    card(tree, text=GOOD.replace('pin = "1234"', 'pin = 1234'))
    firstboot.apply(tree, NOW)
    assert status(tree)[-3] == ("The box has no settings yet, so textback will not start until "
                                "this is fixed.")
    assert not (tree.etc / "textback.toml").exists()


def test_no_file_on_the_card_changes_nothing(tree):
    (tree.boot / "textback-status.txt").write_bytes(b"an earlier report\r\n")
    outcome = firstboot.apply(tree, NOW)
    assert (outcome.result, outcome.exit_code, outcome.report) == ("nothing", 0, "")
    assert (tree.boot / "textback-status.txt").read_bytes() == b"an earlier report\r\n"
    assert not tree.etc.exists()


def test_templates_folder_overlays_the_installed_ones(tree):
    ours = "Hi, $owner at $company here. Call you right back!"
    card(tree, templates={"missed_call.txt": ours})
    tree.etc.mkdir(parents=True)
    (tree.etc / "templates").mkdir()
    (tree.etc / "templates" / "follow_up.txt").write_text("Still need help? $company")
    (tree.etc / "templates" / "after_hours.txt").write_text("Closed now. $owner, $company")
    firstboot.apply(tree, NOW)
    installed = {p.name: p.read_text() for p in (tree.etc / "templates").iterdir()}
    assert installed == {"missed_call.txt": ours, "follow_up.txt": "Still need help? $company",
                         "after_hours.txt": "Closed now. $owner, $company"}
    assert status(tree)[4] == "Templates: missed_call.txt from textback-templates/, the others kept"
    assert sorted(os.listdir(tree.etc)) == ["templates", "textback.toml"]   # no .new/.old left


def test_a_bad_template_on_the_card_is_refused_by_name(tree):
    card(tree, templates={"missed_call.txt": "Hi from $compnay"})
    firstboot.apply(tree, NOW)
    assert status(tree)[2:6] == [
        "File:      textback-templates/missed_call.txt",
        "Key:       missed_call",
        "Problem:   unknown field $compnay at line 1, column 9",
        "Fix:       did you mean $company? Fields: " + ", ".join(
            "$" + f for f in sorted(__import__("gateway.render").render.FIELDS)),
    ]
    assert not tree.etc.exists()


def test_an_empty_template_on_the_card_is_refused_by_name(tree):
    card(tree, templates={"follow_up.txt": "\r\n"})
    assert firstboot.apply(tree, NOW).result == "refused"
    assert status(tree)[2:6] == [
        "File:      textback-templates/follow_up.txt", "Key:       follow_up",
        "Problem:   the template is empty",
        "Fix:       write the text to send (textback init FOLDER writes the defaults); to send no "
        "follow-ups, set [owner] follow_up = false"]


def test_foreign_files_in_the_card_templates_folder_are_left_alone(tree):
    """A Mac writes "._name" resource forks beside each file it copies to FAT; Windows writes
    desktop.ini. Neither is a template."""
    card(tree, templates={"missed_call.txt": "Hi, $company here."})
    (tree.boot / "textback-templates" / "._missed_call.txt").write_bytes(b"\x00\x05\x16\x07\xff")
    (tree.boot / "textback-templates" / "desktop.ini").write_bytes(b"[.ShellClassInfo]\r\n")
    assert firstboot.apply(tree, NOW).result == "applied"
    assert sorted(p.name for p in (tree.etc / "templates").iterdir()) == [
        "after_hours.txt", "follow_up.txt", "missed_call.txt", "review.txt"]


def test_a_notepad_template_on_the_card_is_read_by_the_one_rule(tree):
    card(tree, templates={"missed_call.txt": "\ufeffHi, $company here.\r\nBack soon.\r\n"})
    assert firstboot.apply(tree, NOW).result == "applied"
    from gateway.render import load_templates

    assert load_templates(tree.etc / "templates")["missed_call"] == "Hi, $company here.\nBack soon."


@pytest.mark.parametrize("name", ["textback (1).toml", "textback-acme.toml", "TEXTBACK (2).TOML.txt"])
def test_a_settings_file_under_another_name_is_reported_not_applied(tree, name):
    """A browser's second download is "textback (1).toml": nothing would happen, silently."""
    card(tree, name=name)
    outcome = firstboot.apply(tree, NOW)
    assert (outcome.result, outcome.exit_code) == ("refused", 2)
    assert status(tree)[2:5] == [
        f"File:      {name} (on the card)",
        "Problem:   not named textback.toml, so it was not read",
        "Fix:       rename it to textback.toml (and delete any other copy)"]
    assert not tree.etc.exists() and (tree.boot / name).exists()


def test_the_applied_copy_is_not_a_near_name(tree):
    card(tree)
    firstboot.apply(tree, NOW)
    assert firstboot.apply(tree, NOW).result == "nothing"   # textback.toml.applied stays quiet


def test_windows_notepad_file_with_bom_crlf_and_txt_extension(tree):
    card(tree, name="textback.toml.txt", text=b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode())
    assert firstboot.apply(tree, NOW).result == "applied"
    # Installed by the one rule (gateway.textfile): UTF-8 with LF line ends, for nano on the Pi.
    assert (tree.etc / "textback.toml").read_bytes() == GOOD.encode()
    assert not (tree.boot / "textback.toml.txt").exists()


def test_idempotent_and_a_rerun_after_a_power_cut_gives_the_same_result(tree):
    card(tree)
    firstboot.apply(tree, NOW)
    snapshot = {p: p.read_bytes() for p in tree.root.rglob("*") if p.is_file()}
    assert firstboot.apply(tree, NOW).result == "nothing"
    card(tree)   # as if the power went before the card's copy was renamed
    assert firstboot.apply(tree, NOW).result == "applied"
    assert {p: p.read_bytes() for p in tree.root.rglob("*") if p.is_file()} == snapshot


def test_templates_folder_renamed_away_by_a_power_cut_is_put_back(tree):
    (tree.etc / "templates.old").mkdir(parents=True)
    (tree.etc / "templates.old" / "missed_call.txt").write_text("kept")
    firstboot.apply(tree, NOW)
    assert (tree.etc / "templates" / "missed_call.txt").read_text() == "kept"


def test_applied_copy_saved_again_as_textback_toml_applies_with_one_header(tree):
    card(tree)
    firstboot.apply(tree, NOW)
    again = (tree.boot / "textback.toml.applied").read_bytes().replace(b'pin = ""', b'pin = "4321"')
    card(tree, text=again)
    assert firstboot.apply(tree, NOW).result == "applied"
    applied = (tree.boot / "textback.toml.applied").read_bytes().decode()
    assert applied.count("Applied by textback") == 1 and "4321" not in applied


@pytest.mark.parametrize("text, expected", [
    ('[modem]\nport = "x"\npin = "1234"   # SIM PIN\n',
     f'[modem]\nport = "x"\npin = {firstboot.BLANKED}\n'),
    ('[modem]\npin = ""\n', '[modem]\npin = ""\n'),                     # nothing to hide
    ('modem.pin = "1234"\n', f'modem.pin = {firstboot.BLANKED}\n'),     # dotted key, no table
    ('[wifi]\r\nssid = "Shop"\r\npassword = "hunter22"\r\n',
     f'[wifi]\r\nssid = "Shop"\r\npassword = {firstboot.BLANKED}\r\n'),
    ('[gateway]\napi_key = "abc"\nkeyboard = "x"\n',
     f'[gateway]\napi_key = {firstboot.BLANKED}\nkeyboard = "x"\n'),
    ('[business]\nname = "Pin Co"\n', '[business]\nname = "Pin Co"\n'),  # only keys, not values
])
def test_scrub(text, expected):
    assert firstboot.scrub(text) == expected
    assert firstboot.secrets_left(expected) == []


# A card for the phone link, every secret set, each to a value found nowhere else in the file.
PHONE_CARD = (GOOD.replace('port = "/dev/textback-modem"', 'port = "android"')
              .replace('ping_url = ""', 'ping_url = "https://hc-ping.com/secret-ping-value"')
              + "\n[phone]\n" + "".join(f'{key.split(".")[1]} = "secret-{i}-value"\n'
                                       for i, key in enumerate(config.SECRET_KEYS)
                                       if key.startswith("phone.")))
assert "secret-ping-value" in PHONE_CARD   # every secret set: the starter has [health] ping_url


def test_every_secret_key_is_blanked_on_the_card_and_is_what_config_check_warns_of(tree):
    """calls_password and calls_signing_key stayed on the card in clear (STRANGER2 #3): the card's
    copy and `config check` must read one list, gateway.config.SECRET_KEYS."""
    assert set(config.SECRET_KEYS) >= {"modem.pin", "phone.password", "phone.calls_password",
                                       "phone.signing_key", "phone.calls_signing_key"}
    card(tree, text=PHONE_CARD)
    assert firstboot.apply(tree, NOW).result == "applied"
    applied = (tree.boot / "textback.toml.applied").read_text(encoding="utf-8")
    assert "secret-" not in applied and "1234" not in applied
    data = tomllib.loads(applied)
    assert {key: data[key.split(".")[0]][key.split(".")[1]] for key in config.SECRET_KEYS} == \
        {key: "" for key in config.SECRET_KEYS}
    installed = config.load(tree.etc / "textback.toml")
    assert installed.secrets() == list(config.SECRET_KEYS)
    os.chmod(tree.etc / "textback.toml", 0o644)
    with pytest.raises(ConfigError) as refused:   # as `textback run` refuses it
        config.check(installed)
    assert f"holds secrets ({', '.join(config.SECRET_KEYS)})" in refused.value.message


def test_a_secret_the_line_rewrite_cannot_reach_leaves_no_settings_on_the_card():
    text = 'modem = { port = "x", pin = "1234" }\n'
    assert firstboot.secrets_left(firstboot.scrub(text)) == ["modem.pin"]
    copy = firstboot.applied_copy(text, NOW)
    assert "1234" not in copy and copy.endswith(
        "# The settings are not repeated here: they held secrets that could not be removed line "
        "by line.\n")


def test_main_exit_codes(tree):
    with pytest.raises(SystemExit) as nothing:
        firstboot.main(["--root", str(tree.root)])
    card(tree, text="oops")
    with pytest.raises(SystemExit) as refused:
        firstboot.main(["--root", str(tree.root), "--boot", "/boot/firmware"])
    assert (nothing.value.code, refused.value.code) == (0, 2)


def test_default_templates_exist_for_a_new_box():
    # A new box without a templates folder gets the shipped defaults.
    assert (default_templates_dir() / "missed_call.txt").is_file()


# -- what the box keeps, for `textback status` ----------------------------------------------------
def status_cli(tree, *args):
    from click.testing import CliRunner

    from cli.main import cli

    db = tree.root / "var/lib/textback/textback.db"
    return CliRunner().invoke(cli, ["status", "--db", str(db), *args],
                              env={"TEXTBACK_NOW": NOW.isoformat(), "COLUMNS": "300"})


def test_a_refused_card_on_a_new_box_is_reported_by_textback_status(tree):
    card(tree, text=GOOD.replace('pin = "1234"', 'pin = "12"'))
    assert firstboot.apply(tree, NOW).result == "refused"
    kept = tree.state / "card-status.txt"
    assert kept.read_text() == "\r\n".join(status(tree))[:-2].replace("\r\n", "\n") + "\n"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600       # no textback group in root/etc
    result = status_cli(tree)
    assert (result.exit_code, result.output) == (1, (
        "!! card settings  REFUSED 2026-11-28 16:05 UTC: textback.toml (on the card): modem.pin: "
        "a SIM PIN is 4 to 8 digits\n"
        f"!! daemon         never started (no {tree.state / 'textback.db'} yet)\n"
        "\nNeeds attention:\n"
        '  card settings: write it in quotes, like pin = "1234", or pin = "" for none; then put '
        "the card back and power on (textback-status.txt on the card says the same)\n"
        "  daemon: fix the settings (above), then: sudo systemctl start textback\n"))


def test_an_applied_card_is_one_line_of_textback_status(tree):
    from gateway.app.store import Store

    card(tree)
    firstboot.apply(tree, NOW)
    Store(tree.state / "textback.db").close()
    result = status_cli(tree, "--json")
    assert json.loads(result.output)[0] == {"check": "card settings", "ok": None,
                                            "value": "applied 2026-11-28 16:05 UTC", "fix": None}


def test_no_card_no_row(tree):
    result = status_cli(tree)
    assert result.exit_code == 1
    assert f"never started (no {tree.state / 'textback.db'} yet)" in result.output


def test_card_status_is_group_readable_and_never_follows_a_planted_link(tree):
    (tree.root / "etc").mkdir()
    (tree.root / "etc/group").write_text(f"root:x:0:\ntextback:x:{os.getgid()}:mike\n")
    tree.state.mkdir(parents=True)
    target = tree.root / "precious"
    target.write_text("not yours")
    # /var/lib/textback is writable by group textback: a member could plant this for root
    (tree.state / "card-status.txt.new").symlink_to(target)
    card(tree)
    firstboot.apply(tree, NOW)
    kept = (tree.state / "card-status.txt").stat()
    assert (stat.S_IMODE(kept.st_mode), kept.st_gid) == (0o640, os.getgid())
    assert target.read_text() == "not yours"


@pytest.fixture
def read_only_card(tree):
    """The card's folder made unwritable for real: immutable for root (chattr +i), 0555 for
    anyone else. A FAT partition mounted read-only refuses the same calls."""
    def lock():
        if os.geteuid() == 0:
            paths = [tree.boot, *tree.boot.rglob("*")]
            done = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True)
            if done.returncode != 0:
                pytest.skip(f"chattr +i not possible here: {done.stderr.decode().strip()}")
            locked.extend(paths)
        else:
            tree.boot.chmod(0o555)
    locked = []
    yield lock
    if locked:
        subprocess.run(["chattr", "-i", *map(str, locked)], check=True)
    tree.boot.chmod(0o755)


def test_a_read_only_card_is_still_applied_and_textback_status_says_so(tree, read_only_card):
    card(tree)
    read_only_card()
    outcome = firstboot.apply(tree, NOW)
    assert outcome.result == "applied" and outcome.exit_code == 0
    assert (tree.etc / "textback.toml").read_text() == GOOD
    assert (tree.boot / "textback.toml").exists() and not (tree.boot / "textback-status.txt").exists()
    assert outcome.report.splitlines()[2] == ("From:      textback.toml on this card, left as it "
                                              "was: the card could not be written")
    from gateway.app.store import Store
    Store(tree.state / "textback.db").close()
    result = status_cli(tree, "--json")
    row = json.loads(result.output)[0]
    assert (row["check"], row["ok"], row["value"]) == (
        "card settings", False, "applied 2026-11-28 16:05 UTC, but the card could not be written")
    assert row["fix"].startswith("The card could not be written (")
    assert "delete textback.toml from it" in row["fix"]


def test_a_refused_read_only_card_is_reported_on_the_box(tree, read_only_card):
    card(tree, text="oops")
    read_only_card()
    outcome = firstboot.apply(tree, NOW)
    assert outcome.result == "refused"
    kept = (tree.state / "card-status.txt").read_text()
    assert kept.startswith("textback: settings REFUSED") and "this report is not on it" in kept


def running_daemon(tree):
    """The lead database of a daemon that is alive: a heartbeat just now."""
    from gateway.app.store import Store

    store = Store(tree.state / "textback.db")
    store.set_state("heartbeat", f"{NOW.timestamp():.3f}")
    store.close()


@pytest.mark.parametrize("which", ["refused", "unwritable", "applied"])
def test_textback_status_exits_1_for_a_card_that_needs_the_owner_while_the_daemon_runs(
        tree, read_only_card, which):
    """STRANGER2 #6: a refused card, or one that could not be written, exited 0 (ok: false in
    --json) because the daemon was running."""
    card(tree, text="oops" if which == "refused" else GOOD)
    if which == "unwritable":
        read_only_card()
    firstboot.apply(tree, NOW)
    running_daemon(tree)
    from gateway.app.lock import one_daemon

    with one_daemon(tree.state / "textback.db"):   # a live daemon holds the database's lock
        result = status_cli(tree)
    assert "ok daemon" in result.output
    assert result.exit_code == (0 if which == "applied" else 1), result.output
    if which != "applied":
        assert "Needs attention:\n  card settings: " in result.output


# -- STRANGER2 #2, #15: more than one settings file; #10: templates under names never read ------
@pytest.mark.parametrize("other", ["textback.toml.txt", "textback (1).toml", "Textback-acme.TOML"])
def test_two_settings_files_are_refused_and_neither_is_applied_later(tree, other):
    """Boot 1 applied textback.toml and said nothing of the other; boot 2 applied the other over it
    (a .txt), or refused it and hid that the first was in force (a near name)."""
    card(tree)
    card(tree, name=other, text=OLD_CONFIG)
    for _boot in (1, 2):
        outcome = firstboot.apply(tree, NOW)
        assert (outcome.result, outcome.exit_code) == ("refused", 2)
        assert not tree.etc.exists()
    names = ", ".join(sorted(["textback.toml", other]))
    assert status(tree)[2:5] == [
        f"File:      {names} (on the card)",
        "Problem:   2 settings files on the card, and only one may be: none was read",
        "Fix:       keep the one you mean, named textback.toml, and delete the others"]
    assert (tree.boot / "textback.toml").exists() and (tree.boot / other).exists()
    (tree.boot / other).unlink()   # the installer keeps one: it is applied
    assert firstboot.apply(tree, NOW).result == "applied"
    assert (tree.etc / "textback.toml").read_text() == GOOD


@pytest.mark.parametrize("path, problem, fix", [
    ("missed-call.txt", "not a template name, so this file would never be used",
     "did you mean missed_call.txt? "),
    ("Missed_Call.TXT", "not a template name, so this file would never be used",
     "did you mean missed_call.txt? "),
    ("after hours.rtf", "not a template name, so this file would never be used",
     "did you mean after_hours.txt? "),
    ("thanks.txt", "not a template name, so this file would never be used", ""),
    ("Review.TXT", "not a template name, so this file would never be used",
     "did you mean review.txt? "),
])
def test_a_template_under_a_name_never_read_is_refused(tree, path, problem, fix):
    card(tree, templates={"follow_up.txt": "Still need help? $company"})
    (tree.boot / "textback-templates" / path).write_text("Sorry we missed you - $company\n")
    assert firstboot.apply(tree, NOW).result == "refused"
    assert status(tree)[2:5] == [
        f"File:      textback-templates/{path}", f"Problem:   {problem}",
        f"Fix:       {fix}The templates are missed_call.txt, after_hours.txt, follow_up.txt, "
        "review.txt (lower case, plain text); rename or delete it"]
    assert not tree.etc.exists()


def test_the_review_template_on_the_card_is_applied(tree):
    """review.txt is read when [reviews] url is set: a card carrying it is not refused."""
    card(tree, templates={"review.txt": "Thanks for choosing $company! $review_link"})
    assert firstboot.apply(tree, NOW).result == "applied"
    assert (tree.etc / "templates" / "review.txt").read_text().startswith("Thanks for choosing")


def test_templates_in_a_subfolder_are_refused(tree):
    card(tree, templates={"missed_call.txt": "Hi, $company here."})
    (tree.boot / "textback-templates" / "sub").mkdir()
    (tree.boot / "textback-templates" / "sub" / "after_hours.txt").write_text("Closed. $company")
    assert firstboot.apply(tree, NOW).result == "refused"
    assert status(tree)[2:5] == [
        "File:      textback-templates/sub",
        "Problem:   templates in a subfolder are not read (sub/after_hours.txt)",
        "Fix:       move them up into textback-templates/ itself, named missed_call.txt, "
        "after_hours.txt, follow_up.txt, review.txt"]


# -- STRANGER2 #11: the starter's port = "sim" passed everything on a box ------------------------
def test_a_card_on_the_simulated_modem_is_applied_with_a_loud_warning(tree):
    card(tree, text=GOOD.replace('port = "/dev/textback-modem"', 'port = "sim"'))
    outcome = firstboot.apply(tree, NOW)
    assert outcome.result == "applied"
    assert outcome.warnings[0] == config.SIMULATED
    assert "Warnings (the settings work, but):" in status(tree)
    assert f"  - {config.SIMULATED}" in status(tree)
