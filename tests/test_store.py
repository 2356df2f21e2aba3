"""gateway.app.store on a real SQLite file; a restart is a new Store on the same file."""
import logging
import os
import sqlite3
import stat
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from gateway.app import reports
from gateway.app.policy import Facts, day_start
from gateway.app.store import Outgoing, Store
from gateway.errors import StoreError
from gateway.events import ANSWERED, MISSED, CallEnded

CHICAGO = ZoneInfo("America/Chicago")
T0 = datetime.fromisoformat("2026-11-28T10:00:00-06:00").timestamp()   # Saturday 10:00 CST
ANN = "+15125550142"
BOB = "+15125550199"


def ended(raw="5125550142", outcome=MISSED, started=T0, withheld=False) -> CallEnded:
    return CallEnded(call_id=1, number=raw, number_type=129, withheld=withheld, outcome=outcome,
                     started=started, ended=started + 9.5, rings=2, how="NO CARRIER")


@pytest.fixture
def path(tmp_path):
    return tmp_path / "leads.db"


@pytest.fixture
def store(path):
    s = Store(path)
    yield s
    s.close()


def raw(path, sql, params=()):
    """Read the file the way Datasette or sqlite3 would, bypassing the Store."""
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


def queue(store, number=ANN, key="k1", now=T0 + 10, send_at=None, kind="missed_call",
          call_id=None, body="Sorry we missed you"):
    return store.queue_text(number=number, body=body, kind=kind, dedupe_key=key,
                            send_at=now if send_at is None else send_at, now=now, call_id=call_id)


