"""The simulated modem, driven over its real pty with pyserial exactly as the daemon drives a modem."""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
import serial
from gsmmodem.pdu import encodeSmsSubmitPdu

from gateway.at.families import FAMILIES
from gateway.at.lines import LineFramer
from gateway.simulator import scenario
from gateway.simulator.modem import MissedCall, SentSms, SimulatedModem, SmsPart, encode_deliver_pdus
from gateway.simulator.scenario import InboundSms, Reply, Step

NUMBER = "+15125550142"


@pytest.fixture
def open_sim():
    opened = []

    def make(*args, **kwargs):
        sim = SimulatedModem(*args, **kwargs)
        port = serial.Serial(sim.port_name, 115200, timeout=0)
        opened.append((sim, port))
        return sim, port

    yield make
    for sim, port in opened:
        port.close()
        sim.close()


def drain(sim: SimulatedModem, port: serial.Serial, t: float | None = None) -> bytes:
    """Pump (and deliver up to t) until the sim has nothing more to say: no sleeps, the pty is immediate."""
    got = bytearray()
    for _ in range(10_000):
        if t is not None:
            sim.deliver_due(t)
        sim.pump()
        data = port.read(4096)
        if not data:
            return bytes(got)
        got += data
    raise AssertionError("the sim never stopped talking")


def talk(sim, port, *commands: bytes) -> bytes:
    got = b""
    for command in commands:
        port.write(command)
        got += drain(sim, port)
    return got


@pytest.mark.parametrize("echo, commands, expected", [
    (True, [b"AT\r"], b"AT\r\r\nOK\r\n"),
    # the echo of ATE0 itself is sent, as real modems do (docs/reference/modems.md, "Framing")
    (True, [b"ATE0\r", b"AT\r"], b"ATE0\r\r\nOK\r\n\r\nOK\r\n"),
    (False, [b"ATE1\r", b"AT\r"], b"\r\nOK\r\nAT\r\r\nOK\r\n"),
    (False, [b"at\r\n"], b"\r\nOK\r\n"),
    (False, [b"AT\rAT+CSQ\r"], b"\r\nOK\r\n\r\n+CSQ: 21,0\r\n\r\nOK\r\n"),
    (False, [b"\r"], b""),
])
def test_echo_and_framing(open_sim, echo, commands, expected):
    sim, port = open_sim(echo=echo)
    assert talk(sim, port, *commands) == expected


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_identity_per_family(open_sim, family):
    """The simulated modem answers as the family's real modem does (gateway.at.families)."""
    sim, port = open_sim(family, echo=False)
    manufacturer, model = FAMILIES[family].identity.manufacturer, FAMILIES[family].identity.model
    assert talk(sim, port, b"AT+CGMI\r", b"AT+CGMM\r") == (
        f"\r\n{manufacturer}\r\n\r\nOK\r\n\r\n{model}\r\n\r\nOK\r\n".encode())


def test_family_names_agree_with_scenario():
    assert tuple(FAMILIES) == scenario.FAMILIES


@pytest.mark.parametrize("family, command, expected", [
    ("generic", "AT+CPIN?", ["+CPIN: READY", "OK"]),
    ("generic", "AT+CSQ", ["+CSQ: 21,0", "OK"]),
    ("generic", "AT+CREG?", ["+CREG: 0,1", "OK"]),
    ("ec25", "AT+COPS?", ['+COPS: 0,0,"TEXTBACK SIM",7', "OK"]),
    ("generic", "AT+CNUM", ['+CNUM: "","+15125550100",145', "OK"]),
    ("generic", "AT+CSCA?", ['+CSCA: "+15125550199",145', "OK"]),
    ("generic", "ATV1", ["OK"]),
    ("generic", "AT+CLIP=1", ["OK"]),
    ("generic", "AT+CRC=1", ["OK"]),
    ("generic", 'AT+CSCS="UCS2"', ["OK"]),
    ("generic", "AT+CNMI=2,1,0,0,0", ["OK"]),
    ("generic", "AT+CMGF?", ["+CMGF: 0", "OK"]),
    ("generic", "AT+CMGF=2", ["+CME ERROR: 4"]),        # with AT+CMEE=1, sent first below
    ("generic", "AT+CMGF", ["+CME ERROR: 4"]),
    ("generic", "AT+CLCC", ["OK"]),
    ("sim800", "AT+CLCC=1", ["OK"]),
    ("sim7600", "AT+CLCC=1", ["OK"]),
    ("ec25", "AT+CLCC=1", ["OK"]),
    ("huawei", "AT+CLCC=1", ["+CME ERROR: 100"]),       # 27.007 defines only the poll
    ("generic", "AT+CLCC=1", ["+CME ERROR: 100"]),
    ("ec25", 'AT+QINDCFG="ccinfo",1', ["OK"]),
    ("ec25", 'AT+QURCCFG="urcport","usbat"', ["OK"]),
    ("sim800", 'AT+QINDCFG="ccinfo",1', ["+CME ERROR: 100"]),
    ("huawei", "AT^CURC=0", ["OK"]),
    ("generic", "AT+NONSENSE", ["+CME ERROR: 100"]),
    ("generic", "hello", ["ERROR"]),
    ("generic", "\x00\xff\x1b[2J", ["ERROR"]),
    ("generic", "ATI", ["Generic", "GSM MODEM", "Revision: 1.0", "OK"]),
])
def test_commands(open_sim, family, command, expected):
    sim, port = open_sim(family, echo=False)
    talk(sim, port, b"AT+CMEE=1\r")
    reply = talk(sim, port, command.encode("latin-1") + b"\r")
    assert LineFramer().feed(reply) == expected
    assert sim.commands[-1] == command.encode("latin-1").decode("utf-8", errors="replace")


