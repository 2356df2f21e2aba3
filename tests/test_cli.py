"""The CLI as a person meets it: whole outputs and exit codes (CliRunner), and `textback run` as a real
process stopped with SIGTERM."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli

SCENARIOS = Path(__file__).parent / "scenarios"


def invoke(*args, env=None):
    return CliRunner().invoke(cli, list(args), env=env)


def test_init_in_the_default_place_needs_no_config_option(tmp_path):
    config = tmp_path / "xdg" / "textback" / "textback.toml"
    result = invoke("init", env={"XDG_CONFIG_HOME": str(tmp_path / "xdg"), "TEXTBACK_CONFIG": None})
    assert result.output.splitlines()[-1] == (f"Next: edit {config}, then run: "
                                              "textback config check")


def test_init_hint_quotes_a_folder_with_spaces(tmp_path):
    result = invoke("init", str(tmp_path / "my biz"))
    assert result.output.splitlines()[-1].endswith(
        f"textback config check --config '{tmp_path / 'my biz' / 'textback.toml'}'")


def test_init_then_check(tmp_path):
    result = invoke("init", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"wrote {tmp_path / 'textback.toml'}\n"
        f"wrote {tmp_path / 'templates' / 'after_hours.txt'}\n"
        f"wrote {tmp_path / 'templates' / 'follow_up.txt'}\n"
        f"wrote {tmp_path / 'templates' / 'missed_call.txt'}\n"
        f"wrote {tmp_path / 'templates' / 'review.txt'}\n"
        f"Next: edit {tmp_path / 'textback.toml'}, then run: textback config check "
        f"--config {tmp_path / 'textback.toml'}\n")   # the hint once named no config
    assert (tmp_path / "textback.toml").stat().st_mode & 0o777 == 0o600
    result = invoke("config", "check", "--config", str(tmp_path / "textback.toml"))
    assert (result.exit_code, result.output) == (0, f"{tmp_path / 'textback.toml'}: ok\n")


def test_init_refuses_to_overwrite(tmp_path):
    invoke("init", str(tmp_path))
    result = invoke("init", str(tmp_path))
    assert result.exit_code == 2
    assert "--force" in result.output
    assert "Traceback" not in result.output


def test_config_check_names_file_key_and_fix(tmp_path):
    invoke("init", str(tmp_path))
    config = tmp_path / "textback.toml"
    config.write_text(config.read_text().replace('mon = "07:00-17:00"', 'mon = "07:00-25:00"'))
    result = invoke("config", "check", "--config", str(config))
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {config}: hours.mon:")
    assert "Traceback" not in result.output


def test_config_check_unknown_template_field(tmp_path):
    invoke("init", str(tmp_path))
    (tmp_path / "templates" / "missed_call.txt").write_text("Hi from $compnay\n")
    result = invoke("config", "check", "--config", str(tmp_path / "textback.toml"))
    assert result.exit_code == 2
    assert "missed_call.txt" in result.output and "$compnay" in result.output
    assert "$company" in result.output  # the suggestion


def test_config_check_warns_on_ucs2(tmp_path):
    invoke("init", str(tmp_path))
    (tmp_path / "templates" / "missed_call.txt").write_text("Sorry we missed you \u2014 $owner\n")
    result = invoke("config", "check", "--config", str(tmp_path / "textback.toml"))
    assert result.exit_code == 0
    assert "EM DASH" in result.output and "forces UCS-2" in result.output


def test_config_from_environment(tmp_path):
    result = invoke("config", "check", env={"TEXTBACK_CONFIG": str(tmp_path / "missing.toml")})
    assert result.exit_code == 2
    assert str(tmp_path / "missing.toml") in result.output


def test_leads_without_a_database_is_a_usage_error(tmp_path):
    result = invoke("leads", "--db", str(tmp_path / "none.db"))
    assert result.exit_code == 2
    assert result.output == (f"error: no lead database at {tmp_path / 'none.db'}\n"
                             "  -> run the daemon first (textback run), or pass --db FILE\n")


@pytest.mark.parametrize("command", ["leads", "calls"])
def test_a_new_box_without_settings_is_told_to_give_it_settings_not_to_run_the_daemon(
        tmp_path, monkeypatch, command):
    """STRANGER2 #16: a fresh box (no card, no /etc/textback) said "textback run"."""
    from gateway.app import dbfile

    monkeypatch.setattr(dbfile, "BOX_STATE", tmp_path / "var-lib-textback")
    monkeypatch.setattr(dbfile, "BOX_CONFIG", tmp_path / "etc-textback" / "textback.toml")
    db = tmp_path / "var-lib-textback" / "textback.db"
    result = invoke(command, "--db", str(db))
    assert result.exit_code == 2
    assert result.output == (
        f"error: no lead database at {db}\n"
        "  -> a new box: textback starts once it has settings. Put textback.toml on the card's "
        f"boot partition and power on again, or write {dbfile.BOX_CONFIG} (sudo cp "
        f"/usr/share/textback/textback.toml.example {dbfile.BOX_CONFIG}, edit it, then: sudo "
        "systemctl start textback)\n")
    dbfile.BOX_CONFIG.parent.mkdir()
    dbfile.BOX_CONFIG.write_text("")   # settings, and the service never ran
    assert invoke(command, "--db", str(db)).output.endswith(
        "  -> the service has not made it yet: sudo systemctl start textback; if it does not stay "
        "up, systemctl status textback and journalctl -u textback say why\n")


