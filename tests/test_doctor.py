"""textback doctor against the pty simulator in good and broken states: whole check lists."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.box import doctor
from gateway.box.doctor import Check

NO_PROC = Path("/nonexistent-proc")   # holder scan sees nobody: the real /proc has pytest's own fds
PORT = Check("port", True, "{port} is free")
GENERIC = Check("modem", True, "Generic GSM MODEM (textback family generic)")
SIM_OK = Check("sim", True, "SIM present, no PIN needed (or already entered)")
REG_OK = Check("registration", True, "registered on the home network")
OPERATOR = Check("operator", True, "TEXTBACK SIM (2G)")
SIGNAL = Check("signal", True, "4 of 4 bars (CSQ 21, about -71 dBm)")
SMSC = Check("sms centre", True, "+15125550199")
ANTENNA = "move the modem or its antenna (near a window, away from metal); check the antenna is on"
QUECTEL_FIX = ('AT+QCFG="ims",1 then restart the modem (AT+CFUN=1,1); '
               "calls on LTE-only networks need it")

CASES = {
    "good": ("generic", [], [PORT, GENERIC, SIM_OK, REG_OK, OPERATOR, SIGNAL, SMSC], True),
    "sim pin": ("generic", [("AT+CPIN?", ("+CPIN: SIM PIN", "OK"))], [
        PORT, GENERIC, Check("sim", False, "the SIM asks for a PIN",
                             "put the PIN in the config as modem.pin, or remove it with a phone")], False),
    "no sim": ("generic", [("AT+CPIN?", ("+CME ERROR: 10",))], [
        PORT, GENERIC, Check("sim", False, "no SIM card in the modem",
                             "insert the SIM (contacts down) with the modem unplugged")], False),
    "no sim verbose": ("sim800", [("AT+CPIN?", ("+CME ERROR: SIM not inserted",))], [
        PORT, Check("modem", True, "SIMCOM_Ltd SIMCOM_SIM800L (textback family sim800)"),
        Check("sim", False, "no SIM card in the modem",
              "insert the SIM (contacts down) with the modem unplugged")], False),
    "searching": ("generic", [("AT+CREG?", ("+CREG: 0,2", "OK"))], [
        PORT, GENERIC, SIM_OK,
        Check("registration", False, "searching for a network",
              "wait a minute near a window with the antenna on; then check that the SIM's line is active"),
        OPERATOR, SIGNAL, SMSC], False),
    "denied": ("generic", [("AT+CREG?", ("+CREG: 0,3", "OK"))], [
        PORT, GENERIC, SIM_OK,
        Check("registration", False, "registration denied by the network",
              "the carrier refused the SIM: ask them to activate the line (and IMEI) for this modem"),
        OPERATOR, SIGNAL, SMSC], False),
    "roaming": ("generic", [("AT+CREG?", ("+CREG: 0,5", "OK"))], [
        PORT, GENERIC, SIM_OK, Check("registration", True, "registered, roaming"),
        OPERATOR, SIGNAL, SMSC], True),
    "no signal": ("generic", [("AT+CSQ", ("+CSQ: 99,99", "OK"))], [
        PORT, GENERIC, SIM_OK, REG_OK, OPERATOR,
        Check("signal", False, "no signal (the modem reports it as unknown)", ANTENNA), SMSC], False),
    "weak signal": ("generic", [("AT+CSQ", ("+CSQ: 5,0", "OK"))], [
        PORT, GENERIC, SIM_OK, REG_OK, OPERATOR,
        Check("signal", True, "1 of 4 bars (CSQ 5, about -103 dBm)"), SMSC], True),
    "no sms centre": ("generic", [("AT+CSCA?", ('+CSCA: "",129', "OK"))], [
        PORT, GENERIC, SIM_OK, REG_OK, OPERATOR, SIGNAL,
        Check("sms centre", False, "no SMS centre number on the SIM",
              'ask the carrier for it, then: AT+CSCA="+<number>" (27.005 3.3.1)')], False),
    "silent": ("generic", [("AT", ())], [
        PORT, Check("modem", False, "no answer to AT on {port}",
                    "this may be the modem's GPS/diagnostic port: try another one (--port); "
                    "or unplug the modem for 10 s")], False),
    # LTE-only network: circuit-switched +CREG says no, EPS +CEREG says registered.
    "quectel lte only, ims on": ("ec25", [("AT+CREG?", ("+CREG: 0,0", "OK")),
                                          ("AT+CEREG?", ("+CEREG: 0,1", "OK")),
                                          ('AT+QCFG="ims"', ('+QCFG: "ims",1,1', "OK"))], [
        PORT, Check("modem", True, "Quectel EC25 (textback family ec25)"), SIM_OK, REG_OK,
        Check("operator", True, "TEXTBACK SIM (LTE)"), SIGNAL, SMSC,
        Check("volte", True, "IMS/VoLTE on and registered")], True),
    "quectel ims off": ("ec25", [('AT+QCFG="ims"', ('+QCFG: "ims",2,0', "OK"))], [
        PORT, Check("modem", True, "Quectel EC25 (textback family ec25)"), SIM_OK, REG_OK,
        Check("operator", True, "TEXTBACK SIM (LTE)"), SIGNAL, SMSC,
        Check("volte", None, "IMS/VoLTE off", QUECTEL_FIX)], True),
    "simcom lte": ("sim7600", [], [
        PORT, Check("modem", True, "SIMCOM INCORPORATED SIMCOM_SIM7600G-H (textback family sim7600)"),
        SIM_OK, REG_OK, Check("operator", True, "TEXTBACK SIM (LTE)"), SIGNAL, SMSC,
        Check("volte", None, "unknown: this modem's VoLTE switch is not documented for textback",
              "if calls do not ring on an LTE-only network, ask the modem's seller how to enable VoLTE")],
        True),
}


@pytest.mark.parametrize("family, replies, expected, works", CASES.values(), ids=CASES.keys())
def test_diagnose(family, replies, expected, works, session_factory):
    with session_factory(family, replies=replies) as (sim, session, clock):
        checks = doctor.diagnose(lambda: session.port, clock, proc=NO_PROC)
        name = session.port.name
    assert checks == [Check(c.name, c.ok, c.detail.format(port=name), c.fix) for c in expected]
    assert doctor.overall(checks) is works


def test_port_that_will_not_open():
    def opener():
        raise OSError("[Errno 2] could not open port /dev/ttyUSB9")
    assert doctor.diagnose(opener, None) == [Check(
        "port", False, "cannot open the modem's port: [Errno 2] could not open port /dev/ttyUSB9",
        "plug the modem in; the owner must be in group dialout")]


def _proc(tmp_path: Path, processes: dict[int, tuple[str, list[str]]]) -> Path:
    """A /proc-shaped tree of real files and symlinks: pid/comm and pid/fd/N -> target."""
    proc = tmp_path / "proc"
    for pid, (comm, targets) in processes.items():
        (proc / str(pid) / "fd").mkdir(parents=True)
        (proc / str(pid) / "comm").write_text(comm + "\n")
        for n, target in enumerate(targets):
            os.symlink(target, proc / str(pid) / "fd" / str(n))
    (proc / "self").mkdir()
    return proc


def test_holders(tmp_path):
    device = tmp_path / "ttyUSB2"
    device.touch()
    link = tmp_path / "textback-modem"
    link.symlink_to(device)
    free = _proc(tmp_path / "a", {10: ("bash", ["/dev/null"])})
    mm_idle = _proc(tmp_path / "b", {10: ("ModemManager", ["/dev/null"])})
    mm_holds = _proc(tmp_path / "c", {10: ("bash", ["/dev/null"]), 42: ("ModemManager", [str(device)])})
    other = _proc(tmp_path / "d", {77: ("minicom", ["/dev/null", str(device)])})
    assert doctor.check_holders(str(link), free) == Check("port", True, f"{link} is free")
    assert doctor.check_holders(str(link), mm_idle) == Check(
        "port", None, f"{link} is free, but ModemManager is running and may grab it",
        "sudo systemctl mask --now ModemManager")
    assert doctor.check_holders(str(link), mm_holds) == Check(
        "port", False, f"{link} is held by ModemManager (pid 42)",
        "sudo systemctl disable --now ModemManager && sudo systemctl mask ModemManager")
    assert doctor.check_holders(str(device), other) == Check(
        "port", False, f"{device} is held by minicom (pid 77)",
        "stop that program (the textback service itself: sudo systemctl stop textback)")


def test_holders_real_proc_sees_another_process(tmp_path):
    import subprocess
    import sys
    device = tmp_path / "dev"
    device.touch()
    child = subprocess.Popen([sys.executable, "-c", "import sys; f=open(sys.argv[1]); sys.stdin.read()",
                              str(device)], stdin=subprocess.PIPE)
    try:
        for _ in range(200):   # wait until the child has opened it (bounded; no sleep)
            holders = doctor.port_holders(device)
            if holders:
                break
            child.stdin.flush()
            os.sched_yield()
        assert holders and holders[0][0] == child.pid
    finally:
        child.stdin.close()
        child.wait()


CANDIDATES = {
    "stable name and by-id": (["textback-modem", "serial/by-id/usb-Quectel_EC25-if02-port0",
                               "ttyUSB0", "ttyUSB2"],
                              ["textback-modem", "serial/by-id/usb-Quectel_EC25-if02-port0"]),
    "bare ttys": (["ttyUSB1", "ttyACM0", "ttyS0", "ttyUSB0"], ["ttyUSB0", "ttyUSB1", "ttyACM0"]),
    "nothing": (["ttyS0", "null"], []),
}


@pytest.mark.parametrize("present, expected", CANDIDATES.values(), ids=CANDIDATES.keys())
def test_candidate_ports(tmp_path, present, expected):
    for name in present:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).touch()
    assert doctor.candidate_ports(tmp_path) == [tmp_path / name for name in expected]


@pytest.mark.parametrize("rssi, bars", [(0, 0), (1, 0), (2, 1), (9, 1), (10, 2), (14, 2), (15, 3),
                                        (19, 3), (20, 4), (31, 4), (99, None), (32, None)])
def test_signal_bars(rssi, bars):
    assert doctor.signal_bars(rssi) == bars


def test_send_test(session_factory):
    with session_factory("generic") as (sim, session, clock):
        session.initialise()
        ref = doctor.send_test(session, "+15125550142")
    assert ref == 1
    assert [(s.number, s.text) for s in sim.sent] == [
        ("+15125550142", "textback test: this modem can send texts.")]


def test_service_state_says_running_and_the_last_warning(tmp_path, monkeypatch):
    from gateway.box.doctor import Check, service_state

    for name, script in (("systemctl", 'echo failed\nexit 3\n'),
                         ("journalctl", 'echo "modem lost (cannot open the modem port); trying again"\n')):
        tool = tmp_path / name
        tool.write_text("#!/bin/sh\n" + script)
        tool.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert service_state() == Check(
        "service", None,
        "textback.service is failed; last warning: modem lost (cannot open the modem port); trying again",
        "see why: journalctl -u textback -n 50; then sudo systemctl restart textback")


def test_service_state_without_systemd(tmp_path, monkeypatch):
    from gateway.box.doctor import service_state

    monkeypatch.setenv("PATH", str(tmp_path))
    assert service_state().detail == "no systemd here: run `textback run` by hand"


def test_doctor_can_be_tried_on_the_simulated_modem():
    # `doctor --port sim` once could not open the simulator.
    from click.testing import CliRunner

    from cli.main import cli

    result = CliRunner().invoke(cli, ["doctor", "--port", "sim", "--test-text", "+15125550142"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[1].endswith(" (the built-in simulated modem):")
    assert "  ok   modem: SIMCOM_Ltd SIMCOM_SIM800L (textback family sim800)" in lines
    assert lines[-2:] == ["A text-back would work.", "Test text sent (reference 1); check the phone."]