# -- opening -----------------------------------------------------------------------------------
def test_new_file_is_private_wal_and_full_sync(path):
    store = Store(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert store.db.execute("PRAGMA synchronous").fetchone() == (2,)   # 2 = FULL
    assert store.db.execute("PRAGMA foreign_keys").fetchone() == (1,)
    store.set_state("heartbeat", "1")
    assert stat.S_IMODE(path.with_name("leads.db-wal").stat().st_mode) == 0o600
    store.close()


def test_loose_existing_file_is_tightened_with_a_warning(path, caplog):
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    with caplog.at_level(logging.WARNING, logger="gateway.app.store"):
        Store(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [r.getMessage() for r in caplog.records] == \
        [f"lead database {path} was readable by others (mode 644); setting 0600"]


@pytest.fixture
def shared(tmp_path):
    """/var/lib/textback as the package makes it: setgid, group-writable, nothing for others."""
    folder = tmp_path / "state"
    folder.mkdir()
    folder.chmod(0o2770)
    return folder / "textback.db"


def modes(path):
    return {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in sorted(path.parent.iterdir())}


def test_in_a_setgid_folder_the_group_shares_database_wal_and_shm(shared):
    store = Store(shared)
    store.set_state("heartbeat", "1")   # a write: SQLite makes -wal and -shm
    assert modes(shared) == {"textback.db": "0o660", "textback.db-shm": "0o660",
                             "textback.db-wal": "0o660"}
    store.close()


def test_a_private_database_from_an_older_version_is_shared_when_its_folder_is(shared, caplog):
    """textback 0.1.0 made /var/lib/textback/textback.db 0600, so the owner could not read it."""
    Store(shared).close()
    shared.chmod(0o600)
    with caplog.at_level(logging.WARNING, logger="gateway.app.store"):
        Store(shared).close()
    assert modes(shared) == {"textback.db": "0o660"} and caplog.records == []


def test_others_never_read_a_shared_database(shared, caplog):
    Store(shared).close()
    shared.chmod(0o666)
    with caplog.at_level(logging.WARNING, logger="gateway.app.store"):
        Store(shared).close()
    assert modes(shared) == {"textback.db": "0o660"}
    assert [r.getMessage() for r in caplog.records] == \
        [f"lead database {shared} was readable by others (mode 666); setting 0660"]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give the file to another user")
def test_a_file_of_another_user_is_left_as_it_is(shared, caplog):
    """The owner opening the daemon's database must not try to chmod it (EPERM)."""
    Store(shared).close()
    shared.chmod(0o640)
    os.chown(shared, 65534, -1)
    with caplog.at_level(logging.WARNING, logger="gateway.app.store"):
        Store(shared).close()
    assert modes(shared) == {"textback.db": "0o640"} and caplog.records == []


def test_migrations_apply_once(path):
    Store(path).close()
    Store(path).close()
    applied = raw(path, "SELECT migration_set, name FROM _sqlite_migrations")
    assert applied[:2] == [("textback", "001_initial"), ("textback", "002_inbound")]
    assert len(applied) == len(set(applied))  # opened twice, applied once
    assert sorted(r[0] for r in raw(path, "SELECT name FROM sqlite_master WHERE type = 'table'")) \
        == ["_sqlite_migrations", "attachments", "calls", "lead_changes", "leads", "messages",
            "opt_outs", "outbox", "state"]


def test_not_a_database(path):
    path.write_bytes(b"this is a text file, not SQLite\n" * 100)
    path.chmod(0o644)
    with pytest.raises(StoreError) as info:
        Store(path)
    assert str(info.value) == (f"{path} is not a SQLite database, so not textback's lead "
                               "database; nothing was changed\n"
                               "  -> point --db (or TEXTBACK_DB, or store.database in the config) "
                               "at textback's database, textback.db by default")
    # refused before anything touched it: the mode was not tightened, the bytes are the same
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert path.read_bytes() == b"this is a text file, not SQLite\n" * 100


def test_locked(path):
    holder = sqlite3.connect(path, isolation_level=None)   # rollback journal: locks out readers
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("CREATE TABLE x (y)")
    try:
        with pytest.raises(StoreError, match="database is locked") as info:
            Store(path, busy_timeout=0.05)
        assert "retry in a moment" in str(info.value)
    finally:
        holder.rollback()
        holder.close()


def test_file_in_the_way(tmp_path):
    (tmp_path / "a-file").touch()
    with pytest.raises(StoreError) as info:
        Store(tmp_path / "a-file" / "leads.db")
    assert str(info.value) == (f"cannot create the lead database {tmp_path}/a-file/leads.db: "
                               "a file is in the way\n"
                               "  -> pass --db FILE with a path in an existing folder")


def test_missing_folders_are_made_private(tmp_path):
    Store(tmp_path / "new" / "leads.db").close()
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700


def test_times_are_iso_utc_text(store, path):
    store.record_call(ended(started=T0 + 0.1234), ANN, key="k1", now=T0 + 10)
    assert raw(path, "SELECT started_at, ended_at FROM calls") == \
        [("2026-11-28T16:00:00.123Z", "2026-11-28T16:00:09.623Z")]


# -- calls and leads ---------------------------------------------------------------------------
def test_record_call_is_idempotent_across_a_restart(path):
    store = Store(path)
    assert store.record_call(ended(), ANN, key="k1", now=T0 + 10) == (1, True)
    store.close()
    store = Store(path)
    assert store.record_call(ended(), ANN, key="k1", now=T0 + 20) == (1, False)
    assert store.record_call(ended(started=T0 + 600), ANN, key="k2", now=T0 + 610) == (2, True)
    assert [(r["number"], r["missed_calls"], r["status"], r["last_activity_at"])
            for r in reports.leads(store)] == [(ANN, 2, "new", "2026-11-28T16:10:10.000Z")]
    store.close()


@pytest.mark.parametrize("call, number, lead_rows, lead_id", [
    (ended(), ANN, [(ANN, 1)], 1),
    (ended(outcome=ANSWERED), ANN, [], None),             # answered: no lead made
    (ended(raw="", withheld=True), None, [], None),       # withheld: recorded, no lead
    (ended(raw="72404"), None, [], None),                 # short code
])
def test_which_calls_make_leads(store, path, call, number, lead_rows, lead_id):
    call_id, _ = store.record_call(call, number, key="k", now=T0 + 10)
    assert raw(path, "SELECT number, missed_calls FROM leads") == lead_rows
    assert [(c["id"], c["number"], c["raw_number"], c["withheld"], c["outcome"], c["lead_id"],
             c["action"]) for c in reports.calls(store)] == \
        [(call_id, number, call.number, call.withheld, call.outcome, lead_id, "recorded")]


def test_answered_call_joins_an_existing_lead(store):
    store.record_call(ended(), ANN, key="k1", now=T0 + 10)
    store.record_call(ended(outcome=ANSWERED, started=T0 + 60), ANN, key="k2", now=T0 + 70)
    assert [(c["key"], c["lead_id"]) for c in reports.calls(store)] == [("k2", 1), ("k1", 1)]
    assert reports.leads(store)[0]["missed_calls"] == 1


def test_set_call_action(store):
    call_id, _ = store.record_call(ended(), ANN, key="k1", now=T0 + 10)
    store.set_call_action(call_id, "skipped", "cooldown (texted 12 min ago)")
    assert (reports.calls(store)[0]["action"], reports.calls(store)[0]["reason"]) == \
        ("skipped", "cooldown (texted 12 min ago)")
    with pytest.raises(ValueError, match="unknown call action 'ignored'"):
        store.set_call_action(call_id, "ignored")


# -- the outbox --------------------------------------------------------------------------------
def test_queue_text_dedupes(store, path):
    call_id, _ = store.record_call(ended(), ANN, key="k1", now=T0 + 10)
    first = queue(store, call_id=call_id)
    assert queue(store, call_id=call_id, body="a second body") is None
    assert raw(path, "SELECT direction, number, body, kind, call_id FROM messages") == \
        [("out", ANN, "Sorry we missed you", "missed_call", call_id)]
    assert raw(path, "SELECT id, dedupe_key, status, attempts FROM outbox") == \
        [(first, "k1", "queued", 0)]
    assert (reports.calls(store)[0]["action"], reports.leads(store)[0]["status"]) == ("queued", "texted")


def test_due_waits_for_send_at(store):
    first = queue(store, key="k1", now=T0, send_at=T0 + 30)
    second = queue(store, number=BOB, key="k2", now=T0 + 1, send_at=T0 + 20)
    assert store.next_due_at() == T0 + 20
    assert store.due(T0 + 19.999) == []
    assert [o.id for o in store.due(T0 + 20)] == [second]
    assert [o.id for o in store.due(T0 + 30)] == [second, first]   # oldest due first
    assert [o.id for o in store.due(T0 + 30, limit=1)] == [second]


def test_a_text_through_retry_to_sent(store, path):
    call_id, _ = store.record_call(ended(), ANN, key="c1", now=T0 + 10)
    oid = queue(store, call_id=call_id)
    assert store.due(T0 + 10) == [Outgoing(oid, 1, call_id, ANN, "Sorry we missed you",
                                           "missed_call", 0, "queued", "2026-11-28T16:00:10.000Z")]
    store.mark_sending(oid, T0 + 10)
    assert store.due(T0 + 10) == []            # in flight in this process: not offered twice
    store.mark_retry(oid, "+CMS ERROR: 500", T0 + 15, T0 + 10)
    assert store.next_due_at() == T0 + 15
    assert store.due(T0 + 14) == []
    assert [(o.attempts, o.status) for o in store.due(T0 + 15)] == [(1, "queued")]
    store.mark_sending(oid, T0 + 15)
    store.mark_sent(oid, 42, T0 + 16)
    assert store.due(T0 + 1000) == [] and store.next_due_at() is None
    assert raw(path, "SELECT status, attempts, last_error, modem_ref, sent_at FROM outbox") == \
        [("sent", 2, "+CMS ERROR: 500", 42, "2026-11-28T16:00:16.000Z")]
    assert reports.calls(store)[0]["action"] == "sent"


def test_failed_text(store):
    call_id, _ = store.record_call(ended(), ANN, key="c1", now=T0 + 10)
    oid = queue(store, call_id=call_id)
    store.mark_sending(oid, T0 + 10)
    store.mark_failed(oid, "+CMS ERROR: 1", T0 + 11)
    assert (reports.calls(store)[0]["action"], reports.calls(store)[0]["reason"]) == ("failed", "+CMS ERROR: 1")
    assert store.due(T0 + 1000) == []
    with pytest.raises(StoreError, match="no outbox row 99"):
        store.mark_sent(99, None, T0)


def test_sending_at_a_crash_is_sent_again_once(path):
    crashed = Store(path)
    oid = queue(crashed)
    crashed.mark_sending(oid, T0 + 10)
    # The process dies here: no mark_sent, no close, the WAL not checkpointed. Its connection stays
    # open (and unused) while the next process opens the file.
    store = Store(path)
    assert store.next_due_at() == T0 + 10
    again = store.due(T0 + 60)
    assert [(o.id, o.attempts, o.status) for o in again] == [(oid, 1, "sending")]
    assert [o.id for o in store.due(T0 + 61)] == [oid]         # offered until it is handled ...
    assert store.get_state("resent_after_crash") == "1"         # ... but counted once
    store.mark_sending(oid, T0 + 62)
    assert store.due(T0 + 63) == []
    store.mark_sent(oid, 7, T0 + 64)
    store.close()
    store = Store(path)
    assert store.due(T0 + 100) == [] and store.get_state("resent_after_crash") == "1"
    store.close()
    crashed.close()


# -- facts for the policy ------------------------------------------------------------------------
def local(text):
    return datetime.fromisoformat(text).replace(tzinfo=CHICAGO).timestamp()


@pytest.mark.parametrize("now, expected", [
    # Texts below: Ann at 23:50 Friday and 09:00 Saturday, Bob at 09:30 (failed) and 10:00,
    # a follow-up to Bob at 10:30, a manual text to Ann at 10:45.
    ("2026-11-28 08:00", Facts(False, local("2026-11-27 23:50"), 0)),
    ("2026-11-28 09:00", Facts(False, local("2026-11-28 09:00"), 1)),
    ("2026-11-28 11:00", Facts(False, local("2026-11-28 09:00"), 3)),
    ("2026-11-29 00:00", Facts(False, local("2026-11-28 09:00"), 0)),   # local midnight resets
])
def test_facts(store, now, expected):
    queue(store, key="a1", now=local("2026-11-27 23:50"))
    queue(store, key="a2", now=local("2026-11-28 09:00"), kind="after_hours")
    failed = queue(store, number=BOB, key="b1", now=local("2026-11-28 09:30"))
    store.mark_failed(failed, "+CMS ERROR: 1", local("2026-11-28 09:31"))
    queue(store, number=BOB, key="b2", now=local("2026-11-28 10:00"))
    queue(store, number=BOB, key="b3", now=local("2026-11-28 10:30"), kind="follow_up")
    queue(store, key="a3", now=local("2026-11-28 10:45"), kind="manual")
    t = local(now)
    assert store.facts(ANN, now=t, day_start=day_start(t, CHICAGO)) == expected


def test_opt_out(store):
    store.record_opt_out(ANN, now=T0)
    assert store.facts(ANN, now=T0 + 1, day_start=T0 - 3600) == Facts(True, None, 0)
    assert store.facts(BOB, now=T0 + 1, day_start=T0 - 3600) == Facts(False, None, 0)
    assert reports.leads(store)[0]["status"] == "opted_out"


# -- for people ----------------------------------------------------------------------------------
def test_leads_newest_activity_first_with_preview(store):
    store.record_call(ended(), ANN, key="c1", now=T0 + 10)
    queue(store, number=ANN, key="a1", now=T0 + 11, body="Sorry we missed you, Ann")
    store.record_call(ended("5125550199", started=T0 + 100), BOB, key="c2", now=T0 + 110)
    store.record_call(ended("5125550177", started=T0 + 200), "+15125550177", key="c3",
                      now=T0 + 210)
    queue(store, number=BOB, key="b1", now=T0 + 300, body="Sorry we missed you, Bob")
    queue(store, number=BOB, key="b2", now=T0 + 400, body="Still need a quote?", kind="follow_up")
    assert [(r["number"], r["status"], r["missed_calls"], r["preview"]) for r in reports.leads(store)] == [
        (BOB, "texted", 1, "Still need a quote?"),
        ("+15125550177", "new", 1, None),
        (ANN, "texted", 1, "Sorry we missed you, Ann"),
    ]
    assert [r["number"] for r in reports.leads(store, limit=1)] == [BOB]


def test_calls_newest_first(store):
    for i, key in enumerate(["c1", "c2", "c3"]):
        store.record_call(ended(started=T0 + 100 * i), ANN, key=key, now=T0 + 100 * i + 10)
    assert [c["key"] for c in reports.calls(store)] == ["c3", "c2", "c1"]
    assert [c["key"] for c in reports.calls(store, limit=2)] == ["c3", "c2"]


def test_state(path):
    store = Store(path)
    assert store.get_state("heartbeat") is None
    store.set_state("heartbeat", "1800000000.000")
    store.set_state("heartbeat", "1800000030.000")
    store.close()
    store = Store(path)
    assert store.get_state("heartbeat") == "1800000030.000"
    store.close()


def test_migration_005_lets_an_old_database_hold_done_and_called_back(tmp_path):
    """A database from 0.2.0 (migrations up to 004), with leads, calls, messages and
    lead_changes pointing at them: 005 rebuilds leads with the wider status check, keeps every row
    and every reference, and foreign keys still hold."""
    import sqlite3

    from sqlite_utils import Database

    from gateway.app.store import _migrations

    path = tmp_path / "old.db"
    old = Database(sqlite3.connect(path))
    old.execute("PRAGMA foreign_keys = ON")
    _migrations().apply(old, stop_before="005_done_and_called_back")
    with pytest.raises(sqlite3.IntegrityError):
        old.execute("INSERT INTO leads (number, status, created_at, last_activity_at) "
                    "VALUES ('+1', 'done', 'x', 'x')")
    old.execute("INSERT INTO leads (id, number, status, created_at, last_activity_at) "
                "VALUES (7, '+15125550142', 'booked', '2026-11-24T16:00:00.000Z', "
                "'2026-11-24T16:00:00.000Z')")
    old.execute("INSERT INTO messages (lead_id, direction, number, body, kind, created_at) "
                "VALUES (7, 'in', '+15125550142', 'hi', 'reply', '2026-11-24T16:00:00.000Z')")
    old.execute("INSERT INTO lead_changes (lead_id, field, old, new, changed_at) "
                "VALUES (7, 'status', 'replied', 'booked', '2026-11-24T16:00:00.000Z')")
    old.conn.commit()
    old.close()
    store = Store(path)
    store.set_lead_status(7, "done", "new heater", 0.0)
    lead = store.lead(7)
    counts = [store.db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
              for t in ("leads", "messages", "lead_changes")]
    indexes = {r[0] for r in store.db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'leads'")}
    with pytest.raises(sqlite3.IntegrityError):   # references still checked
        store.db.execute("INSERT INTO messages (lead_id, direction, number, body, kind, "
                         "created_at) VALUES (99, 'in', '+1', 'x', 'reply', 'x')")
    store.close()
    assert (lead["status"], counts) == ("done", [1, 1, 2])
    assert {"leads_by_activity", "leads_by_status"} <= indexes
    assert Store(path).lead(7)["status"] == "done"   # opened again: nothing to do, nothing lost