@pytest.mark.parametrize("cmee, expected", [("0", b"\r\nERROR\r\n"), ("1", b"\r\n+CME ERROR: 100\r\n"),
                                            ("2", b"\r\n+CME ERROR: unknown\r\n")])
def test_unknown_command_follows_cmee(open_sim, cmee, expected):
    sim, port = open_sim(echo=False)
    talk(sim, port, f"AT+CMEE={cmee}\r".encode())
    assert talk(sim, port, b"AT+FOO?\r") == expected


def test_overlong_line_is_an_error(open_sim):
    sim, port = open_sim(echo=False)
    assert talk(sim, port, b"AT" + b"9" * 9000 + b"\r", b"AT\r") == b"\r\nERROR\r\n\r\nOK\r\n"


def send_pdu(sim, port, pdu) -> bytes:
    prompt = talk(sim, port, f"AT+CMGS={pdu.tpduLength}\r".encode())
    assert prompt == f"AT+CMGS={pdu.tpduLength}\r\r\n> ".encode()
    return talk(sim, port, str(pdu).encode() + b"\x1a")


def test_a_pdu_sent_before_the_prompt_is_dropped(open_sim):
    """27.005 3.5.1: the body of AT+CMGS may be given after the modem's "> ", not before: a host
    that writes command and PDU in one go loses the PDU (docs/reference/modems.md, "Sending a
    text"). The modem still waits for a body; the one given after the prompt goes out."""
    sim, port = open_sim("sim800", echo=False)
    (pdu,) = encodeSmsSubmitPdu(NUMBER, "too early", reference=1, requestStatusReport=False)
    early = f"AT+CMGS={pdu.tpduLength}\r".encode() + str(pdu).encode() + b"\x1a"
    assert talk(sim, port, early) == b"\r\n> "          # the prompt, and nothing taken
    assert sim.sent == []
    assert talk(sim, port, str(pdu).encode() + b"\x1a") == b"\r\n+CMGS: 1\r\n\r\nOK\r\n"
    assert [s.text for s in sim.sent] == ["too early"]


@pytest.mark.parametrize("chunk", [None, 1])
def test_our_session_waits_for_the_prompt(session_factory, chunk):
    """The session writes the PDU only once the whole "> " has come, however it trickles in."""
    with session_factory("sim800", chunk=chunk) as (sim, session, clock):
        (pdu,) = encodeSmsSubmitPdu(NUMBER, "after the prompt", reference=1,
                                    requestStatusReport=False)
        assert session.send_pdu(pdu.tpduLength, str(pdu)) == 1
        assert [s.text for s in sim.sent] == ["after the prompt"]


@pytest.mark.parametrize("text, expected_parts", [
    ("Sorry we missed your call", [None]),
    ("Désolé ☃ on vous rappelle", [None]),                       # UCS-2
    ("x" * 150 + " and the rest of a long message", [SmsPart(42, 2, 1), SmsPart(42, 2, 2)]),
])
def test_pdu_send_decodes_back(open_sim, text, expected_parts):
    sim, port = open_sim("sim800")
    pdus = encodeSmsSubmitPdu(NUMBER, text, reference=42, requestStatusReport=False)
    answers = [send_pdu(sim, port, pdu) for pdu in pdus]
    assert answers == [str(p).encode() + f"\x1a\r\n+CMGS: {i}\r\n\r\nOK\r\n".encode()
                       for i, p in enumerate(pdus, 1)]
    assert [s.part for s in sim.sent] == expected_parts
    assert [s.ref for s in sim.sent] == list(range(1, len(pdus) + 1))
    assert {s.number for s in sim.sent} == {NUMBER}
    assert "".join(s.text for s in sim.sent) == text
    assert [s.pdu_hex for s in sim.sent] == [str(p).upper() for p in pdus]