def test_status_on_a_new_box_says_it_needs_settings_and_exits_1(tmp_path, monkeypatch):
    """status is a health check: no database is a problem (exit 1), and on a box the fix is the
    settings, not `textback run` (STRANGER2 #16)."""
    from gateway.app import dbfile

    monkeypatch.setattr(dbfile, "BOX_STATE", tmp_path / "var-lib-textback")
    monkeypatch.setattr(dbfile, "BOX_CONFIG", tmp_path / "etc-textback" / "textback.toml")
    db = tmp_path / "var-lib-textback" / "textback.db"
    result = invoke("status", "--db", str(db), "--json")
    assert result.exit_code == 1, result.output
    (row,) = json.loads(result.output)
    assert row["value"] == f"never started (no {db} yet)"
    assert row["fix"] == dbfile.missing_hint(db) and row["fix"].startswith("a new box:")


def test_leads_and_calls_json_after_a_replay(tmp_path):
    db = tmp_path / "leads.db"
    assert invoke("replay", str(SCENARIOS / "repeat_caller.json"), "--db", str(db)).exit_code == 0
    leads = json.loads(invoke("leads", "--db", str(db), "--json").output)
    assert [(lead["number"], lead["status"], lead["missed_calls"]) for lead in leads] == [
        ("+15125550142", "texted", 2)]
    calls = json.loads(invoke("calls", "--db", str(db), "--json").output)
    assert [(c["outcome"], c["action"]) for c in calls] == [("missed", "skipped"), ("missed", "sent")]


def test_help_imports_nothing_heavy():
    code = ("import sys; from cli.main import cli; "
            "heavy = [m for m in ('rich', 'sqlite_utils', 'gsmmodem', 'serial', 'phonenumbers') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def notepad(path: Path) -> None:
    """Save the file as Windows Notepad does: UTF-8 with a BOM, CRLF line ends."""
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes().replace(b"\n", b"\r\n"))


def test_config_check_reads_notepad_files(tmp_path):
    invoke("init", str(tmp_path))
    for path in [tmp_path / "textback.toml", *(tmp_path / "templates").glob("*.txt")]:
        notepad(path)
    result = invoke("config", "check", "--config", str(tmp_path / "textback.toml"))
    assert (result.exit_code, result.output) == (0, f"{tmp_path / 'textback.toml'}: ok\n")


@pytest.mark.parametrize("saved_by", ["editor", "notepad"])
def test_run_texts_back_then_stops_cleanly_on_sigterm(tmp_path, saved_by):
    invoke("init", str(tmp_path))
    config = tmp_path / "textback.toml"
    scenario = tmp_path / "one_call.json"
    scenario.write_text(json.dumps({
        "start": "2026-11-24T10:00:00-06:00", "family": "sim800",
        "steps": [{"at": 0.5, "rx": "RING"}, {"at": 0.55, "rx": '+CLIP: "+15125550142",145,"",0,"",0'},
                  {"at": 1.5, "rx": "NO CARRIER"}]}))
    config.write_text(config.read_text().replace('scenario = ""', f'scenario = "{scenario}"'))
    for name in ("missed_call", "after_hours"):   # whichever the clock picks: two lines
        (tmp_path / "templates" / f"{name}.txt").write_text("Sorry, $company missed you.\nBack soon!\n")
    if saved_by == "notepad":
        for path in [config, *(tmp_path / "templates").glob("*.txt")]:
            notepad(path)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "run", "--config", str(config)],
                            stderr=subprocess.PIPE, text=True, env=env, cwd=Path(__file__).parent.parent)
    seen = []
    try:
        for line in proc.stderr:  # blocks on the daemon's own log: no sleeping
            seen.append(line)
            if "text sent (after_hours" in line or "text sent (missed_call" in line:
                break
        proc.send_signal(signal.SIGTERM)
        _, rest = proc.communicate(timeout=20)
    finally:
        proc.kill()
    log = "".join(seen) + (rest or "")
    assert proc.returncode == 0, log
    assert "stopped (SIGTERM)" in log
    # no phone number at INFO, whole or in part (not "555" alone: a timestamp may hold ",555")
    assert "+1512" not in log and "5550142" not in log
    result = invoke("leads", "--db", str(tmp_path / "textback.db"), "--json")
    assert [lead["number"] for lead in json.loads(result.output)] == ["+15125550142"], log
    # the same text whoever saved the files: no BOM, no carriage return
    assert json.loads(result.output)[0]["preview"] == "Sorry, Acme Plumbing missed you.\nBack soon!"


