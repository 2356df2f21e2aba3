"""the finished job and its review request; policy.min_rings. Replays of the scenarios
under a config with a review link or min_rings = 2, `textback done`, and the quiet-hours rules."""
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from cli.main import cli
from gateway import config as config_mod
from gateway.app import reviews
from gateway.app.conversation import Conversation
from gateway.app.daemon import Counters
from gateway.app.store import Store
from gateway.starter import write_starter
from test_replay import AFTER, MISSED, OWNER, SCENARIOS, STOPPED, B, N, call, decisions, replay, sent

TZ = ZoneInfo("America/Chicago")
LINK = "https://g.page/r/AcmeExample/review"
REVIEW = ("Acme Plumbing: thanks for having us out today. A review helps a small business like ours "
          f"a lot: {LINK}")


def configured(folder: Path, extra: str) -> Path:
    write_starter(folder)
    path = folder / "textback.toml"
    text = path.read_text()
    for line in ["digest = false", *extra.strip().splitlines()]:   # no morning digest in a replay
        key, _, _ = line.partition(" = ")
        text = "\n".join(line if x.startswith(f"{key} = ") else x for x in text.splitlines())
    path.write_text(text + "\n")
    return path


def test_done_with_a_review_link(tmp_path):
    cfg = configured(tmp_path, f'url = "{LINK}"')
    assert decisions(replay(SCENARIOS / "done_review.json", config_path=cfg)) == [
        call(5.0, "NO CARRIER"), sent(5.0, AFTER), ("inbound", 30.0, N, "Great, see you at 3"),
        sent(30.0, "#1 (512) 555-0142: Great, see you at 3", to=OWNER),
        call(45.0, "NO CARRIER", number=B), sent(45.0, AFTER, to=B),
        ("inbound", 50.0, B, "stop texting me"), sent(50.0, STOPPED, to=B),
        sent(51.0, "#2 (512) 555-0177 opted out, no more texts go to them: stop texting me", to=OWNER),
        # 20:55: before quiet hours, so at once; the owner's answer a second later (pacing)
        ("lead_status", 60.0, 1, "done"), sent(60.0, REVIEW),
        sent(61.0, "#1 (512) 555-0142 is done; the review request goes out now.", to=OWNER),
        # never twice
        sent(90.0, "#1 (512) 555-0142 was done already; no review request: they were asked "
                   "already.", to=OWNER),
        # never to a lead who opted out
        ("lead_status", 100.0, 2, "done"),
        sent(100.0, "#2 (512) 555-0177 is done; no review request: they opted out (STOP).", to=OWNER)]


def test_done_at_night_waits_for_the_morning(tmp_path):
    cfg = configured(tmp_path, f'url = "{LINK}"')
    records = replay(SCENARIOS / "done_at_night.json", config_path=cfg)
    queued = [r for r in records if r["event"] == "queued" and r["template"] == "review"]
    eight = datetime(2026, 11, 25, 8, 0, tzinfo=TZ).timestamp()
    start = datetime(2026, 11, 24, 22, 28, tzinfo=TZ).timestamp()
    assert [round(r["send_at"] - start, 3) for r in queued] == [round(eight - start, 3)]
    assert decisions(records)[-2:] == [
        ("lead_status", 120.0, 1, "done"),
        sent(120.0, "#1 (512) 555-0142 is done; the review request goes out at 08:00 (not at "
                    "night).", to=OWNER)]
    assert not any(r["event"] == "sms" and r.get("kind") == "review" for r in records)


def test_min_rings_two_skips_the_misdial(tmp_path):
    cfg = configured(tmp_path, "min_rings = 2")
    assert decisions(replay(SCENARIOS / "min_rings.json", config_path=cfg)) == [
        call(2.0, "NO CARRIER"),
        ("sms", 2.0, N, "skipped", "too few rings (1 ring, min_rings = 2)"),
        call(43.0, "NO CARRIER", number=B, rings=3), sent(43.0, MISSED, to=B)]


@pytest.mark.parametrize("local, expected", [
    ("2026-11-24T20:55:00", "2026-11-24T20:55:00"),   # before 21:00: now
    ("2026-11-24T21:00:00", "2026-11-25T08:00:00"),   # quiet from 21:00 ...
    ("2026-11-24T22:30:00", "2026-11-25T08:00:00"),
    ("2026-11-25T07:59:59", "2026-11-25T08:00:00"),   # ... to 08:00 the same night
    ("2026-11-25T08:00:00", "2026-11-25T08:00:00"),
])
def test_not_before(local, expected):
    at = datetime.fromisoformat(local).replace(tzinfo=TZ).timestamp()
    assert reviews.not_before(at, TZ) == datetime.fromisoformat(expected).replace(tzinfo=TZ).timestamp()


