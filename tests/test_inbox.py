"""gateway.at.inbox: decoding received PDUs, reassembling concatenated parts, consent keywords."""
from datetime import datetime, timedelta, timezone

import pytest

from gateway.app.keywords import keyword
from gateway.at.inbox import MAX_WAIT, BadPdu, Complete, Part, Reassembly, Received, decode
from gateway.simulator.modem import encode_deliver_pdus

SENT = datetime(2026, 11, 28, 10, 0, tzinfo=timezone(timedelta(hours=-6)))
SENT_EPOCH = 1795881600.0  # 2026-11-28T16:00:00Z
JANE = "+15125550142"

# SMS-DELIVER PDUs as a modem gives them (+CMGR / +CMT in PDU mode), SMSC field first.
# The classic example from the GSM 03.40 tutorials: SMSC +31624000000, from +31641600986.
PDU_TUTORIAL = "07911326040000F0040B911346610089F60000208062917314080CC8F71D14969741F977FD07"
PDU_GSM7 = ("00040B915121550541F200006211820100004A1B547419740FD3CB7210BA1CA697E5A0F41CC42E87D7"
            "69F719")
PDU_UCS2 = ("00040B915121550541F200086211820100004A3000C7006100200063006F00FB0074006500200063006F"
            "006D006200690065006E003F0020041F04400438043204350442")
# "Здравствуйте! ... Ольга" in two UCS-2 parts, 8-bit reference 0.
PDU_UCS2_1 = (
    "00440B915121550541F200086211820100004A8C050003000201041704340440043004320441044204320443"
    "043904420435002100200422043504470451044200200431043E0439043B04350440002004320020043F043E"
    "043404320430043B0435002C00200432043E0434043000200443043604350020043D04300020043F043E043B"
    "0443002E0020041C043E04360435044204350020043F044004380435")
PDU_UCS2_2 = (
    "00440B915121550541F200086211820100004A56050003000202044504300442044C0020044104350433043E"
    "0434043D044F0020043F043E0441043B04350020043E0431043504340430003F00200421043F043004410438"
    "0431043E002C0020041E043B044C04330430")
# The same parts with a 16-bit reference (IEI 0x08, reference 0x0ABC).
PDU_UCS2_16_1 = PDU_UCS2_1.replace("4A8C050003000201", "4A8D0608040ABC0201")
PDU_UCS2_16_2 = PDU_UCS2_2.replace("4A56050003000202", "4A570608040ABC0202")
# 200 GSM-7 characters: 153 + 47, with the UDH fill bits.
PDU_GSM7_1 = (
    "00440B915121550541F200006211820100004AA0050003000201F0783C1E8FC7E3F1783C1E8FC7E3F1783C1E"
    "8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7"
    "E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1"
    "783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1")
PDU_GSM7_2 = (
    "00440B915121550541F200006211820100004A36050003000202F0783C1E8FC7E3F1783C1E8FC7E3F1783C1E"
    "8FC7E3F1783C1E8FC7E3F1783C1E8FC7E3F1783C1E8FC703")
OLGA = ("Здравствуйте! Течёт бойлер в подвале, вода уже на полу. Можете приехать сегодня после "
        "обеда? Спасибо, Ольга")
PART_1_TEXT = "Здравствуйте! Течёт бойлер в подвале, вода уже на полу. Можете прие"
PART_2_TEXT = "хать сегодня после обеда? Спасибо, Ольга"


def test_the_hand_written_pdus_are_what_the_simulator_sends():
    # Ties the literals above to an encoder, so a typo in them cannot pass for a decoder bug.
    assert encode_deliver_pdus(JANE, "The water heater is leaking", SENT) == [PDU_GSM7]
    assert encode_deliver_pdus(JANE, "Ça coûte combien? Привет", SENT) == [PDU_UCS2]
    assert encode_deliver_pdus(JANE, OLGA, SENT) == [PDU_UCS2_1, PDU_UCS2_2]
    assert encode_deliver_pdus(JANE, "x" * 200, SENT) == [PDU_GSM7_1, PDU_GSM7_2]