def test_bad_pdu_and_escape(open_sim):
    sim, port = open_sim(echo=False)
    talk(sim, port, b"AT+CMEE=1\r")
    pdu = encodeSmsSubmitPdu(NUMBER, "hi", requestStatusReport=False)[0]
    assert talk(sim, port, f"AT+CMGS={pdu.tpduLength + 1}\r".encode(), str(pdu).encode() + b"\x1a") == (
        b"\r\n> \r\n+CMS ERROR: 304\r\n")                       # length does not match the PDU
    assert talk(sim, port, b"AT+CMGS=5\r", b"ZZ\x1a") == b"\r\n> \r\n+CMS ERROR: 304\r\n"
    assert talk(sim, port, b"AT+CMGS=5\r", b"0011\x1b") == b"\r\n> \r\nOK\r\n"
    assert sim.sent == []


@pytest.mark.parametrize("charset, body, text", [
    ('"GSM"', b"Sorry we missed you", "Sorry we missed you"),
    ('"UCS2"', "caf\u00e9 \u2603".encode("utf-16-be").hex().upper().encode(), "caf\u00e9 \u2603"),
])
def test_text_mode_send(open_sim, charset, body, text):
    sim, port = open_sim(echo=False)
    talk(sim, port, b"AT+CMGF=1\r", f"AT+CSCS={charset}\r".encode())
    sim.deliver_due(7.5)
    assert talk(sim, port, f'AT+CMGS="{NUMBER}"\r'.encode(), body + b"\x1a") == (
        b"\r\n> \r\n+CMGS: 1\r\n\r\nOK\r\n")
    assert sim.sent == [SentSms(NUMBER, text, None, 1, 7.5)]


def test_reply_override_counts_down(open_sim):
    replies = [Reply("AT+CSQ", ("+CSQ: 99,99", "OK"), times=2), Reply("at+cgmi", ("Fake Ltd", "OK"))]
    sim, port = open_sim(echo=False, replies=replies)
    got = [talk(sim, port, b"AT+CSQ\r") for _ in range(3)] + [talk(sim, port, b"AT+CGMI\r") for _ in range(2)]
    assert got == [b"\r\n+CSQ: 99,99\r\n\r\nOK\r\n"] * 2 + [b"\r\n+CSQ: 21,0\r\n\r\nOK\r\n"] + (
        [b"\r\nFake Ltd\r\n\r\nOK\r\n"] * 2)


def test_reply_override_after_the_pdu(open_sim):
    sim, port = open_sim(echo=False, replies=[Reply("AT+CMGS", ("+CMS ERROR: 500",), times=1)])
    pdu = encodeSmsSubmitPdu(NUMBER, "hi", requestStatusReport=False)[0]
    attempt = (f"AT+CMGS={pdu.tpduLength}\r".encode(), str(pdu).encode() + b"\x1a")
    assert talk(sim, port, *attempt) == b"\r\n> \r\n+CMS ERROR: 500\r\n"
    assert sim.sent == []
    assert talk(sim, port, *attempt) == b"\r\n> \r\n+CMGS: 1\r\n\r\nOK\r\n"
    assert [(s.number, s.text, s.ref) for s in sim.sent] == [(NUMBER, "hi", 1)]


def test_silent_reply(open_sim):
    sim, port = open_sim(replies=[Reply("AT+CPIN?", (), times=None)])
    assert talk(sim, port, b"AT+CPIN?\r") == b"AT+CPIN?\r"          # the echo, then nothing at all
    assert talk(sim, port, b"AT\r") == b"AT\r\r\nOK\r\n"
    assert talk(sim, port, b"AT+CPIN?\r") == b"AT+CPIN?\r"


CLIP = f'+CLIP: "{NUMBER}",145,"",0,"",0'
RINGING = f'+CLCC: 1,1,4,0,0,"{NUMBER}",145'
RING_ONLY = [Step(0.0, "RING"), Step(0.05, CLIP), Step(5.0, "RING"), Step(5.05, CLIP)]
ENDED = RING_ONLY + [Step(9.5, "NO CARRIER")]
TWO_CALLS = RING_ONLY + [Step(30.0, "RING"), Step(30.1, '+CLIP: "+15125550199",145,"",0,"",0')]
ANSWERED = RING_ONLY + [Step(7.0, "VOICE CALL: BEGIN")]
U_BLOX = [Step(0.0, "+UCALLSTAT: 1,4"), Step(20.0, "+UCALLSTAT: 1,6")]
WITHHELD = [Step(0.0, "RING"), Step(0.1, '+CLIP: "",128,"",0,"",1')]