def test_a_review_queued_at_2055_that_could_not_go_by_2100_waits_for_the_morning(tmp_path):
    cfg = config_mod.load(configured(tmp_path, f'url = "{LINK}"'))
    store = Store(tmp_path / "t.db")
    clock = SimpleNamespace(now=lambda: datetime(2026, 11, 24, 21, 5, tzinfo=TZ).timestamp())
    talk = Conversation(cfg, store, clock, lambda *a, **k: None, Counters())
    item = SimpleNamespace(kind="review", number=N, body=REVIEW)
    held = talk.hold(item, clock.now())
    store.close()
    assert held == datetime(2026, 11, 25, 8, 0, tzinfo=TZ).timestamp()


def test_textback_done_from_the_terminal(tmp_path, monkeypatch):
    cfg = configured(tmp_path, f'url = "{LINK}"')
    db = tmp_path / "t.db"
    replay(SCENARIOS / "reply_and_relay.json", config_path=cfg, db_path=db)
    monkeypatch.setenv("TEXTBACK_NOW", "2026-11-24T15:00:00-06:00")
    runner = CliRunner()
    first = runner.invoke(cli, ["done", "@1", "--note", "new water heater", "--config", str(cfg),
                                "--db", str(db)])
    again = runner.invoke(cli, ["done", "1", "--config", str(cfg), "--db", str(db)])
    missing = runner.invoke(cli, ["done", "7", "--config", str(cfg), "--db", str(db)])
    assert (first.exit_code, first.stdout) == (
        0, "#1 (512) 555-0142 is done; the review request goes out now.\n")
    assert (again.exit_code, again.stdout) == (
        0, "#1 (512) 555-0142 was done already; no review request: they were asked already.\n")
    assert missing.exit_code == 1 and "no lead #7" in missing.output
    store = Store(db)
    rows = store.db.execute("SELECT m.kind, m.body, o.status FROM messages m JOIN outbox o ON "
                            "o.message_id = m.id WHERE m.kind = 'review'").fetchall()
    change = store.db.execute("SELECT old, new, note FROM lead_changes").fetchall()
    store.close()
    assert rows == [("review", REVIEW, "queued")]
    assert change == [("replied", "done", "new water heater")]


@pytest.mark.parametrize("url, problem", [
    ("https://g.page/r/😀", "the link holds '😀', which is not plain ASCII"),
    ("g.page/r/abc", "not a web link"),
    ("https://g.page/r/a b", "not a web link"),
    ("javascript:alert(1)", "not a web link"),
    ("https://g.page/r/" + "a" * 10_000, "the link is 10,017 characters long; at most 200"),
])
def test_review_links_that_are_refused(tmp_path, url, problem):
    path = configured(tmp_path, f'url = "{url}"')
    with pytest.raises(config_mod.ConfigError) as info:
        config_mod.load(path)
    assert problem in str(info.value) and "reviews.url" in str(info.value)


def test_a_non_ascii_host_gets_its_ascii_form_suggested(tmp_path):
    path = configured(tmp_path, 'url = "https://bücher.example/r/ä"')
    with pytest.raises(config_mod.ConfigError) as info:
        config_mod.load(path)
    assert "https://xn--bcher-kva.example/r/%C3%A4" in str(info.value)


def test_config_check_warns_about_a_link_field_that_is_not_set(tmp_path):
    path = configured(tmp_path, "")
    (tmp_path / "templates" / "missed_call.txt").write_text("Sorry we missed you. Book: $booking_link\n")
    warnings = config_mod.check(config_mod.load(path))
    assert warnings == ['missed_call.txt uses $booking_link but business.booking_url is not set, so '
                        'the text would go with nothing there: set it under [business] '
                        '(booking_url = "https://..."), or take $booking_link out of missed_call.txt']
    # review.txt without a review link is never sent: no warning for it (checked above)


def test_an_old_templates_folder_without_review_txt_uses_the_shipped_one(tmp_path):
    path = configured(tmp_path, f'url = "{LINK}"')
    (tmp_path / "templates" / "review.txt").unlink()
    cfg = config_mod.load(path)
    assert config_mod.check(cfg) == []
    talk = Conversation(cfg, Store(tmp_path / "t.db"), SimpleNamespace(now=lambda: 0.0),
                        lambda *a, **k: None, Counters())
    assert talk.render("review", N) == REVIEW
    talk.store.close()
