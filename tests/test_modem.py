"""The AT session against the pty simulator: one command in flight, no line ever dropped."""
import pytest
from gsmmodem.pdu import encodeSmsSubmitPdu

from gateway.errors import AtError, CommandTimeout, ModemError, ModemGone

CLIP = '+CLIP: "+15125550142",145,"",0,"",0'


def pdu_for(number, text):
    (pdu,) = encodeSmsSubmitPdu(number, text, requestStatusReport=False)
    return pdu.tpduLength, pdu.data.hex().upper()


def test_ring_and_clip_during_cmgs_are_kept_for_the_tracker(session_factory):
    # The modem answers AT+CMGS with RING and +CLIP before its +CMGS/OK: those lines must not be lost
    # inside the reply (the python-gsmmodem failure in docs/design.md).
    replies = [("AT+CMGS", ("RING", CLIP, "+CMGS: 7", "OK"), None)]
    with session_factory("sim800", replies=replies) as (sim, session, clock):
        session.initialise()
        ref = session.send_pdu(*pdu_for("+15125550187", "hello"))
        assert ref == 7
        assert [line for _, line in session.urcs] == ["RING", CLIP]


def test_urcs_between_command_and_result_are_kept(session_factory):
    replies = [("AT+CSQ", ("RING", "+CSQ: 20,0", CLIP, "OK"), None)]
    with session_factory(replies=replies) as (sim, session, clock):
        session.initialise()
        assert session.command("AT+CSQ", prefix="+CSQ:") == ["+CSQ: 20,0"]
        assert [line for _, line in session.urcs] == ["RING", CLIP]


@pytest.mark.parametrize("family,model", [
    ("generic", "generic"), ("sim800", "sim800"), ("sim7600", "sim7600"), ("ec25", "ec25"),
    ("huawei", "huawei"), ("ublox", "ublox"), ("zte", "zte"), ("wavecom", "wavecom"),
])
def test_initialise_detects_the_family(family, model, session_factory):
    with session_factory(family) as (sim, session, clock):
        info = session.initialise()
        assert info.family == model
        # echo off, caller ID on, PDU mode: the three settings the daemon cannot work without
        assert sim.settings["echo"] == "0"
        assert sim.settings["clip"] == "1"
        assert sim.settings["cmgf"] == "0"


def test_send_pdu_reaches_the_modem_decoded(session_factory):
    with session_factory("sim7600") as (sim, session, clock):
        session.initialise()
        ref = session.send_pdu(*pdu_for("+15125550187", "Sorry we missed you"))
        assert [(s.number, s.text, s.ref) for s in sim.sent] == [("+15125550187", "Sorry we missed you", ref)]


def test_cms_error_after_the_pdu_raises_with_its_code(session_factory):
    with session_factory(replies=[("AT+CMGS", ("+CMS ERROR: 500",), 1)]) as (sim, session, clock):
        session.initialise()
        with pytest.raises(AtError) as info:
            session.send_pdu(*pdu_for("+15125550187", "x"))
        assert info.value.cms_code == 500
        assert session.send_pdu(*pdu_for("+15125550187", "x")) == 1  # the next try goes through


def test_a_silent_modem_times_out_on_the_virtual_clock(session_factory):
    with session_factory(replies=[("AT+CSQ", (), None)]) as (sim, session, clock):
        session.initialise()
        before = clock.now()
        with pytest.raises(CommandTimeout):
            session.command("AT+CSQ", timeout=5)
        assert clock.now() - before == pytest.approx(5)


def test_a_modem_left_waiting_for_a_text_body_answers_again_after_one_timeout(session_factory):
    # Its "> " came after we gave up on AT+CMGS: it takes every command as text. The command that
    # follows a timeout first sends ESC, which ends that state; the ones after it are answered.
    with session_factory() as (sim, session, clock):
        session.initialise()
        sim.wedge()
        with pytest.raises(CommandTimeout):
            session.command("AT+CSQ", timeout=2)
        assert session.command("AT+CSQ", prefix="+CSQ:") == ["+CSQ: 21,0"]
        assert session.send_pdu(*pdu_for("+15125550187", "hello")) is not None
        assert [s.text for s in sim.sent] == ["hello"]


def test_three_commands_in_a_row_without_an_answer_mean_the_modem_is_gone(session_factory):
    with session_factory() as (sim, session, clock):
        session.initialise()
        sim.hang()
        for _ in range(2):
            with pytest.raises(CommandTimeout):
                session.command("AT+CSQ", timeout=1)
        sim.hang(False)
        session.command("AT")  # an answer in between starts the count again
        sim.hang()
        for _ in range(2):
            with pytest.raises(CommandTimeout):
                session.command("AT+CSQ", timeout=1)
        with pytest.raises(ModemGone, match="3 commands in a row"):
            session.command("AT+CSQ", timeout=1)


def test_a_byte_at_a_time_changes_nothing(session_factory):
    with session_factory("sim800", chunk=1, steps=[(0.5, "RING"), (0.6, CLIP)]) as (sim, session, clock):
        session.initialise()
        session.poll(clock.start + 1)
        session.poll(clock.start + 1)
        assert [line for _, line in session.urcs][-2:] == ["RING", CLIP]


def test_sim_pin_without_a_configured_pin_is_a_clear_error(session_factory):
    with session_factory(replies=[("AT+CPIN?", ("+CPIN: SIM PIN", "OK"), None)]) as (sim, session, clock):
        with pytest.raises(ModemError, match="asks for a PIN"):
            session.initialise()


def test_wrong_pin_is_tried_once_only(session_factory):
    replies = [("AT+CPIN?", ("+CPIN: SIM PIN", "OK"), None), ('AT+CPIN="', ("+CME ERROR: 16",), None)]
    with session_factory(replies=replies) as (sim, session, clock):
        with pytest.raises(ModemError, match="refused the PIN"):
            session.initialise(pin="1234")
        assert [c for c in sim.commands if c.startswith('AT+CPIN="')] == ['AT+CPIN="1234"']