@pytest.mark.parametrize("steps, t, expected", [
    (RING_ONLY, -1.0, []),
    (RING_ONLY, 0.0, ['+CLCC: 1,1,4,0,0,"",128']),      # RING before the caller ID
    (RING_ONLY, 0.05, [RINGING]),
    (RING_ONLY, 5.9, [RINGING]),
    (RING_ONLY, 6.05, []),                              # over 1 s after its last ring (look-ahead)
    (ENDED, 9.0, [RINGING]),                            # an end line is coming: no silence rule
    (ENDED, 9.5, []),
    (TWO_CALLS, 6.1, []),
    (TWO_CALLS, 30.5, ['+CLCC: 1,1,4,0,0,"+15125550199",145']),
    (TWO_CALLS, 31.2, []),
    (ANSWERED, 100.0, [f'+CLCC: 1,1,0,0,0,"{NUMBER}",145']),
    (U_BLOX, 15.0, ['+CLCC: 1,1,4,0,0,"",128']),
    (U_BLOX, 20.0, []),
    (WITHHELD, 0.5, ['+CLCC: 1,1,4,0,0,"",128']),
])
def test_clcc_follows_the_scenario(open_sim, steps, t, expected):
    sim, port = open_sim("generic", steps=steps, echo=False)
    drain(sim, port, t)
    assert LineFramer().feed(talk(sim, port, b"AT+CLCC\r")) == expected + ["OK"]


def test_steps_are_delivered_in_time_order(open_sim):
    sim, port = open_sim(steps=ENDED, echo=False)
    seen = []
    while (t := sim.next_step_time()) is not None:
        seen.append((t, LineFramer().feed(drain(sim, port, t))))
    assert seen == [(0.0, ["RING"]), (0.05, [CLIP]), (5.0, ["RING"]), (5.05, [CLIP]), (9.5, ["NO CARRIER"])]


def test_chunk_one_trickles_bytes(open_sim):
    sim, port = open_sim("sim800", steps=[Step(0.0, "RING"), Step(0.0, CLIP)], chunk=1)
    port.write(b"AT+CGMI\r")
    sim.deliver_due(0.0)                               # one chunk per deliver_due / pump call
    reads = [port.read(4096)]
    while sim.next_step_time() is not None:            # queued output: "now" is the next thing to do
        sim.pump()
        reads.append(port.read(4096))
    assert {len(r) for r in reads} == {1}
    assert LineFramer().feed(b"".join(reads)) == ["RING", CLIP, "AT+CGMI", "SIMCOM_Ltd", "OK"]


def test_send_line_and_raw(open_sim):
    sim, port = open_sim(echo=False)
    sim.send_line("+CMTI: \"SM\",3")
    sim.send_raw(b"\r\r\n+CRING: VOICE\r\r\n")
    # Two writes may reach the host as two reads (a loaded box): read until nothing is left.
    assert drain(sim, port) == b'\r\n+CMTI: "SM",3\r\n\r\r\n+CRING: VOICE\r\r\n'


def test_unplug_fails_the_host_read(open_sim):
    sim, port = open_sim()
    assert talk(sim, port, b"AT\r") == b"AT\r\r\nOK\r\n"
    sim.unplug()
    with pytest.raises(serial.SerialException):
        port.read(4096)
    sim.pump()                                         # the sim itself stays calm
    sim.deliver_due(10.0)


def test_live_mode_answers_from_its_thread(open_sim):
    sim, port = open_sim("ec25", steps=[Step(0.0, "RING")], echo=False)
    started = threading.Event()

    def clock_now() -> float:
        started.set()
        return 0.0

    sim.start(clock_now)
    assert started.wait(timeout=5)
    port.timeout = 5                                   # waits on the fd, returns as soon as bytes come
    assert port.read_until(b"RING\r\n") == b"\r\nRING\r\n"
    port.write(b"AT+CGMM\r")
    assert port.read_until(b"OK\r\n") == b"\r\nEC25\r\n\r\nOK\r\n"
    sim.stop()
    assert sim.commands == ["AT+CGMM"]


def test_received_text_is_stored_announced_read_and_deleted(open_sim):
    from datetime import datetime, timedelta, timezone

    from gsmmodem.pdu import decodeSmsPdu

    from gateway.simulator.scenario import InboundSms

    start = datetime(2026, 11, 28, 10, 0, tzinfo=timezone(timedelta(hours=-6)))
    steps = [Step(30.0, "", InboundSms(NUMBER, "STOP ☃"))]
    sim, port = open_sim(steps=steps, echo=False, start=start)
    talk(sim, port, b"AT+CMEE=1\r")
    assert LineFramer().feed(drain(sim, port, 30.0)) == ['+CMTI: "SM",1']
    header, pdu, ok = LineFramer().feed(talk(sim, port, b"AT+CMGR=1\r"))
    decoded = decodeSmsPdu(pdu)
    assert (header, ok) == (f"+CMGR: 0,,{len(pdu) // 2 - 1}", "OK")
    assert (decoded["type"], decoded["number"], decoded["text"], decoded["time"]) == (
        "SMS-DELIVER", NUMBER, "STOP ☃", start + timedelta(seconds=30))
    assert LineFramer().feed(talk(sim, port, b"AT+CMGF=1\r", b"AT+CMGR=1\r")) == [
        "OK", f'+CMGR: "REC READ","{NUMBER}",,"26/11/28,10:00:30-24"', "STOP ☃", "OK"]
    assert LineFramer().feed(talk(sim, port, b"AT+CMGD=1\r", b"AT+CMGR=1\r")) == ["OK", "+CMS ERROR: 321"]


