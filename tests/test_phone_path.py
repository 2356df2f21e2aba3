"""The whole phone path against the strict fake: the daemon, the link, the store, the owner's view.

What the strict fake phone must show, one by one: a missed call texted once, an answered one not, forged and
stale webhooks refused and changing nothing, a reply recorded and forwarded, a failing /health
leaving the link up with its warning shown, no request of the daemon refused by the fake; texts
sent from a second database on the same phone not lost to a 409; pictures kept with the lead.
"""
import hashlib
import hmac
import json
import socket
import stat
import time

import pytest
from click.testing import CliRunner

from cli.main import cli
from gateway import config as config_mod
from gateway.app import reports
from gateway.app.daemon import build
from gateway.app.store import Store
from gateway.clock import WallClock
from gateway.phone.link import PhoneLink
from gateway.starter import write_starter

N, B, OWNER = "+15125550142", "+15125550177", "+15125550199"
KEY = "s1gnKey8"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF" + bytes(range(256)) * 4


class Box:
    """A textback box on the fake phone: config, database, the daemon, its records."""

    def __init__(self, folder, gw, settings):
        if not (folder / "textback.toml").exists():
            write_starter(folder)
        self.folder, self.gw = folder, gw
        self.cfg = config_mod.load(folder / "textback.toml")
        self.db = folder / "textback.db"
        self.store = Store(self.db)
        self.clock = WallClock()
        self.records = []
        self.link = PhoneLink(settings, self.clock)
        self.daemon = build(self.cfg, self.store, self.clock, self.link, sink=self.records.append, notices=False)

    def run(self, until, seconds=30.0, then=None):
        """Run the daemon until `until(records)` holds (checked each pass), at most `seconds`
        (a bound for a loaded machine, not a target: a passing run stops as soon as it holds)."""
        def check():
            if then is not None and self.daemon.connected and not getattr(self, "_began", False):
                self._began = True
                then()
            if until(self.records):
                self.daemon.stop("done")
                self.clock.interrupt()
        self.daemon.on_pass = check
        self.daemon.stopping, self.daemon.stop_reason = False, None   # runs again after a stop
        self.daemon.run(until=self.clock.now() + seconds)
        return self.daemon.stop_reason == "done"

    def close(self):
        self.link.close()
        self.store.close()


@pytest.fixture
def make_box(gw, phone_settings):
    """make_box(folder, **settings): a Box on the fake phone; a text waits 3 s for its Sent."""
    return lambda folder, **kw: Box(folder, gw, phone_settings(**{"send_wait": 3.0, **kw}))


def sent_to(records, number, kind=None):
    return [r for r in records if r["event"] == "sms" and r.get("status") == "sent"
            and r["to"] == number and (kind is None or r.get("kind") == kind)]


def refused(gw):
    """Requests of the daemon the phone refused (a failing /health answers 500 by design)."""
    return [r for r in gw.requests if r[3] >= 400 and r[2] != "/health"]