@pytest.mark.parametrize("pdu, expected", [
    # TP-SCTS 02-08-26 19:37:41, time zone octet 0x08: sign bit set, 0 quarters, i.e. UTC.
    (PDU_TUTORIAL, Received("+31641600986", "How are you?", 1030390661.0)),
    (PDU_GSM7, Received(JANE, "The water heater is leaking", SENT_EPOCH)),
    (PDU_UCS2, Received(JANE, "Ça coûte combien? Привет", SENT_EPOCH)),
    (PDU_UCS2_1, Received(JANE, PART_1_TEXT, SENT_EPOCH, Part(0, 2, 1))),
    (PDU_UCS2_2, Received(JANE, PART_2_TEXT, SENT_EPOCH, Part(0, 2, 2))),
    (PDU_UCS2_16_1, Received(JANE, PART_1_TEXT, SENT_EPOCH, Part(0x0ABC, 2, 1))),
    (PDU_GSM7_1, Received(JANE, "x" * 153, SENT_EPOCH, Part(0, 2, 1))),
    (PDU_GSM7_2, Received(JANE, "x" * 47, SENT_EPOCH, Part(0, 2, 2))),
    # Lower case and surrounding whitespace, as some modems print it.
    ("  " + PDU_GSM7.lower() + "\r\n", Received(JANE, "The water heater is leaking", SENT_EPOCH)),
    # 23.040 9.2.3.24.1: a seq above the count means "ignore the concatenation element".
    (PDU_UCS2_2.replace("050003000202", "050003000203"), Received(JANE, PART_2_TEXT, SENT_EPOCH)),
])
def test_decode(pdu, expected):
    assert decode(pdu) == expected


@pytest.mark.parametrize("pdu, reason", [
    ("", "it ends too early"),
    ("0004", "it ends too early"),
    ("zz", "EncodingError: decoding with 'hex_codec' codec failed "
           "(Error: Non-hexadecimal digit found)"),
    (PDU_GSM7[:-1], "EncodingError: decoding with 'hex_codec' codec failed "
                    "(Error: Odd-length string)"),
    (PDU_GSM7[:-2], "its user data is cut short by 1 octet(s)"),
    (PDU_UCS2[:-20], "its user data is cut short by 10 octet(s)"),
    (PDU_UCS2_1[:-4], "its user data is cut short by 2 octet(s)"),
    ("0021000B915121550541F2000002E834", "not a received text but SMS-SUBMIT"),  # our own outgoing
])
def test_bad_pdus_say_why_and_keep_the_pdu(pdu, reason):
    with pytest.raises(BadPdu) as caught:
        decode(pdu)
    assert caught.value.reason == reason
    assert caught.value.pdu == pdu
    assert str(caught.value) == f"cannot decode SMS PDU ({len(pdu)} hex digits): {reason}"
    assert isinstance(caught.value, ValueError)


def _feed(pdus_at, max_wait=MAX_WAIT):
    """Add each (pdu, now) in turn; return what each add gave, and the reassembly."""
    reassembly = Reassembly(max_wait)
    return [reassembly.add(decode(pdu), now) for pdu, now in pdus_at], reassembly


WHOLE_OLGA = [Complete(JANE, OLGA, SENT_EPOCH, 100.0, count=2)]


@pytest.mark.parametrize("pdus_at, expected", [
    ([(PDU_GSM7, 100.0)],
     [[Complete(JANE, "The water heater is leaking", SENT_EPOCH, 100.0)]]),
    ([(PDU_UCS2_1, 100.0), (PDU_UCS2_2, 101.0)], [[], WHOLE_OLGA]),
    ([(PDU_UCS2_2, 100.0), (PDU_UCS2_1, 101.0)], [[], WHOLE_OLGA]),
    ([(PDU_UCS2_16_2, 100.0), (PDU_UCS2_16_1, 101.0)], [[], WHOLE_OLGA]),
    # A duplicate part (the SMSC retried) while waiting, and again after the message is out.
    ([(PDU_UCS2_1, 100.0), (PDU_UCS2_1, 100.5), (PDU_UCS2_2, 101.0), (PDU_UCS2_1, 102.0),
      (PDU_UCS2_2, 103.0)], [[], [], WHOLE_OLGA, [], []]),
    ([(PDU_GSM7_2, 100.0), (PDU_GSM7_1, 101.0)],
     [[], [Complete(JANE, "x" * 200, SENT_EPOCH, 100.0, count=2)]]),
    # Two messages interleaved: 8-bit reference 0 and 16-bit reference 0x0ABC are different sets.
    ([(PDU_UCS2_1, 100.0), (PDU_UCS2_16_1, 100.5), (PDU_UCS2_16_2, 101.0), (PDU_UCS2_2, 102.0)],
     [[], [], [Complete(JANE, OLGA, SENT_EPOCH, 100.5, count=2)], WHOLE_OLGA]),
])
def test_reassembly(pdus_at, expected):
    got, reassembly = _feed(pdus_at)
    assert got == expected
    assert reassembly.next_deadline() is None