@pytest.mark.parametrize("text, parts", [("hi", [None]), ("y" * 200, [(2, 1), (2, 2)])])
def test_deliver_pdus_decode_back(text, parts):
    from datetime import datetime, timezone

    from gsmmodem.pdu import decodeSmsPdu

    from gateway.simulator.modem import encode_deliver_pdus

    sent_at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    decoded = [decodeSmsPdu(h) for h in encode_deliver_pdus(NUMBER, text, sent_at)]
    assert "".join(d["text"] for d in decoded) == text
    assert [(d["udh"][0].parts, d["udh"][0].number) if d.get("udh") else None for d in decoded] == parts


# ---- framing options ---------------------------------------------------------------------------
@pytest.mark.parametrize("line_end, expected", [
    ("\r\n", b"\r\nRING\r\nAT\r\r\nOK\r\nAT+CMGS=9\r\r\n> "),
    ("\r\r\n", b"\r\r\nRING\r\r\nAT\r\r\r\nOK\r\r\nAT+CMGS=9\r\r\n> "),     # SIMCom +CRING
    ("\r", b"\rRING\rAT\r\rOK\rAT+CMGS=9\r\r\n> "),                          # gammu fixture
])
def test_line_end_frames_every_line_but_not_the_prompt(open_sim, line_end, expected):
    sim, port = open_sim(steps=[Step(0.0, "RING")], line_end=line_end)
    assert drain(sim, port, 0.0) + talk(sim, port, b"AT\r", b"AT+CMGS=9\r") == expected


def test_bad_options_are_refused():
    for kwargs in ({"line_end": "\n"}, {"chunk": 0}, {"family": "sim900"}):
        with pytest.raises(ValueError):
            SimulatedModem(**kwargs)


# ---- the missed-calls phonebook ("MC", 27.007 8.11 / 8.12) -------------------------------------
OTHER = "+15125550199"
MISSED_THEN_ANSWERED = ENDED + [Step(40.0, "RING"), Step(40.1, f'+CLIP: "{OTHER}",145,"",0,"",0'),
                                Step(45.0, "VOICE CALL: BEGIN"), Step(90.0, "VOICE CALL: END")]
# a second caller's ring before the first call's ring-only end: the first call is missed at once
BACK_TO_BACK = [Step(0.0, "RING"), Step(0.05, CLIP), Step(0.5, "RING"),
                Step(0.6, f'+CLIP: "{OTHER}",145,"",0,"",0')]


@pytest.mark.parametrize("steps, t, preload, expected", [
    ([], 0.0, (), ['+CPBS: "MC",0,10', "OK"]),
    (RING_ONLY, 5.9, (), ['+CPBS: "MC",0,10', "OK"]),                     # still ringing
    (RING_ONLY, 6.05, (), ['+CPBS: "MC",1,10', "OK", f'+CPBR: 1,"{NUMBER}",145,""', "OK"]),
    (ENDED, 100.0, (), ['+CPBS: "MC",1,10', "OK", f'+CPBR: 1,"{NUMBER}",145,""', "OK"]),
    (ANSWERED + [Step(60.0, "NO CARRIER")], 100.0, (), ['+CPBS: "MC",0,10', "OK"]),
    (MISSED_THEN_ANSWERED, 100.0, (),
     ['+CPBS: "MC",1,10', "OK", f'+CPBR: 1,"{NUMBER}",145,""', "OK"]),
    (BACK_TO_BACK, 2.0, (), ['+CPBS: "MC",2,10', "OK", f'+CPBR: 1,"{OTHER}",145,""',
                              f'+CPBR: 2,"{NUMBER}",145,""', "OK"]),
    (TWO_CALLS, 40.0, (), ['+CPBS: "MC",2,10', "OK", f'+CPBR: 1,"{OTHER}",145,""',   # newest first
                           f'+CPBR: 2,"{NUMBER}",145,""', "OK"]),
    (U_BLOX, 20.0, (), ['+CPBS: "MC",1,10', "OK", '+CPBR: 1,"",128,""', "OK"]),  # no number to show
    (WITHHELD, 2.0, (), ['+CPBS: "MC",1,10', "OK", '+CPBR: 1,"",128,""', "OK"]),
    (ENDED, 100.0, [("5125550123", 129)], ['+CPBS: "MC",2,10', "OK", f'+CPBR: 1,"{NUMBER}",145,""',
                                           '+CPBR: 2,"5125550123",129,""', "OK"]),
])
def test_missed_calls_phonebook(open_sim, steps, t, preload, expected):
    sim, port = open_sim("sim800", steps=steps, echo=False, missed_calls=preload)
    drain(sim, port, t)
    reply = talk(sim, port, b'AT+CPBS="MC"\r', b"AT+CPBS?\r")
    assert reply.startswith(b"\r\nOK\r\n")
    used = int(LineFramer().feed(reply)[1].split(",")[1])
    if used:
        reply += talk(sim, port, f"AT+CPBR=1,{used}\r".encode())
    assert LineFramer().feed(reply)[1:] == expected