def test_run_refuses_a_config_with_a_pin_others_can_read(tmp_path):
    invoke("init", str(tmp_path))
    config = tmp_path / "textback.toml"
    config.write_text(config.read_text().replace('pin = ""', 'pin = "1234"'))
    config.chmod(0o644)
    result = invoke("run", "--config", str(config))
    assert result.exit_code == 2
    assert result.output == (f"error: {config}: holds secrets (modem.pin) and other users can read it\n"
                             f"  -> chmod 600 {config}, then start again\n")
    assert not (tmp_path / "textback.db").exists()  # refused before touching anything


def test_run_tells_systemd_ready_and_feeds_the_watchdog(tmp_path):
    import socket

    invoke("init", str(tmp_path))
    config = tmp_path / "textback.toml"
    config.write_text(config.read_text().replace("digest = true", "digest = false"))
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(tmp_path / "notify"))
    listener.settimeout(20)
    env = {**os.environ, "NOTIFY_SOCKET": str(tmp_path / "notify"), "WATCHDOG_USEC": "2000000"}
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "run", "--config", str(config)],
                            stderr=subprocess.DEVNULL, env=env, cwd=Path(__file__).parent.parent)
    got = []
    try:
        while not (any(m.startswith("READY=1") for m in got) and "WATCHDOG=1" in got):
            got.append(listener.recv(4096).decode())  # blocks until the daemon says something
        proc.send_signal(signal.SIGTERM)
        while "STOPPING=1" not in got:
            got.append(listener.recv(4096).decode())
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
        listener.close()
    assert "READY=1\nSTATUS=modem ready: SIMCOM_Ltd SIMCOM_SIM800L" in got


def test_phone_demo_texts_the_missed_caller_only(tmp_path):
    db = tmp_path / "demo.db"
    result = CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["demo", "--phone", "--db", str(db)])
    assert result.exit_code == 0, result.output
    calls = json.loads(invoke("calls", "--db", str(db), "--json").output)
    assert sorted((c["number"], c["outcome"], c["action"]) for c in calls) == [
        ("+15125550142", "missed", "sent"), ("+15125550177", "answered", "skipped")]
    assert "reply     (512) 555-0142: Yes please - the kitchen sink is leaking" in result.output


def test_phone_check_on_a_modem_config_says_how_to_switch(tmp_path):
    invoke("init", str(tmp_path))
    result = invoke("phone", "check", "--config", str(tmp_path / "textback.toml"))
    assert (result.exit_code, result.output) == (2, (
        f'error: {tmp_path / "textback.toml"}: [modem] port is "sim", not "android"\n'
        '  -> set port = "android" and fill in [phone] (see README)\n'))


def test_doctor_on_a_good_and_a_broken_modem(tmp_path):
    from gateway.simulator.modem import SimulatedModem
    from gateway.simulator.scenario import Reply

    for replies, code, verdict in (((), 0, "A text-back would work."),
                                   ((Reply("AT+CSQ", ("+CSQ: 99,99", "OK")),), 1,
                                    "A text-back would NOT work: see FAIL above.")):
        sim = SimulatedModem("sim800", replies=replies)
        sim.start(lambda: 0.0)  # the modem answers on its own thread, as hardware does
        try:
            args = ["doctor", "--port", sim.port_name] + (["--test-text", "+15125550142"] if not code else [])
            result = invoke(*args)
        finally:
            sim.stop()
            sim.close()
        assert result.exit_code == code, result.output
        assert verdict in result.output
        assert "Traceback" not in result.output
        if not code:
            assert [s.number for s in sim.sent] == ["+15125550142"]


def test_doctor_bad_test_number_is_a_usage_error():
    result = invoke("doctor", "--port", "/dev/null", "--test-text", "5551234")
    assert result.exit_code == 2
    assert "not an international number" in result.output


def test_image_customize_refuses_a_bad_customer_file(tmp_path):
    image = tmp_path / "pi.img"
    image.write_bytes(b"\0" * 1024)
    bad = tmp_path / "acme.toml"
    bad.write_text('[business]\nname = "Acme"\n')
    result = invoke("image", "customize", str(image), "--customer", str(bad))
    assert result.exit_code == 2
    assert str(bad) in result.output and "Traceback" not in result.output
    assert image.read_bytes() == b"\0" * 1024


# -- STRANGER2 #4: a file of group textback this login cannot read -------------------------------
@pytest.mark.parametrize("member, advice", [
    (True, "it is group textback's, and you are in that group, but its mode 600 lets the group "
           "read nothing: sudo chmod 640 /etc/textback/textback.toml"),
    (False, "it is shared with group textback, and you are not in it yet: sudo usermod -aG "
            "textback {user} (then log in again)"),
])
def test_an_unreadable_service_file_gets_the_fix_that_applies(member, advice):
    import getpass

    from cli.common import unreadable_advice

    assert unreadable_advice("/etc/textback/textback.toml", 0o100600, "textback",
                             member=member) == advice.format(user=getpass.getuser())
    assert unreadable_advice("/home/mike/x.toml", 0o100600, "mike", member=True) is None