def test_a_missing_part_is_given_up_after_max_wait():
    # The GSM-7 parts carry reference 0 too: another 8-bit reference keeps the sets apart.
    gsm7_1 = PDU_GSM7_1.replace("050003000201", "050003070201")
    got, reassembly = _feed([(PDU_UCS2_2, 100.0), (gsm7_1, 250.0)])
    assert got == [[], []]
    assert reassembly.next_deadline() == 100.0 + MAX_WAIT
    assert reassembly.expire(100.0 + MAX_WAIT - 0.001) == []
    assert reassembly.expire(100.0 + MAX_WAIT) == [
        Complete(JANE, PART_2_TEXT, SENT_EPOCH, 100.0, count=2, missing=(1,), incomplete=True)]
    assert reassembly.next_deadline() == 250.0 + MAX_WAIT
    # Later still: a duplicate of the part already given out is dropped ...
    assert reassembly.add(decode(PDU_UCS2_2), 800.0) == []
    # ... and the part that was missing gets through on its own, marked as such.
    assert reassembly.add(decode(PDU_UCS2_1), 801.0) == []
    assert reassembly.expire(10_000.0) == [
        Complete(JANE, "x" * 153, SENT_EPOCH, 250.0, count=2, missing=(2,), incomplete=True),
        Complete(JANE, PART_1_TEXT, SENT_EPOCH, 801.0, count=2, missing=(2,), incomplete=True)]
    assert reassembly.next_deadline() is None


def test_a_duplicate_is_forgotten_after_max_wait():
    reassembly = Reassembly(max_wait=60.0)
    assert reassembly.add(decode(PDU_UCS2_1), 0.0) == []
    assert reassembly.add(decode(PDU_UCS2_2), 1.0) == [Complete(JANE, OLGA, SENT_EPOCH, 0.0, 2)]
    assert reassembly.add(decode(PDU_UCS2_1), 60.9) == []
    assert reassembly.next_deadline() is None
    # The reference is 8-bit: after a while the same phone may reuse it for a new message.
    assert reassembly.add(decode(PDU_UCS2_1), 61.0) == []
    assert reassembly.next_deadline() == 121.0


@pytest.mark.parametrize("text, expected", [
    ("STOP", "stop"), ("stop", "stop"), ("Stop.", "stop"), ("  STOP!!\n", "stop"),
    ("\"stop\"", "stop"), ("STOP 🛑", "stop"), ("ＳＴＯＰ", "stop"), ("StopAll", "stop"),
    ("stop all", "stop"), ("UNSUBSCRIBE", "stop"), ("cancel", "stop"), ("End", "stop"),
    ("quit!", "stop"), ("revoke", "stop"), ("opt out", "stop"), ("Opt-Out", "stop"),
    ("OPTOUT", "stop"),
    ("START", "start"), ("start.", "start"), ("Unstop", "start"),
    ("HELP", "help"), ("help?", "help"), ("Info", "help"),
    # Not alone, or not a keyword.
    # Plain words that mean it (gateway.app.keywords; the whole table in tests/test_optout.py).
    ("stop calling me", "stop"), ("STOP STOP", "stop"),
    ("please stop by at 3", None), ("Don't stop", None), ("stopped", None), ("st op", None), ("", None), ("   ", None),
    ("?!", None), ("yes", None), ("YES!", None), ("Start the job Monday", None),
    ("help me", None), ("information", None), ("the end", None), ("S T O P", None),
])
def test_keyword(text, expected):
    assert keyword(text) == expected


def test_parts_from_two_numbers_never_mix():
    bob_1, bob_2 = encode_deliver_pdus("+15125550199", OLGA, SENT)  # same reference 0, same count
    got, reassembly = _feed([(PDU_UCS2_1, 100.0), (bob_2, 101.0), (bob_1, 102.0)])
    assert got == [[], [], [Complete("+15125550199", OLGA, SENT_EPOCH, 101.0, count=2)]]
    assert reassembly.next_deadline() == 100.0 + MAX_WAIT