def test_missed_calls_record_when_each_call_began(open_sim):
    sim, port = open_sim(steps=TWO_CALLS, missed_calls=[("+15125550111", 145)])
    drain(sim, port, 100.0)
    assert sim.missed_calls == [MissedCall("+15125550111", 145, None), MissedCall(NUMBER, 145, 0.0),
                                MissedCall(OTHER, 145, 30.0)]


@pytest.mark.parametrize("family, listed", [
    ("generic", [RINGING]),
    ("sim800", [RINGING + ',""']),                                 # SIM800C, python-gsmmodem#112
    ("sim7600", [RINGING + ',"",,0']),                             # SIM7670, LilyGo-Modem-Series#115
    ("ec25", ["+CLCC: 1,0,0,1,0", RINGING.replace("+CLCC: 1,", "+CLCC: 2,")]),   # the data bearer
    *[(name, [RINGING]) for name in ("huawei", "ublox", "zte", "wavecom")],
])
def test_clcc_answers_in_the_family_shape_and_the_daemon_reads_it(open_sim, family, listed):
    from gateway.at.families import read_clcc_answer

    sim, port = open_sim(family, steps=RING_ONLY, echo=False)
    drain(sim, port, 1.0)
    lines = LineFramer().feed(talk(sim, port, b"AT+CLCC\r"))
    assert lines == listed + ["OK"]
    assert [(s.kind, s.number) for s in read_clcc_answer(lines[:-1])] == [("incoming", NUMBER)]
    drain(sim, port, 6.05)
    lines = LineFramer().feed(talk(sim, port, b"AT+CLCC\r"))
    assert lines == listed[:-1] + ["OK"] and read_clcc_answer(lines[:-1]) == []


def test_polling_clcc_does_not_keep_a_ring_only_call_alive(open_sim):
    sim, port = open_sim("generic", steps=RING_ONLY, echo=False)
    drain(sim, port, 5.9)
    assert LineFramer().feed(talk(sim, port, b"AT+CLCC\r")) == [RINGING, "OK"]
    drain(sim, port, 6.05)
    assert LineFramer().feed(talk(sim, port, b"AT+CLCC\r")) == ["OK"]
    assert [m.number for m in sim.missed_calls] == [NUMBER]


# ---- a modem without end lines (SimulatedModem(end_lines=False), scenario "end_lines": false) ---------
# One example of each line that ends a call, by the URC prefix that reads it (gateway.at.families).
END_LINES = {
    "NO CARRIER": "NO CARRIER",
    "+CLCC:": f'+CLCC: 1,1,6,0,0,"{NUMBER}",145,""',
    "VOICE CALL:": "VOICE CALL: END",
    "MISSED_CALL:": f"MISSED_CALL: 11:53AM {NUMBER}",
    '+QIND: "ccinfo"': f'+QIND: "ccinfo",1,1,6,0,0,"{NUMBER}",145',
    "^CEND:": "^CEND:1,0,104,16",
    "+UCALLSTAT:": "+UCALLSTAT: 1,6",
    "HANGUP:": "HANGUP: 1",
    "+WIND:": "+WIND: 6,1",
}
FAMILY_END_LINES = [(name, line) for name, family in sorted(FAMILIES.items())
                    for prefix, line in END_LINES.items() if prefix in family.urcs]


def test_the_end_line_examples_are_end_lines_and_cover_every_family():
    from gateway.at import families

    assert all(families.read(line).kind == families.END for line in END_LINES.values())
    assert {name for name, _ in FAMILY_END_LINES} == set(FAMILIES)


def calls_listed(sim, port):
    """The incoming calls AT+CLCC lists, as the daemon reads them."""
    from gateway.at.families import read_clcc_answer

    lines = LineFramer().feed(talk(sim, port, b"AT+CLCC\r"))
    assert lines[-1] == "OK"
    return [(s.kind, s.number) for s in read_clcc_answer(lines[:-1])]


@pytest.mark.parametrize("family, end", FAMILY_END_LINES)
@pytest.mark.parametrize("end_lines", [True, False])
def test_without_end_lines_the_call_still_ends_but_nothing_says_so(open_sim, family, end, end_lines):
    steps = RING_ONLY + [Step(7.0, end), Step(7.0, "+CMTI: \"SM\",1")]
    sim, port = open_sim(family, steps=steps, echo=False, end_lines=end_lines)
    sent = LineFramer().feed(drain(sim, port, 6.9))
    assert sent == ["RING", CLIP, "RING", CLIP]                    # what rings is sent either way
    assert calls_listed(sim, port) == [("incoming", NUMBER)]
    sent = LineFramer().feed(drain(sim, port, 7.0))
    assert sent == ([end] if end_lines else []) + ['+CMTI: "SM",1']  # only the end line is left out
    # 27.007 7.18: the ended call is no longer a current call; 8.11: it is a missed call
    assert calls_listed(sim, port) == []
    assert [m.number for m in sim.missed_calls] == [NUMBER]


