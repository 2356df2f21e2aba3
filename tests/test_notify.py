"""gateway.box.notify against a real AF_UNIX datagram socket, as systemd would listen."""
from __future__ import annotations

import os
import socket
import uuid

import pytest

from gateway.box import notify


@pytest.fixture
def listener(tmp_path):
    """(env, receive): a bound SOCK_DGRAM socket in tmp_path and a non-blocking read of it."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = tmp_path / "n"
    sock.bind(str(path))
    sock.setblocking(False)
    yield {"NOTIFY_SOCKET": str(path)}, lambda: sock.recv(4096)
    sock.close()


@pytest.mark.parametrize("call, expected", [
    (lambda env: notify.ready(env=env), b"READY=1"),
    (lambda env: notify.ready("modem ready: SIM7600, 4 bars", env=env),
     b"READY=1\nSTATUS=modem ready: SIM7600, 4 bars"),
    (lambda env: notify.status("modem gone, retrying in 5 s", env=env),
     b"STATUS=modem gone, retrying in 5 s"),
    (lambda env: notify.status("two\nlines\r\nREADY=1", env=env), b"STATUS=two lines READY=1"),
    (lambda env: notify.watchdog(env=env), b"WATCHDOG=1"),
    (lambda env: notify.stopping(env=env), b"STOPPING=1"),
    (lambda env: notify.stopping("SIGTERM", env=env), b"STOPPING=1\nSTATUS=SIGTERM"),
])
def test_each_message_is_one_datagram_with_exact_bytes(listener, call, expected):
    env, receive = listener
    assert call(env) is True
    assert receive() == expected
    with pytest.raises(BlockingIOError):   # exactly one datagram per message
        receive()


def test_abstract_socket_name():
    name = f"textback-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(b"\0" + name.encode())
        sock.setblocking(False)
        assert notify.watchdog(env={"NOTIFY_SOCKET": "@" + name}) is True
        assert sock.recv(4096) == b"WATCHDOG=1"


def test_process_environment_is_the_default(listener, monkeypatch):
    env, receive = listener
    monkeypatch.setenv("NOTIFY_SOCKET", env["NOTIFY_SOCKET"])
    assert notify.ready("up") is True
    assert receive() == b"READY=1\nSTATUS=up"


@pytest.mark.parametrize("env", [{}, {"NOTIFY_SOCKET": ""}])
def test_without_systemd_every_call_is_a_no_op(env):
    assert [notify.ready("x", env=env), notify.status("x", env=env), notify.watchdog(env=env),
            notify.stopping(env=env)] == [False, False, False, False]


def test_a_socket_nobody_listens_on_is_not_an_error(tmp_path):
    env = {"NOTIFY_SOCKET": str(tmp_path / "gone")}
    assert notify.ready("x", env=env) is False


@pytest.mark.parametrize("usec, pid, expected", [
    ("60000000", "self", 30.0),      # WatchdogSec=60: ping every 30 s
    ("1000000", "", 0.5),            # no WATCHDOG_PID: ours
    ("60000000", "other", None),     # inherited from a parent process: not ours
    ("0", "self", None),
    ("", "self", None),
    ("soon", "self", None),
    (None, None, None),
])
def test_watchdog_interval(usec, pid, expected):
    env = {}
    if usec is not None:
        env["WATCHDOG_USEC"] = usec
    if pid is not None:
        pids = {"self": str(os.getpid()), "other": str(os.getpid() + 1)}
        env["WATCHDOG_PID"] = pids.get(pid, pid)
    assert notify.watchdog_interval(env=env) == expected
