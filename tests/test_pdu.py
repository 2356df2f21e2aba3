"""gateway.at.pdu: the SMS-SUBMITs we send and the text we read out of PDUs (once one emoji
stopped the daemon on every restart, because gsmmodem's encodeUcs2 cannot write a surrogate pair).
"""
from dataclasses import replace
from datetime import datetime, timezone

import pytest
from gsmmodem.pdu import decodeSmsPdu, encodeSmsSubmitPdu
from hypothesis import example, given, settings
from hypothesis import strategies as st

from gateway.at import pdu
from gateway.at.inbox import Part, Reassembly, decode
from gateway.render import LIMITS, segments, whole_text
from gateway.simulator.commands import encode_deliver_pdus, read_submit_pdu

N = "+15125550142"


def read(submits) -> list[str]:
    """What a phone shows for each part (the simulator's reader: gateway.at.pdu, then mended)."""
    return [read_submit_pdu(str(s.tpdu_length), s.hex.encode())["text"] for s in submits]


def test_an_emoji_goes_out_as_a_utf16_surrogate_pair():
    [submit] = pdu.encode_submit(N, "ok 👍", 7)
    # ... DCS 08 (UCS-2), UDL 10 octets: o k space, then U+1F44D as D83D DC4D (RFC 2781 2.1)
    assert submit.hex.endswith("00080A006F006B0020D83DDC4D")
    assert read([submit]) == ["ok 👍"]
    assert decodeSmsPdu(submit.hex)["tpdu_length"] == submit.tpdu_length


@pytest.mark.parametrize("text", [
    "a" * 66 + "😀" + "b" * 10,          # the pair would straddle units 67/68 of part 1
    "😀" * 100,                           # every part ends on a pair boundary
    "👍🏽" * 40,                          # skin tone modifier: two pairs per emoji
    "👩‍👩‍👧‍👦 " * 20,                           # a ZWJ family: 4 pairs and 3 joiners
    "€" * 77 + "a" * 10,                  # GSM-7: an escape pair would straddle septet 153/154
])
def test_no_part_cuts_a_character_in_half(text):
    submits = pdu.encode_submit(N, text, 9)
    parts = read(submits)
    assert "\ufffd" not in "".join(parts)
    assert "".join(parts) == text
    assert len(submits) == segments(text).parts


def test_a_split_pair_reads_as_replacement_characters_so_the_cut_would_show():
    # A sender's phone that cuts a pair across two parts (ours never does): the simulator shows
    # each half as U+FFFD, and the daemon's reassembly mends the joined text.
    halves = "a" * 66 + "\ud83d", "\ude00" + "b"
    sent_at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    received = [replace(decode(encode_deliver_pdus(N, half, sent_at)[0]), part=Part(42, 2, seq))
                for seq, half in enumerate(halves, 1)]
    assert [r.text for r in received] == list(halves)       # each part alone: half a pair
    assembly = Reassembly()
    assert assembly.add(received[0], 0.0) == []
    [whole] = assembly.add(received[1], 1.0)
    assert whole.text == "a" * 66 + "😀" + "b"


@pytest.mark.parametrize("text, septets", [
    ("§", "5F"),             # 23.038 6.2.1: 0x5F is the section sign (gsmmodem has a backtick)
    ("\f", "1B0A"),          # form feed is escape + 0x0A (gsmmodem maps it to "ÿ")
    ("€", "1B65"),
    ("@", "00"),
])
def test_gsm7_characters_follow_23_038(text, septets):
    [submit] = pdu.encode_submit(N, text, 1)
    codes = [int(septets[i:i + 2], 16) for i in range(0, len(septets), 2)]
    assert submit.hex.endswith(f"0000{len(codes):02X}" + pdu._pack(codes).hex().upper())
    assert read([submit]) == [text]


@pytest.mark.parametrize("text", [
    "", "Sorry we missed your call - this is Mike at Acme Plumbing.", "a" * 160, "a" * 161,
    "a" * 700, "It’s done — ç" * 3, "It’s done — ç" * 30, "[{~}]|^\\€" * 5,
])
def test_the_same_bytes_as_gsmmodem_where_gsmmodem_is_right(text):
    # A second witness: python-gsmmodem-new 0.13's encoder, on texts it encodes correctly (BMP only,
    # no § or form feed, no escape pair at a part boundary).
    ours = [(s.tpdu_length, s.hex) for s in pdu.encode_submit(N, text, 300)]
    theirs = [(p.tpduLength, p.data.hex().upper())
              for p in encodeSmsSubmitPdu(N, text, reference=300 % 256, requestStatusReport=False)]
    assert ours == theirs


@pytest.mark.parametrize("number, text, reason", [
    (N, "ok \ud83d", "the text holds an invalid character (a lone surrogate, U+D83D)"),
    (N, "😀" * (33 * 255 + 1), "the text is too long: 256 parts, and one message can have at "
                                     "most 255"),
    ("AcmeBank", "hi", "the number is not a phone number a text can go to"),
    ("+1" + "2" * 20, "hi", "the number is not a phone number a text can go to"),
    ("", "hi", "the number is not a phone number a text can go to"),
])
def test_what_no_pdu_can_carry_is_refused_with_the_reason(number, text, reason):
    with pytest.raises(pdu.Unencodable) as refused:
        pdu.encode_submit(number, text, 1)
    assert str(refused.value) == reason


def test_255_parts_is_the_most():
    assert len(pdu.encode_submit(N, "😀" * (33 * 255), 1)) == 255  # 33 pairs a part


@pytest.mark.parametrize("dcs, alphabet", [
    (0x00, "GSM-7"), (0x04, "8-bit"), (0x08, "UCS-2"), (0x0C, "GSM-7"), (0x18, "UCS-2"),
    (0x20, "compressed"), (0x48, "UCS-2"), (0x80, "GSM-7"), (0xC0, "GSM-7"), (0xD8, "GSM-7"),
    (0xE8, "UCS-2"), (0xF0, "GSM-7"), (0xF4, "8-bit"),
])
def test_data_coding_scheme_groups_of_23_038_clause_4(dcs, alphabet):
    assert pdu.alphabet(dcs) == alphabet


def test_a_cut_off_pdu_is_an_error_not_a_shorter_text():
    [submit] = pdu.encode_submit(N, "hello there", 1)
    with pytest.raises(ValueError, match="cut short by 2 octet"):
        pdu.read_user_data(bytes.fromhex(submit.hex)[:-2])
    with pytest.raises(ValueError, match="ends before its user data"):
        pdu.read_user_data(bytes.fromhex(submit.hex)[:8])


TEXTS = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()),
                max_size=400)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(TEXTS)
@example("👩🏽‍🔧" * 300)
@example("".join(chr(plane << 16 | 0x20) for plane in range(17)))
def test_every_text_goes_out_whole_in_the_parts_counted_or_is_refused(text):
    try:
        submits = pdu.encode_submit(N, text, 5)
    except pdu.Unencodable:
        assert any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)
        return
    segs = segments(text)
    assert len(submits) == segs.parts
    parts = [pdu.read_user_data(bytes.fromhex(s.hex)) for s in submits]
    single, multi = LIMITS[segs.encoding]
    for part in parts:
        assert whole_text(part.text) == part.text      # no pair cut in half
        units = len(part.text.encode("utf-16-be")) // 2 if segs.encoding == "UCS-2" else None
        assert units is None or units <= (single if len(parts) == 1 else multi)
        assert part.concat == (None if len(parts) == 1 else (5, len(parts), parts.index(part) + 1))
    assert "".join(p.text for p in parts) == text