def test_without_end_lines_an_answered_call_still_says_it_was_answered(open_sim):
    steps = RING_ONLY + [Step(7.0, "VOICE CALL: BEGIN"), Step(60.0, "VOICE CALL: END")]
    sim, port = open_sim("sim7600", steps=steps, echo=False, end_lines=False)
    assert LineFramer().feed(drain(sim, port, 8.0))[-1] == "VOICE CALL: BEGIN"
    assert calls_listed(sim, port) == [("active", NUMBER)]
    assert drain(sim, port, 61.0) == b""
    assert calls_listed(sim, port) == []
    assert sim.missed_calls == []


def test_missed_calls_keep_the_last_ten(open_sim):
    preload = [(f"+1512555{i:04d}", 145) for i in range(12)]
    sim, port = open_sim(echo=False, missed_calls=preload)
    reply = LineFramer().feed(talk(sim, port, b'AT+CPBS="MC"\r', b"AT+CPBS?\r", b"AT+CPBR=1,3\r",
                                   b"AT+CPBR=10\r"))
    assert reply == ["OK", '+CPBS: "MC",10,10', "OK", '+CPBR: 1,"+15125550011",145,""',
                     '+CPBR: 2,"+15125550010",145,""', '+CPBR: 3,"+15125550009",145,""', "OK",
                     '+CPBR: 10,"+15125550002",145,""', "OK"]


@pytest.mark.parametrize("commands, expected", [
    (["AT+CPBS?"], ['+CPBS: "SM",0,250', "OK"]),                  # the power-on storage, empty
    (["AT+CPBS=?"], ['+CPBS: ("SM","MC")', "OK"]),
    (["AT+CPBR=?"], ["+CPBR: (1-250),40,14", "OK"]),
    (['AT+CPBS="mc"', "AT+CPBR=?"], ["OK", "+CPBR: (1-10),40,14", "OK"]),
    (['AT+CPBS="MC"', "AT+CPBR=1,10"], ["OK", "OK"]),             # nothing missed: a bare OK
    (['AT+CPBS="MC"', "AT+CPBR=0,3"], ["OK", "+CME ERROR: 21"]),
    (['AT+CPBS="MC"', "AT+CPBR=2,11"], ["OK", "+CME ERROR: 21"]),
    (['AT+CPBS="MC"', "AT+CPBR=3,2"], ["OK", "+CME ERROR: 21"]),
    (["AT+CPBR=one"], ["+CME ERROR: 50"]),
    (["AT+CPBR=1,2,3"], ["+CME ERROR: 50"]),
    (['AT+CPBS="RC"', "AT+CPBS?"], ["+CME ERROR: 4", '+CPBS: "SM",0,250', "OK"]),
])
def test_phonebook_commands(open_sim, commands, expected):
    sim, port = open_sim(echo=False)
    talk(sim, port, b"AT+CMEE=1\r")
    assert LineFramer().feed(talk(sim, port, *[c.encode() + b"\r" for c in commands])) == expected


# ---- listing the "SM" inbox (27.005 3.4.2) -----------------------------------------------------
LEFT = [(NUMBER, "Need a quote"), (OTHER, "Call me back")]
START = datetime(2026, 11, 28, 10, 0, tzinfo=timezone(timedelta(hours=-6)))


def deliver_hex(number: str, text: str, when: datetime = START) -> str:
    return encode_deliver_pdus(number, text, when)[0]


@pytest.mark.parametrize("read_first, command, expected", [
    (None, "AT+CMGL=4", [1, 2]),
    (1, "AT+CMGL", [2]),                          # <stat> left out: 0, "REC UNREAD"
    (1, "AT+CMGL=0", [2]),
    (1, "AT+CMGL=1", [1]),
    (1, "AT+CMGL=2", []),
])
def test_cmgl_pdu_mode(open_sim, read_first, command, expected):
    sim, port = open_sim(echo=False, start=START, stored_texts=LEFT)
    if read_first:
        talk(sim, port, f"AT+CMGR={read_first}\r".encode())
    lines = []
    for index in expected:
        pdu = deliver_hex(*LEFT[index - 1])
        lines += [f"+CMGL: {index},{int(index == read_first)},,{len(pdu) // 2 - 1}", pdu]
    assert LineFramer().feed(talk(sim, port, command.encode() + b"\r")) == lines + ["OK"]