def post_raw(port, body: bytes, headers: dict) -> int:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        conn.sendall(f"POST /webhook HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode() + body)
        conn.settimeout(30)
        return int(conn.recv(200).split()[1])


def signed(body: bytes, key=KEY, skew=0.0) -> dict:
    stamp = str(int(time.time() + skew))
    return {"Content-Length": str(len(body)), "X-Timestamp": stamp,
            "X-Signature": hmac.new(key.encode(), body + stamp.encode(), hashlib.sha256).hexdigest()}


def test_done_means(tmp_path, gw, make_box):
    box = make_box(tmp_path)
    try:
        # A missed call is texted once; an answered one is not.
        assert box.run(lambda r: sent_to(r, N),
                       then=lambda: (gw.play("answered", B), gw.play("missed", N)))
        # Forged and stale webhooks: 401 and nothing changes.
        forged = json.dumps({"id": "f1", "webhookId": "w", "event": "call:ringing",
                             "deviceId": "d", "payload": {"phoneNumber": "5125550111"}}).encode()
        port = box.link.receiver.port
        for headers in (signed(forged, key="guessed!"), signed(forged, skew=-600),
                        {"Content-Length": str(len(forged))}):
            answered = []

            def poke(headers=headers):
                answered.append(post_raw(port, forged, headers))
                box.clock.interrupt()   # the loop may be asleep again: let it see the answer
            import threading
            t = threading.Thread(target=poke)
            t.start()
            box.run(lambda r: answered, seconds=30)
            t.join(5)
            assert answered == [401]
        # A reply is recorded and forwarded to the owner.
        gw.receive_sms(N, "Yes please, the sink 🚰 is leaking")
        assert box.run(lambda r: sent_to(r, OWNER, "owner_alert"))
        gw.receive_sms(N, "")                                 # an empty text is still a text
        assert box.run(lambda r: len(sent_to(r, OWNER, "owner_alert")) == 2)
        # A failing /health: the link stays up, the warning is shown.
        gw.battery = 7
        box.link._next_health = 0.0
        assert box.run(lambda r: any(x["event"] == "link_warning" for x in r))
        gw.play("missed", "+15125550123")
        assert box.run(lambda r: sent_to(r, "+15125550123"))
        calls = sorted((c["number"], c["outcome"], c["action"]) for c in reports.calls(box.store))
        lost = [r for r in box.records if r["event"] == "modem_lost"]
        # `textback run` holds the daemon lock, which status reads; the Box runs the daemon in
        # this process without it.
        from gateway.app.lock import one_daemon

        with one_daemon(box.db):
            result = CliRunner().invoke(cli, ["status", "--db", str(box.db),
                                              "--config", str(tmp_path / "textback.toml")])
    finally:
        box.close()
    warnings = [r["text"] for r in box.records if r["event"] == "link_warning"]
    assert warnings == ["the phone's battery is under 10 % (7 %)"]   # nothing said while all was well
    assert calls == [("+15125550123", "missed", "sent"), (N, "missed", "sent"),
                     (B, "answered", "skipped")]
    assert lost == [] and refused(gw) == []
    assert [m["recipients"][0]["phoneNumber"] for m in gw.messages.values()].count(N) == 1
    assert "5125550111" not in json.dumps(calls)
    assert result.exit_code == 0, result.output
    assert " ! phone" in result.output and "the phone's battery is under 10 % (7 %)" in result.output
    assert "plug the phone in to charge" in result.output
    alerts = [r["text"] for r in sent_to(box.records, OWNER, "owner_alert")]
    assert alerts == ["#1 (512) 555-0142: Yes please, the sink 🚰 is leaking",
                      "#1 (512) 555-0142 sent an empty text"]
    shown = CliRunner().invoke(cli, ["lead", "1", "--db", str(box.db),
                                     "--config", str(tmp_path / "textback.toml")])
    assert "(an empty text)" in shown.output


def test_a_phone_without_internet_is_a_warning_and_its_held_webhooks_come_later(tmp_path, gw, make_box):
    gw.internet = False        # USB only, Wi-Fi off: the apps hold their webhooks back
    box = make_box(tmp_path)
    try:
        assert box.run(lambda r: any(x["event"] == "link_warning" for x in r),
                       then=lambda: gw.play("missed", N))
        warning = box.store.get_state("link_warning")
        assert sent_to(box.records, N) == []       # CallGate holds call:ended: nothing to act on
        gw.internet = True
        assert box.run(lambda r: sent_to(r, N))
    finally:
        box.close()
    assert warning == "the phone has no internet"
    assert [r for r in box.records if r["event"] == "modem_lost"] == []


def test_a_second_database_on_the_same_phone_still_texts(tmp_path, gw, make_box):
    # A re-imaged box: a new database whose outbox counts from 1 again, the same template, the
    # same caller. Its text must not meet the first box's id (409) and be taken as sent.
    for name in ("first", "second"):
        (tmp_path / name).mkdir()
        box = make_box(tmp_path / name)
        try:
            assert box.run(lambda r: sent_to(r, N), then=lambda: gw.play("missed", N))
        finally:
            box.close()
    texts = [m for m in gw.messages.values() if m["recipients"][0]["phoneNumber"] == N]
    assert len(texts) == 2 and len({m["id"] for m in texts}) == 2


def test_a_photo_is_kept_with_the_lead_and_the_owner_told(tmp_path, gw, monkeypatch, make_box):
    monkeypatch.chdir(tmp_path)
    box = make_box(tmp_path, photo_max_bytes=2000)
    box.store.close()
    box.store = Store("textback.db")          # a relative --db: the paths kept are whole
    box.daemon.store = box.daemon.conversation.store = box.store
    big = b"\xff\xd8\xff\xe0" + b"\x00" * 5000

    def phone():
        gw.receive_mms(N, [{"contentType": "text/plain", "text": "this one"},
                           {"contentType": "image/jpeg", "data": JPEG, "name": "../../x.jpg"}])
        gw.receive_mms(B, [{"contentType": "image/jpeg", "data": big}])
        gw.receive_mms(B, [{"contentType": "image/jpeg", "data": b"MZ\x90\x00 not a picture"}])
        gw.receive_mms(B, [{"contentType": "image/png", "data": None}])   # unreadable part
        gw.receive_mms("+15125550133", [{"contentType": "image/jpeg", "data": JPEG}],
                       downloaded=False)
    try:
        assert box.run(lambda r: len(sent_to(r, OWNER, "owner_alert")) >= 4, then=phone)
        leads = {lead["number"]: lead["id"] for lead in reports.leads(box.store)}
    finally:
        box.close()
    folder = tmp_path / "textback.db-photos"
    files = sorted(p.name for p in folder.iterdir())
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE((folder / f).stat().st_mode) == 0o600 for f in files)
    assert [f.rsplit(".", 1)[1] for f in files] == ["jpg", "bin"]
    assert (folder / files[0]).read_bytes() == JPEG
    alerts = [r["text"] for r in sent_to(box.records, OWNER, "owner_alert")]
    n, b = leads[N], leads[B]
    assert f"#{n} (512) 555-0142 sent a photo: this one" in alerts
    assert f"#{b} (512) 555-0177 sent a photo (not kept)" in alerts      # too big; unreadable
    assert f"#{b} (512) 555-0177 sent a file" in alerts                  # said jpeg, is not
    # Announced, never downloaded: recorded for the lead, no alert yet.
    assert not any("555-0133" in a for a in alerts)
    assert "+15125550133" in leads
    runner = CliRunner()
    shown = runner.invoke(cli, ["lead", str(n), "--db", str(box.db),
                                "--config", str(tmp_path / "textback.toml")], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert f"photo: {folder / files[0]}\n" in shown.output     # whole, on a line of its own
    other = runner.invoke(cli, ["lead", str(b), "--json", "--db", str(box.db),
                                "--config", str(tmp_path / "textback.toml")])
    parts = [a for e in json.loads(other.output)["events"]
             for a in e.get("attachments", [])]
    assert sorted((a["kind"], a["path"] is not None, a["problem"]) for a in parts) == [
        ("file", True, "the phone called it image/jpeg, but it is not a picture: kept as a file"),
        ("photo", False, "the phone sent no data for it, and answered 404 when asked for it"),
        ("photo", False, "too big to keep (5 kB, over the 2 kB limit)")]


def test_hostile_webhooks_do_not_stop_the_loop(tmp_path, gw, make_box):
    box = make_box(tmp_path)
    port = None
    answers = []

    def attack():
        import threading

        def one(body, headers):
            try:
                answers.append(post_raw(port, body, headers))
            except OSError as exc:
                answers.append(type(exc).__name__)
            box.clock.interrupt()       # the loop may be asleep again: let it see the answer
        good = json.dumps({"id": "h1", "webhookId": "w", "event": "sms:received", "deviceId": "d",
                           "payload": {"messageId": "1", "sender": N, "message": "x" * 10_000,
                                       "receivedAt": "2026-11-28T10:00:00.000-06:00"}}).encode()
        cases = [
            (b"{}", {"Content-Length": "abc"}),                       # unreadable length
            (b"", {"Content-Length": str(64 << 20)}),                 # far too big: not read
            (b"[1]", signed(b"[1]")),                                 # signed, not a webhook
            (b"not json", signed(b"not json")),
            (good, signed(good)),                                     # 10,000 characters
        ]
        for case in cases:                                            # all at once
            threading.Thread(target=one, args=case, daemon=True).start()
    try:
        def start():
            nonlocal port
            port = box.link.receiver.port
            attack()
        assert box.run(lambda r: any(x["event"] == "inbound" for x in r) and len(answers) == 5,
                       then=start)
        gw.play("missed", B)
        assert box.run(lambda r: sent_to(r, B))
        texts = [m["body"] for m in box.store.db.query(
            "SELECT body FROM messages WHERE direction = 'in'")]
    finally:
        box.close()
    assert sorted(map(str, answers)) == ["200", "400", "400", "400", "413"]
    assert texts == ["x" * 10_000]


def test_a_picture_from_the_owners_own_phone_makes_no_lead(tmp_path, gw, make_box):
    box = make_box(tmp_path)
    try:
        assert box.run(lambda r: sent_to(r, OWNER, "owner_reply"), then=lambda: gw.receive_mms(
            OWNER, [{"contentType": "text/plain", "text": "what?"},
                    {"contentType": "image/jpeg", "data": JPEG}]))
        leads = reports.leads(box.store)
    finally:
        box.close()
    assert leads == []     # its words went to the owner's command reader (here: the usage)


def test_a_restored_backup_on_the_same_phone_still_texts(tmp_path, gw, make_box):
    # The box texted A (the backup is taken), then N; the backup is restored: its outbox counts
    # from the same row again, and the next caller N must still get a text of their own.
    import shutil

    box = make_box(tmp_path)
    try:
        assert box.run(lambda r: sent_to(r, "+15125550188"),
                       then=lambda: gw.play("missed", "+15125550188"))
        box.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copy(box.db, tmp_path / "backup.db")
        gw.play("missed", N)
        assert box.run(lambda r: sent_to(r, N))
    finally:
        box.close()
    shutil.copy(tmp_path / "backup.db", box.db)
    for extra in ("-wal", "-shm"):
        (tmp_path / f"textback.db{extra}").unlink(missing_ok=True)
    restored = make_box(tmp_path)
    try:
        assert restored.run(lambda r: sent_to(r, N),
                            then=lambda: gw.play("missed", N))
    finally:
        restored.close()
    texts = [m for m in gw.messages.values() if m["recipients"][0]["phoneNumber"] == N]
    assert len(texts) == 2 and len({m["id"] for m in texts}) == 2