def test_cmgl_text_mode_marks_listed_texts_read(open_sim):
    sim, port = open_sim(echo=False, start=START, stored_texts=LEFT)
    talk(sim, port, b"AT+CMGF=1\r", b"AT+CMEE=1\r")
    scts = "26/11/28,10:00:00-24"
    assert LineFramer().feed(talk(sim, port, b'AT+CMGL="REC UNREAD"\r', b"AT+CMGL\r",
                                  b'AT+CMGL="ALL"\r', b"AT+CMGL=4\r", b"AT+CMGL=?\r")) == [
        f'+CMGL: 1,"REC UNREAD","{NUMBER}",,"{scts}"', "Need a quote",
        f'+CMGL: 2,"REC UNREAD","{OTHER}",,"{scts}"', "Call me back", "OK",
        "OK",                                                               # nothing unread now
        f'+CMGL: 1,"REC READ","{NUMBER}",,"{scts}"', "Need a quote",
        f'+CMGL: 2,"REC READ","{OTHER}",,"{scts}"', "Call me back", "OK",
        "+CMS ERROR: 305",                                                  # a PDU-mode <stat>
        '+CMGL: ("REC UNREAD","REC READ","STO UNSENT","STO SENT","ALL")', "OK"]


def test_cmgl_lists_texts_received_during_the_scenario(open_sim):
    steps = [Step(30.0, "", InboundSms(NUMBER, "STOP"))]
    sim, port = open_sim(echo=False, start=START, steps=steps)
    talk(sim, port, b"AT+CMEE=1\r")
    assert LineFramer().feed(drain(sim, port, 30.0)) == ['+CMTI: "SM",1']
    pdu = deliver_hex(NUMBER, "STOP", START + timedelta(seconds=30))
    assert LineFramer().feed(talk(sim, port, b"AT+CMGL=4\r", b"AT+CMGL=5\r", b"AT+CMGL=?\r")) == [
        f"+CMGL: 1,0,,{len(pdu) // 2 - 1}", pdu, "OK", "+CMS ERROR: 304", "+CMGL: (0-4)", "OK"]


# ---- direct delivery (+CNMI <mt>=2) and its acknowledgement (27.005 3.4.1, 3.4.4) --------------
TEXTS_AT = [Step(10.0, "", InboundSms(NUMBER, "Are you open?")),
            Step(20.0, "", InboundSms(OTHER, "STOP"))]


def test_cmt_delivers_without_storing(open_sim):
    sim, port = open_sim(echo=False, start=START, steps=TEXTS_AT)
    talk(sim, port, b"AT+CNMI=2,2,0,0,0\r")
    pdu = deliver_hex(NUMBER, "Are you open?", START + timedelta(seconds=10))
    assert LineFramer().feed(drain(sim, port, 10.0)) == [f"+CMT: ,{len(pdu) // 2 - 1}", pdu]
    talk(sim, port, b"AT+CMGF=1\r")
    assert LineFramer().feed(drain(sim, port, 20.0)) == [
        f'+CMT: "{OTHER}",,"26/11/28,10:00:20-24"', "STOP"]
    assert sim.inbox == {}
    assert LineFramer().feed(talk(sim, port, b"AT+CMEE=1\r", b"AT+CNMA\r")) == [
        "OK", "+CMS ERROR: 340"]
    assert sim.cnma_count == 0                     # AT+CSMS=0: nothing to acknowledge


@pytest.mark.parametrize("command, ack_at, answers, count", [
    ("AT+CNMA", [10.0, 11.0], ["OK", "+CMS ERROR: 340"], 1),   # one +CMT, one acknowledgement
    ("AT+CNMA", [21.9], ["OK"], 1),                            # within TR2M (12 s)
    ("AT+CNMA", [22.1], ["+CMS ERROR: 340"], 0),               # too late: the network gave up
    ("AT+CNMA=0", [10.0], ["OK"], 1),                          # PDU mode's explicit RP-ACK
    ("AT+CNMA=1", [10.0], ["+CMS ERROR: 304"], 0),             # with a PDU to follow: not simulated
    ("AT+CNMA", [], [], 0),
])
def test_cnma_is_counted_when_it_comes_in_time(open_sim, command, ack_at, answers, count):
    sim, port = open_sim(echo=False, steps=TEXTS_AT[:1])
    talk(sim, port, b"AT+CMEE=1\r", b"AT+CSMS=1\r", b"AT+CNMI=2,2,0,0,0\r")
    got = []
    for t in ack_at:
        drain(sim, port, t)
        got += LineFramer().feed(talk(sim, port, command.encode() + b"\r"))[-1:]
    assert (got, sim.cnma_count) == (answers, count)


def test_a_step_is_due_at_an_epoch_clocks_rounding_of_its_time(open_sim):
    sim, port = open_sim(steps=[Step(0.6, "RING")], echo=False)
    epoch = 1_800_000_000.0
    t = (epoch + 0.6) - epoch                        # 0.59999990..., what a host's virtual clock computes
    assert LineFramer().feed(drain(sim, port, t)) == ["RING"]
    assert sim.next_step_time() is None
